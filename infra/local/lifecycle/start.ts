/**
 * The local cloud as one detached background process: `node main.ts …` started with its output in
 * `<dataDir>/cloud.log`, found again through `<dataDir>/state.json` (data-folder.ts), stopped with SIGTERM. Start is
 * idempotent and serialized by `start.lock`; a cloud running with other settings (localCloudChanges) is restarted,
 * its data kept.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeJsonAtomic } from '../wire/persist.ts';
import { inspectCloudAssembly, type LocalCloudAssembly } from './assembly.ts';
import {
  type LastRun,
  type LocalCloudLocation,
  type LocalCloudPaths,
  type LocalCloudState,
  localCloudPaths,
  portOf,
  readJson,
  readStateFile,
  removeRunFiles,
  START_MARKER,
  tailOf,
} from './data-folder.ts';
import { LocalCloudStartError, type LocalCloudStartReason, LocalCloudStateError } from './errors.ts';
import {
  edgeAnswers,
  isOurProcess,
  portIsFree,
  processExists,
  reapLeftovers,
  sleep,
  terminate,
} from './processes.ts';

/** Options for {@link startLocalCloudDetached} and {@link ensureLocalCloud}. */
export interface StartLocalCloudDetachedOptions extends LocalCloudLocation {
  /** The synthesized cloud assembly, relative to `projectDir`. @default `<projectDir>/cdk.out` */
  readonly cdkOut?: string;
  /** Shrinks Retry/Wait delays (0.01 = 100× faster). @default 1 */
  readonly timeScale?: number;
  /** IAM: `enforce` denies what the template does not grant, `warn` logs it, `off` checks nothing. @default 'enforce' */
  readonly iam?: 'enforce' | 'warn' | 'off';
  /**
   * The edge's port; taken by another program → {@link LocalCloudStartError} `address-in-use`.
   * @default the port of the last run when it is free (else a free port, said in `portFallback`)
   */
  readonly edgePort?: number;
  /** The stack to run (its artifact id in manifest.json). @default the assembly's only stack */
  readonly stackName?: string;
  /** The module the background process runs (main.ts's command line). @default main.ts */
  readonly entry?: string;
  /** The edge path that answers `{"pid": <process id>}` once the cloud is up. @default `/_saga/health` */
  readonly healthPath?: string;
  /** How long to wait for the cloud to answer. @default 120 s */
  readonly readyTimeoutMs?: number;
}

/** What {@link ensureLocalCloud} reports while it works (e.g. to show a progress line). */
export type LocalCloudProgress =
  | {
      readonly phase: 'stopping';
      readonly running: LocalCloudState;
      readonly changes: readonly LocalCloudChange[];
    }
  | { readonly phase: 'starting'; readonly edgePort?: number };

/** Options for {@link ensureLocalCloud}. */
export interface EnsureLocalCloudOptions extends StartLocalCloudDetachedOptions {
  readonly onProgress?: (event: LocalCloudProgress) => void | Promise<void>;
}

/** One setting in which a running cloud differs from what is asked. */
export type LocalCloudChange =
  | { readonly setting: 'timeScale' | 'edgePort'; readonly from: number; readonly to: number }
  | {
      /** `assembly`: another folder (`from` absent: the running cloud does not record its assembly). */
      readonly setting: 'stackName' | 'assembly' | 'template' | 'assets' | 'iam';
      readonly from?: string;
      readonly to: string;
    };

/** What {@link ensureLocalCloud} did. */
export interface LocalCloudDeployment {
  readonly state: LocalCloudState;
  /** `restarted`: a running cloud was stopped (its data kept) and started again. */
  readonly action: 'started' | 'restarted' | 'already-running';
  /** Why it restarted: the settings that differed. */
  readonly changes: readonly LocalCloudChange[];
  /** A cloud replaced without a change of settings: its state.json was corrupt, or it did not answer. */
  readonly replaced?: 'corrupt-state' | 'not-answering';
  /** The edge could not have the port of the last run (another program holds it) and took a free one. */
  readonly portFallback?: { readonly wanted: number; readonly got: number };
}

/** Options for {@link stopLocalCloud}. */
export interface StopLocalCloudOptions extends LocalCloudLocation {
  /** Also delete the data folder (tables, logs, executions). @default false */
  readonly removeData?: boolean;
  /** How long SIGTERM gets before SIGKILL. @default 15 s */
  readonly graceMs?: number;
}

