/**
 * Shipping domain: create the order's shipment once (`ORDER#<id>`/`SHIPMENT` {trackingId, carrier, at}), only
 * while the order is `PENDING` (one transaction with the order guard). The shipment is the saga's pivot: once it
 * exists the order completes, so it answers every later call from its own row.
 */
import { createHash } from 'node:crypto';
import { type DynamoDBDocumentClient, GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { cancellationReasons, rethrowTransient } from '../shared/dynamo.ts';
import { type FailureHooks, NO_FAILURES } from '../shared/hooks.ts';
import { type OrderGuard, orderNotPending, orderPendingCheck } from '../shared/order-guard.ts';
import { ulid } from '../shared/ulid.ts';
import * as z from '../shared/zod.ts';

/** The Shipments table, its client, and the Orders table that guards a shipment. */
export interface ShippingStore extends OrderGuard {
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

/** The order's shipment, if it has one (strongly consistent). */
async function shipmentOf(store: ShippingStore, orderId: string): Promise<ShipResult | undefined> {
  const { Item } = await store.client.send(
    new GetCommand({
      TableName: store.table,
      Key: { pk: `ORDER#${orderId}`, sk: 'SHIPMENT' },
      ConsistentRead: true,
    }),
  );
  return Item ? { trackingId: String(Item.trackingId), carrier: String(Item.carrier) } : undefined;
}

/**
 * Creates the shipment once, only while the order is `PENDING`: a second call finds it and returns it.
 *
 * @throws OrderNotPending when the order is no longer `PENDING` (the saga decided to cancel it).
 */
export async function shipOrder(
  store: ShippingStore,
  input: ShipInput,
  hooks: FailureHooks = NO_FAILURES,
): Promise<ShipResult> {
  const known = await shipmentOf(store, input.orderId);
  if (known) {
    hooks.answeredFromLedger?.({ trackingId: known.trackingId });
    return known;
  }
  await hooks.before();
  const shipment: ShipResult = { trackingId: `TRK${ulid()}`, carrier: carrierFor(input.orderId) };
  try {
    await store.client.send(
      new TransactWriteCommand({
        TransactItems: [
          orderPendingCheck(store, input.orderId),
          {
            Put: {
              TableName: store.table,
              Item: {
                pk: `ORDER#${input.orderId}`,
                sk: 'SHIPMENT',
                orderId: input.orderId,
                ...shipment,
                items: input.items,
                at: new Date().toISOString(),
              },
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
        ],
      }),
    );
  } catch (error) {
    const reasons = cancellationReasons(error);
    if (reasons?.[1]?.Code === 'ConditionalCheckFailed') {
      // A concurrent attempt shipped first: its shipment is the answer.
      const existing = await shipmentOf(store, input.orderId);
      if (existing) return existing;
    }
    if (reasons?.[0]?.Code === 'ConditionalCheckFailed')
      throw orderNotPending(input.orderId, 'shipment', error);
    return rethrowTransient(error);
  }
  await hooks.afterCommit();
  return shipment;
}
