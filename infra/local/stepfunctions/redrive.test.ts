/**
 * RedriveExecution as AWS documents it (https://docs.aws.amazon.com/step-functions/latest/apireference/API_RedriveExecution.html,
 * https://docs.aws.amazon.com/step-functions/latest/dg/redrive-executions.html): a FAILED, TIMED_OUT or ABORTED
 * Standard execution restarts from the state it ended in, with that state's input, under the same ARN; the
 * history is kept and gets an ExecutionRedriven event; a RUNNING or SUCCEEDED one is ExecutionNotRedrivable.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { testDynamoDbClient } from '../../../test/support/dynamodb.ts';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from '../types.ts';
import { AwsError } from '../wire/aws-error.ts';
import type { ExecutionRecord } from './history.ts';
import { compileDefinition } from './runner.ts';
import { redriveStatusOf, resumePointOf, StepFunctionsService } from './service.ts';
import { eventTypes, namedError, statesEntered, TestFunctions } from './testing.ts';

const ROLE = `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/saga-test`;
const MACHINE = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:stateMachine:Redrive`;
const EXECUTION = (name: string) =>
  `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:execution:Redrive:${name}`;

/** Prepare (Pass) → Work (Task, no Catch) → Done; `Check` routes `fail: true` inputs to a Fail state. */
const DEFINITION = {
  StartAt: 'Check',
  States: {
    Check: {
      Type: 'Choice',
      Choices: [
        {
          And: [
            { Variable: '$.fail', IsPresent: true },
            { Variable: '$.fail', BooleanEquals: true },
          ],
          Next: 'GiveUp',
        },
      ],
      Default: 'Prepare',
    },
    GiveUp: { Type: 'Fail', Error: 'GaveUp', Cause: 'asked to' },
    Prepare: { Type: 'Pass', Result: { step: 'prepared' }, ResultPath: '$.prep', Next: 'Work' },
    Work: {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: {
        FunctionName: 'work',
        Payload: {
          'input.$': '$',
          'redriveCount.$': '$$.Execution.RedriveCount',
          'executionInput.$': '$$.Execution.Input',
        },
      },
      Retry: [{ ErrorEquals: ['Transient'], MaxAttempts: 1, IntervalSeconds: 1 }],
      Next: 'Done',
    },
    Done: { Type: 'Pass', End: true },
  },
};

/** The `work` function: broken (throws Broken) until the test fixes it; `hold` makes a call wait for release. */
const work = {
  broken: true,
  hold: false,
  release: undefined as (() => void) | undefined,
};
const functions = new TestFunctions({
  work: async (payload) => {
    if (work.hold) await new Promise<void>((resolve) => (work.release = resolve));
    if (work.broken) throw namedError('Broken', 'the downstream service is down');
    return payload;
  },
});

const dataDir = mkdtempSync(join(tmpdir(), 'saga-redrive-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

function makeService(): StepFunctionsService {
  const service = new StepFunctionsService({
    dataDir,
    lambda: functions,
    dynamodb: testDynamoDbClient(),
    timeScale: 0.001,
    accountId: LOCAL_ACCOUNT_ID,
    region: LOCAL_REGION,
  });
  service.createStateMachine({
    name: 'Redrive',
    arn: MACHINE,
    definition: JSON.stringify(DEFINITION),
    roleArn: ROLE,
    type: 'STANDARD',
  });
  return service;
}
const service = makeService();

async function start(name: string, input: unknown): Promise<string> {
  const out = (await service.handle('StartExecution', {
    stateMachineArn: MACHINE,
    name,
    input: JSON.stringify(input),
  })) as { executionArn: string };
  return out.executionArn;
}

async function awsErrorOf(promise: Promise<unknown>): Promise<AwsError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof AwsError) return error;
    throw error;
  }
  throw new Error('expected an AwsError');
}

const describeExecution = async (executionArn: string) =>
  (await service.handle('DescribeExecution', { executionArn })) as Record<string, unknown>;

