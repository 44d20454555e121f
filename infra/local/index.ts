/**
 * The local cloud's public surface: what a client (the saga CLI, a benchmark, a test) may use. Start it as a
 * background process (or make it run an assembly with given settings, restarting it when they changed), find it
 * again, stop it; check a cloud assembly; the account and credentials it answers to; the checks of the machine it
 * needs. Its data folder defaults to `<projectDir>/.saga/local` (`LOCAL_CLOUD_DIR`); every call takes `dataDir`.
 * Its errors carry a `reason` code and neutral text: a client adds its own advice per reason. Everything else in this package is internal (the `exports` map of package.json allows only
 * this module, `./in-process` — the cloud inside the caller's own process, for tests and benchmarks — and
 * `./asl`, the Step Functions runner that checks a definition compiles).
 */

export {
  checkJava,
  type DynamoDbLocal,
  type DynamoDbLocalOptions,
  findEatMyData,
  freePort,
  JavaMissingError,
  startDynamoDbLocal,
} from './dynamodb/dynamodb-local.ts';
export {
  type EnsureLocalCloudOptions,
  ensureLocalCloud,
  inspectCloudAssembly,
  LOCAL_CLOUD_DIR,
  type LocalCloudAssembly,
  type LocalCloudChange,
  type LocalCloudDeployment,
  type LocalCloudLocation,
  type LocalCloudPaths,
  type LocalCloudProgress,
  LocalCloudStartError,
  type LocalCloudStartErrorOptions,
  type LocalCloudStartReason,
  type LocalCloudState,
  LocalCloudStateError,
  type LocalCloudStateReason,
  localCloudChanges,
  localCloudPaths,
  readLocalCloudState,
  type StartLocalCloudDetachedOptions,
  type StopLocalCloudOptions,
  startLocalCloudDetached,
  stopLocalCloud,
} from './lifecycle/index.ts';
export { LOCAL_ACCOUNT_ID, LOCAL_CREDENTIALS, LOCAL_REGION } from './types.ts';
