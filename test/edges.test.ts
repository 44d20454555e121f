/**
 * The saga at the edges (design §4a), end to end on the shared local cloud: a settled order replayed after its
 * flags were cleared, or after its idempotency records expired and a new fault was set, stays as it settled; an
 * unknown outcome (the process died after the commit) is retried, answered from the ledger, and completes with one
 * side effect; POST /orders with an Idempotency-Key survives a crash after its commit; an order whose outbox record
 * the publisher can never deliver still settles, on its own (the sweeper).
 */
import {
  type AttributeValue,
  DeleteItemCommand,
  DynamoDBClient,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { ulid } from 'ulid';
import { beforeAll, describe, expect, inject, test } from 'vitest';
import { executionArnFor, waitForExecutionToEnd, waitForExecutionToExist } from '../cli/target/executions.ts';
import { callApi } from '../cli/target/http.ts';
import { readOrderLogs } from '../cli/target/logs.ts';
import { type ResolvedTarget, resolveTarget } from '../cli/target/target.ts';
import {
  deleteFailureFlag,
  GLOBAL_SCOPE,
  parseFailSpec,
  writeFailureFlag,
} from '../services/shared/failure-flags.ts';
import { runCli } from './support/cli.ts';
import { deleteIdempotencyRecords, orderRows, type Row } from './support/saga-rows.ts';

const ITEMS = [{ sku: 'espresso-beans', qty: 1 }];

let cwd: string;
let target: ResolvedTarget;
let ddb: DynamoDBClient;
let sfn: SFNClient;

beforeAll(async () => {
  cwd = inject('sagaProjectDir');
  target = await resolveTarget(cwd, {});
  ddb = new DynamoDBClient(target.clientConfig());
  sfn = new SFNClient(target.clientConfig());
});

const rowsOf = (table: string, orderId: string): Promise<Row[]> => orderRows(ddb, table, orderId);

/** Everything the saga wrote about one order: its status and its ledger rows, by kind. */
async function snapshot(orderId: string) {
  const [orders, payments, inventory, shipments] = await Promise.all([
    rowsOf(target.outputs.OrdersTableName, orderId),
    rowsOf(target.outputs.PaymentsTableName, orderId),
    rowsOf(target.outputs.InventoryTableName, orderId),
    rowsOf(target.outputs.ShipmentsTableName, orderId),
  ]);
  const count = (rows: Row[], prefix: string) => rows.filter((r) => r.sk?.S?.startsWith(prefix)).length;
  return {
    status: orders.find((r) => r.sk?.S === 'ORDER')?.status?.S,
    charges: count(payments, 'CHARGE'),
    refunds: count(payments, 'REFUND'),
    reservations: count(inventory, 'RESERVATION#'),
    releases: count(inventory, 'RELEASE#'),
    shipments: count(shipments, 'SHIPMENT'),
  };
}

/** Sets the order's flags, places it through the signed API and waits for its saga to end. */
async function placeAndSettle(flags: readonly string[]): Promise<string> {
  const orderId = ulid();
  for (const spec of flags) {
    await writeFailureFlag(ddb, target.outputs.FailureFlagsTableName, { orderId }, parseFailSpec(spec));
  }
  const placed = await callApi(target, 'POST', '/orders', {
    body: { orderId, customerId: 'c-edges', items: ITEMS, currency: 'EUR' },
  });
  expect(placed.status, placed.text).toBe(202);
  const arn = executionArnFor(target, orderId);
  await waitForExecutionToExist(sfn, arn, { timeoutMs: 60_000 });
  await waitForExecutionToEnd(sfn, arn, { timeoutMs: 120_000, intervalMs: 250 });
  return orderId;
}

/** Deletes every Idempotency record (what their TTL does an hour after they were written). */
async function expireIdempotencyRecords(): Promise<number> {
  const table = target.outputs.IdempotencyTableName;
  let deleted = 0;
  let ExclusiveStartKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await ddb.send(
      new ScanCommand({ TableName: table, ExclusiveStartKey, ConsistentRead: true }),
    );
    for (const item of page.Items ?? []) {
      await ddb.send(new DeleteItemCommand({ TableName: table, Key: { id: { S: item.id?.S ?? '' } } }));
      deleted += 1;
    }
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return deleted;
}

interface ReplayDoc {
  readonly newSideEffects: number;
  readonly orderStatus: { before: string; after: string };
  readonly verdict: string;
}

async function replay(orderId: string, ...extra: string[]) {
  const result = await runCli(['replay', orderId, '--json', ...extra], { cwd });
  const doc = JSON.parse(result.stdout.split('\n').find((l) => l.startsWith('{')) ?? '{}') as ReplayDoc;
  return { result, doc };
}

describe('settled stays settled', () => {
  test('a CANCELLED order replayed after its flags were cleared is not shipped, charged or reserved again', async () => {
    const orderId = await placeAndSettle(['shipping:transient:9']);
    const settled = await snapshot(orderId);
    expect(settled).toEqual({
      status: 'CANCELLED',
      charges: 1,
      refunds: 1,
      reservations: 1,
      releases: 1,
      shipments: 0,
    });
    const cleared = await runCli(['flags', 'clear', '--order', orderId, '--json'], { cwd });
    expect(cleared.code, cleared.stderr).toBe(0);

    const { result, doc } = await replay(orderId);
    expect(result.code, result.stderr + result.stdout).toBe(0);
    expect(doc).toMatchObject({
      newSideEffects: 0,
      orderStatus: { before: 'CANCELLED', after: 'CANCELLED' },
      verdict: 'idempotent',
    });
    expect(await snapshot(orderId)).toEqual(settled);
  });

  test('a COMPLETED order whose idempotency records expired, replayed with a shipping fault set, is not refunded', async () => {
    const orderId = await placeAndSettle([]);
    const settled = await snapshot(orderId);
    expect(settled).toEqual({
      status: 'COMPLETED',
      charges: 1,
      refunds: 0,
      reservations: 1,
      releases: 0,
      shipments: 1,
    });
    // What the records' TTL does an hour later: charge, reserve and ship answered from the store no more.
    expect(await deleteIdempotencyRecords(ddb, target.outputs.IdempotencyTableName, orderId)).toHaveLength(3);
    await writeFailureFlag(
      ddb,
      target.outputs.FailureFlagsTableName,
      { orderId },
      parseFailSpec('shipping:error'),
    );

    const viaSaga = await replay(orderId);
    expect(viaSaga.result.code, viaSaga.result.stderr + viaSaga.result.stdout).toBe(0);
    expect(viaSaga.doc).toMatchObject({
      newSideEffects: 0,
      orderStatus: { before: 'COMPLETED', after: 'COMPLETED' },
      verdict: 'idempotent',
    });
    // Each forward step invoked directly, with its original payload and key: the ledger answers, flags or not.
    const viaSteps = await replay(orderId, '--via', 'steps');
    expect(viaSteps.result.code, viaSteps.result.stderr + viaSteps.result.stdout).toBe(0);
    expect(viaSteps.doc).toMatchObject({ newSideEffects: 0, verdict: 'idempotent' });
    expect(await snapshot(orderId)).toEqual(settled);
  });

  test('a replay of a COMPLETED order ends in AlreadySettled without invoking any step', async () => {
    const orderId = await placeAndSettle([]);
    const input = JSON.stringify({
      orderId,
      customerId: 'c-edges',
      items: ITEMS,
      amount: 2450,
      currency: 'EUR',
    });
    const { StartExecutionCommand, GetExecutionHistoryCommand } = await import('@aws-sdk/client-sfn');
    const started = await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: target.outputs.StateMachineArn,
        name: `${orderId}-again`,
        input,
      }),
    );
    const ended = await waitForExecutionToEnd(sfn, started.executionArn ?? '', { timeoutMs: 60_000 });
    expect(ended.status).toBe('SUCCEEDED');
    const { events = [] } = await sfn.send(
      new GetExecutionHistoryCommand({ executionArn: started.executionArn, maxResults: 1000 }),
    );
    const entered = events.flatMap((e) =>
      e.stateEnteredEventDetails ? [e.stateEnteredEventDetails.name] : [],
    );
    expect(entered).toEqual(['CheckOrder', 'RouteOrder', 'AlreadySettled']);
    expect(
      events.some(
        (e) => e.type === 'TaskScheduled' && e.taskScheduledEventDetails?.resourceType === 'lambda',
      ),
    ).toBe(false);
  });
});

