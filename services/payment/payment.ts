/**
 * Payment domain: charge an order once, refund it once. Each side effect is a conditional write keyed by the
 * order (`ORDER#<id>`/`CHARGE`, `REFUND`), so a task that commits and then crashes finds its own work on retry.
 */
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import { cancellationReasons, isConditionalCheckFailed, rethrowTransient } from '../shared/dynamo.ts';
import { type FailureHooks, NO_FAILURES } from '../shared/hooks.ts';
import { ulid } from '../shared/ulid.ts';
import * as z from '../shared/zod.ts';

/** The Payments table and its client. */
export interface PaymentStore {
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

const chargeOf = (item: Record<string, unknown>): ChargeResult => ({
  chargeId: String(item.chargeId),
  amount: Number(item.amount),
  currency: String(item.currency),
});

/** Charges the order's amount once: a second call finds the charge and returns it. */
export async function chargePayment(
  store: PaymentStore,
  input: PaymentInput,
  hooks: FailureHooks = NO_FAILURES,
): Promise<ChargeResult> {
  await hooks.before();
  const charge: ChargeResult = { chargeId: `ch_${ulid()}`, amount: input.amount, currency: input.currency };
  try {
    await store.client.send(
      new PutCommand({
        TableName: store.table,
        Item: {
          pk: `ORDER#${input.orderId}`,
          sk: 'CHARGE',
          orderId: input.orderId,
          ...charge,
          at: new Date().toISOString(),
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  } catch (error) {
    if (isConditionalCheckFailed(error)) {
      // Already charged (a retry after a commit): answer with that charge, not a new one.
      const existing = await getRow(store, input.orderId, 'CHARGE');
      if (existing) return chargeOf(existing);
    }
    return rethrowTransient(error);
  }
  await hooks.afterCommit();
  return charge;
}

/**
 * Refunds the order's charge once. No charge → `{refundId: null, amount: 0, refunded: false}`; already
 * refunded → the existing refund.
 */
export async function refundPayment(
  store: PaymentStore,
  input: PaymentInput,
  hooks: FailureHooks = NO_FAILURES,
): Promise<RefundResult> {
  await hooks.before();
  const pk = `ORDER#${input.orderId}`;
  const refund = { refundId: `re_${ulid()}`, amount: input.amount, refunded: true };
  try {
    await store.client.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            ConditionCheck: {
              TableName: store.table,
              Key: { pk, sk: 'CHARGE' },
              ConditionExpression: 'attribute_exists(pk)',
            },
          },
          {
            Put: {
              TableName: store.table,
              Item: {
                pk,
                sk: 'REFUND',
                orderId: input.orderId,
                refundId: refund.refundId,
                amount: refund.amount,
                currency: input.currency,
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
      const existing = await getRow(store, input.orderId, 'REFUND');
      if (existing)
        return { refundId: String(existing.refundId), amount: Number(existing.amount), refunded: true };
    }
    if (reasons?.[0]?.Code === 'ConditionalCheckFailed')
      return { refundId: null, amount: 0, refunded: false };
    return rethrowTransient(error);
  }
  await hooks.afterCommit();
  return refund;
}

/** Reads one of the order's payment rows (strongly consistent: it may have been written a moment ago). */
async function getRow(
  store: PaymentStore,
  orderId: string,
  sk: string,
): Promise<Record<string, unknown> | undefined> {
  const { Item } = await store.client.send(
    new GetCommand({ TableName: store.table, Key: { pk: `ORDER#${orderId}`, sk }, ConsistentRead: true }),
  );
  return Item;
}
