import { QueryCommand } from '@aws-sdk/client-dynamodb';
import { PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { ulid } from 'ulid';
import { beforeAll, describe, expect, test, vi } from 'vitest';
import { testDynamoDbClient, useTestAwsEnv } from '../../test/support/dynamodb.ts';
import { parseFailSpec, writeFailureFlag } from '../shared/failure-flags.ts';
import {
  createServiceTables,
  lambdaContext,
  placeTestOrder,
  type ServiceTables,
  setServiceEnv,
} from '../shared/testing.ts';
import {
  availableStock,
  type InventoryStore,
  mergeLines,
  type ReleaseResult,
  type ReserveResult,
} from './inventory.ts';

type Action<R> = (event: unknown, context: Context) => Promise<R>;
type Line = { sku: string; qty: number };

const client = testDynamoDbClient();
let tables: ServiceTables;
const pending = (): Promise<string> => placeTestOrder(client, tables.ORDERS_TABLE);
let store: InventoryStore;
let reserve: Action<ReserveResult>;
let release: Action<ReleaseResult>;

beforeAll(async () => {
  useTestAwsEnv();
  tables = await createServiceTables(client);
  setServiceEnv(tables);
  ({ reserve, release } = await import('./handler.ts'));
  const { documentClient } = await import('../shared/clients.ts');
  store = { client: documentClient, table: tables.INVENTORY_TABLE, ordersTable: tables.ORDERS_TABLE };
});

/** A fresh SKU with `available` units, so tests do not share stock. */
async function stockedSku(available: number): Promise<string> {
  const sku = `sku-${ulid().toLowerCase()}`;
  await store.client.send(
    new PutCommand({ TableName: store.table, Item: { pk: `SKU#${sku}`, sk: 'STOCK', available } }),
  );
  return sku;
}

const event = (
  orderId: string,
  items: Line[],
  action: 'reserve' | 'release',
  key = `${orderId}#${action}`,
) => ({
  orderId,
  items,
  idempotency_key: key,
});

async function orderRows(orderId: string, prefix: 'RESERVATION#' | 'RELEASE#') {
  const { Items } = await client.send(
    new QueryCommand({
      TableName: tables.INVENTORY_TABLE,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
      ExpressionAttributeValues: { ':pk': { S: `ORDER#${orderId}` }, ':p': { S: prefix } },
    }),
  );
  return Items ?? [];
}

const flag = (orderId: string, spec: string) =>
  writeFailureFlag(client, tables.FAILURE_FLAGS_TABLE, { orderId }, parseFailSpec(spec));

describe('reserve', () => {
  test('takes the stock once: the same key twice gives the same reservations', async () => {
    const [a, b] = [await stockedSku(10), await stockedSku(5)];
    const orderId = await pending();
    const items = [
      { sku: a, qty: 3 },
      { sku: b, qty: 5 },
    ];
    const first = await reserve(event(orderId, items, 'reserve'), lambdaContext());
    const second = await reserve(event(orderId, items, 'reserve'), lambdaContext());
    expect(first).toEqual({ reservations: items });
    expect(second).toEqual(first);
    expect(await availableStock(store, a)).toBe(7);
    expect(await availableStock(store, b)).toBe(0);
    expect(await orderRows(orderId, 'RESERVATION#')).toHaveLength(2);
  });

  test('25 concurrent calls with one key: the stock is taken once', async () => {
    const sku = await stockedSku(100);
    const orderId = await pending();
    const send = vi.spyOn(store.client, 'send');
    const outcomes = await Promise.allSettled(
      Array.from({ length: 25 }, () =>
        reserve(event(orderId, [{ sku, qty: 4 }], 'reserve'), lambdaContext()),
      ),
    );
    const transactions = send.mock.calls.filter(([command]) => command instanceof TransactWriteCommand);
    send.mockRestore();
    for (const outcome of outcomes) {
      if (outcome.status === 'fulfilled') expect(outcome.value).toEqual({ reservations: [{ sku, qty: 4 }] });
      else expect(outcome.reason).toMatchObject({ name: 'IdempotencyAlreadyInProgressError' });
    }
    expect(transactions).toHaveLength(1);
    expect(await availableStock(store, sku)).toBe(96);
  });

  test('the same key with changed items is refused by Powertools payload validation', async () => {
    const sku = await stockedSku(10);
    const orderId = await pending();
    await reserve(event(orderId, [{ sku, qty: 1 }], 'reserve'), lambdaContext());
    await expect(
      reserve(event(orderId, [{ sku, qty: 2 }], 'reserve'), lambdaContext()),
    ).rejects.toMatchObject({
      name: 'IdempotencyValidationError',
    });
    expect(await availableStock(store, sku)).toBe(9);
  });

  test('crash after commit, then retry: the stock is taken once', async () => {
    const sku = await stockedSku(10);
    const orderId = await pending();
    await flag(orderId, 'inventory:crash-after-commit');
    await expect(
      reserve(event(orderId, [{ sku, qty: 2 }], 'reserve'), lambdaContext()),
    ).rejects.toMatchObject({
      name: 'TransientError',
      message: expect.stringContaining('crashed after commit'),
    });
    expect(await availableStock(store, sku)).toBe(8);
    await expect(reserve(event(orderId, [{ sku, qty: 2 }], 'reserve'), lambdaContext())).resolves.toEqual({
      reservations: [{ sku, qty: 2 }],
    });
    expect(await availableStock(store, sku)).toBe(8);
  });

  test('crash after commit, stock sold out meanwhile, retry: the reservations, not OutOfStock', async () => {
    const sku = await stockedSku(2);
    const orderId = await pending();
    await flag(orderId, 'inventory:crash-after-commit');
    await expect(
      reserve(event(orderId, [{ sku, qty: 2 }], 'reserve'), lambdaContext()),
    ).rejects.toMatchObject({ name: 'TransientError' });
    expect(await availableStock(store, sku)).toBe(0);
    await expect(reserve(event(orderId, [{ sku, qty: 2 }], 'reserve'), lambdaContext())).resolves.toEqual({
      reservations: [{ sku, qty: 2 }],
    });
    expect(await availableStock(store, sku)).toBe(0);
    expect(await orderRows(orderId, 'RESERVATION#')).toHaveLength(1);
  });

  test('short of one SKU: OutOfStock naming it, and no line is reserved', async () => {
    const [plenty, scarce] = [await stockedSku(50), await stockedSku(3)];
    const orderId = await pending();
    const items = [
      { sku: plenty, qty: 1 },
      { sku: scarce, qty: 5 },
    ];
    await expect(reserve(event(orderId, items, 'reserve'), lambdaContext())).rejects.toMatchObject({
      name: 'OutOfStock',
      sku: scarce,
      available: 3,
      requested: 5,
      message: `Out of stock: sku '${scarce}' has 3 available, 5 requested`,
    });
    expect(await availableStock(store, plenty)).toBe(50);
    expect(await availableStock(store, scarce)).toBe(3);
    expect(await orderRows(orderId, 'RESERVATION#')).toHaveLength(0);
  });

  test('a SKU without stock is out of stock with 0 available', async () => {
    await expect(
      reserve(event(await pending(), [{ sku: 'never-stocked', qty: 1 }], 'reserve'), lambdaContext()),
    ).rejects.toMatchObject({ name: 'OutOfStock', sku: 'never-stocked', available: 0, requested: 1 });
  });

  test('concurrent orders racing for the last units: stock never goes negative', async () => {
    const sku = await stockedSku(3);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 8 }, async () => {
        const orderId = await pending();
        return reserve(event(orderId, [{ sku, qty: 1 }], 'reserve'), lambdaContext());
      }),
    );
    const won = outcomes.filter((outcome) => outcome.status === 'fulfilled');
    const lost = outcomes.filter((outcome) => outcome.status === 'rejected');
    expect(won).toHaveLength(3);
    for (const outcome of lost) expect(outcome.reason).toMatchObject({ name: 'OutOfStock', sku });
    expect(await availableStock(store, sku)).toBe(0);
  });

  test('error mode: OutOfStock without touching stock; transient: TransientError then success', async () => {
    const sku = await stockedSku(5);
    const declined = await pending();
    await flag(declined, 'inventory:error');
    await expect(
      reserve(event(declined, [{ sku, qty: 1 }], 'reserve'), lambdaContext()),
    ).rejects.toMatchObject({
      name: 'OutOfStock',
    });
    const flaky = await pending();
    await flag(flaky, 'inventory:transient');
    await expect(reserve(event(flaky, [{ sku, qty: 1 }], 'reserve'), lambdaContext())).rejects.toMatchObject({
      name: 'TransientError',
    });
    expect(await availableStock(store, sku)).toBe(5);
    await reserve(event(flaky, [{ sku, qty: 1 }], 'reserve'), lambdaContext());
    expect(await availableStock(store, sku)).toBe(4);
  });

  test('lines with the same SKU are summed', () => {
    expect(
      mergeLines([
        { sku: 'a', qty: 1 },
        { sku: 'b', qty: 2 },
        { sku: 'a', qty: 3 },
      ]),
    ).toEqual([
      { sku: 'a', qty: 4 },
      { sku: 'b', qty: 2 },
    ]);
  });
});

