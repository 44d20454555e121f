/**
 * The local cloud end to end: the real synthesized template and bundles, one in-process cloud, driven
 * only through the AWS SDK and a SigV4-signed HTTP request against its edge.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sha256 } from '@aws-crypto/sha256-js';
import { DynamoDBClient, GetItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import {
  DescribeExecutionCommand,
  ExecutionDoesNotExist,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  ListExecutionsCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '@saga/local-cloud';
import { type LocalCloud, startLocalCloud } from '@saga/local-cloud/in-process';
import { SignatureV4 } from '@smithy/signature-v4';
import { ulid } from 'ulid';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CDK_OUT, synthesisIsStale, synthesize } from '../cli/target/project.ts';
import { parseFailSpec, writeFailureFlag } from '../services/shared/failure-flags.ts';

const PROJECT_DIR = join(import.meta.dirname, '..');

let cloud: LocalCloud;
let dataDir: string;
let sfn: SFNClient;
let ddb: DynamoDBClient;
const cloudLog: string[] = [];

const tables = () => ({
  orders: output('OrdersTableName'),
  payments: output('PaymentsTableName'),
  inventory: output('InventoryTableName'),
  shipments: output('ShipmentsTableName'),
  flags: output('FailureFlagsTableName'),
});

function output(name: string): string {
  const value = cloud.outputs[name];
  if (!value)
    throw new Error(`The deployed template has no output ${name}: ${Object.keys(cloud.outputs).join(', ')}`);
  return value;
}

async function start(): Promise<void> {
  cloud = await startLocalCloud({
    projectDir: PROJECT_DIR,
    cdkOut: CDK_OUT,
    dataDir,
    timeScale: 0.02,
    // Function timeouts are not under test here; at 0.02 a 10 s timeout would leave 200 ms, less than a
    // cold DynamoDB round trip takes on a loaded two-core machine.
    lambdaTimeScale: 1,
    log: (line) => cloudLog.push(line),
  });
  const clientConfig = { endpoint: cloud.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
  sfn = new SFNClient(clientConfig);
  ddb = new DynamoDBClient(clientConfig);
}

/** POST /orders signed with SigV4 as API Gateway's IAM authorization expects. */
async function placeOrder(
  body: Record<string, unknown>,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const url = new URL('orders', cloud.apiUrl.endsWith('/') ? cloud.apiUrl : `${cloud.apiUrl}/`);
  const payload = JSON.stringify(body);
  const signer = new SignatureV4({
    service: 'execute-api',
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    sha256: Sha256,
  });
  const signed = await signer.sign({
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    port: Number(url.port),
    path: url.pathname,
    query: {},
    headers: { host: url.host, 'content-type': 'application/json' },
    body: payload,
  });
  const response = await fetch(url, { method: 'POST', headers: signed.headers, body: payload });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

function executionArn(orderId: string): string {
  return `${output('StateMachineArn').replace(':stateMachine:', ':execution:')}:${orderId}`;
}

/** Waits until the outbox publisher has started the execution and it has finished. */
async function finishedExecution(orderId: string) {
  const deadline = Date.now() + 45_000;
  while (Date.now() < deadline) {
    try {
      const execution = await sfn.send(new DescribeExecutionCommand({ executionArn: executionArn(orderId) }));
      if (execution.status !== 'RUNNING') return execution;
    } catch (error) {
      if (!(error instanceof ExecutionDoesNotExist)) throw error;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `Execution ${orderId} did not finish within 45 s. Cloud log:\n${cloudLog.slice(-20).join('\n')}`,
  );
}

async function history(orderId: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(
      new GetExecutionHistoryCommand({ executionArn: executionArn(orderId), nextToken }),
    );
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
}

/** The states entered, in order. */
function statesEntered(events: readonly HistoryEvent[]): string[] {
  return events.flatMap((e) =>
    e.type?.endsWith('StateEntered') ? [e.stateEnteredEventDetails?.name ?? '?'] : [],
  );
}

async function rows(table: string, pk: string): Promise<string[]> {
  const out = await ddb.send(
    new QueryCommand({
      TableName: table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': { S: pk } },
    }),
  );
  return (out.Items ?? []).map((item) => item.sk?.S ?? '?');
}

async function orderStatus(orderId: string): Promise<string | undefined> {
  const { Item } = await ddb.send(
    new GetItemCommand({
      TableName: tables().orders,
      Key: { pk: { S: `ORDER#${orderId}` }, sk: { S: 'ORDER' } },
    }),
  );
  return Item?.status?.S;
}

async function stock(sku: string): Promise<number> {
  const { Item } = await ddb.send(
    new GetItemCommand({
      TableName: tables().inventory,
      Key: { pk: { S: `SKU#${sku}` }, sk: { S: 'STOCK' } },
    }),
  );
  return Number(Item?.available?.N);
}

/** Places an order whose flags are set first (order-scoped), and waits for its saga to end. */
async function runOrder(
  flags: string[],
  items = [
    { sku: 'ceramic-mug', qty: 2 },
    { sku: 'paper-filters', qty: 1 },
  ],
) {
  const orderId = ulid();
  for (const spec of flags) {
    await writeFailureFlag(ddb, tables().flags, { orderId }, parseFailSpec(spec));
  }
  const placed = await placeOrder({ orderId, customerId: 'c-e2e', items, currency: 'EUR' });
  expect(placed, JSON.stringify(placed.json)).toMatchObject({ status: 202, json: { orderId } });
  const execution = await finishedExecution(orderId);
  return { orderId, execution, events: await history(orderId) };
}

beforeAll(async () => {
  // The e2e project's global setup synthesizes too; this keeps the file runnable on its own.
  if (synthesisIsStale()) await synthesize();
  dataDir = mkdtempSync(join(tmpdir(), 'saga-local-cloud-'));
  await start();
});

afterAll(async () => {
  await cloud?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('the local cloud runs the synthesized Saga stack', () => {
  let happy: Awaited<ReturnType<typeof runOrder>>;

  test('deploys every resource it can and lists the rest', () => {
    expect(cloud.apiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+/);
    expect(output('StateMachineArn')).toMatch(/^arn:aws:states:us-east-1:000000000000:stateMachine:/);
    expect(
      cloud.lambda
        .list()
        .map((f) => f.handler)
        .sort(),
    ).toEqual(
      [
        'index.charge',
        'index.handler',
        'index.handler',
        'index.handler',
        'index.refund',
        'index.release',
        'index.reserve',
        'index.ship',
      ].sort(),
    );
    // The stack uses only what the local cloud plays; roles, policies and permissions are enforced (IAM on).
    expect(cloud.unsupported).toEqual([]);
    expect(cloud.iam.mode).toBe('enforce');
    const iamTypes = [
      'AWS::IAM::Role',
      'AWS::IAM::Policy',
      'AWS::Lambda::Permission',
      'AWS::SQS::QueuePolicy',
    ];
    const iamResources = cloud.deployment.resources.filter((r) => iamTypes.includes(r.type));
    expect(new Set(iamResources.map((r) => r.type))).toEqual(new Set(iamTypes));
    expect(iamResources.every((r) => r.status === 'created')).toBe(true);
    expect(cloud.deployment.accepted.map((a) => a.type)).not.toContain('AWS::IAM::Role');
    expect(cloud.deployment.resources.find((r) => r.type === 'Custom::AWS')?.status).toBe('created');
  });

  test('a signed POST /orders runs the saga to SUCCEEDED with one side effect per step', async () => {
    happy = await runOrder([]);
    const { orderId } = happy;

    expect(happy.execution.status).toBe('SUCCEEDED');
    expect(happy.execution.name).toBe(orderId);
    expect(await orderStatus(orderId)).toBe('COMPLETED');
    expect(await rows(tables().payments, `ORDER#${orderId}`)).toEqual(['CHARGE']);
    expect((await rows(tables().inventory, `ORDER#${orderId}`)).sort()).toEqual([
      'RESERVATION#ceramic-mug',
      'RESERVATION#paper-filters',
    ]);
    expect(await rows(tables().shipments, `ORDER#${orderId}`)).toEqual(['SHIPMENT']);
  });

  test('the history has AWS event types in AWS order', () => {
    const types = happy.events.map((e) => e.type);
    expect(types[0]).toBe('ExecutionStarted');
    expect(types.at(-1)).toBe('ExecutionSucceeded');
    const charge = happy.events.findIndex((e) => e.stateEnteredEventDetails?.name === 'ChargePayment');
    expect(types.slice(charge, charge + 5)).toEqual([
      'TaskStateEntered',
      'TaskScheduled',
      'TaskStarted',
      'TaskSucceeded',
      'TaskStateExited',
    ]);
    expect(happy.events.map((e) => e.id)).toEqual(happy.events.map((_, i) => i + 1));
    expect(statesEntered(happy.events).slice(0, 5)).toEqual([
      'CheckOrder',
      'RouteOrder',
      'ChargePayment',
      'ReserveInventory',
      'ShipOrder',
    ]);
  });

  test('inventory:error refunds the payment, cancels the order and restores the stock', async () => {
    const before = await stock('ceramic-mug');
    const { orderId, execution, events } = await runOrder(['inventory:error']);

    expect(execution.status).toBe('FAILED');
    expect(statesEntered(events)).toContain('RefundPayment');
    expect(statesEntered(events)).not.toContain('ShipOrder');
    expect(await orderStatus(orderId)).toBe('CANCELLED');
    expect((await rows(tables().payments, `ORDER#${orderId}`)).sort()).toEqual(['CHARGE', 'REFUND']);
    expect(await stock('ceramic-mug')).toBe(before);
  });

  test('shipping:error releases the inventory, then refunds (reverse order)', async () => {
    const before = await stock('ceramic-mug');
    const { orderId, events } = await runOrder(['shipping:error']);

    const entered = statesEntered(events);
    expect(entered.indexOf('ReleaseInventory')).toBeGreaterThan(entered.indexOf('ShipOrder'));
    expect(entered.indexOf('RefundPayment')).toBeGreaterThan(entered.indexOf('ReleaseInventory'));
    expect(await orderStatus(orderId)).toBe('CANCELLED');
    expect(await stock('ceramic-mug')).toBe(before);
  });

  test('payment:transient:2 is retried: three attempts, then success', async () => {
    const { orderId, execution, events } = await runOrder(['payment:transient:2']);

    expect(execution.status).toBe('SUCCEEDED');
    const chargeTasks = events.filter(
      (e) => e.type === 'TaskScheduled' && e.taskScheduledEventDetails?.parameters?.includes('#charge'),
    );
    expect(chargeTasks).toHaveLength(3);
    expect(events.filter((e) => e.type === 'TaskFailed')).toHaveLength(2);
    expect(await rows(tables().payments, `ORDER#${orderId}`)).toEqual(['CHARGE']);
  });

  test('a duplicate stream delivery or StartExecution starts no second execution', async () => {
    const { orderId } = happy;
    const outbox = await ddb.send(
      new QueryCommand({
        TableName: tables().orders,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': { S: `OUTBOX#${orderId}` } },
      }),
    );
    const row = outbox.Items?.[0];
    expect(row).toBeDefined();
    const publisher = cloud.lambda.list().find((f) => f.functionName.includes('OutboxPublisher'));
    const ordersTable = cloud.deployment.resources.find((r) => r.physicalId === tables().orders);
    const streamArn = String(
      cloud.deployment.resolver.getAtt(ordersTable?.logicalId ?? 'Orders', 'StreamArn'),
    );
    const record = {
      eventID: 'duplicate-1',
      eventName: 'INSERT',
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: LOCAL_REGION,
      dynamodb: {
        ApproximateCreationDateTime: Math.floor(Date.now() / 1000),
        Keys: { pk: row?.pk, sk: row?.sk },
        NewImage: row,
        SequenceNumber: '999999999999999999999',
        SizeBytes: 100,
        StreamViewType: 'NEW_IMAGE',
      },
      eventSourceARN: streamArn,
    };

    const redelivered = await cloud.lambda.invoke(publisher?.arn ?? 'missing', { Records: [record] });
    expect(redelivered.functionError, JSON.stringify(redelivered.payload)).toBeUndefined();
    expect(redelivered.payload).toEqual({ batchItemFailures: [] });
    await expect(
      sfn.send(
        new StartExecutionCommand({ stateMachineArn: output('StateMachineArn'), name: orderId, input: '{}' }),
      ),
    ).rejects.toThrow(/already exists/i);

    const listed = await sfn.send(new ListExecutionsCommand({ stateMachineArn: output('StateMachineArn') }));
    expect(listed.executions?.filter((e) => e.name === orderId)).toHaveLength(1);
    expect(await rows(tables().payments, `ORDER#${orderId}`)).toEqual(['CHARGE']);
  });

  test('a restart on the same dataDir keeps tables and finished histories', async () => {
    const { orderId } = happy;
    const before = await history(orderId);
    const listBefore = await sfn.send(
      new ListExecutionsCommand({ stateMachineArn: output('StateMachineArn') }),
    );
    await cloud.stop();

    await start();
    // The stream mapping resumes from its checkpoint: nothing is started again.
    await cloud.drainStreams();

    expect(await orderStatus(orderId)).toBe('COMPLETED');
    const execution = await sfn.send(new DescribeExecutionCommand({ executionArn: executionArn(orderId) }));
    expect(execution.status).toBe('SUCCEEDED');
    expect((await history(orderId)).map((e) => e.type)).toEqual(before.map((e) => e.type));
    const listAfter = await sfn.send(
      new ListExecutionsCommand({ stateMachineArn: output('StateMachineArn') }),
    );
    expect(listAfter.executions?.map((e) => e.name).sort()).toEqual(
      listBefore.executions?.map((e) => e.name).sort(),
    );
    expect(cloud.deployment.resources.find((r) => r.type === 'AWS::DynamoDB::Table')?.status).toBe(
      'existing',
    );
    // The stock seed ran on the first deploy only.
    expect(cloud.deployment.resources.find((r) => r.type === 'Custom::AWS')?.status).toBe('existing');
  }, 120_000);
});
