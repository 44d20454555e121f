import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import {
  DEFAULT_HEALTH_PATH,
  ensureLocalCloud,
  inspectCloudAssembly,
  type LocalCloudAssembly,
  type LocalCloudProgress,
  LocalCloudStartError,
  LocalCloudStateError,
  localCloudChanges,
  localCloudPaths,
  readLocalCloudState,
  startLocalCloudDetached,
  stopLocalCloud,
} from './index.ts';

// The real cloud (cloud.ts) needs DynamoDB Local and seconds per start; these tests drive the real lifecycle and the
// real main.ts with stand-in starters, in real detached Node processes. The stand-in serves the health answer on
// any path and reports the template's literal outputs, so an edit of the template is seen in the state.
/** This package's folder (infra/local), where main.ts is. */
const pkg = join(import.meta.dirname, '..');
const work = mkdtempSync(join(tmpdir(), 'saga-lifecycle-'));

/** An HTTP server answering `{"pid"}` on every path, on `port` (0: a free one). */
const SERVE = `
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
async function serve(port) {
  const server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ status: 'ok', pid: process.pid }));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port ?? 0, '127.0.0.1', resolve);
  });
  return server;
}
function templateOutputs(cdkOut, stackName) {
  const template = JSON.parse(readFileSync(join(cdkOut, stackName + '.template.json'), 'utf8'));
  return Object.fromEntries(Object.entries(template.Outputs ?? {}).map(([k, v]) => [k, String(v.Value)]));
}
`;

const standIn = join(work, 'stand-in.mjs');
writeFileSync(
  standIn,
  `import { parseMainArgs, runLocalCloudProcess } from ${JSON.stringify(join(pkg, 'main.ts'))};
${SERVE}
await runLocalCloudProcess(parseMainArgs(process.argv.slice(2)), async (options) => {
  const server = await serve(options.edgePort);
  const endpoint = 'http://127.0.0.1:' + server.address().port;
  return { endpoint, apiUrl: endpoint + '/api/', dynamodbEndpoint: 'http://127.0.0.1:9',
    outputs: { ...templateOutputs(options.cdkOut, options.stackName), TimeScale: String(options.timeScale) },
    unsupported: [{ logicalId: 'X', type: 'AWS::SNS::Topic' }],
    stop: () => new Promise((resolve) => server.close(resolve)) };
});
`,
);

const failingStandIn = join(work, 'failing-stand-in.mjs');
writeFileSync(
  failingStandIn,
  `import { parseMainArgs, runLocalCloudProcess } from ${JSON.stringify(join(pkg, 'main.ts'))};
import { JavaMissingError } from ${JSON.stringify(join(pkg, 'dynamodb', 'dynamodb-local.ts'))};
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
import { parseMainArgs, runLocalCloudProcess } from ${JSON.stringify(join(pkg, 'main.ts'))};
${SERVE}
await runLocalCloudProcess(parseMainArgs(process.argv.slice(2)), async () => {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  const server = await serve();
  const endpoint = 'http://127.0.0.1:' + server.address().port;
  return { endpoint, apiUrl: endpoint + '/', dynamodbEndpoint: 'http://127.0.0.1:9',
    outputs: { ChildPid: String(child.pid) }, unsupported: [], stop: () => new Promise(() => {}) };
});
`,
);

/** A minimal cloud assembly, as `cdk synth` lays one out: manifest, template, asset manifest, one bundle. */
function writeAssembly(
  dir: string,
  options: { stack?: string; outputs?: Record<string, string>; bundle?: string } = {},
): string {
  const stack = options.stack ?? 'Shop';
  mkdirSync(join(dir, 'asset.b1'), { recursive: true });
  writeFileSync(
    join(dir, 'asset.b1', 'index.mjs'),
    options.bundle ?? 'export const handler = async () => ({ ok: true });\n',
  );
  const json = (name: string, value: unknown) =>
    writeFileSync(join(dir, name), `${JSON.stringify(value, null, 1)}\n`);
  json('manifest.json', {
    version: '55.0.0',
    artifacts: {
      [`${stack}.assets`]: { type: 'cdk:asset-manifest', properties: { file: `${stack}.assets.json` } },
      [stack]: {
        type: 'aws:cloudformation:stack',
        properties: { templateFile: `${stack}.template.json` },
        dependencies: [`${stack}.assets`],
      },
    },
  });
  json(`${stack}.assets.json`, {
    version: '55.0.0',
    files: {
      b1: { source: { path: 'asset.b1', packaging: 'zip' }, destinations: {} },
      t1: { source: { path: `${stack}.template.json`, packaging: 'file' }, destinations: {} },
    },
  });
  json(`${stack}.template.json`, {
    Resources: { Fn: { Type: 'AWS::Lambda::Function', Properties: { Code: { S3Key: 'b1.zip' } } } },
    Outputs: Object.fromEntries(
      Object.entries(options.outputs ?? { Greeting: 'hello' }).map(([k, v]) => [k, { Value: v }]),
    ),
  });
  return dir;
}