describe('RedriveExecution', () => {
  test('a failed execution restarts at the failed state with its input, then succeeds once the cause is gone', async () => {
    work.broken = true;
    const arn = await start('failed-task', { orderId: 'o-1' });
    expect(await service.waitForExecution(arn)).toMatchObject({ status: 'FAILED', error: 'Broken' });
    const before = await describeExecution(arn);
    expect(before).toMatchObject({ redriveCount: 0, redriveStatus: 'REDRIVABLE' });
    expect(before.redriveStatusReason).toBeUndefined();
    const failedHistory = service.getExecutionHistory(arn);
    const workInput = failedHistory.find((e) => e.stateEnteredEventDetails?.name === 'Work')
      ?.stateEnteredEventDetails?.input;

    work.broken = false;
    work.hold = true;
    const answer = (await service.handle('RedriveExecution', { executionArn: arn })) as {
      redriveDate: number;
    };
    expect(typeof answer.redriveDate).toBe('number');
    // RUNNING again, under the same ARN, with no stop date, error or cause.
    const running = await describeExecution(arn);
    expect(running).toMatchObject({
      status: 'RUNNING',
      redriveCount: 1,
      redriveDate: answer.redriveDate,
      redriveStatus: 'NOT_REDRIVABLE',
      redriveStatusReason: 'Execution is RUNNING and cannot be redriven',
    });
    expect(running.stopDate).toBeUndefined();
    expect(running.error).toBeUndefined();
    const listed = (await service.handle('ListExecutions', { stateMachineArn: MACHINE })) as {
      executions: Record<string, unknown>[];
    };
    expect(listed.executions.find((e) => e.executionArn === arn)).toMatchObject({
      status: 'RUNNING',
      redriveCount: 1,
      redriveDate: answer.redriveDate,
    });
    for (let i = 0; i < 200 && work.release === undefined; i++) await new Promise((r) => setTimeout(r, 5));
    work.hold = false;
    work.release?.();
    work.release = undefined;

    const done = await service.waitForExecution(arn, { timeoutMs: 5_000 });
    expect(done).toMatchObject({ status: 'SUCCEEDED', redriveCount: 1, redriveStatus: 'NOT_REDRIVABLE' });
    expect(done.redriveStatusReason).toBe('Execution is SUCCEEDED and cannot be redriven');
    expect(done.error).toBeUndefined();

    const history = service.getExecutionHistory(arn);
    // The history is kept: the first attempt, the failure, then the redrive.
    expect(history.slice(0, failedHistory.length)).toEqual(failedHistory);
    const redriven = history[failedHistory.length];
    expect(redriven).toMatchObject({
      type: 'ExecutionRedriven',
      id: failedHistory.length + 1,
      previousEventId: failedHistory.length,
      executionRedrivenEventDetails: { redriveCount: 1 },
    });
    const after = history.slice(failedHistory.length + 1);
    // The failed state is entered again with the input it had; the states before it are not rerun.
    expect(after[0]).toMatchObject({
      type: 'TaskStateEntered',
      previousEventId: redriven?.id,
      stateEnteredEventDetails: { name: 'Work', input: workInput },
    });
    expect(statesEntered(after)).toEqual(['Work', 'Done']);
    expect(statesEntered(history)).toEqual(['Check', 'Prepare', 'Work', 'Work', 'Done']);
    expect(eventTypes(after).at(-1)).toBe('ExecutionSucceeded');
    expect(history.map((e) => e.id)).toEqual(history.map((_, i) => i + 1));
    // $$.Execution.RedriveCount counts the redrive; $$.Execution.Input is still the execution's input.
    const scheduled = after.find((e) => e.type === 'TaskScheduled')?.taskScheduledEventDetails?.parameters;
    expect(JSON.parse(String(scheduled)).Payload).toEqual({
      input: { orderId: 'o-1', prep: { step: 'prepared' } },
      redriveCount: 1,
      executionInput: { orderId: 'o-1' },
    });
  });

  test('a SUCCEEDED or RUNNING execution is ExecutionNotRedrivable with the reason DescribeExecution gives', async () => {
    work.broken = false;
    const succeeded = await start('succeeded', { orderId: 'o-2' });
    await service.waitForExecution(succeeded);
    const error = await awsErrorOf(service.handle('RedriveExecution', { executionArn: succeeded }));
    expect(error).toMatchObject({
      type: 'ExecutionNotRedrivable',
      statusCode: 400,
      message: 'Execution is SUCCEEDED and cannot be redriven',
    });
    expect(await describeExecution(succeeded)).toMatchObject({
      redriveStatus: 'NOT_REDRIVABLE',
      redriveStatusReason: 'Execution is SUCCEEDED and cannot be redriven',
      redriveCount: 0,
    });
    expect(service.getExecutionHistory(succeeded).some((e) => e.type === 'ExecutionRedriven')).toBe(false);

    work.hold = true;
    const running = await start('running', { orderId: 'o-3' });
    for (let i = 0; i < 200 && work.release === undefined; i++) await new Promise((r) => setTimeout(r, 5));
    expect(await awsErrorOf(service.handle('RedriveExecution', { executionArn: running }))).toMatchObject({
      type: 'ExecutionNotRedrivable',
      message: 'Execution is RUNNING and cannot be redriven',
    });
    work.hold = false;
    work.release?.();
    work.release = undefined;
    expect(await service.waitForExecution(running)).toMatchObject({ status: 'SUCCEEDED', redriveCount: 0 });
  });

  test('an ABORTED execution restarts at the state it was stopped in', async () => {
    work.broken = false;
    work.hold = true;
    const arn = await start('aborted', { orderId: 'o-4' });
    for (let i = 0; i < 200 && work.release === undefined; i++) await new Promise((r) => setTimeout(r, 5));
    await service.handle('StopExecution', { executionArn: arn, error: 'Operator', cause: 'stuck' });
    expect(await service.waitForExecution(arn)).toMatchObject({ status: 'ABORTED' });
    work.hold = false;
    work.release?.();
    work.release = undefined;
    await service.handle('RedriveExecution', { executionArn: arn });
    expect(await service.waitForExecution(arn, { timeoutMs: 5_000 })).toMatchObject({
      status: 'SUCCEEDED',
      redriveCount: 1,
    });
    const history = service.getExecutionHistory(arn);
    expect(eventTypes(history)).toContain('ExecutionAborted');
    expect(statesEntered(history)).toEqual(['Check', 'Prepare', 'Work', 'Work', 'Done']);
  });

  test('an execution that ended in a Fail state enters that Fail state again (and fails again)', async () => {
    const arn = await start('fail-state', { fail: true });
    expect(await service.waitForExecution(arn)).toMatchObject({ status: 'FAILED', error: 'GaveUp' });
    await service.handle('RedriveExecution', { executionArn: arn });
    expect(await service.waitForExecution(arn, { timeoutMs: 5_000 })).toMatchObject({
      status: 'FAILED',
      error: 'GaveUp',
      cause: 'asked to',
      redriveCount: 1,
      redriveStatus: 'REDRIVABLE',
    });
    expect(statesEntered(service.getExecutionHistory(arn))).toEqual(['Check', 'GiveUp', 'GiveUp']);
  });

  test('a clientToken makes a retried redrive idempotent; each new redrive counts', async () => {
    work.broken = true;
    const arn = await start('tokens', { orderId: 'o-5' });
    await service.waitForExecution(arn);
    const first = (await service.handle('RedriveExecution', { executionArn: arn, clientToken: 'abc' })) as {
      redriveDate: number;
    };
    await service.waitForExecution(arn, { timeoutMs: 5_000 });
    const again = (await service.handle('RedriveExecution', { executionArn: arn, clientToken: 'abc' })) as {
      redriveDate: number;
    };
    expect(again.redriveDate).toBe(first.redriveDate);
    expect((await describeExecution(arn)).redriveCount).toBe(1);
    work.broken = false;
    await service.handle('RedriveExecution', { executionArn: arn, clientToken: 'def' });
    expect(await service.waitForExecution(arn, { timeoutMs: 5_000 })).toMatchObject({
      status: 'SUCCEEDED',
      redriveCount: 2,
    });
    const redrives = service
      .getExecutionHistory(arn)
      .filter((e) => e.type === 'ExecutionRedriven')
      .map((e) => e.executionRedrivenEventDetails?.redriveCount);
    expect(redrives).toEqual([1, 2]);
  });

  test('bad requests: AWS error types', async () => {
    expect((await awsErrorOf(service.handle('RedriveExecution', {}))).type).toBe('ValidationException');
    expect(
      (
        await awsErrorOf(
          service.handle('RedriveExecution', { executionArn: EXECUTION('x'), clientToken: '' }),
        )
      ).type,
    ).toBe('ValidationException');
    expect(
      (await awsErrorOf(service.handle('RedriveExecution', { executionArn: EXECUTION('nope') }))).type,
    ).toBe('ExecutionDoesNotExist');
    expect((await awsErrorOf(service.handle('RedriveExecution', { executionArn: 'not-an-arn' }))).type).toBe(
      'InvalidArn',
    );
  });

  test('the redrive count and date survive a restart of the service', async () => {
    await service.close();
    const reloaded = makeService();
    const described = (await reloaded.handle('DescribeExecution', {
      executionArn: EXECUTION('tokens'),
    })) as Record<string, unknown>;
    expect(described).toMatchObject({ status: 'SUCCEEDED', redriveCount: 2 });
    expect(typeof described.redriveDate).toBe('number');
    await reloaded.close();
  });
});

