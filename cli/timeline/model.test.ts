import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { type HistoryEventLike, parseHistoryFile } from './history.ts';
import { buildTimeline, causeMessage, type TimelineEntry, type TimelineModel } from './model.ts';

const AWS_FIXTURES = fileURLToPath(new URL('../../test/fixtures/aws-history', import.meta.url));
const SAGA_FIXTURES = join(import.meta.dirname, 'fixtures');

const load = (folder: string, name: string) => parseHistoryFile(readFileSync(join(folder, name), 'utf8'));
const aws = (name: string) => buildTimeline(load(AWS_FIXTURES, name));
const saga = (name: string) => buildTimeline(load(SAGA_FIXTURES, name));

/** The per-visit facts most assertions look at. */
const visits = (model: TimelineModel) =>
  model.entries.map((entry) => ({
    state: entry.state,
    type: entry.stateType,
    status: entry.status,
    phase: entry.phase,
    attempts: entry.attempts,
  }));
const entry = (model: TimelineModel, state: string): TimelineEntry => {
  const found = model.entries.find((candidate) => candidate.state === state);
  if (found === undefined)
    throw new Error(`no entry ${state} in ${model.entries.map((e) => e.state).join(', ')}`);
  return found;
};

/** Re-encodes parsed JSON fields as the real API sends them (JSON strings). */
function asApiStrings(events: readonly HistoryEventLike[]): HistoryEventLike[] {
  return JSON.parse(
    JSON.stringify(events, (key, value: unknown) =>
      ['input', 'output', 'parameters', 'cause'].includes(key) && typeof value === 'object' && value !== null
        ? JSON.stringify(value)
        : value,
    ),
  ) as HistoryEventLike[];
}

interface Expected {
  readonly visits: ReturnType<typeof visits>;
  readonly status: TimelineModel['summary']['status'];
  readonly transitions: number;
  readonly check?: (model: TimelineModel) => void;
}

const S = 'succeeded';
const AWS_EXPECTED: Record<string, Expected> = {
  '01-lambda-invoke-success.json': {
    visits: [
      { state: 'Start', type: 'Task', status: S, phase: 'forward', attempts: 1 },
      { state: 'EndWithFinal', type: 'Pass', status: S, phase: 'forward', attempts: 1 },
    ],
    status: 'SUCCEEDED',
    transitions: 2,
    check: (model) => {
      expect(entry(model, 'Start').resource).toBe('lambda:invoke');
      expect(entry(model, 'Start').durationMs).toBe(4000);
      expect(model.summary.durationMs).toBe(8000);
    },
  },
  '02-lambda-invoke-retry-then-catch.json': {
    visits: [
      { state: 'InvokeLambdaWithRetry', type: 'Task', status: 'caught', phase: 'forward', attempts: 4 },
      { state: 'HandleError', type: 'Pass', status: S, phase: 'compensation', attempts: 1 },
    ],
    status: 'SUCCEEDED',
    transitions: 5,
    check: (model) => {
      const task = entry(model, 'InvokeLambdaWithRetry');
      // Synthetic timestamps 1 s apart: TaskFailed at n, next TaskScheduled at n+1.
      expect(task.backoffMs).toEqual([1000, 1000, 1000]);
      expect(task.errors.map((e) => [e.attempt, e.error, e.message])).toEqual([
        [1, 'Exception', 'Some exception was raised.'],
        [2, 'Exception', 'Some exception was raised.'],
        [3, 'Exception', 'Some exception was raised.'],
        [4, 'Exception', 'Some exception was raised.'],
      ]);
      expect(task.error).toBe('Exception');
      expect(task.cause).toBe('Some exception was raised.');
      expect(task.errors[3]?.rawCause).toContain('"requestId":"<uuid:4>"');
    },
  },
  '03-lambda-invoke-catch-to-pass.json': {
    visits: [
      { state: 'Start', type: 'Task', status: 'caught', phase: 'forward', attempts: 1 },
      { state: 'EndWithStateTaskFailedHandler', type: 'Pass', status: S, phase: 'compensation', attempts: 1 },
    ],
    status: 'SUCCEEDED',
    transitions: 2,
    check: (model) => {
      expect(entry(model, 'Start')).toMatchObject({
        error: 'Exception',
        cause: 'Some exception was raised.',
        backoffMs: [],
      });
    },
  },
  '04-dynamodb-putitem-getitem-success.json': {
    visits: [
      { state: 'PutItem', type: 'Task', status: S, phase: 'forward', attempts: 1 },
      { state: 'GetItem', type: 'Task', status: S, phase: 'forward', attempts: 1 },
    ],
    status: 'SUCCEEDED',
    transitions: 2,
    check: (model) => {
      expect(model.entries.map((e) => e.resource)).toEqual(['dynamodb:putItem', 'dynamodb:getItem']);
    },
  },
  '05-choice-then-pass.json': {
    visits: [
      { state: 'Choice State', type: 'Choice', status: S, phase: 'forward', attempts: 1 },
      { state: 'NEXT_STATE_ONE', type: 'Pass', status: S, phase: 'forward', attempts: 1 },
    ],
    status: 'SUCCEEDED',
    transitions: 2,
  },
  '06-lambda-arn-two-tasks-success.json': {
    visits: [
      { state: 'step1', type: 'Task', status: S, phase: 'forward', attempts: 1 },
      { state: 'step2', type: 'Task', status: S, phase: 'forward', attempts: 1 },
    ],
    status: 'SUCCEEDED',
    transitions: 2,
    check: (model) => {
      // LambdaFunction* events (a plain function ARN as Resource) are attempts like Task* events.
      expect(entry(model, 'step1').resource).toBe(
        'arn:<partition>:lambda:<region>:111111111111:function:<lambda_function_1_name>',
      );
      expect(entry(model, 'step2').durationMs).toBe(4000);
    },
  },
  '07-task-choice-fail-state.json': {
    visits: [
      { state: 'Add Pet to Store', type: 'Task', status: S, phase: 'forward', attempts: 1 },
      { state: 'Pet was Added Successfully?', type: 'Choice', status: S, phase: 'forward', attempts: 1 },
      { state: 'Failure', type: 'Fail', status: 'failed', phase: 'final', attempts: 1 },
    ],
    status: 'FAILED',
    transitions: 3,
    check: (model) => {
      expect(model.summary.failState).toBe('Failure');
      // executionFailedEventDetails is {}: no error to report, and none is made up.
      expect(model.summary.error).toBeUndefined();
      expect(entry(model, 'Failure').error).toBeUndefined();
    },
  },
  '08-lambda-invoke-timeout-catch.json': {
    visits: [
      { state: 'Start', type: 'Task', status: 'caught', phase: 'forward', attempts: 1 },
      { state: 'EndWithHandler', type: 'Pass', status: S, phase: 'compensation', attempts: 1 },
    ],
    status: 'SUCCEEDED',
    transitions: 2,
    check: (model) => {
      const start = entry(model, 'Start');
      expect(start.error).toBe('States.Timeout');
      expect(start.cause).toBeUndefined();
      expect(start.errors).toEqual([
        { attempt: 1, error: 'States.Timeout', message: undefined, rawCause: undefined, timedOut: true },
      ]);
    },
  },
};