let projectCount = 0;
/** A project folder with its cdk.out. */
function newProject(): string {
  const dir = join(work, `project-${projectCount++}`);
  writeAssembly(join(dir, 'cdk.out'));
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

const portOf = (endpoint: string) => Number(new URL(endpoint).port);

async function holdPort(port = 0): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return server;
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
      // The assembly's only stack, when none is named.
      stackName: 'Shop',
      dataDir: paths.dataDir,
      outputs: { Greeting: 'hello', TimeScale: '0.01' },
      unsupported: [{ logicalId: 'X', type: 'AWS::SNS::Topic' }],
      assembly: { dir: join(projectDir, 'cdk.out'), stackName: 'Shop' },
    });
    expect(state.assembly?.templateHash).toMatch(/^[0-9a-f]{64}$/);
    expect(state.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
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
    expect(existsSync(paths.lastRunFile)).toBe(true);
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
      stackName: 'Shop',
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
    expect((error as LocalCloudStartError).reason).toBe('java-missing');
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

  test('stop with removeData deletes the data folder; another data folder is its own cloud', async () => {
    const projectDir = newProject();
    started.push(projectDir);
    const state = await startLocalCloudDetached({ projectDir, entry: standIn });
    const other = await startLocalCloudDetached({ projectDir, dataDir: 'elsewhere', entry: standIn });
    expect(other.pid).not.toBe(state.pid);
    expect(other.dataDir).toBe(join(projectDir, 'elsewhere'));
    expect(await readLocalCloudState(projectDir, { dataDir: 'elsewhere' })).toEqual(other);
    expect(await stopLocalCloud({ projectDir, removeData: true })).toBe(true);
    expect(alive(state.pid)).toBe(false);
    expect(existsSync(localCloudPaths(projectDir).dataDir)).toBe(false);
    expect(alive(other.pid)).toBe(true);
    expect(await stopLocalCloud({ projectDir, dataDir: 'elsewhere', removeData: true })).toBe(true);
    expect(alive(other.pid)).toBe(false);
    expect(existsSync(join(projectDir, 'elsewhere'))).toBe(false);
  });
});

