/**
 * Inventory domain: reserve an order's stock in one transaction (never below zero, only while the order is
 * `PENDING`), release it once. Both answer from the order's own rows first, without consulting failure flags.
 * Rows: `SKU#<sku>`/`STOCK` {available}; `ORDER#<id>`/`RESERVATION#<sku>` {qty, at} and `RELEASE#<sku>`.
 */
import {
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { cancellationReasons, rethrowTransient } from '../shared/dynamo.ts';
import { OrderNotPending, OutOfStock } from '../shared/errors.ts';
import { type FailureHooks, NO_FAILURES } from '../shared/hooks.ts';
import { type OrderGuard, orderNotPending, orderPendingCheck } from '../shared/order-guard.ts';
import * as z from '../shared/zod.ts';

/** The Inventory table, its client, and the Orders table that guards a reservation. */
export interface InventoryStore extends OrderGuard {
  readonly client: DynamoDBDocumentClient;
  readonly table: string;
}

const LineSchema = z.object({ sku: z.string().check(z.minLength(1)), qty: z.int().check(z.minimum(1)) });

/** The reserve and release task payload: `{orderId, items: [{sku, qty}], idempotency_key}`. */
export const InventoryInputSchema = z.object({
  orderId: z.string().check(z.minLength(1)),
  // Reserving takes two transaction items per line plus the order guard; DynamoDB allows 100 per transaction.
  items: z.array(LineSchema).check(z.minLength(1), z.maxLength(49)),
  idempotency_key: z.string().check(z.minLength(1)),
});
/** A reserve or release task payload. */
export type InventoryInput = z.output<typeof InventoryInputSchema>;

/** A SKU and a quantity. */
export interface StockLine {
  readonly sku: string;
  readonly qty: number;
}

/** What `reserve` returns. */
export interface ReserveResult {
  readonly reservations: StockLine[];
}

/** What `release` returns: every reservation of the order that is now released. */
export interface ReleaseResult {
  readonly released: StockLine[];
}

/** Lines with the same SKU summed (a transaction may touch an item only once), in first-seen order. */
export function mergeLines(items: readonly StockLine[]): StockLine[] {
  const totals = new Map<string, number>();
  for (const { sku, qty } of items) totals.set(sku, (totals.get(sku) ?? 0) + qty);
  return [...totals].map(([sku, qty]) => ({ sku, qty }));
}

/**
 * The reservation transaction: per line, take `qty` from the SKU's stock only if that many are available,
 * and record the reservation only if the order has none for that SKU.
 */
export function buildReserveTransaction(
  table: string,
  orderId: string,
  lines: readonly StockLine[],
  at: string,
): TransactWriteCommandInput {
  return {
    TransactItems: lines.flatMap(({ sku, qty }) => [
      {
        Update: {
          TableName: table,
          Key: { pk: `SKU#${sku}`, sk: 'STOCK' },
          UpdateExpression: 'SET available = available - :qty',
          ConditionExpression: 'available >= :qty',
          ExpressionAttributeValues: { ':qty': qty },
        },
      },
      {
        Put: {
          TableName: table,
          Item: { pk: `ORDER#${orderId}`, sk: `RESERVATION#${sku}`, orderId, sku, qty, at },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
    ]),
  };
}

/** The order's rows whose sk starts with a prefix (`RESERVATION#`, `RELEASE#`; `''`: all of them). */
async function orderRows(
  store: InventoryStore,
  orderId: string,
  prefix: string,
): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await store.client.send(
      new QueryCommand({
        TableName: store.table,
        KeyConditionExpression: prefix === '' ? 'pk = :pk' : 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: {
          ':pk': `ORDER#${orderId}`,
          ...(prefix === '' ? {} : { ':prefix': prefix }),
        },
        ConsistentRead: true,
        ExclusiveStartKey,
      }),
    );
    rows.push(...(page.Items ?? []));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return rows;
}

const lineOf = (row: Record<string, unknown>): StockLine => ({ sku: String(row.sku), qty: Number(row.qty) });

/** Units of a SKU available now (0 when the SKU has no stock row). */
export async function availableStock(store: InventoryStore, sku: string): Promise<number> {
  const { Item } = await store.client.send(
    new GetCommand({ TableName: store.table, Key: { pk: `SKU#${sku}`, sk: 'STOCK' }, ConsistentRead: true }),
  );
  return Item ? Number(Item.available) : 0;
}

/** The order's reservations and released SKUs (one strongly consistent Query of its rows). */
async function ledger(
  store: InventoryStore,
  orderId: string,
): Promise<{ reservations: StockLine[]; released: Set<string> }> {
  const rows = await orderRows(store, orderId, '');
  return {
    reservations: rows.filter((row) => String(row.sk).startsWith('RESERVATION#')).map(lineOf),
    released: new Set(
      rows.filter((row) => String(row.sk).startsWith('RELEASE#')).map((row) => String(row.sku)),
    ),
  };
}

/** The reservations the ledger holds, if any; released ones are not live: `OrderNotPending`. */
function reservationsFromLedger(
  orderId: string,
  rows: { reservations: StockLine[]; released: Set<string> },
): StockLine[] | undefined {
  if (rows.released.size > 0) {
    throw new OrderNotPending(
      `Order ${orderId}: its reservations were released (${[...rows.released].join(', ')})`,
    );
  }
  return rows.reservations.length > 0 ? rows.reservations : undefined;
}

/**
 * Reserves every line in one transaction guarded by the order being `PENDING`, which also refuses a SKU the
 * order already holds. The order's own reservations answer first (a retry after a commit); a concurrent attempt
 * that committed first is found the same way.
 *
 * @throws OutOfStock naming the first SKU short of stock, its available and requested units.
 * @throws OrderNotPending when the order is no longer `PENDING`, or its reservations were released.
 */
export async function reserveStock(
  store: InventoryStore,
  input: InventoryInput,
  hooks: FailureHooks = NO_FAILURES,
): Promise<ReserveResult> {
  const known = reservationsFromLedger(input.orderId, await ledger(store, input.orderId));
  if (known) {
    hooks.answeredFromLedger?.({ reservations: known.length });
    return { reservations: known };
  }
  await hooks.before();
  const lines = mergeLines(input.items);
  const transaction = buildReserveTransaction(store.table, input.orderId, lines, new Date().toISOString());
  try {
    await store.client.send(
      new TransactWriteCommand({
        TransactItems: [orderPendingCheck(store, input.orderId), ...(transaction.TransactItems ?? [])],
      }),
    );
  } catch (error) {
    const reasons = cancellationReasons(error);
    if (reasons) {
      // Reasons come in TransactItems order: the guard, then [stock, reservation] per line.
      const failed = (i: number) => reasons[i]?.Code === 'ConditionalCheckFailed';
      if (lines.some((_, i) => failed(2 * i + 2))) {
        // A concurrent attempt committed first: its reservations are the answer, whatever the stock is now.
        const existing = reservationsFromLedger(input.orderId, await ledger(store, input.orderId));
        if (existing) return { reservations: existing };
      }
      if (failed(0)) throw orderNotPending(input.orderId, 'reservation', error);
      const short = lines.find((_, i) => failed(2 * i + 1));
      if (short) {
        throw new OutOfStock(
          { sku: short.sku, available: await availableStock(store, short.sku), requested: short.qty },
          undefined,
          { cause: error },
        );
      }
    }
    return rethrowTransient(error);
  }
  await hooks.afterCommit();
  return { reservations: lines };
}

/**
 * Gives back the order's reserved stock, once per SKU: each reservation without a `RELEASE#<sku>` row is
 * released in its own transaction (the release row, only if new, and the stock increment). Nothing reserved
 * → `{released: []}`; nothing left to release answers from the ledger, without consulting failure flags.
 */
export async function releaseStock(
  store: InventoryStore,
  input: InventoryInput,
  hooks: FailureHooks = NO_FAILURES,
): Promise<ReleaseResult> {
  const { reservations, released: releasedSkus } = await ledger(store, input.orderId);
  if (reservations.every(({ sku }) => releasedSkus.has(sku))) {
    hooks.answeredFromLedger?.({ released: reservations.length });
    return { released: reservations };
  }
  await hooks.before();
  let committed = false;
  for (const { sku, qty } of reservations) {
    if (releasedSkus.has(sku)) continue;
    try {
      await store.client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: store.table,
                Item: {
                  pk: `ORDER#${input.orderId}`,
                  sk: `RELEASE#${sku}`,
                  orderId: input.orderId,
                  sku,
                  qty,
                  at: new Date().toISOString(),
                },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            {
              Update: {
                TableName: store.table,
                Key: { pk: `SKU#${sku}`, sk: 'STOCK' },
                UpdateExpression: 'ADD available :qty',
                ExpressionAttributeValues: { ':qty': qty },
              },
            },
          ],
        }),
      );
      committed = true;
    } catch (error) {
      // Released meanwhile by a concurrent attempt: the stock went back exactly once.
      if (cancellationReasons(error)?.[0]?.Code === 'ConditionalCheckFailed') continue;
      rethrowTransient(error);
    }
  }
  if (committed) await hooks.afterCommit();
  return { released: reservations };
}
