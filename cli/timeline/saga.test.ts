import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { type HistoryEventLike, parseHistoryFile } from './history.ts';
import { buildTimeline, type TimelineModel } from './model.ts';
import { ORDER_SAGA, readSagaDefinition, type SagaDefinition } from './saga.ts';

const ASL_PATH = join(import.meta.dirname, '..', '..', 'state-machines', 'order-saga.asl.json');
const FIXTURES = join(import.meta.dirname, 'fixtures');

type Json = Record<string, unknown>;

/** The order saga's definition as the repository has it now. */
const current = (): { StartAt: string; States: Record<string, Json> } =>
  JSON.parse(readFileSync(ASL_PATH, 'utf8')) as { StartAt: string; States: Record<string, Json> };

/**
 * The definition before COMPENSATION_FAILED became redrivable: MarkCompensationFailed went to a Fail state
 * `CompensationFailed`, and there were no Retry* compensations.
 */
function withoutRetries(): SagaDefinition {
  const definition = current();
  const States = { ...definition.States };
  for (const name of Object.keys(States)) {
    if (name.startsWith('Retry')) delete States[name];
  }
  States.MarkCompensationFailed = { ...States.MarkCompensationFailed, Next: 'CompensationFailed' };
  States.CompensationFailed = {
    Type: 'Fail',
    Error: 'CompensationFailed',
    Cause: 'A compensation kept failing; the order is COMPENSATION_FAILED.',
  };
  return { ...definition, States };
}

/** The definition with the two compensations run once more after MarkCompensationFailed (the redrive point). */
function withRetries(): SagaDefinition {
  const definition = withoutRetries();
  const task = (forward: string, next: string): Json => ({
    Type: 'Task',
    Comment: `Compensation of ${forward}, again (COMPENSATION_FAILED): no Catch, a redrive restarts here.`,
    Resource: 'arn:aws:states:::lambda:invoke',
    Next: next,
  });
  const { CompensationFailed: _gone, ...States } = definition.States;
  return {
    ...definition,
    States: {
      ...States,
      MarkCompensationFailed: { ...(States.MarkCompensationFailed as Json), Next: 'RetryReleaseInventory' },
      RetryReleaseInventory: task('ReserveInventory', 'RetryRefundPayment'),
      RetryRefundPayment: task('ChargePayment', 'MarkOrderCancelled'),
    },
  };
}

const STATUS_WRITES = {
  MarkOrderCompleted: { status: 'COMPLETED', from: ['PENDING'] },
  MarkOrderFailed: { status: 'FAILED', from: ['PENDING'] },
  CancelOrder: { status: 'CANCELLING', from: ['PENDING'] },
  MarkOrderCancelled: { status: 'CANCELLED', from: ['CANCELLING', 'COMPENSATION_FAILED'] },
  MarkCompensationFailed: { status: 'COMPENSATION_FAILED', from: ['CANCELLING', 'COMPENSATION_FAILED'] },
};