describe('redrive eligibility and resume point', () => {
  const base = { startDate: new Date('2026-01-01T00:00:00Z'), events: [] as ExecutionRecord['events'] };
  const day = 24 * 60 * 60 * 1000;
  const now = base.startDate.getTime() + day;

  test('the documented NOT_REDRIVABLE reasons', () => {
    const failed = { ...base, status: 'FAILED' as const, stopDate: new Date(now - day / 2) };
    expect(redriveStatusOf(failed, 'STANDARD', now)).toEqual({});
    expect(redriveStatusOf({ ...failed, status: 'TIMED_OUT' }, 'STANDARD', now)).toEqual({});
    expect(redriveStatusOf({ ...failed, status: 'ABORTED' }, 'STANDARD', now)).toEqual({});
    expect(redriveStatusOf(failed, 'STANDARD', now + 15 * day).reason).toBe(
      'Execution redrivable period exceeded',
    );
    expect(redriveStatusOf(failed, 'STANDARD', now + 366 * day).reason).toBe(
      'Execution has exceeded the max execution time',
    );
    expect(
      redriveStatusOf({ ...failed, events: new Array(25_000) as ExecutionRecord['events'] }, 'STANDARD', now)
        .reason,
    ).toBe('Execution history event limit exceeded');
    expect(redriveStatusOf(failed, 'EXPRESS', now).reason).toMatch(/EXPRESS/);
  });

  test('a Map or Parallel state the execution ended in: the recorded partial results are to be reused', () => {
    const compiled = compileDefinition(
      JSON.stringify({
        StartAt: 'Fan',
        States: {
          Fan: {
            Type: 'Parallel',
            Branches: [{ StartAt: 'A', States: { A: { Type: 'Pass', End: true } } }],
            Next: 'Last',
          },
          Last: { Type: 'Pass', End: true },
        },
      }),
    );
    const entered = (name: string) =>
      ({ stateEnteredEventDetails: { name, input: '{}' } }) as ExecutionRecord['events'][number];
    const partialResults = { state: 'Fan', outputs: { '0': '"a"' } };
    expect(resumePointOf({ events: [entered('Fan')], input: '{}', partialResults }, compiled)).toEqual({
      state: 'Fan',
      input: '{}',
      reuse: new Map([[0, '"a"']]),
    });
    // Results of another state, or none: nothing to reuse.
    const last = resumePointOf({ events: [entered('Last')], input: '{}', partialResults }, compiled);
    expect(last.reuse).toBeUndefined();
    const none = resumePointOf({ events: [entered('Fan')], input: '{}' }, compiled);
    expect(none.reuse).toBeUndefined();
  });

  test('no state entered yet: StartAt with the execution input', () => {
    expect(
      resumePointOf({ events: [], input: '{"a":1}' }, compileDefinition(JSON.stringify(DEFINITION))),
    ).toEqual({
      state: 'Check',
      input: '{"a":1}',
    });
  });
});

