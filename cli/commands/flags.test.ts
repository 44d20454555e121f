import { describe, expect, test } from 'vitest';
import { GLOBAL_SCOPE } from '../../services/shared/failure-flags.ts';
import { UserError } from '../errors.ts';
import { parseSpecForCli, scopeOf } from './flags.ts';

describe('scopeOf', () => {
  test('--global → GLOBAL, --order <ULID> → that order (upper-cased)', () => {
    expect(scopeOf({ global: true })).toBe(GLOBAL_SCOPE);
    expect(scopeOf({ order: '01jd8z6q3m4n5p6r7s8t9v0w1x' })).toEqual({
      orderId: '01JD8Z6Q3M4N5P6R7S8T9V0W1X',
    });
  });

  test.each([
    [{}, 'Say which orders the flag is for'],
    [{ global: true, order: '01JD8Z6Q3M4N5P6R7S8T9V0W1X' }, 'not both'],
    [{ order: 'abc' }, 'received "abc"'],
  ])('%j → UserError', (options, message) => {
    expect(() => scopeOf(options)).toThrowError(UserError);
    expect(() => scopeOf(options)).toThrowError(message);
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
