/**
 * What each command accepts: its arguments, flags, defaults, value parsers and help. The types a command's handler
 * takes are inferred from its definition here (`HandlerOf<typeof watchCommand>`), so a handler reads typed values
 * and never casts. Loaded at start-up (bundled into cli/run.bundle.mjs): it imports nothing heavy, and command
 * modules import only its *types* (they stay loaded lazily, by the command that runs).
 */

import {
  type Command,
  type CommandUnknownOpts,
  InvalidArgumentError,
  Option,
} from '@commander-js/extra-typings';
import type { CommandContext } from './command.ts';
import { UserError } from './errors.ts';
import { parseStatuses, readSince } from './saga/order-filters.ts';
import { TIMELINE_LEGEND } from './timeline/glyphs.ts';

/** The positional arguments a definition's command takes, as parsed. */
export type ArgsOf<D> = D extends (parent: never) => Command<infer A, infer _O, infer _G> ? A : never;

/** The options a definition's command takes, as parsed (defaults applied). */
export type OptionsOf<D> = D extends (parent: never) => Command<infer _A, infer O, infer _G> ? O : never;

/** The handler of a definition's command (the default export of its module): returns the exit code. */
export type HandlerOf<D> = (ctx: CommandContext, args: ArgsOf<D>, options: OptionsOf<D>) => Promise<number>;

/** A whole number ≥ `min`, or a usage error naming the flag. */
function int(name: string, min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) {
      throw new InvalidArgumentError(
        `${name} must be a whole number ≥ ${min}; received ${JSON.stringify(value)}.`,
      );
    }
    return n;
  };
}

/** A number > 0, or a usage error naming the flag. */
function positiveNumber(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) {
      throw new InvalidArgumentError(`${name} must be a number > 0; received ${JSON.stringify(value)}.`);
    }
    return n;
  };
}

/** A share 0..1, or a usage error naming the flag. */
function share(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!(n >= 0 && n <= 1))
      throw new InvalidArgumentError(`${name} must be between 0 and 1; received ${JSON.stringify(value)}.`);
    return n;
  };
}

/** The levels `saga logs --level` takes, lowest first. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

export type LogLevel = (typeof LOG_LEVELS)[number];

/** Reads `--level` (case-insensitive, `warning` for `warn`); anything else is exit 2 naming the levels. */
export function parseLogLevel(value: string): LogLevel {
  const level = value.trim().toLowerCase();
  if (level === 'warning') return 'warn';
  if ((LOG_LEVELS as readonly string[]).includes(level)) return level as LogLevel;
  throw new UserError(
    `--level takes one of ${LOG_LEVELS.join(', ')} (lines below it are hidden); received ${JSON.stringify(value)}.`,
  );
}

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Reads a duration, in ms: `45s`, `2m`, `1h`, `1m30s`, `500ms`, or a number of seconds. Anything else, or 0, is
 * exit 2 naming the flag.
 */
export function parseDuration(text: string, flag: string): number {
  const trimmed = text.trim().toLowerCase();
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(trimmed)) ms = Number(trimmed) * 1000;
  else {
    const parts = [...trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
    if (parts.length === 0 || parts.map((p) => p[0]).join('') !== trimmed) {
      throw new UserError(
        `${flag} must be a duration such as 45s, 2m, 1h or 1m30s; received ${JSON.stringify(text)}.`,
      );
    }
    ms = parts.reduce((sum, p) => sum + Number(p[1]) * (DURATION_UNITS[p[2] ?? 's'] ?? 1000), 0);
  }
  if (ms <= 0) throw new UserError(`${flag} must be longer than 0; received ${JSON.stringify(text)}.`);
  return ms;
}

/** A repeatable flag's values. */
function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** The "Examples:" help section. */
export function examples(lines: readonly string[]): string {
  return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;
}