describe('release', () => {
  test('gives the stock back once, also under a new key (a replayed saga)', async () => {
    const [a, b] = [await stockedSku(10), await stockedSku(10)];
    const orderId = await pending();
    const items = [
      { sku: a, qty: 2 },
      { sku: b, qty: 3 },
    ];
    await reserve(event(orderId, items, 'reserve'), lambdaContext());
    expect(await release(event(orderId, items, 'release'), lambdaContext())).toEqual({ released: items });
    expect(
      await release(event(orderId, items, 'release', `${orderId}#release#replay`), lambdaContext()),
    ).toEqual({
      released: items,
    });
    expect(await availableStock(store, a)).toBe(10);
    expect(await availableStock(store, b)).toBe(10);
    expect(await orderRows(orderId, 'RELEASE#')).toHaveLength(2);
  });

  test('nothing reserved: nothing released', async () => {
    const sku = await stockedSku(4);
    await expect(
      release(event(await pending(), [{ sku, qty: 1 }], 'release'), lambdaContext()),
    ).resolves.toEqual({
      released: [],
    });
    expect(await availableStock(store, sku)).toBe(4);
  });

  test('crash after commit, then retry: the stock goes back once', async () => {
    const sku = await stockedSku(10);
    const orderId = await pending();
    await reserve(event(orderId, [{ sku, qty: 6 }], 'reserve'), lambdaContext());
    await flag(orderId, 'release:crash-after-commit');
    await expect(
      release(event(orderId, [{ sku, qty: 6 }], 'release'), lambdaContext()),
    ).rejects.toMatchObject({
      name: 'TransientError',
    });
    expect(await availableStock(store, sku)).toBe(10);
    await release(event(orderId, [{ sku, qty: 6 }], 'release'), lambdaContext());
    expect(await availableStock(store, sku)).toBe(10);
  });

  test('25 concurrent calls with one key: the stock goes back once', async () => {
    const sku = await stockedSku(10);
    const orderId = await pending();
    await reserve(event(orderId, [{ sku, qty: 7 }], 'reserve'), lambdaContext());
    const outcomes = await Promise.allSettled(
      Array.from({ length: 25 }, () =>
        release(event(orderId, [{ sku, qty: 7 }], 'release'), lambdaContext()),
      ),
    );
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected')
        expect(outcome.reason).toMatchObject({ name: 'IdempotencyAlreadyInProgressError' });
    }
    expect(await availableStock(store, sku)).toBe(10);
  });

  test('error mode: ReleaseFailed and the stock stays reserved', async () => {
    const sku = await stockedSku(10);
    const orderId = await pending();
    await reserve(event(orderId, [{ sku, qty: 1 }], 'reserve'), lambdaContext());
    await flag(orderId, 'release:error');
    await expect(
      release(event(orderId, [{ sku, qty: 1 }], 'release'), lambdaContext()),
    ).rejects.toMatchObject({
      name: 'ReleaseFailed',
    });
    expect(await availableStock(store, sku)).toBe(9);
  });
});

