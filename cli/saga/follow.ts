/**
 * Following an execution: its saga timeline, live or to the end, with the order's log lines; and reading the
 * execution an argument names (ARN, order id or execution name).
 */
import { ExecutionDoesNotExist, GetExecutionHistoryCommand, SFNClient } from '@aws-sdk/client-sfn';
import { DEFAULT_SWEEP_AFTER_SECONDS } from '../../services/outbox-sweeper/sweeper.ts';
import type { CommandContext } from '../command.ts';
import { EnvironmentError, noteForInterrupt, UserError } from '../errors.ts';
import { checkExecutionArn, parseOrderId, waitForExecutionToExist } from '../target/executions.ts';
import type { OrderLogLine } from '../target/logs.ts';
import { type ResolvedTarget, resolveTarget } from '../target/target.ts';
import {
  buildTimeline,
  createHistoryCursor,
  createTimelinePrinter,
  type ExecutionHeader,
  executionInput,
  type parseHistoryFile,
  pollIntervalMs,
  renderHeader,
  type TimelineModel,
  type TimelineSummary,
  type TimelineWrite,
} from '../timeline/index.ts';
import { formatShortDuration } from '../ui/format.ts';
import type { Output } from '../ui/output.ts';
import { createLogTail, shortFunctionName } from './log-tail.ts';

/** Options of {@link followExecution}. */
export interface FollowOptions {
  readonly logs?: boolean;
  /** Keep polling until the execution ends. @default true */
  readonly follow?: boolean;
  /** The execution may not exist yet (the outbox starts it): wait for it. @default false */
  readonly waitForStart?: boolean;
  /** The stack, when the caller has resolved it already. @default resolved from the context */
  readonly target?: ResolvedTarget;
  /** `--json`: each step also carries its input and output. @default false */
  readonly detail?: boolean;
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
    `No saga execution ${executionArn}. Check the order id, execution name or ARN: \`saga ls\` lists the orders, \`saga watch\` on a terminal the recent executions; ` +
      'a freshly placed order starts its saga a moment later (`saga order` waits for it).',
    { cause },
  );
}

/** Writes what the timeline printer says to write. */
export function writeTimeline(out: Output, what: TimelineWrite): void {
  if (what.frame !== undefined) out.live(what.frame);
  for (const line of what.lines) out.line(line);
  for (const document of what.documents) out.data(document);
}

/** The order id in an execution name (`<orderId>` or `<orderId>-replay-…`). */
function orderIdOfExecution(executionArn: string): string {
  return (executionArn.split(':').at(-1) ?? '').slice(0, 26);
}

/** The local cloud's time scale, when the target is the local cloud (undefined on aws or when unknown). */
export async function localTimeScale(
  ctx: CommandContext,
  target: ResolvedTarget,
): Promise<number | undefined> {
  if (target.kind !== 'local') return undefined;
  const { readLocalCloudState } = await import('@saga/local-cloud');
  return (await readLocalCloudState(ctx.projectDir))?.timeScale;
}

/** How long `saga order` waits for its saga to start. */
const START_WAIT_MS = 90_000;

/**
 * Follows an execution with the saga timeline: incremental history polls (each costs O(new events)) at an interval
 * that respects the GetExecutionHistory quota. A header first (execution, start, input, local time scale), then:
 * redrawn in place on a TTY, settled lines appended otherwise, JSON lines under --json. With `logs`, the order's
 * log lines are read as they arrive and shown in the same timeline. Returns the final summary (RUNNING when not
 * followed to the end).
 */
