import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { parseFailSpec } from '../../services/shared/failure-flags.ts';
import {
  attemptsFor,
  expectedOrderStatus,
  expectedOutcome,
  type InjectedFlag,
  mayFailCompensation,
  retriesFor,
  type SagaDefinition,
  STEP_STATES,
  transientRetries,
} from './expectations.ts';

const asl = JSON.parse(
  readFileSync(new URL('../../state-machines/order-saga.asl.json', import.meta.url), 'utf8'),
) as SagaDefinition & { States: Record<string, { Type: string; Retry?: { ErrorEquals: string[] }[] }> };

/** A definition shaped like the saga's contract: business errors not retried, then States.ALL. */
const BUSINESS = ['PaymentDeclined', 'OutOfStock', 'ShippingUnavailable', 'OrderNotPending'];
const retry = (all: number) => [
  { ErrorEquals: BUSINESS, MaxAttempts: 0 },
  { ErrorEquals: ['IdempotencyAlreadyInProgressError'], MaxAttempts: 8 },
  { ErrorEquals: ['States.ALL'], MaxAttempts: all },
];
const CONTRACT: SagaDefinition = {
  States: {
    ChargePayment: { Retry: retry(3) },
    ReserveInventory: { Retry: retry(3) },
    ShipOrder: { Retry: retry(3) },
    ReleaseInventory: { Retry: retry(6) },
    RefundPayment: { Retry: retry(6) },
    AlreadySettled: {},
  },
};

const expected = (...specs: string[]) => expectedOrderStatus(specs.map(parseFailSpec), CONTRACT);

describe('attemptsFor counts every state that invokes the same function', () => {
  test("a compensation's Retry* state adds its attempt after the order is marked COMPENSATION_FAILED", () => {
    // The saga's ASL: RefundPayment (1 + 6) then RetryRefundPayment (1, no retrier), the same function.
    expect(attemptsFor('RefundPayment', 'TransientError')).toBe(
      1 +
        retriesFor('RefundPayment', 'TransientError') +
        1 +
        retriesFor('RetryRefundPayment', 'TransientError'),
    );
    expect(attemptsFor('ReleaseInventory', 'ThrottlingException')).toBe(8);
    expect(attemptsFor('ChargePayment', 'TransientError')).toBe(
      1 + retriesFor('ChargePayment', 'TransientError'),
    );
  });

  test('the last attempt decides: refund:transient:7 now ends CANCELLED, :8 COMPENSATION_FAILED', () => {
    const real = (...specs: string[]) => expectedOrderStatus(specs.map(parseFailSpec));
    expect(real('shipping', 'refund:transient:7')).toBe('CANCELLED');
    expect(real('shipping', 'refund:transient:8')).toBe('COMPENSATION_FAILED');
    expect(real('shipping', 'release:throttle:7')).toBe('CANCELLED');
    expect(real('shipping', 'release:throttle:8')).toBe('COMPENSATION_FAILED');
    expect(real('shipping', 'refund:error')).toBe('COMPENSATION_FAILED');
  });
});

describe('retriesFor reads the retriers as Step Functions picks them', () => {
  test('the first retrier that matches wins: a business error gets 0, the rest fall to States.ALL', () => {
    expect(retriesFor('ChargePayment', 'PaymentDeclined', CONTRACT)).toBe(0);
    expect(retriesFor('ChargePayment', 'IdempotencyAlreadyInProgressError', CONTRACT)).toBe(8);
    expect(retriesFor('ChargePayment', 'TransientError', CONTRACT)).toBe(3);
    expect(retriesFor('ChargePayment', 'ThrottlingException', CONTRACT)).toBe(3);
    expect(retriesFor('RefundPayment', 'TransientError', CONTRACT)).toBe(6);
  });

  test('States.TaskFailed matches every error but States.Timeout; MaxAttempts defaults to 3', () => {
    const def: SagaDefinition = { States: { T: { Retry: [{ ErrorEquals: ['States.TaskFailed'] }] } } };
    expect(retriesFor('T', 'TransientError', def)).toBe(3);
    expect(retriesFor('T', 'States.Timeout', def)).toBe(0);
  });

  test('a state without a retrier, or no such state, gives 0', () => {
    expect(transientRetries('AlreadySettled', CONTRACT)).toBe(0);
    expect(transientRetries('NoSuchState', CONTRACT)).toBe(0);
  });
});

describe('the real ASL', () => {
  test('every step state exists in the state machine as a Task', () => {
    for (const state of Object.values(STEP_STATES)) expect(asl.States[state]?.Type, state).toBe('Task');
  });

  test('forward steps: business errors are not retried; TransientError and throttling get the last retrier, States.ALL', () => {
    for (const state of ['ChargePayment', 'ReserveInventory', 'ShipOrder']) {
      const retriers = asl.States[state]?.Retry ?? [];
      expect(retriers.at(-1)?.ErrorEquals, state).toEqual(['States.ALL']);
      const last = retriers.at(-1) as { MaxAttempts?: number };
      expect(retriesFor(state, 'TransientError'), state).toBe(last.MaxAttempts ?? 3);
      expect(retriesFor(state, 'ThrottlingException'), state).toBe(last.MaxAttempts ?? 3);
      expect(retriesFor(state, 'OrderNotPending'), state).toBe(0);
    }
    expect(retriesFor('ChargePayment', 'PaymentDeclined')).toBe(0);
    expect(retriesFor('ReserveInventory', 'OutOfStock')).toBe(0);
    expect(retriesFor('ShipOrder', 'ShippingUnavailable')).toBe(0);
  });

  test('compensations retry longer than forward steps', () => {
    expect(transientRetries('RefundPayment')).toBeGreaterThan(transientRetries('ChargePayment'));
    expect(transientRetries('ReleaseInventory')).toBeGreaterThan(transientRetries('ReserveInventory'));
  });

  test('transient:N on payment completes up to the ASL’s retries and is cancelled one past them', () => {
    const n = transientRetries('ChargePayment');
    expect(expectedOrderStatus([parseFailSpec(`payment:transient:${n}`)])).toBe('COMPLETED');
    expect(expectedOrderStatus([parseFailSpec(`payment:transient:${n + 1}`)])).toBe('CANCELLED');
  });
});

