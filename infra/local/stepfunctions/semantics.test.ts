import { afterAll, describe, expect, test } from 'vitest';
import { testDynamoDbClient } from '../../../test/support/dynamodb.ts';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from '../types.ts';
import type { LocalHistoryEvent } from './history.ts';
import { StepFunctionsService } from './service.ts';
import { eventTypes, namedError, statesEntered, TestFunctions } from './testing.ts';

// The ASL semantics the order saga leans on, run through the local runner: retrier order and MaxAttempts 0,
// Choice rules (IsPresent, Not, Or, StringEquals), a Catch that loops back, States.JsonToString.

/** Per test key, the errors `step` throws on its next calls (then it succeeds). */
const plans = new Map<string, string[]>();
const functions = new TestFunctions({
  step: (payload) => {
    const { key } = payload as { key: string };
    const next = plans.get(key)?.shift();
    if (next !== undefined) throw namedError(next, `step ${key} failed with ${next}`);
    return { done: key };
  },
});
const service = new StepFunctionsService({
  lambda: functions,
  dynamodb: testDynamoDbClient(),
  timeScale: 0.001,
  accountId: LOCAL_ACCOUNT_ID,
  region: LOCAL_REGION,
});
afterAll(() => service.close());
let machines = 0;

async function run(
  definition: unknown,
  input: unknown,
): Promise<{
  status?: string;
  error?: string;
  cause?: string;
  output: unknown;
  events: LocalHistoryEvent[];
}> {
  const name = `semantics-${++machines}`;
  const arn = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:stateMachine:${name}`;
  service.createStateMachine({
    name,
    arn,
    definition: JSON.stringify(definition),
    roleArn: `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/saga-test`,
    type: 'STANDARD',
  });
  const { executionArn } = (await service.handle('StartExecution', {
    stateMachineArn: arn,
    input: JSON.stringify(input),
  })) as { executionArn: string };
  const described = await service.waitForExecution(executionArn, { timeoutMs: 20_000 });
  return {
    status: described.status,
    error: described.error,
    cause: described.cause,
    output: described.output === undefined ? undefined : JSON.parse(described.output),
    events: [...service.getExecutionHistory(executionArn)],
  };
}

function callsOf(key: string): number {
  return functions.calls.filter((call) => (call.payload as { key: string }).key === key).length;
}

/** A Task calling `step` with the saga's retriers: business errors first (MaxAttempts 0), then States.ALL. */
const step = (next: string, extra: Record<string, unknown> = {}) => ({
  Type: 'Task',
  Resource: 'arn:aws:states:::lambda:invoke',
  Parameters: { FunctionName: TestFunctions.arn('step'), 'Payload.$': '$' },
  ResultSelector: { 'done.$': '$.Payload.done' },
  ResultPath: '$.result',
  Retry: [
    { ErrorEquals: ['PaymentDeclined', 'OrderNotPending'], MaxAttempts: 0 },
    {
      ErrorEquals: ['States.ALL'],
      IntervalSeconds: 1,
      MaxAttempts: 3,
      BackoffRate: 2,
      JitterStrategy: 'FULL',
    },
  ],
  Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Caught' }],
  Next: next,
  ...extra,
});

describe('Retry', () => {
  const definition = {
    StartAt: 'Step',
    States: { Step: step('Done'), Done: { Type: 'Succeed' }, Caught: { Type: 'Pass', End: true } },
  };

  test('MaxAttempts 0 never retries, and a later States.ALL retrier does not retry what it matched first', async () => {
    plans.set('declined', ['PaymentDeclined']);
    const { status, output, events } = await run(definition, { key: 'declined' });
    expect(status).toBe('SUCCEEDED');
    expect(callsOf('declined')).toBe(1);
    expect(statesEntered(events)).toEqual(['Step', 'Caught']);
    expect(eventTypes(events).filter((type) => type === 'TaskFailed')).toHaveLength(1);
    expect((output as { error: unknown }).error).toEqual({
      Error: 'PaymentDeclined',
      Cause: expect.stringContaining('"errorMessage":"step declined failed with PaymentDeclined"'),
    });
  });

  test('an error the first retrier does not match is retried by the next one, up to its MaxAttempts', async () => {
    plans.set('transient', ['TransientError', 'ThrottlingException']);
    const recovered = await run(definition, { key: 'transient' });
    expect(recovered.status).toBe('SUCCEEDED');
    expect(callsOf('transient')).toBe(3);
    expect(statesEntered(recovered.events)).toEqual(['Step', 'Done']);

    plans.set('exhausted', ['Sandbox.Timedout', 'Runtime.ExitError', 'TransientError', 'TransientError']);
    const exhausted = await run(definition, { key: 'exhausted' });
    expect(callsOf('exhausted')).toBe(4); // the first attempt and MaxAttempts (3) retries
    expect(statesEntered(exhausted.events)).toEqual(['Step', 'Caught']);
    expect((exhausted.output as { error: { Error: string } }).error.Error).toBe('TransientError');
  });
});

describe('Choice', () => {
  // The saga's RouteOrder: no item → not found; PENDING → forward; CANCELLING or COMPENSATION_FAILED → resume.
  const route = {
    StartAt: 'RouteOrder',
    States: {
      RouteOrder: {
        Type: 'Choice',
        Choices: [
          { Not: { Variable: '$.check.Item', IsPresent: true }, Next: 'NotFound' },
          { Variable: '$.check.Item.status.S', StringEquals: 'PENDING', Next: 'Forward' },
          {
            Or: [
              { Variable: '$.check.Item.status.S', StringEquals: 'CANCELLING' },
              { Variable: '$.check.Item.status.S', StringEquals: 'COMPENSATION_FAILED' },
            ],
            Next: 'Resume',
          },
        ],
        Default: 'AlreadySettled',
      },
      NotFound: { Type: 'Fail', Error: 'OrderNotFound' },
      Forward: { Type: 'Succeed' },
      Resume: { Type: 'Succeed' },
      AlreadySettled: { Type: 'Succeed' },
    },
  };
  const item = (status: string) => ({ check: { Item: { status: { S: status } } } });

  test.each([
    ['no item', { check: {} }, 'NotFound'],
    ['PENDING', item('PENDING'), 'Forward'],
    ['CANCELLING', item('CANCELLING'), 'Resume'],
    ['COMPENSATION_FAILED', item('COMPENSATION_FAILED'), 'Resume'],
    ['COMPLETED', item('COMPLETED'), 'AlreadySettled'],
  ])('IsPresent, Not, Or, StringEquals route %s to %s', async (_label, input, expected) => {
    const { events } = await run(route, input);
    expect(statesEntered(events)).toEqual(['RouteOrder', expected]);
  });

  test('IsPresent false matches an absent path (and only that), as on AWS', async () => {
    const definition = {
      StartAt: 'Errors',
      States: {
        Errors: {
          Type: 'Choice',
          Choices: [
            { Variable: '$.compensationErrors', IsPresent: false, Next: 'Clean' },
            {
              And: [
                { Variable: '$.flag', IsNull: false },
                { Variable: '$.flag', IsString: false },
              ],
              Next: 'Flagged',
            },
          ],
          Default: 'Failed',
        },
        Clean: { Type: 'Succeed' },
        Flagged: { Type: 'Succeed' },
        Failed: { Type: 'Succeed' },
      },
    };
    expect(statesEntered((await run(definition, {})).events)).toEqual(['Errors', 'Clean']);
    expect(statesEntered((await run(definition, { compensationErrors: {}, flag: 1 })).events)).toEqual([
      'Errors',
      'Flagged',
    ]);
    expect(statesEntered((await run(definition, { compensationErrors: {}, flag: 'x' })).events)).toEqual([
      'Errors',
      'Failed',
    ]);
  });

  test('a comparison on a path that does not exist fails the execution with States.Runtime', async () => {
    const definition = {
      StartAt: 'Route',
      States: {
        Route: {
          Type: 'Choice',
          Choices: [{ Variable: '$.check.Item.status.S', StringEquals: 'PENDING', Next: 'Done' }],
          Default: 'Done',
        },
        Done: { Type: 'Succeed' },
      },
    };
    const { status, error } = await run(definition, { check: {} });
    expect(status).toBe('FAILED');
    expect(error).toBe('States.Runtime');
  });
});

describe('Catch back to an earlier state', () => {
  test('loops, and every visit of a state gets its retries afresh', async () => {
    // Visit 1: Flaky (retried), then OrderNotPending (caught → CheckOrder). Visit 2: the same. Visit 3: success.
    plans.set('loop', ['Flaky', 'OrderNotPending', 'Flaky', 'OrderNotPending']);
    const definition = {
      StartAt: 'CheckOrder',
      States: {
        CheckOrder: { Type: 'Pass', Next: 'Step' },
        Step: {
          ...step('Done'),
          Retry: [
            { ErrorEquals: ['OrderNotPending'], MaxAttempts: 0 },
            { ErrorEquals: ['Flaky'], IntervalSeconds: 1, MaxAttempts: 1 },
          ],
          Catch: [{ ErrorEquals: ['OrderNotPending'], ResultPath: null, Next: 'CheckOrder' }],
        },
        Done: { Type: 'Succeed' },
      },
    };
    const { status, events } = await run(definition, { key: 'loop' });
    expect(status).toBe('SUCCEEDED');
    expect(callsOf('loop')).toBe(5);
    expect(statesEntered(events)).toEqual([
      'CheckOrder',
      'Step',
      'CheckOrder',
      'Step',
      'CheckOrder',
      'Step',
      'Done',
    ]);
    const ids = events.map((event) => event.id);
    expect(ids).toEqual(ids.map((_, i) => i + 1));
  });
});

describe('States.JsonToString', () => {
  test('in Parameters, of errors a Catch stored under a path it created', async () => {
    plans.set('refund', ['RefundFailed']);
    const definition = {
      StartAt: 'RefundPayment',
      States: {
        RefundPayment: {
          ...step('CompensationsDone'),
          Retry: [{ ErrorEquals: ['States.ALL'], MaxAttempts: 0 }],
          Catch: [
            {
              ErrorEquals: ['States.ALL'],
              ResultPath: '$.compensationErrors.refund',
              Next: 'CompensationsDone',
            },
          ],
        },
        CompensationsDone: {
          Type: 'Choice',
          Choices: [{ Variable: '$.compensationErrors', IsPresent: true, Next: 'MarkCompensationFailed' }],
          Default: 'Clean',
        },
        MarkCompensationFailed: {
          Type: 'Pass',
          Parameters: {
            ExpressionAttributeValues: {
              ':e': { 'S.$': 'States.JsonToString($.compensationErrors)' },
            },
          },
          End: true,
        },
        Clean: { Type: 'Succeed' },
      },
    };
    const { output, events } = await run(definition, { key: 'refund' });
    expect(statesEntered(events)).toEqual(['RefundPayment', 'CompensationsDone', 'MarkCompensationFailed']);
    const text = (output as { ExpressionAttributeValues: { ':e': { S: string } } }).ExpressionAttributeValues[
      ':e'
    ].S;
    expect(typeof text).toBe('string');
    expect(JSON.parse(text)).toEqual({
      refund: { Error: 'RefundFailed', Cause: expect.stringContaining('RefundFailed') },
    });
  });
});
