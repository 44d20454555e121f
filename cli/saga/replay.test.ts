import { describe, expect, test } from 'vitest';
import { UserError } from '../errors.ts';
import type { Ledger } from '../target/ledger.ts';
import {
  answeredLine,
  countAnsweredBy,
  duplicateSideEffects,
  forwardStepFunctions,
  guardAnswered,
  type ReplayObservations,
  stepPayloads,
  verdictOf,
} from './replay.ts';

const ID = '01JD8Z6Q3M4N5P6R7S8T9V0W1X';
const completed: Ledger = { charges: 1, refunds: 0, reservations: 2, releases: 0, shipments: 1 };
const cancelled: Ledger = { charges: 1, refunds: 1, reservations: 2, releases: 2, shipments: 0 };

describe('duplicateSideEffects', () => {
  test('a settled order may gain nothing', () => {
    expect(duplicateSideEffects('COMPLETED', completed, completed)).toBe(0);
    expect(duplicateSideEffects('CANCELLED', cancelled, { ...cancelled, shipments: 1 })).toBe(1);
    expect(duplicateSideEffects('COMPLETED', completed, { ...completed, refunds: 1, releases: 2 })).toBe(3);
  });

  test('an order being compensated may gain the refund and releases it owes, nothing forward', () => {
    const stuck: Ledger = { charges: 1, refunds: 0, reservations: 2, releases: 0, shipments: 0 };
    expect(duplicateSideEffects('COMPENSATION_FAILED', stuck, cancelled)).toBe(0);
    expect(duplicateSideEffects('CANCELLING', stuck, { ...cancelled, shipments: 1 })).toBe(1);
    // A refund for an order that was never charged is not owed.
    const uncharged: Ledger = { charges: 0, refunds: 0, reservations: 0, releases: 0, shipments: 0 };
    expect(duplicateSideEffects('COMPENSATION_FAILED', uncharged, { ...uncharged, refunds: 1 })).toBe(1);
  });

  test('an unfinished PENDING order may gain the steps it had not reached, no second row of a kind it had', () => {
    const charged: Ledger = { charges: 1, refunds: 0, reservations: 0, releases: 0, shipments: 0 };
    expect(duplicateSideEffects('PENDING', charged, completed)).toBe(0);
    expect(duplicateSideEffects('PENDING', charged, { ...completed, charges: 2 })).toBe(1);
  });
});

describe('verdictOf', () => {
  test('idempotent when nothing was added and a settled status stayed', () => {
    expect(verdictOf({ before: 'CANCELLED', after: 'CANCELLED' }, 0)).toBe('idempotent');
  });

  test('DUPLICATES when a settled status changed, even without a new side effect', () => {
    expect(verdictOf({ before: 'CANCELLED', after: 'COMPLETED' }, 0)).toBe('DUPLICATES');
  });

  test('DUPLICATES when a side effect was added', () => {
    expect(verdictOf({ before: 'COMPLETED', after: 'COMPLETED' }, 1)).toBe('DUPLICATES');
  });

  test('an unsettled order may move on (the replay finishes or resumes its saga)', () => {
    expect(verdictOf({ before: 'COMPENSATION_FAILED', after: 'CANCELLED' }, 0)).toBe('idempotent');
    expect(verdictOf({ before: 'PENDING', after: 'COMPLETED' }, 0)).toBe('idempotent');
  });
});

describe('guardAnswered', () => {
  test('AlreadySettled, or a refused conditional Mark/Cancel write', () => {
    expect(
      guardAnswered([
        { state: 'CheckOrder', status: 'succeeded' },
        { state: 'AlreadySettled', status: 'succeeded' },
      ]),
    ).toBe(true);
    expect(
      guardAnswered([
        { state: 'MarkOrderCompleted', status: 'caught', error: 'DynamoDB.ConditionalCheckFailedException' },
      ]),
    ).toBe(true);
    expect(
      guardAnswered([
        { state: 'CancelOrder', status: 'caught', error: 'DynamoDb.TransactionCanceledException' },
      ]),
    ).toBe(true);
  });

  test('not a run that went forward, nor a Mark that failed for another reason', () => {
    expect(
      guardAnswered([
        { state: 'ChargePayment', status: 'succeeded' },
        { state: 'OrderCompleted', status: 'succeeded' },
      ]),
    ).toBe(false);
    expect(
      guardAnswered([{ state: 'MarkOrderCompleted', status: 'caught', error: 'States.TaskFailed' }]),
    ).toBe(false);
  });
});

