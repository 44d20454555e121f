import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import {
  LocalCloudStartError,
  LocalCloudStateError,
  localCloudPaths,
  readLocalCloudState,
  startLocalCloudDetached,
  stopLocalCloud,
} from './lifecycle.ts';

// cloud.ts (the real cloud) is built by another engineer; these tests drive the real lifecycle and the real
// main.ts with a stand-in starter that runs only an edge, in a real detached Node process.
const here = import.meta.dirname;
const work = mkdtempSync(join(tmpdir(), 'saga-lifecycle-'));

const standIn = join(work, 'stand-in.mjs');
writeFileSync(
  standIn,
  `import { parseMainArgs, runLocalCloudProcess } from ${JSON.stringify(join(here, 'main.ts'))};
import { startEdge } from ${JSON.stringify(join(here, 'edge', 'edge.ts'))};
const none = { async handle() { return {}; } };
await runLocalCloudProcess(parseMainArgs(process.argv.slice(2)), async (options) => {
  const edge = await startEdge({
    port: options.edgePort,
    services: { stepfunctions: none, logs: none, events: none, sqs: none, dynamodbEndpoint: 'http://127.0.0.1:9',
      lambda: { async invoke() { throw new Error('no functions'); } } },
    region: 'us-east-1',
    credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
  });
  const apiUrl = await edge.serveHttpApi({ apiId: 'api', name: 'OrdersApi', routes: [] });
  return { endpoint: edge.endpoint, apiUrl, dynamodbEndpoint: 'http://127.0.0.1:9',
    outputs: { ApiUrl: apiUrl, TimeScale: String(options.timeScale) }, unsupported: [{ logicalId: 'X', type: 'AWS::SNS::Topic' }],
    stop: () => edge.close() };
});
`,
);

const failingStandIn = join(work, 'failing-stand-in.mjs');
writeFileSync(
  failingStandIn,
  `import { parseMainArgs, runLocalCloudProcess } from ${JSON.stringify(join(here, 'main.ts'))};
import { JavaMissingError } from ${JSON.stringify(join(here, 'dynamodb', 'dynamodb-local.ts'))};
await runLocalCloudProcess(parseMainArgs(process.argv.slice(2)), async () => {
  throw new JavaMissingError('\`java\` was not found');
});
`,
);

// A cloud whose stop() never finishes and that has a child process (as the real one has DynamoDB Local's JVM).
const hangingStandIn = join(work, 'hanging-stand-in.mjs');
writeFileSync(
  hangingStandIn,
  `import { spawn } from 'node:child_process';
import { parseMainArgs, runLocalCloudProcess } from ${JSON.stringify(join(here, 'main.ts'))};
import { startEdge } from ${JSON.stringify(join(here, 'edge', 'edge.ts'))};
const none = { async handle() { return {}; } };
await runLocalCloudProcess(parseMainArgs(process.argv.slice(2)), async () => {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  const edge = await startEdge({
    services: { stepfunctions: none, logs: none, events: none, sqs: none, dynamodbEndpoint: 'http://127.0.0.1:9',
      lambda: { async invoke() { throw new Error('no functions'); } } },
    region: 'us-east-1',
    credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
  });
  return { endpoint: edge.endpoint, apiUrl: edge.endpoint + '/', dynamodbEndpoint: 'http://127.0.0.1:9',
    outputs: { ChildPid: String(child.pid) }, unsupported: [], stop: () => new Promise(() => {}) };
});
`,
);

let projectCount = 0;
function newProject(): string {
  const dir = join(work, `project-${projectCount++}`);
  return dir;
}

