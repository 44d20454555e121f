/**
 * Concurrency on the shared local cloud: 50 concurrent replays of one completed order add no side effect; 50
 * concurrent orders for the last units of one SKU sell exactly the stock and refund every loser; an
 * `Idempotency-Key` makes POST /orders itself idempotent.
 */
import { DynamoDBClient, GetItemCommand, QueryCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { type HistoryEvent, SFNClient } from '@aws-sdk/client-sfn';
import { ulid } from 'ulid';
import { beforeAll, describe, expect, inject, test } from 'vitest';
import {
  executionArnFor,
  listAllExecutions,
  readHistory,
  waitForExecutionToEnd,
  waitForExecutionToExist,
} from '../cli/target/executions.ts';
import { type ApiResponse, callApi } from '../cli/target/http.ts';
import { readStock } from '../cli/target/invariants.ts';
import { readLedger } from '../cli/target/ledger.ts';
import { type ResolvedTarget, resolveTarget } from '../cli/target/target.ts';
import { findCatalogItem } from '../services/shared/catalog.ts';
import { parseFailSpec, writeFailureFlag } from '../services/shared/failure-flags.ts';
import { runCli } from './support/cli.ts';

/** The SKU with 3 units at deploy; no other scenario file orders it. */
const SCARCE_SKU = 'milk-frother';
const BUYERS = 50;
const REPLAYS = 50;
/** POSTs in flight at once while the buyers place their orders (their sagas all overlap). */
const BUYERS_PLACING_AT_ONCE = 5;

/**
 * Orders run (unasserted) first so that every function has warm sandboxes: a wave of cold starts under the 1 s
 * (scaled) Lambda timeout makes tasks time out for reasons no test asked for.
 */
const WARM_UP_ORDERS = 10;

let target: ResolvedTarget;
let ddb: DynamoDBClient;
let sfn: SFNClient;

type Item = { sku: string; qty: number };

/**
 * Sets the flags (order-scoped) on a fresh order id and places the order through the signed API, retrying a 5xx as
 * a client would: on a loaded machine a cold order-function sandbox can outlive its 1 s (scaled) timeout.
 */
async function place(items: readonly Item[], flags: readonly string[] = []) {
  const orderId = ulid();
  await Promise.all(
    flags.map((spec) =>
      writeFailureFlag(ddb, target.outputs.FailureFlagsTableName, { orderId }, parseFailSpec(spec)),
    ),
  );
  for (let attempt = 1; ; attempt++) {
    const placed = await callApi(target, 'POST', '/orders', {
      body: { orderId, customerId: 'c-concurrency', items, currency: 'EUR' },
    });
    if (placed.status === 202) break;
    // The same order id again: if the first try did commit, the retry finds the order there.
    if (placed.status === 409 && attempt > 1) break;
    if (placed.status < 500 || attempt === 3) {
      throw new Error(`POST /orders answered ${placed.status} (attempt ${attempt}): ${placed.text}`);
    }
  }
  return { orderId, executionArn: executionArnFor(target, orderId) };
}

/** Waits until the outbox has started the order's saga and the saga has ended. */
async function finish(order: { orderId: string; executionArn: string }) {
  await waitForExecutionToExist(sfn, order.executionArn, { timeoutMs: 60_000 });
  const execution = await waitForExecutionToEnd(sfn, order.executionArn, {
    timeoutMs: 150_000,
    intervalMs: 300,
  });
  return { ...order, execution };
}

/** Places `count` orders, at most `parallel` POSTs at a time, and waits for all their sagas. */
async function placeMany(count: number, items: readonly Item[], flags: readonly string[], parallel: number) {
  const sagas: ReturnType<typeof finish>[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < count) {
        next++;
        const placing = place(items, flags);
        sagas.push(placing.then(finish));
        await placing.catch(() => undefined);
      }
    }),
  );
  return Promise.all(sagas);
}