describe('countAnsweredBy', () => {
  const none = { idempotencyHits: 0, ledgerHits: 0, nameDedupes: 0 };
  const seen = (partial: Partial<ReplayObservations>): ReplayObservations => ({
    executions: [],
    steps: [],
    logs: none,
    before: completed,
    added: 0,
    ...partial,
  });

  test('sfn on a settled order: every execution answered by the guard', () => {
    const settled = [
      { state: 'CheckOrder', status: 'succeeded' },
      { state: 'AlreadySettled', status: 'succeeded' },
    ];
    expect(countAnsweredBy(seen({ executions: [settled, settled, settled] }))).toEqual({
      guard: 3,
      idempotencyStore: 0,
      ledger: 0,
      nameDedupe: 0,
    });
  });

  test('steps: log lines count for the idempotency store and the ledger', () => {
    const ok = (step: 'charge' | 'reserve' | 'ship') => ({ step, ok: true });
    expect(
      countAnsweredBy(
        seen({
          steps: [ok('charge'), ok('reserve'), ok('ship')],
          logs: { ...none, idempotencyHits: 2, ledgerHits: 1 },
        }),
      ),
    ).toEqual({ guard: 0, idempotencyStore: 2, ledger: 1, nameDedupe: 0 });
  });

  test('steps without log lines: an answer that added nothing is inferred to come from the ledger', () => {
    const steps = [
      { step: 'charge' as const, ok: true },
      { step: 'reserve' as const, ok: true },
    ];
    expect(countAnsweredBy(seen({ steps })).ledger).toBe(2);
    // When the replay added a row, nothing is inferred: something did run.
    expect(countAnsweredBy(seen({ steps, added: 1 })).ledger).toBe(0);
  });

  test('OrderNotPending: from the record when the step was undone, else from the guard', () => {
    const steps = [
      { step: 'charge' as const, ok: false, error: 'OrderNotPending' },
      { step: 'reserve' as const, ok: false, error: 'OrderNotPending' },
      { step: 'ship' as const, ok: false, error: 'OrderNotPending' },
    ];
    expect(countAnsweredBy(seen({ steps, before: cancelled }))).toMatchObject({ ledger: 2, guard: 1 });
    // Nothing charged or reserved: the order row refused them all.
    const nothing: Ledger = { charges: 0, refunds: 0, reservations: 0, releases: 0, shipments: 0 };
    expect(countAnsweredBy(seen({ steps, before: nothing }))).toMatchObject({ ledger: 0, guard: 3 });
  });

  test('outbox: the publisher’s dedupe lines', () => {
    expect(countAnsweredBy(seen({ logs: { ...none, nameDedupes: 2 } })).nameDedupe).toBe(2);
  });
});

describe('answeredLine', () => {
  test('names the layers that answered, in the order they stand, with every count', () => {
    expect(answeredLine({ guard: 0, idempotencyStore: 3, ledger: 1, nameDedupe: 0 })).toBe(
      "Answered by the idempotency store, then the side effects' own records (guard 0 · idempotency store 3 · ledger 1 · name dedupe 0).",
    );
    expect(answeredLine({ guard: 0, idempotencyStore: 0, ledger: 0, nameDedupe: 0 })).toMatch(
      /^Answered by no layer: the replay ran the saga's steps/,
    );
  });
});

describe('forwardStepFunctions and stepPayloads', () => {
  test('finds the forward steps among the stack’s function names', () => {
    const names =
      'Saga-OrderFunctionA1B2-x, Saga-ChargePaymentFunction9XyZ-a,Saga-RefundPaymentFunctionQ-b,' +
      'Saga-ReserveInventoryFunctionR-c,Saga-ShipOrderFunctionS-d';
    expect(forwardStepFunctions(names)).toEqual({
      charge: 'Saga-ChargePaymentFunction9XyZ-a',
      reserve: 'Saga-ReserveInventoryFunctionR-c',
      ship: 'Saga-ShipOrderFunctionS-d',
    });
  });

  test('a missing one is a UserError naming what was received', () => {
    expect(() => forwardStepFunctions('Saga-OrderFunction-x')).toThrowError(UserError);
    expect(() => forwardStepFunctions('Saga-OrderFunction-x')).toThrowError(
      'lists no ChargePayment function (received "Saga-OrderFunction-x")',
    );
  });

  test('the payloads the ASL builds, with their idempotency keys', () => {
    const items = [{ sku: 'espresso-beans', qty: 1 }];
    expect(stepPayloads({ orderId: ID, amount: 1300, currency: 'EUR', items })).toEqual({
      charge: { orderId: ID, amount: 1300, currency: 'EUR', idempotency_key: `${ID}#charge` },
      reserve: { orderId: ID, items, idempotency_key: `${ID}#reserve` },
      ship: { orderId: ID, items, idempotency_key: `${ID}#ship` },
    });
  });
});