describe('unknown outcomes', () => {
  test.each(['payment', 'inventory', 'shipping'])(
    '%s:die-after-commit: the process exits after the commit; the retry answers from the ledger; one side effect',
    async (step) => {
      const orderId = await placeAndSettle([`${step}:die-after-commit`]);
      expect(await snapshot(orderId)).toEqual({
        status: 'COMPLETED',
        charges: 1,
        refunds: 0,
        reservations: 1,
        releases: 0,
        shipments: 1,
      });
      const { GetExecutionHistoryCommand } = await import('@aws-sdk/client-sfn');
      const { events = [] } = await sfn.send(
        new GetExecutionHistoryCommand({ executionArn: executionArnFor(target, orderId), maxResults: 1000 }),
      );
      const errors = events.flatMap((e) =>
        e.type === 'TaskFailed' ? [e.taskFailedEventDetails?.error] : [],
      );
      expect(errors[0]).toBe('Runtime.ExitError');
    },
  );
});

describe('POST /orders with an Idempotency-Key, end to end', () => {
  test('a crash after the commit, before the answer was saved: the retry answers the same order, no second one', async () => {
    const customerId = `c-crash-${ulid()}`;
    const key = `key-${ulid()}`;
    const body = { customerId, items: ITEMS, currency: 'EUR' };
    const first = await callApi(target, 'POST', '/orders', { body, headers: { 'Idempotency-Key': key } });
    expect(first.status, first.text).toBe(202);
    const orderId = (first.body as { orderId: string }).orderId;
    // The crash: Powertools deletes its record when the handler throws, so the client's retry finds none.
    expect(await expireIdempotencyRecords()).toBeGreaterThan(0);
    const retried = await callApi(target, 'POST', '/orders', { body, headers: { 'Idempotency-Key': key } });
    expect(retried.status, retried.text).toBe(202);
    expect((retried.body as { orderId: string }).orderId).toBe(orderId);
    const orders = await ddb.send(
      new ScanCommand({
        TableName: target.outputs.OrdersTableName,
        FilterExpression: 'customerId = :c AND sk = :order',
        ExpressionAttributeValues: { ':c': { S: customerId }, ':order': { S: 'ORDER' } },
        ConsistentRead: true,
      }),
    );
    expect(orders.Items?.map((i) => i.pk?.S)).toEqual([`ORDER#${orderId}`]);
  });

  test('the same order id with the same body answers that order; another body is 409 naming what differs', async () => {
    const orderId = ulid();
    const body = { orderId, customerId: 'c-same', items: ITEMS, currency: 'EUR' };
    const first = await callApi(target, 'POST', '/orders', { body });
    expect(first.status, first.text).toBe(202);
    const again = await callApi(target, 'POST', '/orders', { body });
    expect(again.status, again.text).toBe(202);
    expect(again.body).toMatchObject({ orderId });
    const other = await callApi(target, 'POST', '/orders', {
      body: { ...body, items: [{ sku: 'espresso-beans', qty: 3 }] },
    });
    expect(other.status, other.text).toBe(409);
    expect(other.text).toMatch(/items/);
  });
});

