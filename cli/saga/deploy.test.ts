import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { stopLocalCloud } from '@saga/local-cloud';
import { describe, expect, onTestFinished, test } from 'vitest';
import { CapturedStream, runCli, tempProject } from '../../test/support/cli.ts';
import type { CommandContext } from '../command.ts';
import { readContext } from '../target/context.ts';
import { PACKAGE_ROOT } from '../target/project.ts';
import { Output } from '../ui/output.ts';
import { type DeployOptions, deploy, describeChanges, type LocalDeployResult } from './deploy.ts';

describe('describeChanges: why a running cloud is restarted, as the user would say it', () => {
  const project = '/home/me/shop';

  test('time scale, edge port, stack and assembly folder: old → new, paths relative to the project', () => {
    expect(
      describeChanges(
        [
          { setting: 'timeScale', from: 1, to: 0.1 },
          { setting: 'edgePort', from: 4566, to: 5556 },
          { setting: 'stackName', from: 'Old', to: 'Saga' },
          { setting: 'assembly', from: `${project}/cdk.out`, to: '/tmp/app' },
        ],
        project,
        false,
      ),
    ).toEqual([
      'time scale 1 → 0.1',
      'edge port 4566 → 5556',
      'stack Old → Saga',
      'assembly cdk.out → /tmp/app',
    ]);
  });

  test('template and function code: one reason; after a synthesis it says so', () => {
    const template = { setting: 'template', from: 'a', to: 'b' } as const;
    const assets = { setting: 'assets', from: 'c', to: 'd' } as const;
    expect(describeChanges([template], project, false)).toEqual(['template changed']);
    expect(describeChanges([assets], project, false)).toEqual(['function code changed']);
    expect(describeChanges([template, assets], project, true)).toEqual([
      'a new synthesis of the app: template and function code changed',
    ]);
  });

  test('a running cloud that does not record its assembly (started by an older saga)', () => {
    expect(describeChanges([{ setting: 'assembly', to: `${project}/cdk.out` }], project, false)).toEqual([
      'assembly cdk.out (the running cloud does not record which it runs)',
    ]);
  });
});

/** A minimal cloud assembly with the Saga stack, as `cdk synth` lays one out. */
function writeAssembly(dir: string, greeting = 'hello'): string {
  mkdirSync(join(dir, 'asset.b1'), { recursive: true });
  writeFileSync(join(dir, 'asset.b1', 'index.mjs'), 'export const handler = async () => ({ ok: true });\n');
  const json = (name: string, value: unknown) =>
    writeFileSync(join(dir, name), JSON.stringify(value, null, 1));
  json('manifest.json', {
    version: '55.0.0',
    artifacts: {
      'Saga.assets': { type: 'cdk:asset-manifest', properties: { file: 'Saga.assets.json' } },
      Saga: {
        type: 'aws:cloudformation:stack',
        properties: { templateFile: 'Saga.template.json' },
        dependencies: ['Saga.assets'],
      },
    },
  });
  json('Saga.assets.json', {
    version: '55.0.0',
    files: { b1: { source: { path: 'asset.b1', packaging: 'zip' }, destinations: {} } },
  });
  json('Saga.template.json', {
    Resources: { Fn: { Type: 'AWS::Lambda::Function', Properties: { Code: { S3Key: 'b1.zip' } } } },
    Outputs: { Greeting: { Value: greeting } },
  });
  return dir;
}

/** Stands in for the local cloud's process (main.ts with a starter that serves the health answer and reports the
 * template's literal outputs): the real lifecycle, a real detached process, no DynamoDB Local. */
async function standInEntry(dir: string): Promise<string> {
  const file = join(dir, 'stand-in.mjs');
  writeFileSync(
    file,
    `import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseMainArgs, runLocalCloudProcess } from ${JSON.stringify(join(PACKAGE_ROOT, 'infra', 'local', 'main.ts'))};
await runLocalCloudProcess(parseMainArgs(process.argv.slice(2)), async (options) => {
  const server = createServer((req, res) => res.end(JSON.stringify({ pid: process.pid })));
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.edgePort ?? 0, '127.0.0.1', resolve);
  });
  const endpoint = 'http://127.0.0.1:' + server.address().port;
  const template = JSON.parse(readFileSync(join(options.cdkOut, options.stackName + '.template.json'), 'utf8'));
  const outputs = Object.fromEntries(Object.entries(template.Outputs ?? {}).map(([k, v]) => [k, String(v.Value)]));
  return { endpoint, apiUrl: endpoint + '/', dynamodbEndpoint: 'http://127.0.0.1:9', outputs, unsupported: [],
    stop: () => new Promise((resolve) => server.close(resolve)) };
});
`,
  );
  return file;
}

