import { describe, expect, test } from 'vitest';
import { en } from 'zod/locales';
import * as z from './zod.ts';

type RawIssue = Parameters<typeof z.englishIssueMessage>[0];

class Money {}
const inputs: unknown[] = [
  undefined,
  null,
  true,
  0,
  -3,
  1.5,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  10n,
  '',
  'x',
  Symbol.for('s'),
  [],
  [1],
  {},
  new Date(0),
  new Money(),
  Object.create(null),
  () => 1,
];
const origins = ['string', 'array', 'number', 'int', 'bigint', 'date', 'set', 'map', 'file', undefined];

// Every variant of every issue kind the services' schemas raise (and a few they could).
const issues: RawIssue[] = [
  ...['string', 'number', 'int', 'object', 'array', 'nan', 'never', 'boolean'].flatMap((expected) =>
    inputs.map((input) => ({ code: 'invalid_type' as const, expected, input, path: [] })),
  ),
  ...[['EUR'], ['EUR', 'USD', 'GBP'], [1, 2n, true, null]].map((values) => ({
    code: 'invalid_value' as const,
    values,
    input: 'x',
    path: [],
  })),
  ...(['too_big', 'too_small'] as const).flatMap((code) =>
    origins.flatMap((origin) =>
      [{ inclusive: true }, { inclusive: false }, { exact: true, inclusive: true }].map((flags) =>
        code === 'too_big'
          ? { code, origin: origin as string, maximum: 64, ...flags, input: 'x', path: [] }
          : { code, origin: origin as string, minimum: 1, ...flags, input: 'x', path: [] },
      ),
    ),
  ),
  { code: 'too_small', origin: 'bigint', minimum: 5n, inclusive: true, input: 1n, path: [] },
  { code: 'invalid_format', format: 'starts_with', prefix: 'OUTBOX#', input: 'x', path: [] },
  { code: 'invalid_format', format: 'ends_with', suffix: '#', input: 'x', path: [] },
  { code: 'invalid_format', format: 'includes', includes: '@', input: 'x', path: [] },
  {
    code: 'invalid_format',
    format: 'regex',
    pattern: '/^[0-7][0-9A-HJKMNP-TV-Z]{25}$/',
    input: 'x',
    path: [],
  },
  { code: 'not_multiple_of', divisor: 5, input: 3, path: [] },
  { code: 'unrecognized_keys', keys: ['price'], input: {}, path: [] },
  { code: 'unrecognized_keys', keys: ['price', 'total'], input: {}, path: [] },
  { code: 'invalid_key', origin: 'record', issues: [], input: {}, path: [] },
  { code: 'invalid_element', origin: 'map', key: 'k', issues: [], input: new Map(), path: [] },
  { code: 'invalid_union', errors: [], input: 1, path: [] },
  { code: 'custom', input: 1, path: [] },
];

describe('the services zod', () => {
  const zodEnglish = en().localeError;

  test('says what zod English says, for every kind of issue the services raise', () => {
    const differences = issues
      .map((issue) => ({ issue, ours: z.englishIssueMessage(issue), zods: zodEnglish?.(issue) }))
      .filter(({ ours, zods }) => ours !== zods);
    expect(differences).toEqual([]);
    expect(issues.length).toBeGreaterThan(150);
  });

  test('a string format without a pattern is named by its format', () => {
    expect(z.englishIssueMessage({ code: 'invalid_format', format: 'email', input: 'x', path: [] })).toBe(
      'Invalid email',
    );
  });

  test('schemas built with it report English, field by field', () => {
    const schema = z.strictObject({
      orderId: z.string().check(z.minLength(1)),
      amount: z.int().check(z.minimum(0)),
      items: z.array(z.object({ sku: z.string() })),
      tags: z.array(z.string()).check(z.maxLength(1)),
    });
    const result = z.safeParse(schema, {
      orderId: '',
      amount: '5',
      items: [{ sku: 1 }, {}],
      tags: ['a', 'b'],
      extra: 1,
    });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((issue) => [issue.path.join('.'), issue.message])).toEqual([
      ['orderId', 'Too small: expected string to have >=1 characters'],
      ['amount', 'Invalid input: expected number, received string'],
      ['items.0.sku', 'Invalid input: expected string, received number'],
      ['items.1.sku', 'Invalid input: expected string, received undefined'],
      ['tags', 'Too big: expected array to have <=1 items'],
      ['', 'Unrecognized key: "extra"'],
    ]);
  });
});