const DEFAULT_ENTRY = join(dirname(fileURLToPath(import.meta.url)), '..', 'main.ts');

/**
 * The path the edge answers `{"pid"}` on (edge.ts's `EDGE_HEALTH_PATH`; a test keeps them equal). Not imported from
 * there: a client that only finds or stops the cloud should not load the edge and everything it serves.
 */
export const DEFAULT_HEALTH_PATH = '/_saga/health';

/** The Node ≥ 24 to run the background process on: this one if it is new enough, else the project's. */
export function resolveNodeExecutable(projectDir: string): string {
  const major = Number(process.versions.node.split('.')[0]);
  if (major >= 24) return process.execPath;
  const local = join(resolve(projectDir), 'node_modules', '.bin', 'node');
  if (existsSync(local)) return local;
  throw new LocalCloudStartError(
    `The local cloud needs Node.js 24 or newer; this is ${process.version} and ${local} does not exist.`,
    { reason: 'node-too-old' },
  );
}

// ---------------------------------------------------------------------------------------------------------------
// What a restart compares

/**
 * What differs between a running cloud and what is asked: the time scale, the edge port (only when one is asked
 * for), the stack, the assembly folder, the template and the function code (by their hashes).
 */
export function localCloudChanges(
  running: Pick<LocalCloudState, 'timeScale' | 'endpoint' | 'assembly' | 'iam'>,
  wanted: {
    readonly timeScale: number;
    readonly edgePort?: number;
    readonly assembly: LocalCloudAssembly;
    readonly iam?: 'enforce' | 'warn' | 'off';
  },
): LocalCloudChange[] {
  const changes: LocalCloudChange[] = [];
  const iam = wanted.iam ?? 'enforce';
  if ((running.iam ?? 'enforce') !== iam)
    changes.push({ setting: 'iam', from: running.iam ?? 'enforce', to: iam });
  if (running.timeScale !== wanted.timeScale) {
    changes.push({ setting: 'timeScale', from: running.timeScale, to: wanted.timeScale });
  }
  const port = portOf(running.endpoint);
  if (wanted.edgePort !== undefined && port !== wanted.edgePort) {
    changes.push({ setting: 'edgePort', from: port, to: wanted.edgePort });
  }
  const was = running.assembly;
  const now = wanted.assembly;
  if (!was) {
    changes.push({ setting: 'assembly', to: now.dir });
    return changes;
  }
  if (was.stackName !== now.stackName)
    changes.push({ setting: 'stackName', from: was.stackName, to: now.stackName });
  if (was.dir !== now.dir) changes.push({ setting: 'assembly', from: was.dir, to: now.dir });
  if (was.templateHash !== now.templateHash) {
    changes.push({ setting: 'template', from: was.templateHash, to: now.templateHash });
  }
  if (was.assetsHash !== now.assetsHash) {
    changes.push({ setting: 'assets', from: was.assetsHash, to: now.assetsHash });
  }
  return changes;
}

// ---------------------------------------------------------------------------------------------------------------
// Start, restart, stop

/**
 * Starts the local cloud as a detached background process and waits until its edge answers. Idempotent:
 * if this data folder's cloud already runs (or is starting), returns its state, whatever its settings
 * ({@link ensureLocalCloud} restarts it when they differ). A state.json left by a dead process is cleaned up
 * first. The edge asks for the port of the last run unless `edgePort` says otherwise. Throws
 * {@link LocalCloudStartError} with the reason (and the tail of cloud.log) if it does not come up.
 */
export async function startLocalCloudDetached(
  options: StartLocalCloudDetachedOptions,
): Promise<LocalCloudState> {
  return (await withStartLock(options, false)).state;
}

/**
 * Makes the local cloud run the assembly with these settings: starts it; or, when one runs with other settings
 * (time scale, an asked-for edge port, stack, assembly folder, template or function code), stops it — its data
 * is kept — and starts it again, on the same edge port unless `edgePort` says otherwise; or leaves it as it is.
 * Everything that can be checked (the assembly, an asked-for port) is checked before a running cloud is stopped.
 */
export async function ensureLocalCloud(options: EnsureLocalCloudOptions): Promise<LocalCloudDeployment> {
  return await withStartLock(options, true);
}