/** `saga deploy` */
export function deployCommand(parent: CommandUnknownOpts) {
  return parent
    .command('deploy')
    .description(
      'local: synthesize the CDK app and start the local cloud; aws: synthesize and deploy with the CDK toolkit',
    )
    .addOption(
      new Option(
        '--time-scale <factor>',
        'local: shrink Retry/Wait delays and Lambda timeouts by this factor',
      )
        .argParser(positiveNumber('--time-scale'))
        .default(0.1),
    )
    .option(
      '--edge-port <port>',
      'local: port of the AWS edge endpoint (default: the one it had, else a free one)',
      int('--edge-port', 1),
    )
    .option(
      '--app <dir>',
      'deploy this synthesized cloud assembly as it is, no synthesis (as `cdk deploy --app cdk.out`)',
    )
    .addOption(
      new Option(
        '--iam <mode>',
        'local: enforce IAM as AWS does, warn (allow and log denials) or off (check nothing)',
      )
        .choices(['enforce', 'warn', 'off'])
        .default('enforce'),
    )
    .addHelpText(
      'after',
      examples([
        'saga deploy',
        'saga deploy --time-scale 1',
        'saga deploy --app my-cdk.out',
        'saga deploy --iam warn',
        'saga deploy --target aws --profile dev',
      ]),
    );
}

/** `saga destroy` */
export function destroyCommand(parent: CommandUnknownOpts) {
  return parent
    .command('destroy')
    .description('tear the stack down (local: stop the local cloud and remove its data)')
    .addHelpText('after', examples(['saga destroy', 'saga destroy --yes']));
}

/** `saga order` */
export function orderCommand(parent: CommandUnknownOpts) {
  return parent
    .command('order')
    .description('place an order through the API (SigV4-signed), with failures injected, and follow its saga')
    .option(
      '--fail <spec>',
      'inject a failure: step[:mode[:arg]] (repeatable); steps payment, inventory, shipping, refund, release; modes error, transient[:N], throttle[:N], timeout, crash-after-commit, die-after-commit, timeout-after-commit, latency[:MS]',
      collect,
      [],
    )
    .option('--items <list>', 'sku:qty,… (default espresso-beans:1,ceramic-mug:2)')
    .option('--customer <id>', 'customer id', 'cust-demo')
    .addOption(new Option('--currency <code>', 'currency').choices(['EUR', 'USD', 'GBP']).default('EUR'))
    .option('--no-watch', 'do not follow the execution')
    .option('--logs', "interleave the order's log lines with the timeline", false)
    .option('--detail', "with --json: each step also carries the state's input and output", false)
    .addHelpText(
      'after',
      examples([
        'saga order',
        'saga order --fail inventory',
        'saga order --fail payment:transient:2',
        'saga order --fail shipping --fail refund:transient:2 --items burr-grinder:1',
        'saga order --fail payment:die-after-commit',
        'saga order --fail inventory:throttle:9 --fail refund:error',
        'saga order --no-watch --json',
      ]),
    );
}

/** `saga watch` */
export function watchCommand(parent: CommandUnknownOpts) {
  return parent
    .command('watch')
    .description('the live saga timeline of an execution (picker of recent ones when no argument on a TTY)')
    .argument('[execution]', 'execution ARN or order id')
    .option('--no-follow', 'print the timeline so far and stop')
    .option('--logs', "interleave the order's log lines", false)
    .option('--detail', "with --json: each step also carries the state's input and output", false)
    .option('--from-file <path>', 'render a saved `aws stepfunctions get-execution-history` JSON')
    .addHelpText('after', `\n${TIMELINE_LEGEND}`)
    .addHelpText(
      'after',
      examples([
        'saga watch 01JD8Z6Q3M4N5P6R7S8T9V0W1X',
        'saga watch arn:aws:states:us-east-1:123456789012:execution:OrderSaga:01JD8Z6Q3M4N5P6R7S8T9V0W1X --no-follow',
        'aws stepfunctions get-execution-history --execution-arn $ARN > h.json && saga watch --from-file h.json',
      ]),
    );
}

/** `saga graph` */
export function graphCommand(parent: CommandUnknownOpts) {
  return parent
    .command('graph')
    .description(
      'the state machine drawn from its definition (any ASL), with the path of an execution: states visited, ' +
        'transitions walked, retries, where it failed, the compensations that ran',
    )
    .argument('[execution]', 'execution ARN or order id (none: the deployed state machine alone)')
    .addOption(
      new Option(
        '--format <format>',
        'text (default on a terminal), mermaid (default when piped), svg (laid out by dagre) or html (a self-contained page)',
      ).choices(['text', 'mermaid', 'svg', 'html']),
    )
    .option('--from-file <path>', 'draw the path of a saved `aws stepfunctions get-execution-history` JSON')
    .option(
      '--definition <path>',
      'the definition to draw (ASL JSON, or describe-state-machine output) instead of the deployed one',
    )
    .addHelpText(
      'after',
      examples([
        'saga graph --definition state-machines/order-saga.asl.json',
        'saga graph 01JD8Z6Q3M4N5P6R7S8T9V0W1X',
        'saga graph 01JD8Z6Q3M4N5P6R7S8T9V0W1X --format svg > saga.svg',
        'saga graph 01JD8Z6Q3M4N5P6R7S8T9V0W1X --format html > saga.html',
        'saga graph --from-file h.json --definition state-machines/order-saga.asl.json --format mermaid',
        'saga graph --definition state-machines/order-saga.asl.json --json',
      ]),
    );
}

