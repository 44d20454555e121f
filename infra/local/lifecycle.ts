/**
 * The local cloud as one detached background process: `node main.ts …` started with its output in
 * `<dataDir>/cloud.log`, found again through `<dataDir>/state.json`, stopped with SIGTERM.
 *
 * The data folder (`dataDir`) is `<projectDir>/.saga/local` ({@link LOCAL_CLOUD_DIR}) unless a caller passes
 * another; every function here takes it. Files in it:
 * - `state.json`    — written by main.ts (atomic rename) once the cloud answers: what clients need.
 * - `last-run.json` — the settings of the latest run (edge port, time scale, assembly), written with state.json and
 *                     kept when the cloud stops: a restart asks for the same edge port.
 * - `cloud.pid`     — written here right after the spawn, so a process that never became ready can still be found.
 * - `error.json`    — written by main.ts when startup fails, so start() can say why.
 * - `cloud.log`     — the process's stdout and stderr.
 *
 * Errors carry a `reason` code and neutral text (what happened, what was received); a client (the saga CLI) adds
 * its own advice per reason.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash, type Hash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A cloud assembly as the lifecycle sees it: where it is, which stack runs, and hashes of what that stack deploys
 * (a restart is due when they change).
 */
export interface LocalCloudAssembly {
  /** Absolute path of the cloud assembly folder (`cdk.out`). */
  readonly dir: string;
  /** The stack's artifact id in manifest.json. */
  readonly stackName: string;
  /** sha256 of the stack's template file as it is on disk (what CDK names the template asset by). */
  readonly templateHash: string;
  /** sha256 over the stack's file assets (function bundles): each asset's id and its files' names and contents. */
  readonly assetsHash: string;
}

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

/**
 * Why the local cloud did not start:
 * - `address-in-use` — the edge port asked for is taken by another program ({@link LocalCloudStartError.port});
 * - `java-missing` — DynamoDB Local needs Java 17+;
 * - `node-too-old` — the background process needs Node ≥ 24 and none was found;
 * - `bad-assembly` — the cloud assembly cannot be run: a folder, manifest, template or asset is missing or unreadable;
 * - `unresolved-imports` — function bundles import packages Lambda provides (the AWS SDK) that no `node_modules`
 *   above the assembly holds;
 * - `locked` — another start has held the start lock for too long;
 * - `failed` — anything else (the message carries the last lines of cloud.log).
 */
export type LocalCloudStartReason =
  | 'address-in-use'
  | 'java-missing'
  | 'node-too-old'
  | 'bad-assembly'
  | 'unresolved-imports'
  | 'locked'
  | 'failed';

/** Options of {@link LocalCloudStartError}. */
export interface LocalCloudStartErrorOptions extends ErrorOptions {
  readonly reason?: LocalCloudStartReason;
  readonly port?: number;
  readonly assemblyDir?: string;
}

/** Raised when the local cloud cannot be started; `reason` says why, the message what happened. */
export class LocalCloudStartError extends Error {
  readonly reason: LocalCloudStartReason;
  /** `address-in-use`: the port that was taken. */
  readonly port?: number;
  /** `bad-assembly`, `unresolved-imports`: the assembly folder. */
  readonly assemblyDir?: string;
  constructor(message: string, options?: LocalCloudStartErrorOptions) {
    super(message, options);
    this.name = 'LocalCloudStartError';
    this.reason = options?.reason ?? 'failed';
    this.port = options?.port;
    this.assemblyDir = options?.assemblyDir;
  }
}

/** Why a state file cannot be used: `corrupt` (it is not a state). */
export type LocalCloudStateReason = 'corrupt';

/** Raised when `state.json` exists but cannot be read as a state. A new start replaces it, keeping the data. */
export class LocalCloudStateError extends Error {
  readonly reason: LocalCloudStateReason;
  constructor(message: string, options?: ErrorOptions & { reason?: LocalCloudStateReason }) {
    super(message, options);
    this.name = 'LocalCloudStateError';
    this.reason = options?.reason ?? 'corrupt';
  }
}

/** Where a local cloud keeps its data. */
export interface LocalCloudLocation {
  /** The project root: the background process's working directory; the data folder defaults under it. */
  readonly projectDir: string;
  /** The data folder (tables, logs, executions, state.json), relative to `projectDir`. @default `.saga/local` */
  readonly dataDir?: string;
}

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

const DEFAULT_ENTRY = join(dirname(fileURLToPath(import.meta.url)), 'main.ts');

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
// The cloud assembly

interface ManifestArtifact {
  type?: string;
  dependencies?: string[];
  properties?: { templateFile?: string; file?: string };
}