/** Alive and not a zombie (a killed process whose new parent has not reaped it yet). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return true; // no /proc: kill(pid, 0) is all we know
  }
}

const started: string[] = [];
afterEach(async () => {
  for (const projectDir of started.splice(0)) await stopLocalCloud({ projectDir, graceMs: 2_000 });
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('the detached local cloud process', () => {
  test('start is idempotent, state.json describes the running cloud, stop cleans up', async () => {
    const projectDir = newProject();
    started.push(projectDir);
    // Two at once (two terminals): one process, both get its state.
    const [state, twin] = await Promise.all([
      startLocalCloudDetached({ projectDir, entry: standIn, timeScale: 0.01 }),
      startLocalCloudDetached({ projectDir, entry: standIn, timeScale: 0.01 }),
    ]);
    expect(twin.pid).toBe(state.pid);
    const paths = localCloudPaths(projectDir);
    expect(existsSync(paths.lockFile)).toBe(false);

    expect(alive(state.pid)).toBe(true);
    expect(state.pid).not.toBe(process.pid);
    expect(state).toMatchObject({
      timeScale: 0.01,
      stackName: 'Saga',
      dataDir: paths.dataDir,
      outputs: { TimeScale: '0.01' },
      unsupported: [{ logicalId: 'X', type: 'AWS::SNS::Topic' }],
    });
    expect(state.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(state.apiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const health = (await (await fetch(`${state.endpoint}/_saga/health`)).json()) as { pid: number };
    expect(health.pid).toBe(state.pid);
    expect(JSON.parse(readFileSync(paths.stateFile, 'utf8'))).toEqual(state);
    expect(readFileSync(paths.logFile, 'utf8')).toContain('ready: edge');

    const again = await startLocalCloudDetached({ projectDir, entry: standIn });
    expect(again.pid).toBe(state.pid);
    expect(await readLocalCloudState(projectDir)).toEqual(state);

    expect(await stopLocalCloud({ projectDir })).toBe(true);
    expect(alive(state.pid)).toBe(false);
    expect(existsSync(paths.stateFile)).toBe(false);
    expect(existsSync(paths.logFile)).toBe(true);
    expect(await readLocalCloudState(projectDir)).toBeUndefined();
    expect(readFileSync(paths.logFile, 'utf8')).toContain('SIGTERM: stopping the local cloud');
    expect(await stopLocalCloud({ projectDir })).toBe(false);
  });

  test('a state.json whose pid is dead or not ours is stale: ignored, then replaced by a fresh start', async () => {
    const projectDir = newProject();
    started.push(projectDir);
    const paths = localCloudPaths(projectDir);
    await mkdir(paths.dataDir, { recursive: true });
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    expect(alive(dead)).toBe(false);
    const stale = {
      pid: dead,
      endpoint: 'http://127.0.0.1:9',
      apiUrl: 'http://127.0.0.1:9/',
      dynamodbEndpoint: 'http://127.0.0.1:9',
      outputs: {},
      unsupported: [],
      startedAt: new Date(0).toISOString(),
      timeScale: 1,
      dataDir: paths.dataDir,
      stackName: 'Saga',
    };
    await writeFile(paths.stateFile, JSON.stringify(stale));
    expect(await readLocalCloudState(projectDir)).toBeUndefined();

    // A live pid that is some other program (here: this test worker) is not ours either.
    await writeFile(paths.stateFile, JSON.stringify({ ...stale, pid: process.pid }));
    expect(await readLocalCloudState(projectDir)).toBeUndefined();

    const fresh = await startLocalCloudDetached({ projectDir, entry: standIn });
    expect(fresh.pid).not.toBe(process.pid);
    expect(fresh.pid).not.toBe(dead);
    expect(alive(fresh.pid)).toBe(true);
    expect(alive(process.pid)).toBe(true);
    expect(await readLocalCloudState(projectDir)).toEqual(fresh);
  });

  test('a startup failure is reported with its reason, and nothing is left running', async () => {
    const projectDir = newProject();
    started.push(projectDir);
    const error = await startLocalCloudDetached({ projectDir, entry: failingStandIn }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(LocalCloudStartError);
    expect((error as Error).message).toContain(
      'DynamoDB Local needs Java 17 or newer on the PATH (`java` was not found)',
    );
    expect((error as Error).message).toContain('openjdk-17');
    const paths = localCloudPaths(projectDir);
    expect(existsSync(paths.stateFile)).toBe(false);
    expect(existsSync(paths.pidFile)).toBe(false);
    expect(readFileSync(paths.logFile, 'utf8')).toContain('startup failed: JavaMissingError');
  });

  test('a cloud that does not stop on SIGTERM is killed after the grace period, with its children', async () => {
    const projectDir = newProject();
    started.push(projectDir);
    const state = await startLocalCloudDetached({ projectDir, entry: hangingStandIn });
    const childPid = Number(state.outputs.ChildPid);
    expect(alive(childPid)).toBe(true);
    expect(await stopLocalCloud({ projectDir, graceMs: 300 })).toBe(true);
    expect(alive(state.pid)).toBe(false);
    expect(alive(childPid)).toBe(false);
    expect(existsSync(localCloudPaths(projectDir).stateFile)).toBe(false);
  });

  test('stop with removeData deletes .saga/local', async () => {
    const projectDir = newProject();
    started.push(projectDir);
    const state = await startLocalCloudDetached({ projectDir, entry: standIn });
    expect(await stopLocalCloud({ projectDir, removeData: true })).toBe(true);
    expect(alive(state.pid)).toBe(false);
    expect(existsSync(localCloudPaths(projectDir).dataDir)).toBe(false);
  });
});

describe('errors of the environment say what to do', () => {
  test('an edge port in use: reason address-in-use, the port and --edge-port named, no earlier start’s log', async () => {
    const { createServer } = await import('node:net');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const projectDir = newProject();
      started.push(projectDir);
      const paths = localCloudPaths(projectDir);
      await mkdir(paths.dataDir, { recursive: true });
      await writeFile(
        paths.logFile,
        '--- 2026-01-01T00:00:00.000Z starting: node old\nOLD ATTEMPT exploded\n',
      );
      const error = await startLocalCloudDetached({ projectDir, entry: standIn, edgePort: port }).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(LocalCloudStartError);
      expect((error as LocalCloudStartError).reason).toBe('address-in-use');
      expect((error as Error).message).toContain(`could not listen on port ${port}: another program uses it`);
      expect((error as Error).message).toContain('Pass another --edge-port');
      expect((error as Error).message).not.toContain('OLD ATTEMPT');
      expect(existsSync(paths.pidFile)).toBe(false);
    } finally {
      server.close();
    }
  });

  test('a corrupt state.json of a running cloud: said to be corrupt (not "not running"), and a start replaces it', async () => {
    const projectDir = newProject();
    started.push(projectDir);
    const first = await startLocalCloudDetached({ projectDir, entry: standIn });
    const paths = localCloudPaths(projectDir);
    writeFileSync(paths.stateFile, '{"pid": 12');
    const error = await readLocalCloudState(projectDir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LocalCloudStateError);
    expect((error as Error).message).toContain(`${paths.stateFile} is corrupt`);
    expect((error as Error).message).toContain(`its process (pid ${first.pid}) is running`);
    expect((error as Error).message).toContain('`saga deploy` restarts it');
    const fresh = await startLocalCloudDetached({ projectDir, entry: standIn });
    expect(fresh.pid).not.toBe(first.pid);
    expect(alive(first.pid)).toBe(false);
    expect(await readLocalCloudState(projectDir)).toEqual(fresh);
  });

  test('a JavaMissingError is reason java-missing, with the install hint', async () => {
    const projectDir = newProject();
    started.push(projectDir);
    const error = await startLocalCloudDetached({ projectDir, entry: failingStandIn }).catch(
      (e: unknown) => e,
    );
    expect((error as LocalCloudStartError).reason).toBe('java-missing');
    expect((error as Error).message).toContain('openjdk-17');
  });
});