describe('ensureLocalCloud: same settings → nothing; other settings → a restart that says why', () => {
  test('time scale, template and edge port: each restart names what changed, keeps the port and the data', async () => {
    const projectDir = newProject();
    started.push(projectDir);
    const progress: LocalCloudProgress[] = [];
    const ensure = (options: { timeScale?: number; edgePort?: number; cdkOut?: string } = {}) =>
      ensureLocalCloud({
        projectDir,
        entry: standIn,
        timeScale: 0.1,
        onProgress: (event) => {
          progress.push(event);
        },
        ...options,
      });

    const first = await ensure();
    expect(first).toMatchObject({ action: 'started', changes: [] });
    expect(first.portFallback).toBeUndefined();
    const port = portOf(first.state.endpoint);
    const marker = join(localCloudPaths(projectDir).dataDir, 'tables.db');
    writeFileSync(marker, 'data');

    const same = await ensure();
    expect(same).toMatchObject({ action: 'already-running', changes: [] });
    expect(same.state.pid).toBe(first.state.pid);

    progress.length = 0;
    const rescaled = await ensure({ timeScale: 1 });
    expect(rescaled.action).toBe('restarted');
    expect(rescaled.changes).toEqual([{ setting: 'timeScale', from: 0.1, to: 1 }]);
    expect(progress.map((p) => p.phase)).toEqual(['stopping', 'starting']);
    expect(progress[1]).toEqual({ phase: 'starting', edgePort: port });
    expect(alive(first.state.pid)).toBe(false);
    expect(portOf(rescaled.state.endpoint)).toBe(port);
    expect(readFileSync(marker, 'utf8')).toBe('data');

    // The user edits the template (and the bundle) in place: restarted, the edit is live.
    const templateFile = join(projectDir, 'cdk.out', 'Shop.template.json');
    const template = JSON.parse(readFileSync(templateFile, 'utf8')) as { Outputs: Record<string, unknown> };
    template.Outputs.Greeting = { Value: 'edited by hand' };
    writeFileSync(templateFile, JSON.stringify(template));
    writeFileSync(join(projectDir, 'cdk.out', 'asset.b1', 'index.mjs'), 'export const handler = () => 2;\n');
    const edited = await ensure({ timeScale: 1 });
    expect(edited.action).toBe('restarted');
    expect(edited.changes.map((c) => c.setting)).toEqual(['template', 'assets']);
    expect(edited.state.outputs.Greeting).toBe('edited by hand');
    expect(portOf(edited.state.endpoint)).toBe(port);

    // Another folder with the same content is another assembly.
    const copy = join(projectDir, 'app');
    cpSync(join(projectDir, 'cdk.out'), copy, { recursive: true });
    const moved = await ensure({ timeScale: 1, cdkOut: 'app' });
    expect(moved.changes).toEqual([{ setting: 'assembly', from: join(projectDir, 'cdk.out'), to: copy }]);
    expect(moved.state.assembly?.dir).toBe(copy);

    // An edge port asked for wins.
    const free = await holdPort();
    const otherPort = (free.address() as { port: number }).port;
    await new Promise((resolve) => free.close(resolve));
    const ported = await ensure({ timeScale: 1, cdkOut: 'app', edgePort: otherPort });
    expect(ported.changes).toEqual([{ setting: 'edgePort', from: port, to: otherPort }]);
    expect(portOf(ported.state.endpoint)).toBe(otherPort);
    // …and is kept by the next restart that does not name one.
    const back = await ensure({ timeScale: 0.5, cdkOut: 'app' });
    expect(portOf(back.state.endpoint)).toBe(otherPort);
  });

  test('the last run’s port is asked for again after a stop; taken by another program → a free one, said', async () => {
    const projectDir = newProject();
    started.push(projectDir);
    const first = await ensureLocalCloud({ projectDir, entry: standIn });
    const port = portOf(first.state.endpoint);
    await stopLocalCloud({ projectDir });

    const again = await startLocalCloudDetached({ projectDir, entry: standIn });
    expect(portOf(again.endpoint)).toBe(port);
    await stopLocalCloud({ projectDir });

    const squatter = await holdPort(port);
    try {
      const moved = await ensureLocalCloud({ projectDir, entry: standIn });
      expect(moved.action).toBe('started');
      expect(moved.portFallback).toEqual({ wanted: port, got: portOf(moved.state.endpoint) });
      expect(portOf(moved.state.endpoint)).not.toBe(port);
    } finally {
      squatter.close();
    }
  });

  test('what cannot work is refused before the running cloud is stopped: it is left as it is', async () => {
    const projectDir = newProject();
    started.push(projectDir);
    const running = await ensureLocalCloud({ projectDir, entry: standIn });

    const squatter = await holdPort();
    const taken = (squatter.address() as { port: number }).port;
    try {
      const error = await ensureLocalCloud({ projectDir, entry: standIn, edgePort: taken }).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(LocalCloudStartError);
      expect(error).toMatchObject({ reason: 'address-in-use', port: taken });
      expect((error as Error).message).toBe(
        `The local cloud could not listen on port ${taken}: another program uses it. The running local cloud ` +
          `(pid ${running.state.pid}, ${running.state.endpoint}) was left as it is.`,
      );
    } finally {
      squatter.close();
    }

    const broken = join(projectDir, 'broken');
    mkdirSync(broken);
    const error = await ensureLocalCloud({ projectDir, entry: standIn, cdkOut: 'broken' }).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ reason: 'bad-assembly', assemblyDir: broken });
    expect((error as Error).message).toContain(`${broken} is not a cloud assembly: it has no manifest.json.`);
    expect((error as Error).message).toContain('was left as it is');

    expect(alive(running.state.pid)).toBe(true);
    expect((await readLocalCloudState(projectDir))?.pid).toBe(running.state.pid);
  });
});