describe('the saga reading of a definition', () => {
  test('before the Retry* states: pairs from the Comments, the cancel decision, the checkpoint, the writes', () => {
    const reading = readSagaDefinition(withoutRetries());
    expect(reading.compensations).toEqual({
      ReleaseInventory: 'ReserveInventory',
      RefundPayment: 'ChargePayment',
    });
    expect(reading.compensationStarts).toEqual(['CancelOrder']);
    expect(reading.checkpoints).toEqual({ CheckOrder: 'check' });
    expect(reading.statusWrites).toEqual(STATUS_WRITES);
    expect([...reading.definiteErrors].sort()).toEqual(
      [
        'IdempotencyValidationError',
        'InvalidInputError',
        'OrderNotPending',
        'OutOfStock',
        'PaymentDeclined',
        'ShippingUnavailable',
      ].sort(),
    );
    expect(reading.notes).toEqual({
      CancelOrder: 'decided to compensate (PENDING → CANCELLING)',
      AlreadySettled: 'already settled, nothing ran',
      OrderNotFound: 'no such order',
    });
    expect(reading.pairByName).toBe(false);
  });

  test('with RetryReleaseInventory and RetryRefundPayment: both are compensations of the forward step named', () => {
    const reading = readSagaDefinition(withRetries());
    expect(reading.compensations).toEqual({
      ReleaseInventory: 'ReserveInventory',
      RefundPayment: 'ChargePayment',
      RetryReleaseInventory: 'ReserveInventory',
      RetryRefundPayment: 'ChargePayment',
    });
    // Uncaught, they start nothing; the writes are the same.
    expect(reading.compensationStarts).toEqual(['CancelOrder']);
    expect(reading.statusWrites).toEqual(STATUS_WRITES);
  });

  test('the repository definition is read the same way (whichever of the two it is now)', () => {
    const reading = ORDER_SAGA;
    expect(reading.compensations).toMatchObject({
      ReleaseInventory: 'ReserveInventory',
      RefundPayment: 'ChargePayment',
    });
    for (const [compensation, forward] of Object.entries(reading.compensations)) {
      expect(current().States[compensation]?.Comment).toMatch(new RegExp(`^Compensation of ${forward}\\b`));
    }
    expect(reading.statusWrites).toEqual(STATUS_WRITES);
    expect(reading.compensationStarts).toEqual(['CancelOrder']);
  });

  test('a Comment naming no state, or another state type, pairs nothing', () => {
    const reading = readSagaDefinition({
      StartAt: 'A',
      States: {
        A: { Type: 'Task', Comment: 'Compensation of Nothing here', Next: 'B' },
        B: { Type: 'Pass', Comment: 'Compensation of A', Next: 'C' },
        C: { Type: 'Task', Comment: 'Compensation of AB', End: true },
      },
    });
    expect(reading.compensations).toEqual({});
    expect(reading.pairByName).toBe(true);
    expect(reading.statusWrites).toEqual({});
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Histories

interface Step {
  readonly name: string;
  readonly type?: string;
  /** ok (default), caught (failed, a Catch moved on), or failed (uncaught: the execution fails here). */
  readonly outcome?: 'ok' | 'caught' | 'failed';
  readonly error?: string;
  readonly output?: unknown;
}

/** A straight-line history: each step entered, (Task) scheduled and succeeded or failed, exited. */
function history(
  steps: readonly Step[],
  end: { redriven?: boolean; failed?: string } = {},
): HistoryEventLike[] {
  const events: HistoryEventLike[] = [];
  const add = (event: HistoryEventLike) => {
    const id = events.length + 1;
    events.push({ ...event, id, previousEventId: id - 1, timestamp: id * 1000 });
  };
  if (end.redriven === true)
    add({ type: 'ExecutionRedriven', executionRedrivenEventDetails: { redriveCount: 1 } });
  else add({ type: 'ExecutionStarted', executionStartedEventDetails: { input: '{}' } });
  for (const { name, type = 'Task', outcome = 'ok', error = 'TransientError', output = {} } of steps) {
    add({ type: `${type}StateEntered`, stateEnteredEventDetails: { name, input: '{}' } });
    if (type === 'Task') {
      add({
        type: 'TaskScheduled',
        taskScheduledEventDetails: { resourceType: 'lambda', resource: 'invoke' },
      });
      add(
        outcome === 'ok'
          ? { type: 'TaskSucceeded', taskSucceededEventDetails: { output: '{}' } }
          : { type: 'TaskFailed', taskFailedEventDetails: { error, cause: `${error} in ${name}` } },
      );
    }
    if (outcome === 'failed') {
      add({ type: 'ExecutionFailed', executionFailedEventDetails: { error, cause: `${error} in ${name}` } });
      return events;
    }
    if (type !== 'Fail')
      add({ type: `${type}StateExited`, stateExitedEventDetails: { name, output: JSON.stringify(output) } });
  }
  if (end.failed !== undefined)
    add({ type: 'ExecutionFailed', executionFailedEventDetails: { error: end.failed } });
  else add({ type: 'ExecutionSucceeded', executionSucceededEventDetails: { output: '{}' } });
  return events;
}

const CHECK_PENDING = { check: { Item: { status: { S: 'PENDING' } } } };

/** Shipping fails, the release keeps failing: MarkCompensationFailed, then the release once more, uncaught. */
const compensationFailedForGood: Step[] = [
  { name: 'CheckOrder', output: CHECK_PENDING },
  { name: 'RouteOrder', type: 'Choice' },
  { name: 'ChargePayment' },
  { name: 'ReserveInventory' },
  { name: 'ShipOrder', outcome: 'caught', error: 'ShippingUnavailable' },
  { name: 'CancelOrder' },
  { name: 'ReleaseInventory', outcome: 'caught' },
  { name: 'RefundPayment' },
  { name: 'CompensationsDone', type: 'Choice' },
  { name: 'MarkCompensationFailed' },
  { name: 'RetryReleaseInventory', outcome: 'failed' },
];

/** The redrive of it: the release runs again and succeeds; the order is cancelled. */
const redriven: Step[] = [
  { name: 'RetryReleaseInventory' },
  { name: 'MarkOrderCancelled' },
  { name: 'OrderCancelled', type: 'Fail' },
];

const phases = (model: TimelineModel) =>
  model.entries.map((entry) => [entry.state, entry.phase, entry.status, entry.compensates]);

describe('a compensation that failed for good, then its redrive (the Retry* states)', () => {
  for (const [label, definition] of [
    ['the order saga by default', undefined],
    ['the definition with the Retry* states given', withRetries()],
  ] as const) {
    test(`${label}: FAILED at RetryReleaseInventory with its error, the order COMPENSATION_FAILED`, () => {
      const model = buildTimeline(history(compensationFailedForGood), { definition });
      expect(phases(model).slice(5)).toEqual([
        ['CancelOrder', 'compensation', 'succeeded', undefined],
        ['ReleaseInventory', 'compensation', 'caught', 'ReserveInventory'],
        ['RefundPayment', 'compensation', 'succeeded', 'ChargePayment'],
        ['CompensationsDone', 'compensation', 'succeeded', undefined],
        ['MarkCompensationFailed', 'compensation', 'succeeded', undefined],
        ['RetryReleaseInventory', 'compensation', 'failed', 'ReserveInventory'],
      ]);
      expect(model.summary).toMatchObject({
        status: 'FAILED',
        error: 'TransientError',
        cause: 'TransientError in RetryReleaseInventory',
        failState: undefined,
        // The last write that succeeded: the failed retry wrote nothing.
        orderStatus: 'COMPENSATION_FAILED',
        compensatedInReverse: false,
        uncompensated: ['ReserveInventory'],
      });
    });

    test(`${label}: redriven, the release succeeds and the order ends CANCELLED, compensated in reverse`, () => {
      const first = history(compensationFailedForGood);
      const second = history(redriven, { redriven: true, failed: 'OrderCancelled' }).map((event) => ({
        ...event,
        id: (event.id ?? 0) + first.length,
        previousEventId: (event.previousEventId ?? 0) + first.length,
        timestamp: Number(event.timestamp) + first.length * 1000,
      }));
      const model = buildTimeline([...first, ...second], { definition });
      expect(phases(model).slice(-3)).toEqual([
        ['RetryReleaseInventory', 'compensation', 'succeeded', 'ReserveInventory'],
        ['MarkOrderCancelled', 'compensation', 'succeeded', undefined],
        ['OrderCancelled', 'final', 'failed', undefined],
      ]);
      expect(model.summary).toMatchObject({
        status: 'FAILED',
        redrives: 1,
        orderStatus: 'CANCELLED',
        // The release was attempted first (and failed); its retry keeps that place in the order.
        compensatedInReverse: true,
        uncompensated: [],
      });
    });
  }

  test('with the definition before the Retry* states, the same history has no pair for the retry', () => {
    const model = buildTimeline(history(compensationFailedForGood), { definition: withoutRetries() });
    expect(model.entries.at(-1)).toMatchObject({ state: 'RetryReleaseInventory', compensates: undefined });
    expect(model.summary.orderStatus).toBe('COMPENSATION_FAILED');
  });

  test('the ending of the definition before them (the Fail state CompensationFailed) still reads', () => {
    const model = buildTimeline(
      history(
        [
          ...compensationFailedForGood.slice(0, -1),
          { name: 'CompensationFailed', type: 'Fail', error: 'CompensationFailed' },
        ],
        { failed: 'CompensationFailed' },
      ),
    );
    expect(model.summary).toMatchObject({
      status: 'FAILED',
      failState: 'CompensationFailed',
      orderStatus: 'COMPENSATION_FAILED',
      compensatedInReverse: false,
      uncompensated: ['ReserveInventory'],
    });
  });
});

describe('histories with no definition', () => {
  const shipping = () =>
    parseHistoryFile(readFileSync(join(FIXTURES, 'saga-shipping-fails.json'), 'utf8')) as HistoryEventLike[];

  test('definition null: pairs by name stems, and no order status', () => {
    const model = buildTimeline(shipping(), { definition: null });
    expect(model.entries.filter((e) => e.compensates).map((e) => [e.state, e.compensates])).toEqual([
      ['ReleaseInventory', 'ReserveInventory'],
      ['RefundPayment', 'ChargePayment'],
    ]);
    expect(model.summary).toMatchObject({ orderStatus: null, compensatedInReverse: true });
  });

  test('a definition whose Comments name the compensations: its pairs, not the names', () => {
    const definition: SagaDefinition = {
      StartAt: 'BookHotel',
      States: {
        BookHotel: { Type: 'Task', Next: 'BookFlight' },
        BookFlight: { Type: 'Task', Next: 'Pay', Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Undo1' }] },
        Pay: { Type: 'Task', End: true },
        Undo1: { Type: 'Task', Comment: 'Compensation of BookHotel', Next: 'CancelFlight' },
        // Named like a compensation, but the definition says nothing: not paired.
        CancelFlight: { Type: 'Task', End: true },
      },
    };
    const model = buildTimeline(
      history(
        [
          { name: 'BookHotel' },
          { name: 'BookFlight', outcome: 'caught' },
          { name: 'Undo1' },
          { name: 'CancelFlight' },
        ],
        {},
      ),
      { definition },
    );
    expect(phases(model)).toEqual([
      ['BookHotel', 'forward', 'succeeded', undefined],
      ['BookFlight', 'forward', 'caught', undefined],
      ['Undo1', 'compensation', 'succeeded', 'BookHotel'],
      ['CancelFlight', 'compensation', 'succeeded', undefined],
    ]);
    // No order status: the definition writes none.
    expect(model.summary).toMatchObject({ orderStatus: null, compensatedInReverse: true });
  });
});
