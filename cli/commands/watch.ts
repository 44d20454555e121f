import { readFile } from 'node:fs/promises';
import { GetExecutionHistoryCommand, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import type { CommandContext } from '../command.ts';
import { UserError } from '../errors.ts';
import {
  checkExecutionArn,
  parseOrderId,
  toExecutionArn,
  waitForExecutionToExist,
} from '../target/executions.ts';
import { type OrderLogLine, readOrderLogs } from '../target/logs.ts';
import { type ResolvedTarget, resolveTarget } from '../target/target.ts';
import {
  buildTimeline,
  createHistoryCursor,
  diffForAppend,
  HistoryFileError,
  parseHistoryFile,
  pollIntervalMs,
  renderTimelineRows,
  type TimelineModel,
  type TimelineRow,
  type TimelineSummary,
  toJsonLines,
} from '../timeline/index.ts';
import { shortFunctionName } from './logs.ts';

/** Options of `saga watch`. */
export interface WatchOptions {
  /** Keep polling until the execution ends. @default true */
  readonly follow: boolean;
  /** Interleave the order's log lines. @default false */
  readonly logs: boolean;
  /** Render a saved `aws stepfunctions get-execution-history` JSON instead of a live execution. */
  readonly fromFile?: string;
}

/** Options of {@link followExecution}. */
export interface FollowOptions {
  readonly logs?: boolean;
  /** Keep polling until the execution ends. @default true */
  readonly follow?: boolean;
  /** The execution may not exist yet (the outbox starts it): wait for it. @default false */
  readonly waitForStart?: boolean;
  /** The stack, when the caller has resolved it already. @default resolved from the context */
  readonly target?: ResolvedTarget;
}

function isThrottle(error: unknown): boolean {
  return (
    (error as Error).name === 'ThrottlingException' || (error as Error).name === 'TooManyRequestsException'
  );
}

function isNoSuchExecution(error: unknown): boolean {
  return (error as Error).name === 'ExecutionDoesNotExist';
}

/** An unknown execution is the user's mistake (a mistyped id, another stack), not a bug: exit 2, no stack. */
function noSuchExecution(executionArn: string, cause: unknown): UserError {
  return new UserError(
    `No saga execution ${executionArn}. Check the order id or ARN with \`saga ls\`; ` +
      'a freshly placed order starts its saga a moment later (`saga order` waits for it).',
    { cause },
  );
}

/**
 * Follows an execution with the saga timeline: incremental history polls (each costs O(new events)) at an interval
 * that respects the GetExecutionHistory quota; redrawn in place on a TTY, append-only lines otherwise, JSON lines
 * under --json. Returns the final summary.
 */
export async function followExecution(
  ctx: CommandContext,
  executionArn: string,
  options: FollowOptions = {},
): Promise<TimelineSummary> {
  const { out } = ctx;
  const target = options.target ?? (await resolveTarget(ctx.projectDir, ctx.globals, ctx.env));
  const sfn = new SFNClient(target.clientConfig());
  if (options.waitForStart) {
    const waiting = await out.progress('Waiting for the outbox publisher to start the saga');
    try {
      await waitForExecutionToExist(sfn, executionArn, { signal: ctx.signal });
      waiting.stop();
    } catch (error) {
      waiting.fail('The saga did not start');
      throw error;
    }
  }
  const cursor = createHistoryCursor((page) =>
    sfn.send(new GetExecutionHistoryCommand({ executionArn, ...page, includeExecutionData: true })),
  );
  const follow = options.follow ?? true;
  let rows: TimelineRow[] = [];
  let model: TimelineModel | undefined;
  let unchanged = 0;
  const emitted = new Set<string>();
  for (;;) {
    let throttled = false;
    let fresh = 0;
    try {
      fresh = (await cursor.poll()).length;
    } catch (error) {
      if (isNoSuchExecution(error)) throw noSuchExecution(executionArn, error);
      if (!isThrottle(error)) throw error;
      throttled = true;
    }
    model = buildTimeline(cursor.events, { now: Date.now() });
    const next = renderTimelineRows(model, { width: out.width, style: out.style, footer: !options.logs });
    if (out.json) {
      // Each visit once, when it has ended; the summary at the end.
      const lines = toJsonLines(model);
      model.entries.forEach((entry, i) => {
        if (entry.status !== 'running' && !emitted.has(entry.key)) {
          emitted.add(entry.key);
          out.data(lines[i]);
        }
      });
    } else if (out.interactive) {
      out.live(next.map((r) => r.text));
    } else {
      for (const line of diffForAppend(rows, next)) out.line(line);
    }
    rows = next;
    if (cursor.finished || !follow || ctx.signal.aborted) break;
    unchanged = fresh === 0 ? unchanged + 1 : 0;
    await new Promise((r) =>
      setTimeout(
        r,
        pollIntervalMs({ unchangedPolls: unchanged, lastPollCalls: cursor.calls.lastPoll, throttled }),
      ),
    );
  }
  out.endLive();
  if (out.json) {
    const summary = toJsonLines(model).at(-1);
    if (summary) out.data(summary);
  }
  const orderId = (executionArn.split(':').at(-1) ?? '').slice(0, 26);
  if (options.logs && !out.json) {
    printInterleaved(ctx, model, await readOrderLogs(target, orderId));
  }
  const next = nextStep(model.summary, orderId);
  if (next !== undefined && !out.json) out.line(out.style.warn(next));
  return model.summary;
}

/** The `orderId` of a saga history's execution input, if it has one. */
function orderIdOf(events: ReturnType<typeof parseHistoryFile>): string | undefined {
  const input = events.find((e) => e.type === 'ExecutionStarted')?.executionStartedEventDetails?.input;
  try {
    const parsed: unknown = typeof input === 'string' ? JSON.parse(input) : input;
    const id = (parsed as { orderId?: unknown } | undefined)?.orderId;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

/** What to do about the order once its execution ended, when something is left to do. */
export function nextStep(summary: TimelineSummary, orderId: string): string | undefined {
  if (summary.status === 'RUNNING') return undefined;
  if (summary.orderStatus === 'COMPENSATION_FAILED') {
    return (
      `Next: \`saga replay ${orderId}\` resumes the compensations (clear the failure that stopped them first, ` +
      `e.g. \`saga flags clear --order ${orderId}\`).`
    );
  }
  if (summary.orderStatus === 'CANCELLING') {
    return `The order is CANCELLING with no compensation running: \`saga replay ${orderId}\` finishes them.`;
  }
  return undefined;
}

/** The timeline with the order's log lines under the state visit they happened in. */
function printInterleaved(ctx: CommandContext, model: TimelineModel, logs: readonly OrderLogLine[]): void {
  const { out } = ctx;
  const rows = renderTimelineRows(model, { width: out.width, style: out.style });
  const stepRows = rows.filter((r) => r.kind === 'step');
  const pending = [...logs];
  model.entries.forEach((entry, i) => {
    out.line(stepRows[i]?.text ?? '');
    const end = entry.endMs ?? Number.POSITIVE_INFINITY;
    while (pending.length > 0 && (pending[0]?.timestamp ?? 0) <= end) {
      const log = pending.shift() as OrderLogLine;
      out.line(
        `      ${out.style.dim(`${shortFunctionName(log.functionName)} ${log.level}`)} ${out.style.dim(log.message)}`,
      );
    }
  });
  for (const log of pending)
    out.line(`      ${out.style.dim(`${shortFunctionName(log.functionName)} ${log.level} ${log.message}`)}`);
  for (const row of rows.filter((r) => r.kind === 'footer')) out.line(row.text);
}

/** Renders a saved `get-execution-history` output (no stack needed). */
export async function renderHistoryFile(ctx: CommandContext, path: string): Promise<TimelineSummary> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new UserError(`Cannot read the history file ${path}: ${(error as Error).message}.`, {
      cause: error,
    });
  }
  let events: ReturnType<typeof parseHistoryFile>;
  try {
    events = parseHistoryFile(text);
  } catch (error) {
    if (error instanceof HistoryFileError) throw new UserError(`${path}: ${error.message}`, { cause: error });
    throw error;
  }
  if (events.length === 0) {
    throw new UserError(
      `${path} holds no history events. Save one with \`aws stepfunctions get-execution-history --execution-arn <arn> --output json > history.json\`.`,
    );
  }
  const model = buildTimeline(events);
  const { out } = ctx;
  if (out.json) {
    for (const line of toJsonLines(model)) out.data(line);
  } else {
    for (const row of renderTimelineRows(model, { width: out.width, style: out.style })) out.line(row.text);
    const next = nextStep(model.summary, orderIdOf(events) ?? '<orderId>');
    if (next !== undefined) out.line(out.style.warn(next));
  }
  return model.summary;
}

async function pickExecution(ctx: CommandContext): Promise<string> {
  const target = await resolveTarget(ctx.projectDir, ctx.globals, ctx.env);
  const sfn = new SFNClient(target.clientConfig());
  const { executions = [] } = await sfn.send(
    new ListExecutionsCommand({ stateMachineArn: target.outputs.StateMachineArn, maxResults: 20 }),
  );
  return await ctx.prompter.select(
    'Which execution?',
    executions.map((e) => ({
      name: `${e.name ?? '?'}  ${e.status ?? ''}  ${e.startDate?.toISOString().replace('T', ' ').slice(0, 19) ?? ''}`,
      value: e.executionArn ?? '',
    })),
  );
}

/** `saga watch [arn|orderId]`. */
export async function watch(
  ctx: CommandContext,
  execution: string | undefined,
  options: WatchOptions,
): Promise<TimelineSummary> {
  if (options.fromFile) return await renderHistoryFile(ctx, options.fromFile);
  let arn: string;
  let target: ResolvedTarget | undefined;
  if (execution === undefined) {
    if (!ctx.out.interactive) {
      throw new UserError('Which execution? Pass an execution ARN or an order id (`saga ls` lists them).');
    }
    arn = await pickExecution(ctx);
  } else {
    // Check the argument before looking for the stack: a typo is a usage error wherever it runs.
    if (!execution.startsWith('arn:')) parseOrderId(execution);
    else checkExecutionArn(execution);
    target = await resolveTarget(ctx.projectDir, ctx.globals, ctx.env);
    arn = toExecutionArn(target, execution);
  }
  return await followExecution(ctx, arn, { logs: options.logs, follow: options.follow, target });
}

export default async function action(
  ctx: CommandContext,
  args: readonly unknown[],
  options: Record<string, unknown>,
): Promise<number> {
  await watch(ctx, args[0] === undefined ? undefined : String(args[0]), {
    follow: options.follow !== false,
    logs: Boolean(options.logs),
    fromFile: options.fromFile as string | undefined,
  });
  return 0;
}
