import type { HistoryEvent, HistoryEventType } from '@aws-sdk/client-sfn';

/** Status of an execution, as `DescribeExecution` reports it. */
export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

/** The statuses `ListExecutions` accepts as `statusFilter` (PENDING_REDRIVE never happens locally). */
export const EXECUTION_STATUSES: readonly string[] = [
  'RUNNING',
  'SUCCEEDED',
  'FAILED',
  'TIMED_OUT',
  'ABORTED',
  'PENDING_REDRIVE',
];

/** One history event exactly as `GetExecutionHistory` returns it through the AWS SDK (timestamps as `Date`). */
export type LocalHistoryEvent = HistoryEvent & {
  id: number;
  previousEventId: number;
  timestamp: Date;
  type: string;
};

/** One execution as the local Step Functions keeps it in memory and on disk. */
export interface ExecutionRecord {
  readonly executionArn: string;
  readonly stateMachineArn: string;
  readonly name: string;
  readonly roleArn: string;
  readonly startDate: Date;
  /** The execution input as the caller sent it (a JSON string). */
  readonly input: string;
  status: ExecutionStatus;
  stopDate?: Date;
  /** The execution output (a JSON string), once SUCCEEDED. */
  output?: string;
  error?: string;
  cause?: string;
  /** Times RedriveExecution restarted it (absent: never). */
  redriveCount?: number;
  /** When it was last redriven. */
  redriveDate?: Date;
  /** The `clientToken` of the last redrive, which makes a retry of that request idempotent. */
  redriveToken?: string;
  /**
   * The iterations (Map) or branches (Parallel) of the top-level Map or Parallel state `state`, in the visit of it
   * still open, that succeeded: their outputs as JSON text, by index (iteration index, or branch position). A redrive
   * (or a resume after a restart) that enters `state` again reuses them instead of running them again; AWS history
   * events carry no iteration output, hence this record. Dropped when the state exits; a new visit starts afresh.
   */
  partialResults?: { state: string; outputs: Record<string, string> };
  readonly events: LocalHistoryEvent[];
}

/** `inputDetails` / `outputDetails` as AWS writes them: the local cloud never truncates. */
export function dataDetails(): { truncated: false } {
  return { truncated: false };
}

/** JSON text of a value as AWS puts it in history details (`null` for undefined). */
export function jsonText(value: unknown): string {
  return JSON.stringify(value ?? null);
}

/**
 * Appends one event to an execution's history with the next id and AWS's `previousEventId`: the event
 * before it, except that the first state entered points at 0, as AWS records it.
 */
export function appendEvent(
  record: ExecutionRecord,
  type: HistoryEventType | string,
  details: Record<string, unknown> = {},
  timestamp: Date = new Date(),
): LocalHistoryEvent {
  const last = record.events.at(-1);
  const previousEventId = last === undefined || last.type === 'ExecutionStarted' ? 0 : last.id;
  const event = {
    id: (last?.id ?? 0) + 1,
    previousEventId,
    timestamp,
    type,
    ...details,
  } as LocalHistoryEvent;
  record.events.push(event);
  return event;
}

/**
 * Converts a value to what the AWS JSON protocol carries: every `Date` becomes epoch seconds (a number,
 * milliseconds as the fraction), which is how `@aws-sdk/client-sfn` parses timestamps.
 */
export function toWire(value: unknown): unknown {
  if (value instanceof Date) return value.getTime() / 1000;
  if (Array.isArray(value)) return value.map(toWire);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) {
      if (inner !== undefined) out[key] = toWire(inner);
    }
    return out;
  }
  return value;
}

/** A copy of an event without execution data (`includeExecutionData: false`): no `input`/`output`. */
export function withoutExecutionData(event: LocalHistoryEvent): LocalHistoryEvent {
  const copy: Record<string, unknown> = { ...event };
  for (const [key, value] of Object.entries(event)) {
    if (key.endsWith('EventDetails') && value !== null && typeof value === 'object') {
      const { input: _input, output: _output, ...rest } = value as Record<string, unknown>;
      copy[key] = rest;
    }
  }
  return copy as unknown as LocalHistoryEvent;
}
