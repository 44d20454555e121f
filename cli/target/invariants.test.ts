import { describe, expect, test } from 'vitest';
import { parseFailSpec } from '../../services/shared/failure-flags.ts';
import { type SagaDefinition, sagaDefinition } from './expectations.ts';
import {
  type ExecutionFacts,
  type InvariantFacts,
  type InvariantId,
  type InvariantResult,
  judgeInvariants,
  type OrderFacts,
  type StateVisit,
} from './invariants.ts';

const NOW = Date.parse('2026-11-20T12:00:00Z');
const RECENT = new Date(NOW - 10_000).toISOString();
const ITEMS = [
  { sku: 'espresso-beans', qty: 1 },
  { sku: 'ceramic-mug', qty: 2 },
];

let t = 0;
const visit = (state: string, status: StateVisit['status'] = 'succeeded', error?: string): StateVisit => ({
  state,
  status,
  error,
  attempts: 1,
  endMs: NOW - 60_000 + ++t,
});

const execution = (name: string, visits: StateVisit[]): ExecutionFacts => ({
  name,
  status: visits.some((v) => v.state === 'OrderCompleted' || v.state === 'AlreadySettled')
    ? 'SUCCEEDED'
    : 'FAILED',
  visits,
});

const forward = () => [
  visit('CheckOrder'),
  visit('ChargePayment'),
  visit('ReserveInventory'),
  visit('ShipOrder'),
];

/** A COMPLETED order whose ledgers and history agree with it. */
function completed(id = '01JD8Z6Q3M4N5P6R7S8T9V0W1X', overrides: Partial<OrderFacts> = {}): OrderFacts {
  return {
    orderId: id,
    injected: [],
    order: { status: 'COMPLETED', amount: 1300, items: ITEMS, createdAt: RECENT, updatedAt: RECENT },
    payments: [{ sk: 'CHARGE', amount: 1300 }],
    inventory: [
      { sk: 'RESERVATION#espresso-beans', qty: 1 },
      { sk: 'RESERVATION#ceramic-mug', qty: 2 },
    ],
    shipments: [{ sk: 'SHIPMENT' }],
    executions: [execution(id, [...forward(), visit('MarkOrderCompleted'), visit('OrderCompleted')])],
    ...overrides,
  };
}

/** An order cancelled after shipping failed: refunded, released, never shipped. */
function cancelled(id = '01JD8Z6Q3M4N5P6R7S8T9V0W2Y', overrides: Partial<OrderFacts> = {}): OrderFacts {
  return {
    orderId: id,
    injected: [parseFailSpec('shipping')],
    order: { status: 'CANCELLED', amount: 1300, items: ITEMS, createdAt: RECENT, updatedAt: RECENT },
    payments: [
      { sk: 'CHARGE', amount: 1300 },
      { sk: 'REFUND', amount: 1300 },
    ],
    inventory: [
      { sk: 'RESERVATION#espresso-beans', qty: 1 },
      { sk: 'RESERVATION#ceramic-mug', qty: 2 },
      { sk: 'RELEASE#espresso-beans', qty: 1 },
      { sk: 'RELEASE#ceramic-mug', qty: 2 },
    ],
    shipments: [],
    executions: [
      execution(id, [
        visit('CheckOrder'),
        visit('ChargePayment'),
        visit('ReserveInventory'),
        visit('ShipOrder', 'caught', 'ShippingUnavailable'),
        visit('CancelOrder'),
        visit('ReleaseInventory'),
        visit('RefundPayment'),
        visit('CompensationsDone'),
        visit('MarkOrderCancelled'),
        visit('OrderCancelled', 'failed', 'OrderCancelled'),
      ]),
    ],
    ...overrides,
  };
}

const judge = (orders: OrderFacts[], extra: Partial<InvariantFacts> = {}) =>
  judgeInvariants({ orders, now: NOW, ...extra });

const byId = (results: readonly InvariantResult[], id: InvariantId) =>
  results.find((r) => r.id === id) as InvariantResult;

/** The ids of the results that failed. */
const broken = (results: readonly InvariantResult[]) => results.filter((r) => !r.ok).map((r) => r.id);