describe('every real AWS history', () => {
  const files = readdirSync(AWS_FIXTURES).filter((name) => name.endsWith('.json'));

  test('has expectations here', () => {
    expect(files.sort()).toEqual(Object.keys(AWS_EXPECTED).sort());
  });

  test.each(files)('%s: states, attempts, statuses, phases, outcome and errors', (name) => {
    const expected = AWS_EXPECTED[name];
    if (expected === undefined) throw new Error(`no expectations for ${name}`);
    const model = aws(name);
    expect(visits(model)).toEqual(expected.visits);
    expect(model.summary.status).toBe(expected.status);
    expect(model.summary.transitions).toBe(expected.transitions);
    expect(model.summary.priceUsd).toBeCloseTo(expected.transitions * 0.000025, 12);
    expect(model.summary.orderStatus).toBeNull();
    expect(model.summary.compensatedInReverse).toBeNull();
    expect(model.summary.eventCount).toBe(load(AWS_FIXTURES, name).length);
    expected.check?.(model);
  });

  test.each(files)('%s: the same model from JSON-string fields, as the API sends them', (name) => {
    const events = load(AWS_FIXTURES, name);
    const stringified = asApiStrings(events);
    expect(JSON.stringify(stringified)).not.toEqual(JSON.stringify(events));
    expect(buildTimeline(stringified)).toEqual(buildTimeline(events));
  });
});

