/**
 * Step Functions execution history: the event shape the timeline reads, a parser for saved
 * `aws stepfunctions get-execution-history` output, and an incremental fetcher whose polls cost O(new events).
 */
import type { HistoryEvent } from '@aws-sdk/client-sfn';

/** A JSON value as found in a history file. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * A details object as the timeline accepts it: the SDK's fields, where each may also be any JSON value.
 * Saved histories (and the fixtures recorded from AWS) keep `input`, `output`, `parameters` and `cause` either
 * as the JSON-encoded strings the API returns or as parsed objects.
 */
export type LooseDetails<T> = { [K in keyof T]?: T[K] | JsonValue };

type DetailsKey = Exclude<keyof HistoryEvent, 'id' | 'previousEventId' | 'type' | 'timestamp'>;

/**
 * One Step Functions history event as the timeline accepts it. An SDK `HistoryEvent` is one; so is an event
 * parsed from a saved history file, whose `timestamp` is an ISO string (or epoch seconds, as some AWS CLI
 * configurations print it) and whose JSON fields may already be parsed.
 */
export type HistoryEventLike = {
  /** Event id: consecutive integers from 1 within one execution. */
  id?: number | undefined;
  /** The id of the event that caused this one (0 when none). */
  previousEventId?: number | undefined;
  /** `HistoryEventType`, e.g. `TaskStateEntered`. Unknown types are tolerated and ignored. */
  type?: string | undefined;
  /** When the event happened: a Date, an ISO-8601 string, or epoch seconds/milliseconds. */
  timestamp?: Date | string | number | undefined;
} & { [K in DetailsKey]?: LooseDetails<NonNullable<HistoryEvent[K]>> | undefined };

/** A history file could not be read as a Step Functions execution history. */
export class HistoryFileError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'HistoryFileError';
  }
}

/**
 * A history file holds only part of the history: it ends with a `NextToken` (one page of several) or its event
 * ids skip some. Rendering it would show a saga that never ended, so it is refused, saying what is missing.
 */
export class IncompleteHistoryError extends HistoryFileError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'IncompleteHistoryError';
  }
}

const HOW_TO_SAVE =
  'Save one with `aws stepfunctions get-execution-history --execution-arn <arn> --output json > history.json`.';

/** Describes a value for an error message: its kind and a short excerpt. */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length} item(s)`;
  if (typeof value === 'object') {
    const keys = Object.keys(value);
    return keys.length === 0 ? 'an empty object' : `an object with keys ${keys.slice(0, 8).join(', ')}`;
  }
  return `${typeof value} ${JSON.stringify(value)?.slice(0, 60)}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Parses a saved execution history: the `{ "events": [...] }` document `get-execution-history` prints (SDK
 * response, extra keys ignored) or a bare array of events. Events come back sorted by id (a history saved with
 * `--reverse-order` works too) with duplicate ids dropped (concatenated pages).
 * @throws HistoryFileError when the text is not JSON or not a history, saying what was received.
 */
export function parseHistoryFile(text: string): HistoryEventLike[] {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    const excerpt = text.trim().slice(0, 60);
    throw new HistoryFileError(
      `The history file is not JSON (${(error as Error).message}); it starts with ${JSON.stringify(excerpt)}. ${HOW_TO_SAVE}`,
      { cause: error },
    );
  }
  const events = Array.isArray(document) ? document : isRecord(document) ? document.events : undefined;
  if (!Array.isArray(events)) {
    throw new HistoryFileError(
      `The file is not a Step Functions execution history: expected {"events": [...]} or an array of events, ` +
        `received ${describe(document)}. ${HOW_TO_SAVE}`,
    );
  }
  events.forEach((event, index) => {
    if (!isRecord(event) || typeof event.type !== 'string' || typeof event.id !== 'number') {
      throw new HistoryFileError(
        `The file is not a Step Functions execution history: event #${index} should be an object with a numeric ` +
          `"id" and a string "type", received ${describe(event)}. ${HOW_TO_SAVE}`,
      );
    }
  });
  const ordered = normalizeOrder(events as HistoryEventLike[]);
  checkComplete(ordered, isRecord(document) ? (document.NextToken ?? document.nextToken) : undefined);
  return ordered;
}

/** Event ids as ranges, for a message: `1–100`, `1–40, 61–80`. */
function idRanges(ids: readonly number[]): string {
  const ranges: string[] = [];
  let start = ids[0];
  ids.forEach((id, i) => {
    const next = ids[i + 1];
    if (next !== id + 1) {
      ranges.push(start === id ? `#${id}` : `#${start}–#${id}`);
      start = next;
    }
  });
  return ranges.join(', ');
}