async function withStartLock(
  options: EnsureLocalCloudOptions,
  restartOnChange: boolean,
): Promise<LocalCloudDeployment> {
  const projectDir = resolve(options.projectDir);
  const paths = localCloudPaths(projectDir, options.dataDir);
  const readyTimeoutMs = options.readyTimeoutMs ?? 120_000;
  await mkdir(paths.dataDir, { recursive: true });
  // Concurrent starts (two terminals, parallel test files) take turns: the second finds the first's cloud.
  const release = await acquireStartLock(paths.lockFile, readyTimeoutMs + 30_000);
  try {
    return await ensureUnlocked({
      options,
      projectDir,
      paths,
      readyTimeoutMs,
      restartOnChange,
      healthPath: options.healthPath ?? DEFAULT_HEALTH_PATH,
    });
  } finally {
    release();
  }
}

/** Takes `start.lock` (O_EXCL create holding our pid); a lock whose holder is gone is taken over. */
async function acquireStartLock(lockFile: string, timeoutMs: number): Promise<() => void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = openSync(lockFile, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(lockFile, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    let holder = 0;
    let ageMs = 0;
    try {
      holder = Number(readFileSync(lockFile, 'utf8'));
      ageMs = Date.now() - statSync(lockFile).mtimeMs;
    } catch {
      continue; // released meanwhile
    }
    // An empty lock younger than a second is being written by its holder right now.
    const stale = holder > 0 ? !processExists(holder) : ageMs > 1_000;
    if (stale) {
      rmSync(lockFile, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new LocalCloudStartError(
        `Another start of the local cloud (pid ${holder}) has held ${lockFile} for too long.`,
        { reason: 'locked' },
      );
    }
    await sleep(100);
  }
}

interface StartContext {
  readonly options: EnsureLocalCloudOptions;
  readonly projectDir: string;
  readonly paths: LocalCloudPaths;
  readonly readyTimeoutMs: number;
  readonly restartOnChange: boolean;
  readonly healthPath: string;
}

async function ensureUnlocked(run: StartContext, waited = false): Promise<LocalCloudDeployment> {
  const { options, projectDir, paths } = run;
  const timeScale = options.timeScale ?? 1;
  // The assembly is checked before anything running is touched.
  let assembly: LocalCloudAssembly;
  try {
    assembly = inspectCloudAssembly(resolve(projectDir, options.cdkOut ?? 'cdk.out'), options.stackName);
  } catch (error) {
    const running = await readStateFile(paths).catch(() => undefined);
    if (!(error instanceof LocalCloudStartError) || !running || !isOurProcess(running.pid, paths.dataDir)) {
      throw error;
    }
    throw new LocalCloudStartError(
      `${error.message} The running local cloud (pid ${running.pid}, ${running.endpoint}) was left as it is.`,
      { reason: error.reason, assemblyDir: error.assemblyDir, cause: error.cause },
    );
  }

  let existing: LocalCloudState | undefined;
  let corrupt = false;
  try {
    existing = await readStateFile(paths);
  } catch (error) {
    if (!(error instanceof LocalCloudStateError)) throw error;
    corrupt = true;
  }
  let action: LocalCloudDeployment['action'] = 'started';
  let changes: LocalCloudChange[] = [];
  let replaced: LocalCloudDeployment['replaced'];
  /** The port the new process asks for when none is given: the one of the cloud it replaces. */
  let previousPort: number | undefined;
  if (existing && isOurProcess(existing.pid, paths.dataDir)) {
    if (await edgeAnswers(existing.endpoint, existing.pid, run.healthPath)) {
      changes = localCloudChanges(existing, {
        timeScale,
        edgePort: options.edgePort,
        assembly,
        iam: options.iam,
      });
      if (!run.restartOnChange || changes.length === 0) {
        return { state: existing, action: 'already-running', changes: [] };
      }
      // A new port asked for must be free before the running cloud is stopped for it.
      const newPort = changes.find((c) => c.setting === 'edgePort');
      if (newPort && !(await portIsFree(newPort.to as number))) {
        throw portTaken(
          newPort.to as number,
          ` The running local cloud (pid ${existing.pid}, ${existing.endpoint}) was left as it is.`,
        );
      }
      await options.onProgress?.({ phase: 'stopping', running: existing, changes });
      await terminate(existing.pid, 15_000);
    } else {
      // Ours but deaf (hung or half stopped): replace it.
      await terminate(existing.pid, 5_000);
      replaced = 'not-answering';
    }
    action = 'restarted';
    previousPort = portOf(existing.endpoint);
  }
  const starting = await readJson<{ pid: number }>(paths.pidFile);
  if (corrupt && starting && isOurProcess(starting.pid, paths.dataDir)) {
    // Running, but its state.json cannot be read: no client can find it. Replace it.
    await terminate(starting.pid, 5_000);
    action = 'restarted';
    replaced = 'corrupt-state';
  } else if (starting && starting.pid !== existing?.pid && isOurProcess(starting.pid, paths.dataDir)) {
    // Another start() is bringing it up: wait for that one rather than starting a second, then compare settings.
    const state = await waitUntilReady(starting.pid, run, () => false);
    if (waited) return { state, action: 'already-running', changes: [] };
    return await ensureUnlocked(run, true);
  }
  // A cloud that was killed (not stopped) may have left DynamoDB Local running on the same data.
  await reapLeftovers(existing?.pid, paths.dataDir);
  await reapLeftovers(starting?.pid, paths.dataDir);
  await removeRunFiles(paths);
  await rm(paths.errorFile, { force: true });

  // The edge keeps its port across restarts: the one asked for, else the replaced cloud's, else the last run's.
  const lastRun = await readJson<LastRun>(paths.lastRunFile);
  const wanted = options.edgePort ?? previousPort ?? lastRun?.edgePort;
  let port = wanted;
  if (port !== undefined && !(await portIsFree(port))) {
    if (options.edgePort !== undefined) throw portTaken(port, '');
    port = undefined; // the last run's port is someone else's now: take a free one, and say so
  }
  await options.onProgress?.({ phase: 'starting', edgePort: port });
  let state: LocalCloudState;
  try {
    state = await spawnCloud(run, assembly, timeScale, port);
  } catch (error) {
    // Taken between the check and the listen: a remembered port gives way to a free one.
    const lost = error instanceof LocalCloudStartError && error.reason === 'address-in-use';
    if (!lost || port === undefined || options.edgePort !== undefined) throw error;
    port = undefined;
    state = await spawnCloud(run, assembly, timeScale, undefined);
  }
  const got = portOf(state.endpoint);
  return {
    state,
    action,
    changes,
    ...(replaced ? { replaced } : {}),
    ...(wanted !== undefined && port === undefined && options.edgePort === undefined
      ? { portFallback: { wanted, got } }
      : {}),
  };
}

function portTaken(port: number, more: string): LocalCloudStartError {
  return new LocalCloudStartError(
    `The local cloud could not listen on port ${port}: another program uses it.${more}`,
    { reason: 'address-in-use', port },
  );
}

async function spawnCloud(
  run: StartContext,
  assembly: LocalCloudAssembly,
  timeScale: number,
  edgePort: number | undefined,
): Promise<LocalCloudState> {
  const { options, projectDir, paths } = run;
  const node = resolveNodeExecutable(projectDir);
  const entry = options.entry ?? DEFAULT_ENTRY;
  const args = [
    entry,
    '--project-dir',
    projectDir,
    '--cdk-out',
    assembly.dir,
    '--data-dir',
    paths.dataDir,
    '--time-scale',
    String(timeScale),
    '--stack-name',
    assembly.stackName,
    '--iam',
    options.iam ?? 'enforce',
  ];
  if (edgePort !== undefined) args.push('--edge-port', String(edgePort));

  const logFd = openSync(paths.logFile, 'a');
  writeSync(
    logFd,
    `\n${START_MARKER}${new Date().toISOString()} starting: ${basename(node)} ${args.join(' ')}\n`,
  );
  let exited = false;
  let pid: number | undefined;
  try {
    const child = spawn(node, args, {
      cwd: projectDir,
      detached: true,
      stdio: ['ignore', logFd, logFd],
      // Lambda runs in UTC; Node applies TZ to the whole process, so the workers get it only this way.
      env: { ...process.env, TZ: 'UTC' },
    });
    child.once('exit', () => {
      exited = true;
    });
    child.once('error', () => {
      exited = true;
    });
    child.unref();
    pid = child.pid;
  } finally {
    closeSync(logFd);
  }
  if (pid === undefined) {
    throw new LocalCloudStartError(
      `Could not start ${node} ${entry}. See ${paths.logFile}:\n${tailOf(paths.logFile)}`,
    );
  }
  await writeJsonAtomic(
    paths.pidFile,
    { pid, startedAt: new Date().toISOString() },
    { mkdir: true, pretty: true },
  );
  return await waitUntilReady(pid, run, () => exited);
}

async function waitUntilReady(
  pid: number,
  run: StartContext,
  exited: () => boolean,
): Promise<LocalCloudState> {
  const { paths, readyTimeoutMs } = run;
  const deadline = Date.now() + readyTimeoutMs;
  while (Date.now() < deadline) {
    const failure = await readJson<StartupFailure>(paths.errorFile);
    if (failure) {
      await terminate(pid, 5_000);
      await removeRunFiles(paths);
      throw startFailure(failure, paths.logFile);
    }
    const state = await readJson<LocalCloudState>(paths.stateFile);
    if (state?.pid === pid && (await edgeAnswers(state.endpoint, pid, run.healthPath))) return state;
    if (exited() || !processExists(pid)) {
      await removeRunFiles(paths);
      throw new LocalCloudStartError(
        `The local cloud process (pid ${pid}) exited before it was ready. Last lines of ${paths.logFile}:\n${tailOf(paths.logFile)}`,
      );
    }
    await sleep(100);
  }
  await terminate(pid, 5_000);
  await removeRunFiles(paths);
  throw new LocalCloudStartError(
    `The local cloud did not answer within ${Math.round(readyTimeoutMs / 1000)} s; it was stopped. ` +
      `Last lines of ${paths.logFile}:\n${tailOf(paths.logFile)}`,
  );
}

/** What main.ts wrote to error.json. */
interface StartupFailure {
  name?: string;
  message?: string;
  code?: string;
  reason?: string;
}

/** Errors of the template raised while the cloud deploys it: the assembly is at fault, not the machine. */
const ASSEMBLY_ERRORS = new Set(['CloudAssemblyError', 'TemplateResolutionError', 'CircularDependencyError']);

/** The error for a start that failed with `failure` (error.json): the causes of the machine get their own reason. */
function startFailure(failure: StartupFailure, logFile: string): LocalCloudStartError {
  if (failure.code === 'EADDRINUSE') {
    const port = Number(/:(\d+)\s*$/.exec(failure.message ?? '')?.[1]);
    return new LocalCloudStartError(
      `The local cloud could not listen on port ${Number.isFinite(port) ? port : '(unknown)'}: another program ` +
        `uses it. (Details: ${logFile})`,
      { reason: 'address-in-use', ...(Number.isFinite(port) ? { port } : {}) },
    );
  }
  if (failure.name === 'JavaMissingError') {
    return new LocalCloudStartError(`The local cloud could not start: ${failure.message}`, {
      reason: 'java-missing',
    });
  }
  if (failure.name === 'LocalCloudStartError' && failure.reason && failure.reason !== 'failed') {
    return new LocalCloudStartError(failure.message ?? 'The local cloud could not start.', {
      reason: failure.reason as LocalCloudStartReason,
    });
  }
  if (failure.name && ASSEMBLY_ERRORS.has(failure.name)) {
    return new LocalCloudStartError(`The local cloud could not deploy the template: ${failure.message}`, {
      reason: 'bad-assembly',
    });
  }
  return new LocalCloudStartError(
    `The local cloud failed to start: ${failure.message ?? 'unknown error'}\n` +
      `Last lines of ${logFile}:\n${tailOf(logFile)}`,
  );
}

/**
 * Stops this data folder's local cloud (SIGTERM, then SIGKILL after the grace period) and removes its run
 * files; with `removeData`, the whole data folder. Resolves true if a process was running.
 */
export async function stopLocalCloud(options: StopLocalCloudOptions): Promise<boolean> {
  const paths = localCloudPaths(options.projectDir, options.dataDir);
  const pids = new Set<number>();
  for (const file of [paths.stateFile, paths.pidFile]) {
    const record = await readJson<{ pid?: number }>(file);
    if (typeof record?.pid === 'number' && isOurProcess(record.pid, paths.dataDir)) pids.add(record.pid);
    else await reapLeftovers(record?.pid, paths.dataDir);
  }
  for (const pid of pids) await terminate(pid, options.graceMs ?? 15_000);
  await removeRunFiles(paths);
  await rm(paths.errorFile, { force: true });
  if (options.removeData) await rm(paths.dataDir, { recursive: true, force: true });
  return pids.size > 0;
}
