/**
 * The payment function's two saga tasks, each idempotent on the payload's `idempotency_key`, with the amount
 * and currency validated on repeats:
 * - `charge` `{orderId, amount, currency, idempotency_key}` → `{chargeId, amount, currency}`
 * - `refund` `{orderId, amount, currency, idempotency_key}` → `{refundId, amount, refunded}`
 */
import { documentClient, dynamoDbClient } from '../shared/clients.ts';
import { requireEnv } from '../shared/env.ts';
import { IDEMPOTENCY_KEY_PREFIXES } from '../shared/idempotency-hit.ts';
import { sagaActionHandler } from '../shared/saga-action.ts';
import { chargePayment, PaymentInputSchema, type PaymentStore, refundPayment } from './payment.ts';

const env = requireEnv('PAYMENTS_TABLE', 'ORDERS_TABLE', 'IDEMPOTENCY_TABLE', 'FAILURE_FLAGS_TABLE');
const store: PaymentStore = {
  client: documentClient,
  table: env.PAYMENTS_TABLE,
  ordersTable: env.ORDERS_TABLE,
};
const environment = {
  client: dynamoDbClient,
  idempotencyTable: env.IDEMPOTENCY_TABLE,
  failureFlagsTable: env.FAILURE_FLAGS_TABLE,
};

/** Charges the order once (failure-flag step `payment`; its business error is `PaymentDeclined`). */
export const charge = sagaActionHandler(
  {
    action: 'charge',
    step: 'payment',
    schema: PaymentInputSchema,
    keyPrefix: IDEMPOTENCY_KEY_PREFIXES.charge,
    payloadValidationJmesPath: '[amount, currency]',
    run: (input, hooks) => chargePayment(store, input, hooks),
  },
  environment,
);

/** Refunds the order's charge once (failure-flag step `refund`; its business error is `RefundFailed`). */
export const refund = sagaActionHandler(
  {
    action: 'refund',
    step: 'refund',
    schema: PaymentInputSchema,
    keyPrefix: IDEMPOTENCY_KEY_PREFIXES.refund,
    payloadValidationJmesPath: '[amount, currency]',
    run: (input, hooks) => refundPayment(store, input, hooks),
  },
  environment,
);
