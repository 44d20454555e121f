/**
 * The inventory function's two saga tasks, each idempotent on the payload's `idempotency_key`, with the items
 * validated on repeats:
 * - `reserve` `{orderId, items, idempotency_key}` → `{reservations: [{sku, qty}]}`
 * - `release` `{orderId, items, idempotency_key}` → `{released: [{sku, qty}]}`
 */
import { documentClient, dynamoDbClient } from '../shared/clients.ts';
import { requireEnv } from '../shared/env.ts';
import { IDEMPOTENCY_KEY_PREFIXES } from '../shared/idempotency-hit.ts';
import { sagaActionHandler } from '../shared/saga-action.ts';
import { InventoryInputSchema, type InventoryStore, releaseStock, reserveStock } from './inventory.ts';

const env = requireEnv('INVENTORY_TABLE', 'ORDERS_TABLE', 'IDEMPOTENCY_TABLE', 'FAILURE_FLAGS_TABLE');
const store: InventoryStore = {
  client: documentClient,
  table: env.INVENTORY_TABLE,
  ordersTable: env.ORDERS_TABLE,
};
const environment = {
  client: dynamoDbClient,
  idempotencyTable: env.IDEMPOTENCY_TABLE,
  failureFlagsTable: env.FAILURE_FLAGS_TABLE,
};

/** Reserves the order's stock (failure-flag step `inventory`; its business error is `OutOfStock`). */
export const reserve = sagaActionHandler(
  {
    action: 'reserve',
    step: 'inventory',
    schema: InventoryInputSchema,
    keyPrefix: IDEMPOTENCY_KEY_PREFIXES.reserve,
    payloadValidationJmesPath: 'items',
    run: (input, hooks) => reserveStock(store, input, hooks),
  },
  environment,
);

/** Releases the order's reserved stock (failure-flag step `release`; its business error is `ReleaseFailed`). */
export const release = sagaActionHandler(
  {
    action: 'release',
    step: 'release',
    schema: InventoryInputSchema,
    keyPrefix: IDEMPOTENCY_KEY_PREFIXES.release,
    payloadValidationJmesPath: 'items',
    run: (input, hooks) => releaseStock(store, input, hooks),
  },
  environment,
);