/**
 * AWS: "For workflows that include an Inline Map or Parallel state, RedriveExecution reschedules and redrives only
 * the iterations and branches that failed or aborted." The ones that succeeded keep their outputs, in place.
 */
describe('RedriveExecution of a Map or Parallel state', () => {
  const MAP_MACHINE = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:stateMachine:RedriveMap`;
  const PARALLEL_MACHINE = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:stateMachine:RedriveParallel`;
  const LOOP_MACHINE = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:stateMachine:RedriveMapLoop`;
  const task = (name: string, parameters: Record<string, unknown>) => ({
    Type: 'Task',
    Resource: TestFunctions.arn(name),
    Parameters: parameters,
  });
  /** Each item through `double`; the results next to the items. */
  const MAP_DEFINITION = {
    StartAt: 'Items',
    States: {
      Items: {
        Type: 'Map',
        ItemsPath: '$.items',
        ItemSelector: { 'n.$': '$$.Map.Item.Value', 'redrive.$': '$$.Execution.RedriveCount' },
        ItemProcessor: {
          ProcessorConfig: { Mode: 'INLINE' },
          StartAt: 'Double',
          States: { Double: { ...task('double', { 'n.$': '$.n', 'redrive.$': '$.redrive' }), End: true } },
        },
        ResultPath: '$.results',
        Next: 'Done',
      },
      Done: { Type: 'Pass', End: true },
    },
  };
  /** The same Map, visited twice: `Again` sends the execution back to it once. */
  const LOOP_DEFINITION = {
    StartAt: 'Items',
    States: {
      Items: { ...MAP_DEFINITION.States.Items, Next: 'Again' },
      Again: {
        Type: 'Choice',
        Choices: [{ Variable: '$.again', IsPresent: true, Next: 'Done' }],
        Default: 'Mark',
      },
      Mark: { Type: 'Pass', Result: true, ResultPath: '$.again', Next: 'Items' },
      Done: { Type: 'Pass', End: true },
    },
  };
  /** Three branches; the third ends in a Succeed state. */
  const PARALLEL_DEFINITION = {
    StartAt: 'Fan',
    States: {
      Fan: {
        Type: 'Parallel',
        Branches: ['a', 'b', 'c'].map((name) => {
          const state = task('branch', { name, 'redrive.$': '$$.Execution.RedriveCount' });
          return name === 'c'
            ? { StartAt: 'C', States: { C: { ...state, Next: 'CDone' }, CDone: { Type: 'Succeed' } } }
            : { StartAt: name.toUpperCase(), States: { [name.toUpperCase()]: { ...state, End: true } } };
        }),
        Next: 'Done',
      },
      Done: { Type: 'Pass', End: true },
    },
  };

  /** Item 2 and branch `b` fail while `broken`, once `held` resolves (so that the others have succeeded first). */
  const failing: { broken: boolean; held: Promise<void>; release: () => void } = {
    broken: true,
    held: Promise.resolve(),
    release: () => undefined,
  };
  const hold = (): void => {
    failing.held = new Promise<void>((resolve) => {
      failing.release = resolve;
    });
  };
  const fanFunctions = new TestFunctions({
    double: async (payload) => {
      const { n, redrive } = payload as { n: number; redrive: number };
      if (n === 2 && failing.broken) {
        await failing.held;
        throw namedError('Broken', 'item 2 is broken');
      }
      return { n, doubled: n * 2, redrive };
    },
    branch: async (payload) => {
      const { name } = payload as { name: string };
      if (name === 'b' && failing.broken) {
        await failing.held;
        throw namedError('Broken', 'branch b is broken');
      }
      return payload;
    },
  });
  const fanDir = mkdtempSync(join(tmpdir(), 'saga-redrive-fan-'));
  afterAll(() => rmSync(fanDir, { recursive: true, force: true }));

  function makeFanService(): StepFunctionsService {
    const fan = new StepFunctionsService({
      dataDir: fanDir,
      lambda: fanFunctions,
      dynamodb: testDynamoDbClient(),
      timeScale: 0.001,
      accountId: LOCAL_ACCOUNT_ID,
      region: LOCAL_REGION,
    });
    for (const [arn, definition] of [
      [MAP_MACHINE, MAP_DEFINITION],
      [PARALLEL_MACHINE, PARALLEL_DEFINITION],
      [LOOP_MACHINE, LOOP_DEFINITION],
    ] as const) {
      fan.createStateMachine({
        name: arn.split(':').at(-1) ?? '',
        arn,
        definition: JSON.stringify(definition),
        roleArn: ROLE,
        type: 'STANDARD',
      });
    }
    return fan;
  }

  async function until(check: () => boolean): Promise<void> {
    for (let i = 0; i < 1000 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
    expect(check()).toBe(true);
  }

  const callsSince = (from: number, name: string): unknown[] =>
    fanFunctions.calls.slice(from).flatMap((call) => (call.name === name ? [call.payload] : []));

  test('a Map: only the failed iteration runs again, the others keep their outputs in place (across a restart)', async () => {
    let fan = makeFanService();
    failing.broken = true;
    hold();
    const { executionArn: arn } = (await fan.handle('StartExecution', {
      stateMachineArn: MAP_MACHINE,
      name: 'map',
      input: JSON.stringify({ items: [1, 2, 3, 4] }),
    })) as { executionArn: string };
    await until(
      () => fan.getExecutionHistory(arn).filter((e) => e.type === 'MapIterationSucceeded').length === 3,
    );
    failing.release();
    expect(await fan.waitForExecution(arn)).toMatchObject({ status: 'FAILED', error: 'Broken' });
    const failedHistory = fan.getExecutionHistory(arn);
    expect(
      failedHistory.flatMap((e) =>
        e.type === 'MapIterationFailed' ? [e.mapIterationFailedEventDetails?.index] : [],
      ),
    ).toEqual([1]);
    // The succeeded iterations' outputs are persisted with the execution: a restarted local cloud reuses them.
    await fan.close();
    fan = makeFanService();

    failing.broken = false;
    const from = fanFunctions.calls.length;
    await fan.handle('RedriveExecution', { executionArn: arn });
    const done = await fan.waitForExecution(arn, { timeoutMs: 5_000 });
    expect(done).toMatchObject({ status: 'SUCCEEDED', redriveCount: 1 });
    // Only item 2 ran again (the whole Map rerun would call `double` four times).
    expect(callsSince(from, 'double')).toEqual([{ n: 2, redrive: 1 }]);
    // All four results, in order: the reused ones are the first attempt's (redrive 0).
    expect(JSON.parse(String(done.output))).toEqual({
      items: [1, 2, 3, 4],
      results: [
        { n: 1, doubled: 2, redrive: 0 },
        { n: 2, doubled: 4, redrive: 1 },
        { n: 3, doubled: 6, redrive: 0 },
        { n: 4, doubled: 8, redrive: 0 },
      ],
    });

    const history = fan.getExecutionHistory(arn);
    expect(history.slice(0, failedHistory.length)).toEqual(failedHistory);
    const after = history.slice(failedHistory.length);
    expect(after[0]).toMatchObject({
      type: 'ExecutionRedriven',
      executionRedrivenEventDetails: { redriveCount: 1 },
    });
    // The Map is entered again over all four items; only the redriven iteration gets iteration events.
    expect(statesEntered(after)).toEqual(['Items', 'Double', 'Done']);
    expect(after.find((e) => e.type === 'MapStateStarted')?.mapStateStartedEventDetails).toEqual({
      length: 4,
    });
    expect(
      after.flatMap((e) =>
        e.type.startsWith('MapIteration')
          ? [
              `${e.type} ${e.mapIterationStartedEventDetails?.index ?? e.mapIterationSucceededEventDetails?.index}`,
            ]
          : [],
      ),
    ).toEqual(['MapIterationStarted 1', 'MapIterationSucceeded 1']);
    expect(eventTypes(after)).toContain('MapStateSucceeded');
    expect(JSON.stringify(history)).not.toContain('saga-local:');
    expect(history.map((e) => e.id)).toEqual(history.map((_, i) => i + 1));
    await fan.close();
  });

  test('a Parallel state: only the failed branch runs again, the others keep their outputs in place', async () => {
    const fan = makeFanService();
    failing.broken = true;
    hold();
    const { executionArn: arn } = (await fan.handle('StartExecution', {
      stateMachineArn: PARALLEL_MACHINE,
      name: 'parallel',
      input: JSON.stringify({ orderId: 'o-9' }),
    })) as { executionArn: string };
    const exited = (): string[] =>
      fan
        .getExecutionHistory(arn)
        .flatMap((e) => (e.stateExitedEventDetails?.name ? [e.stateExitedEventDetails.name] : []));
    await until(() => exited().includes('A') && exited().includes('CDone'));
    failing.release();
    expect(await fan.waitForExecution(arn)).toMatchObject({ status: 'FAILED', error: 'Broken' });
    const failedHistory = fan.getExecutionHistory(arn);

    failing.broken = false;
    const from = fanFunctions.calls.length;
    await fan.handle('RedriveExecution', { executionArn: arn });
    const done = await fan.waitForExecution(arn, { timeoutMs: 5_000 });
    expect(done).toMatchObject({ status: 'SUCCEEDED', redriveCount: 1 });
    expect(callsSince(from, 'branch')).toEqual([{ name: 'b', redrive: 1 }]);
    expect(JSON.parse(String(done.output))).toEqual([
      { name: 'a', redrive: 0 },
      { name: 'b', redrive: 1 },
      { name: 'c', redrive: 0 },
    ]);
    const after = fan.getExecutionHistory(arn).slice(failedHistory.length);
    expect(eventTypes(after).slice(0, 3)).toEqual([
      'ExecutionRedriven',
      'ParallelStateEntered',
      'ParallelStateStarted',
    ]);
    expect(statesEntered(after)).toEqual(['Fan', 'B', 'Done']);
    expect(eventTypes(after)).toContain('ParallelStateSucceeded');
    expect(JSON.stringify(after)).not.toContain('saga-local:');
    await fan.close();
  });

  test('reuse holds for the visit the redrive resumes only: the Map entered again later runs every item', async () => {
    const fan = makeFanService();
    failing.broken = true;
    hold();
    const { executionArn: arn } = (await fan.handle('StartExecution', {
      stateMachineArn: LOOP_MACHINE,
      name: 'loop',
      input: JSON.stringify({ items: [1, 2, 3, 4] }),
    })) as { executionArn: string };
    await until(
      () => fan.getExecutionHistory(arn).filter((e) => e.type === 'MapIterationSucceeded').length === 3,
    );
    failing.release();
    expect(await fan.waitForExecution(arn)).toMatchObject({ status: 'FAILED' });
    const failedHistory = fan.getExecutionHistory(arn);

    failing.broken = false;
    const from = fanFunctions.calls.length;
    await fan.handle('RedriveExecution', { executionArn: arn });
    const done = await fan.waitForExecution(arn, { timeoutMs: 5_000 });
    expect(done).toMatchObject({ status: 'SUCCEEDED' });
    const calls = callsSince(from, 'double') as { n: number }[];
    expect(calls[0]).toEqual({ n: 2, redrive: 1 });
    expect(
      calls
        .slice(1)
        .map((call) => call.n)
        .sort(),
    ).toEqual([1, 2, 3, 4]);
    expect((JSON.parse(String(done.output)) as { results: unknown[] }).results).toEqual(
      [1, 2, 3, 4].map((n) => ({ n, doubled: n * 2, redrive: 1 })),
    );
    const after = fan.getExecutionHistory(arn).slice(failedHistory.length);
    expect(statesEntered(after)).toEqual([
      'Items',
      'Double',
      'Again',
      'Mark',
      'Items',
      'Double',
      'Double',
      'Double',
      'Double',
      'Again',
      'Done',
    ]);
    expect(after.filter((e) => e.type === 'MapIterationSucceeded')).toHaveLength(5);
    await fan.close();
  });
});
