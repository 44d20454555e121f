import { describe, expect, test } from 'vitest';
import { type FailureFlag, parseFailSpec } from '../../services/shared/failure-flags.ts';
import { CheckFailedError } from '../errors.ts';
import { effectiveFlags } from '../saga/orders.ts';
import { expectedOutcome } from '../target/expectations.ts';
import { checkOutcome, placedLine } from './order.ts';

describe('effectiveFlags and checkOutcome', () => {
  const global = (sk: FailureFlag['sk'], mode: FailureFlag['mode'], rate?: number): FailureFlag => ({
    pk: 'GLOBAL',
    sk,
    mode,
    ttl: 2_000_000_000,
    ...(rate === undefined ? {} : { rate }),
  });

  test('GLOBAL flags apply to the steps the order does not flag itself; the publisher is not a saga step', () => {
    const flags = effectiveFlags(
      [parseFailSpec('shipping:transient:2')],
      [
        global('shipping', 'error'),
        global('refund', 'error', 0.5),
        global('publisher', 'error'),
        {
          ...global('payment', 'error'),
          pk: 'ORDER#01JD8Z6Q3M4N5P6R7S8T9V0W1X',
        },
      ],
    );
    expect(flags).toEqual([
      { step: 'shipping', mode: 'transient', times: 2 },
      { step: 'refund', mode: 'error', rate: 0.5 },
    ]);
  });

  test('a status other than the one implied fails the check (exit 1)', () => {
    const notes: string[] = [];
    expect(() =>
      checkOutcome('COMPLETED', expectedOutcome([parseFailSpec('shipping')]), (n) => notes.push(n)),
    ).toThrowError(CheckFailedError);
    expect(() =>
      checkOutcome('CANCELLED', expectedOutcome([parseFailSpec('shipping')]), (n) => notes.push(n)),
    ).not.toThrow();
    expect(notes).toEqual([]);
  });

  test('a mismatch caused by an IAM denial names the step, the denied call and what to do', () => {
    const denied = {
      state: 'ShipOrder',
      message:
        'User: arn:aws:sts::000000000000:assumed-role/R/F is not authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:us-east-1:000000000000:table/T',
    };
    expect(() => checkOutcome('CANCELLED', expectedOutcome([]), () => {}, denied)).toThrowError(
      /^The saga ended with order status CANCELLED, but the injected failures imply COMPLETED\. IAM denied ShipOrder a call \(User: .* dynamodb:PutItem on resource: .*table\/T\): the deployed template does not grant .* --iam warn/,
    );
  });

  test('an outcome left to chance by a rate is said, not judged', () => {
    const notes: string[] = [];
    const chance = expectedOutcome([{ ...parseFailSpec('inventory'), rate: 0.3 }]);
    expect(() => checkOutcome('COMPLETED', chance, (n) => notes.push(n))).not.toThrow();
    expect(notes).toEqual([
      'The outcome was not predictable (inventory:error (rate 0.3) may or may not hit): COMPLETED or CANCELLED.',
    ]);
  });
});

describe('the first order --json line', () => {
  test('says "type":"placed" and keeps the design §6 fields', () => {
    const placed = {
      orderId: '01JD8Z6Q3M4N5P6R7S8T9V0W1X',
      executionArn: 'arn:aws:states:us-east-1:000000000000:execution:OrderSaga:01JD8Z6Q3M4N5P6R7S8T9V0W1X',
      status: 'PENDING',
      flags: ['inventory:error'],
    };
    expect(JSON.parse(JSON.stringify(placedLine(placed)))).toEqual({ type: 'placed', ...placed });
  });
});
