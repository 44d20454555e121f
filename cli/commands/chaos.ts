import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { DescribeStateMachineCommand, SFNClient } from '@aws-sdk/client-sfn';
import { type ExploreResult, explore, type RunEvent } from '../chaos/explore.ts';
import {
  DETERMINISM_NOTE,
  describeSchedule,
  progressText,
  replayCommands,
  runLine,
  type SummaryLine,
  summaryLine,
} from '../chaos/report.ts';
import { assertStock, Lock, type RunnerContext, type RunResult, runSchedule } from '../chaos/runner.ts';
import { parseSchedule, type Schedule, scheduleToJson } from '../chaos/schedule.ts';
import type { CommandContext } from '../command.ts';
import type { ArgsOf, chaosCommand, OptionsOf } from '../definitions.ts';
import { AbortError, UserError } from '../errors.ts';
import { listAllExecutions, readHistory } from '../target/executions.ts';
import type { SagaDefinition } from '../target/expectations.ts';
import { resolveTarget } from '../target/target.ts';
import { buildTimeline, renderTimeline } from '../timeline/index.ts';
import { formatDuration, formatShortDuration } from '../ui/format.ts';

/** Options of `saga chaos`. */
export interface ChaosOptions {
  /** At most this many schedules (shrink runs aside). @default as many as the budget allows */
  readonly runs?: number;
  /** The seed of lane 0. @default a random one (printed) */
  readonly seed?: number;
  /** How long to explore, ms (`--budget 45s`, `2m`, `1h`). @default 120_000 (2m) */
  readonly budget: number;
  /** How long shrinking may take after a violation, ms. @default the budget, at least 1m */
  readonly shrinkBudget?: number;
  /** fast-check lanes in parallel, each on its own orders (seeds S, S+1, …). @default 3 */
  readonly concurrency: number;
  /** fast-check's path to a counterexample (with --seed and --concurrency 1). */
  readonly path?: string;
  /** A schedule's JSON, run as it is (no exploration). */
  readonly replay?: string;
}

/** The longest a run waits for an execution: local runs settle in seconds; AWS timeouts and retries are real. */
const SETTLE_MS = { local: 120_000, aws: 900_000 } as const;

/** Checks the flags that go together; exit 2 with what to do. */
export function checkChaosOptions(options: ChaosOptions): void {
  if (options.replay !== undefined && (options.seed !== undefined || options.path !== undefined)) {
    throw new UserError(
      '--replay runs the schedule given; it takes no --seed or --path. Pass either --replay <schedule> or --seed S --path P.',
    );
  }
  if (options.path !== undefined) {
    if (options.seed === undefined) {
      throw new UserError(
        `--path ${JSON.stringify(options.path)} needs the --seed it was printed with (saga chaos --seed S --path P --concurrency 1).`,
      );
    }
    if (options.concurrency !== 1) {
      throw new UserError(
        `--path replays one lane; received --concurrency ${options.concurrency}. Pass --concurrency 1 (the counterexample's --seed is that lane's).`,
      );
    }
    if (!/^\d+(:\d+)*$/.test(options.path)) {
      throw new UserError(
        `--path must be fast-check's path, numbers joined by ':' (e.g. 12:0:3); received ${JSON.stringify(options.path)}.`,
      );
    }
  }
}

/** A random 31-bit seed. */
function randomSeed(): number {
  return Math.floor(Math.random() * 0x7fffffff);
}

