import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { CommandContext, GlobalOptions } from './command.ts';
import { interruptNote, toExpectedError } from './errors.ts';
import { TIMELINE_LEGEND } from './timeline/glyphs.ts';
import { Output } from './ui/output.ts';
import { type Prompter, terminalPrompter } from './ui/prompts.ts';

/** Where `run` reads and writes; tests pass their own. */
export interface RunIo {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  readonly stderr: NodeJS.WritableStream;
  readonly env: NodeJS.ProcessEnv;
  /** The project folder (`.saga/`, `cdk.out/`). @default process.cwd() */
  readonly cwd: string;
  /** @default terminal prompts when stdout is a TTY */
  readonly prompter?: Prompter;
  /** Ctrl-C: the command stops, `run` says what goes on without it and returns 130. */
  readonly signal?: AbortSignal;
}

/** A command's action: loads its module lazily and returns an exit code. */
type Action = (
  ctx: CommandContext,
  args: readonly unknown[],
  options: Record<string, unknown>,
) => Promise<number>;

/**
 * Runs the CLI with `argv` (without node and script) and returns the exit code. Never touches `process`
 * itself (bin/saga does), so tests run it in-process.
 */
export async function run(argv: readonly string[], io: Partial<RunIo> = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const env = io.env ?? process.env;
  const isTTY = Boolean((stdout as { isTTY?: boolean }).isTTY) && env.CI !== 'true';
  const wantsJson = argv.includes('--json');
  const early = await Output.create({
    stdout: stdout as never,
    stderr: stderr as never,
    json: wantsJson,
    color: isTTY && !env.NO_COLOR && !argv.includes('--no-color'),
    interactive: isTTY,
  });
  let exitCode = 0;
  // One signal per run, aborted by the caller's (bin/saga aborts it on SIGINT).
  const interrupt = new AbortController();
  if (io.signal?.aborted) interrupt.abort();
  io.signal?.addEventListener('abort', () => interrupt.abort(), { once: true });
  const program = buildProgram(early, async (action, command, args) => {
    const g = command.optsWithGlobals() as Record<string, unknown>;
    const globals: GlobalOptions = {
      target: g.target as string | undefined,
      profile: g.profile as string | undefined,
      region: g.region as string | undefined,
      json: Boolean(g.json),
      color: g.color !== false && !env.NO_COLOR && !g.json && isTTY,
      yes: Boolean(g.yes),
    };
    const out = await Output.create({
      stdout: stdout as never,
      stderr: stderr as never,
      json: globals.json,
      color: globals.color,
      interactive: isTTY,
      width: Math.max(60, Math.min((stdout as { columns?: number }).columns ?? 100, 160)),
    });
    const ctx: CommandContext = {
      out,
      projectDir: io.cwd ?? process.cwd(),
      env,
      globals,
      prompter: io.prompter ?? terminalPrompter(isTTY && !globals.json),
      signal: interrupt.signal,
    };
    exitCode = await untilInterrupted(action(ctx, args, command.opts()), ctx, command.name(), isTTY);
  });
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are successes; everything else commander rejects is a usage error.
      return error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.version' ||
        error.code === 'commander.help'
        ? 0
        : 2;
    }
    return report(early, error);
  }
  return exitCode;
}

/**
 * The command's exit code, or 130 as soon as Ctrl-C aborts `ctx.signal`: the command is not waited for (its waits
 * end on the signal; bin/saga exits), and the user is told what goes on without it.
 */
async function untilInterrupted(
  work: Promise<number>,
  ctx: CommandContext,
  commandName: string,
  isTTY: boolean,
): Promise<number> {
  const { signal, out } = ctx;
  const settled = work.then(
    (code) => () => code,
    (error: unknown) => () => report(out, error),
  );
  const interrupted = new Promise<undefined>((resolve) => {
    if (signal.aborted) resolve(undefined);
    signal.addEventListener('abort', () => resolve(undefined), { once: true });
  });
  const outcome = await Promise.race([settled, interrupted]);
  if (outcome !== undefined && !signal.aborted) return outcome();
  // A terminal that turns Ctrl-C into SIGINT also flushes its pending output (unless NOFLSH), racing with us: what
  // is written in the first milliseconds after the signal can be discarded. Let it finish first.
  if (isTTY) await new Promise((resolve) => setTimeout(resolve, 50));
  // A spinner may hold the cursor at the end of its line.
  if (isTTY && !out.json) out.rawError('\n');
  const note =
    interruptNote(signal) ?? DEFAULT_INTERRUPT_NOTES[commandName] ?? 'Nothing else was left running.';
  if (out.json) out.error(`Interrupted (Ctrl-C). ${note}`);
  else out.warn(`Interrupted (Ctrl-C). ${note}`);
  return 130;
}

