import { describe, expect, test } from 'vitest';
import { type FailureFlag, parseFailSpec } from '../../services/shared/failure-flags.ts';
import { CheckFailedError, UserError } from '../errors.ts';
import { expectedOutcome } from '../target/expectations.ts';
import { checkOutcome, effectiveFlags, parseFailSpecs, parseItems, placedLine } from './order.ts';

describe('parseItems', () => {
  test('sku:qty pairs, spaces and a missing qty (1) allowed', () => {
    expect(parseItems('espresso-beans:2, ceramic-mug , burr-grinder:1')).toEqual([
      { sku: 'espresso-beans', qty: 2 },
      { sku: 'ceramic-mug', qty: 1 },
      { sku: 'burr-grinder', qty: 1 },
    ]);
  });

  test.each([
    [
      'nosuch:1',
      /Unknown sku "nosuch" in --items\. Known skus: espresso-beans, pour-over-kettle, ceramic-mug/,
    ],
    ['espresso-beans:0', /"espresso-beans:0" is not sku:qty with a whole quantity ≥ 1/],
    ['espresso-beans:-1', /"espresso-beans:-1" is not sku:qty/],
    ['espresso-beans:1.5', /"espresso-beans:1.5" is not sku:qty/],
    ['espresso-beans:two', /"espresso-beans:two" is not sku:qty/],
    ['espresso-beans:1:2', /"espresso-beans:1:2" is not sku:qty/],
    ['espresso-beans:1,espresso-beans:2', /sku espresso-beans appears twice in --items/],
    [' , ', /--items is empty\. Use sku:qty,… with skus from: espresso-beans/],
    ['ESPRESSO-BEANS:1', /Unknown sku "ESPRESSO-BEANS"/],
  ])('%j → UserError', (text, message) => {
    expect(() => parseItems(text)).toThrowError(message);
    expect(() => parseItems(text)).toThrowError(UserError);
  });
});

describe('parseFailSpecs', () => {
  test('parses each spec as users type it', () => {
    expect(
      parseFailSpecs(['payment:transient:2', 'SHIPPING', 'refund:latency:500', 'release:crash-after-commit']),
    ).toEqual([
      { step: 'payment', mode: 'transient', times: 2 },
      { step: 'shipping', mode: 'error' },
      { step: 'refund', mode: 'latency', latencyMs: 500 },
      { step: 'release', mode: 'crash-after-commit', times: 1 },
    ]);
  });

  test('none → none', () => {
    expect(parseFailSpecs([])).toEqual([]);
  });

  test.each([
    [
      ['bogus'],
      /unknown step 'bogus'.*valid steps: payment, inventory, shipping, refund, release, publisher/,
    ],
    [
      ['payment:nope'],
      /unknown mode 'nope'.*valid modes: error, transient\[:N\], throttle\[:N\], timeout, crash-after-commit, die-after-commit, timeout-after-commit/,
    ],
    [['payment:transient:0'], /N must be between 1 and 100, got 0/],
    [['payment:timeout:5'], /mode 'timeout' takes no argument, got '5'/],
    [['payment', 'inventory', 'payment:timeout'], /--fail names step payment twice/],
    [['publisher:transient'], /--fail publisher is not an order failure.*saga flags set publisher/],
  ])('%j → UserError (exit 2)', (specs, message) => {
    let caught: unknown;
    try {
      parseFailSpecs(specs);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(UserError);
    expect((caught as UserError).exitCode).toBe(2);
    expect((caught as UserError).message).toMatch(message);
  });
});

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