export async function followExecution(
  ctx: CommandContext,
  executionArn: string,
  options: FollowOptions = {},
): Promise<TimelineSummary> {
  const { out } = ctx;
  const target = options.target ?? (await resolveTarget(ctx.projectDir, ctx.globals, ctx.env));
  const sfn = new SFNClient(target.clientConfig());
  const name = executionArn.split(':').at(-1) ?? executionArn;
  noteForInterrupt(
    ctx.signal,
    `The execution goes on without this watch; \`saga watch ${name}\` follows it again.`,
  );
  if (options.waitForStart) {
    const waiting = await out.progress('Waiting for the outbox publisher to start the saga');
    try {
      // Long enough for the sweeper to take over from a publisher that never starts it (PENDING for a minute).
      await waitForExecutionToExist(sfn, executionArn, { signal: ctx.signal, timeoutMs: START_WAIT_MS });
      waiting.stop();
    } catch (error) {
      waiting.fail('The saga did not start');
      if (!(error instanceof ExecutionDoesNotExist)) throw error;
      const orderId = orderIdOfExecution(executionArn);
      throw new EnvironmentError(
        `The saga of order ${orderId} did not start within ${formatShortDuration(START_WAIT_MS)}: neither the outbox ` +
          `publisher nor the sweeper (which starts orders left PENDING for ${formatShortDuration(DEFAULT_SWEEP_AFTER_SECONDS * 1000)}) ` +
          'started its execution. ' +
          `\`saga logs ${orderId}\` shows their log lines (an AccessDeniedException there means the deployed ` +
          `template does not grant what they need); \`saga watch ${orderId}\` follows the saga if it starts later.`,
      );
    }
  }
  const cursor = createHistoryCursor((page) =>
    sfn.send(new GetExecutionHistoryCommand({ executionArn, ...page, includeExecutionData: true })),
  );
  const follow = options.follow ?? true;
  const orderId = orderIdOfExecution(executionArn);
  const tail = options.logs ? createLogTail(target, orderId) : undefined;
  const logs: OrderLogLine[] = [];
  const printer = createTimelinePrinter({
    mode: out.json ? 'json' : out.interactive ? 'live' : 'append',
    width: out.width,
    style: out.style,
    functionLabel: shortFunctionName,
    detail: options.detail,
  });
  const timeScale = await localTimeScale(ctx, target);
  let model: TimelineModel | undefined;
  let unchanged = 0;
  let headerShown = false;
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
    const last = cursor.finished || !follow || ctx.signal.aborted;
    // The last read of the logs is forced: the lines of the last step must not be left out.
    if (tail) logs.push(...(await tail.poll({ force: last })));
    model = buildTimeline(cursor.events, { now: Date.now() });
    // Once, as soon as the history has its start (a throttled first poll has none yet).
    if (!headerShown && !out.json && (cursor.events.length > 0 || last)) {
      headerShown = true;
      const header: ExecutionHeader = {
        name: executionArn.split(':').at(-1),
        executionArn,
        startMs: model.summary.startMs,
        input: executionInput(cursor.events),
        timeScale,
      };
      for (const line of renderHeader(header, { width: out.width, style: out.style, cut: out.interactive }))
        out.line(line);
    }
    writeTimeline(out, printer.update(model, logs, { last }));
    if (last) break;
    unchanged = fresh === 0 ? unchanged + 1 : 0;
    await new Promise((r) =>
      setTimeout(
        r,
        pollIntervalMs({ unchangedPolls: unchanged, lastPollCalls: cursor.calls.lastPoll, throttled }),
      ),
    );
  }
  out.endLive();
  if (model.summary.status === 'RUNNING' && !out.json) {
    out.line(
      out.style.dim(`Still running: \`saga watch ${executionArn.split(':').at(-1)}\` follows it to the end.`),
    );
  }
  const next = nextStep(model.summary, orderId);
  if (next !== undefined && !out.json) out.line(out.style.warn(next));
  return model.summary;
}

/** The `orderId` of a saga history's execution input, if it has one. */
export function orderIdOf(events: ReturnType<typeof parseHistoryFile>): string | undefined {
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
    // The saga ends such an execution in the compensation that failed again (a Task): a redrive restarts there.
    // An execution that ended in a Fail state (older definitions) can only be resumed by a new one.
    if (summary.status === 'FAILED' && summary.failState === undefined) {
      return (
        `Next: clear the failure that stopped the compensation (e.g. \`saga flags clear --order ${orderId}\`), ` +
        `then \`saga redrive ${orderId}\` finishes it from the step that failed and the order ends CANCELLED.`
      );
    }
    return (
      `Next: \`saga replay ${orderId}\` resumes the compensations (clear the failure that stopped them first, ` +
      `e.g. \`saga flags clear --order ${orderId}\`).`
    );
  }
  // Ended in a Task (not in a Fail state the saga chose): RedriveExecution restarts it at that state.
  if (
    (summary.status === 'FAILED' || summary.status === 'TIMED_OUT' || summary.status === 'ABORTED') &&
    summary.failState === undefined
  ) {
    return (
      `The execution ${summary.status === 'FAILED' ? 'failed' : summary.status === 'ABORTED' ? 'was stopped' : 'timed out'} ` +
      `in a step: \`saga redrive ${orderId}\` retries it from the state that failed once the cause is fixed.`
    );
  }
  if (summary.orderStatus === 'CANCELLING') {
    return `The order is CANCELLING with no compensation running: \`saga replay ${orderId}\` finishes them.`;
  }
  return undefined;
}

/**
 * A Step Functions execution name: 1 to 80 characters, none of whitespace, brackets, wildcards, the special
 * characters " # % \\ ^ | ~ ` $ & , ; : / or control characters.
 */
const EXECUTION_NAME = /^[^\s<>{}[\]?*"#%\\^|~`$&,;:/\p{Cc}]{1,80}$/u;

/**
 * The execution an argument names: an execution ARN, an order id (the execution the outbox started, named after
 * the order), or any other execution name of the saga's state machine (`<orderId>-replay-…`, as the picker and
 * `saga replay` list them). Checked before the stack is looked up: a typo is a usage error wherever it runs.
 */
export function parseExecutionArgument(value: string): { readonly arn: string } | { readonly name: string } {
  if (value.startsWith('arn:')) return { arn: checkExecutionArn(value) };
  if (/^[0-9A-HJKMNP-TV-Z]{26}$/i.test(value.trim())) return { name: parseOrderId(value) };
  if (EXECUTION_NAME.test(value)) return { name: value };
  throw new UserError(
    `Not an order id, an execution name or an execution ARN: ${JSON.stringify(value)}. An execution name has 1 to ` +
      '80 characters and no spaces, brackets or any of " # % \\ ^ | ~ ` $ & , ; : /. `saga ls` lists the orders; ' +
      '`saga watch` with no argument picks from the recent executions.',
  );
}
