import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { parseFailSpec } from '../../services/shared/failure-flags.ts';
import { expectedOrderStatus, STEP_STATES, transientRetries } from './expectations.ts';

const asl = JSON.parse(
  readFileSync(new URL('../../state-machines/order-saga.asl.json', import.meta.url), 'utf8'),
) as {
  States: Record<string, { Type: string }>;
};

const expected = (...specs: string[]) => expectedOrderStatus(specs.map(parseFailSpec));

describe('transientRetries reads the real ASL', () => {
  test('every step state exists in the state machine as a Task', () => {
    for (const state of Object.values(STEP_STATES)) expect(asl.States[state]?.Type, state).toBe('Task');
  });

  test('forward steps retry TransientError 3 times, compensations (States.ALL) 6 times', () => {
    expect(transientRetries('ChargePayment')).toBe(3);
    expect(transientRetries('ReserveInventory')).toBe(3);
    expect(transientRetries('ShipOrder')).toBe(3);
    expect(transientRetries('RefundPayment')).toBe(6);
    expect(transientRetries('ReleaseInventory')).toBe(6);
  });

  test('a state without a retrier for it gives 0', () => {
    expect(transientRetries('OrderCompleted')).toBe(0);
    expect(transientRetries('NoSuchState')).toBe(0);
  });
});

describe('expectedOrderStatus', () => {
  test.each([
    [[], 'COMPLETED'],
    [['payment:transient:2'], 'COMPLETED'],
    [['payment:transient:3'], 'COMPLETED'],
    [['payment:transient:4'], 'FAILED'],
    [['payment'], 'FAILED'],
    [['payment:timeout'], 'FAILED'],
    [['payment:crash-after-commit'], 'COMPLETED'],
    [['payment:latency:500'], 'COMPLETED'],
    [['inventory'], 'CANCELLED'],
    [['inventory:transient:3'], 'COMPLETED'],
    [['inventory:transient:4'], 'CANCELLED'],
    [['shipping'], 'CANCELLED'],
    [['shipping:timeout'], 'CANCELLED'],
    [['shipping', 'refund:error'], 'COMPENSATION_FAILED'],
    [['shipping', 'release:error'], 'COMPENSATION_FAILED'],
    [['shipping', 'refund:transient:6'], 'CANCELLED'],
    [['shipping', 'refund:transient:7'], 'COMPENSATION_FAILED'],
    [['inventory', 'refund:error'], 'COMPENSATION_FAILED'],
    // Inventory failing means nothing was reserved: ReleaseInventory does not run.
    [['inventory', 'release:error'], 'CANCELLED'],
    // Payment failing means nothing to undo: a broken refund does not matter.
    [['payment', 'refund:error'], 'FAILED'],
    // Compensations that never run do not matter.
    [['refund:error', 'release:error'], 'COMPLETED'],
    // The first forward step that fails for good decides.
    [['payment', 'inventory', 'shipping'], 'FAILED'],
    [['inventory', 'shipping'], 'CANCELLED'],
  ])('%j → %s', (specs, status) => {
    expect(expected(...specs)).toBe(status);
  });
});
