import { Command, type CommandUnknownOpts } from '@commander-js/extra-typings';
import { describe, expect, expectTypeOf, test } from 'vitest';
import {
  type ArgsOf,
  chaosCommand,
  deployCommand,
  diffCommand,
  flagsCommand,
  flagsSetCommand,
  type LogLevel,
  logsCommand,
  lsCommand,
  type OptionsOf,
  orderCommand,
  parseDuration,
  parseLogLevel,
  replayCommand,
  watchCommand,
} from './definitions.ts';
import { UserError } from './errors.ts';

/** Parses `argv` with one definition and returns what its handler would receive. */
function parse<A extends unknown[], O extends Record<string, unknown>>(
  define: (parent: CommandUnknownOpts) => Command<A, O, Record<string, unknown>>,
  argv: readonly string[],
): { args: A; options: O } {
  const program = new Command('saga').exitOverride();
  const command = define(program).exitOverride();
  let received: { args: A; options: O } | undefined;
  command.action(() => {
    received = { args: command.processedArgs, options: command.opts() };
  });
  program.parse([...argv], { from: 'user' });
  if (received === undefined) throw new Error(`${argv.join(' ')}: the handler did not run`);
  return received;
}

describe('command definitions: handlers receive typed, parsed values', () => {
  test('defaults, numbers and choices come out typed: no handler casts', () => {
    const deploy = parse(deployCommand, ['deploy', '--edge-port', '5556']);
    expect(deploy.options).toEqual({ timeScale: 0.1, edgePort: 5556, iam: 'enforce' });
    expectTypeOf(deploy.options.timeScale).toEqualTypeOf<number>();
    expectTypeOf(deploy.options.iam).toEqualTypeOf<'enforce' | 'warn' | 'off'>();
    expectTypeOf(deploy.options.edgePort).toEqualTypeOf<number | undefined>();

    const replay = parse(replayCommand, [
      'replay',
      '01JD8Z6Q3M4N5P6R7S8T9V0W1X',
      '--times',
      '3',
      '--via',
      'steps',
    ]);
    expect(replay).toEqual({
      args: ['01JD8Z6Q3M4N5P6R7S8T9V0W1X'],
      options: { times: 3, concurrency: 1, via: 'steps' },
    });
    expectTypeOf<ArgsOf<typeof replayCommand>>().toEqualTypeOf<[string]>();
    expectTypeOf<OptionsOf<typeof replayCommand>['via']>().toEqualTypeOf<'sfn' | 'steps' | 'outbox'>();
  });

  test('repeatable and negatable flags, optional arguments', () => {
    const order = parse(orderCommand, [
      'order',
      '--fail',
      'inventory',
      '--fail',
      'refund:transient:2',
      '--no-watch',
    ]);
    expect(order.options).toEqual({
      fail: ['inventory', 'refund:transient:2'],
      customer: 'cust-demo',
      currency: 'EUR',
      watch: false,
      logs: false,
      detail: false,
    });
    expectTypeOf(order.options.fail).toEqualTypeOf<string[]>();
    expectTypeOf(order.options.currency).toEqualTypeOf<'EUR' | 'USD' | 'GBP'>();

    expect(parse(watchCommand, ['watch']).args).toEqual([undefined]);
    expectTypeOf<ArgsOf<typeof watchCommand>>().toEqualTypeOf<[string | undefined]>();
    expect(parse(diffCommand, ['diff', 'a.json', 'b.json', '--from-file']).args).toEqual([
      'a.json',
      'b.json',
    ]);
  });

  test('saga ls: --status and --since are read while parsing (statuses, an instant and what was typed)', () => {
    const before = Date.now();
    const { options } = parse(lsCommand, [
      'ls',
      '--status',
      'cancelled,compensation-failed',
      '--since',
      '10m',
    ]);
    expect(options.status).toEqual(['CANCELLED', 'COMPENSATION_FAILED']);
    expect(options.since?.text).toBe('10m');
    expect(options.since?.at).toBeGreaterThanOrEqual(before - 600_000);
    expect(options.since?.at).toBeLessThanOrEqual(Date.now() - 600_000);
    expect(options.limit).toBe(20);
    expect(() => parse(lsCommand, ['ls', '--status', 'SUCCEEDED'])).toThrowError(
      /SUCCEEDED is an execution status/,
    );
  });

  test('a sub-command of flags: --rate is a share 0..1', () => {
    const set = parse(
      (parent) => flagsSetCommand(flagsCommand(parent)),
      ['flags', 'set', 'payment:transient', '--global', '--rate', '0.3'],
    );
    expect(set).toEqual({ args: ['payment:transient'], options: { global: true, rate: 0.3 } });
    expectTypeOf(set.options.rate).toEqualTypeOf<number | undefined>();
  });

  test('saga logs: --level is read while parsing, any case (warning is warn); anything else names the levels', () => {
    expect(parse(logsCommand, ['logs', 'x', '--level', 'WARN']).options).toEqual({ level: 'warn' });
    expect(parse(logsCommand, ['logs', '--follow']).options).toEqual({ follow: true });
    expectTypeOf<OptionsOf<typeof logsCommand>['level']>().toEqualTypeOf<LogLevel | undefined>();
    expect(parseLogLevel('warning')).toBe('warn');
    expect(parseLogLevel(' debug ')).toBe('debug');
    expect(() => parse(logsCommand, ['logs', 'x', '--level', 'loud'])).toThrowError(UserError);
    expect(() => parseLogLevel('loud')).toThrowError(
      '--level takes one of debug, info, warn, error (lines below it are hidden); received "loud".',
    );
  });

  test('saga chaos: --budget and --shrink-budget are read while parsing, in ms (default 2m)', () => {
    expect(parse(chaosCommand, ['chaos']).options).toEqual({ budget: 120_000, concurrency: 3 });
    const { options } = parse(chaosCommand, ['chaos', '--budget', '1m30s', '--shrink-budget', '500ms']);
    expect([options.budget, options.shrinkBudget]).toEqual([90_000, 500]);
    expectTypeOf(options.budget).toEqualTypeOf<number>();
    expectTypeOf(options.shrinkBudget).toEqualTypeOf<number | undefined>();
    expect(() => parse(chaosCommand, ['chaos', '--shrink-budget', 'soon'])).toThrowError(
      '--shrink-budget must be a duration such as 45s, 2m, 1h or 1m30s; received "soon".',
    );
  });

  test.each([
    ['45s', 45_000],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['500ms', 500],
    ['90', 90_000],
    ['1.5m', 90_000],
  ])('parseDuration(%j) = %d ms', (text, ms) => {
    expect(parseDuration(text, '--budget')).toBe(ms);
  });

  test.each(['', 'soon', '2 minutes', '-1m', '0s', '0', '1m-'])(
    'parseDuration(%j) is refused, naming the flag and saying what was received',
    (text) => {
      expect(() => parseDuration(text, '--budget')).toThrowError(UserError);
      expect(() => parseDuration(text, '--budget')).toThrowError(/^--budget must be /);
      expect(() => parseDuration(text, '--budget')).toThrowError(`received ${JSON.stringify(text)}.`);
    },
  );
});
