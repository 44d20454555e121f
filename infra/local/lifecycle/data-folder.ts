/**
 * The files of a local cloud's data folder, and reading the state of the cloud that runs there.
 *
 * The data folder (`dataDir`) is `<projectDir>/.saga/local` ({@link LOCAL_CLOUD_DIR}) unless a caller passes
 * another; every function here takes it. Files in it:
 * - `state.json`    — written by main.ts (atomic rename) once the cloud answers: what clients need.
 * - `last-run.json` — the settings of the latest run (edge port, time scale, assembly), written with state.json and
 *                     kept when the cloud stops: a restart asks for the same edge port.
 * - `cloud.pid`     — written by start.ts right after the spawn, so a process that never became ready can still be found.
 * - `error.json`    — written by main.ts when startup fails, so start() can say why.
 * - `cloud.log`     — the process's stdout and stderr.
 * - `start.lock`    — held by a start (start.ts) while it works, so that concurrent starts take turns.
 */
import { readFileSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { writeJsonAtomic } from '../wire/persist.ts';
import type { LocalCloudAssembly } from './assembly.ts';
import { LocalCloudStateError } from './errors.ts';
import { isOurProcess } from './processes.ts';

/** What a running local cloud tells its clients (`<dataDir>/state.json`). */
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
  /** IAM enforcement (`enforce`, `warn`, `off`). Absent in a state written before this field existed: `enforce`. */
  iam?: 'enforce' | 'warn' | 'off';
  dataDir: string;
  stackName: string;
  /** The assembly it runs. Absent in a state written before this field existed. */
  assembly?: LocalCloudAssembly;
}

/** The default data folder, relative to the project. */
export const LOCAL_CLOUD_DIR = join('.saga', 'local');

/** The files of a local cloud's data folder. */
export interface LocalCloudPaths {
  readonly dataDir: string;
  readonly stateFile: string;
  readonly lastRunFile: string;
  readonly pidFile: string;
  readonly errorFile: string;
  readonly logFile: string;
  readonly lockFile: string;
}

/** The local cloud's files for a project: `dataDir` (relative to the project) or `<projectDir>/.saga/local`. */
export function localCloudPaths(projectDir: string, dataDir: string = LOCAL_CLOUD_DIR): LocalCloudPaths {
  const dir = resolve(projectDir, dataDir);
  return {
    dataDir: dir,
    stateFile: join(dir, 'state.json'),
    lastRunFile: join(dir, 'last-run.json'),
    pidFile: join(dir, 'cloud.pid'),
    errorFile: join(dir, 'error.json'),
    logFile: join(dir, 'cloud.log'),
    lockFile: join(dir, 'start.lock'),
  };
}

/** Where a local cloud keeps its data. */
export interface LocalCloudLocation {
  /** The project root: the background process's working directory; the data folder defaults under it. */
  readonly projectDir: string;
  /** The data folder (tables, logs, executions, state.json), relative to `projectDir`. @default `.saga/local` */
  readonly dataDir?: string;
}

/** The port of an endpoint (`http://127.0.0.1:<port>`). */
export function portOf(endpoint: string): number {
  return Number(new URL(endpoint).port);
}

/** How the data folder's JSON files are written: atomically, folder created, indented for people to read. */
const ATOMIC = { mkdir: true, pretty: true } as const;

/** The settings of the latest run, kept after it stops (`last-run.json`). */
export interface LastRun {
  edgePort: number;
  timeScale: number;
  assembly?: LocalCloudAssembly;
  startedAt: string;
}

/** Writes state.json (and last-run.json) so readers never see half a file (write to a temp file, then rename). */
export async function writeLocalCloudState(dataDir: string, state: LocalCloudState): Promise<void> {
  const paths = localCloudPaths('.', dataDir);
  const lastRun: LastRun = {
    edgePort: portOf(state.endpoint),
    timeScale: state.timeScale,
    assembly: state.assembly,
    startedAt: state.startedAt,
  };
  await writeJsonAtomic(paths.lastRunFile, lastRun, ATOMIC);
  await writeJsonAtomic(paths.stateFile, state, ATOMIC);
}

/** Records why startup failed (`error.json`), for start() to report. */
export async function writeStartupError(dataDir: string, error: unknown): Promise<void> {
  const err = error instanceof Error ? error : new Error(String(error));
  await writeJsonAtomic(
    localCloudPaths('.', dataDir).errorFile,
    {
      name: err.name,
      message: err.message,
      code: (err as NodeJS.ErrnoException).code,
      reason: (err as { reason?: unknown }).reason,
      stack: err.stack,
      at: new Date().toISOString(),
    },
    ATOMIC,
  );
}

/** A JSON file's value; undefined when it is missing or not JSON. */
export async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Reads state.json: undefined when there is none; {@link LocalCloudStateError} when it is not a state. */
export async function readStateFile(paths: LocalCloudPaths): Promise<LocalCloudState | undefined> {
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
      `cannot be found${running ? `, though its process (pid ${pid}) is running` : ''}.`,
    { reason: 'corrupt' },
  );
}

/**
 * The running local cloud's state, or undefined when none runs (no state.json, or its pid is gone or
 * now belongs to another program). A state.json that cannot be read is a {@link LocalCloudStateError}.
 */
export async function readLocalCloudState(
  projectDir: string,
  options: { readonly dataDir?: string } = {},
): Promise<LocalCloudState | undefined> {
  const paths = localCloudPaths(projectDir, options.dataDir);
  const state = await readStateFile(paths);
  if (!state || !isOurProcess(state.pid, paths.dataDir)) return undefined;
  return state;
}

/** The last lines of cloud.log written by the latest start (the file keeps every earlier start's too). */
export function tailOf(file: string, lines = 30): string {
  try {
    const all = readFileSync(file, 'utf8').trimEnd().split('\n');
    const start = all.findLastIndex((line) => line.startsWith(START_MARKER));
    return all.slice(Math.max(start, 0)).slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Opens each start's section of cloud.log. */
export const START_MARKER = '--- ';

/** Removes what only a running (or starting) cloud has: state.json and cloud.pid. */
export async function removeRunFiles(paths: LocalCloudPaths): Promise<void> {
  await Promise.all([paths.stateFile, paths.pidFile].map((f) => rm(f, { force: true })));
}
