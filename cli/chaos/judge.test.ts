import { describe, expect, test } from 'vitest';
import { type SagaDefinition, sagaDefinition } from '../target/expectations.ts';
import { type InvariantFacts, judgeInvariants, type OrderFacts } from '../target/invariants.ts';
import { finishesCompensations, judgeRun, type OrderOutcome } from './judge.ts';
import type { ChaosAction, ChaosFlag } from './schedule.ts';

const A = '01JD8Z6Q3M4N5P6R7S8T9V0W1A';
const NOW = Date.parse('2026-12-03T10:00:00Z');

/** A COMPLETED order with its one charge, reservation and shipment, run by one execution. */
function completed(orderId = A): OrderFacts {
  return {
    orderId,
    injected: [],
    order: {
      status: 'COMPLETED',
      amount: 650,
      items: [{ sku: 'paper-filters', qty: 1 }],
      updatedAt: '2026-12-03T09:59:59Z',
    },
    payments: [{ sk: 'CHARGE', amount: 650 }],
    inventory: [{ sk: 'RESERVATION#paper-filters', qty: 1 }],
    shipments: [{ sk: 'SHIPMENT' }],
    executions: [
      {
        name: orderId,
        status: 'SUCCEEDED',
        visits: [{ state: 'MarkOrderCompleted', status: 'succeeded', endMs: NOW - 1000, attempts: 1 }],
      },
    ],
  };
}

function verdict(orders: readonly OrderFacts[], outcomes: readonly OrderOutcome[]) {
  const facts: InvariantFacts = { orders, now: NOW };
  return judgeRun(judgeInvariants(facts, { stuckAfterMs: 120_000 }), facts, outcomes);
}

const outcome = (extra: Partial<OrderOutcome> = {}): OrderOutcome => ({
  orderId: A,
  flags: [],
  actions: [],
  firstStatus: 'COMPLETED',
  unended: [],
  ...extra,
});

