/**
 * The local cloud as one detached background process: `node infra/local/main.ts …` started with its
 * output in `.saga/local/cloud.log`, found again through `.saga/local/state.json`, stopped with SIGTERM.
 *
 * Files under `.saga/local/` (the data dir):
 * - `state.json` — written by main.ts (atomic rename) once the cloud answers: what clients need.
 * - `cloud.pid`  — written here right after the spawn, so a process that never became ready can still be found.
 * - `error.json` — written by main.ts when startup fails, so start() can say why.
 * - `cloud.log`  — the process's stdout and stderr.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EDGE_HEALTH_PATH } from './edge/edge.ts';

/** What a running local cloud tells its clients (`.saga/local/state.json`). */
export interface LocalCloudState {
  pid: number;
  /** The edge, `http://127.0.0.1:<port>`: the AWS endpoint for every SDK client. */
  endpoint: string;
  /** The HTTP API's URL, `http://127.0.0.1:<port>/`. */
  apiUrl: string;
  dynamodbEndpoint: string;
  /** The stack's outputs, resolved. */
  outputs: Record<string, string>;
  /** Template resources the local cloud does not run. */
  unsupported: { logicalId: string; type: string }[];
  /** ISO time the cloud became ready. */
  startedAt: string;
  timeScale: number;
  dataDir: string;
  stackName: string;
}

/** Where the local cloud keeps its state, relative to the project. */
export const LOCAL_CLOUD_DIR = join('.saga', 'local');

/** The files of a project's local cloud. */
export interface LocalCloudPaths {
  readonly dataDir: string;
  readonly stateFile: string;
  readonly pidFile: string;
  readonly errorFile: string;
  readonly logFile: string;
  readonly lockFile: string;
}

/** The local cloud's files for a project (or, with `dataDir`, for that data folder). */
export function localCloudPaths(
  projectDir: string,
  dataDir = join(resolve(projectDir), LOCAL_CLOUD_DIR),
): LocalCloudPaths {
  return {
    dataDir,
    stateFile: join(dataDir, 'state.json'),
    pidFile: join(dataDir, 'cloud.pid'),
    errorFile: join(dataDir, 'error.json'),
    logFile: join(dataDir, 'cloud.log'),
    lockFile: join(dataDir, 'start.lock'),
  };
}

/** Why the local cloud did not start: `address-in-use` (the edge port is taken), `java-missing`, or anything else. */
export type LocalCloudStartReason = 'address-in-use' | 'java-missing' | 'failed';

/** Raised when the local cloud cannot be started; the message says why and what to do. */
export class LocalCloudStartError extends Error {
  readonly reason: LocalCloudStartReason;
  constructor(message: string, options?: ErrorOptions & { reason?: LocalCloudStartReason }) {
    super(message, options);
    this.name = 'LocalCloudStartError';
    this.reason = options?.reason ?? 'failed';
  }
}

/** Raised when `.saga/local/state.json` exists but cannot be read as a state; the message says what to do. */
export class LocalCloudStateError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'LocalCloudStateError';
  }
}

/** Options for {@link startLocalCloudDetached}. */
export interface StartLocalCloudDetachedOptions {
  /** The project root; `.saga/local/` is created under it. */
  readonly projectDir: string;
  /** The synthesized cloud assembly. @default `<projectDir>/cdk.out` */
  readonly cdkOut?: string;
  /** Shrinks Retry/Wait delays (0.01 = 100× faster). @default 1 */
  readonly timeScale?: number;
  /** The edge's port. @default a free port */
  readonly edgePort?: number;
  /** The stack to run. @default 'Saga' */
  readonly stackName?: string;
  /** The module the background process runs. @default infra/local/main.ts */
  readonly entry?: string;
  /** How long to wait for the cloud to answer. @default 120 s */
  readonly readyTimeoutMs?: number;
}

/** Options for {@link stopLocalCloud}. */
export interface StopLocalCloudOptions {
  readonly projectDir: string;
  /** Also delete `.saga/local/` (tables, logs, executions). @default false */
  readonly removeData?: boolean;
  /** How long SIGTERM gets before SIGKILL. @default 15 s */
  readonly graceMs?: number;
}

const DEFAULT_ENTRY = join(dirname(fileURLToPath(import.meta.url)), 'main.ts');