/** What goes on after Ctrl-C, for commands that say nothing more precise (`noteForInterrupt`). */
const DEFAULT_INTERRUPT_NOTES: Readonly<Record<string, string>> = {
  order:
    'Executions already started go on in the cloud: `saga ls` lists them, `saga watch <orderId>` follows one.',
  watch: 'The execution goes on in the cloud: `saga watch` follows it again.',
  replay: 'Re-runs already started go on in the cloud: `saga ls` lists them.',
  bench: 'Orders already placed go on in the cloud: `saga ls` lists them. No invariant was checked.',
  demo: 'Executions already started go on in the cloud: `saga ls` lists them.',
  chaos: 'Executions already started go on in the cloud: `saga ls` lists them.',
};

function report(out: Output, error: unknown): number {
  // The one boundary where errors of the environment (local cloud, AWS, network) become exit 3.
  const expected = toExpectedError(error);
  if (expected) {
    out.error(expected.message);
    return expected.exitCode;
  }
  const e = error instanceof Error ? error : new Error(String(error));
  out.error(`Unexpected error (this is a bug in saga; please report it): ${e.message}`, e.stack);
  return 1;
}

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

function positiveNumber(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) {
      throw new InvalidArgumentError(`${name} must be a number > 0; received ${JSON.stringify(value)}.`);
    }
    return n;
  };
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function examples(lines: readonly string[]): string {
  return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;
}

type Dispatch = (action: Action, command: Command, args: readonly unknown[]) => Promise<void>;

/** The version in package.json (cli/run.ts and cli/run.bundle.mjs both sit one folder below it). */
function packageVersion(): string {
  try {
    return (
      JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
    ).version;
  } catch {
    return 'unknown';
  }
}

