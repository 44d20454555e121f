/**
 * The local cloud's public surface: what a client (the saga CLI, a benchmark, a test) may use. Start it as a
 * background process, find it again, stop it; the account and credentials it answers to; the checks of the
 * machine it needs. Everything else in this package is internal (the `exports` map of package.json allows only
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
  LOCAL_CLOUD_DIR,
  type LocalCloudPaths,
  LocalCloudStartError,
  type LocalCloudStartReason,
  type LocalCloudState,
  LocalCloudStateError,
  localCloudPaths,
  readLocalCloudState,
  type StartLocalCloudDetachedOptions,
  type StopLocalCloudOptions,
  startLocalCloudDetached,
  stopLocalCloud,
} from './lifecycle.ts';
export { LOCAL_ACCOUNT_ID, LOCAL_CREDENTIALS, LOCAL_REGION } from './types.ts';