test('the health path polled by default is the one the edge serves', async () => {
  const { EDGE_HEALTH_PATH } = await import('../edge/edge.ts');
  expect(DEFAULT_HEALTH_PATH).toBe(EDGE_HEALTH_PATH);
});

describe('localCloudChanges', () => {
  const assembly: LocalCloudAssembly = {
    dir: '/p/cdk.out',
    stackName: 'Shop',
    templateHash: 't1',
    assetsHash: 'a1',
  };
  const running = { timeScale: 0.1, endpoint: 'http://127.0.0.1:4566', assembly };

  test('the same settings (no edge port asked for: any port) → none', () => {
    expect(localCloudChanges(running, { timeScale: 0.1, assembly })).toEqual([]);
    expect(localCloudChanges(running, { timeScale: 0.1, edgePort: 4566, assembly: { ...assembly } })).toEqual(
      [],
    );
  });

  test('each setting that differs is named with its old and new value', () => {
    expect(
      localCloudChanges(running, {
        timeScale: 1,
        edgePort: 5556,
        assembly: { dir: '/p/app', stackName: 'Other', templateHash: 't2', assetsHash: 'a2' },
      }),
    ).toEqual([
      { setting: 'timeScale', from: 0.1, to: 1 },
      { setting: 'edgePort', from: 4566, to: 5556 },
      { setting: 'stackName', from: 'Shop', to: 'Other' },
      { setting: 'assembly', from: '/p/cdk.out', to: '/p/app' },
      { setting: 'template', from: 't1', to: 't2' },
      { setting: 'assets', from: 'a1', to: 'a2' },
    ]);
  });

  test('a cloud that does not record its assembly (an older state) is restarted for it', () => {
    expect(localCloudChanges({ ...running, assembly: undefined }, { timeScale: 0.1, assembly })).toEqual([
      { setting: 'assembly', to: '/p/cdk.out' },
    ]);
  });
});

