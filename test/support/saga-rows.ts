/**
 * One order's rows on a running stack, for scenario tests: its ledger rows (Payments, Inventory, Shipments), its
 * ORDER row, and the two things a re-run test clears — its failure flags and its Idempotency records (which
 * Powertools keys by a hash of the idempotency key, not by the order id).
 */
import { createHash } from 'node:crypto';
import {
  type AttributeValue,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  QueryCommand,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { deleteFailureFlag, STEPS } from '../../services/shared/failure-flags.ts';

/** One DynamoDB item, as the low-level client returns it. */
export type Row = Record<string, AttributeValue>;

/** The `idempotency_key` suffixes the state machine derives per Task (`<orderId>#charge`, …). */
export const IDEMPOTENCY_ACTIONS = ['charge', 'reserve', 'ship', 'release', 'refund'] as const;

/** Every row of the order in a table (partition `ORDER#<orderId>`), strongly consistent, all pages. */
export async function orderRows(ddb: DynamoDBClient, table: string, orderId: string): Promise<Row[]> {
  const rows: Row[] = [];
  let ExclusiveStartKey: Row | undefined;
  do {
    const page = await ddb.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': { S: `ORDER#${orderId}` } },
        ConsistentRead: true,
        ExclusiveStartKey,
      }),
    );
    rows.push(...(page.Items ?? []));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return rows;
}

/** The order's `ORDER#<id>`/`ORDER` row (strongly consistent), or undefined. */
export async function orderItem(
  ddb: DynamoDBClient,
  ordersTable: string,
  orderId: string,
): Promise<Row | undefined> {
  const { Item } = await ddb.send(
    new GetItemCommand({
      TableName: ordersTable,
      Key: { pk: { S: `ORDER#${orderId}` }, sk: { S: 'ORDER' } },
      ConsistentRead: true,
    }),
  );
  return Item;
}

/**
 * The hash part of a Powertools idempotency record id for a key: the record id is `<keyPrefix>#<hash>`, where the
 * hash is the base64 md5 digest of the JSON of what `eventKeyJmesPath` selected (here the key string, quotes
 * included) — `BasePersistenceLayer.getHashedIdempotencyKey` in @aws-lambda-powertools/idempotency.
 */
export function idempotencyKeyHash(key: string): string {
  return createHash('md5').update(JSON.stringify(key)).digest('base64');
}

/**
 * Deletes every Idempotency record of the order's saga tasks (any key prefix: the ids ending in the hash of one
 * of `<orderId>#charge`, `#reserve`, `#ship`, `#release`, `#refund`), as if their TTL had expired. Returns the
 * ids deleted.
 */
export async function deleteIdempotencyRecords(
  ddb: DynamoDBClient,
  table: string,
  orderId: string,
): Promise<string[]> {
  const suffixes = IDEMPOTENCY_ACTIONS.map((action) => `#${idempotencyKeyHash(`${orderId}#${action}`)}`);
  const ids: string[] = [];
  let ExclusiveStartKey: Row | undefined;
  do {
    const page = await ddb.send(
      new ScanCommand({
        TableName: table,
        ProjectionExpression: 'id',
        ConsistentRead: true,
        ExclusiveStartKey,
      }),
    );
    for (const item of page.Items ?? []) {
      const id = item.id?.S;
      if (id !== undefined && suffixes.some((suffix) => id.endsWith(suffix))) ids.push(id);
    }
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  await Promise.all(
    ids.map((id) => ddb.send(new DeleteItemCommand({ TableName: table, Key: { id: { S: id } } }))),
  );
  return ids;
}

/** Deletes the order's failure flags (every step); returns how many there were. */
export async function deleteOrderFlags(ddb: DynamoDBClient, table: string, orderId: string): Promise<number> {
  const present = await orderRows(ddb, table, orderId);
  await Promise.all(STEPS.map((step) => deleteFailureFlag(ddb, table, { orderId }, step)));
  return present.length;
}
