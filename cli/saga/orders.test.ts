import { describe, expect, test } from 'vitest';
import { UserError } from '../errors.ts';
import { parseFailSpecs, parseItems, parseSpecForCli } from './orders.ts';

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

describe('parseSpecForCli', () => {
  test('publisher is a valid step for flags', () => {
    expect(parseSpecForCli('publisher:transient:3')).toEqual({
      step: 'publisher',
      mode: 'transient',
      times: 3,
    });
  });

  test('a bad spec is a UserError (exit 2), not a FailSpecError', () => {
    let caught: unknown;
    try {
      parseSpecForCli('payment:latency:abc');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(UserError);
    expect((caught as Error).message).toContain("MS must be a positive whole number, got 'abc'");
    expect((caught as Error).cause).toBeInstanceOf(Error);
  });
});
