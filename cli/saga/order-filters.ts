/**
 * The filters of `saga ls` as the command line gives them: order statuses and a time. Pure and light: the command
 * definitions (cli/definitions.ts, loaded at start-up) parse `--status` and `--since` with them.
 */
import { UserError } from '../errors.ts';

/** The statuses an ORDER row can have (design §3), in the order of the saga. */
export const ORDER_STATUSES = [
  'PENDING',
  'CANCELLING',
  'COMPLETED',
  'CANCELLED',
  'FAILED',
  'COMPENSATION_FAILED',
] as const;

export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** Statuses of a Step Functions execution: a user who types one of these into --status meant the other column. */
const EXECUTION_STATUSES = new Set(['RUNNING', 'SUCCEEDED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE']);

/**
 * Reads `--status`: one status or several, comma-separated, case-insensitive. An unknown one is exit 2 naming the
 * valid ones.
 */
export function parseStatuses(value: string): OrderStatus[] {
  const words = value
    .split(',')
    .map((w) => w.trim())
    .filter((w) => w !== '');
  const valid = ORDER_STATUSES.join(', ');
  if (words.length === 0) {
    throw new UserError(
      `--status needs at least one order status (${valid}); received ${JSON.stringify(value)}.`,
    );
  }
  const statuses: OrderStatus[] = [];
  for (const word of words) {
    const upper = word.toUpperCase().replace(/-/g, '_');
    if (!(ORDER_STATUSES as readonly string[]).includes(upper)) {
      const hint = EXECUTION_STATUSES.has(upper)
        ? ` ${upper} is an execution status; --status filters the order's own status.`
        : '';
      throw new UserError(
        `Unknown order status ${JSON.stringify(word)} in --status.${hint} The order statuses are ${valid} ` +
          '(comma-separated for several: --status CANCELLED,COMPENSATION_FAILED).',
      );
    }
    if (!statuses.includes(upper as OrderStatus)) statuses.push(upper as OrderStatus);
  }
  return statuses;
}

const DURATION_UNITS: Readonly<Record<string, number>> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** An ISO 8601 date, or date and time with an optional zone (none: local time). */
export const ISO_TIME =
  /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;

/**
 * Reads `--since`: a duration back from `now` (`30s`, `10m`, `2h`, `1d`, `1w`, or combined: `1h30m`) or an ISO 8601
 * time (`2026-12-03T10:00:00Z`; a date alone is local midnight, a time without a zone local time). Returns epoch ms.
 */
export function parseSince(value: string, now = Date.now()): number {
  const text = value.trim().toLowerCase();
  const parts = [...text.matchAll(/(\d+)([smhdw])/g)];
  if (parts.length > 0 && parts.map((p) => p[0]).join('') === text) {
    return now - parts.reduce((sum, p) => sum + Number(p[1]) * (DURATION_UNITS[p[2] ?? 's'] ?? 0), 0);
  }
  if (ISO_TIME.test(value.trim())) {
    const iso = value.trim().replace(' ', 'T');
    // Date.parse reads a date alone as UTC but a date and time without a zone as local time: both local here.
    const ms = Date.parse(iso.length === 10 ? `${iso}T00:00:00` : iso);
    if (Number.isFinite(ms)) return ms;
  }
  throw new UserError(
    `--since takes a duration back from now (30s, 10m, 2h, 1d, 1w, or combined: 1h30m) or an ISO 8601 time ` +
      `(2026-12-03T10:00:00Z; 2026-12-03 is local midnight); received ${JSON.stringify(value)}.`,
  );
}

/** `--since` as typed (for "the last 10m" and the command that lists all) and as read (epoch ms). */
export interface Since {
  readonly text: string;
  readonly at: number;
}

/** Reads `--since` (see {@link parseSince}), keeping what was typed. */
export function readSince(value: string): Since {
  return { text: value, at: parseSince(value) };
}