async function orderRow(orderId: string) {
  const { Item } = await ddb.send(
    new GetItemCommand({
      TableName: target.outputs.OrdersTableName,
      Key: { pk: { S: `ORDER#${orderId}` }, sk: { S: 'ORDER' } },
      ConsistentRead: true,
    }),
  );
  return Item;
}

async function rowsOf(table: string, orderId: string) {
  const { Items = [] } = await ddb.send(
    new QueryCommand({
      TableName: table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': { S: `ORDER#${orderId}` } },
      ConsistentRead: true,
    }),
  );
  return Items;
}

async function history(executionArn: string): Promise<HistoryEvent[]> {
  return await readHistory(sfn, executionArn);
}

/** Names of every execution of the state machine. */
async function executionNames(): Promise<string[]> {
  return (await listAllExecutions(sfn, target.outputs.StateMachineArn)).map((e) => e.name ?? '');
}

async function stockOf(sku: string): Promise<number> {
  return (await readStock(target, ddb))[sku] ?? Number.NaN;
}

beforeAll(async () => {
  target = await resolveTarget(inject('sagaProjectDir'), {});
  ddb = new DynamoDBClient(target.clientConfig());
  sfn = new SFNClient(target.clientConfig());
  // shipping:error runs all five task functions (and gives the stock back) at this concurrency.
  await placeMany(
    WARM_UP_ORDERS,
    [{ sku: 'espresso-beans', qty: 1 }],
    ['shipping:error'],
    BUYERS_PLACING_AT_ONCE,
  ).catch(() => undefined);
}, 170_000);

describe('50 concurrent replays of one completed order', () => {
  test('`saga replay --times 50 --concurrency 50` adds no side effect', async () => {
    const items = [
      { sku: 'espresso-beans', qty: 1 },
      { sku: 'ceramic-mug', qty: 1 },
    ];
    const { orderId, execution } = await finish(await place(items));
    expect(execution.status).toBe('SUCCEEDED');
    const ledgerBefore = await readLedger(target, orderId, ddb);
    expect(ledgerBefore).toEqual({ charges: 1, refunds: 0, reservations: 2, releases: 0, shipments: 1 });
    const stockBefore = await readStock(target, ddb);
    const paymentsBefore = await rowsOf(target.outputs.PaymentsTableName, orderId);

    const replay = await runCli(
      ['replay', orderId, '--times', String(REPLAYS), '--concurrency', String(REPLAYS), '--json'],
      { cwd: inject('sagaProjectDir') },
    );

    expect(replay.code, replay.stderr).toBe(0);
    const result = JSON.parse(replay.stdout.trim().split('\n').at(-1) ?? '{}') as {
      before: unknown;
      after: unknown;
      newSideEffects: number;
      verdict: string;
      idempotencyHits: number;
      answeredBy: { guard: number; idempotencyStore: number; ledger: number; nameDedupe: number };
      executions: { executionArn: string; status: string }[];
    };
    expect(result).toMatchObject({
      before: ledgerBefore,
      after: ledgerBefore,
      newSideEffects: 0,
      verdict: 'idempotent',
    });
    expect(result.executions).toHaveLength(REPLAYS);
    expect(result.executions.map((e) => e.status)).toEqual(Array(REPLAYS).fill('SUCCEEDED'));
    // The order is settled: every replay stopped at the saga's guard (CheckOrder → AlreadySettled), no step ran.
    expect(result.answeredBy.guard).toBe(REPLAYS);
    expect(result.idempotencyHits).toBe(0);

    // Independently of the command: the tables and Step Functions.
    expect(await readLedger(target, orderId, ddb)).toEqual(ledgerBefore);
    expect(await rowsOf(target.outputs.PaymentsTableName, orderId)).toEqual(paymentsBefore);
    expect(await readStock(target, ddb)).toEqual(stockBefore);
    expect((await orderRow(orderId))?.status?.S).toBe('COMPLETED');
    const names = (await executionNames()).filter((n) => n.startsWith(orderId));
    expect(names).toHaveLength(REPLAYS + 1);
    expect(new Set(names).size).toBe(REPLAYS + 1);

    // Below the guard: each forward step's function invoked directly, 10 × 3 calls at once with the original
    // payloads and keys — the idempotency store (or the step's own ledger) answers every one.
    const steps = await runCli(
      ['replay', orderId, '--via', 'steps', '--times', '10', '--concurrency', '10', '--json'],
      {
        cwd: inject('sagaProjectDir'),
      },
    );
    expect(steps.code, steps.stderr).toBe(0);
    const direct = JSON.parse(steps.stdout.trim().split('\n').at(-1) ?? '{}') as typeof result;
    expect(direct).toMatchObject({ newSideEffects: 0, verdict: 'idempotent' });
    expect(direct.answeredBy.idempotencyStore + direct.answeredBy.ledger).toBeGreaterThanOrEqual(30);
    expect(await readLedger(target, orderId, ddb)).toEqual(ledgerBefore);
    expect(await readStock(target, ddb)).toEqual(stockBefore);
  });
});