describe('the order saga (synthetic AWS-shaped histories)', () => {
  test('happy path', () => {
    const model = saga('saga-happy.json');
    expect(visits(model)).toEqual([
      { state: 'ChargePayment', type: 'Task', status: S, phase: 'forward', attempts: 1 },
      { state: 'ReserveInventory', type: 'Task', status: S, phase: 'forward', attempts: 1 },
      { state: 'ShipOrder', type: 'Task', status: S, phase: 'forward', attempts: 1 },
      { state: 'MarkOrderCompleted', type: 'Task', status: S, phase: 'forward', attempts: 1 },
      { state: 'OrderCompleted', type: 'Succeed', status: S, phase: 'final', attempts: 1 },
    ]);
    expect(model.summary).toMatchObject({
      status: 'SUCCEEDED',
      orderStatus: 'COMPLETED',
      compensatedInReverse: null,
      transitions: 5,
      priceUsd: 0.000125,
      durationMs: 645,
      eventCount: 24,
    });
    expect(entry(model, 'ChargePayment')).toMatchObject({
      durationMs: 217,
      resource: 'lambda:invoke',
      backoffMs: [],
    });
    expect(entry(model, 'MarkOrderCompleted').resource).toBe('dynamodb:updateItem');
  });

  test('payment:transient:2 -> 3 attempts with the observed backoff, then success', () => {
    const model = saga('saga-payment-transient.json');
    const charge = entry(model, 'ChargePayment');
    expect(charge).toMatchObject({
      status: 'succeeded',
      attempts: 3,
      backoffMs: [1200, 2900],
      error: undefined,
    });
    expect(charge.errors.map((e) => [e.error, e.message])).toEqual([
      ['TransientError', 'Injected transient failure (2 left)'],
      ['TransientError', 'Injected transient failure (1 left)'],
    ]);
    // Two retries are two more billed transitions.
    expect(model.summary).toMatchObject({
      status: 'SUCCEEDED',
      orderStatus: 'COMPLETED',
      transitions: 7,
      priceUsd: 0.000175,
    });
  });

  test('payment:timeout -> States.Timeout, then the retry succeeds', () => {
    const charge = entry(saga('saga-payment-timeout.json'), 'ChargePayment');
    expect(charge).toMatchObject({ status: 'succeeded', attempts: 2, backoffMs: [640] });
    expect(charge.errors).toMatchObject([{ error: 'States.Timeout', timedOut: true }]);
  });

  test('payment:error -> MarkOrderFailed -> Fail PaymentFailed, nothing to compensate', () => {
    const model = saga('saga-payment-declined.json');
    // A business error committed nothing: MarkOrderFailed settles the order, it is no compensation (issue 13).
    expect(visits(model).map((v) => [v.state, v.status, v.phase])).toEqual([
      ['ChargePayment', 'caught', 'forward'],
      ['MarkOrderFailed', 'succeeded', 'forward'],
      ['PaymentFailed', 'failed', 'final'],
    ]);
    expect(entry(model, 'ChargePayment')).toMatchObject({
      error: 'PaymentDeclined',
      cause: 'Card declined: insufficient funds',
    });
    expect(model.summary).toMatchObject({
      status: 'FAILED',
      error: 'PaymentFailed',
      orderStatus: 'FAILED',
      compensatedInReverse: null,
      transitions: 3,
    });
  });

  test('inventory fails -> RefundPayment -> MarkOrderCancelled -> Fail OrderCancelled', () => {
    const model = saga('saga-inventory-fails.json');
    expect(visits(model).map((v) => [v.state, v.status, v.phase])).toEqual([
      ['ChargePayment', 'succeeded', 'forward'],
      ['ReserveInventory', 'caught', 'forward'],
      ['RefundPayment', 'succeeded', 'compensation'],
      ['MarkOrderCancelled', 'succeeded', 'compensation'],
      ['OrderCancelled', 'failed', 'final'],
    ]);
    expect(entry(model, 'ReserveInventory')).toMatchObject({
      error: 'OutOfStock',
      cause: 'SKU-PEAR: 0 available, 1 requested',
    });
    expect(entry(model, 'RefundPayment').compensates).toBe('ChargePayment');
    expect(entry(model, 'OrderCancelled')).toMatchObject({
      error: 'OrderCancelled',
      cause: 'A forward step failed; the completed steps were compensated and the order is CANCELLED.',
      durationMs: 3,
    });
    expect(model.summary).toMatchObject({
      status: 'FAILED',
      error: 'OrderCancelled',
      failState: 'OrderCancelled',
      orderStatus: 'CANCELLED',
      compensatedInReverse: true,
      uncompensated: [],
      transitions: 5,
    });
  });

  test('shipping fails -> ReleaseInventory, then RefundPayment: compensated in reverse', () => {
    const model = saga('saga-shipping-fails.json');
    expect(visits(model).map((v) => `${v.phase}:${v.state}`)).toEqual([
      'forward:ChargePayment',
      'forward:ReserveInventory',
      'forward:ShipOrder',
      'compensation:ReleaseInventory',
      'compensation:RefundPayment',
      'compensation:MarkOrderCancelled',
      'final:OrderCancelled',
    ]);
    expect(model.entries.map((e) => e.compensates).filter(Boolean)).toEqual([
      'ReserveInventory',
      'ChargePayment',
    ]);
    expect(model.summary).toMatchObject({
      orderStatus: 'CANCELLED',
      compensatedInReverse: true,
      transitions: 7,
    });
  });

  test('a compensation that keeps failing -> MarkCompensationFailed', () => {
    const model = saga('saga-compensation-fails.json');
    const refund = entry(model, 'RefundPayment');
    expect(refund).toMatchObject({
      status: 'caught',
      phase: 'compensation',
      attempts: 7,
      backoffMs: [1300, 3100, 2200, 11800, 6500, 19000],
      error: 'RefundFailed',
      cause: 'Payment provider rejected the refund of ch_3Q9xYz',
    });
    expect(entry(model, 'MarkCompensationFailed').phase).toBe('compensation');
    expect(model.summary).toMatchObject({
      status: 'FAILED',
      error: 'CompensationFailed',
      orderStatus: 'COMPENSATION_FAILED',
      compensatedInReverse: false,
      uncompensated: ['ChargePayment'],
      // 7 states entered + 6 retries of RefundPayment
      transitions: 13,
      priceUsd: 0.000325,
    });
  });

  test('compensations out of order are reported', () => {
    // The shipping-failure history with the two compensations swapped: refund first, then release.
    const swap: Record<string, string> = {
      ReleaseInventory: 'RefundPayment',
      RefundPayment: 'ReleaseInventory',
    };
    const events = load(SAGA_FIXTURES, 'saga-shipping-fails.json').map((event) => {
      const details = event.stateEnteredEventDetails ?? event.stateExitedEventDetails;
      const name = typeof details?.name === 'string' ? swap[details.name] : undefined;
      if (name === undefined) return event;
      return event.stateEnteredEventDetails !== undefined
        ? { ...event, stateEnteredEventDetails: { ...event.stateEnteredEventDetails, name } }
        : { ...event, stateExitedEventDetails: { ...event.stateExitedEventDetails, name } };
    });
    const model = buildTimeline(events);
    expect(model.entries.map((e) => e.state).slice(3, 5)).toEqual(['RefundPayment', 'ReleaseInventory']);
    expect(model.summary).toMatchObject({ compensatedInReverse: false, uncompensated: [] });
  });
});

