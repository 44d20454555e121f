/**
 * When each attempt of a Task visit ran: the spans the Gantt draws as separate bars, with the backoff gaps between
 * them. Pure.
 *
 * The timeline model counts a visit's attempts and measures the gaps; the bars need each attempt's own start and end.
 * Each task event belongs to the visit whose `*StateEntered` event its `previousEventId` chain leads back to (a retry's
 * `TaskScheduled` follows the previous attempt's `TaskFailed`, which follows its `TaskStarted`, ... back to the
 * entered event), so concurrent Map iterations and Parallel branches are told apart as the model tells them apart.
 */
import {
  detailsOf,
  TASK_FAILED as FAILED,
  type HistoryEventLike,
  normalizeOrder,
  SCHEDULE_FAILED,
  TASK_SCHEDULED as SCHEDULED,
  TASK_SUCCEEDED as SUCCEEDED,
  TASK_TIMED_OUT as TIMED_OUT,
  type TimelineEntry,
  timestampMs,
} from '../timeline/index.ts';

/** How one attempt ended. `running`: no outcome yet (the execution is running, or was cut short). */
export type AttemptOutcome = 'succeeded' | 'failed' | 'timed-out' | 'running';

/** One attempt of a visit, in epoch ms. */
export interface AttemptSpan {
  /** 1-based. */
  readonly attempt: number;
  /** When it was scheduled. */
  readonly startMs: number;
  /** When it succeeded, failed or timed out; the visit's end (or start) when it has no outcome. */
  readonly endMs: number;
  readonly outcome: AttemptOutcome;
  /** The error of a failed or timed-out attempt. */
  readonly error?: string | undefined;
  /** True when the spans were spread over the visit from its gaps because the history's links did not say. */
  readonly estimated: boolean;
}

/** The error an attempt's failure event names, if any. */
function errorOf(event: HistoryEventLike): string | undefined {
  const error = detailsOf(event).error;
  return typeof error === 'string' && error !== '' ? error : undefined;
}

type MutableSpan = { -readonly [K in keyof AttemptSpan]: AttemptSpan[K] };

/** Attempt spans per visit key (the id of the visit's `*StateEntered` event), read from the history's links. */
function linkedSpans(events: readonly HistoryEventLike[]): Map<string, MutableSpan[]> {
  const ordered = normalizeOrder(events);
  const byId = new Map<number, HistoryEventLike>();
  for (const event of ordered) if (event.id !== undefined) byId.set(event.id, event);
  const visitOf = new Map<number, string | undefined>();
  const visitKey = (event: HistoryEventLike): string | undefined => {
    // Iterative: a long retry chain must not overflow the stack.
    const chain: number[] = [];
    let found: string | undefined;
    for (let e: HistoryEventLike | undefined = event; e !== undefined; ) {
      if (e.id === undefined) break;
      if (visitOf.has(e.id)) {
        found = visitOf.get(e.id);
        break;
      }
      chain.push(e.id);
      if (e.type?.endsWith('StateEntered')) {
        found = String(e.id);
        break;
      }
      const previous: number | undefined = e.previousEventId;
      e = previous === undefined || previous === 0 ? undefined : byId.get(previous);
    }
    for (const id of chain) visitOf.set(id, found);
    return found;
  };
  const spans = new Map<string, MutableSpan[]>();
  for (const event of ordered) {
    const type = event.type ?? '';
    const isTask =
      SCHEDULED.has(type) ||
      SUCCEEDED.has(type) ||
      FAILED.has(type) ||
      TIMED_OUT.has(type) ||
      SCHEDULE_FAILED.has(type);
    if (!isTask) continue;
    const key = visitKey(event);
    const at = timestampMs(event.timestamp);
    if (key === undefined || at === undefined) continue;
    let list = spans.get(key);
    if (!list) {
      list = [];
      spans.set(key, list);
    }
    const last = list.at(-1);
    const open = last !== undefined && last.outcome === 'running' ? last : undefined;
    if (SCHEDULED.has(type)) {
      list.push({ attempt: list.length + 1, startMs: at, endMs: at, outcome: 'running', estimated: false });
    } else if (SCHEDULE_FAILED.has(type) || open === undefined) {
      // A failure with no scheduling before it is an attempt of its own.
      if (SUCCEEDED.has(type)) continue;
      list.push({
        attempt: list.length + 1,
        startMs: at,
        endMs: at,
        outcome: TIMED_OUT.has(type) ? 'timed-out' : 'failed',
        error: errorOf(event) ?? (TIMED_OUT.has(type) ? 'States.Timeout' : type),
        estimated: false,
      });
    } else {
      open.endMs = at;
      if (SUCCEEDED.has(type)) open.outcome = 'succeeded';
      else {
        open.outcome = TIMED_OUT.has(type) ? 'timed-out' : 'failed';
        open.error = errorOf(event) ?? (TIMED_OUT.has(type) ? 'States.Timeout' : type);
      }
    }
  }
  return spans;
}

/**
 * The attempts of a visit spread over it when the history's links did not give them: the observed gaps are real,
 * the attempts share the rest of the visit equally.
 */
function estimatedSpans(entry: TimelineEntry): AttemptSpan[] {
  const start = entry.startMs ?? 0;
  const gaps = entry.backoffMs;
  const running = Math.max(0, entry.durationMs - gaps.reduce((sum, g) => sum + g, 0));
  const each = running / entry.attempts;
  const spans: AttemptSpan[] = [];
  let at = start;
  for (let i = 0; i < entry.attempts; i++) {
    const failure = entry.errors.find((e) => e.attempt === i + 1);
    const last = i === entry.attempts - 1;
    spans.push({
      attempt: i + 1,
      startMs: at,
      endMs: at + each,
      outcome: failure
        ? failure.timedOut
          ? 'timed-out'
          : 'failed'
        : last && entry.status === 'running'
          ? 'running'
          : 'succeeded',
      error: failure?.error,
      estimated: true,
    });
    at += each + (gaps[i] ?? 0);
  }
  return spans;
}

/**
 * Each Task visit's attempts (key: {@link TimelineEntry.key}); visits of other states have none. The spans come
 * from the history's links; where they do not add up to the model's attempt count (a history without links), they
 * are estimated from the model's gaps and marked so.
 */
export function attemptSpans(
  events: readonly HistoryEventLike[],
  entries: readonly TimelineEntry[],
): Map<string, readonly AttemptSpan[]> {
  const linked = linkedSpans(events);
  const result = new Map<string, readonly AttemptSpan[]>();
  for (const entry of entries) {
    if (entry.stateType !== 'Task' || entry.attempts === 0) continue;
    const spans = linked.get(entry.key);
    if (spans !== undefined && spans.length === entry.attempts) {
      // An attempt with no outcome lasts until the visit ended (cut short) or until now (running).
      const end = entry.endMs ?? (entry.startMs ?? 0) + entry.durationMs;
      result.set(
        entry.key,
        spans.map((s) => (s.outcome === 'running' ? { ...s, endMs: Math.max(s.startMs, end) } : s)),
      );
    } else if (entry.startMs !== undefined) {
      result.set(entry.key, estimatedSpans(entry));
    }
  }
  return result;
}
