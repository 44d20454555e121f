import { describe, expect, test } from 'vitest';
import { UserError } from '../errors.ts';
import { parseSince, parseStatuses } from './order-filters.ts';

describe('parseStatuses', () => {
  test('one, several (comma-separated, any case, repeats dropped)', () => {
    expect(parseStatuses('CANCELLED')).toEqual(['CANCELLED']);
    expect(parseStatuses('cancelled, compensation_failed,CANCELLED')).toEqual([
      'CANCELLED',
      'COMPENSATION_FAILED',
    ]);
    expect(parseStatuses('compensation-failed')).toEqual(['COMPENSATION_FAILED']);
  });

  test('an unknown status is a UserError naming the valid ones', () => {
    expect(() => parseStatuses('CANCELED')).toThrowError(UserError);
    expect(() => parseStatuses('COMPLETED,CANCELED')).toThrowError(
      'Unknown order status "CANCELED" in --status. The order statuses are PENDING, CANCELLING, COMPLETED, ' +
        'CANCELLED, FAILED, COMPENSATION_FAILED',
    );
    expect(() => parseStatuses(',')).toThrowError('--status needs at least one order status');
  });

  test('an execution status says which column --status filters', () => {
    expect(() => parseStatuses('SUCCEEDED')).toThrowError(
      "SUCCEEDED is an execution status; --status filters the order's own status.",
    );
  });
});

describe('parseSince', () => {
  const now = Date.parse('2026-12-03T12:00:00Z');

  test.each([
    ['30s', 30_000],
    ['10m', 600_000],
    ['2h', 7_200_000],
    ['1d', 86_400_000],
    ['1w', 604_800_000],
    ['1h30m', 5_400_000],
    [' 2H ', 7_200_000],
  ])('%s back from now', (text, ms) => {
    expect(parseSince(text, now)).toBe(now - ms);
  });

  test('an ISO time, with a zone or an offset', () => {
    expect(parseSince('2026-12-03T10:00:00Z', now)).toBe(Date.parse('2026-12-03T10:00:00Z'));
    expect(parseSince('2026-12-03T10:00:00.250+01:00', now)).toBe(Date.parse('2026-12-03T09:00:00.250Z'));
  });

  test('a date alone and a time without a zone are local time', () => {
    expect(parseSince('2026-12-03', now)).toBe(new Date(2026, 11, 3).getTime());
    expect(parseSince('2026-12-03T10:30', now)).toBe(new Date(2026, 11, 3, 10, 30).getTime());
  });

  test.each(['yesterday', '10', '10 minutes', '-5m', '2026-13-45', '5m ago', ''])(
    '%j → a UserError saying what was received and the accepted forms',
    (text) => {
      expect(() => parseSince(text, now)).toThrowError(UserError);
      expect(() => parseSince(text, now)).toThrowError(`received ${JSON.stringify(text)}`);
      expect(() => parseSince(text, now)).toThrowError(/10m, 2h, 1d.*ISO 8601 time \(2026-12-03T10:00:00Z/);
    },
  );
});
