import { describe, expect, it } from 'vitest';
import { compileFilterPattern, FilterPatternError } from './filter-pattern.ts';

const powertoolsLine = JSON.stringify({
  level: 'INFO',
  message: 'charged',
  service: 'payment',
  orderId: '01JORDERAAA',
  attempt: 3,
  latency: 120.5,
  retry: true,
  note: null,
  customer: { id: 'c-1', tier: 'gold' },
  items: [
    { sku: 'red-mug', qty: 2 },
    { sku: 'blue-pen', qty: 1 },
  ],
});
const lambdaTextLine = `2026-01-01T00:00:00.000Z\t5b1c…\tINFO\t${JSON.stringify({ orderId: '01JORDERBBB', level: 'WARN' })}`;

function matches(pattern: string, message: string): boolean {
  return compileFilterPattern(pattern)(message);
}

describe('compileFilterPattern', () => {
  it.each([
    ['', 'anything at all', true],
    ['ERROR', '[ERROR 400] BAD REQUEST', true],
    ['ERROR', '{"level":"ERROR"}', true],
    ['ERROR', 'error in lowercase', false],
    ['AUTHORIZED', '[ERROR 401] UNAUTHORIZED REQUEST', false],
    ['ERROR Exception', 'ERROR: NullPointerException thrown', false],
    ['ERROR Exception', 'ERROR: Exception thrown', true],
    ['?ERROR ?WARN', 'WARN disk almost full', true],
    ['?ERROR ?WARN', 'INFO all good', false],
    ['ERROR -Exiting', 'ERROR Exiting now', false],
    ['ERROR -Exiting', 'ERROR retrying', true],
    ['"bad request"', 'a bad request came in', true],
    ['"bad request"', 'a bad  request came in', false],
    ['%AUTH[A-Z]+%', 'UNAUTHORIZED', true],
    ['%^\\d{3}$%', 'abc', false],
  ])('terms: %j on %j → %s', (pattern, message, expected) => {
    expect(matches(pattern, message)).toBe(expected);
  });

  it.each([
    ['{ $.orderId = "01JORDERAAA" }', true],
    ['{ $.orderId = "01JORDERBBB" }', false],
    ['{$.orderId=01JORDERAAA}', true],
    ['{ $.orderId = "01JORDER*" }', true],
    ['{ $.orderId = *AAA }', true],
    ['{ $.orderId != "01JORDERBBB" }', true],
    ['{ $.missing != "x" }', false],
    ['{ $.attempt = 3 }', true],
    ['{ $.attempt = 3.0 }', true],
    ['{ $.attempt > 3 }', false],
    ['{ $.attempt >= 3 }', true],
    ['{ $.latency < 121 && $.latency > 120 }', true],
    ['{ $.latency <= 120 }', false],
    ['{ $.level = "ERROR" || $.attempt = 3 }', true],
    ['{ $.level = "ERROR" && $.attempt = 3 }', false],
    ['{ ($.level = "ERROR" || $.level = "INFO") && ($.service = "payment") }', true],
    ['{ ($.level = "ERROR" || $.level = "WARN") && $.service = "payment" }', false],
    ['{ $.note IS NULL }', true],
    ['{ $.orderId IS NULL }', false],
    ['{ $.nothing NOT EXISTS }', true],
    ['{ $.note NOT EXISTS }', false],
    ['{ $.retry IS TRUE }', true],
    ['{ $.retry IS FALSE }', false],
    ['{ $.customer.tier = "gold" }', true],
    ['{ $.customer.tier = "silver" }', false],
    ['{ $.items[0].sku = "red-mug" }', true],
    ['{ $.items[1].sku = "red-mug" }', false],
    ['{ $.items[*].sku = "blue-pen" }', true],
    ['{ $.items[1].qty = 1 }', true],
    ['{ $.message = %^char% }', true],
  ])('JSON: %s → %s', (pattern, expected) => {
    expect(matches(pattern, powertoolsLine)).toBe(expected);
  });

  it('applies JSON patterns to the JSON after a Lambda text prefix, and never to plain text', () => {
    expect(matches('{ $.orderId = "01JORDERBBB" }', lambdaTextLine)).toBe(true);
    expect(matches('{ $.level = "WARN" }', lambdaTextLine)).toBe(true);
    expect(matches('{ $.orderId = "01JORDERAAA" }', lambdaTextLine)).toBe(false);
    expect(matches('{ $.orderId = * }', 'START RequestId: 1 Version: $LATEST')).toBe(false);
  });

  it.each([
    ['{ $.orderId = }', 15, 'expected a value after "="'],
    ['{ $.orderId == "x" }', 14, 'expected a value after "="'],
    ['{ $.orderId = "x"', 18, 'never closed'],
    ['{ $.attempt > "three" }', 15, 'expected a number after ">"'],
    ['{ ($.a = 1 }', 12, 'expected ")"'],
    ['{ $.a = 1 } trailing', 13, 'unexpected text after the closing "}"'],
    ['{ orderId = "x" }', 3, 'expected a selector'],
    ['"unterminated', 1, 'never closed'],
    ['[ip, user]', 1, 'space-delimited'],
    ['ERROR ?', 7, 'expected a term'],
  ])('rejects %j at position %i', (pattern, position, reason) => {
    let thrown: unknown;
    try {
      compileFilterPattern(pattern);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(FilterPatternError);
    expect((thrown as FilterPatternError).message).toContain(`position ${position}:`);
    expect((thrown as FilterPatternError).message).toContain(reason);
  });
});
