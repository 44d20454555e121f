/**
 * The entry of the local cloud's background process (started by lifecycle/start.ts, detached, output in
 * cloud.log): runs `startLocalCloud` from cloud.ts, writes state.json once the cloud answers, and on
 * SIGTERM/SIGINT stops it and exits 0. A startup failure goes to cloud.log and error.json.
 *
 *   node infra/local/main.ts --project-dir DIR --cdk-out DIR --data-dir DIR [--edge-port N]
 *                            [--time-scale X] [--stack-name NAME] [--iam enforce|warn|off]
 *
 * `--stack-name` defaults to the assembly's only stack; `--data-dir` to `<project-dir>/.saga/local`. The state it
 * writes records the assembly it runs (folder, stack, template and asset hashes): what a restart compares.
 */
import { rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { LocalCloud } from './cloud.ts';
import { checkJava } from './dynamodb/dynamodb-local.ts';
import type { IamMode } from './iam/authority.ts';
import {
  inspectCloudAssembly,
  type LocalCloudAssembly,
  type LocalCloudState,
  localCloudPaths,
  writeLocalCloudState,
  writeStartupError,
} from './lifecycle/index.ts';

/** The process's arguments, parsed. */
export interface MainArgs {
  readonly projectDir: string;
  readonly cdkOut: string;
  readonly dataDir: string;
  readonly edgePort?: number;
  readonly timeScale: number;
  /** IAM enforcement. @default 'enforce' */
  readonly iam: IamMode;
  /** @default the assembly's only stack */
  readonly stackName?: string;
}

/** Raised for command-line arguments main.ts cannot use. */
export class MainArgsError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'MainArgsError';
  }
}

/** What main.ts needs of a started cloud (a type-only import: cloud.ts itself loads only when needed). */
export type RunningCloud = Pick<
  LocalCloud,
  'endpoint' | 'apiUrl' | 'dynamodbEndpoint' | 'outputs' | 'unsupported' | 'stop'
>;

/** Starts a cloud: cloud.ts's `startLocalCloud`, or a stand-in in tests. */
export type CloudStarter = (options: {
  projectDir: string;
  cdkOut: string;
  dataDir: string;
  edgePort?: number;
  timeScale?: number;
  stackName?: string;
  iam?: IamMode;
}) => Promise<RunningCloud>;

/** Parses main.ts's command line; throws {@link MainArgsError} with what was wrong. */
export function parseMainArgs(argv: readonly string[]): MainArgs {
  let values: ReturnType<typeof parse>;
  try {
    values = parse(argv);
  } catch (error) {
    throw new MainArgsError(`Bad arguments for infra/local/main.ts: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const projectDir = resolve(values['project-dir'] ?? process.cwd());
  const number = (name: string, raw: string | undefined): number | undefined => {
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < 0)
      throw new MainArgsError(`--${name} must be a non-negative number, received '${raw}'.`);
    return n;
  };
  return {
    projectDir,
    cdkOut: resolve(projectDir, values['cdk-out'] ?? 'cdk.out'),
    dataDir: localCloudPaths(projectDir, values['data-dir']).dataDir,
    edgePort: number('edge-port', values['edge-port']),
    timeScale: number('time-scale', values['time-scale']) ?? 1,
    stackName: values['stack-name'],
    iam: iamMode(values.iam),
  };
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    options: {
      'project-dir': { type: 'string' },
      'cdk-out': { type: 'string' },
      'data-dir': { type: 'string' },
      'edge-port': { type: 'string' },
      'time-scale': { type: 'string' },
      'stack-name': { type: 'string' },
      iam: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  }).values;
}

/** The IAM modes, the first the default. */
export const IAM_MODES: readonly IamMode[] = ['enforce', 'warn', 'off'];

function iamMode(raw: string | undefined): IamMode {
  if (raw === undefined) return 'enforce';
  if ((IAM_MODES as readonly string[]).includes(raw)) return raw as IamMode;
  throw new MainArgsError(`--iam must be one of ${IAM_MODES.join(', ')}, received '${raw}'.`);
}

/** The real starter: fails fast on a missing Java, then loads cloud.ts (heavy) only when needed. */
const startRealCloud: CloudStarter = async (options) => {
  checkJava();
  const { startLocalCloud } = await import('./cloud.ts');
  return await startLocalCloud(options);
};

function log(line: string): void {
  process.stdout.write(`${new Date().toISOString()} ${line}\n`);
}

/**
 * Runs the local cloud in this process until SIGTERM/SIGINT. Resolves once the cloud is up (the process
 * then stays alive on its servers) or once startup has failed (exit code 1, error.json written).
 */
export async function runLocalCloudProcess(
  args: MainArgs,
  start: CloudStarter = startRealCloud,
): Promise<void> {
  const { stateFile } = localCloudPaths(args.projectDir, args.dataDir);
  let cloud: RunningCloud | undefined;
  let pendingSignal: string | undefined;
  let stopping = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (!cloud) {
      // Still starting: stop as soon as there is something to stop.
      pendingSignal = signal;
      return;
    }
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping the local cloud`);
    try {
      await cloud.stop();
      await rm(stateFile, { force: true });
      log('stopped');
      process.exit(0);
    } catch (error) {
      log(`stop failed: ${describe(error)}`);
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  // A background service logs a stray failure (a Lambda worker, a poller) rather than dying of it.
  process.on('unhandledRejection', (reason) => log(`unhandled rejection: ${describe(reason)}`));
  process.on('uncaughtException', (error) => log(`uncaught exception: ${describe(error)}`));

  let assembly: LocalCloudAssembly;
  try {
    // What runs is recorded as it is now: the hashes a later deploy compares to decide on a restart.
    assembly = inspectCloudAssembly(args.cdkOut, args.stackName);
    log(
      `starting the local cloud: project ${args.projectDir}, assembly ${assembly.dir}, stack ${assembly.stackName}, ` +
        `time scale ${args.timeScale}, IAM ${args.iam}`,
    );
    cloud = await start({
      projectDir: args.projectDir,
      cdkOut: assembly.dir,
      dataDir: args.dataDir,
      edgePort: args.edgePort,
      timeScale: args.timeScale,
      stackName: assembly.stackName,
      iam: args.iam,
    });
  } catch (error) {
    log(`startup failed: ${describe(error)}`);
    await writeStartupError(args.dataDir, error);
    process.exitCode = 1;
    // Servers a half-started cloud left open must not keep the process alive.
    setTimeout(() => process.exit(1), 1_000).unref();
    return;
  }
  if (pendingSignal) {
    await shutdown(pendingSignal);
    return;
  }
  const state: LocalCloudState = {
    pid: process.pid,
    endpoint: cloud.endpoint,
    apiUrl: cloud.apiUrl,
    dynamodbEndpoint: cloud.dynamodbEndpoint,
    outputs: { ...cloud.outputs },
    unsupported: cloud.unsupported.map((u) => ({ logicalId: u.logicalId, type: u.type })),
    startedAt: new Date().toISOString(),
    timeScale: args.timeScale,
    iam: args.iam,
    dataDir: args.dataDir,
    stackName: assembly.stackName,
    assembly,
  };
  await writeLocalCloudState(args.dataDir, state);
  log(`ready: edge ${state.endpoint}, api ${state.apiUrl}`);
}

function describe(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

if (import.meta.main) {
  let args: MainArgs | undefined;
  try {
    args = parseMainArgs(process.argv.slice(2));
  } catch (error) {
    log(describe(error));
    process.exitCode = 2;
  }
  if (args) await runLocalCloudProcess(args);
}