/** See {@link IncompleteHistoryError}. */
function checkComplete(events: readonly HistoryEventLike[], token: unknown): void {
  const ids = events.map((event) => event.id ?? 0);
  const first = ids[0] ?? 1;
  const gap = ids.findIndex((id, i) => i > 0 && id !== (ids[i - 1] ?? 0) + 1);
  const paged = typeof token === 'string' && token !== '';
  if (!paged && first === 1 && gap < 0) return;
  const missing = paged
    ? first === 1
      ? `the events after #${ids.at(-1)} are missing (a page saved with --reverse-order lacks the oldest instead)`
      : `the events before #${first} are missing`
    : first !== 1
      ? `the events before #${first} are missing`
      : `the events between #${ids[gap - 1]} and #${ids[gap]} are missing`;
  throw new IncompleteHistoryError(
    `The history is incomplete: ${paged ? 'it ends with a NextToken, so it is one page of a longer history, and ' : ''}` +
      `${missing}; it holds ${events.length} event(s), ${idRanges(ids)}. Rendered, the saga would look unfinished. ` +
      'Save the whole history: `aws stepfunctions get-execution-history --execution-arn <arn> --output json > history.json` ' +
      '(the AWS CLI reads every page unless --max-items or --no-paginate stops it), or follow the live execution ' +
      'with `saga watch <execution>`.',
  );
}

/** The execution input recorded by the `ExecutionStarted` event, if the history has one. */
export function executionInput(events: readonly HistoryEventLike[]): unknown {
  return events.find((event) => event.type === 'ExecutionStarted')?.executionStartedEventDetails?.input;
}

/** Sorts events by id and drops repeated ids, keeping the first copy. Events without an id keep their place. */
export function normalizeOrder(events: readonly HistoryEventLike[]): HistoryEventLike[] {
  const seen = new Set<number>();
  const unique = events.filter((event) => {
    if (event.id === undefined) return true;
    if (seen.has(event.id)) return false;
    seen.add(event.id);
    return true;
  });
  if (unique.every((event) => event.id !== undefined)) unique.sort((a, b) => (a.id ?? 0) - (b.id ?? 0));
  return unique;
}

/** Converts an event timestamp to epoch milliseconds; undefined when absent or unreadable. */
export function timestampMs(timestamp: Date | string | number | undefined): number | undefined {
  if (timestamp === undefined) return undefined;
  if (timestamp instanceof Date) return Number.isNaN(timestamp.getTime()) ? undefined : timestamp.getTime();
  if (typeof timestamp === 'number') {
    // Epoch seconds (AWS CLI `cli_timestamp_format = none`) are below 1e11; milliseconds are above.
    return timestamp < 1e11 ? Math.round(timestamp * 1000) : timestamp;
  }
  const parsed = Date.parse(timestamp);
  return Number.isNaN(parsed) ? undefined : parsed;
}

/** The request a history cursor makes for one page; maps onto `GetExecutionHistoryCommand` input. */
export interface HistoryPageRequest {
  /** Always true: the cursor reads from the newest event backwards. */
  readonly reverseOrder: true;
  /** Page size (GetExecutionHistory accepts 1..1000). */
  readonly maxResults: number;
  /** The token of the next page, absent on the first page of a poll. */
  readonly nextToken?: string | undefined;
}

/** One page of history as GetExecutionHistory returns it (newest first, since the cursor asks reverseOrder). */
export interface HistoryPage {
  readonly events?: readonly HistoryEventLike[] | undefined;
  readonly nextToken?: string | undefined;
}

/** Fetches one page; with the SDK: `(request) => sfn.send(new GetExecutionHistoryCommand({ executionArn, ...request }))`. */
export type FetchHistoryPage = (request: HistoryPageRequest) => Promise<HistoryPage>;

/** Options of {@link createHistoryCursor}. */
export interface HistoryCursorOptions {
  /**
   * Page size of the first poll, which reads the whole history so far.
   * @default 1000 (the API maximum: fewest calls)
   */
  readonly firstPageSize?: number;
  /**
   * Page size of later polls, which usually find a handful of new events: small pages keep payloads small
   * (each event may carry up to 256 KB of input/output).
   * @default 100
   */
  readonly pageSize?: number;
}

/** An incremental reader of one execution's history. */
export interface HistoryCursor {
  /**
   * Reads the events added since the last poll, paging backwards (reverseOrder) only until it reaches the
   * newest event already seen: a poll costs ceil(new events / page size) calls, not a re-read. Returns the new
   * events in forward (id) order. If a page fetch throws, the cursor is unchanged and the error propagates.
   */
  poll(): Promise<HistoryEventLike[]>;
  /** Every event seen so far, in id order. */
  readonly events: readonly HistoryEventLike[];
  /** The highest event id seen so far (0 before the first poll). */
  readonly lastEventId: number;
  /** True when the newest event seen ends the execution (succeeded, failed, timed out or aborted). */
  readonly finished: boolean;
  /** GetExecutionHistory calls made by the last poll and in total: feed them to {@link pollIntervalMs}. */
  readonly calls: { readonly lastPoll: number; readonly total: number };
}