/**
 * Checks a cloud assembly before anything runs it and returns what a restart compares: manifest.json, the stack
 * (`stackName`, or the only one), its template (JSON with `Resources`), its file assets, and that the function
 * bundles' imports of the AWS SDK resolve from where the assembly is (a bundle run outside Lambda finds `@aws-sdk/*`
 * in the nearest `node_modules` above it). Throws {@link LocalCloudStartError} `bad-assembly` or
 * `unresolved-imports` saying what was wrong.
 */
export function inspectCloudAssembly(cdkOut: string, stackName?: string): LocalCloudAssembly {
  const dir = resolve(cdkOut);
  const bad = (message: string, cause?: unknown) =>
    new LocalCloudStartError(message, { reason: 'bad-assembly', assemblyDir: dir, cause });
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw bad(
      `There is no cloud assembly at ${dir}: ${existsSync(dir) ? 'it is a file' : 'no such folder'}.`,
    );
  }
  const manifestFile = join(dir, 'manifest.json');
  if (!existsSync(manifestFile)) throw bad(`${dir} is not a cloud assembly: it has no manifest.json.`);
  const manifest = readJsonFile(manifestFile, bad) as { artifacts?: Record<string, ManifestArtifact> } | null;
  const artifacts = manifest?.artifacts ?? {};
  const stacks = Object.keys(artifacts).filter((id) => artifacts[id]?.type === 'aws:cloudformation:stack');
  let stack: string;
  if (stackName !== undefined) {
    if (!stacks.includes(stackName)) {
      throw bad(
        `The cloud assembly ${dir} has no stack "${stackName}" (its stacks: ${stacks.join(', ') || 'none'}).`,
      );
    }
    stack = stackName;
  } else if (stacks.length === 1 && stacks[0] !== undefined) {
    stack = stacks[0];
  } else {
    throw bad(
      stacks.length === 0
        ? `The cloud assembly ${dir} holds no CloudFormation stack (manifest.json lists none).`
        : `The cloud assembly ${dir} holds several stacks (${stacks.join(', ')}); name the one to run.`,
    );
  }
  const artifact = artifacts[stack] ?? {};
  const templateName = artifact.properties?.templateFile ?? `${stack}.template.json`;
  const templateFile = join(dir, templateName);
  if (!existsSync(templateFile)) {
    throw bad(`The cloud assembly ${dir} has no template for stack "${stack}" (${templateName} is missing).`);
  }
  const templateBytes = readFileSync(templateFile);
  let template: unknown;
  try {
    template = JSON.parse(templateBytes.toString('utf8'));
  } catch (error) {
    throw bad(`${templateFile} is not valid JSON (${(error as Error).message}).`, error);
  }
  if (typeof (template as { Resources?: unknown } | null)?.Resources !== 'object') {
    throw bad(`${templateFile} is not a CloudFormation template: it has no "Resources".`);
  }
  const assets = fileAssets(dir, stack, artifacts, templateName, bad);
  const assetsHash = createHash('sha256');
  for (const asset of assets) {
    assetsHash.update(`${asset.id}\0`);
    hashPath(assetsHash, asset.path, '');
  }
  checkBundleImports(
    dir,
    assets.map((a) => a.path),
  );
  return {
    dir,
    stackName: stack,
    templateHash: createHash('sha256').update(templateBytes).digest('hex'),
    assetsHash: assetsHash.digest('hex'),
  };
}

/** The stack's file assets (the template's own excluded), sorted by id; a listed asset that is missing is an error. */
function fileAssets(
  dir: string,
  stack: string,
  artifacts: Record<string, ManifestArtifact>,
  templateName: string,
  bad: (message: string) => LocalCloudStartError,
): { id: string; path: string }[] {
  const manifests = (artifacts[stack]?.dependencies ?? [])
    .map((id) => artifacts[id])
    .filter((a) => a?.type === 'cdk:asset-manifest' && a.properties?.file)
    .map((a) => a?.properties?.file as string);
  if (manifests.length === 0 && existsSync(join(dir, `${stack}.assets.json`))) {
    manifests.push(`${stack}.assets.json`);
  }
  const assets: { id: string; path: string }[] = [];
  for (const name of manifests) {
    const file = join(dir, name);
    if (!existsSync(file))
      throw bad(`The cloud assembly ${dir} lists the asset manifest ${name}, which is missing.`);
    const manifest = readJsonFile(file, bad) as {
      files?: Record<string, { source?: { path?: string } }>;
    } | null;
    for (const [id, entry] of Object.entries(manifest?.files ?? {})) {
      const source = entry.source?.path;
      if (!source || source === templateName) continue;
      const path = resolve(dir, source);
      if (!existsSync(path)) {
        throw bad(`The cloud assembly ${dir} is missing asset ${id} (${source}, listed in ${name}).`);
      }
      assets.push({ id, path });
    }
  }
  return assets.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function readJsonFile(
  file: string,
  bad: (message: string, cause?: unknown) => LocalCloudStartError,
): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw bad(`${file} is not valid JSON (${(error as Error).message}).`, error);
  }
}