describe('judgeInvariants', () => {
  test('a completed and a cancelled order that agree with their histories pass every invariant', () => {
    const results = judge([completed(), cancelled()], {
      stock: {
        before: { 'espresso-beans': 10, 'ceramic-mug': 10 },
        after: { 'espresso-beans': 9, 'ceramic-mug': 8 },
      },
    });
    expect(results.map((r) => r.id)).toEqual(['expected', 'I1', 'I2', 'I3', 'I4', 'I5', 'I6', 'I7']);
    expect(broken(results)).toEqual([]);
    expect(byId(results, 'I2').detail).toBe('2600 − 1300 = 1300 (cents)');
  });

  test('expected: a status the injected failures do not imply', () => {
    const order = cancelled(undefined, { injected: [] });
    const results = judge([order]);
    expect(broken(results)).toEqual(['expected']);
    expect(byId(results, 'expected').detail).toBe(`${order.orderId}: CANCELLED, expected COMPLETED`);
    expect(byId(results, 'expected').orders).toEqual([order.orderId]);
  });

  test('expected: a flag with a rate below 1 that decides is not predictable, not a failure', () => {
    const order = cancelled(undefined, { injected: [{ ...parseFailSpec('shipping'), rate: 0.5 }] });
    const result = byId(judge([order]), 'expected');
    expect(result.ok).toBe(true);
    expect(result.detail).toBe('0 orders; 1 not predictable (a flag rate below 1)');
  });

  describe('I1 terminal', () => {
    test('PENDING, CANCELLING, a missing order row: not settled', () => {
      const pending = completed('01JD8Z6Q3M4N5P6R7S8T9V0W3Z', {
        order: { status: 'PENDING', amount: 1300, items: ITEMS, createdAt: RECENT },
      });
      const missing = completed('01JD8Z6Q3M4N5P6R7S8T9V0W4A', { order: undefined, executions: [] });
      const result = byId(judge([pending, missing]), 'I1');
      expect(result.ok).toBe(false);
      expect(result.orders).toEqual([pending.orderId, missing.orderId]);
      expect(result.detail).toContain(`${pending.orderId}: PENDING`);
      expect(result.detail).toContain(`${missing.orderId}: MISSING`);
    });

    test('COMPENSATION_FAILED passes only where a compensation was made to fail for good', () => {
      const base = cancelled(undefined, {
        order: { status: 'COMPENSATION_FAILED', amount: 1300, items: ITEMS, createdAt: RECENT },
        payments: [{ sk: 'CHARGE', amount: 1300 }],
      });
      const withoutCause = byId(judge([base]), 'I1');
      expect(withoutCause.ok).toBe(false);
      expect(withoutCause.detail).toContain('no compensation was made to fail for good');
      const withCause = { ...base, injected: [parseFailSpec('shipping'), parseFailSpec('refund:error')] };
      expect(byId(judge([withCause]), 'I1').ok).toBe(true);
    });
  });

  describe('I2 money', () => {
    test('a cancelled order left charged', () => {
      const order = cancelled(undefined, { payments: [{ sk: 'CHARGE', amount: 1300 }] });
      const result = byId(judge([order]), 'I2');
      expect(result.ok).toBe(false);
      expect(result.detail).toBe(`${order.orderId}: CANCELLED: charged 1300 − refunded 0 ≠ 0`);
    });

    test('a completed order charged less than its amount, and a second charge row', () => {
      const short = completed(undefined, { payments: [{ sk: 'CHARGE', amount: 1000 }] });
      expect(byId(judge([short]), 'I2').detail).toContain('charged 1000 − refunded 0 ≠ 1300');
      const twice = completed(undefined, {
        payments: [
          { sk: 'CHARGE', amount: 1300 },
          { sk: 'CHARGE#2', amount: 1300 },
        ],
      });
      expect(byId(judge([twice]), 'I2').detail).toContain('2 charges, 0 refunds');
    });

    test('COMPENSATION_FAILED is excepted, and named', () => {
      const order = cancelled(undefined, {
        injected: [parseFailSpec('shipping'), parseFailSpec('refund:error')],
        order: { status: 'COMPENSATION_FAILED', amount: 1300, items: ITEMS, createdAt: RECENT },
        payments: [{ sk: 'CHARGE', amount: 1300 }],
      });
      const result = byId(judge([order]), 'I2');
      expect(result.ok).toBe(true);
      expect(result.detail).toContain(`COMPENSATION_FAILED excepted: ${order.orderId} holds 1300`);
    });
  });

  describe('I3 stock', () => {
    test('a cancelled order whose stock was not released', () => {
      const order = cancelled(undefined, { inventory: [{ sk: 'RESERVATION#ceramic-mug', qty: 2 }] });
      const result = byId(judge([order]), 'I3');
      expect(result.ok).toBe(false);
      expect(result.detail).toBe(`${order.orderId}: CANCELLED: ceramic-mug net reserved 2 ≠ 0`);
    });

    test('a completed order that reserved less than its items', () => {
      const order = completed(undefined, { inventory: [{ sk: 'RESERVATION#espresso-beans', qty: 1 }] });
      expect(byId(judge([order]), 'I3').detail).toContain('ceramic-mug net reserved 0 ≠ 2');
    });

    test('per SKU: stock that fell by other than the net reservations, and negative stock', () => {
      const result = byId(
        judge([completed()], {
          stock: {
            before: { 'espresso-beans': 10, 'ceramic-mug': 1 },
            after: { 'espresso-beans': 8, 'ceramic-mug': -1 },
          },
        }),
        'I3',
      );
      expect(result.ok).toBe(false);
      expect(result.detail).toContain('SKU espresso-beans: stock fell by 2, reservations − releases = 1');
      expect(result.detail).toContain('SKU ceramic-mug: -1 available');
      // SKUs are not orders.
      expect(result.orders).toEqual([]);
    });
  });

  describe('I4 shipment', () => {
    test('a cancelled order that was shipped, a completed one that was not', () => {
      const shippedButCancelled = cancelled(undefined, { shipments: [{ sk: 'SHIPMENT' }] });
      const completedUnshipped = completed(undefined, { shipments: [] });
      const result = byId(judge([shippedButCancelled, completedUnshipped]), 'I4');
      expect(result.orders).toEqual([shippedButCancelled.orderId, completedUnshipped.orderId]);
      expect(result.detail).toContain('CANCELLED with 1 shipments');
      expect(result.detail).toContain('COMPLETED with 0 shipments');
    });
  });

  describe('I5 monotonic', () => {
    test('a COMPLETED order with a CANCELLING transition recorded', () => {
      const id = '01JD8Z6Q3M4N5P6R7S8T9V0W1X';
      const order = completed(id, {
        executions: [
          execution(id, [
            ...forward().slice(0, 3),
            visit('ShipOrder', 'caught', 'States.Timeout'),
            visit('CancelOrder'),
            visit('ReleaseInventory'),
            visit('RefundPayment'),
            visit('MarkOrderCancelled'),
          ]),
          execution(`${id}-replay-1`, [...forward(), visit('MarkOrderCompleted')]),
        ],
      });
      const result = byId(judge([order]), 'I5');
      expect(result.ok).toBe(false);
      expect(result.detail).toBe(
        `${id}: MarkOrderCompleted wrote COMPLETED over CANCELLED (PENDING → CANCELLING → CANCELLED → COMPLETED)`,
      );
    });

    test('a CANCELLED order whose status no recorded transition explains', () => {
      const order = cancelled(undefined, {
        executions: [execution('01JD8Z6Q3M4N5P6R7S8T9V0W2Y', [...forward(), visit('MarkOrderCompleted')])],
      });
      expect(byId(judge([order]), 'I5').detail).toContain(
        'status CANCELLED, but the executions recorded PENDING → COMPLETED',
      );
    });

    test('a refused Mark (conditional) and a resumed compensation are along the arrows', () => {
      const id = '01JD8Z6Q3M4N5P6R7S8T9V0W2Y';
      const order = cancelled(id, {
        executions: [
          execution(id, [
            ...forward().slice(0, 3),
            visit('ShipOrder', 'caught', 'ShippingUnavailable'),
            visit('CancelOrder'),
            visit('ReleaseInventory', 'caught', 'ReleaseFailed'),
            visit('RefundPayment'),
            visit('MarkCompensationFailed'),
          ]),
          execution(`${id}-replay-1`, [
            visit('CheckOrder'),
            visit('ReleaseInventory'),
            visit('RefundPayment'),
            visit('MarkOrderCancelled'),
          ]),
          execution(`${id}-replay-2`, [visit('CheckOrder'), visit('AlreadySettled')]),
          execution(`${id}-replay-3`, [
            visit('MarkOrderCompleted', 'caught', 'DynamoDB.ConditionalCheckFailedException'),
            visit('CheckOrder'),
            visit('AlreadySettled'),
          ]),
        ],
      });
      expect(byId(judge([order]), 'I5').ok).toBe(true);
    });

    /** A cancel whose release failed for good (COMPENSATION_FAILED), redriven at RetryReleaseInventory to CANCELLED. */
    function redrivenToCancelled(id = '01JD8Z6Q3M4N5P6R7S8T9V0W2Y'): OrderFacts {
      return cancelled(id, {
        executions: [
          execution(id, [
            ...forward().slice(0, 3),
            visit('ShipOrder', 'caught', 'ShippingUnavailable'),
            visit('CancelOrder'),
            visit('ReleaseInventory', 'caught', 'ReleaseFailed'),
            visit('RefundPayment'),
            visit('CompensationsDone'),
            visit('MarkCompensationFailed'),
            visit('RetryCompensations'),
            visit('RetryReleaseInventory', 'failed', 'ReleaseFailed'),
            // RedriveExecution: the same execution, on from the Task that failed.
            visit('RetryReleaseInventory'),
            visit('RetryRefundIfFailed'),
            visit('MarkOrderCancelled'),
            visit('OrderCancelled', 'failed', 'OrderCancelled'),
          ]),
        ],
      });
    }

    test('a COMPENSATION_FAILED order redriven through Retry* and MarkOrderCancelled to CANCELLED is along the arrows', () => {
      const result = byId(judge([redrivenToCancelled()]), 'I5');
      expect(result).toMatchObject({ ok: true, orders: [] });
    });

    test('the arrows are the ASL’s: where MarkOrderCancelled accepts only CANCELLING, the redrive breaks I5', () => {
      const definition = structuredClone(sagaDefinition()) as SagaDefinition & {
        States: Record<string, { Parameters: { ExpressionAttributeValues: Record<string, { S: string }> } }>;
      };
      const values = definition.States.MarkOrderCancelled?.Parameters.ExpressionAttributeValues ?? {};
      values[':expected1'] = { S: 'CANCELLING' };
      const order = redrivenToCancelled();
      const result = byId(judgeInvariants({ orders: [order], now: NOW }, { definition }), 'I5');
      expect(result.ok).toBe(false);
      expect(result.detail).toBe(
        `${order.orderId}: MarkOrderCancelled wrote CANCELLED over COMPENSATION_FAILED ` +
          '(PENDING → CANCELLING → COMPENSATION_FAILED → CANCELLED)',
      );
    });

    test('a write with no condition in the ASL may go over any status but a settled one', () => {
      const definition = structuredClone(sagaDefinition()) as SagaDefinition & {
        States: Record<string, { Parameters: { ConditionExpression?: string } }>;
      };
      delete definition.States.MarkOrderCompleted?.Parameters.ConditionExpression;
      const judgeI5 = (order: OrderFacts) =>
        byId(judgeInvariants({ orders: [order], now: NOW }, { definition }), 'I5');
      expect(judgeI5(completed()).ok).toBe(true);
      const id = '01JD8Z6Q3M4N5P6R7S8T9V0W2Y';
      const overSettled = completed(id, {
        executions: [
          ...cancelled(id).executions,
          execution(`${id}-replay-1`, [...forward(), visit('MarkOrderCompleted')]),
        ],
      });
      expect(judgeI5(overSettled).detail).toContain('MarkOrderCompleted wrote COMPLETED over CANCELLED');
    });

    test('a state the ASL does not have writes nothing (the removed CancelOrderAfterPayment)', () => {
      const id = '01JD8Z6Q3M4N5P6R7S8T9V0W1X';
      const order = completed(id, {
        executions: [
          execution(id, [...forward(), visit('CancelOrderAfterPayment'), visit('MarkOrderCompleted')]),
        ],
      });
      expect(byId(judge([order]), 'I5').ok).toBe(true);
    });
  });

  describe('I6 one saga', () => {
    test('two executions named after the order, or none', () => {
      const twice = completed('01JD8Z6Q3M4N5P6R7S8T9V0W1X');
      const doubled = { ...twice, executions: [...twice.executions, ...twice.executions] };
      const none = cancelled(undefined, { executions: [] });
      const result = byId(judge([doubled, none]), 'I6');
      expect(result.orders).toEqual([doubled.orderId, none.orderId]);
      expect(result.detail).toContain('2 executions named');
      expect(result.detail).toContain('0 executions named');
    });

    test('replays (named <id>-…) are aside', () => {
      const order = completed();
      const withReplay = {
        ...order,
        executions: [...order.executions, execution(`${order.orderId}-replay-1`, [visit('AlreadySettled')])],
      };
      expect(byId(judge([withReplay]), 'I6').ok).toBe(true);
    });
  });

  describe('I7 nothing stuck', () => {
    test('PENDING or CANCELLING past the bound is stuck; within it is not', () => {
      const old = new Date(NOW - 10 * 60_000).toISOString();
      const stuck = completed('01JD8Z6Q3M4N5P6R7S8T9V0W1X', {
        order: { status: 'CANCELLING', amount: 1300, items: ITEMS, createdAt: old, updatedAt: old },
      });
      const fresh = completed('01JD8Z6Q3M4N5P6R7S8T9V0W2Y', {
        order: { status: 'PENDING', amount: 1300, items: ITEMS, createdAt: RECENT, updatedAt: RECENT },
      });
      const result = byId(
        judgeInvariants({ orders: [stuck, fresh], now: NOW }, { stuckAfterMs: 60_000 }),
        'I7',
      );
      expect(result.ok).toBe(false);
      expect(result.orders).toEqual([stuck.orderId]);
      expect(result.detail).toBe(`${stuck.orderId}: CANCELLING for 10m`);
    });
  });
});