/** `saga diff` */
export function diffCommand(parent: CommandUnknownOpts) {
  return parent
    .command('diff')
    .description(
      'two executions side by side, aligned per state: visits, status, attempts, durations, errors; the first ' +
        'divergence highlighted (exit 0: a difference is information)',
    )
    .argument(
      '[a]',
      'execution ARN, order id (its latest execution) or execution name; a file with --from-file',
    )
    .argument('[b]', 'the other one')
    .option('--from-file', 'a and b are saved `aws stepfunctions get-execution-history` JSON files', false)
    .addHelpText(
      'after',
      examples([
        'saga diff 01JD8Z6Q3M4N5P6R7S8T9V0W1X 01JD8Z7A1B2C3D4E5F6G7H8J9K',
        'saga diff 01JD8Z6Q3M4N5P6R7S8T9V0W1X 01JD8Z6Q3M4N5P6R7S8T9V0W1X-replay-1',
        'saga diff --from-file happy.json shipping-fails.json --json',
      ]),
    );
}

/** `saga report` */
export function reportCommand(parent: CommandUnknownOpts) {
  return parent
    .command('report')
    .description(
      'one execution as a self-contained HTML page (no network needed to open it): the graph with its path, a Gantt ' +
        "of the state visits with retries and backoffs, the steps, the order's side effects and log lines",
    )
    .argument('[execution]', 'execution ARN, order id or execution name')
    .option('--html <file>', 'write the page to this file (default: stdout when piped)')
    .option('--from-file <path>', 'report on a saved `aws stepfunctions get-execution-history` JSON')
    .option(
      '--definition <path>',
      'the definition to draw (ASL JSON, or describe-state-machine output) instead of the one the execution ran',
    )
    .addHelpText(
      'after',
      examples([
        'saga report 01JD8Z6Q3M4N5P6R7S8T9V0W1X --html report.html',
        'saga report 01JD8Z6Q3M4N5P6R7S8T9V0W1X > report.html',
        'saga report --from-file h.json --definition state-machines/order-saga.asl.json --html report.html',
        'saga report 01JD8Z6Q3M4N5P6R7S8T9V0W1X --html report.html --json',
      ]),
    );
}

/** `saga replay` */
export function replayCommand(parent: CommandUnknownOpts) {
  return parent
    .command('replay')
    .description(
      're-run an existing order (its saga, its forward steps, or its outbox delivery) and prove that no side effect ' +
        'is added and no settled status changes, saying which layer answered',
    )
    .argument('<orderId>', 'the order to replay (see saga ls)')
    .option('--times <n>', 'how many re-runs', int('--times', 1), 1)
    .option('--concurrency <c>', 'how many re-runs at once', int('--concurrency', 1), 1)
    .addOption(
      new Option(
        '--via <path>',
        "sfn: new executions with the original input; steps: each forward step's function invoked directly with its original payload and key; outbox: re-deliver the outbox event",
      )
        .choices(['sfn', 'steps', 'outbox'])
        .default('sfn'),
    )
    .addHelpText(
      'after',
      examples([
        'saga replay 01JD8Z6Q3M4N5P6R7S8T9V0W1X',
        'saga replay 01JD8Z6Q3M4N5P6R7S8T9V0W1X --times 10 --concurrency 5',
        'saga replay 01JD8Z6Q3M4N5P6R7S8T9V0W1X --via steps',
        'saga replay 01JD8Z6Q3M4N5P6R7S8T9V0W1X --via outbox --json',
      ]),
    );
}

