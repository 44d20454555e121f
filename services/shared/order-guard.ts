/**
 * The order row serializes the saga's commit points (design §4a rule 2): every forward side effect commits in
 * one TransactWriteItems with a ConditionCheck that the order is still `PENDING`. Once the saga decided to
 * cancel (`CANCELLING`) or the order settled, no late charge, reservation or shipment can commit.
 */
import { OrderNotPending } from './errors.ts';

/** Where the order rows live. */
export interface OrderGuard {
  /** The Orders table (`ORDER#<id>`/`ORDER` rows). */
  readonly ordersTable: string;
}

/** The ConditionCheck item (document client shape) that holds a transaction to a `PENDING` order. */
export function orderPendingCheck(guard: OrderGuard, orderId: string) {
  return {
    ConditionCheck: {
      TableName: guard.ordersTable,
      Key: { pk: `ORDER#${orderId}`, sk: 'ORDER' },
      ConditionExpression: '#status = :pending',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':pending': 'PENDING' },
    },
  };
}

/** The error a step throws when the order's guard refused its commit. */
export function orderNotPending(orderId: string, what: string, cause?: unknown): OrderNotPending {
  return new OrderNotPending(
    `Order ${orderId} is not PENDING (cancelled, settled or missing): ${what} refused`,
    cause === undefined ? undefined : { cause },
  );
}
