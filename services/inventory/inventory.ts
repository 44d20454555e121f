/**
 * Inventory domain: reserve an order's stock in one transaction (never below zero), release it once.
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
import { OutOfStock } from '../shared/errors.ts';
import { type FailureHooks, NO_FAILURES } from '../shared/hooks.ts';
import * as z from '../shared/zod.ts';

/** The Inventory table and its client. */
export interface InventoryStore {
  readonly client: DynamoDBDocumentClient;
  readonly table: string;
}

const LineSchema = z.object({ sku: z.string().check(z.minLength(1)), qty: z.int().check(z.minimum(1)) });

/** The reserve and release task payload: `{orderId, items: [{sku, qty}], idempotency_key}`. */
export const InventoryInputSchema = z.object({
  orderId: z.string().check(z.minLength(1)),
  // Reserving takes two transaction items per line; DynamoDB allows 100 per transaction.
  items: z.array(LineSchema).check(z.minLength(1), z.maxLength(50)),
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

/** The order's rows whose sk starts with a prefix (`RESERVATION#`, `RELEASE#`). */
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
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': `ORDER#${orderId}`, ':prefix': prefix },
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

/**
 * Reserves every line in one transaction, which also refuses a SKU the order already holds: a retry after a
 * commit finds the reservations (its transaction is cancelled on them) and returns them.
 *
 * @throws OutOfStock naming the first SKU short of stock, its available and requested units.
 */
export async function reserveStock(
  store: InventoryStore,
  input: InventoryInput,
  hooks: FailureHooks = NO_FAILURES,
): Promise<ReserveResult> {
  await hooks.before();
  const lines = mergeLines(input.items);
  try {
    await store.client.send(
      new TransactWriteCommand(
        buildReserveTransaction(store.table, input.orderId, lines, new Date().toISOString()),
      ),
    );
  } catch (error) {
    const reasons = cancellationReasons(error);
    if (reasons) {
      // Reasons come in TransactItems order: [stock, reservation] per line.
      if (lines.some((_, i) => reasons[2 * i + 1]?.Code === 'ConditionalCheckFailed')) {
        // Already reserved (a retry after a commit, or a concurrent attempt that committed first): those
        // reservations are the answer, whatever the stock is now.
        return { reservations: (await orderRows(store, input.orderId, 'RESERVATION#')).map(lineOf) };
      }
      const short = lines.find((_, i) => reasons[2 * i]?.Code === 'ConditionalCheckFailed');
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
 * → `{released: []}`.
 */
export async function releaseStock(
  store: InventoryStore,
  input: InventoryInput,
  hooks: FailureHooks = NO_FAILURES,
): Promise<ReleaseResult> {
  await hooks.before();
  const reservations = (await orderRows(store, input.orderId, 'RESERVATION#')).map(lineOf);
  const releasedSkus = new Set(
    (await orderRows(store, input.orderId, 'RELEASE#')).map((row) => String(row.sku)),
  );
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
