/**
 * The shipping function's saga task, idempotent on the payload's `idempotency_key`, with the items validated
 * on repeats: `ship` `{orderId, items, idempotency_key}` → `{trackingId, carrier}`.
 */
import { documentClient, dynamoDbClient } from '../shared/clients.ts';
import { requireEnv } from '../shared/env.ts';
import { IDEMPOTENCY_KEY_PREFIXES } from '../shared/idempotency-hit.ts';
import { sagaActionHandler } from '../shared/saga-action.ts';
import { ShipInputSchema, type ShippingStore, shipOrder } from './shipping.ts';

const env = requireEnv('SHIPMENTS_TABLE', 'ORDERS_TABLE', 'IDEMPOTENCY_TABLE', 'FAILURE_FLAGS_TABLE');
const store: ShippingStore = {
  client: documentClient,
  table: env.SHIPMENTS_TABLE,
  ordersTable: env.ORDERS_TABLE,
};

/** Ships the order (failure-flag step `shipping`; its business error is `ShippingUnavailable`). */
export const ship = sagaActionHandler(
  {
    action: 'ship',
    step: 'shipping',
    schema: ShipInputSchema,
    keyPrefix: IDEMPOTENCY_KEY_PREFIXES.ship,
    payloadValidationJmesPath: 'items',
    run: (input, hooks) => shipOrder(store, input, hooks),
  },
  {
    client: dynamoDbClient,
    idempotencyTable: env.IDEMPOTENCY_TABLE,
    failureFlagsTable: env.FAILURE_FLAGS_TABLE,
  },
);