describe('the order guard and the ledger', () => {
  test('an order that is no longer PENDING reserves nothing: OrderNotPending, stock untouched', async () => {
    const sku = await stockedSku(5);
    const orderId = await placeTestOrder(client, tables.ORDERS_TABLE, { status: 'CANCELLING' });
    await expect(
      reserve(event(orderId, [{ sku, qty: 2 }], 'reserve'), lambdaContext()),
    ).rejects.toMatchObject({
      name: 'OrderNotPending',
    });
    expect(await availableStock(store, sku)).toBe(5);
    expect(await orderRows(orderId, 'RESERVATION#')).toHaveLength(0);
  });

  test('released reservations are not live: a later reserve is OrderNotPending and takes nothing', async () => {
    const sku = await stockedSku(5);
    const orderId = await pending();
    await reserve(event(orderId, [{ sku, qty: 2 }], 'reserve'), lambdaContext());
    await release(event(orderId, [{ sku, qty: 2 }], 'release'), lambdaContext());
    await expect(
      reserve(event(orderId, [{ sku, qty: 2 }], 'reserve', `${orderId}#reserve#again`), lambdaContext()),
    ).rejects.toMatchObject({ name: 'OrderNotPending' });
    expect(await availableStock(store, sku)).toBe(5);
  });

  test('answers from its ledger without consulting flags', async () => {
    const sku = await stockedSku(5);
    const orderId = await pending();
    const first = await reserve(event(orderId, [{ sku, qty: 1 }], 'reserve'), lambdaContext());
    await writeFailureFlag(client, tables.FAILURE_FLAGS_TABLE, { orderId }, parseFailSpec('inventory:error'));
    await writeFailureFlag(client, tables.FAILURE_FLAGS_TABLE, { orderId }, parseFailSpec('release:error'));
    await expect(
      reserve(event(orderId, [{ sku, qty: 1 }], 'reserve', `${orderId}#reserve#2`), lambdaContext()),
    ).resolves.toEqual(first);
    // Nothing reserved on another order: release has nothing to undo and answers despite its flag.
    const other = await pending();
    await writeFailureFlag(
      client,
      tables.FAILURE_FLAGS_TABLE,
      { orderId: other },
      parseFailSpec('release:error'),
    );
    await expect(release(event(other, [{ sku, qty: 1 }], 'release'), lambdaContext())).resolves.toEqual({
      released: [],
    });
  });
});
