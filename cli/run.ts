import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option, type OptionValues } from '@commander-js/extra-typings';
import type { CommandContext, GlobalOptions } from './command.ts';
import {
  benchCommand,
  chaosCommand,
  demoCommand,
  deployCommand,
  destroyCommand,
  diffCommand,
  doctorCommand,
  examples,
  flagsClearCommand,
  flagsCommand,
  flagsListCommand,
  flagsSetCommand,
  graphCommand,
  logsCommand,
  lsCommand,
  orderCommand,
  redriveCommand,
  replayCommand,
  reportCommand,
  watchCommand,
} from './definitions.ts';
import { interruptNote, toExpectedError } from './errors.ts';
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

/**
 * Runs the CLI with `argv` (without node and script) and returns the exit code. Never touches `process`
 * itself (bin/saga does), so tests run it in-process.
 */
export async function run(argv: readonly string[], io: Partial<RunIo> = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const env = io.env ?? process.env;
  const isTTY = Boolean(stdout.isTTY) && env.CI !== 'true';
  const wantsJson = argv.includes('--json');
  const early = await Output.create({
    stdout,
    stderr,
    json: wantsJson,
    color: isTTY && !env.NO_COLOR && !argv.includes('--no-color'),
    interactive: isTTY,
  });
  let exitCode = 0;
  // One signal per run, aborted by the caller's (bin/saga aborts it on SIGINT).
  const interrupt = new AbortController();
  if (io.signal?.aborted) interrupt.abort();
  io.signal?.addEventListener('abort', () => interrupt.abort(), { once: true });
  const program = buildProgram(early, async (commandName, start) => {
    // The global options are the program's own (commander keeps each option on the command that defines it).
    const g = program.opts();
    const globals: GlobalOptions = {
      target: g.target,
      profile: g.profile,
      region: g.region,
      json: g.json,
      color: g.color && !env.NO_COLOR && !g.json && isTTY,
      yes: g.yes,
    };
    const out = await Output.create({
      stdout,
      stderr,
      json: globals.json,
      color: globals.color,
      interactive: isTTY,
      width: Math.max(60, Math.min(stdout.columns ?? 100, 160)),
    });
    const ctx: CommandContext = {
      out,
      projectDir: io.cwd ?? process.cwd(),
      env,
      globals,
      prompter: io.prompter ?? terminalPrompter(isTTY && !globals.json),
      signal: interrupt.signal,
    };
    exitCode = await untilInterrupted(start(ctx), ctx, commandName, isTTY);
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

/** Runs a command's handler with its context; `run` builds the context once the command line is parsed. */
type Dispatch = (commandName: string, start: (ctx: CommandContext) => Promise<number>) => Promise<void>;

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

function buildProgram(out: Output, dispatch: Dispatch) {
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

  /** Runs the command with the handler its module exports, loading that module only when the command runs. */
  const on = <A extends unknown[], O extends OptionValues, G extends OptionValues>(
    command: Command<A, O, G>,
    load: () => Promise<{ default: (ctx: CommandContext, args: A, options: O) => Promise<number> }>,
  ) =>
    command.action(async () => {
      const { default: action } = await load();
      await dispatch(command.name(), (ctx) => action(ctx, command.processedArgs, command.opts()));
    });

  on(deployCommand(program), () => import('./commands/deploy.ts'));
  on(destroyCommand(program), () => import('./commands/destroy.ts'));
  on(orderCommand(program), () => import('./commands/order.ts'));
  on(watchCommand(program), () => import('./commands/watch.ts'));
  on(graphCommand(program), () => import('./commands/graph.ts'));
  on(diffCommand(program), () => import('./commands/diff.ts'));
  on(reportCommand(program), () => import('./commands/report.ts'));
  on(replayCommand(program), () => import('./commands/replay.ts'));
  on(redriveCommand(program), () => import('./commands/redrive.ts'));
  on(lsCommand(program), () => import('./commands/ls.ts'));
  on(logsCommand(program), () => import('./commands/logs.ts'));

  const flags = flagsCommand(program);
  const flagsModule = () => import('./commands/flags.ts');
  on(flagsListCommand(flags), async () => ({ default: (await flagsModule()).actions.list }));
  on(flagsSetCommand(flags), async () => ({ default: (await flagsModule()).actions.set }));
  on(flagsClearCommand(flags), async () => ({ default: (await flagsModule()).actions.clear }));

  on(demoCommand(program), () => import('./commands/demo.ts'));
  on(benchCommand(program), () => import('./commands/bench.ts'));
  on(chaosCommand(program), () => import('./commands/chaos.ts'));
  on(doctorCommand(program), () => import('./commands/doctor.ts'));

  return program;
}
