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

  test('no state entered yet: StartAt with the execution input', () => {
    expect(
      resumePointOf({ events: [], input: '{"a":1}' }, compileDefinition(JSON.stringify(DEFINITION))),
    ).toEqual({
      state: 'Check',
      input: '{"a":1}',
    });
  });
});