describe('outbox to the end', () => {
  test('the publisher never delivers the record: the scheduled sweeper starts the saga and the order settles', async () => {
    const flags = target.outputs.FailureFlagsTableName;
    await writeFailureFlag(ddb, flags, GLOBAL_SCOPE, parseFailSpec('publisher:error'));
    try {
      const orderId = ulid();
      const placed = await callApi(target, 'POST', '/orders', {
        body: { orderId, customerId: 'c-sweeper', items: ITEMS, currency: 'EUR' },
      });
      expect(placed.status, placed.text).toBe(202);
      const arn = executionArnFor(target, orderId);
      // The sweeper runs every minute (×0.1 here) and takes orders PENDING for more than 60 s (not scaled).
      await waitForExecutionToExist(sfn, arn, { timeoutMs: 150_000 });
      await waitForExecutionToEnd(sfn, arn, { timeoutMs: 60_000 });
      expect(await snapshot(orderId)).toMatchObject({ status: 'COMPLETED', charges: 1, shipments: 1 });
      const logs = await readOrderLogs(target, orderId);
      expect(logs.map((l) => l.message)).toContain('Sweeper started the saga of a stale PENDING order');
    } finally {
      await deleteFailureFlag(ddb, flags, GLOBAL_SCOPE, 'publisher');
    }
  }, 240_000);
});