/** `saga chaos`: explores generated schedules (or runs one) and judges design §4b after each run. */
export async function chaos(
  ctx: CommandContext,
  options: ChaosOptions,
  onRun: (event: RunEvent) => void = () => {},
): Promise<{ result: ExploreResult; seed: number }> {
  checkChaosOptions(options);
  const budgetMs = options.budget;
  const shrinkBudgetMs = options.shrinkBudget ?? Math.max(60_000, budgetMs);
  const schedule = options.replay === undefined ? undefined : parseSchedule(options.replay);
  const target = await resolveTarget(ctx.projectDir, ctx.globals, ctx.env);
  if (target.kind === 'aws' && !ctx.globals.yes) {
    const yes = await ctx.prompter.confirm(
      `saga chaos places real orders on AWS (${target.region}) and sets failure flags for ${formatShortDuration(options.budget)}. Continue?`,
      { default: false },
    );
    if (!yes) throw new AbortError('Nothing placed.');
  }
  const ddb = new DynamoDBClient(target.clientConfig());
  await assertStock(target, ddb);
  const sfn = new SFNClient(target.clientConfig());
  const { definition } = await sfn.send(
    new DescribeStateMachineCommand({ stateMachineArn: target.outputs.StateMachineArn }),
  );
  const runner: RunnerContext = {
    target,
    ddb,
    sfn,
    // The deployed saga's retry counts decide the expectations, not this checkout's ASL.
    ...(definition ? { definition: JSON.parse(definition) as SagaDefinition } : {}),
    lambda: new LambdaClient(target.clientConfig()),
    settleMs: SETTLE_MS[target.kind],
    signal: ctx.signal,
    publisherLock: new Lock(),
  };
  const seed = options.seed ?? randomSeed();
  if (schedule !== undefined)
    return { result: await replaySchedule(runner, schedule, options.runs ?? 1, onRun), seed };
  const result = await explore({
    seed,
    concurrency: options.concurrency,
    budgetMs,
    shrinkBudgetMs,
    ...(options.runs === undefined ? {} : { maxRuns: options.runs }),
    ...(options.path === undefined ? {} : { path: options.path }),
    signal: ctx.signal,
    run: (s) => runSchedule(runner, s),
    onRun,
  });
  return { result, seed };
}

/** `--replay`: the schedule, `times` times in a row (no shrinking: it is already the one to look at). */
async function replaySchedule(
  runner: RunnerContext,
  schedule: Schedule,
  times: number,
  onRun: (event: RunEvent) => void,
): Promise<ExploreResult> {
  const started = Date.now();
  let orders = 0;
  let failedRuns = 0;
  let failed: RunResult | undefined;
  for (let i = 0; i < times && !runner.signal?.aborted; i++) {
    const result = await runSchedule(runner, schedule);
    orders += result.orderIds.length;
    onRun({ lane: 0, seed: 0, schedule, result, shrinking: false });
    if (result.violations.length > 0) {
      failedRuns++;
      failed = result;
      break;
    }
  }
  return {
    runs: failed ? failedRuns : times,
    shrinkRuns: 0,
    orders,
    failedRuns,
    durationMs: Date.now() - started,
    ...(failed
      ? { counterexample: { lane: 0, seed: 0, path: '', schedule, result: failed, shrinks: 0 } }
      : {}),
  };
}

export default async function action(
  ctx: CommandContext,
  _args: ArgsOf<typeof chaosCommand>,
  raw: OptionsOf<typeof chaosCommand>,
): Promise<number> {
  let options: ChaosOptions = raw;
  const { out } = ctx;
  checkChaosOptions(options);
  const replaying = options.replay !== undefined;
  // Chosen here rather than in chaos() so that it is printed first: a Ctrl-C still leaves the seed on screen.
  if (!replaying && options.seed === undefined) options = { ...options, seed: randomSeed() };
  const budgetMs = options.budget;
  const startedAt = Date.now();
  const state = { runs: 0, orders: 0, violations: 0, shrinking: false };
  out.line(
    out.style.dim(
      replaying
        ? 'Running the schedule given.'
        : `Exploring for ${formatShortDuration(budgetMs)} with ${options.concurrency} lane(s) from seed ${options.seed} (lane i: seed + i).`,
    ),
  );
  const progress = await out.progress(progressText({ ...state, leftMs: budgetMs }));
  const tick = () => progress.update(progressText({ ...state, leftMs: startedAt + budgetMs - Date.now() }));
  const timer = setInterval(tick, 1000);
  let outcome: Awaited<ReturnType<typeof chaos>>;
  try {
    outcome = await chaos(ctx, options, (event) => {
      if (!event.shrinking) state.runs++;
      state.orders += event.result.orderIds.length;
      state.violations += event.result.violations.length;
      state.shrinking ||= event.shrinking || event.result.violations.length > 0;
      out.data(runLine(event));
      tick();
    });
  } finally {
    clearInterval(timer);
    progress.stop();
  }
  const { result, seed } = outcome;
  const summary = summaryLine(result, replaying ? 0 : seed, options.concurrency);
  out.data(summary);
  await printSummary(ctx, summary, result, replaying);
  if (result.counterexample) return 1;
  if (result.error !== undefined) throw result.error;
  // Ctrl-C: what was explored so far is printed above; the exploration itself did not run its course.
  if (ctx.signal.aborted) throw new AbortError('Aborted: the budget had not run out.');
  return 0;
}