describe('expectedOrderStatus (contract retriers: forward 3, compensations 6)', () => {
  test.each([
    [[], 'COMPLETED'],
    // Payment: a decline fails the order; any other failure for good cancels it (nothing was charged).
    [['payment'], 'FAILED'],
    [['payment:transient:3'], 'COMPLETED'],
    [['payment:transient:4'], 'CANCELLED'],
    [['payment:throttle:3'], 'COMPLETED'],
    [['payment:throttle:4'], 'CANCELLED'],
    [['payment:timeout'], 'CANCELLED'],
    [['payment:timeout', 'refund:error'], 'CANCELLED'],
    [['payment:transient:4', 'refund:error'], 'CANCELLED'],
    [['payment', 'refund:error'], 'FAILED'],
    // Unknown outcomes are retried and answered from the ledger; latency only slows.
    [['payment:crash-after-commit'], 'COMPLETED'],
    [['payment:die-after-commit'], 'COMPLETED'],
    [['payment:timeout-after-commit'], 'COMPLETED'],
    [['inventory:die-after-commit'], 'COMPLETED'],
    [['shipping:timeout-after-commit'], 'COMPLETED'],
    [['payment:latency:500'], 'COMPLETED'],
    // Inventory: cancelled; only the refund can fail it (the release has nothing to undo).
    [['inventory'], 'CANCELLED'],
    [['inventory:timeout'], 'CANCELLED'],
    [['inventory:transient:3'], 'COMPLETED'],
    [['inventory:throttle:4'], 'CANCELLED'],
    [['inventory', 'refund:error'], 'COMPENSATION_FAILED'],
    [['inventory', 'refund:timeout'], 'COMPENSATION_FAILED'],
    [['inventory', 'release:error'], 'CANCELLED'],
    // Shipping: cancelled; the release or the refund failing for good fails the compensation.
    [['shipping'], 'CANCELLED'],
    [['shipping:timeout'], 'CANCELLED'],
    [['shipping:throttle:4'], 'CANCELLED'],
    [['shipping', 'refund:error'], 'COMPENSATION_FAILED'],
    [['shipping', 'release:error'], 'COMPENSATION_FAILED'],
    [['shipping', 'release:throttle:7'], 'COMPENSATION_FAILED'],
    [['shipping', 'refund:transient:6'], 'CANCELLED'],
    [['shipping', 'refund:transient:7'], 'COMPENSATION_FAILED'],
    [['shipping', 'refund:crash-after-commit'], 'CANCELLED'],
    // Compensations that never run do not matter; the first forward step that fails for good decides.
    [['refund:error', 'release:error'], 'COMPLETED'],
    [['payment', 'inventory', 'shipping'], 'FAILED'],
    [['inventory', 'shipping', 'release:error'], 'CANCELLED'],
  ])('%j → %s', (specs, status) => {
    expect(expected(...specs)).toBe(status);
  });
});

describe('expectedOutcome', () => {
  const flag = (spec: string, rate?: number): InjectedFlag => ({ ...parseFailSpec(spec), rate });

  test('without rates it is the predictable status', () => {
    expect(expectedOutcome([flag('shipping'), flag('refund:error')], CONTRACT)).toEqual({
      predictable: true,
      status: 'COMPENSATION_FAILED',
    });
  });

  test('a rate below 1 on a flag that decides makes it unpredictable, naming the flag and the outcomes', () => {
    const outcome = expectedOutcome([flag('inventory:error', 0.5)], CONTRACT);
    expect(outcome).toEqual({
      predictable: false,
      possible: ['COMPLETED', 'CANCELLED'],
      reason: 'inventory:error (rate 0.5) may or may not hit',
    });
  });

  test('a rate on a flag that cannot change the outcome keeps it predictable', () => {
    // The refund never runs for a completed order; a transient failure within the retries never decides.
    expect(expectedOutcome([flag('refund:error', 0.3)], CONTRACT)).toEqual({
      predictable: true,
      status: 'COMPLETED',
    });
    expect(expectedOutcome([flag('payment:transient:2', 0.3)], CONTRACT)).toEqual({
      predictable: true,
      status: 'COMPLETED',
    });
  });

  test('rate 1 hits every invocation; rate 0 none', () => {
    expect(expectedOutcome([flag('shipping', 1)], CONTRACT)).toEqual({
      predictable: true,
      status: 'CANCELLED',
    });
    expect(expectedOutcome([flag('shipping', 0)], CONTRACT)).toEqual({
      predictable: true,
      status: 'COMPLETED',
    });
  });
});

describe('mayFailCompensation', () => {
  test('a refund or release failing for good, whatever its rate; not a forward step, not a curable one', () => {
    expect(mayFailCompensation([parseFailSpec('refund:error')], CONTRACT)).toBe(true);
    expect(mayFailCompensation([{ ...parseFailSpec('release:timeout'), rate: 0.2 }], CONTRACT)).toBe(true);
    expect(mayFailCompensation([parseFailSpec('shipping')], CONTRACT)).toBe(false);
    expect(mayFailCompensation([parseFailSpec('refund:transient:6')], CONTRACT)).toBe(false);
    expect(mayFailCompensation([{ ...parseFailSpec('refund:error'), rate: 0 }], CONTRACT)).toBe(false);
  });
});
