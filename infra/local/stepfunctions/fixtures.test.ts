import { readFileSync } from 'node:fs';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestTable, testDynamoDbClient } from '../../../test/support/dynamodb.ts';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from '../types.ts';
import type { LocalHistoryEvent } from './history.ts';
import { StepFunctionsService } from './service.ts';
import { historyShape, namedError, TestFunctions } from './testing.ts';

// Each test runs a definition like the one behind a history recorded on real AWS
// (test/fixtures/aws-history, copied from the project's shared fixtures) and compares the histories' skeletons: event types, ids,
// previousEventIds and the keys of every details object.

const FIXTURES = new URL('../../../test/fixtures/aws-history/', import.meta.url);
const ROLE = `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/saga-test`;

function fixture(file: string): { events: Record<string, unknown>[]; _definition?: unknown } {
  return JSON.parse(readFileSync(new URL(file, FIXTURES), 'utf8'));
}

const dynamodb = testDynamoDbClient();
const functions = new TestFunctions({
  empty: () => ({}),
  hello: () => ({ Return: 'HelloWorld' }),
  raises: () => {
    throw namedError('Exception', 'Some exception was raised.');
  },
  slow: () => new Promise((resolve) => setTimeout(() => resolve({}), 1_500)),
  errorsInBody: () => ({ ResponseBody: { errors: ['Errors.Failure'] } }),
});
const service = new StepFunctionsService({
  lambda: functions,
  dynamodb,
  timeScale: 0.01,
  accountId: LOCAL_ACCOUNT_ID,
  region: LOCAL_REGION,
});
let machines = 0;

