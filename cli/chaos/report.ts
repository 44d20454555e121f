/**
 * What `saga chaos` says (pure): the `--json` lines of design §6, the progress line, the exploration rate, the
 * counterexample with the commands that replay it.
 */

import { formatWholeSeconds } from '../ui/format.ts';
import type { Counterexample, ExploreResult, RunEvent } from './explore.ts';
import type { Violation } from './judge.ts';
import { type Schedule, scheduleToJson, serializeSchedule } from './schedule.ts';

/** The per-run `--json` line (design §6). */
export interface RunLine {
  readonly type: 'run';
  readonly seed: number;
  readonly schedule: ReturnType<typeof scheduleToJson>;
  readonly orders: readonly string[];
  readonly violations: readonly Violation[];
  /** Redrive actions Step Functions accepted (a redrive of an execution that succeeded is refused, as expected). */
  readonly redrives: number;
  /** A shrink attempt rather than an explored schedule. */
  readonly shrinking: boolean;
  readonly durationMs: number;
}

/** The last `--json` line (design §6). */
export interface SummaryLine {
  readonly type: 'summary';
  /** Schedules explored (shrink runs aside). */
  readonly runs: number;
  /** Orders placed, shrink runs included. */
  readonly orders: number;
  /** Violations in the counterexample (0 when none was found). */
  readonly violations: number;
  /** The seed of lane 0 (lane i used seed + i). */
  readonly seed: number;
  readonly concurrency: number;
  readonly durationMs: number;
  readonly schedulesPerMinute: number;
  readonly ordersPerMinute: number;
  readonly shrinkRuns: number;
  readonly counterexample?: {
    readonly seed: number;
    readonly path: string;
    readonly schedule: ReturnType<typeof scheduleToJson>;
    readonly orders: readonly string[];
    readonly violations: readonly Violation[];
    readonly shrinks: number;
    /** One-line commands that replay it. */
    readonly replay: readonly string[];
  };
  /** What the cloud's timing means for replaying a seed. */
  readonly note: string;
}

/** Said with every result: a seed fixes the schedules, not the cloud's timing. */
export const DETERMINISM_NOTE =
  'Deterministic given the seed: the same schedules in the same order. The cloud’s own timing (jitter, races, ' +
  'who commits first) is not, so a replayed counterexample may need a few runs to fail again.';

/** The `--json` line of one run. */
export function runLine(event: RunEvent): RunLine {
  return {
    type: 'run',
    seed: event.seed,
    schedule: scheduleToJson(event.schedule),
    orders: event.result.orderIds,
    violations: event.result.violations,
    redrives: event.result.redrives,
    shrinking: event.shrinking,
    durationMs: event.result.durationMs,
  };
}

/** Quotes a string for a POSIX shell (single quotes). */
export function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** The commands that replay a counterexample: by seed and path, and by the schedule itself. */
export function replayCommands(found: Pick<Counterexample, 'seed' | 'path' | 'schedule'>): string[] {
  return [
    `saga chaos --seed ${found.seed} --path ${found.path} --concurrency 1`,
    `saga chaos --replay ${shellQuote(serializeSchedule(found.schedule))}`,
  ];
}

/** Per minute, from a count and a duration. */
export function perMinute(count: number, durationMs: number): number {
  return durationMs <= 0 ? 0 : Math.round((count / (durationMs / 60_000)) * 10) / 10;
}

/** The summary line. */
export function summaryLine(result: ExploreResult, seed: number, concurrency: number): SummaryLine {
  const found = result.counterexample;
  return {
    type: 'summary',
    runs: result.runs,
    orders: result.orders,
    violations: found?.result.violations.length ?? 0,
    seed,
    concurrency,
    durationMs: result.durationMs,
    schedulesPerMinute: perMinute(result.runs + result.shrinkRuns, result.durationMs),
    ordersPerMinute: perMinute(result.orders, result.durationMs),
    shrinkRuns: result.shrinkRuns,
    ...(found
      ? {
          counterexample: {
            seed: found.seed,
            path: found.path,
            schedule: scheduleToJson(found.schedule),
            orders: found.result.orderIds,
            violations: found.result.violations,
            shrinks: found.shrinks,
            replay: replayCommands(found),
          },
        }
      : {}),
    note: DETERMINISM_NOTE,
  };
}

/** The spinner's text. */
export function progressText(state: {
  readonly runs: number;
  readonly orders: number;
  readonly violations: number;
  readonly leftMs: number;
  readonly shrinking: boolean;
}): string {
  const head = `chaos: ${state.runs} runs · ${state.orders} orders · ${state.violations} violations`;
  return state.shrinking
    ? `${head} · shrinking the counterexample`
    : `${head} · ${formatWholeSeconds(state.leftMs)} left`;
}

/** A schedule for people: one line per order, then the publisher flag. */
export function describeSchedule(schedule: Schedule, orderIds: readonly string[] = []): string[] {
  const lines = schedule.orders.map((o, i) => {
    const flags =
      o.flags.length === 0
        ? 'no flags'
        : `flags ${scheduleToJson({ orders: [o] }).orders[0]?.flags?.join(', ')}`;
    const actions = scheduleToJson({ orders: [o] }).orders[0]?.actions;
    return `order ${i + 1}${orderIds[i] ? ` (${orderIds[i]})` : ''}: ${flags}${actions ? `; then ${actions.join(', ')}` : ''}`;
  });
  const publisher = scheduleToJson(schedule).publisher;
  return publisher ? [...lines, `GLOBAL ${publisher} while the orders run`] : lines;
}