describe(`${BUYERS} concurrent orders for the last units of ${SCARCE_SKU}`, () => {
  test('exactly the stock is sold, every loser is refunded, stock never goes below zero', async () => {
    const stock = await stockOf(SCARCE_SKU);
    // A race needs something to race for (3 units at deploy; only this file orders the SKU).
    expect(stock).toBeGreaterThan(0);
    const winners = Math.min(stock, BUYERS);
    const price = findCatalogItem(SCARCE_SKU)?.priceCents;

    let lowest = stock;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        lowest = Math.min(lowest, await stockOf(SCARCE_SKU));
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const orders = await placeMany(BUYERS, [{ sku: SCARCE_SKU, qty: 1 }], [], BUYERS_PLACING_AT_ONCE).finally(
      () => {
        sampling = false;
      },
    );
    await sampler;

    const outcomes = await Promise.all(
      orders.map(async ({ orderId, executionArn, execution }) => {
        const [row, ledger, payments, events] = await Promise.all([
          orderRow(orderId),
          readLedger(target, orderId, ddb),
          rowsOf(target.outputs.PaymentsTableName, orderId),
          history(executionArn),
        ]);
        let state = '';
        const failures: string[] = [];
        for (const e of events) {
          if (e.type === 'TaskStateEntered') state = e.stateEnteredEventDetails?.name ?? '?';
          if (e.type === 'TaskFailed') failures.push(`${state}:${e.taskFailedEventDetails?.error}`);
        }
        const cents = (sk: string) =>
          payments
            .filter((p) => p.sk?.S === sk)
            .reduce((sum, p) => sum + Number(p.amount?.N ?? Number.NaN), 0);
        return {
          orderId,
          execution: execution.status,
          status: row?.status?.S,
          ledger,
          net: cents('CHARGE') - cents('REFUND'),
          charged: cents('CHARGE'),
          failures,
          entered: events.flatMap((e) =>
            e.type === 'TaskStateEntered' ? [e.stateEnteredEventDetails?.name ?? '?'] : [],
          ),
        };
      }),
    );

    const completed = outcomes.filter((o) => o.status === 'COMPLETED');
    const cancelled = outcomes.filter((o) => o.status === 'CANCELLED');
    expect(completed).toHaveLength(winners);
    expect(cancelled).toHaveLength(BUYERS - winners);
    for (const o of completed) {
      expect(o.execution, o.orderId).toBe('SUCCEEDED');
      expect(o.ledger, o.orderId).toEqual({
        charges: 1,
        refunds: 0,
        reservations: 1,
        releases: 0,
        shipments: 1,
      });
      expect(o.net, o.orderId).toBe(price);
    }
    for (const o of cancelled) {
      expect(o.execution, o.orderId).toBe('FAILED');
      // Charged, then refunded in full after the reservation found no stock.
      expect(o.ledger, o.orderId).toEqual({
        charges: 1,
        refunds: 1,
        reservations: 0,
        releases: 0,
        shipments: 0,
      });
      expect(o.charged, o.orderId).toBe(price);
      expect(o.net, o.orderId).toBe(0);
      expect(o.failures, o.orderId).toContain('ReserveInventory:OutOfStock');
      expect(o.entered, o.orderId).toEqual([
        'CheckOrder',
        'ChargePayment',
        'ReserveInventory',
        'CancelOrder',
        'ReleaseInventory',
        'RefundPayment',
        'MarkOrderCancelled',
      ]);
    }
    expect(await stockOf(SCARCE_SKU)).toBe(stock - winners);
    expect(await stockOf(SCARCE_SKU)).toBe(0);
    expect(lowest).toBeGreaterThanOrEqual(0);
  });
});