describe('the order saga with CheckOrder (issue 10)', () => {
  const path = (model: TimelineModel) => model.entries.map((e) => `${e.phase}:${e.state}`);

  test('payment unknown outcome -> CancelOrder starts the compensations -> ReleaseInventory, RefundPayment', () => {
    const model = saga('saga-v2-payment-unknown.json');
    expect(path(model)).toEqual([
      'forward:CheckOrder',
      'forward:RouteOrder',
      'forward:ChargePayment',
      'compensation:CancelOrder',
      'compensation:ReleaseInventory',
      'compensation:RefundPayment',
      'compensation:CompensationsDone',
      'compensation:MarkOrderCancelled',
      'final:OrderCancelled',
    ]);
    expect(entry(model, 'CheckOrder').note).toBe('order PENDING');
    // The decision undoes nothing itself: it is not paired with a forward step by its name.
    expect(entry(model, 'CancelOrder').compensates).toBeUndefined();
    expect(entry(model, 'CancelOrder').note).toContain('decided to compensate');
    expect(entry(model, 'ChargePayment')).toMatchObject({
      status: 'caught',
      attempts: 5,
      error: 'Runtime.ExitError',
    });
    // The failed charge may have committed: its refund is the compensation owed, and it ran.
    expect(model.summary).toMatchObject({
      orderStatus: 'CANCELLED',
      compensatedInReverse: true,
      uncompensated: [],
    });
  });

  test('the payment-unknown path without its refund is reported as not compensated', () => {
    const events = load(SAGA_FIXTURES, 'saga-v2-payment-unknown.json').map((event) => {
      const name = event.stateEnteredEventDetails?.name ?? event.stateExitedEventDetails?.name;
      if (name !== 'RefundPayment') return event;
      // Rename the refund: now nothing undoes the charge that may have committed.
      return event.stateEnteredEventDetails !== undefined
        ? {
            ...event,
            stateEnteredEventDetails: { ...event.stateEnteredEventDetails, name: 'NotifyCustomer' },
          }
        : { ...event, stateExitedEventDetails: { ...event.stateExitedEventDetails, name: 'NotifyCustomer' } };
    });
    expect(buildTimeline(events).summary).toMatchObject({
      compensatedInReverse: false,
      uncompensated: ['ChargePayment'],
    });
  });

  test('shipping fails -> CancelOrder -> ReleaseInventory -> RefundPayment, in reverse', () => {
    const model = saga('saga-v2-shipping-fails.json');
    expect(path(model).slice(4)).toEqual([
      'forward:ShipOrder',
      'compensation:CancelOrder',
      'compensation:ReleaseInventory',
      'compensation:RefundPayment',
      'compensation:CompensationsDone',
      'compensation:MarkOrderCancelled',
      'final:OrderCancelled',
    ]);
    expect(model.summary).toMatchObject({ orderStatus: 'CANCELLED', compensatedInReverse: true });
  });

  test('a settled order: CheckOrder reads it, AlreadySettled ends the run, the status is what was read', () => {
    const model = saga('saga-v2-already-settled.json');
    expect(path(model)).toEqual(['forward:CheckOrder', 'forward:RouteOrder', 'final:AlreadySettled']);
    expect(entry(model, 'AlreadySettled').note).toBe('already settled, nothing ran');
    expect(model.summary).toMatchObject({
      status: 'SUCCEEDED',
      orderStatus: 'COMPLETED',
      compensatedInReverse: null,
    });
  });

  test('a re-run of a COMPENSATION_FAILED order resumes the compensations', () => {
    const model = saga('saga-v2-resume.json');
    expect(path(model)).toEqual([
      'forward:CheckOrder',
      'forward:RouteOrder',
      'compensation:ReleaseInventory',
      'compensation:RefundPayment',
      'compensation:CompensationsDone',
      'compensation:MarkOrderCancelled',
      'final:OrderCancelled',
    ]);
    expect(entry(model, 'CheckOrder').observedStatus).toBe('COMPENSATION_FAILED');
    expect(model.summary.orderStatus).toBe('CANCELLED');
  });

  test('a refused cancel goes back to CheckOrder, and what follows is forward again', () => {
    const model = saga('saga-v2-cancel-refused.json');
    expect(path(model)).toEqual([
      'forward:CheckOrder',
      'forward:RouteOrder',
      'forward:ChargePayment',
      'forward:ReserveInventory',
      'forward:ShipOrder',
      'compensation:CancelOrder',
      'forward:CheckOrder',
      'forward:RouteOrder',
      'forward:ChargePayment',
      'forward:ReserveInventory',
      'forward:ShipOrder',
      'forward:MarkOrderCompleted',
      'final:OrderCompleted',
    ]);
    expect(model.entries[5]).toMatchObject({
      status: 'caught',
      error: 'DynamoDb.TransactionCanceledException',
      note: 'refused: already shipped, or no longer PENDING',
    });
    expect(model.summary).toMatchObject({ orderStatus: 'COMPLETED', compensatedInReverse: null });
  });

  test('a running execution after an accepted cancel decision: the order is CANCELLING', () => {
    const events = load(SAGA_FIXTURES, 'saga-v2-shipping-fails.json');
    const cut = events.findIndex((e) => e.stateEnteredEventDetails?.name === 'ReleaseInventory');
    const model = buildTimeline(events.slice(0, cut));
    expect(model.summary).toMatchObject({ status: 'RUNNING', orderStatus: 'CANCELLING' });
  });
});