/** `saga redrive` */
export function redriveCommand(parent: CommandUnknownOpts) {
  return parent
    .command('redrive')
    .description(
      "restart an order's failed (or timed-out, or aborted) execution from the state that failed, keeping its " +
        'history (Step Functions RedriveExecution), once the cause is fixed; then follow it like saga watch',
    )
    .argument('<arn|orderId>', 'an execution ARN or name, or an order id: its latest failed execution')
    .addHelpText(
      'after',
      examples([
        'saga flags clear --order 01JD8Z6Q3M4N5P6R7S8T9V0W1X && saga redrive 01JD8Z6Q3M4N5P6R7S8T9V0W1X',
        'saga redrive arn:aws:states:us-east-1:123456789012:execution:OrderSaga:01JD8Z6Q3M4N5P6R7S8T9V0W1X',
      ]),
    );
}

/** `saga ls` */
export function lsCommand(parent: CommandUnknownOpts) {
  return parent
    .command('ls')
    .description(
      "recent orders, newest first: status, their latest execution's status and duration, the failures injected",
    )
    .option(
      '--status <statuses>',
      'only orders with this status (comma-separated for several): PENDING, CANCELLING, COMPLETED, CANCELLED, FAILED, COMPENSATION_FAILED',
      parseStatuses,
    )
    .option(
      '--since <when>',
      'only orders created since: a duration back from now (10m, 2h, 1d) or an ISO time',
      readSince,
    )
    .option('--limit <n>', 'how many orders, newest first', int('--limit', 1), 20)
    .addHelpText(
      'after',
      examples([
        'saga ls',
        'saga ls --status CANCELLED,COMPENSATION_FAILED',
        'saga ls --since 10m --limit 50',
        'saga ls --since 2026-12-03T10:00:00Z --json',
      ]),
    );
}

/** `saga logs` */
export function logsCommand(parent: CommandUnknownOpts) {
  return parent
    .command('logs')
    .description(
      "an order's log lines from every function, merged by time (CloudWatch Logs filter on orderId); --follow tails them",
    )
    .argument('[orderId]', 'the order id (see saga ls); with --follow and no id, every order')
    .option('-f, --follow', 'keep printing new lines as they arrive, until Ctrl-C')
    .option('--level <level>', 'hide lines below this level: debug, info, warn or error', parseLogLevel)
    .addHelpText(
      'after',
      examples([
        'saga logs 01JD8Z6Q3M4N5P6R7S8T9V0W1X',
        'saga logs 01JD8Z6Q3M4N5P6R7S8T9V0W1X --level warn',
        'saga logs 01JD8Z6Q3M4N5P6R7S8T9V0W1X --follow',
        'saga logs --follow --level error',
        'saga logs 01JD8Z6Q3M4N5P6R7S8T9V0W1X --json',
      ]),
    );
}

/** `saga demo` */
export function demoCommand(parent: CommandUnknownOpts) {
  return parent
    .command('demo')
    .description(
      'the guided tour: deploys if needed, then a happy order, compensation, retries, a crash after commit, a replay',
    )
    .addHelpText('after', examples(['saga demo', 'saga demo --json']));
}

/** `saga bench` */
export function benchCommand(parent: CommandUnknownOpts) {
  return parent
    .command('bench')
    .description(
      'N orders at concurrency C with a failure mix: throughput, latency, then every invariant (exit 1 on a violation)',
    )
    .option('--orders <n>', 'how many orders', int('--orders', 1), 50)
    .option('--concurrency <c>', 'orders in flight at once', int('--concurrency', 1), 10)
    .option('--mix <mix>', 'failure mix, spec=weight,… (none = no failure; + joins specs)', 'none=1')
    .addHelpText(
      'after',
      examples([
        'saga bench',
        'saga bench --orders 200 --concurrency 20 --mix none=6,inventory=2,payment:transient:2=1,shipping+refund:transient:2=1',
        'saga bench --json',
      ]),
    );
}