/** The Node ≥ 24 to run the background process on: this one if it is new enough, else the project's. */
export function resolveNodeExecutable(projectDir: string): string {
  const major = Number(process.versions.node.split('.')[0]);
  if (major >= 24) return process.execPath;
  const local = join(resolve(projectDir), 'node_modules', '.bin', 'node');
  if (existsSync(local)) return local;
  throw new LocalCloudStartError(
    `The local cloud needs Node.js 24 or newer; this is ${process.version} and ${local} does not exist. ` +
      'Run `npm install` in the project (it installs Node 24 as a dev dependency) or install Node 24.',
  );
}

/** Writes state.json so readers never see half a file (write to a temp file, then rename). */
export async function writeLocalCloudState(dataDir: string, state: LocalCloudState): Promise<void> {
  await writeJsonAtomically(localCloudPaths('.', dataDir).stateFile, state);
}

/** Records why startup failed (`error.json`), for start() to report. */
export async function writeStartupError(dataDir: string, error: unknown): Promise<void> {
  const err = error instanceof Error ? error : new Error(String(error));
  await writeJsonAtomically(localCloudPaths('.', dataDir).errorFile, {
    name: err.name,
    message: err.message,
    code: (err as NodeJS.ErrnoException).code,
    stack: err.stack,
    at: new Date().toISOString(),
  });
}

