import { describe, expect, test } from 'vitest';
import { GLOBAL_SCOPE } from '../../services/shared/failure-flags.ts';
import { runCli, tempProject } from '../../test/support/cli.ts';
import { UserError } from '../errors.ts';
import { scopeOf } from './flags.ts';

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

describe('saga flags set --rate', () => {
  test('--rate with --order passes the checks (rate applies to order flags too) and goes on to the stack', async () => {
    const cwd = await tempProject();
    const result = await runCli(
      ['flags', 'set', 'shipping:die-after-commit', '--order', '01JD8Z6Q3M4N5P6R7S8T9V0W1X', '--rate', '0.5'],
      { cwd },
    );
    // Exit 3: the local cloud is not running, so nothing refused the flag itself.
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/local cloud is not running/);
  });

  test('a rate outside 0..1 is a usage error naming what was received', async () => {
    const cwd = await tempProject();
    const result = await runCli(['flags', 'set', 'payment', '--global', '--rate', '1.5'], { cwd });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--rate must be between 0 and 1; received "1.5"');
  });

  test('the help names the new modes and the rate for both scopes', async () => {
    const cwd = await tempProject();
    const result = await runCli(['flags', 'set', '--help'], { cwd });
    expect(result.stdout).toContain('throttle:3');
    expect(result.stdout).toContain('die-after-commit');
    expect(result.stdout).toContain('timeout-after-commit');
    expect(result.stdout).toMatch(
      /--rate <share>\s+the share of invocations hit, 0\.\.1 \(order or GLOBAL\s+flag\)/,
    );
  });
});
