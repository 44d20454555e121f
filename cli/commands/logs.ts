import type { CommandContext } from '../command.ts';
import { UserError } from '../errors.ts';
import { type OrderLogLine, readOrderLogs } from '../target/logs.ts';
import { type ResolvedTarget, resolveTarget } from '../target/target.ts';

/** `saga logs <orderId>`: the order's log lines from every function, merged by time. */
export async function orderLogs(ctx: CommandContext, orderId: string): Promise<OrderLogLine[]> {
  if (!/^[0-9A-HJKMNP-TV-Z]{26}$/i.test(orderId)) {
    throw new UserError(
      `An order id is a 26-character ULID; received ${JSON.stringify(orderId)}. \`saga ls\` lists them.`,
    );
  }
  const target = await resolveTarget(ctx.projectDir, ctx.globals, ctx.env);
  return await readOrderLogs(target, orderId.toUpperCase());
}

/** Reads an order's log lines as they arrive; see {@link createLogTail}. */
export interface LogTail {
  /** The log lines not returned before, in time order (none when polled again too soon). */
  poll(options?: { force?: boolean }): Promise<OrderLogLine[]>;
}

/** The key of a log line: lines with the same key are told apart by how many of them were seen. */
function logKey(line: OrderLogLine): string {
  return `${line.timestamp}\u0000${line.functionName}\u0000${line.message}`;
}

/**
 * Tails an order's log lines: each poll reads from the newest timestamp seen (FilterLogEvents' startTime is
 * inclusive, so lines at that instant are read again and counted out), at most every `minIntervalMs` (the
 * FilterLogEvents quota is 5 calls/s per account and region, and a poll makes one call per function). A throttled
 * read returns nothing and is tried again at the next poll.
 */
export function createLogTail(
  target: ResolvedTarget,
  orderId: string,
  options: { minIntervalMs?: number } = {},
): LogTail {
  const minIntervalMs = options.minIntervalMs ?? (target.kind === 'aws' ? 3000 : 500);
  const seen = new Map<string, number>();
  let since: number | undefined;
  let lastPoll = Number.NEGATIVE_INFINITY;
  return {
    async poll({ force = false } = {}) {
      if (!force && Date.now() - lastPoll < minIntervalMs) return [];
      lastPoll = Date.now();
      let lines: OrderLogLine[];
      try {
        lines = await readOrderLogs(target, orderId, since === undefined ? {} : { startTime: since });
      } catch (error) {
        if (/Throttl|TooManyRequests|LimitExceeded/.test((error as Error).name)) return [];
        throw error;
      }
      const counts = new Map<string, number>();
      const fresh = lines.filter((line) => {
        const key = logKey(line);
        const count = (counts.get(key) ?? 0) + 1;
        counts.set(key, count);
        if (count <= (seen.get(key) ?? 0)) return false;
        seen.set(key, count);
        return true;
      });
      for (const line of lines) since = Math.max(since ?? line.timestamp, line.timestamp);
      return fresh;
    },
  };
}

/** Short function label: the construct part of a CloudFormation-generated name (`Saga-ChargePaymentFunction…`). */
export function shortFunctionName(name: string): string {
  const match = /^(?:[^-]+-)?([A-Za-z]+?)(?:Function)?[A-Z0-9]{0,13}(?:-[A-Za-z0-9]+)?$/.exec(name);
  return match?.[1] ?? name;
}

export default async function action(ctx: CommandContext, args: readonly unknown[]): Promise<number> {
  const orderId = String(args[0]);
  const lines = await orderLogs(ctx, orderId);
  const { out } = ctx;
  for (const line of lines) out.data({ type: 'log', ...line });
  if (lines.length === 0) {
    out.line(
      `No log lines carry orderId ${orderId} (yet). Check the id with ${out.style.accent('saga ls')}.`,
    );
    return 0;
  }
  const width = Math.max(...lines.map((l) => shortFunctionName(l.functionName).length));
  for (const line of lines) {
    const level =
      line.level === 'ERROR'
        ? out.style.fail(line.level.padEnd(5))
        : line.level === 'WARN'
          ? out.style.warn(line.level.padEnd(5))
          : out.style.dim(line.level.padEnd(5));
    out.line(
      `${out.style.dim(new Date(line.timestamp).toISOString().slice(11, 23))} ${out.style.accent(shortFunctionName(line.functionName).padEnd(width))} ${level} ${line.message}`,
    );
  }
  return 0;
}
