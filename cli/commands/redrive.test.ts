import type { ExecutionListItem } from '@aws-sdk/client-sfn';
import { describe, expect, test } from 'vitest';
import { UserError } from '../errors.ts';
import { nextStep } from '../saga/follow.ts';
import type { TimelineSummary } from '../timeline/index.ts';
import { latestRedrivable, notRedrivableAdvice } from './redrive.ts';

const ID = '01JD8Z6Q3M4N5P6R7S8T9V0W1X';
const at = (minute: number) => new Date(Date.UTC(2026, 0, 1, 10, minute));
const execution = (name: string, status: string, minute: number): ExecutionListItem =>
  ({
    name,
    status,
    startDate: at(minute),
    executionArn: `arn:aws:states:us-east-1:000000000000:execution:OrderSaga:${name}`,
  }) as ExecutionListItem;

describe('latestRedrivable', () => {
  test("the order's most recent FAILED, TIMED_OUT or ABORTED execution, replays included", () => {
    const executions = [
      execution(ID, 'FAILED', 1),
      execution(`${ID}-replay-1`, 'ABORTED', 5),
      execution(`${ID}-replay-2`, 'SUCCEEDED', 9),
      execution('01JD8Z6Q3M4N5P6R7S8T9V0W1Y', 'FAILED', 12),
    ];
    expect(latestRedrivable(ID, executions).name).toBe(`${ID}-replay-1`);
    expect(latestRedrivable(ID, [execution(ID, 'TIMED_OUT', 1)]).status).toBe('TIMED_OUT');
  });

  test('none to redrive: exit 2 saying what its executions did', () => {
    expect(() => latestRedrivable(ID, [])).toThrow(UserError);
    expect(() => latestRedrivable(ID, [])).toThrow(/No saga execution of order/);
    expect(() => latestRedrivable(ID, [execution(ID, 'SUCCEEDED', 1)])).toThrow(
      /no execution of it FAILED, TIMED_OUT or ABORTED \(the latest, .*, is SUCCEEDED\)/,
    );
    expect(() => latestRedrivable(ID, [execution(ID, 'RUNNING', 1)])).toThrow(/saga watch/);
  });
});

describe('notRedrivableAdvice', () => {
  test("follows AWS's reason", () => {
    expect(notRedrivableAdvice('Execution is RUNNING and cannot be redriven', ID, ID)).toMatch(/saga watch/);
    expect(notRedrivableAdvice('Execution is SUCCEEDED and cannot be redriven', ID, ID)).toMatch(
      /nothing to redo/,
    );
    expect(notRedrivableAdvice('Execution redrivable period exceeded', ID, ID)).toMatch(/saga replay/);
  });
});

describe('the footer suggests a redrive', () => {
  const summary = (extra: Partial<TimelineSummary>): TimelineSummary =>
    ({ status: 'FAILED', orderStatus: 'PENDING', failState: undefined, ...extra }) as TimelineSummary;

  test('for an execution that failed, timed out or was stopped in a step', () => {
    for (const status of ['FAILED', 'TIMED_OUT', 'ABORTED'] as const) {
      expect(nextStep(summary({ status }), ID)).toMatch(
        `\`saga redrive ${ID}\` retries it from the state that failed once the cause is fixed`,
      );
    }
  });

  test('not for a saga that ended in one of its Fail states, nor for a running or successful one', () => {
    expect(nextStep(summary({ failState: 'OrderCancelled', orderStatus: 'CANCELLED' }), ID)).toBeUndefined();
    expect(nextStep(summary({ status: 'SUCCEEDED', orderStatus: 'COMPLETED' }), ID)).toBeUndefined();
    expect(nextStep(summary({ status: 'RUNNING' }), ID)).toBeUndefined();
    expect(
      nextStep(summary({ failState: 'CompensationFailed', orderStatus: 'COMPENSATION_FAILED' }), ID),
    ).toMatch(/saga replay/);
  });

  test('for a COMPENSATION_FAILED order whose execution failed in the compensation: clear the cause, redrive', () => {
    const advice = nextStep(summary({ orderStatus: 'COMPENSATION_FAILED' }), ID);
    expect(advice).toMatch(`saga flags clear --order ${ID}`);
    expect(advice).toMatch(`\`saga redrive ${ID}\` finishes it from the step that failed`);
  });
});