describe('executions that have not ended, or ended abnormally', () => {
  const shipping = () => load(SAGA_FIXTURES, 'saga-shipping-fails.json');
  const upTo = (events: HistoryEventLike[], id: number) => events.filter((event) => (event.id ?? 0) <= id);

  test('running: the open visit runs until now, the order is PENDING', () => {
    // Up to ReleaseInventory's TaskStarted (id 19).
    const events = upTo(shipping(), 19);
    const started = Date.parse('2026-11-27T10:15:00.000Z');
    const model = buildTimeline(events, { now: new Date(started + 10_000) });
    const release = entry(model, 'ReleaseInventory');
    expect(release).toMatchObject({
      status: 'running',
      phase: 'compensation',
      attempts: 1,
      endMs: undefined,
      retrying: false,
    });
    expect(release.durationMs).toBe(started + 10_000 - (release.startMs ?? 0));
    expect(model.summary).toMatchObject({
      status: 'RUNNING',
      orderStatus: 'PENDING',
      durationMs: 10_000,
      // Compensation is under way: no verdict until the execution ends.
      compensatedInReverse: null,
      uncompensated: ['ReserveInventory', 'ChargePayment'],
    });
    // Without `now`, a running execution's clock stops at its newest event.
    expect(buildTimeline(events).summary.durationMs).toBe(Date.parse('2026-11-27T10:15:00.561Z') - started);
  });

  test('running, waiting for a retry after a failed attempt', () => {
    const events = load(SAGA_FIXTURES, 'saga-payment-transient.json').filter((event) => (event.id ?? 0) <= 5);
    const charge = entry(buildTimeline(events), 'ChargePayment');
    expect(charge).toMatchObject({ status: 'running', retrying: true, attempts: 1, error: undefined });
    expect(charge.errors).toMatchObject([{ error: 'TransientError' }]);
  });

  test('a history with only ExecutionStarted', () => {
    const model = buildTimeline(upTo(shipping(), 1));
    expect(model.entries).toEqual([]);
    expect(model.summary).toMatchObject({
      status: 'RUNNING',
      orderStatus: null,
      transitions: 0,
      durationMs: 0,
    });
  });

  test('aborted (StopExecution) while a task runs', () => {
    const events = upTo(shipping(), 14);
    events.push({
      id: 15,
      previousEventId: 14,
      type: 'ExecutionAborted',
      timestamp: '2026-11-27T10:15:02.000Z',
      executionAbortedEventDetails: { error: 'UserStopped', cause: 'Stopped from the console' },
    });
    const model = buildTimeline(events);
    expect(entry(model, 'ShipOrder')).toMatchObject({
      status: 'failed',
      aborted: true,
      error: 'UserStopped',
    });
    expect(model.summary).toMatchObject({
      status: 'ABORTED',
      error: 'UserStopped',
      cause: 'Stopped from the console',
    });
  });

  test('timed out (execution TimeoutSeconds) while waiting', () => {
    const events: HistoryEventLike[] = [
      {
        id: 1,
        previousEventId: 0,
        type: 'ExecutionStarted',
        timestamp: '2026-11-27T10:00:00Z',
        executionStartedEventDetails: { input: '{}' },
      },
      {
        id: 2,
        previousEventId: 0,
        type: 'WaitStateEntered',
        timestamp: '2026-11-27T10:00:00Z',
        stateEnteredEventDetails: { name: 'Hold' },
      },
      {
        id: 3,
        previousEventId: 2,
        type: 'ExecutionTimedOut',
        timestamp: '2026-11-27T10:05:00Z',
        executionTimedOutEventDetails: {},
      },
    ];
    const model = buildTimeline(events);
    expect(visits(model)).toEqual([
      { state: 'Hold', type: 'Wait', status: 'failed', phase: 'forward', attempts: 1 },
    ]);
    expect(model.entries[0]).toMatchObject({ aborted: true, durationMs: 300_000, error: 'States.Timeout' });
    expect(model.summary).toMatchObject({
      status: 'TIMED_OUT',
      error: 'States.Timeout',
      durationMs: 300_000,
    });
  });

  test('an uncaught task failure, then a redrive that succeeds', () => {
    const at = (seconds: number) => new Date(Date.UTC(2026, 10, 27, 10, 0, seconds));
    const events: HistoryEventLike[] = [
      { id: 1, previousEventId: 0, type: 'ExecutionStarted', timestamp: at(0) },
      {
        id: 2,
        previousEventId: 0,
        type: 'TaskStateEntered',
        timestamp: at(1),
        stateEnteredEventDetails: { name: 'Work' },
      },
      {
        id: 3,
        previousEventId: 2,
        type: 'TaskScheduled',
        timestamp: at(2),
        taskScheduledEventDetails: {
          resourceType: 'lambda',
          resource: 'invoke',
          region: 'eu-west-1',
          parameters: '{}',
        },
      },
      {
        id: 4,
        previousEventId: 3,
        type: 'TaskFailed',
        timestamp: at(3),
        taskFailedEventDetails: {
          resourceType: 'lambda',
          resource: 'invoke',
          error: 'Boom',
          cause: '{"errorMessage":"it broke","errorType":"Boom"}',
        },
      },
      {
        id: 5,
        previousEventId: 4,
        type: 'ExecutionFailed',
        timestamp: at(4),
        executionFailedEventDetails: {
          error: 'Boom',
          cause: '{"errorMessage":"it broke","errorType":"Boom"}',
        },
      },
      {
        id: 6,
        previousEventId: 5,
        type: 'ExecutionRedriven',
        timestamp: at(60),
        executionRedrivenEventDetails: { redriveCount: 1 },
      },
      {
        id: 7,
        previousEventId: 6,
        type: 'TaskStateEntered',
        timestamp: at(61),
        stateEnteredEventDetails: { name: 'Work' },
      },
      {
        id: 8,
        previousEventId: 7,
        type: 'TaskScheduled',
        timestamp: at(62),
        taskScheduledEventDetails: {
          resourceType: 'lambda',
          resource: 'invoke',
          region: 'eu-west-1',
          parameters: '{}',
        },
      },
      {
        id: 9,
        previousEventId: 8,
        type: 'TaskSucceeded',
        timestamp: at(63),
        taskSucceededEventDetails: { resourceType: 'lambda', resource: 'invoke', output: '{}' },
      },
      {
        id: 10,
        previousEventId: 9,
        type: 'TaskStateExited',
        timestamp: at(64),
        stateExitedEventDetails: { name: 'Work', output: '{}' },
      },
      {
        id: 11,
        previousEventId: 10,
        type: 'ExecutionSucceeded',
        timestamp: at(65),
        executionSucceededEventDetails: { output: '{}' },
      },
    ];
    const model = buildTimeline(events);
    expect(model.entries.map((e) => [e.state, e.status, e.error, e.cause])).toEqual([
      ['Work', 'failed', 'Boom', 'it broke'],
      ['Work', 'succeeded', undefined, undefined],
    ]);
    expect(model.summary).toMatchObject({
      status: 'SUCCEEDED',
      redrives: 1,
      error: undefined,
      durationMs: 65_000,
    });
    // Before the redrive the same events describe a failed execution.
    expect(buildTimeline(events.slice(0, 5)).summary).toMatchObject({
      status: 'FAILED',
      error: 'Boom',
      cause: 'it broke',
    });
  });
});