/** Feeds a file's contents, or a folder's file names and contents (sorted), into `hash`. */
function hashPath(hash: Hash, path: string, name: string): void {
  const stat = statSync(path);
  if (stat.isDirectory()) {
    for (const entry of readdirSync(path).sort()) {
      hashPath(hash, join(path, entry), name ? `${name}/${entry}` : entry);
    }
    return;
  }
  hash.update(`${name}\0${stat.size}\0`);
  hash.update(readFileSync(path));
}

/** `import … from "@aws-sdk/x"`, `import("@aws-sdk/x")`, `require("@aws-sdk/x")`, minified or not. */
const SDK_IMPORT =
  /(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)["'](@aws-sdk\/[a-z0-9][a-z0-9._-]*)["']/g;

/**
 * Lambda provides the AWS SDK; bundles leave it out. Run locally, a bundle resolves `@aws-sdk/*` from the nearest
 * `node_modules` above its folder: an assembly outside any project that has them would fail at the first invocation.
 */
function checkBundleImports(dir: string, assetPaths: readonly string[]): void {
  const missing = new Map<string, string>();
  for (const asset of assetPaths) {
    if (!statSync(asset).isDirectory()) continue;
    for (const name of readdirSync(asset)) {
      if (!/\.(?:mjs|cjs|js)$/.test(name)) continue;
      const file = join(asset, name);
      const specifiers = new Set([...readFileSync(file, 'utf8').matchAll(SDK_IMPORT)].map((m) => m[1] ?? ''));
      if (specifiers.size === 0) continue;
      const require = createRequire(file);
      for (const specifier of specifiers) {
        if (missing.has(specifier)) continue;
        try {
          require.resolve(specifier);
        } catch (error) {
          // Only a package that is not there counts; one found but not `require`-able is there for `import`.
          if ((error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') {
            missing.set(specifier, relative(dir, file));
          }
        }
      }
    }
  }
  if (missing.size === 0) return;
  const names = [...missing.keys()];
  throw new LocalCloudStartError(
    `The functions in ${dir} import ${names.join(', ')} (provided by Lambda at run time, left out of the ` +
      `bundles); run locally, they resolve from a node_modules folder above the assembly, and none above ${dir} ` +
      `holds them (first needed by ${missing.get(names[0] ?? '')}).`,
    { reason: 'unresolved-imports', assemblyDir: dir },
  );
}

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

function portOf(endpoint: string): number {
  return Number(new URL(endpoint).port);
}

// ---------------------------------------------------------------------------------------------------------------
// Files of the data folder

/** The settings of the latest run, kept after it stops (`last-run.json`). */
interface LastRun {
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
  await writeJsonAtomically(paths.lastRunFile, lastRun);
  await writeJsonAtomically(paths.stateFile, state);
}

/** Records why startup failed (`error.json`), for start() to report. */
export async function writeStartupError(dataDir: string, error: unknown): Promise<void> {
  const err = error instanceof Error ? error : new Error(String(error));
  await writeJsonAtomically(localCloudPaths('.', dataDir).errorFile, {
    name: err.name,
    message: err.message,
    code: (err as NodeJS.ErrnoException).code,
    reason: (err as { reason?: unknown }).reason,
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

// ---------------------------------------------------------------------------------------------------------------
// Processes

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
 * Whether `pid` is this data folder's local cloud: alive, and started with `--data-dir <dataDir>` (a recycled
 * pid belongs to some other program and does not carry that argument).
 */
function isOurProcess(pid: number, dataDir: string): boolean {
  if (!Number.isInteger(pid) || pid <= 0 || !processExists(pid)) return false;
  const commandLine = commandLineOf(pid);
  return commandLine === undefined || commandLine.includes(dataDir);
}

async function edgeAnswers(endpoint: string, pid: number, healthPath: string): Promise<boolean> {
  try {
    const res = await fetch(new URL(healthPath, endpoint), { signal: AbortSignal.timeout(2_000) });
    if (!res.ok) return false;
    const body = (await res.json()) as { pid?: unknown };
    return body.pid === pid;
  } catch {
    return false;
  }
}

/** Whether 127.0.0.1:`port` can be listened on now (where the edge listens). */
async function portIsFree(port: number): Promise<boolean> {
  return await new Promise((done) => {
    const server = createServer();
    server.unref();
    server.once('error', () => done(false));
    server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
  });
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
  await writeJsonAtomically(paths.pidFile, { pid, startedAt: new Date().toISOString() });
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
