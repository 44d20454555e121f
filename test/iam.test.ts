/**
 * IAM enforced as AWS enforces it, one principal kind at a time: each case deploys a variant of the synthesized
 * template with ONE grant removed and sees the saga fail as it would on AWS — the denied call named in the
 * execution history (and so the timeline) and in the logs — and the same check passes on the template as
 * synthesized (the grant back). Principals: a Lambda function's role (its own DynamoDB calls, through the edge),
 * the state machine's role (its Lambda integration), the stream mapping's function role (checked when the mapping
 * is created), `events.amazonaws.com` against a function's resource policy and against a DLQ's queue policy, and
 * `apigateway.amazonaws.com` against the API's Lambda permission.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudWatchLogsClient, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  SFNClient,
} from '@aws-sdk/client-sfn';
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '@saga/local-cloud';
import { type LocalCloud, startLocalCloud } from '@saga/local-cloud/in-process';
import { ulid } from 'ulid';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { callApi } from '../cli/target/http.ts';
import { CDK_OUT, synthesisIsStale, synthesize } from '../cli/target/project.ts';
import type { ResolvedTarget } from '../cli/target/target.ts';
import { runCli } from './support/cli.ts';

const PROJECT_DIR = join(import.meta.dirname, '..');

/** A CloudFormation template, as much of it as the edits touch. */
interface Template {
  Resources: Record<string, { Type: string; Properties: Record<string, unknown>; DependsOn?: unknown }>;
}

interface Statement {
  Action: string | string[];
  Resource: unknown;
  Effect: string;
}

const work = mkdtempSync(join(tmpdir(), 'saga-iam-'));
const started: LocalCloud[] = [];

afterAll(async () => {
  await Promise.all(started.map((cloud) => cloud.stop()));
  rmSync(work, { recursive: true, force: true });
});

beforeAll(async () => {
  if (synthesisIsStale()) await synthesize();
});

/** The logical id of the one resource whose id starts with `prefix`. */
function logicalId(template: Template, prefix: string): string {
  const ids = Object.keys(template.Resources).filter((id) => id.startsWith(prefix));
  if (ids.length !== 1)
    throw new Error(`expected one resource named ${prefix}…, found ${ids.join(', ') || 'none'}`);
  return ids[0] as string;
}

/** Removes `action` from the statements of policy `policyPrefix…` whose Resource names `resourcePrefix…`. */
function removeAction(
  template: Template,
  policyPrefix: string,
  action: string,
  resourcePrefix?: string,
): void {
  const policy = template.Resources[logicalId(template, policyPrefix)];
  const document = policy?.Properties.PolicyDocument as { Statement: Statement[] };
  let removed = 0;
  document.Statement = document.Statement.flatMap((statement) => {
    const actions = [statement.Action].flat();
    if (!actions.includes(action)) return [statement];
    if (resourcePrefix !== undefined && !JSON.stringify(statement.Resource).includes(`"${resourcePrefix}`)) {
      return [statement];
    }
    removed++;
    const rest = actions.filter((a) => a !== action);
    return rest.length === 0 ? [] : [{ ...statement, Action: rest }];
  });
  if (removed === 0)
    throw new Error(`${policyPrefix}… grants no ${action} on ${resourcePrefix ?? 'anything'}`);
}

/** Removes `resourcePrefix…` from the Resource list of the statements of `policyPrefix…` that grant `action`. */
function removeResource(
  template: Template,
  policyPrefix: string,
  action: string,
  resourcePrefix: string,
): void {
  const policy = template.Resources[logicalId(template, policyPrefix)];
  const document = policy?.Properties.PolicyDocument as { Statement: Statement[] };
  let removed = 0;
  for (const statement of document.Statement) {
    if (![statement.Action].flat().includes(action) || !Array.isArray(statement.Resource)) continue;
    const kept = statement.Resource.filter((r) => !JSON.stringify(r).includes(`"${resourcePrefix}`));
    removed += statement.Resource.length - kept.length;
    statement.Resource = kept;
  }
  if (removed === 0) throw new Error(`${policyPrefix}… grants no ${action} on ${resourcePrefix}`);
}

/** Deletes a resource (a Lambda permission, a queue policy) and every DependsOn naming it. */
function removeResourceNamed(template: Template, prefix: string): void {
  const id = logicalId(template, prefix);
  delete template.Resources[id];
  for (const resource of Object.values(template.Resources)) {
    if (Array.isArray(resource.DependsOn)) resource.DependsOn = resource.DependsOn.filter((d) => d !== id);
    else if (resource.DependsOn === id) delete resource.DependsOn;
  }
}