describe('Map and Parallel', () => {
  const model = () => saga('nested-map-parallel.json');

  test('inner visits are flat entries after their parent, tagged with parent and iteration/branch', () => {
    expect(
      model().entries.map((e) => [
        e.depth,
        e.parent?.state,
        e.iteration ?? e.branch,
        e.state,
        e.status,
        e.phase,
      ]),
    ).toEqual([
      [0, undefined, undefined, 'ProcessItems', 'succeeded', 'forward'],
      [1, 'ProcessItems', 0, 'Normalize', 'succeeded', 'forward'],
      [1, 'ProcessItems', 0, 'Throttle', 'succeeded', 'forward'],
      [1, 'ProcessItems', 1, 'Normalize', 'succeeded', 'forward'],
      [1, 'ProcessItems', 1, 'Throttle', 'succeeded', 'forward'],
      [0, undefined, undefined, 'FanOut', 'succeeded', 'forward'],
      [1, 'FanOut', 0, 'NotifyWarehouse', 'caught', 'forward'],
      // A caught error makes the rest of ITS branch compensation, not the sibling branch.
      [1, 'FanOut', 0, 'LogNotifyFailure', 'succeeded', 'compensation'],
      [1, 'FanOut', 1, 'Audit', 'succeeded', 'forward'],
      [1, 'FanOut', 1, 'AuditDone', 'succeeded', 'forward'],
    ]);
  });

  test('concurrent iterations finishing out of order are told apart by previousEventId', () => {
    const throttles = model().entries.filter((e) => e.state === 'Throttle');
    expect(throttles.map((e) => [e.iteration, e.durationMs])).toEqual([
      [0, 1004],
      [1, 1001],
    ]);
    const normalizes = model().entries.filter((e) => e.state === 'Normalize');
    expect(normalizes.map((e) => [e.iteration, e.durationMs])).toEqual([
      [0, 5],
      [1, 6],
    ]);
  });

  test('items, errors and transitions', () => {
    const m = model();
    expect(entry(m, 'ProcessItems').items).toBe(2);
    expect(entry(m, 'FanOut').items).toBe(2);
    expect(entry(m, 'NotifyWarehouse')).toMatchObject({
      error: 'SQS.QueueDoesNotExistException',
      cause: 'The specified queue does not exist. (Service: Sqs, Status Code: 400, Request ID: 5f2c)',
      resource: 'sqs:sendMessage',
    });
    expect(m.summary).toMatchObject({ status: 'SUCCEEDED', transitions: 10, orderStatus: null });
  });

  test('a failed iteration fails the Map; a Catch on the Map makes it caught', () => {
    const at = (ms: number) => new Date(Date.UTC(2026, 10, 27, 10, 0, 0, ms));
    const events: HistoryEventLike[] = [
      { id: 1, previousEventId: 0, type: 'ExecutionStarted', timestamp: at(0) },
      {
        id: 2,
        previousEventId: 0,
        type: 'MapStateEntered',
        timestamp: at(1),
        stateEnteredEventDetails: { name: 'M' },
      },
      {
        id: 3,
        previousEventId: 2,
        type: 'MapStateStarted',
        timestamp: at(2),
        mapStateStartedEventDetails: { length: 2 },
      },
      {
        id: 4,
        previousEventId: 3,
        type: 'MapIterationStarted',
        timestamp: at(3),
        mapIterationStartedEventDetails: { name: 'M', index: 0 },
      },
      {
        id: 5,
        previousEventId: 3,
        type: 'MapIterationStarted',
        timestamp: at(3),
        mapIterationStartedEventDetails: { name: 'M', index: 1 },
      },
      {
        id: 6,
        previousEventId: 4,
        type: 'TaskStateEntered',
        timestamp: at(4),
        stateEnteredEventDetails: { name: 'Call' },
      },
      {
        id: 7,
        previousEventId: 5,
        type: 'WaitStateEntered',
        timestamp: at(4),
        stateEnteredEventDetails: { name: 'Pause' },
      },
      {
        id: 8,
        previousEventId: 6,
        type: 'TaskScheduled',
        timestamp: at(5),
        taskScheduledEventDetails: {
          resourceType: 'lambda',
          resource: 'invoke',
          region: 'x',
          parameters: '{}',
        },
      },
      {
        id: 9,
        previousEventId: 8,
        type: 'TaskFailed',
        timestamp: at(9),
        taskFailedEventDetails: {
          resourceType: 'lambda',
          resource: 'invoke',
          error: 'Nope',
          cause: 'plain text cause',
        },
      },
      {
        id: 10,
        previousEventId: 9,
        type: 'MapIterationFailed',
        timestamp: at(10),
        mapIterationFailedEventDetails: { name: 'M', index: 0 },
      },
      { id: 11, previousEventId: 7, type: 'WaitStateAborted', timestamp: at(11) },
      {
        id: 12,
        previousEventId: 11,
        type: 'MapIterationAborted',
        timestamp: at(11),
        mapIterationAbortedEventDetails: { name: 'M', index: 1 },
      },
      { id: 13, previousEventId: 10, type: 'MapStateFailed', timestamp: at(12) },
      {
        id: 14,
        previousEventId: 13,
        type: 'MapStateExited',
        timestamp: at(13),
        stateExitedEventDetails: { name: 'M', output: '{"Error":"Nope","Cause":"plain text cause"}' },
      },
      {
        id: 15,
        previousEventId: 14,
        type: 'PassStateEntered',
        timestamp: at(14),
        stateEnteredEventDetails: { name: 'Recover' },
      },
      {
        id: 16,
        previousEventId: 15,
        type: 'PassStateExited',
        timestamp: at(15),
        stateExitedEventDetails: { name: 'Recover' },
      },
      { id: 17, previousEventId: 16, type: 'ExecutionSucceeded', timestamp: at(16) },
    ];
    const m = buildTimeline(events);
    expect(m.entries.map((e) => [e.state, e.iteration, e.status, e.aborted, e.error, e.phase])).toEqual([
      ['M', undefined, 'caught', false, 'Nope', 'forward'],
      ['Call', 0, 'failed', false, 'Nope', 'forward'],
      ['Pause', 1, 'failed', true, undefined, 'forward'],
      ['Recover', undefined, 'succeeded', false, undefined, 'compensation'],
    ]);
    expect(entry(m, 'M').cause).toBe('plain text cause');
  });
});