describe('inspectCloudAssembly: what is wrong with an assembly, said before anything runs', () => {
  const bad = (dir: string, stackName?: string) => {
    try {
      inspectCloudAssembly(dir, stackName);
    } catch (error) {
      expect(error).toBeInstanceOf(LocalCloudStartError);
      expect((error as LocalCloudStartError).reason).toBe('bad-assembly');
      return (error as Error).message;
    }
    throw new Error(`${dir} was accepted`);
  };

  test('hashes: the template’s is its sha256 (as CDK names the template asset); editing either changes it', () => {
    const dir = writeAssembly(join(work, 'hashes'));
    const before = inspectCloudAssembly(dir);
    expect(before.stackName).toBe('Shop');
    expect(before.templateHash).toBe(
      createHash('sha256')
        .update(readFileSync(join(dir, 'Shop.template.json')))
        .digest('hex'),
    );
    writeFileSync(join(dir, 'asset.b1', 'extra.txt'), 'x');
    const after = inspectCloudAssembly(dir);
    expect(after.templateHash).toBe(before.templateHash);
    expect(after.assetsHash).not.toBe(before.assetsHash);
  });

  test('missing folder, manifest, stack, template; invalid JSON; a missing asset', () => {
    expect(bad(join(work, 'nothing-here'))).toBe(
      `There is no cloud assembly at ${join(work, 'nothing-here')}: no such folder.`,
    );
    const dir = writeAssembly(join(work, 'checks'));
    expect(bad(dir, 'Saga')).toBe(`The cloud assembly ${dir} has no stack "Saga" (its stacks: Shop).`);
    writeFileSync(join(dir, 'Shop.template.json'), '{"Resources": {');
    expect(bad(dir)).toMatch(
      new RegExp(`^${join(dir, 'Shop.template.json')} is not valid JSON \\(.+\\)\\.$`),
    );
    writeFileSync(join(dir, 'Shop.template.json'), '{"Outputs": {}}');
    expect(bad(dir)).toBe(
      `${join(dir, 'Shop.template.json')} is not a CloudFormation template: it has no "Resources".`,
    );
    rmSync(join(dir, 'Shop.template.json'));
    expect(bad(dir)).toBe(
      `The cloud assembly ${dir} has no template for stack "Shop" (Shop.template.json is missing).`,
    );
    writeAssembly(dir);
    rmSync(join(dir, 'asset.b1'), { recursive: true });
    expect(bad(dir)).toBe(
      `The cloud assembly ${dir} is missing asset b1 (asset.b1, listed in Shop.assets.json).`,
    );
    writeAssembly(join(work, 'two'), { stack: 'B' });
    writeAssembly(join(work, 'two'), { stack: 'A' });
    const manifest = JSON.parse(readFileSync(join(work, 'two', 'manifest.json'), 'utf8'));
    manifest.artifacts.B = {
      type: 'aws:cloudformation:stack',
      properties: { templateFile: 'B.template.json' },
    };
    writeFileSync(join(work, 'two', 'manifest.json'), JSON.stringify(manifest));
    expect(bad(join(work, 'two'))).toBe(
      `The cloud assembly ${join(work, 'two')} holds several stacks (A, B); name the one to run.`,
    );
    rmSync(join(dir, 'manifest.json'));
    expect(bad(dir)).toBe(`${dir} is not a cloud assembly: it has no manifest.json.`);
  });

  test('bundles importing the AWS SDK: refused where no node_modules above holds it, accepted inside the project', () => {
    const bundle = 'import{DynamoDBClient as a}from"@aws-sdk/client-dynamodb";export const handler=()=>a;\n';
    // Under the system temp folder nothing above resolves @aws-sdk/* (if the machine has a /node_modules that
    // does, there is nothing to show here).
    const outside = writeAssembly(join(work, 'outside'), { bundle });
    let error: unknown;
    try {
      inspectCloudAssembly(outside);
    } catch (e) {
      error = e;
    }
    const resolvable = (() => {
      try {
        createRequire(join(outside, 'x.mjs')).resolve('@aws-sdk/client-dynamodb');
        return true;
      } catch {
        return false;
      }
    })();
    expect(error !== undefined).toBe(!resolvable);
    if (error !== undefined) {
      expect(error).toMatchObject({ reason: 'unresolved-imports', assemblyDir: outside });
      expect((error as Error).message).toBe(
        `The functions in ${outside} import @aws-sdk/client-dynamodb (provided by Lambda at run time, left out ` +
          `of the bundles); run locally, they resolve from a node_modules folder above the assembly, and none ` +
          `above ${outside} holds them (first needed by asset.b1/index.mjs).`,
      );
    }
    // Inside this package, node_modules holds the SDK.
    // .saga/ does not exist yet in a fresh clone.
    mkdirSync(join(pkg, '..', '..', '.saga'), { recursive: true });
    const inside = mkdtempSync(join(pkg, '..', '..', '.saga', 'lifecycle-test-'));
    try {
      writeAssembly(inside, { bundle });
      expect(inspectCloudAssembly(inside).stackName).toBe('Shop');
    } finally {
      rmSync(inside, { recursive: true, force: true });
    }
  });
});

describe('errors of the environment carry a reason and neutral text', () => {
  test('an edge port in use: reason address-in-use and the port, no earlier start’s log', async () => {
    const server = await holdPort();
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
      expect(error).toMatchObject({ reason: 'address-in-use', port });
      expect((error as Error).message).toBe(
        `The local cloud could not listen on port ${port}: another program uses it.`,
      );
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
    expect((error as LocalCloudStateError).reason).toBe('corrupt');
    expect((error as Error).message).toBe(
      `${paths.stateFile} is corrupt (it starts with "{\\"pid\\": 12"), so the local cloud cannot be found, ` +
        `though its process (pid ${first.pid}) is running.`,
    );
    const fresh = await ensureLocalCloud({ projectDir, entry: standIn });
    expect(fresh).toMatchObject({ action: 'restarted', replaced: 'corrupt-state', changes: [] });
    expect(fresh.state.pid).not.toBe(first.pid);
    expect(alive(first.pid)).toBe(false);
    // The port of the replaced cloud (from last-run.json: its state.json was unreadable) is kept.
    expect(fresh.state.endpoint).toBe(first.endpoint);
    expect(await readLocalCloudState(projectDir)).toEqual(fresh.state);
  });
});