describe('POST /orders with an Idempotency-Key', () => {
  test('identical POSTs give one order, one execution and the same response; another body gives 422', async () => {
    const customerId = `c-idem-${ulid()}`;
    const key = `idem-${ulid()}`;
    const body = { customerId, items: [{ sku: 'espresso-beans', qty: 1 }], currency: 'EUR' };
    // A POST that finds the first one still in progress is told to retry (409, retry-after): a client does so.
    const post = async (payload: unknown): Promise<ApiResponse> => {
      for (let attempt = 0; ; attempt++) {
        const response = await callApi(target, 'POST', '/orders', {
          body: payload,
          headers: { 'Idempotency-Key': key },
        });
        if (response.status !== 409 || attempt >= 20) return response;
        await new Promise((r) => setTimeout(r, 500));
      }
    };

    const [first, second] = await Promise.all([post(body), post(body)]);
    const third = await post(body);

    expect(first.status, first.text).toBe(202);
    expect(second.status, second.text).toBe(202);
    expect(third.status, third.text).toBe(202);
    expect(second.body).toEqual(first.body);
    expect(third.body).toEqual(first.body);
    const { orderId } = first.body as { orderId: string };
    expect(orderId).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);

    const { Items = [] } = await ddb.send(
      new ScanCommand({
        TableName: target.outputs.OrdersTableName,
        FilterExpression: 'customerId = :c AND sk = :order',
        ExpressionAttributeValues: { ':c': { S: customerId }, ':order': { S: 'ORDER' } },
        ConsistentRead: true,
      }),
    );
    expect(Items.map((i) => i.pk?.S)).toEqual([`ORDER#${orderId}`]);
    const executionArn = executionArnFor(target, orderId);
    await waitForExecutionToExist(sfn, executionArn, { timeoutMs: 60_000 });
    const execution = await waitForExecutionToEnd(sfn, executionArn, { timeoutMs: 150_000 });
    expect(execution.status).toBe('SUCCEEDED');
    expect((await executionNames()).filter((n) => n.startsWith(orderId))).toEqual([orderId]);
    expect(await readLedger(target, orderId, ddb)).toEqual({
      charges: 1,
      refunds: 0,
      reservations: 1,
      releases: 0,
      shipments: 1,
    });

    const other = await post({ ...body, items: [{ sku: 'espresso-beans', qty: 2 }] });

    expect(other.status, other.text).toBe(422);
    expect((other.body as { message?: string }).message).toMatch(/Idempotency-Key/);
    const after = await ddb.send(
      new ScanCommand({
        TableName: target.outputs.OrdersTableName,
        FilterExpression: 'customerId = :c AND sk = :order',
        ExpressionAttributeValues: { ':c': { S: customerId }, ':order': { S: 'ORDER' } },
        ConsistentRead: true,
      }),
    );
    expect(after.Items?.map((i) => i.pk?.S)).toEqual([`ORDER#${orderId}`]);
  });
});
