import { decodeTime, isValid } from 'ulid';
import { describe, expect, test } from 'vitest';
import { ULID_PATTERN } from '../order/order.ts';
import { ulid } from './ulid.ts';

describe('ulid', () => {
  test('is a canonical ULID whose time part the ulid package decodes to the time given', () => {
    for (const now of [0, 1, 1_764_236_400_123, 2 ** 48 - 1]) {
      const id = ulid(now);
      expect(id).toMatch(ULID_PATTERN);
      expect(isValid(id)).toBe(true);
      expect(decodeTime(id)).toBe(now);
    }
    expect(decodeTime(ulid())).toBeGreaterThanOrEqual(Date.now() - 1000);
  });

  test('sorts by time and does not repeat', () => {
    const ids = Array.from({ length: 2000 }, () => ulid(1_764_236_400_000));
    expect(new Set(ids).size).toBe(ids.length);
    expect(ulid(1_764_236_400_000) < ulid(1_764_236_400_001)).toBe(true);
    // Every random character is used: the randomness covers the whole alphabet.
    expect(new Set(ids.flatMap((id) => [...id.slice(10)])).size).toBe(32);
  });

  test('refuses a time a ULID cannot hold', () => {
    for (const bad of [-1, 1.5, 2 ** 48, Number.NaN]) {
      expect(() => ulid(bad)).toThrow(/whole number of ms/);
    }
  });
});
