/**
 * The local cloud's lifecycle: start it as one detached background process (or make it run an assembly with given
 * settings, restarting it when they changed), find it again, stop it. One file per concern:
 * - `errors.ts`      — LocalCloudStartError, LocalCloudStateError and their reasons;
 * - `assembly.ts`    — the cloud assembly checked and hashed before anything runs it;
 * - `data-folder.ts` — the files of the data folder (state.json, last-run.json, cloud.pid, error.json, cloud.log);
 * - `processes.ts`   — the operating system's processes: alive, ours, answering, stopped;
 * - `start.ts`       — start, restart, stop, and what a restart compares.
 * This module re-exports what the rest of the package (index.ts, main.ts) and the tests use.
 */

export { inspectCloudAssembly, type LocalCloudAssembly } from './assembly.ts';
export {
  LOCAL_CLOUD_DIR,
  type LocalCloudLocation,
  type LocalCloudPaths,
  type LocalCloudState,
  localCloudPaths,
  readLocalCloudState,
  writeLocalCloudState,
  writeStartupError,
} from './data-folder.ts';
export {
  LocalCloudStartError,
  type LocalCloudStartErrorOptions,
  type LocalCloudStartReason,
  LocalCloudStateError,
  type LocalCloudStateReason,
} from './errors.ts';
export {
  DEFAULT_HEALTH_PATH,
  type EnsureLocalCloudOptions,
  ensureLocalCloud,
  type LocalCloudChange,
  type LocalCloudDeployment,
  type LocalCloudProgress,
  localCloudChanges,
  resolveNodeExecutable,
  type StartLocalCloudDetachedOptions,
  type StopLocalCloudOptions,
  startLocalCloudDetached,
  stopLocalCloud,
} from './start.ts';