async function printSummary(
  ctx: CommandContext,
  summary: SummaryLine,
  result: ExploreResult,
  replaying: boolean,
): Promise<void> {
  const { out } = ctx;
  if (out.json) return;
  const minutes = `${summary.schedulesPerMinute} schedules/min · ${summary.ordersPerMinute} orders/min`;
  out.line(
    `${summary.runs} schedules (${summary.shrinkRuns} shrink runs) · ${summary.orders} orders · ` +
      `${formatDuration(summary.durationMs)} · ${minutes}${replaying ? '' : ` · seed ${summary.seed}`}`,
  );
  const found = result.counterexample;
  if (!found) {
    out.line(`${out.style.ok('✓')} No violation of design §4b in any run.`);
    if (!replaying)
      out.line(out.style.dim(`Run again with --seed ${summary.seed} to explore the same schedules.`));
    return;
  }
  out.line();
  out.line(
    out.style.fail(
      replaying
        ? '✗ The schedule breaks the invariants:'
        : `✗ Counterexample${found.shrinks > 0 ? `, shrunk ${found.shrinks}×` : ''} (lane seed ${found.seed}):`,
    ),
  );
  for (const line of describeSchedule(found.schedule, found.result.orderIds)) out.line(`  ${line}`);
  out.line();
  for (const v of found.result.violations) {
    out.line(`${out.style.fail('✗')} ${v.name}`);
    out.line(`  ${out.style.dim(v.detail)}`);
  }
  const orderId = found.result.violations.flatMap((v) => v.orders)[0];
  if (orderId !== undefined) await printTimelines(ctx, orderId);
  out.line();
  out.line('Replay it:');
  for (const command of found.path === '' ? replayCommands(found).slice(1) : replayCommands(found)) {
    out.line(`  ${out.style.accent(command)}`);
  }
  out.line(out.style.dim(DETERMINISM_NOTE));
  out.line(out.style.dim(`Schedule: ${JSON.stringify(scheduleToJson(found.schedule))}`));
}

/** The timelines of every execution of the order (the watch renderer), oldest first. */
async function printTimelines(ctx: CommandContext, orderId: string): Promise<void> {
  const { out } = ctx;
  const target = await resolveTarget(ctx.projectDir, ctx.globals, ctx.env);
  const sfn = new SFNClient(target.clientConfig());
  const executions = (await listAllExecutions(sfn, target.outputs.StateMachineArn))
    .filter((e) => e.name === orderId || e.name?.startsWith(`${orderId}-`))
    .sort((a, b) => (a.startDate?.getTime() ?? 0) - (b.startDate?.getTime() ?? 0));
  for (const e of executions) {
    out.line();
    out.line(out.style.bold(`Execution ${e.name} (${e.status}):`));
    const model = buildTimeline(await readHistory(sfn, e.executionArn ?? ''));
    for (const line of renderTimeline(model, { width: out.width, style: out.style })) out.line(`  ${line}`);
  }
}