describe('compensation pairing', () => {
  /** A straight line of Task states; `fail` ones fail once and are caught. */
  function line(states: readonly { name: string; fail?: boolean }[]): HistoryEventLike[] {
    const events: HistoryEventLike[] = [
      { id: 1, previousEventId: 0, type: 'ExecutionStarted', timestamp: 0 },
    ];
    const add = (event: HistoryEventLike) => {
      const id = events.length + 1;
      events.push({
        ...event,
        id,
        previousEventId: event.type?.endsWith('Entered') && id === 2 ? 0 : id - 1,
        timestamp: id * 1000,
      });
    };
    for (const { name, fail } of states) {
      add({ type: 'TaskStateEntered', stateEnteredEventDetails: { name } });
      add({
        type: 'TaskScheduled',
        taskScheduledEventDetails: {
          resourceType: 'lambda',
          resource: 'invoke',
          region: 'x',
          parameters: '{}',
        },
      });
      add(
        fail === true
          ? {
              type: 'TaskFailed',
              taskFailedEventDetails: { resourceType: 'lambda', resource: 'invoke', error: 'Failed' },
            }
          : {
              type: 'TaskSucceeded',
              taskSucceededEventDetails: { resourceType: 'lambda', resource: 'invoke', output: '{}' },
            },
      );
      add({ type: 'TaskStateExited', stateExitedEventDetails: { name } });
    }
    add({ type: 'ExecutionSucceeded' });
    return events;
  }

  test('pairs Cancel/Undo/... X with the forward X by shared name stems when not configured', () => {
    const model = buildTimeline(
      line([
        { name: 'BookHotel' },
        { name: 'BookFlight' },
        { name: 'BookCar', fail: true },
        { name: 'CancelFlight' },
        { name: 'cancel-hotel' },
      ]),
      { compensations: {} },
    );
    expect(model.entries.map((e) => [e.state, e.phase, e.compensates])).toEqual([
      ['BookHotel', 'forward', undefined],
      ['BookFlight', 'forward', undefined],
      ['BookCar', 'forward', undefined],
      ['CancelFlight', 'compensation', 'BookFlight'],
      ['cancel-hotel', 'compensation', 'BookHotel'],
    ]);
    expect(model.summary.compensatedInReverse).toBe(true);
  });

  test('explicit compensations win, and a wrong order is detected', () => {
    const model = buildTimeline(
      line([
        { name: 'Debit' },
        { name: 'Allocate' },
        { name: 'Dispatch', fail: true },
        { name: 'Credit' },
        { name: 'Free' },
      ]),
      { compensations: { Credit: 'Debit', Free: 'Allocate' } },
    );
    expect(model.entries.map((e) => e.compensates)).toEqual([
      undefined,
      undefined,
      undefined,
      'Debit',
      'Allocate',
    ]);
    expect(model.summary.compensatedInReverse).toBe(false);
  });

  test('a compensation-looking name with no forward step to pair stays forward', () => {
    const model = buildTimeline(line([{ name: 'CancelSubscription' }, { name: 'NotifyCustomer' }]), {
      compensations: {},
    });
    expect(model.entries.map((e) => e.phase)).toEqual(['forward', 'forward']);
    expect(model.summary.compensatedInReverse).toBeNull();
  });
});

describe('causeMessage', () => {
  test('extracts the message from Lambda error JSON, as a string or an object', () => {
    const lambda = {
      errorType: 'OutOfStock',
      errorMessage: 'SKU-1: 0 left',
      trace: ['OutOfStock: SKU-1', '  at x'],
    };
    expect(causeMessage(JSON.stringify(lambda))).toBe('SKU-1: 0 left');
    expect(causeMessage(lambda)).toBe('SKU-1: 0 left');
    expect(causeMessage(' Task timed out\n after 3.00 seconds ')).toBe('Task timed out after 3.00 seconds');
    expect(causeMessage('{"errorType":"Sandbox.Timedout","errorMessage":""}')).toBe('Sandbox.Timedout');
    expect(causeMessage('{not json')).toBe('{not json');
    expect(causeMessage('')).toBeUndefined();
    expect(causeMessage(undefined)).toBeUndefined();
    expect(causeMessage({ Cause: '{"errorMessage":"nested"}' })).toBe('nested');
  });
});
