/**
 * Payment domain: charge an order once, refund it once. Each side effect is a conditional write keyed by the
 * order (`ORDER#<id>`/`CHARGE`, `REFUND`), so a task that commits and then crashes finds its own work on retry.
 * A charge commits only while the order is `PENDING` (one transaction with the order guard); both actions
 * answer from their own rows first, without calling the payment provider (whose faults the hooks inject).
 */
import {
  type DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import { cancellationReasons, isConditionalCheckFailed, rethrowTransient } from '../shared/dynamo.ts';
import { OrderNotPending } from '../shared/errors.ts';
import { type FailureHooks, NO_FAILURES } from '../shared/hooks.ts';
import { type OrderGuard, orderNotPending, orderPendingCheck } from '../shared/order-guard.ts';
import { ulid } from '../shared/ulid.ts';
import * as z from '../shared/zod.ts';

/** The Payments table, its client, and the Orders table that guards a charge. */
export interface PaymentStore extends OrderGuard {
  readonly client: DynamoDBDocumentClient;
  readonly table: string;
}

/** The charge and refund task payload: `{orderId, amount, currency, idempotency_key}`. */
export const PaymentInputSchema = z.object({
  orderId: z.string().check(z.minLength(1)),
  amount: z.int().check(z.minimum(0)),
  currency: z.string().check(z.length(3)),
  idempotency_key: z.string().check(z.minLength(1)),
});
/** A charge or refund task payload. */
export type PaymentInput = z.output<typeof PaymentInputSchema>;

/** What `charge` returns. */
export interface ChargeResult {
  readonly chargeId: string;
  readonly amount: number;
  readonly currency: string;
}

/** What `refund` returns; `refundId` is null (and `amount` 0) when there was no charge to refund. */
export interface RefundResult {
  readonly refundId: string | null;
  readonly amount: number;
  readonly refunded: boolean;
}

type Row = Record<string, unknown>;

const chargeOf = (item: Row): ChargeResult => ({
  chargeId: String(item.chargeId),
  amount: Number(item.amount),
  currency: String(item.currency),
});

const refundOf = (item: Row): RefundResult => ({
  refundId: String(item.refundId),
  amount: Number(item.amount),
  refunded: true,
});

/** The order's CHARGE and REFUND rows (one strongly consistent Query). */
async function ledger(store: PaymentStore, orderId: string): Promise<{ charge?: Row; refund?: Row }> {
  const { Items = [] } = await store.client.send(
    new QueryCommand({
      TableName: store.table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': `ORDER#${orderId}` },
      ConsistentRead: true,
    }),
  );
  return { charge: Items.find((i) => i.sk === 'CHARGE'), refund: Items.find((i) => i.sk === 'REFUND') };
}

/** The charge the ledger holds, if any; a refunded one is not live: `OrderNotPending`. */
function chargeFromLedger(orderId: string, rows: { charge?: Row; refund?: Row }): ChargeResult | undefined {
  if (rows.refund) {
    throw new OrderNotPending(
      `Order ${orderId}: its charge ${String(rows.charge?.chargeId)} was refunded (${String(rows.refund.refundId)})`,
    );
  }
  return rows.charge ? chargeOf(rows.charge) : undefined;
}

/**
 * Charges the order's amount once, only while the order is `PENDING`: a second call finds the charge and
 * returns it; a refunded charge or an order that is no longer `PENDING` → `OrderNotPending`.
 */
export async function chargePayment(
  store: PaymentStore,
  input: PaymentInput,
  hooks: FailureHooks = NO_FAILURES,
): Promise<ChargeResult> {
  const known = chargeFromLedger(input.orderId, await ledger(store, input.orderId));
  if (known) {
    hooks.answeredFromLedger?.({ chargeId: known.chargeId });
    return known;
  }
  await hooks.before();
  const charge: ChargeResult = { chargeId: `ch_${ulid()}`, amount: input.amount, currency: input.currency };
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
                sk: 'CHARGE',
                orderId: input.orderId,
                ...charge,
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
      // A concurrent attempt committed first: its charge is the answer.
      const existing = chargeFromLedger(input.orderId, await ledger(store, input.orderId));
      if (existing) return existing;
    }
    if (reasons?.[0]?.Code === 'ConditionalCheckFailed')
      throw orderNotPending(input.orderId, 'charge', error);
    return rethrowTransient(error);
  }
  await hooks.afterCommit();
  return charge;
}

/**
 * Refunds the order's charge once, for the amount the CHARGE row says (not the payload's). No charge →
 * `{refundId: null, amount: 0, refunded: false}`; already refunded → the existing refund. Both answer from the
 * ledger without calling the provider.
 */
export async function refundPayment(
  store: PaymentStore,
  input: PaymentInput,
  hooks: FailureHooks = NO_FAILURES,
): Promise<RefundResult> {
  const rows = await ledger(store, input.orderId);
  if (rows.refund) {
    hooks.answeredFromLedger?.({ refundId: rows.refund.refundId });
    return refundOf(rows.refund);
  }
  if (!rows.charge) {
    hooks.answeredFromLedger?.({ refund: 'nothing charged' });
    return { refundId: null, amount: 0, refunded: false };
  }
  await hooks.before();
  const refund = { refundId: `re_${ulid()}`, amount: Number(rows.charge.amount), refunded: true };
  try {
    await store.client.send(
      new PutCommand({
        TableName: store.table,
        Item: {
          pk: `ORDER#${input.orderId}`,
          sk: 'REFUND',
          orderId: input.orderId,
          refundId: refund.refundId,
          chargeId: rows.charge.chargeId,
          amount: refund.amount,
          currency: rows.charge.currency,
          at: new Date().toISOString(),
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  } catch (error) {
    if (isConditionalCheckFailed(error)) {
      // A concurrent attempt refunded first: its refund is the answer.
      const { refund: existing } = await ledger(store, input.orderId);
      if (existing) return refundOf(existing);
    }
    return rethrowTransient(error);
  }
  await hooks.afterCommit();
  return refund;
}
