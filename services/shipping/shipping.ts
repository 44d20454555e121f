/** Shipping domain: create the order's shipment once (`ORDER#<id>`/`SHIPMENT` {trackingId, carrier, at}). */
import { createHash } from 'node:crypto';
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { isConditionalCheckFailed, rethrowTransient } from '../shared/dynamo.ts';
import { type FailureHooks, NO_FAILURES } from '../shared/hooks.ts';
import { ulid } from '../shared/ulid.ts';
import * as z from '../shared/zod.ts';

/** The Shipments table and its client. */
export interface ShippingStore {
  readonly client: DynamoDBDocumentClient;
  readonly table: string;
}

/** The ship task payload: `{orderId, items: [{sku, qty}], idempotency_key}`. */
export const ShipInputSchema = z.object({
  orderId: z.string().check(z.minLength(1)),
  items: z
    .array(z.object({ sku: z.string().check(z.minLength(1)), qty: z.int().check(z.minimum(1)) }))
    .check(z.minLength(1)),
  idempotency_key: z.string().check(z.minLength(1)),
});
/** A ship task payload. */
export type ShipInput = z.output<typeof ShipInputSchema>;

/** What `ship` returns. */
export interface ShipResult {
  readonly trackingId: string;
  readonly carrier: string;
}

/** Carriers an order may go with; picked from the order id, so the same order always gets the same one. */
export const CARRIERS = ['DHL', 'UPS', 'PostNL'] as const;

/** The carrier for an order. */
export function carrierFor(orderId: string): string {
  const digest = createHash('sha256').update(orderId).digest();
  return CARRIERS[(digest[0] ?? 0) % CARRIERS.length] ?? CARRIERS[0];
}

/** Creates the shipment once: a second call finds it and returns it. */
export async function shipOrder(
  store: ShippingStore,
  input: ShipInput,
  hooks: FailureHooks = NO_FAILURES,
): Promise<ShipResult> {
  await hooks.before();
  const shipment: ShipResult = { trackingId: `TRK${ulid()}`, carrier: carrierFor(input.orderId) };
  const key = { pk: `ORDER#${input.orderId}`, sk: 'SHIPMENT' };
  try {
    await store.client.send(
      new PutCommand({
        TableName: store.table,
        Item: {
          ...key,
          orderId: input.orderId,
          ...shipment,
          items: input.items,
          at: new Date().toISOString(),
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  } catch (error) {
    if (isConditionalCheckFailed(error)) {
      // Already shipped (a retry after a commit): answer with that shipment.
      const { Item } = await store.client.send(
        new GetCommand({ TableName: store.table, Key: key, ConsistentRead: true }),
      );
      if (Item) return { trackingId: String(Item.trackingId), carrier: String(Item.carrier) };
    }
    return rethrowTransient(error);
  }
  await hooks.afterCommit();
  return shipment;
}
