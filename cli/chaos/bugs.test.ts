import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileDefinition } from '@saga/local-cloud/asl';
import { describe, expect, test } from 'vitest';
import { PACKAGE_ROOT } from '../target/project.ts';
import { KNOWN_BUGS } from './bugs.ts';

const ASL = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'state-machines', 'order-saga.asl.json'), 'utf8'));

describe('known bugs to put back', () => {
  test.each(Object.keys(KNOWN_BUGS) as (keyof typeof KNOWN_BUGS)[])(
    '%s is a valid definition (Step Functions would accept it) and leaves the original alone',
    (bug) => {
      const before = JSON.stringify(ASL);
      const buggy = KNOWN_BUGS[bug](ASL);
      expect(() => compileDefinition(JSON.stringify(buggy))).not.toThrow();
      expect(JSON.stringify(ASL)).toBe(before);
    },
  );

  test('settled-replay: settled orders go to the compensations, MarkOrderCancelled writes whatever the status', () => {
    const { States } = KNOWN_BUGS['settled-replay'](ASL);
    expect(States.RouteOrder?.Default).toBe('ReleaseInventory');
    expect(States.AlreadySettled).toBeUndefined();
    const parameters = States.MarkOrderCancelled?.Parameters as Record<string, Record<string, unknown>>;
    expect(parameters.ConditionExpression).toBeUndefined();
    expect(Object.keys(parameters.ExpressionAttributeValues ?? {}).sort()).toEqual([':status', ':updatedAt']);
  });

  test('no-check-order: starts at ChargePayment, MarkOrderCompleted unconditional', () => {
    const buggy = KNOWN_BUGS['no-check-order'](ASL);
    expect(buggy.StartAt).toBe('ChargePayment');
    const parameters = buggy.States.MarkOrderCompleted?.Parameters as Record<string, unknown>;
    expect(parameters.ConditionExpression).toBeUndefined();
  });
});
