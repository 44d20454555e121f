import { PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
  ScheduledEvent,
} from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { ulid } from 'ulid';
import { beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { createTestTable, testDynamoDbClient, useTestAwsEnv } from '../../test/support/dynamodb.ts';
import { type FakeExecution, fakeStepFunctions } from '../outbox-publisher/testing.ts';
import { sagaInputJson, sagaInputOf } from '../shared/saga-input.ts';
import {
  createServiceTables,
  httpApiEvent,
  lambdaContext,
  type ServiceTables,
  setServiceEnv,
} from '../shared/testing.ts';
import type { SweepSummary } from './handler.ts';
import { MAX_ORDERS_PER_SWEEP, type SweeperDeps, sample, sweep } from './sweeper.ts';

const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:OrderSaga-test';
const executionArn = (orderId: string) =>
  `arn:aws:states:us-east-1:000000000000:execution:OrderSaga-test:${orderId}`;

const client = testDynamoDbClient();
const doc = DynamoDBDocumentClient.from(client);
// Step Functions cannot run here: only it is mocked (with its naming rules). DynamoDB is real.
const sfn = mockClient(SFNClient);
let executions: Map<string, FakeExecution>;
let tables: ServiceTables;
let placeOrder: (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;
let sweepHandler: (event: ScheduledEvent, context: Context) => Promise<SweepSummary>;

beforeAll(async () => {
  useTestAwsEnv();
  tables = await createServiceTables(client);
  // The handler's sweeps take every PENDING order at once (threshold 0 s) from the suite's Orders table.
  setServiceEnv(tables, { STATE_MACHINE_ARN, SWEEP_AFTER_SECONDS: '0' });
  ({ handler: placeOrder } = await import('../order/handler.ts'));
  ({ handler: sweepHandler } = await import('./handler.ts'));
});

beforeEach(() => {
  sfn.reset();
  executions = fakeStepFunctions(sfn);
});

const startCalls = () => sfn.commandCalls(StartExecutionCommand).map((call) => call.args[0].input);
const scheduledEvent = (): ScheduledEvent => ({
  version: '0',
  id: ulid(),
  'detail-type': 'Scheduled Event',
  source: 'aws.events',
  account: '000000000000',
  time: new Date().toISOString(),
  region: 'us-east-1',
  resources: ['arn:aws:events:us-east-1:000000000000:rule/OutboxSweeperSchedule'],
  detail: {},
});

/** A sweeper over its own fresh Orders table, so that each test sees only its own orders. */
async function freshDeps(): Promise<SweeperDeps> {
  return {
    client: doc,
    ordersTable: await createTestTable(client, 'Orders'),
    sfn: new SFNClient({}),
    stateMachineArn: STATE_MACHINE_ARN,
  };
}

/** Writes an ORDER row as the order service does, created `ageSeconds` ago. */
async function putOrder(
  deps: SweeperDeps,
  options: { ageSeconds: number; status?: string; orderId?: string; drop?: string } = { ageSeconds: 600 },
): Promise<string> {
  const orderId = options.orderId ?? ulid();
  const createdAt = new Date(Date.now() - options.ageSeconds * 1000).toISOString();
  const row: Record<string, unknown> = {
    pk: `ORDER#${orderId}`,
    sk: 'ORDER',
    orderId,
    status: options.status ?? 'PENDING',
    customerId: 'sweep-test',
    items: [{ sku: 'ceramic-mug', qty: 2 }],
    amount: 2400,
    currency: 'EUR',
    createdAt,
    updatedAt: createdAt,
  };
  if (options.drop) delete row[options.drop];
  await client.send(new PutItemCommand({ TableName: deps.ordersTable, Item: marshall(row) }));
  return orderId;
}

describe('sweep', () => {
  test('starts the saga of a stale PENDING order without an execution: name = orderId, the publisher input', async () => {
    const deps = await freshDeps();
    const orderId = await putOrder(deps, { ageSeconds: 600 });

    const result = await sweep(deps, { sweepAfterSeconds: 120 });

    expect(result).toEqual({
      candidates: 1,
      found: 1,
      started: [{ orderId, executionArn: executionArn(orderId) }],
      hadExecution: [],
      failed: [],
      more: false,
    });
    expect(startCalls()).toEqual([
      {
        stateMachineArn: STATE_MACHINE_ARN,
        name: orderId,
        input: JSON.stringify({
          orderId,
          customerId: 'sweep-test',
          items: [{ sku: 'ceramic-mug', qty: 2 }],
          amount: 2400,
          currency: 'EUR',
        }),
      },
    ]);
  });

  test('leaves alone young PENDING orders, settled or cancelling orders, and outbox rows', async () => {
    const deps = await freshDeps();
    await putOrder(deps, { ageSeconds: 30 });
    for (const status of ['COMPLETED', 'FAILED', 'CANCELLED', 'CANCELLING', 'COMPENSATION_FAILED']) {
      await putOrder(deps, { ageSeconds: 600, status });
    }
    const outboxOrder = ulid();
    await client.send(
      new PutItemCommand({
        TableName: deps.ordersTable,
        Item: marshall({
          pk: `OUTBOX#${outboxOrder}`,
          sk: 'EVENT#1',
          status: 'PENDING',
          createdAt: '2020-01-01T00:00:00.000Z',
        }),
      }),
    );

    const result = await sweep(deps, { sweepAfterSeconds: 120 });

    expect(result.candidates).toBe(0);
    expect(startCalls()).toHaveLength(0);
    expect(sfn.commandCalls(DescribeExecutionCommand)).toHaveLength(0);
  });

  test('an order that has an execution (running or ended) is not started again', async () => {
    const deps = await freshDeps();
    const running = await putOrder(deps, { ageSeconds: 600 });
    const ended = await putOrder(deps, { ageSeconds: 600 });
    executions.set(running, { executionArn: executionArn(running), input: '{}', status: 'RUNNING' });
    executions.set(ended, { executionArn: executionArn(ended), input: '{}', status: 'FAILED' });

    const result = await sweep(deps, { sweepAfterSeconds: 120 });

    expect(result.started).toEqual([]);
    expect([...result.hadExecution].sort((a, b) => a.orderId.localeCompare(b.orderId))).toEqual(
      [
        { orderId: running, status: 'RUNNING' },
        { orderId: ended, status: 'FAILED' },
      ].sort((a, b) => a.orderId.localeCompare(b.orderId)),
    );
    expect(startCalls()).toHaveLength(0);
  });

  test('the publisher starting it between DescribeExecution and StartExecution: same input is fine, another fails', async () => {
    const deps = await freshDeps();
    const same = await putOrder(deps, { ageSeconds: 600 });
    const other = await putOrder(deps, { ageSeconds: 600 });
    // DescribeExecution finds nothing; StartExecution then meets the execution the publisher just started.
    sfn.on(DescribeExecutionCommand).callsFake((input: { executionArn: string }) => {
      const id = input.executionArn.split(':').at(-1) ?? '';
      if (executions.has(id)) return { ...executions.get(id) };
      throw new ExecutionDoesNotExist({ message: 'none', $metadata: {} });
    });
    sfn.on(StartExecutionCommand).callsFake((input: { name: string; input: string }) => {
      executions.set(input.name, {
        executionArn: executionArn(input.name),
        input: input.name === same ? input.input : JSON.stringify({ orderId: other, amount: 1 }),
        status: 'SUCCEEDED',
      });
      throw new ExecutionAlreadyExists({ message: 'exists', $metadata: {} });
    });

    const result = await sweep(deps, { sweepAfterSeconds: 120 });

    expect(result.started).toEqual([]);
    expect(result.hadExecution).toEqual([{ orderId: same, status: 'SUCCEEDED' }]);
    expect(result.failed.map(({ orderId, error }) => [orderId, error.name])).toEqual([
      [other, 'ExecutionInputMismatchError'],
    ]);
  });

  test('handles at most maxOrders per sweep and says more are left; later sweeps reach the rest', async () => {
    const deps = await freshDeps();
    const orderIds: string[] = [];
    for (let i = 0; i < 5; i++) orderIds.push(await putOrder(deps, { ageSeconds: 600 + i }));

    const first = await sweep(deps, { sweepAfterSeconds: 120, maxOrders: 3 });
    expect(first).toMatchObject({ candidates: 3, found: 5, more: true });
    expect(first.started).toHaveLength(3);

    // The three started keep their executions (and stay PENDING): later sweeps must still reach the other two.
    // Each sweep picks at random; 20 sweeps all missing one of them has a chance of 0.4^20.
    for (let i = 0; i < 20 && executions.size < 5; i++) {
      const next = await sweep(deps, { sweepAfterSeconds: 120, maxOrders: 3 });
      expect(next).toMatchObject({ candidates: 3, found: 5, more: true });
    }
    expect([...executions.keys()].sort()).toEqual([...orderIds].sort());
    expect(startCalls()).toHaveLength(5);
    expect(MAX_ORDERS_PER_SWEEP).toBe(100);
  });

  test('sample picks count distinct items, all of them when there are fewer', () => {
    const items = [1, 2, 3, 4, 5, 6];
    const picked = sample(items, 4);
    expect(new Set(picked).size).toBe(4);
    expect(picked.every((item) => items.includes(item))).toBe(true);
    expect(sample(items, 10).sort()).toEqual(items);
    // random() = 0 always takes the first remaining: the order of the input.
    expect(sample(items, 3, () => 0)).toEqual([1, 2, 3]);
    expect(sample(items, 2, () => 0.999)).toEqual([6, 1]);
  });

  test('a malformed ORDER row fails on its own, naming the field; the other orders are still started', async () => {
    const deps = await freshDeps();
    const bad = await putOrder(deps, { ageSeconds: 600, drop: 'amount' });
    const good = await putOrder(deps, { ageSeconds: 600 });

    const result = await sweep(deps, { sweepAfterSeconds: 120 });

    expect(result.started.map(({ orderId }) => orderId)).toEqual([good]);
    expect(result.failed).toHaveLength(1);
    expect(result.failed[0]?.orderId).toBe(bad);
    expect(result.failed[0]?.error.name).toBe('InvalidInputError');
    expect(result.failed[0]?.error.message).toMatch(new RegExp(`ORDER row of order ${bad}.*amount`));
  });

  test('refuses a negative threshold', async () => {
    await expect(sweep(await freshDeps(), { sweepAfterSeconds: -1 })).rejects.toThrow(/≥ 0, received -1/);
  });
});

describe('the scheduled handler', () => {
  test('starts the saga of an order placed through the API with the input the publisher would send', async () => {
    const response = await placeOrder(
      httpApiEvent('POST', '/orders', {
        body: JSON.stringify({
          customerId: 'swept',
          items: [{ sku: 'espresso-beans', qty: 1 }],
          currency: 'USD',
        }),
      }),
      lambdaContext(),
    );
    const { orderId } = JSON.parse(response.body ?? '{}') as { orderId: string };

    const summary = await sweepHandler(scheduledEvent(), lambdaContext());

    expect(summary.started).toContain(orderId);
    expect(summary.sweepAfterSeconds).toBe(0);
    // What the publisher sends for this order: the saga input built from its outbox event's payload.
    const { Items = [] } = await client.send(
      new QueryCommand({
        TableName: tables.ORDERS_TABLE,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': { S: `OUTBOX#${orderId}` } },
      }),
    );
    const payload = unmarshall(Items[0] ?? {}).payload as unknown;
    const sent = startCalls().find((call) => call.name === orderId);
    expect(sent?.input).toBe(sagaInputJson(sagaInputOf(payload)));
    expect(JSON.parse(sent?.input ?? '{}')).toEqual({
      orderId,
      customerId: 'swept',
      items: [{ sku: 'espresso-beans', qty: 1 }],
      amount: 2450,
      currency: 'USD',
    });

    // The next sweep finds the execution and starts nothing.
    const again = await sweepHandler(scheduledEvent(), lambdaContext());
    expect(again.started).toEqual([]);
    expect(again.hadExecution).toBeGreaterThanOrEqual(1);
  });

  test('fails the invocation, naming the order, when an order could not be checked', async () => {
    const orderId = ulid();
    await client.send(
      new PutItemCommand({
        TableName: tables.ORDERS_TABLE,
        Item: marshall({
          pk: `ORDER#${orderId}`,
          sk: 'ORDER',
          orderId,
          status: 'PENDING',
          createdAt: '2020-01-01T00:00:00.000Z',
        }),
      }),
    );
    await expect(sweepHandler(scheduledEvent(), lambdaContext())).rejects.toMatchObject({
      name: 'SweepFailedError',
      message: expect.stringContaining(orderId),
    });
  });

  test('SWEEP_AFTER_SECONDS: unset is 60; anything but a whole number ≥ 0 is refused with what was received', async () => {
    const { parseSweepAfterSeconds } = await import('./handler.ts');
    expect(parseSweepAfterSeconds(undefined)).toBe(60);
    expect(parseSweepAfterSeconds('300')).toBe(300);
    expect(() => parseSweepAfterSeconds('2m')).toThrow(/SWEEP_AFTER_SECONDS must be a whole number.*"2m"/);
    expect(() => parseSweepAfterSeconds('-5')).toThrow(/received "-5"/);
  });
});
