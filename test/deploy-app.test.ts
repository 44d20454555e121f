/**
 * `saga deploy --app <dir>` on the real local cloud: a copy of cdk.out, edited by hand (an output added, a function's
 * environment variable changed), is deployed as it is — no synthesis — and the edits take effect: the new output is
 * resolved, the function runs with the new variable (its log lines carry it), and the copy's bundles find the AWS
 * SDK in the project's node_modules. Deploying it again after the edit restarts the cloud on the same edge port.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudWatchLogsClient, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { LOCAL_CREDENTIALS, LOCAL_REGION, stopLocalCloud } from '@saga/local-cloud';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { CDK_OUT, PACKAGE_ROOT } from '../cli/target/project.ts';
import { runCli } from './support/cli.ts';

let project: string;
let app: string;

beforeAll(async () => {
  project = await mkdtemp(join(tmpdir(), 'saga-deploy-app-'));
  // Under the project, as a user's copy would be: the bundles resolve @aws-sdk/* from its node_modules.
  mkdirSync(join(PACKAGE_ROOT, '.saga'), { recursive: true });
  app = mkdtempSync(join(PACKAGE_ROOT, '.saga', 'app-'));
  cpSync(CDK_OUT, app, { recursive: true });
});

afterAll(async () => {
  await stopLocalCloud({ projectDir: project, removeData: true });
  await rm(project, { recursive: true, force: true });
  await rm(app, { recursive: true, force: true });
});

interface Deployed {
  action: string;
  changes: string[];
  endpoint: string;
  assembly: string;
  outputs: Record<string, string>;
}

async function deploy(args: readonly string[] = []): Promise<{ json: Deployed; stdout: string }> {
  const result = await runCli(['deploy', '--app', app, '--time-scale', '0.1', ...args], { cwd: project });
  expect(result.code, result.stderr).toBe(0);
  return { json: JSON.parse(result.stdout.split('\n')[0] ?? '') as Deployed, stdout: result.stdout };
}

test('a hand-edited copy of cdk.out is deployed as it is, and its edits take effect', async () => {
  const first = await deploy(['--json']);
  expect(first.json).toMatchObject({ action: 'started', assembly: app });
  expect(first.json.outputs.EditedByHand).toBeUndefined();

  // The edits: an output the app never had, and a function's environment variable.
  const templateFile = join(app, 'Saga.template.json');
  const template = JSON.parse(readFileSync(templateFile, 'utf8')) as {
    Resources: Record<
      string,
      { Type: string; Properties: { Environment?: { Variables: Record<string, unknown> } } }
    >;
    Outputs: Record<string, unknown>;
  };
  const charge = Object.entries(template.Resources).find(
    ([id, r]) => id.startsWith('ChargePaymentFunction') && r.Type === 'AWS::Lambda::Function',
  )?.[1];
  if (!charge?.Properties.Environment) throw new Error('no ChargePayment function in the template');
  charge.Properties.Environment.Variables.POWERTOOLS_SERVICE_NAME = 'payment-edited-by-hand';
  template.Outputs.EditedByHand = { Value: { 'Fn::Join': ['-', ['edited', { Ref: 'AWS::Region' }]] } };
  writeFileSync(templateFile, JSON.stringify(template, null, 1));

  const edited = await runCli(['deploy', '--app', app, '--time-scale', '0.1'], { cwd: project });
  expect(edited.code, edited.stderr).toBe(0);
  expect(edited.stdout).not.toContain('Synthesizing');
  expect(edited.stdout).toContain('Restarting the local cloud: template changed');
  expect(edited.stdout).toContain('Restarted the local cloud: template changed (its data is kept)');
  expect(edited.stdout).toMatch(/EditedByHand\s+edited-us-east-1/);

  const again = await deploy(['--json']);
  expect(again.json).toMatchObject({ action: 'already-running', changes: [] });
  // The edge kept its port: an `aws --endpoint-url` line written after the first deploy still works.
  expect(again.json.endpoint).toBe(first.json.endpoint);
  expect(again.json.outputs.EditedByHand).toBe('edited-us-east-1');

  // The function runs with the edited variable: Powertools' logger writes it as `service` in each line.
  const config = { endpoint: again.json.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
  const functionName = again.json.outputs.FunctionNames?.split(',').find((n) => n.includes('ChargePayment'));
  if (!functionName) throw new Error(`no ChargePayment in ${again.json.outputs.FunctionNames}`);
  const invoked = await new LambdaClient(config).send(
    new InvokeCommand({
      FunctionName: functionName,
      Payload: JSON.stringify({ orderId: 'NO-SUCH-ORDER', amount: 1, currency: 'EUR', idempotency_key: 'k' }),
    }),
  );
  // It ran far enough to read DynamoDB (the SDK resolved from the copy) and refused the unknown order.
  expect(Buffer.from(invoked.Payload ?? []).toString()).toContain('OrderNotPending');
  const logs = new CloudWatchLogsClient(config);
  let messages: string[] = [];
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
    const page = await logs.send(new FilterLogEventsCommand({ logGroupName: `/aws/lambda/${functionName}` }));
    messages = (page.events ?? []).map((e) => e.message ?? '');
    if (messages.some((m) => m.includes('"service":"payment-edited-by-hand"'))) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  expect(messages.join('\n')).toContain('"service":"payment-edited-by-hand"');
});
