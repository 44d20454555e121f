/** Tailing log lines as they arrive (one order's or every order's): `saga watch --logs`, `saga logs -f`. */
import type { OrderLogLine } from '../target/logs.ts';
import { readOrderLogs } from '../target/logs.ts';
import type { ResolvedTarget } from '../target/target.ts';

/** Reads an order's log lines as they arrive; see {@link createLogTail}. */
export interface LogTail {
  /** The log lines not returned before, in time order (none when polled again too soon). */
  poll(options?: { force?: boolean }): Promise<OrderLogLine[]>;
}

/** The key of a log line: lines with the same key are told apart by how many of them were seen. */
function logKey(line: OrderLogLine): string {
  return `${line.timestamp}\u0000${line.functionName}\u0000${line.message}`;
}

/** Options of {@link createLogTail}. */
export interface LogTailOptions {
  /** Polls closer together than this return nothing. @default 3000 on aws (FilterLogEvents quota), 500 locally */
  readonly minIntervalMs?: number;
  /** Lines before this instant (epoch ms) are never read. @default the beginning of the log groups */
  readonly startTime?: number;
  /**
   * Each poll reads again this far back before the newest line seen: CloudWatch Logs makes lines searchable with a
   * delay, per log group, so a line of one function can arrive after a newer line of another. @default 10 s on
   * aws, 2 s locally
   */
  readonly lookbackMs?: number;
}

/**
 * Tails an order's log lines (or every order's: orderId `*`): each poll reads from a little before the newest
 * timestamp seen (FilterLogEvents' startTime is inclusive and lines arrive late, so lines are read again and counted
 * out), at most every `minIntervalMs` (the FilterLogEvents quota is 5 calls/s per account and region, and a poll
 * makes one call per function). A throttled read returns nothing and is tried again at the next poll.
 */
export function createLogTail(
  target: ResolvedTarget,
  orderId: string,
  options: LogTailOptions = {},
): LogTail {
  const minIntervalMs = options.minIntervalMs ?? (target.kind === 'aws' ? 3000 : 500);
  const lookbackMs = options.lookbackMs ?? (target.kind === 'aws' ? 10_000 : 2000);
  /** How many lines of each key were returned, with their timestamp (to forget them once out of the window). */
  const seen = new Map<string, { count: number; timestamp: number }>();
  let newest: number | undefined;
  let lastPoll = Number.NEGATIVE_INFINITY;
  return {
    async poll({ force = false } = {}) {
      if (!force && Date.now() - lastPoll < minIntervalMs) return [];
      lastPoll = Date.now();
      const from =
        newest === undefined ? options.startTime : Math.max(newest - lookbackMs, options.startTime ?? 0);
      let lines: OrderLogLine[];
      try {
        lines = await readOrderLogs(target, orderId, from === undefined ? {} : { startTime: from });
      } catch (error) {
        if (/Throttl|TooManyRequests|LimitExceeded/.test((error as Error).name)) return [];
        throw error;
      }
      const counts = new Map<string, number>();
      const fresh = lines.filter((line) => {
        const key = logKey(line);
        const count = (counts.get(key) ?? 0) + 1;
        counts.set(key, count);
        if (count <= (seen.get(key)?.count ?? 0)) return false;
        seen.set(key, { count, timestamp: line.timestamp });
        return true;
      });
      for (const line of lines) newest = Math.max(newest ?? line.timestamp, line.timestamp);
      // Lines older than the next read's start are never read again: their keys can go.
      if (newest !== undefined) {
        for (const [key, entry] of seen) if (entry.timestamp < newest - lookbackMs) seen.delete(key);
      }
      return fresh;
    },
  };
}

/** Short function label: the construct part of a CloudFormation-generated name (`Saga-ChargePaymentFunction…`). */
export function shortFunctionName(name: string): string {
  const match = /^(?:[^-]+-)?([A-Za-z]+?)(?:Function)?[A-Z0-9]{0,13}(?:-[A-Za-z0-9]+)?$/.exec(name);
  return match?.[1] ?? name;
}