async function context(projectDir: string, json = false) {
  const stdout = new CapturedStream();
  const stderr = new CapturedStream();
  const out = await Output.create({ stdout, stderr, json, color: false, interactive: false });
  const ctx: CommandContext = {
    out,
    projectDir,
    env: {},
    globals: { json, color: false, yes: false, target: 'local' },
    prompter: {
      confirm: async () => false,
      select: async () => {
        throw new Error('no prompt expected');
      },
    },
    signal: new AbortController().signal,
  };
  return { ctx, stdout, stderr };
}

const portOf = (endpoint: string) => Number(new URL(endpoint).port);

describe('saga deploy --app <dir> on the local target (a stand-in cloud process)', () => {
  test('deploys the assembly as it is; an edit restarts it and takes effect; the edge keeps its port', async () => {
    const projectDir = await tempProject();
    onTestFinished(() => stopLocalCloud({ projectDir, graceMs: 2_000 }).then(() => {}));
    const entry = await standInEntry(projectDir);
    const app = writeAssembly(join(projectDir, 'my-app'));
    const run = async (options: Partial<DeployOptions> = {}) => {
      const { ctx, stdout, stderr } = await context(projectDir);
      const result = (await deploy(
        ctx,
        { timeScale: 0.1, app: 'my-app', ...options },
        { localCloudEntry: entry },
      )) as LocalDeployResult;
      return { result, text: stdout.text() + stderr.text() };
    };

    const first = await run();
    expect(first.result).toMatchObject({
      target: 'local',
      action: 'started',
      changes: [],
      timeScale: 0.1,
      assembly: app,
      outputs: { Greeting: 'hello' },
    });
    expect(first.text).toContain(`✓ Local cloud up at ${first.result.endpoint}`);
    expect((await readContext(projectDir))?.target).toBe('local');
    const port = portOf(first.result.endpoint);

    const same = await run();
    expect(same.result).toMatchObject({
      action: 'already-running',
      changes: [],
      endpoint: first.result.endpoint,
    });
    expect(same.text).toContain(
      `The local cloud is already running with these settings at ${first.result.endpoint} (time scale 0.1, IAM enforce, ` +
        'assembly my-app, since ',
    );
    expect(same.text).toContain('nothing changed, nothing was restarted.');
    expect(same.text).not.toContain('Starting the local cloud');

    // The user edits the template in the assembly folder and deploys exactly that.
    const templateFile = join(app, 'Saga.template.json');
    writeFileSync(templateFile, readFileSync(templateFile, 'utf8').replace('"hello"', '"edited by hand"'));
    const edited = await run();
    expect(edited.result).toMatchObject({
      action: 'restarted',
      changes: ['template changed'],
      outputs: { Greeting: 'edited by hand' },
    });
    expect(portOf(edited.result.endpoint)).toBe(port);
    expect(edited.text).toContain('… Restarting the local cloud: template changed');
    expect(edited.text).toContain(
      '✓ Stopped the local cloud to restart it (template changed); its data is kept',
    );
    expect(edited.text).toContain(
      `… Starting the local cloud (DynamoDB Local, Lambda workers, Step Functions, edge) on port ${port}`,
    );
    expect(edited.text).toContain(
      `✓ Restarted the local cloud: template changed (its data is kept); up at ${edited.result.endpoint}`,
    );

    const rescaled = await run({ timeScale: 1 });
    expect(rescaled.result).toMatchObject({
      action: 'restarted',
      changes: ['time scale 0.1 → 1'],
      timeScale: 1,
    });
    expect(rescaled.text).toContain('✓ Restarted the local cloud: time scale 0.1 → 1 (its data is kept)');
    expect(portOf(rescaled.result.endpoint)).toBe(port);

    // The port is someone else's after a stop: a free one, said, with what to change.
    await stopLocalCloud({ projectDir });
    const squatter: Server = createServer();
    await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
    onTestFinished(() => {
      squatter.close();
    });
    const moved = await run({ timeScale: 1 });
    expect(moved.result.action).toBe('started');
    const got = portOf(moved.result.endpoint);
    expect(got).not.toBe(port);
    expect(moved.result.portFallback).toEqual({ wanted: port, got });
    expect(moved.text).toContain(
      `The edge's previous port ${port} is taken by another program, so it listens on ${got} now: clients given ` +
        `--endpoint-url http://127.0.0.1:${port} must use ${moved.result.endpoint}.`,
    );
  });
});