async function writeJsonAtomically(file: string, value: unknown): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(value, null, 2)}\n`);
  await rename(temp, file);
}

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/**
 * Whether a process with this id exists (EPERM: it exists, but belongs to someone else). A zombie (dead,
 * not yet reaped by its parent) counts as gone.
 */
function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  return pid <= 0 || !isZombie(pid);
}

function isZombie(pid: number): boolean {
  try {
    // /proc/<pid>/stat: "pid (comm) S …" — comm may hold spaces and parentheses, the state follows the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return false; // no /proc (not Linux), or already gone
  }
}

function commandLineOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    // Not Linux: ask ps.
    const ps = spawnSync('ps', ['-o', 'command=', '-p', String(pid)], { encoding: 'utf8' });
    return ps.status === 0 ? ps.stdout.trim() : undefined;
  }
}

/**
 * Whether `pid` is this project's local cloud: alive, and started with `--data-dir <dataDir>` (a recycled
 * pid belongs to some other program and does not carry that argument).
 */
function isOurProcess(pid: number, dataDir: string): boolean {
  if (!Number.isInteger(pid) || pid <= 0 || !processExists(pid)) return false;
  const commandLine = commandLineOf(pid);
  return commandLine === undefined || commandLine.includes(dataDir);
}

async function edgeAnswers(endpoint: string, pid: number): Promise<boolean> {
  try {
    const res = await fetch(new URL(EDGE_HEALTH_PATH, endpoint), { signal: AbortSignal.timeout(2_000) });
    if (!res.ok) return false;
    const body = (await res.json()) as { pid?: unknown };
    return body.pid === pid;
  } catch {
    return false;
  }
}

/** Reads state.json: undefined when there is none; {@link LocalCloudStateError} when it is not a state. */
async function readStateFile(paths: LocalCloudPaths): Promise<LocalCloudState | undefined> {
  let text: string;
  try {
    text = await readFile(paths.stateFile, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let state: Partial<LocalCloudState> | undefined;
  try {
    state = JSON.parse(text) as Partial<LocalCloudState>;
  } catch {
    state = undefined;
  }
  if (
    typeof state?.pid === 'number' &&
    typeof state.endpoint === 'string' &&
    typeof state.outputs === 'object'
  ) {
    return state as LocalCloudState;
  }
  const pid = (await readJson<{ pid?: number }>(paths.pidFile))?.pid;
  const running = typeof pid === 'number' && isOurProcess(pid, paths.dataDir);
  throw new LocalCloudStateError(
    `${paths.stateFile} is corrupt (it starts with ${JSON.stringify(text.slice(0, 40))}), so the local cloud ` +
      `cannot be found${running ? `, though its process (pid ${pid}) is running` : ''}. ` +
      '`saga deploy` restarts it (keeping its data); `saga destroy --yes` stops it and deletes its data.',
  );
}

/**
 * The running local cloud's state, or undefined when none runs (no state.json, or its pid is gone or
 * now belongs to another program). A state.json that cannot be read is a {@link LocalCloudStateError}.
 */
export async function readLocalCloudState(projectDir: string): Promise<LocalCloudState | undefined> {
  const paths = localCloudPaths(projectDir);
  const state = await readStateFile(paths);
  if (!state || !isOurProcess(state.pid, paths.dataDir)) return undefined;
  return state;
}

/** The last lines of cloud.log written by the latest start (the file keeps every earlier start's too). */
function tailOf(file: string, lines = 30): string {
  try {
    const all = readFileSync(file, 'utf8').trimEnd().split('\n');
    const start = all.findLastIndex((line) => line.startsWith(START_MARKER));
    return all.slice(Math.max(start, 0)).slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Opens each start's section of cloud.log. */
const START_MARKER = '--- ';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!processExists(pid)) return true;
    await sleep(50);
  }
  return !processExists(pid);
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  // The process leads its own group (detached), which holds its children (DynamoDB Local's JVM).
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, signal);
    } catch {
      // already gone
    }
  }
}

/** SIGTERM, wait up to `graceMs`, then SIGKILL the whole process group. */
async function terminate(pid: number, graceMs: number): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  if (!(await waitForExit(pid, graceMs))) {
    signalGroup(pid, 'SIGKILL');
    await waitForExit(pid, 5_000);
  }
  // Children left behind by a crash (e.g. the JVM) still carry the group id.
  if (processExists(-pid)) {
    signalGroup(pid, 'SIGKILL');
    await sleep(100);
  }
}

/**
 * Kills what a cloud that died without stopping (SIGKILL, OOM) left behind: its children (DynamoDB Local's JVM)
 * outlive it in its process group, holding the database files. The leader being gone, the group id cannot have
 * been reused (Linux keeps a pid reserved while a group carries it); a member must still name `dataDir` on its
 * command line, so a group this project did not start is never touched.
 */
async function reapLeftovers(pid: number | undefined, dataDir: string): Promise<void> {
  if (pid === undefined || !Number.isInteger(pid) || pid <= 1 || processExists(pid)) return;
  if (!processExists(-pid)) return;
  const ps = spawnSync('ps', ['-A', '-o', 'pid=,pgid=,args='], { encoding: 'utf8' });
  const members = (ps.stdout ?? '').split('\n').flatMap((line) => {
    const match = /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line);
    return match && Number(match[2]) === pid ? [{ pid: Number(match[1]), args: match[3] ?? '' }] : [];
  });
  if (!members.some((member) => member.args.includes(dataDir))) return;
  signalGroup(pid, 'SIGTERM');
  const deadline = Date.now() + 5_000;
  while (processExists(-pid) && Date.now() < deadline) await sleep(50);
  if (processExists(-pid)) signalGroup(pid, 'SIGKILL');
  while (processExists(-pid) && Date.now() < deadline + 5_000) await sleep(50);
}

async function removeRunFiles(paths: LocalCloudPaths): Promise<void> {
  await Promise.all([paths.stateFile, paths.pidFile].map((f) => rm(f, { force: true })));
}

/**
 * Starts the local cloud as a detached background process and waits until its edge answers. Idempotent:
 * if this project's cloud already runs (or is starting), returns its state. A state.json left by a dead
 * process is cleaned up first. Throws {@link LocalCloudStartError} with the reason (and the tail of
 * cloud.log) if it does not come up.
 */
export async function startLocalCloudDetached(
  options: StartLocalCloudDetachedOptions,
): Promise<LocalCloudState> {
  const projectDir = resolve(options.projectDir);
  const paths = localCloudPaths(projectDir);
  const readyTimeoutMs = options.readyTimeoutMs ?? 120_000;
  await mkdir(paths.dataDir, { recursive: true });
  // Concurrent starts (two terminals, parallel test files) take turns: the second finds the first's cloud.
  const release = await acquireStartLock(paths.lockFile, readyTimeoutMs + 30_000);
  try {
    return await startUnlocked(options, projectDir, paths, readyTimeoutMs);
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
        `Another start of the local cloud (pid ${holder}) has held ${lockFile} for too long. ` +
          'If no start is running, delete that file and try again.',
      );
    }
    await sleep(100);
  }
}

async function startUnlocked(
  options: StartLocalCloudDetachedOptions,
  projectDir: string,
  paths: LocalCloudPaths,
  readyTimeoutMs: number,
): Promise<LocalCloudState> {
  let existing: LocalCloudState | undefined;
  let corrupt = false;
  try {
    existing = await readStateFile(paths);
  } catch (error) {
    if (!(error instanceof LocalCloudStateError)) throw error;
    corrupt = true;
  }
  if (existing && isOurProcess(existing.pid, paths.dataDir)) {
    if (await edgeAnswers(existing.endpoint, existing.pid)) return existing;
    // Ours but deaf (hung or half stopped): replace it.
    await terminate(existing.pid, 5_000);
  }
  const starting = await readJson<{ pid: number }>(paths.pidFile);
  if (corrupt && starting && isOurProcess(starting.pid, paths.dataDir)) {
    // Running, but its state.json cannot be read: no client can find it. Replace it.
    await terminate(starting.pid, 5_000);
  } else if (starting && starting.pid !== existing?.pid && isOurProcess(starting.pid, paths.dataDir)) {
    // Another start() is bringing it up: wait for that one rather than starting a second.
    return await waitUntilReady(starting.pid, paths, readyTimeoutMs, () => false);
  }
  // A cloud that was killed (not stopped) may have left DynamoDB Local running on the same data.
  await reapLeftovers(existing?.pid, paths.dataDir);
  await reapLeftovers(starting?.pid, paths.dataDir);
  await removeRunFiles(paths);
  await rm(paths.errorFile, { force: true });

  const node = resolveNodeExecutable(projectDir);
  const entry = options.entry ?? DEFAULT_ENTRY;
  const args = [
    entry,
    '--project-dir',
    projectDir,
    '--cdk-out',
    resolve(projectDir, options.cdkOut ?? 'cdk.out'),
    '--data-dir',
    paths.dataDir,
    '--time-scale',
    String(options.timeScale ?? 1),
    '--stack-name',
    options.stackName ?? 'Saga',
  ];
  if (options.edgePort !== undefined) args.push('--edge-port', String(options.edgePort));

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
  await writeJsonAtomically(paths.pidFile, { pid, startedAt: new Date().toISOString() });
  return await waitUntilReady(pid, paths, readyTimeoutMs, () => exited);
}

async function waitUntilReady(
  pid: number,
  paths: LocalCloudPaths,
  timeoutMs: number,
  exited: () => boolean,
): Promise<LocalCloudState> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const failure = await readJson<{ name?: string; message?: string; code?: string }>(paths.errorFile);
    if (failure) {
      await terminate(pid, 5_000);
      await removeRunFiles(paths);
      throw startFailure(failure, paths.logFile);
    }
    const state = await readJson<LocalCloudState>(paths.stateFile);
    if (state?.pid === pid && (await edgeAnswers(state.endpoint, pid))) return state;
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
    `The local cloud did not answer within ${Math.round(timeoutMs / 1000)} s; it was stopped. ` +
      `Last lines of ${paths.logFile}:\n${tailOf(paths.logFile)}`,
  );
}

/** The error for a start that failed with `failure` (error.json): the causes of the machine get their own fix. */
function startFailure(
  failure: { name?: string; message?: string; code?: string },
  logFile: string,
): LocalCloudStartError {
  if (failure.code === 'EADDRINUSE') {
    const port = /:(\d+)\s*$/.exec(failure.message ?? '')?.[1] ?? '(unknown)';
    return new LocalCloudStartError(
      `The local cloud could not listen on port ${port}: another program uses it. Pass another --edge-port, ` +
        `or leave it out to use a free port. (Details: ${logFile})`,
      { reason: 'address-in-use' },
    );
  }
  if (failure.name === 'JavaMissingError') {
    return new LocalCloudStartError(`The local cloud could not start: ${failure.message}`, {
      reason: 'java-missing',
    });
  }
  return new LocalCloudStartError(
    `The local cloud failed to start: ${failure.message ?? 'unknown error'}\n` +
      `Last lines of ${logFile}:\n${tailOf(logFile)}`,
  );
}

/**
 * Stops this project's local cloud (SIGTERM, then SIGKILL after the grace period) and removes its run
 * files; with `removeData`, all of `.saga/local/`. Resolves true if a process was running.
 */
export async function stopLocalCloud(options: StopLocalCloudOptions): Promise<boolean> {
  const paths = localCloudPaths(options.projectDir);
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