async function run(
  definition: unknown,
  input: unknown,
): Promise<{ events: LocalHistoryEvent[]; status?: string }> {
  const name = `fixture-${++machines}`;
  const arn = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:stateMachine:${name}`;
  service.createStateMachine({
    name,
    arn,
    definition: JSON.stringify(definition),
    roleArn: ROLE,
    type: 'STANDARD',
  });
  const { executionArn } = (await service.handle('StartExecution', {
    stateMachineArn: arn,
    input: JSON.stringify(input),
  })) as { executionArn: string };
  const described = await service.waitForExecution(executionArn, { timeoutMs: 20_000 });
  return { events: [...service.getExecutionHistory(executionArn)], status: described.status };
}

function detail(event: LocalHistoryEvent | undefined, key: string): Record<string, unknown> {
  return (event as unknown as Record<string, Record<string, unknown>>)[key] ?? {};
}

let table = '';
beforeAll(async () => {
  table = await createTestTable(dynamodb, 'sfn-fixture', { keys: [{ name: 'id', type: 'HASH' }] });
});
afterAll(() => service.close());

describe('histories match the ones AWS recorded', () => {
  test('01 lambda:invoke success then Pass', async () => {
    const { events, status } = await run(
      {
        StartAt: 'Start',
        States: {
          Start: {
            Type: 'Task',
            Resource: 'arn:aws:states:::lambda:invoke',
            Parameters: { 'FunctionName.$': '$.FunctionName', 'Payload.$': '$.Payload' },
            Next: 'EndWithFinal',
          },
          EndWithFinal: { Type: 'Pass', ResultPath: '$.final', End: true },
        },
      },
      { FunctionName: 'empty', Payload: null },
    );
    expect(status).toBe('SUCCEEDED');
    expect(historyShape(events as never)).toEqual(
      historyShape(fixture('01-lambda-invoke-success.json').events),
    );
    const output = JSON.parse(String(detail(events[4], 'taskSucceededEventDetails').output));
    expect(Object.keys(output).sort()).toEqual(
      ['ExecutedVersion', 'Payload', 'SdkHttpMetadata', 'SdkResponseMetadata', 'StatusCode'].sort(),
    );
    expect(output).toMatchObject({ ExecutedVersion: '$LATEST', Payload: {}, StatusCode: 200 });
    expect(Object.keys(output.SdkHttpMetadata.HttpHeaders).sort()).toEqual(
      Object.keys(
        (
          fixture('01-lambda-invoke-success.json').events[4] as {
            taskSucceededEventDetails: { output: { SdkHttpMetadata: { HttpHeaders: object } } };
          }
        ).taskSucceededEventDetails.output.SdkHttpMetadata.HttpHeaders,
      ).sort(),
    );
    expect(detail(events[2], 'taskScheduledEventDetails')).toEqual({
      resourceType: 'lambda',
      resource: 'invoke',
      region: LOCAL_REGION,
      parameters: '{"FunctionName":"empty","Payload":null}',
    });
  });

  test('02 retries inside one TaskStateEntered..Exited, RetryCount 0..3, then Catch', async () => {
    const { events, status } = await run(
      {
        StartAt: 'InvokeLambdaWithRetry',
        States: {
          InvokeLambdaWithRetry: {
            Type: 'Task',
            Resource: 'arn:aws:states:::lambda:invoke',
            Parameters: {
              'FunctionName.$': '$.FunctionName',
              Payload: { 'ThisContextObject.$': '$$', 'ThisState.$': '$' },
            },
            Retry: [{ ErrorEquals: ['States.ALL'], IntervalSeconds: 1, MaxAttempts: 3, BackoffRate: 1 }],
            Catch: [{ ErrorEquals: ['States.ALL'], Next: 'HandleError' }],
            End: true,
          },
          HandleError: { Type: 'Pass', End: true },
        },
      },
      { FunctionName: 'raises', Value1: 'HelloWorld!', Value2: null },
    );
    expect(status).toBe('SUCCEEDED');
    expect(historyShape(events as never)).toEqual(
      historyShape(fixture('02-lambda-invoke-retry-then-catch.json').events),
    );
    const scheduled = events.filter((event) => event.type === 'TaskScheduled');
    const retryCounts = scheduled.map(
      (event) =>
        JSON.parse(String(event.taskScheduledEventDetails?.parameters)).Payload.ThisContextObject.State
          .RetryCount,
    );
    expect(retryCounts).toEqual([0, 1, 2, 3]);
    const context = JSON.parse(String(scheduled[0]?.taskScheduledEventDetails?.parameters)).Payload
      .ThisContextObject;
    expect(context.State.Name).toBe('InvokeLambdaWithRetry');
    expect(context.Execution.Id).toMatch(/^arn:aws:states:us-east-1:000000000000:execution:fixture-\d+:/);
  });

  test('03 a caught function error: error = errorType, cause = the error payload JSON', async () => {
    const { events } = await run(
      {
        StartAt: 'Start',
        States: {
          Start: {
            Type: 'Task',
            Resource: 'arn:aws:states:::lambda:invoke',
            Parameters: { 'FunctionName.$': '$.FunctionName', 'Payload.$': '$.Payload' },
            Catch: [{ ErrorEquals: ['States.ALL'], Next: 'EndWithStateTaskFailedHandler' }],
            End: true,
          },
          EndWithStateTaskFailedHandler: { Type: 'Pass', End: true },
        },
      },
      { FunctionName: 'raises', Payload: null },
    );
    expect(historyShape(events as never)).toEqual(
      historyShape(fixture('03-lambda-invoke-catch-to-pass.json').events),
    );
    const failed = detail(events[4], 'taskFailedEventDetails');
    expect(failed.error).toBe('Exception');
    const cause = JSON.parse(String(failed.cause));
    expect(cause).toMatchObject({ errorType: 'Exception', errorMessage: 'Some exception was raised.' });
    // The catcher's output is {Error, Cause} with the cause string unchanged, as in the fixture.
    expect(JSON.parse(String(detail(events[5], 'stateExitedEventDetails').output))).toEqual({
      Error: 'Exception',
      Cause: failed.cause,
    });
  });

  test('04 dynamodb putItem then getItem against DynamoDB Local', async () => {
    const { events, status } = await run(
      {
        StartAt: 'PutItem',
        States: {
          PutItem: {
            Type: 'Task',
            Resource: 'arn:aws:states:::dynamodb:putItem',
            Parameters: { 'TableName.$': '$.TableName', 'Item.$': '$.Item' },
            ResultPath: '$.putItemOutput',
            Next: 'GetItem',
          },
          GetItem: {
            Type: 'Task',
            Resource: 'arn:aws:states:::dynamodb:getItem',
            Parameters: { 'TableName.$': '$.TableName', 'Key.$': '$.Key' },
            ResultPath: '$.getItemOutput',
            End: true,
          },
        },
      },
      { TableName: table, Item: { data: { S: 'HelloWorld' }, id: { S: 'id1' } }, Key: { id: { S: 'id1' } } },
    );
    expect(status).toBe('SUCCEEDED');
    expect(historyShape(events as never)).toEqual(
      historyShape(fixture('04-dynamodb-putitem-getitem-success.json').events),
    );
    const putOutput = JSON.parse(String(detail(events[4], 'taskSucceededEventDetails').output));
    const getOutput = JSON.parse(String(detail(events[9], 'taskSucceededEventDetails').output));
    expect(Object.keys(putOutput).sort()).toEqual(['SdkHttpMetadata', 'SdkResponseMetadata']);
    expect(Object.keys(getOutput).sort()).toEqual(['Item', 'SdkHttpMetadata', 'SdkResponseMetadata']);
    expect(getOutput.Item).toEqual({ data: { S: 'HelloWorld' }, id: { S: 'id1' } });
    const stored = await dynamodb.send(new GetItemCommand({ TableName: table, Key: { id: { S: 'id1' } } }));
    expect(stored.Item?.data).toEqual({ S: 'HelloWorld' });
  });

  test('05 Choice then Pass (the recorded definition, identical details)', async () => {
    const recorded = fixture('05-choice-then-pass.json');
    const { events } = await run(recorded._definition, { type: 'Public', value: 3 });
    expect(historyShape(events as never)).toEqual(historyShape(recorded.events));
    // Inputs and outputs are JSON strings whose content matches what AWS recorded.
    for (const [i, event] of events.entries()) {
      const theirs = recorded.events[i] as Record<string, Record<string, unknown>>;
      for (const key of Object.keys(event).filter((k) => k.endsWith('EventDetails'))) {
        const ours = detail(event, key);
        for (const field of ['input', 'output'] as const) {
          if (ours[field] !== undefined)
            expect(JSON.parse(String(ours[field]))).toEqual(theirs[key]?.[field]);
        }
      }
    }
  });

  test('06 plain Lambda ARN resources record LambdaFunction* events', async () => {
    const { events } = await run(
      {
        StartAt: 'step1',
        States: {
          step1: { Type: 'Task', Resource: TestFunctions.arn('hello'), Next: 'step2' },
          step2: { Type: 'Task', Resource: TestFunctions.arn('hello'), ResultPath: '$.Return', End: true },
        },
      },
      {},
    );
    expect(historyShape(events as never)).toEqual(
      historyShape(fixture('06-lambda-arn-two-tasks-success.json').events),
    );
    expect(JSON.parse(String(detail(events[10], 'stateExitedEventDetails').output))).toEqual({
      Return: { Return: 'HelloWorld' },
    });
  });

  test('07 a Fail state without Error/Cause: FailStateEntered, then ExecutionFailed with empty details', async () => {
    const { events, status } = await run(
      {
        StartAt: 'Add Pet to Store',
        States: {
          'Add Pet to Store': {
            Type: 'Task',
            Resource: 'arn:aws:states:::lambda:invoke',
            Parameters: { FunctionName: 'errorsInBody', 'Payload.$': '$' },
            OutputPath: '$.Payload',
            Next: 'Pet was Added Successfully?',
          },
          'Pet was Added Successfully?': {
            Type: 'Choice',
            Choices: [{ Variable: '$.ResponseBody.errors', IsPresent: true, Next: 'Failure' }],
            Default: 'Success',
          },
          Success: { Type: 'Succeed' },
          Failure: { Type: 'Fail' },
        },
      },
      { fail: true },
    );
    expect(status).toBe('FAILED');
    expect(historyShape(events as never)).toEqual(
      historyShape(fixture('07-task-choice-fail-state.json').events),
    );
  });

  test('08 TimeoutSeconds: TaskTimedOut (States.Timeout), catcher gets Cause ""', async () => {
    const { events } = await run(
      {
        StartAt: 'Start',
        States: {
          Start: {
            Type: 'Task',
            Resource: 'arn:aws:states:::lambda:invoke',
            Parameters: { 'FunctionName.$': '$.FunctionName', 'Payload.$': '$.Payload' },
            TimeoutSeconds: 1,
            Catch: [{ ErrorEquals: ['States.ALL'], Next: 'EndWithHandler' }],
            End: true,
          },
          EndWithHandler: { Type: 'Pass', ResultPath: '$.error', End: true },
        },
      },
      { FunctionName: 'slow', Payload: null },
    );
    expect(historyShape(events as never)).toEqual(
      historyShape(fixture('08-lambda-invoke-timeout-catch.json').events),
    );
    expect(detail(events[2], 'taskScheduledEventDetails').timeoutInSeconds).toBe(1);
    expect(detail(events[4], 'taskTimedOutEventDetails')).toEqual({
      resourceType: 'lambda',
      resource: 'invoke',
      error: 'States.Timeout',
    });
    expect(JSON.parse(String(detail(events[5], 'stateExitedEventDetails').output))).toEqual({
      Error: 'States.Timeout',
      Cause: '',
    });
  });
});

describe('states without a recorded fixture', () => {
  test('a Wait state pauses for Seconds × timeScale, between WaitStateEntered and WaitStateExited', async () => {
    const { events } = await run(
      { StartAt: 'Pause', States: { Pause: { Type: 'Wait', Seconds: 10, End: true } } },
      {},
    );
    expect(events.map((e) => e.type)).toEqual([
      'ExecutionStarted',
      'WaitStateEntered',
      'WaitStateExited',
      'ExecutionSucceeded',
    ]);
    const gap = Number(events[2]?.timestamp.getTime()) - Number(events[1]?.timestamp.getTime());
    expect(gap).toBeGreaterThanOrEqual(95);
    expect(gap).toBeLessThan(1_000);
  });

  test('Map and Parallel states record their Started/Iteration/Succeeded events around the inner states', async () => {
    const { events, status } = await run(
      {
        StartAt: 'Each',
        States: {
          Each: {
            Type: 'Map',
            ItemsPath: '$.items',
            MaxConcurrency: 1,
            ItemProcessor: { StartAt: 'Item', States: { Item: { Type: 'Pass', End: true } } },
            ResultPath: '$.mapped',
            Next: 'Both',
          },
          Both: {
            Type: 'Parallel',
            Branches: [
              { StartAt: 'Left', States: { Left: { Type: 'Pass', Result: 'l', End: true } } },
              {
                StartAt: 'Right',
                States: { Right: { Type: 'Task', Resource: TestFunctions.arn('hello'), End: true } },
              },
            ],
            End: true,
          },
        },
      },
      { items: [1, 2] },
    );
    expect(status).toBe('SUCCEEDED');
    const types = events.map((e) => e.type);
    expect(types.slice(0, 4)).toEqual([
      'ExecutionStarted',
      'MapStateEntered',
      'MapStateStarted',
      'MapIterationStarted',
    ]);
    expect(events[2]?.mapStateStartedEventDetails).toEqual({ length: 2 });
    expect(types.filter((t) => t === 'MapIterationSucceeded')).toHaveLength(2);
    expect(types.indexOf('MapStateSucceeded')).toBe(types.indexOf('MapStateExited') - 1);
    expect(types).toContain('ParallelStateStarted');
    expect(types).toContain('LambdaFunctionSucceeded');
    expect(types.slice(-3)).toEqual(['ParallelStateSucceeded', 'ParallelStateExited', 'ExecutionSucceeded']);
    expect(events.map((e) => e.id)).toEqual(events.map((_, i) => i + 1));
  });
});