/** A copy of cdk.out (under the project, so the bundles find their node_modules) with the template edited. */
function variant(name: string, edit: (template: Template) => void): string {
  const dir = join(PROJECT_DIR, '.saga', 'test-assemblies', `${name}-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  cpSync(CDK_OUT, dir, { recursive: true });
  const file = join(dir, 'Saga.template.json');
  const template = JSON.parse(readFileSync(file, 'utf8')) as Template;
  edit(template);
  writeFileSync(file, JSON.stringify(template, null, 1));
  return dir;
}

/** A running local cloud (IAM enforced, the default) of an assembly, with clients of the account's root user. */
async function cloudOf(cdkOut: string, log: string[] = []) {
  const dataDir = mkdtempSync(join(work, 'data-'));
  const cloud = await startLocalCloud({
    projectDir: PROJECT_DIR,
    cdkOut,
    dataDir,
    timeScale: 0.02,
    lambdaTimeScale: 1,
    log: (line) => log.push(line),
  });
  started.push(cloud);
  const config = { endpoint: cloud.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
  const sfn = new SFNClient(config);
  const ddb = new DynamoDBClient(config);
  const logs = new CloudWatchLogsClient(config);
  const sqs = new SQSClient(config);
  const output = (name: string): string => {
    const value = cloud.outputs[name];
    if (!value) throw new Error(`no output ${name}`);
    return value;
  };

  /** The stack as the CLI sees it: `callApi` signs POST /orders as `saga order` does. */
  const target: ResolvedTarget = {
    kind: 'local',
    region: LOCAL_REGION,
    endpoint: cloud.endpoint,
    outputs: cloud.outputs as ResolvedTarget['outputs'],
    credentials: LOCAL_CREDENTIALS,
    clientConfig: () => config,
  };
  const placeOrder = async (): Promise<{
    status: number;
    json: Record<string, unknown>;
    orderId: string;
  }> => {
    const orderId = ulid();
    const body = { orderId, customerId: 'c-iam', items: [{ sku: 'ceramic-mug', qty: 1 }], currency: 'EUR' };
    const response = await callApi(target, 'POST', 'orders', { body });
    return { status: response.status, json: response.body as Record<string, unknown>, orderId };
  };

  const executionArn = (orderId: string) =>
    `${output('StateMachineArn').replace(':stateMachine:', ':execution:')}:${orderId}`;

  /** Places an order and waits for its saga to end: the execution, its history, the order's status. */
  const runOrder = async () => {
    const placed = await placeOrder();
    expect(placed.status, JSON.stringify(placed.json)).toBe(202);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const execution = await sfn
        .send(new DescribeExecutionCommand({ executionArn: executionArn(placed.orderId) }))
        .catch(() => undefined);
      if (execution && execution.status !== 'RUNNING') break;
      if (Date.now() > deadline) throw new Error(`the saga of ${placed.orderId} did not end within 60 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const events: HistoryEvent[] = [];
    let nextToken: string | undefined;
    do {
      const page = await sfn.send(
        new GetExecutionHistoryCommand({ executionArn: executionArn(placed.orderId), nextToken }),
      );
      events.push(...(page.events ?? []));
      nextToken = page.nextToken;
    } while (nextToken);
    const { Item } = await ddb.send(
      new GetItemCommand({
        TableName: output('OrdersTableName'),
        Key: { pk: { S: `ORDER#${placed.orderId}` }, sk: { S: 'ORDER' } },
      }),
    );
    return { orderId: placed.orderId, events, status: Item?.status?.S };
  };

  /** The messages of a log group that contain `text`. */
  const logLines = async (logGroupName: string, text: string): Promise<string[]> => {
    const page = await logs.send(new FilterLogEventsCommand({ logGroupName, filterPattern: `"${text}"` }));
    return (page.events ?? []).map((e) => e.message ?? '');
  };

  /** Messages waiting in a queue (given by its logical id prefix). */
  const queueMessages = async (queueName: string): Promise<string[]> => {
    const queueUrl = `${cloud.endpoint}/000000000000/${queueName}`;
    const out = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    return (out.Messages ?? []).map((m) => m.Body ?? '');
  };

  return { cloud, runOrder, placeOrder, logLines, queueMessages, output, log };
}

/** The failures in a history: `error: cause` of each failed task or function. */
function failures(events: readonly HistoryEvent[]): string[] {
  return events.flatMap((e) => {
    const d = e.taskFailedEventDetails ?? e.lambdaFunctionFailedEventDetails;
    return d ? [`${d.error}: ${d.cause}`] : [];
  });
}

/** The timeline `saga watch --from-file` draws of a history. */
async function timeline(events: readonly HistoryEvent[]): Promise<string> {
  const dir = mkdtempSync(join(work, 'timeline-'));
  const file = join(dir, 'history.json');
  writeFileSync(
    file,
    JSON.stringify({ events }, (_k, v) => (v instanceof Date ? v.toISOString() : v)),
  );
  const result = await runCli(['watch', '--from-file', file], { cwd: dir });
  return result.stdout;
}