function buildProgram(out: Output, dispatch: Dispatch): Command {
  const program = new Command('saga')
    .description(
      'Deploy, drive, break and inspect an order-fulfilment saga: transactional outbox, idempotency and Step Functions\n' +
        'orchestration, on AWS or on a local cloud that runs the same template.',
    )
    .exitOverride()
    .configureOutput({
      writeOut: (s) => out.raw(s),
      writeErr: (s) => out.rawError(s),
      // Under --json a usage error is one JSON line too, like every other error.
      outputError: (s, write) => (out.json ? out.error(s.replace(/^error: /, '').trim()) : write(s)),
    })
    .showHelpAfterError(out.json ? false : '(run with --help for usage)')
    .addOption(
      new Option('--target <target>', 'local or aws (default: the last deployed, else local)').choices([
        'local',
        'aws',
      ]),
    )
    .option('--profile <name>', 'AWS profile (aws target)')
    .option('--region <region>', 'AWS region (aws target)')
    .option('--json', 'machine output: one JSON document per line', false)
    .option('--no-color', 'no colours (NO_COLOR is honoured too)')
    .option('--yes', 'answer yes to confirmations', false)
    .version(packageVersion(), '-v, --version', 'print the saga version')
    .addHelpText(
      'after',
      examples(['saga deploy', 'saga order --fail inventory', 'saga watch', 'saga replay <orderId>']),
    );

  const on =
    (load: () => Promise<{ default: Action }>) =>
    async (...raw: unknown[]) => {
      const command = raw[raw.length - 1] as Command;
      const args = raw.slice(0, -2);
      const { default: action } = await load();
      await dispatch(action, command, args);
    };

  program
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
    )
    .action(on(() => import('./commands/deploy.ts')));

  program
    .command('destroy')
    .description('tear the stack down (local: stop the local cloud and remove its data)')
    .addHelpText('after', examples(['saga destroy', 'saga destroy --yes']))
    .action(on(() => import('./commands/destroy.ts')));

  program
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
    )
    .action(on(() => import('./commands/order.ts')));

  program
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
    )
    .action(on(() => import('./commands/watch.ts')));

  program
    .command('graph')
    .description(
      'the state machine drawn from its definition (any ASL), with the path of an execution: states visited, ' +
        'transitions walked, retries, where it failed, the compensations that ran',
    )
    .argument('[execution]', 'execution ARN or order id (none: the deployed state machine alone)')
    .addOption(
      new Option(
        '--format <format>',
        'text (default on a terminal), mermaid (default when piped) or svg (laid out by dagre)',
      ).choices(['text', 'mermaid', 'svg']),
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
        'saga graph --from-file h.json --definition state-machines/order-saga.asl.json --format mermaid',
        'saga graph --definition state-machines/order-saga.asl.json --json',
      ]),
    )
    .action(on(() => import('./commands/graph.ts')));

  program
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
    )
    .action(on(() => import('./commands/diff.ts')));

  program
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
    )
    .action(on(() => import('./commands/replay.ts')));

  program
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
    )
    .action(on(() => import('./commands/redrive.ts')));

  program
    .command('ls')
    .description(
      "recent orders, newest first: status, their latest execution's status and duration, the failures injected",
    )
    .option(
      '--status <statuses>',
      'only orders with this status (comma-separated for several): PENDING, CANCELLING, COMPLETED, CANCELLED, FAILED, COMPENSATION_FAILED',
    )
    .option(
      '--since <when>',
      'only orders created since: a duration back from now (10m, 2h, 1d) or an ISO time',
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
    )
    .action(on(() => import('./commands/ls.ts')));

  program
    .command('logs')
    .description(
      "an order's log lines from every function, merged by time (CloudWatch Logs filter on orderId); --follow tails them",
    )
    .argument('[orderId]', 'the order id (see saga ls); with --follow and no id, every order')
    .option('-f, --follow', 'keep printing new lines as they arrive, until Ctrl-C')
    .option('--level <level>', 'hide lines below this level: debug, info, warn or error')
    .addHelpText(
      'after',
      examples([
        'saga logs 01JD8Z6Q3M4N5P6R7S8T9V0W1X',
        'saga logs 01JD8Z6Q3M4N5P6R7S8T9V0W1X --level warn',
        'saga logs 01JD8Z6Q3M4N5P6R7S8T9V0W1X --follow',
        'saga logs --follow --level error',
        'saga logs 01JD8Z6Q3M4N5P6R7S8T9V0W1X --json',
      ]),
    )
    .action(on(() => import('./commands/logs.ts')));

  const flags = program
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
      (self as unknown as { unknownCommand(): never }).unknownCommand();
    }
  });
  const flagsModule = () => import('./commands/flags.ts');
  flags
    .command('list', { isDefault: true })
    .description('the flags in force')
    .action(on(async () => ({ default: (await flagsModule()).actions.list })));
  flags
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
    .option('--rate <share>', 'the share of invocations hit, 0..1 (order or GLOBAL flag)', (v: string) => {
      const n = Number(v);
      if (!(n >= 0 && n <= 1))
        throw new InvalidArgumentError(`--rate must be between 0 and 1; received ${JSON.stringify(v)}.`);
      return n;
    })
    .action(on(async () => ({ default: (await flagsModule()).actions.set })));
  flags
    .command('clear')
    .description('clear flags: one step or all steps, of one order, GLOBAL, or everywhere')
    .argument('[step]', 'only this step')
    .option('--order <orderId>', 'of one order')
    .option('--global', 'the GLOBAL flags')
    .option('--all', 'every flag')
    .action(on(async () => ({ default: (await flagsModule()).actions.clear })));

  program
    .command('demo')
    .description(
      'the guided tour: deploys if needed, then a happy order, compensation, retries, a crash after commit, a replay',
    )
    .addHelpText('after', examples(['saga demo', 'saga demo --json']))
    .action(on(() => import('./commands/demo.ts')));

  program
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
    )
    .action(on(() => import('./commands/bench.ts')));

  program
    .command('chaos')
    .description(
      'property-based exploration (fast-check): generated schedules of faults, replays, duplicate deliveries, expired ' +
        'idempotency records and races, each judged against design §4b; prints a shrunk, replayable counterexample (exit 1)',
    )
    .option(
      '--runs <n>',
      'at most this many schedules (default: as many as the budget allows)',
      int('--runs', 1),
    )
    .option('--seed <s>', 'the seed (lane i uses seed + i; default: random, printed)', int('--seed', 0))
    .option('--budget <duration>', 'how long to explore: 45s, 2m, 1h', '2m')
    .option(
      '--shrink-budget <duration>',
      'how long shrinking may take after a violation (default: the budget, ≥ 1m)',
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
        'saga chaos --budget 45s --json',
      ]),
    )
    .action(on(() => import('./commands/chaos.ts')));

  program
    .command('doctor')
    .description('check Node, Java, the local cloud, AWS credentials and region, and say what to fix')
    .option('--aws', 'also check the aws target (credentials, region)', false)
    .addHelpText('after', examples(['saga doctor', 'saga doctor --aws --profile dev']))
    .action(on(() => import('./commands/doctor.ts')));

  return program;
}
