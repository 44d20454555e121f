/**
 * One order's rows on a running stack, for scenario tests: its ledger rows (Payments, Inventory, Shipments), its
 * ORDER row, and the two things a re-run test clears — its failure flags and its Idempotency records (which
 * Powertools keys by a hash of the idempotency key, not by the order id).
 */
import { type AttributeValue, type DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { readOrderItems } from '../../cli/target/ledger.ts';
import { deleteFailureFlag, STEPS } from '../../services/shared/failure-flags.ts';

// The Idempotency records of an order: the same code `saga chaos` and the demo use.
export { deleteIdempotencyRecords, IDEMPOTENCY_ACTIONS, idempotencyKeyHash } from '../../cli/target/rerun.ts';

/** One DynamoDB item, as the low-level client returns it. */
export type Row = Record<string, AttributeValue>;

/** Every row of the order in a table (partition `ORDER#<orderId>`), strongly consistent, all pages. */
export const orderRows: (ddb: DynamoDBClient, table: string, orderId: string) => Promise<Row[]> =
  readOrderItems;

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

/** Deletes the order's failure flags (every step); returns how many there were. */
export async function deleteOrderFlags(ddb: DynamoDBClient, table: string, orderId: string): Promise<number> {
  const present = await orderRows(ddb, table, orderId);
  await Promise.all(STEPS.map((step) => deleteFailureFlag(ddb, table, { orderId }, step)));
  return present.length;
}