/** The physical name of a resource of the deployed stack. */
function physical(cloud: LocalCloud, prefix: string): string {
  const resource = cloud.deployment.resources.find((r) => r.logicalId.startsWith(prefix));
  if (!resource?.physicalId) throw new Error(`no deployed resource ${prefix}…`);
  return resource.physicalId;
}

describe('IAM enforced as on AWS: one grant removed, one principal kind at a time', () => {
  let original: Awaited<ReturnType<typeof cloudOf>>;

  beforeAll(async () => {
    original = await cloudOf(CDK_OUT);
  });

  test("a Lambda function's role: ShipOrder without dynamodb:PutItem on Shipments is denied its own write", async () => {
    const broken = await cloudOf(
      variant('ship-put', (t) =>
        removeAction(t, 'ShipOrderFunctionServiceRoleDefaultPolicy', 'dynamodb:PutItem', 'Shipments'),
      ),
    );
    const denied = await broken.runOrder();
    const shipments = `arn:aws:dynamodb:us-east-1:000000000000:table/${broken.output('ShipmentsTableName')}`;
    const message = `is not authorized to perform: dynamodb:PutItem on resource: ${shipments} because no identity-based policy allows the dynamodb:PutItem action`;
    // The function's own session is the principal, as Lambda gives it the keys of its role.
    const shipFailure = failures(denied.events).find((f) => f.includes(message));
    expect(shipFailure, failures(denied.events).join('\n')).toMatch(
      /^AccessDeniedException: .*User: arn:aws:sts::000000000000:assumed-role\/Saga-ShipOrderFunctionServiceRole[^/]*\/Saga-ShipOrderFunction/,
    );
    expect(denied.status).toBe('CANCELLED');
    expect(await timeline(denied.events)).toContain('dynamodb:PutItem');
    const shipFunction = physical(broken.cloud, 'ShipOrderFunction2');
    expect(await broken.logLines(`/aws/lambda/${shipFunction}`, 'AccessDeniedException')).not.toEqual([]);

    const granted = await original.runOrder();
    expect(granted.status).toBe('COMPLETED');
    expect(failures(granted.events)).toEqual([]);
  });

  test("the state machine's role: without lambda:InvokeFunction on ReserveInventory the task fails as Lambda.AWSLambdaException", async () => {
    const broken = await cloudOf(
      variant('saga-invoke', (t) =>
        removeResource(t, 'OrderSagaRoleDefaultPolicy', 'lambda:InvokeFunction', 'ReserveInventoryFunction'),
      ),
    );
    const denied = await broken.runOrder();
    const reserve = physical(broken.cloud, 'ReserveInventoryFunction1');
    const failure = failures(denied.events).find((f) => f.startsWith('Lambda.AWSLambdaException'));
    expect(failure, failures(denied.events).join('\n')).toContain(
      `is not authorized to perform: lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:000000000000:function:${reserve}`,
    );
    expect(failure).toContain('Error Code: AccessDeniedException');
    expect(failure).toMatch(/User: arn:aws:sts::000000000000:assumed-role\/Saga-OrderSagaRole/);
    expect(denied.status).toBe('CANCELLED');
    expect(await timeline(denied.events)).toContain('lambda:InvokeFunction');

    const granted = await original.runOrder();
    expect(granted.status).toBe('COMPLETED');
  });

  test("the stream mapping's role: without dynamodb:GetRecords on the stream the mapping is refused at deploy, as Lambda refuses it", async () => {
    const dir = variant('publisher-stream', (t) =>
      removeAction(t, 'OutboxPublisherFunctionServiceRoleDefaultPolicy', 'dynamodb:GetRecords'),
    );
    await expect(cloudOf(dir)).rejects.toThrow(
      /Cannot access stream arn:aws:dynamodb:[^:]+:000000000000:table\/.*\/stream\/.*Please ensure the role can perform the GetRecords, GetShardIterator, DescribeStream, and ListStreams Actions on your stream in IAM/,
    );
    // With the grant (the original cloud), the publisher reads the stream: orders start their sagas.
    expect((await original.runOrder()).status).toBe('COMPLETED');
  });

  test('events.amazonaws.com: without the Lambda permission the schedule cannot invoke the sweeper; its events go to the DLQ', async () => {
    const broken = await cloudOf(
      variant('sweeper-permission', (t) => removeResourceNamed(t, 'OutboxSweeperScheduleAllowEventRule')),
    );
    const dlq = physical(broken.cloud, 'OutboxSweeperScheduleDlq');
    const sweeper = physical(broken.cloud, 'OutboxSweeperFunction4');
    // rate(1 minute) × 0.02 fires every 1.2 s; no retry (MaximumRetryAttempts 0), so a denied delivery goes to the DLQ.
    await expect
      .poll(async () => (await broken.queueMessages(dlq)).length, { timeout: 15_000, interval: 500 })
      .toBeGreaterThan(0);
    expect(await broken.logLines(`/aws/lambda/${sweeper}`, 'START')).toEqual([]);

    // With the permission, the sweeper runs on schedule and nothing is dead-lettered.
    const originalSweeper = physical(original.cloud, 'OutboxSweeperFunction4');
    await expect
      .poll(async () => (await original.logLines(`/aws/lambda/${originalSweeper}`, 'START')).length, {
        timeout: 15_000,
        interval: 500,
      })
      .toBeGreaterThan(0);
    expect(await original.queueMessages(physical(original.cloud, 'OutboxSweeperScheduleDlq'))).toEqual([]);
  });

  test("events.amazonaws.com: without the DLQ's queue policy a failed event is dropped, not dead-lettered", async () => {
    const log: string[] = [];
    const broken = await cloudOf(
      variant('sweeper-dlq-policy', (t) => {
        removeResourceNamed(t, 'OutboxSweeperScheduleAllowEventRule');
        removeResourceNamed(t, 'OutboxSweeperScheduleDlqPolicy');
      }),
      log,
    );
    const dlq = physical(broken.cloud, 'OutboxSweeperScheduleDlq');
    await expect
      .poll(() => log.some((line) => line.includes('InvocationsFailedToBeSentToDlq')), {
        timeout: 15_000,
        interval: 500,
      })
      .toBe(true);
    expect(log.find((line) => line.includes('InvocationsFailedToBeSentToDlq'))).toContain(
      'is not authorized to perform: sqs:SendMessage',
    );
    expect(await broken.queueMessages(dlq)).toEqual([]);
  });

  test("the state machine's role: without dynamodb:GetItem on Orders, CheckOrder fails as DynamoDB.AmazonDynamoDBException", async () => {
    const broken = await cloudOf(
      variant('saga-getitem', (t) =>
        removeAction(t, 'OrderSagaRoleDefaultPolicy', 'dynamodb:GetItem', 'Orders'),
      ),
    );
    const denied = await broken.runOrder();
    const orders = `arn:aws:dynamodb:us-east-1:000000000000:table/${broken.output('OrdersTableName')}`;
    const failure = failures(denied.events).find((f) => f.startsWith('DynamoDB.AmazonDynamoDBException'));
    expect(failure, failures(denied.events).join('\n')).toContain(
      `is not authorized to perform: dynamodb:GetItem on resource: ${orders}`,
    );
    expect(failure).toContain('Error Code: AccessDeniedException');
    // No step ran: nothing to compensate, the order is left PENDING for a human (or a redeploy) to settle.
    expect(denied.status).toBe('PENDING');
    expect(await timeline(denied.events)).toContain('dynamodb:GetItem');
  });

  test('events.amazonaws.com: without the Logs resource policy the OrderPlaced rule cannot write to its log group; the event goes to its DLQ', async () => {
    const broken = await cloudOf(
      variant('events-logs-policy', (t) =>
        removeResourceNamed(t, 'EventsLogGroupPolicySagaOrderPlacedRuleABDADC111'),
      ),
    );
    const placed = await broken.runOrder();
    expect(placed.status).toBe('COMPLETED');
    const dlq = physical(broken.cloud, 'OrderPlacedTargetDlq4');
    // Permission errors are not retried (EventBridge's rule DLQ docs): the event is in the DLQ at once.
    await expect
      .poll(async () => (await broken.queueMessages(dlq)).length, { timeout: 15_000, interval: 300 })
      .toBeGreaterThan(0);

    const granted = await original.runOrder();
    expect(granted.status).toBe('COMPLETED');
    expect(await original.queueMessages(physical(original.cloud, 'OrderPlacedTargetDlq4'))).toEqual([]);
  });

  test('apigateway.amazonaws.com: without the Lambda permission POST /orders answers 500, as API Gateway does', async () => {
    const log: string[] = [];
    const broken = await cloudOf(
      variant('api-permission', (t) =>
        removeResourceNamed(t, 'OrdersApiPOSTordersOrderIntegrationPermission'),
      ),
      log,
    );
    const placed = await broken.placeOrder();
    expect(placed).toMatchObject({ status: 500, json: { message: 'Internal Server Error' } });
    expect(log.join('\n')).toContain(
      'apigateway.amazonaws.com is not authorized to perform: lambda:InvokeFunction',
    );

    expect((await original.placeOrder()).status).toBe(202);
  });
});