describe('saga deploy --app: a wrong assembly is exit 2 before anything runs, saying what, what was received, what to do', () => {
  test.each([
    [
      'a folder that does not exist',
      (_dir: string) => 'nope',
      (dir: string) =>
        `--app "nope": there is no folder ${join(dir, 'nope')}. Pass the folder of a synthesized cloud assembly`,
    ],
    [
      'a folder without manifest.json',
      (dir: string) => {
        mkdirSync(join(dir, 'empty'));
        return 'empty';
      },
      (dir: string) =>
        `--app "empty": ${join(dir, 'empty')} is not a cloud assembly (it has no manifest.json). Pass the folder of a synthesized cloud assembly`,
    ],
    [
      'another app’s assembly',
      (dir: string) => {
        writeAssembly(join(dir, 'other'));
        const manifest = join(dir, 'other', 'manifest.json');
        writeFileSync(manifest, readFileSync(manifest, 'utf8').replaceAll('"Saga"', '"Shop"'));
        return 'other';
      },
      () =>
        '--app "other": the cloud assembly has no stack "Saga" (its stacks: Shop). saga deploys the Saga stack',
    ],
    [
      'a template broken by an edit',
      (dir: string) => {
        writeAssembly(join(dir, 'broken'));
        writeFileSync(join(dir, 'broken', 'Saga.template.json'), '{\n "Resources": {,\n}');
        return 'broken';
      },
      (dir: string) => `--app "broken": ${join(dir, 'broken', 'Saga.template.json')} is not valid JSON (`,
    ],
    [
      'a stack whose template is missing',
      (dir: string) => {
        writeAssembly(join(dir, 'partial'));
        writeFileSync(join(dir, 'partial', 'Saga.template.json'), '{"Outputs": {}}');
        return 'partial';
      },
      (dir: string) =>
        `--app "partial": ${join(dir, 'partial', 'Saga.template.json')} is not a CloudFormation template (it has no "Resources" object). Fix the template`,
    ],
  ])('%s', async (_what, arrange, message) => {
    const projectDir = await tempProject();
    const app = arrange(projectDir);
    const result = await runCli(['deploy', '--app', app], { cwd: projectDir });
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain(message(projectDir));
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(result.stdout).not.toContain('Synthesizing');
  });

  test('a missing function asset (checked by the local cloud package) → exit 2 with the CLI’s advice', async () => {
    const projectDir = await tempProject();
    writeAssembly(join(projectDir, 'app'));
    const { rmSync } = await import('node:fs');
    rmSync(join(projectDir, 'app', 'asset.b1'), { recursive: true });
    const result = await runCli(['deploy', '--app', 'app'], { cwd: projectDir });
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain(
      `The cloud assembly ${join(projectDir, 'app')} is missing asset b1 (asset.b1, listed in Saga.assets.json).`,
    );
    expect(result.stderr).toContain(
      'With --app, pass the folder `cdk synth` writes (cdk.out, or a copy of it)',
    );
  });

  test('bundles importing the AWS SDK from an assembly outside the project → exit 2: why, and what to do', async () => {
    const projectDir = await tempProject();
    const app = writeAssembly(join(projectDir, 'app'));
    writeFileSync(
      join(app, 'asset.b1', 'index.mjs'),
      'import{SFNClient as s}from"@aws-sdk/client-sfn";export const handler=()=>s;\n',
    );
    const result = await runCli(['deploy', '--app', app], { cwd: projectDir });
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain(`The functions in ${app} import @aws-sdk/client-sfn`);
    expect(result.stderr).toContain(`none above ${app} holds them (first needed by asset.b1/index.mjs)`);
    expect(result.stderr).toContain('Copy the assembly into this project');
    expect(result.stderr).toContain('--target aws');
  });

  test('--edge-port held by another program → exit 3 at the one error boundary: what happened, then what to do', async () => {
    const projectDir = await tempProject();
    writeAssembly(join(projectDir, 'app'));
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => {
      squatter.close();
    });
    const port = (squatter.address() as { port: number }).port;
    const result = await runCli(['deploy', '--app', 'app', '--edge-port', String(port)], { cwd: projectDir });
    expect(result.code, result.stderr).toBe(3);
    expect(result.stderr).toContain(
      `The local cloud could not listen on port ${port}: another program uses it. Pass another --edge-port, or ` +
        'leave it out to use a free port.',
    );
    expect(result.stderr).not.toMatch(/^\s+at /m);
  });
});