/** `saga chaos` */
export function chaosCommand(parent: CommandUnknownOpts) {
  return parent
    .command('chaos')
    .description(
      'property-based exploration (fast-check): generated schedules of faults, replays, duplicate deliveries, expired ' +
        'idempotency records, redrives and races, each judged against design §4b; prints a shrunk, replayable ' +
        'counterexample (exit 1). Actions: replay:<sfn|steps|outbox>:<running|settled|cleared>[:x2|x3], ' +
        'expire:<moment>, redrive:<settled|cleared>, race',
    )
    .option(
      '--runs <n>',
      'at most this many schedules (default: as many as the budget allows)',
      int('--runs', 1),
    )
    .option('--seed <s>', 'the seed (lane i uses seed + i; default: random, printed)', int('--seed', 0))
    .addOption(
      new Option('--budget <duration>', 'how long to explore: 45s, 2m, 1h')
        .argParser((value) => parseDuration(value, '--budget'))
        .default(120_000, '2m'),
    )
    .option(
      '--shrink-budget <duration>',
      'how long shrinking may take after a violation (default: the budget, ≥ 1m)',
      (value) => parseDuration(value, '--shrink-budget'),
    )
    .option(
      '--concurrency <c>',
      'fast-check lanes in parallel, each on its own orders',
      int('--concurrency', 1),
      3,
    )
    .option('--path <path>', "fast-check's path to a counterexample (with its --seed and --concurrency 1)")
    .option('--replay <schedule>', "run one schedule's JSON as printed by a counterexample")
    .addHelpText(
      'after',
      examples([
        'saga chaos',
        'saga chaos --seed 42 --budget 30m --concurrency 4',
        'saga chaos --seed 43 --path 7:1:0 --concurrency 1',
        `saga chaos --replay '{"orders":[{"flags":["shipping:transient:9"],"actions":["replay:sfn:cleared"]}]}'`,
        `saga chaos --replay '{"orders":[{"flags":["shipping:error","refund:error"],"actions":["redrive:cleared"]}]}'`,
        'saga chaos --budget 45s --json',
      ]),
    );
}

/** `saga doctor` */
export function doctorCommand(parent: CommandUnknownOpts) {
  return parent
    .command('doctor')
    .description('check Node, Java, the local cloud, AWS credentials and region, and say what to fix')
    .option('--aws', 'also check the aws target (credentials, region)', false)
    .addHelpText('after', examples(['saga doctor', 'saga doctor --aws --profile dev']));
}

/** `saga flags`: the parent of `list` (the default), `set` and `clear`. */
export function flagsCommand(parent: CommandUnknownOpts) {
  const flags = parent
    .command('flags')
    .description('list, set and clear failure flags (order-scoped or GLOBAL)')
    .addHelpText(
      'after',
      examples([
        'saga flags',
        'saga flags set payment:transient:2 --order 01JD8Z6Q3M4N5P6R7S8T9V0W1X',
        'saga flags set shipping:timeout-after-commit --order 01JD8Z6Q3M4N5P6R7S8T9V0W1X --rate 0.5',
        'saga flags set publisher:error --global --rate 0.2',
        'saga flags set inventory:throttle:3 --global',
        'saga flags clear --all',
      ]),
    );
  // `flags <word>` goes to the default `list`: a word that is no sub-command is an unknown command (with a
  // "Did you mean set?"), not "too many arguments for 'list'".
  flags.hook('preSubcommand', (self, sub) => {
    const word = self.args[0];
    if (sub.name() === 'list' && word !== undefined && word !== 'list' && !word.startsWith('-')) {
      // Commander's own "unknown command" (with its suggestion) is not part of its typed surface.
      (self as unknown as { unknownCommand(): never }).unknownCommand();
    }
  });
  return flags;
}

/** `saga flags list` (the default of `saga flags`) */
export function flagsListCommand(flags: CommandUnknownOpts) {
  return flags.command('list', { isDefault: true }).description('the flags in force');
}

/** `saga flags set` */
export function flagsSetCommand(flags: CommandUnknownOpts) {
  return flags
    .command('set')
    .description(
      'set a flag: step[:mode[:arg]] — steps payment, inventory, shipping, refund, release, publisher',
    )
    .argument(
      '<spec>',
      'e.g. payment, inventory:error, payment:transient:2, payment:throttle:3, shipping:timeout, refund:crash-after-commit, inventory:die-after-commit, shipping:timeout-after-commit, payment:latency:500',
    )
    .option('--order <orderId>', 'for one order')
    .option('--global', 'for every order')
    .option('--rate <share>', 'the share of invocations hit, 0..1 (order or GLOBAL flag)', share('--rate'));
}

/** `saga flags clear` */
export function flagsClearCommand(flags: CommandUnknownOpts) {
  return flags
    .command('clear')
    .description('clear flags: one step or all steps, of one order, GLOBAL, or everywhere')
    .argument('[step]', 'only this step')
    .option('--order <orderId>', 'of one order')
    .option('--global', 'the GLOBAL flags')
    .option('--all', 'every flag');
}