const TERMINAL_EXECUTION_EVENTS = new Set([
  'ExecutionSucceeded',
  'ExecutionFailed',
  'ExecutionTimedOut',
  'ExecutionAborted',
]);

/** True for the events that end an execution (until a redrive, which appends `ExecutionRedriven`). */
export function isTerminalExecutionEvent(event: HistoryEventLike): boolean {
  return TERMINAL_EXECUTION_EVENTS.has(event.type ?? '');
}

/** Creates an incremental history reader over a paged source. See {@link HistoryCursor.poll}. */
export function createHistoryCursor(
  fetchPage: FetchHistoryPage,
  options: HistoryCursorOptions = {},
): HistoryCursor {
  const firstPageSize = clampPageSize(options.firstPageSize ?? 1000);
  const pageSize = clampPageSize(options.pageSize ?? 100);
  const all: HistoryEventLike[] = [];
  let lastEventId = 0;
  let lastPollCalls = 0;
  let totalCalls = 0;

  async function poll(): Promise<HistoryEventLike[]> {
    const fresh: HistoryEventLike[] = [];
    let nextToken: string | undefined;
    let calls = 0;
    try {
      for (;;) {
        const maxResults = lastEventId === 0 ? firstPageSize : pageSize;
        calls += 1;
        const page = await fetchPage(
          nextToken === undefined
            ? { reverseOrder: true, maxResults }
            : { reverseOrder: true, maxResults, nextToken },
        );
        let reachedSeen = false;
        for (const event of page.events ?? []) {
          const id = event.id ?? 0;
          if (id <= lastEventId) {
            reachedSeen = true;
            break;
          }
          fresh.push(event);
          // Ids are consecutive: once the one right after the last seen is in hand, older pages hold nothing new.
          if (id === lastEventId + 1) reachedSeen = true;
        }
        nextToken = page.nextToken;
        if (reachedSeen || nextToken === undefined || nextToken === '') break;
      }
    } finally {
      lastPollCalls = calls;
      totalCalls += calls;
    }
    const forward = normalizeOrder(fresh);
    all.push(...forward);
    const newest = forward.at(-1);
    if (newest?.id !== undefined) lastEventId = newest.id;
    return forward;
  }

  return {
    poll,
    get events() {
      return all;
    },
    get lastEventId() {
      return lastEventId;
    },
    get finished() {
      const newest = all.at(-1);
      return newest !== undefined && isTerminalExecutionEvent(newest);
    },
    get calls() {
      return { lastPoll: lastPollCalls, total: totalCalls };
    },
  };
}

function clampPageSize(size: number): number {
  if (!Number.isInteger(size) || size < 1 || size > 1000) {
    throw new RangeError(
      `A history page size must be an integer from 1 to 1000 (GetExecutionHistory maxResults), received ${size}.`,
    );
  }
  return size;
}

/** Inputs of {@link pollIntervalMs}. */
export interface PollIntervalInput {
  /** Consecutive polls that found no new event (0 right after a change). */
  readonly unchangedPolls: number;
  /** GetExecutionHistory calls the last poll made (a long first read costs several). @default 1 */
  readonly lastPollCalls?: number;
  /** The last poll was throttled (ThrottlingException): wait the maximum. @default false */
  readonly throttled?: boolean;
  /** Shortest interval: 500 ms is 2 calls/s, well under the account-wide refill of 5/s. @default 500 */
  readonly minMs?: number;
  /** Longest interval when nothing changes. @default 4000 */
  readonly maxMs?: number;
}

/**
 * How long to wait before the next poll. GetExecutionHistory is throttled per account and region (token bucket,
 * refill about 5 calls/s shared by every caller), so a watcher polls at most about twice a second, doubles the
 * wait for each poll that found nothing (500 ms, 1 s, 2 s, 4 s), spreads a multi-page poll's calls out, and waits
 * the maximum after being throttled.
 */
export function pollIntervalMs(input: PollIntervalInput): number {
  const minMs = input.minMs ?? 500;
  const maxMs = Math.max(minMs, input.maxMs ?? 4000);
  if (input.throttled === true) return maxMs;
  const idle = Math.max(0, Math.floor(input.unchangedPolls));
  const backoff = Math.min(maxMs, minMs * 2 ** Math.min(idle, 30));
  const calls = Math.max(1, input.lastPollCalls ?? 1);
  // A poll that cost k calls borrowed k tokens: pay them back at the same 2 calls/s before the next one.
  return Math.max(backoff, Math.min(maxMs, minMs * calls));
}