describe('judgeRun', () => {
  test('a clean run has no violation', () => {
    expect(verdict([completed()], [outcome()])).toEqual([]);
  });

  test('the status settled first must match the flags', () => {
    const v = verdict([completed()], [outcome({ flags: [{ step: 'inventory', mode: 'error' }] })]);
    expect(v.map((x) => x.id)).toEqual(['expected']);
    expect(v[0]?.detail).toBe(`${A}: COMPLETED, expected CANCELLED`);
    expect(v[0]?.orders).toEqual([A]);
  });

  test('no expectation when a second actor ran alongside, or a rate makes it chance', () => {
    const flags: ChaosFlag[] = [{ step: 'inventory', mode: 'error' }];
    expect(verdict([completed()], [outcome({ flags, actions: [{ kind: 'race' }] })])).toEqual([]);
    expect(
      verdict(
        [completed()],
        [outcome({ flags, actions: [{ kind: 'replay', via: 'sfn', when: 'running', k: 1 }] })],
      ),
    ).toEqual([]);
    expect(
      verdict([completed()], [outcome({ flags: [{ step: 'inventory', mode: 'error', rate: 0.5 }] })]),
    ).toEqual([]);
    // A duplicate delivery is no second actor: the expectation stands.
    expect(
      verdict(
        [completed()],
        [outcome({ flags, actions: [{ kind: 'replay', via: 'outbox', when: 'running', k: 1 }] })],
      ).map((x) => x.id),
    ).toEqual(['expected']);
  });

  test('a COMPLETED order refunded and cancelled by a replay breaks I4 (shipped yet CANCELLED) and I5', () => {
    const broken: OrderFacts = {
      ...completed(),
      order: { ...(completed().order as NonNullable<OrderFacts['order']>), status: 'CANCELLED' },
      payments: [
        { sk: 'CHARGE', amount: 650 },
        { sk: 'REFUND', amount: 650 },
      ],
      inventory: [
        { sk: 'RESERVATION#paper-filters', qty: 1 },
        { sk: 'RELEASE#paper-filters', qty: 1 },
      ],
      executions: [
        ...completed().executions,
        {
          name: `${A}-chaos-x-1`,
          status: 'FAILED',
          visits: [{ state: 'MarkOrderCancelled', status: 'succeeded', endMs: NOW - 500, attempts: 1 }],
        },
      ],
    };
    const v = verdict(
      [broken],
      [outcome({ actions: [{ kind: 'replay', via: 'sfn', when: 'settled', k: 1 }] })],
    );
    expect(v.map((x) => x.id)).toEqual(['I4', 'I5']);
    expect(v.find((x) => x.id === 'I5')?.detail).toContain(`${A}: settled COMPLETED, then CANCELLED`);
    expect(v.find((x) => x.id === 'I5')?.detail).toContain(
      'MarkOrderCancelled wrote CANCELLED over COMPLETED',
    );
  });

  test('an execution that never ended breaks I7', () => {
    const v = verdict([completed()], [outcome({ unended: [`${A}-chaos-x-1`] })]);
    expect(v).toEqual([
      {
        id: 'I7',
        name: 'I7 nothing stuck in PENDING or CANCELLING',
        detail: `${A}: execution ${A}-chaos-x-1 still running`,
        orders: [A],
      },
    ]);
  });

  test("the expectation follows the deployed saga's retry counts when given", () => {
    const flags: ChaosFlag[] = [{ step: 'inventory', mode: 'transient', times: 6 }];
    // The project's ASL retries ReserveInventory 4 times: 6 transient failures cancel the order.
    expect(verdict([completed()], [outcome({ flags })]).map((x) => x.id)).toEqual(['expected']);
    // The deployed saga: the project's, but retrying ReserveInventory 9 times.
    const project = sagaDefinition();
    const patient: SagaDefinition = {
      ...project,
      States: {
        ...project.States,
        ReserveInventory: {
          ...project.States.ReserveInventory,
          Retry: [{ ErrorEquals: ['States.ALL'], MaxAttempts: 9 }],
        },
      },
    };
    const facts: InvariantFacts = { orders: [completed()], now: NOW };
    expect(
      judgeRun(judgeInvariants(facts, { definition: patient }), facts, [outcome({ flags })], patient),
    ).toEqual([]);
  });

  describe('a COMPENSATION_FAILED order, then a redrive or a re-run after its flags were cleared', () => {
    const flags: ChaosFlag[] = [
      { step: 'shipping', mode: 'error' },
      { step: 'refund', mode: 'error' },
    ];
    const t = (i: number) => NOW - 10_000 + i * 100;
    /** Cancelled at ShipOrder, the refund failed for good (COMPENSATION_FAILED); redriven or not. */
    function stuck(redriven: boolean): OrderFacts {
      const states = [
        'CancelOrder',
        'ReleaseInventory',
        'RefundPayment',
        'MarkCompensationFailed',
        ...(redriven ? ['RetryRefundPayment', 'MarkOrderCancelled'] : []),
      ];
      return {
        orderId: A,
        injected: flags,
        order: {
          status: redriven ? 'CANCELLED' : 'COMPENSATION_FAILED',
          amount: 650,
          items: [{ sku: 'paper-filters', qty: 1 }],
          updatedAt: '2026-12-03T09:59:59Z',
        },
        payments: [{ sk: 'CHARGE', amount: 650 }, ...(redriven ? [{ sk: 'REFUND', amount: 650 }] : [])],
        inventory: [
          { sk: 'RESERVATION#paper-filters', qty: 1 },
          { sk: 'RELEASE#paper-filters', qty: 1 },
        ],
        shipments: [],
        executions: [
          {
            name: A,
            status: 'FAILED',
            visits: states.map((state, i) => ({
              state,
              status: 'succeeded' as const,
              endMs: t(i),
              attempts: 1,
            })),
          },
        ],
      };
    }
    const redriveCleared: ChaosAction = { kind: 'redrive', when: 'cleared' };

    test('redriven to CANCELLED: no violation', () => {
      expect(
        verdict(
          [stuck(true)],
          [outcome({ flags, firstStatus: 'COMPENSATION_FAILED', actions: [redriveCleared] })],
        ),
      ).toEqual([]);
    });

    test('still COMPENSATION_FAILED after redrive:cleared breaks the expectation', () => {
      const v = verdict(
        [stuck(false)],
        [outcome({ flags, firstStatus: 'COMPENSATION_FAILED', actions: [redriveCleared] })],
      );
      expect(v).toEqual([
        {
          id: 'expected',
          name: 'terminal status matches the injected failures',
          detail: `${A}: COMPENSATION_FAILED after redrive:cleared, expected CANCELLED`,
          orders: [A],
        },
      ]);
    });

    test('a replay via sfn after the flags were cleared finishes the compensations too', () => {
      const replay: ChaosAction = { kind: 'replay', via: 'sfn', when: 'cleared', k: 1 };
      const v = verdict(
        [stuck(false)],
        [outcome({ flags, firstStatus: 'COMPENSATION_FAILED', actions: [replay] })],
      );
      expect(v.map((x) => x.detail)).toEqual([
        `${A}: COMPENSATION_FAILED after replay:sfn:cleared, expected CANCELLED`,
      ]);
    });

    test('no final expectation with the flags still set, or with a second actor while the saga ran', () => {
      for (const actions of [
        [{ kind: 'redrive', when: 'settled' }],
        [{ kind: 'replay', via: 'steps', when: 'cleared', k: 1 }],
        [{ kind: 'race' }, redriveCleared],
        [{ kind: 'replay', via: 'sfn', when: 'running', k: 1 }, redriveCleared],
      ] as ChaosAction[][]) {
        expect(
          verdict([stuck(false)], [outcome({ flags, firstStatus: 'COMPENSATION_FAILED', actions })]),
        ).toEqual([]);
      }
    });

    test('finishesCompensations: a redrive or a new execution, once the flags are cleared', () => {
      expect(finishesCompensations({ kind: 'redrive', when: 'cleared' })).toBe(true);
      expect(finishesCompensations({ kind: 'redrive', when: 'settled' })).toBe(false);
      expect(finishesCompensations({ kind: 'replay', via: 'sfn', when: 'cleared', k: 2 })).toBe(true);
      expect(finishesCompensations({ kind: 'replay', via: 'outbox', when: 'cleared', k: 1 })).toBe(false);
      expect(finishesCompensations({ kind: 'expire', when: 'cleared' })).toBe(false);
      expect(finishesCompensations({ kind: 'race' })).toBe(false);
    });
  });

  test('a redrive that contradicts DescribeExecution is a finding', () => {
    const mismatch = 'RedriveExecution refused its execution (DescribeExecution: FAILED, REDRIVABLE): nope';
    const v = verdict(
      [completed()],
      [outcome({ actions: [{ kind: 'redrive', when: 'settled' }], redriveMismatches: [mismatch] })],
    );
    expect(v).toEqual([
      {
        id: 'redrive',
        name: 'redrive: RedriveExecution accepts exactly what DescribeExecution calls REDRIVABLE',
        detail: `${A}: ${mismatch}`,
        orders: [A],
      },
    ]);
  });
});
