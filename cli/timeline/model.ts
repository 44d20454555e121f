/**
 * Execution history -> saga timeline model. Pure: no I/O, no clock unless `now` is passed.
 *
 * One entry per STATE VISIT (a `*StateEntered` event and what follows it). Events are attributed to visits by
 * following `previousEventId` (so concurrent Map iterations and Parallel branches do not get mixed up), with a
 * by-name fallback for histories whose links are missing.
 */
import { type HistoryEventLike, type JsonValue, normalizeOrder, timestampMs } from './history.ts';

/** The outcome of one state visit. `caught`: the visit failed and a Catch moved the execution on. */
export type EntryStatus = 'succeeded' | 'failed' | 'caught' | 'running';

/**
 * Where a visit sits in the saga: `forward` work, `compensation` (a visit after a caught error, or a state
 * known to undo a forward step), or the `final` Succeed/Fail state.
 */
export type Phase = 'forward' | 'compensation' | 'final';

/** Execution status as `DescribeExecution` reports it (PENDING_REDRIVE is reported as FAILED). */
export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

/** The order status a saga history implies (design §3). */
export type OrderStatus =
  | 'COMPLETED'
  | 'CANCELLED'
  | 'FAILED'
  | 'COMPENSATION_FAILED'
  | 'CANCELLING'
  | 'PENDING';

/** One failed attempt of a Task visit (or the failure of a Map/Parallel/other visit). */
export interface AttemptError {
  /** 1-based attempt number within the visit. */
  readonly attempt: number;
  /** Error name, as `ErrorEquals` matches it (e.g. `TransientError`, `States.Timeout`). */
  readonly error: string;
  /** The human message taken from the cause (`errorMessage` of a Lambda error JSON), if any. */
  readonly message?: string | undefined;
  /** The cause as recorded (a JSON-encoded string for Lambda errors), if any. */
  readonly rawCause?: string | undefined;
  /** True when the attempt timed out rather than failed. */
  readonly timedOut: boolean;
}

/** One state visit. */
export interface TimelineEntry {
  /** Stable identity across polls: the id of the `*StateEntered` event. */
  readonly key: string;
  /** State name. */
  readonly state: string;
  /** State type from the entered event: Task, Pass, Choice, Wait, Succeed, Fail, Map, Parallel. */
  readonly stateType: string;
  readonly phase: Phase;
  readonly status: EntryStatus;
  /** Entered time, epoch ms (undefined when the history has no timestamps). */
  readonly startMs: number | undefined;
  /** Exit (or failure/abort) time, epoch ms; undefined while running. */
  readonly endMs: number | undefined;
  /** end - start; for a running visit, up to `now` (or the newest event). */
  readonly durationMs: number;
  /**
   * Tasks: scheduled attempts (TaskScheduled, LambdaFunctionScheduled, ActivityScheduled, or a schedule that
   * failed). Map/Parallel: times started. Other states: 1.
   */
  readonly attempts: number;
  /** Observed gaps between attempts: from the failure/timeout of one attempt to the scheduling of the next. */
  readonly backoffMs: readonly number[];
  /** Errors of the failed attempts, in order. */
  readonly errors: readonly AttemptError[];
  /** The error that ended the visit (status failed or caught). */
  readonly error?: string | undefined;
  /** Its cause, as a human message (Lambda's `errorMessage` extracted from the JSON cause). */
  readonly cause?: string | undefined;
  /** For a compensation: the forward state it undoes. */
  readonly compensates?: string | undefined;
  /**
   * What the visit means for the saga, when its name alone does not say it: the order status a check read, the
   * decision to compensate, a settled order left alone, a refused conditional write.
   */
  readonly note?: string | undefined;
  /** For a checkpoint (the saga's CheckOrder): the order status it read. */
  readonly observedStatus?: string | undefined;
  /** For a state inside a Map or Parallel: the enclosing state's name and entry key. */
  readonly parent?: { readonly state: string; readonly key: string } | undefined;
  /** Map iteration index of an inner state. */
  readonly iteration?: number | undefined;
  /** Parallel branch number (0-based, in order of first appearance) of an inner state. */
  readonly branch?: number | undefined;
  /** Nesting depth: 0 for top-level states. */
  readonly depth: number;
  /** Task resource, e.g. `lambda:invoke`, `dynamodb:updateItem`, or a Lambda ARN. */
  readonly resource?: string | undefined;
  /** Map: items (MapStateStarted length). Parallel: branches seen. */
  readonly items?: number | undefined;
  /** The visit was cut short by an abort (execution stopped or timed out, sibling iteration failed). */
  readonly aborted: boolean;
  /** Running and its last attempt failed: waiting for the next retry. */
  readonly retrying: boolean;
  /** The state's input as the history recorded it (JSON text), if it did. */
  readonly input?: string | undefined;
  /** The state's output (JSON text), once it exited, if the history recorded it. */
  readonly output?: string | undefined;
}

/** Execution-level facts. */
export interface TimelineSummary {
  readonly status: ExecutionStatus;
  /** Error of a failed/timed-out/aborted execution (absent when AWS recorded none, e.g. a bare Fail state). */
  readonly error?: string | undefined;
  /** Its cause, as a human message. */
  readonly cause?: string | undefined;
  /** Name of the Fail state the execution ended in, if any. */
  readonly failState?: string | undefined;
  readonly startMs: number | undefined;
  readonly endMs: number | undefined;
  /** Start to end (or to `now`/the newest event while running). */
  readonly durationMs: number;
  /**
   * State transitions as Standard workflows bill them: one per state entered (inner Map/Parallel states
   * included) plus one per retry (each attempt after the first of a Task, each restart of a Map/Parallel).
   */
  readonly transitions: number;
  /** transitions x $0.025 / 1,000 (list price, before the free tier). */
  readonly priceUsd: number;
  /**
   * True when compensations ran in the reverse order of the forward steps they undo and every forward step with a
   * known compensation that completed, or failed with an unknown outcome (not a business error), was compensated
   * successfully; false otherwise; null when no compensation ran or the execution is still running.
   */
  readonly compensatedInReverse: boolean | null;
  /**
   * Completed forward steps with a known compensation that no successful compensation undid (yet), in the order
   * they should be undone; empty when no compensation ran.
   */
  readonly uncompensated: readonly string[];
  /** The order status implied by the states reached; null for a history that is not the order saga. */
  readonly orderStatus: OrderStatus | null;
  /** Number of Step Functions history events. */
  readonly eventCount: number;
  /** Number of times the execution was redriven. */
  readonly redrives: number;
  /**
   * The first call IAM denied (`AccessDeniedException`, or a cause saying "is not authorized to perform"): the
   * state, and the denial's message. A saga that ends otherwise than its injected failures imply because of it
   * has a template that does not grant what a step needs.
   */
  readonly accessDenied?: { readonly state: string; readonly message: string } | undefined;
}

/** The timeline of one execution. */
export interface TimelineModel {
  /** State visits: top-level visits in order, each Map/Parallel followed by its inner visits. */
  readonly entries: readonly TimelineEntry[];
  readonly summary: TimelineSummary;
}

/** Options of {@link buildTimeline}. */
export interface BuildTimelineOptions {
  /**
   * Compensation state -> the forward state it undoes. Names not listed are paired by a heuristic on shared
   * name stems (Refund/Release/Cancel/Undo/Compensate/Revert/Rollback/Void/Reverse X <-> an earlier forward X).
   * @default the order saga's { RefundPayment: 'ChargePayment', ReleaseInventory: 'ReserveInventory' }
   */
  readonly compensations?: Readonly<Record<string, string>>;
  /** The current time (epoch ms or Date), for the duration of running visits and executions. @default the newest event's time */
  readonly now?: number | Date;
  /**
   * States that decide to compensate (the start of the compensation phase, though they undo nothing themselves).
   * @default the order saga's CancelOrder and CancelOrderAfterPayment
   */
  readonly compensationStarts?: readonly string[];
  /**
   * States that re-read what the execution acts on and route it anew: after one, the phase follows the route
   * again (forward, compensation or final) instead of staying in compensation.
   * @default the order saga's CheckOrder
   */
  readonly checkpoints?: readonly string[];
  /**
   * Errors that say the step did not commit (business errors). A forward step with a compensation that failed
   * with any other error may have committed (an unknown outcome), so it is owed its compensation.
   * @default the order saga's business errors
   */
  readonly definiteErrors?: readonly string[];
}

/** The order saga's compensations (state-machines/order-saga.asl.json). */
export const SAGA_COMPENSATIONS: Readonly<Record<string, string>> = {
  RefundPayment: 'ChargePayment',
  ReleaseInventory: 'ReserveInventory',
};

/** The order saga's decisions to compensate. */
export const SAGA_COMPENSATION_STARTS: readonly string[] = ['CancelOrder', 'CancelOrderAfterPayment'];

/** The order saga's errors that say nothing was committed. */
export const SAGA_DEFINITE_ERRORS: readonly string[] = [
  'PaymentDeclined',
  'OutOfStock',
  'ShippingUnavailable',
  'OrderNotPending',
  'InvalidInputError',
  'IdempotencyValidationError',
];

/** The order saga's guard: the consistent read of the order that routes every (re-)run. */
export const SAGA_CHECKPOINTS: readonly string[] = ['CheckOrder'];

/** Notes for the saga's bookkeeping states (see {@link TimelineEntry.note}). */
const SAGA_NOTES: Readonly<Record<string, string>> = {
  CancelOrder: 'decided to compensate (PENDING → CANCELLING)',
  CancelOrderAfterPayment: 'decided to compensate, the charge included (PENDING → CANCELLING)',
  AlreadySettled: 'already settled, nothing ran',
  OrderNotFound: 'no such order',
};

/** Price of one Standard-workflow state transition in USD ($0.025 per 1,000). */
export const PRICE_PER_TRANSITION_USD = 0.025 / 1000;

// ---------------------------------------------------------------------------------------------------------------
// Cause parsing

/** Parses a JSON-encoded string when it looks like a JSON object or array; otherwise returns it unchanged. */
function maybeJson(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const trimmed = value.trim();
  if (!(trimmed.startsWith('{') || trimmed.startsWith('['))) return value;
  try {
    return JSON.parse(trimmed) as JsonValue;
  } catch {
    return value;
  }
}

/**
 * The human message of an error cause. Lambda errors arrive as `{"errorMessage", "errorType", "trace"}` (a JSON
 * string from the API, an object in some saved histories); other causes are plain text. Returns undefined for an
 * empty cause.
 */
export function causeMessage(cause: unknown): string | undefined {
  const value = maybeJson(cause);
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') {
    const text = value.replace(/\s+/g, ' ').trim();
    return text === '' ? undefined : text;
  }
  if (typeof value === 'object' && !Array.isArray(value)) {
    const record = value as Record<string, unknown>;
    for (const field of ['errorMessage', 'message', 'Message', 'Cause', 'cause']) {
      const message = causeMessage(record[field]);
      if (message !== undefined) return message;
    }
    const type = record.errorType ?? record.Error;
    if (typeof type === 'string' && type !== '') return type;
  }
  return causeMessage(JSON.stringify(value));
}

/** The cause as a string (objects re-encoded as the API would have sent them). */
function rawCause(cause: unknown): string | undefined {
  if (cause === undefined || cause === null || cause === '') return undefined;
  return typeof cause === 'string' ? cause : JSON.stringify(cause);
}

/** `{Error, Cause}` written into a state's output by a Catch (top level, or one level down under ResultPath). */
function caughtErrorIn(output: unknown): { error: string; cause: unknown } | undefined {
  const value = maybeJson(output);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const record = value as Record<string, unknown>;
  if (typeof record.Error === 'string') return { error: record.Error, cause: record.Cause };
  for (const nested of Object.values(record)) {
    const inner = maybeJson(nested);
    if (typeof inner === 'object' && inner !== null && !Array.isArray(inner)) {
      const candidate = inner as Record<string, unknown>;
      if (typeof candidate.Error === 'string') return { error: candidate.Error, cause: candidate.Cause };
    }
  }
  return undefined;
}

/** DynamoDB's refusals of a conditional write, as Step Functions names them. */
const REFUSED_WRITE = /^DynamoD[Bb]\.(ConditionalCheckFailedException|TransactionCanceledException)$/;

function isRefusedWrite(error: string | undefined): boolean {
  return error !== undefined && REFUSED_WRITE.test(error);
}

/** The order status a CheckOrder-like state put in its output (`check.Item.status.S`), if any. */
function orderStatusRead(output: unknown): string | undefined {
  const value = maybeJson(output);
  if (typeof value !== 'object' || value === null) return undefined;
  const check = (value as { check?: { Item?: { status?: { S?: unknown } } } }).check;
  const status = check?.Item?.status?.S;
  return typeof status === 'string' ? status : undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Compensation pairing heuristic

const COMPENSATION_VERBS = new Set([
  'refund',
  'release',
  'cancel',
  'undo',
  'compensate',
  'revert',
  'rollback',
  'void',
  'reverse',
  'unreserve',
  'deallocate',
  'rescind',
]);

/** Splits a state name into lower-case words: `RefundPayment`, `refund-payment`, `Refund payment` -> refund, payment. */
export function nameWords(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((word) => word !== '');
}

/** The stem a compensation-looking name undoes (`RefundPayment` -> [payment]); undefined if it does not look like one. */
function compensationStem(name: string): string[] | undefined {
  const words = nameWords(name);
  if (words.length < 2) return undefined;
  // "roll back" spelled as two words
  if (words[0] === 'roll' && words[1] === 'back') return words.slice(2);
  const first = words[0] ?? '';
  const last = words.at(-1) ?? '';
  if (COMPENSATION_VERBS.has(first)) return words.slice(1);
  if (COMPENSATION_VERBS.has(last) || last === 'compensation') return words.slice(0, -1);
  return undefined;
}

/** Picks the forward state a compensation-looking name undoes among earlier forward states, by shared words. */
function pairByStem(name: string, forwardStates: readonly string[]): string | undefined {
  const stem = compensationStem(name);
  if (stem === undefined || stem.length === 0) return undefined;
  let best: string | undefined;
  let bestScore = 0;
  for (const candidate of forwardStates) {
    if (candidate === name) continue;
    const words = new Set(nameWords(candidate));
    const score = stem.filter((word) => words.has(word)).length;
    // Later forward states win ties: the nearest one is the likeliest to be undone.
    if (score > 0 && score >= bestScore) {
      best = candidate;
      bestScore = score;
    }
  }
  return best;
}

// ---------------------------------------------------------------------------------------------------------------
// Building

interface Attempt {
  scheduledMs: number | undefined;
  endMs: number | undefined;
  failure: AttemptError | undefined;
  succeeded: boolean;
}

interface Scope {
  readonly parent: Visit | undefined;
  readonly iteration: number | undefined;
  readonly branch: number | undefined;
  readonly depth: number;
  compensating: boolean;
}

interface Visit {
  input?: string | undefined;
  output?: string | undefined;
  readonly order: number;
  readonly key: string;
  readonly state: string;
  readonly stateType: string;
  readonly scope: Scope;
  readonly startMs: number | undefined;
  readonly phase: Phase;
  readonly compensates: string | undefined;
  note: string | undefined;
  /** A checkpoint's read of the order status. */
  observedStatus: string | undefined;
  open: boolean;
  endMs: number | undefined;
  status: EntryStatus;
  attempts: Attempt[];
  starts: number;
  failure: { error: string; cause: unknown } | undefined;
  aborted: boolean;
  resource: string | undefined;
  items: number | undefined;
  branches: number;
  readonly childScopes: Map<string, Scope>;
}

const TASK_SCHEDULED = new Set(['TaskScheduled', 'LambdaFunctionScheduled', 'ActivityScheduled']);
const TASK_STARTED = new Set(['TaskStarted', 'LambdaFunctionStarted', 'ActivityStarted', 'TaskSubmitted']);
const TASK_SUCCEEDED = new Set(['TaskSucceeded', 'LambdaFunctionSucceeded', 'ActivitySucceeded']);
const TASK_FAILED = new Set([
  'TaskFailed',
  'TaskStartFailed',
  'TaskSubmitFailed',
  'LambdaFunctionFailed',
  'LambdaFunctionStartFailed',
  'ActivityFailed',
]);
const TASK_TIMED_OUT = new Set(['TaskTimedOut', 'LambdaFunctionTimedOut', 'ActivityTimedOut']);
/** Failures that happen instead of a scheduling: each is an attempt of its own. */
const SCHEDULE_FAILED = new Set(['LambdaFunctionScheduleFailed', 'ActivityScheduleFailed']);

type Details = Record<string, unknown>;

/** The `...EventDetails` object of an event, whichever it is. */
function detailsOf(event: HistoryEventLike): Details {
  const record = event as Record<string, unknown>;
  for (const key in record) {
    const value = record[key];
    if (key.endsWith('EventDetails') && typeof value === 'object' && value !== null) return value as Details;
  }
  return {};
}

/** A history field that holds JSON: as the API sends it (text), or as a saved file may hold it (parsed). */
function jsonText(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * Builds the timeline model of one execution from its history events (any order; duplicates ignored). Works on a
 * partial history (a running execution) and on any AWS history, not only the order saga's.
 */
export function buildTimeline(
  events: readonly HistoryEventLike[],
  options: BuildTimelineOptions = {},
): TimelineModel {
  const compensations = options.compensations ?? SAGA_COMPENSATIONS;
  const forwardStatesConfigured = new Set(Object.values(compensations));
  const compensationStarts = new Set(options.compensationStarts ?? SAGA_COMPENSATION_STARTS);
  const definiteErrors = new Set(options.definiteErrors ?? SAGA_DEFINITE_ERRORS);
  const checkpoints = new Set(options.checkpoints ?? SAGA_CHECKPOINTS);
  const ordered = normalizeOrder(events);
  const byId = new Map<number, HistoryEventLike>();
  for (const event of ordered) if (event.id !== undefined) byId.set(event.id, event);

  const root: Scope = {
    parent: undefined,
    iteration: undefined,
    branch: undefined,
    depth: 0,
    compensating: false,
  };
  const visits: Visit[] = [];
  const ownerOf = new Map<HistoryEventLike, Visit>();

  // Assigned inside the event loop's callback: the cast stops TypeScript narrowing it to 'RUNNING' here.
  let status = 'RUNNING' as ExecutionStatus;
  let executionError: { error: string | undefined; cause: unknown } | undefined;
  let failState: string | undefined;
  let startMs: number | undefined;
  let endMs: number | undefined;
  let newestMs: number | undefined;
  let redrives = 0;

  // Visits that may still be open, in entry order; closed ones are dropped lazily, so lookups cost O(open).
  const maybeOpen = new Set<Visit>();
  const openVisits = () => {
    const open: Visit[] = [];
    for (const visit of maybeOpen) {
      if (visit.open) open.push(visit);
      else maybeOpen.delete(visit);
    }
    return open;
  };
  const mostRecentOpen = (test: (visit: Visit) => boolean) => openVisits().findLast(test);

  /** The visit of `from` or its nearest enclosing visit that is open and passes `test`. */
  function nearestOpen(from: Visit | undefined, test: (visit: Visit) => boolean): Visit | undefined {
    for (let visit = from; visit !== undefined; visit = visit.scope.parent) {
      if (visit.open && test(visit)) return visit;
    }
    return undefined;
  }

  function previousOf(event: HistoryEventLike, index: number): HistoryEventLike | undefined {
    if (event.previousEventId !== undefined) {
      const linked = byId.get(event.previousEventId);
      if (linked !== undefined || event.previousEventId === 0) return linked;
    }
    return ordered[index - 1];
  }

  function scopeFor(previous: HistoryEventLike | undefined): Scope {
    if (previous === undefined) return root;
    const owner = ownerOf.get(previous);
    if (owner === undefined) return root;
    const details = detailsOf(previous);
    if (previous.type === 'MapIterationStarted' && owner.stateType === 'Map') {
      const iteration = typeof details.index === 'number' ? details.index : owner.childScopes.size;
      return childScope(owner, `i${iteration}`, { iteration });
    }
    if (previous.type === 'ParallelStateStarted' && owner.stateType === 'Parallel') {
      const branch = owner.branches;
      owner.branches += 1;
      return childScope(owner, `b${branch}`, { branch });
    }
    return owner.scope;
  }

  function childScope(parent: Visit, id: string, where: { iteration?: number; branch?: number }): Scope {
    const existing = parent.childScopes.get(id);
    if (existing !== undefined) return existing;
    const scope: Scope = {
      parent,
      iteration: where.iteration,
      branch: where.branch,
      depth: parent.scope.depth + 1,
      compensating: parent.phase === 'compensation',
    };
    parent.childScopes.set(id, scope);
    return scope;
  }

  function completedForwardStates(): string[] {
    return visits
      .filter((visit) => visit.phase === 'forward' && visit.status === 'succeeded')
      .map((visit) => visit.state);
  }

  function openVisit(event: HistoryEventLike, index: number, at: number | undefined): Visit {
    const details = detailsOf(event);
    const state = text(details.name) ?? '(unnamed)';
    const stateType = (event.type ?? '').replace(/StateEntered$/, '');
    const scope = scopeFor(previousOf(event, index));
    // hasOwn: a state may be called "constructor" or "toString".
    const compensates =
      (Object.hasOwn(compensations, state) ? compensations[state] : undefined) ??
      (forwardStatesConfigured.has(state) ||
      compensationStarts.has(state) ||
      checkpoints.has(state) ||
      compensationStem(state) === undefined
        ? undefined
        : pairByStem(state, completedForwardStates()));
    // A checkpoint routes anew: what follows it is forward again unless it compensates.
    if (checkpoints.has(state)) scope.compensating = false;
    const phase: Phase =
      stateType === 'Succeed' || stateType === 'Fail'
        ? 'final'
        : compensates !== undefined || compensationStarts.has(state) || scope.compensating
          ? 'compensation'
          : 'forward';
    // Everything after a decision to compensate, or a compensation, belongs to the compensation phase.
    if (phase === 'compensation') scope.compensating = true;
    const visit: Visit = {
      order: visits.length,
      key: String(event.id ?? `#${index}`),
      state,
      stateType,
      scope,
      startMs: at,
      phase,
      compensates,
      note: Object.hasOwn(SAGA_NOTES, state) ? SAGA_NOTES[state] : undefined,
      observedStatus: undefined,
      open: stateType !== 'Fail',
      endMs: stateType === 'Fail' ? at : undefined,
      status: stateType === 'Fail' ? 'failed' : 'running',
      attempts: [],
      starts: 0,
      failure: undefined,
      aborted: false,
      resource: undefined,
      items: undefined,
      branches: 0,
      childScopes: new Map(),
    };
    visits.push(visit);
    if (visit.open) maybeOpen.add(visit);
    if (stateType === 'Fail') failState = scope === root ? state : failState;
    return visit;
  }

  function lastAttempt(visit: Visit): Attempt | undefined {
    return visit.attempts.at(-1);
  }

  function failAttempt(visit: Visit, event: HistoryEventLike, at: number | undefined, timedOut: boolean) {
    const details = detailsOf(event);
    let attempt = lastAttempt(visit);
    if (
      attempt === undefined ||
      attempt.endMs !== undefined ||
      attempt.failure !== undefined ||
      attempt.succeeded
    ) {
      attempt = { scheduledMs: at, endMs: undefined, failure: undefined, succeeded: false };
      visit.attempts.push(attempt);
    }
    attempt.endMs = at;
    const error = text(details.error) ?? (timedOut ? 'States.Timeout' : (event.type ?? 'Error'));
    attempt.failure = {
      attempt: visit.attempts.length,
      error,
      message: causeMessage(details.cause),
      rawCause: rawCause(details.cause),
      timedOut,
    };
    visit.failure = { error, cause: details.cause };
  }

  /** Closes a still-open visit because something around it ended (execution, iteration, Map/Parallel). */
  function cutShort(
    visit: Visit,
    at: number | undefined,
    aborted: boolean,
    failure?: { error: string | undefined; cause: unknown },
  ) {
    visit.open = false;
    visit.endMs = at;
    visit.status = 'failed';
    visit.aborted = aborted;
    if (visit.failure === undefined && failure?.error !== undefined) {
      visit.failure = { error: failure.error, cause: failure.cause };
    }
  }

  function descendants(visit: Visit): Visit[] {
    return visits.filter((candidate) => {
      for (let scope = candidate.scope; scope.parent !== undefined; scope = scope.parent.scope) {
        if (scope.parent === visit) return true;
      }
      return false;
    });
  }

  function closeIteration(map: Visit, index: number | undefined, at: number | undefined, aborted: boolean) {
    const scope = map.childScopes.get(`i${index}`);
    for (const visit of openVisits()) {
      for (let s: Scope | undefined = visit.scope; s !== undefined && s !== root; s = s.parent?.scope) {
        if (s === scope) {
          cutShort(visit, at, aborted);
          break;
        }
      }
    }
  }

  ordered.forEach((event, index) => {
    const type = event.type ?? '';
    const at = timestampMs(event.timestamp);
    if (at !== undefined) newestMs = newestMs === undefined ? at : Math.max(newestMs, at);
    const details = detailsOf(event);
    const previous = previousOf(event, index);
    const from = previous === undefined ? undefined : ownerOf.get(previous);

    if (type.endsWith('StateEntered')) {
      const visit = openVisit(event, index, at);
      visit.input = jsonText(details.input);
      ownerOf.set(event, visit);
      return;
    }
    if (type.endsWith('StateExited')) {
      const name = text(details.name);
      const visit =
        nearestOpen(from, (v) => v.state === name) ??
        mostRecentOpen((v) => name === undefined || v.state === name);
      if (visit === undefined) return;
      ownerOf.set(event, visit);
      visit.open = false;
      visit.endMs = at;
      visit.output = jsonText(details.output);
      const last = lastAttempt(visit);
      const failed =
        (last?.failure !== undefined && !last.succeeded) ||
        (visit.failure !== undefined && visit.stateType !== 'Task') ||
        visit.status === 'failed';
      if (failed) {
        visit.status = 'caught';
        visit.failure ??= caughtErrorIn(details.output);
        const refused = isRefusedWrite(visit.failure?.error);
        if (refused) {
          visit.note = compensationStarts.has(visit.state)
            ? 'refused: already shipped, or no longer PENDING'
            : 'refused: the order is no longer in the status this write expects';
        }
        // A refused conditional write hands over to the checkpoint, not to the compensations; a business error
        // (nothing committed, e.g. PaymentDeclined -> MarkOrderFailed) has nothing to undo: the next state decides.
        if (!refused && !definiteErrors.has(visit.failure?.error ?? '')) visit.scope.compensating = true;
      } else {
        visit.status = 'succeeded';
        if (checkpoints.has(visit.state)) {
          const read = orderStatusRead(details.output);
          if (read !== undefined) {
            visit.observedStatus = read;
            visit.note = `order ${read}`;
          }
        }
      }
      return;
    }
    if (type.endsWith('StateAborted')) {
      const stateType = type.replace(/StateAborted$/, '');
      const visit =
        nearestOpen(from, (v) => v.stateType === stateType) ??
        mostRecentOpen((v) => v.stateType === stateType);
      if (visit === undefined) return;
      ownerOf.set(event, visit);
      cutShort(visit, at, true);
      for (const inner of descendants(visit)) if (inner.open) cutShort(inner, at, true);
      return;
    }
    const isTaskEvent =
      TASK_SCHEDULED.has(type) ||
      TASK_STARTED.has(type) ||
      TASK_SUCCEEDED.has(type) ||
      TASK_FAILED.has(type) ||
      TASK_TIMED_OUT.has(type) ||
      SCHEDULE_FAILED.has(type);
    if (isTaskEvent) {
      const visit =
        nearestOpen(from, (v) => v.stateType === 'Task') ?? mostRecentOpen((v) => v.stateType === 'Task');
      if (visit === undefined) return;
      ownerOf.set(event, visit);
      if (TASK_SCHEDULED.has(type)) {
        visit.attempts.push({ scheduledMs: at, endMs: undefined, failure: undefined, succeeded: false });
        const resourceType = text(details.resourceType);
        const resource = text(details.resource);
        visit.resource =
          resourceType !== undefined && resource !== undefined
            ? `${resourceType}:${resource}`
            : (resource ?? visit.resource);
      } else if (TASK_SUCCEEDED.has(type)) {
        const attempt = lastAttempt(visit);
        if (attempt !== undefined) {
          attempt.succeeded = true;
          attempt.endMs = at;
        }
        visit.failure = undefined;
      } else if (TASK_FAILED.has(type) || SCHEDULE_FAILED.has(type)) {
        failAttempt(visit, event, at, false);
      } else if (TASK_TIMED_OUT.has(type)) {
        failAttempt(visit, event, at, true);
      }
      return;
    }
    if (type.startsWith('MapIteration')) {
      const name = text(details.name);
      const map =
        nearestOpen(from, (v) => v.stateType === 'Map' && (name === undefined || v.state === name)) ??
        mostRecentOpen((v) => v.stateType === 'Map' && (name === undefined || v.state === name)) ??
        mostRecentOpen((v) => v.stateType === 'Map');
      if (map === undefined) return;
      ownerOf.set(event, map);
      const iteration = typeof details.index === 'number' ? details.index : undefined;
      if (type === 'MapIterationFailed') closeIteration(map, iteration, at, false);
      if (type === 'MapIterationAborted') closeIteration(map, iteration, at, true);
      return;
    }
    if (type.startsWith('MapState') || type.startsWith('MapRun') || type.startsWith('ParallelState')) {
      const stateType = type.startsWith('Parallel') ? 'Parallel' : 'Map';
      const visit =
        nearestOpen(from, (v) => v.stateType === stateType) ??
        mostRecentOpen((v) => v.stateType === stateType);
      if (visit === undefined) return;
      ownerOf.set(event, visit);
      if (type === 'MapStateStarted' || type === 'ParallelStateStarted') {
        visit.starts += 1;
        visit.failure = undefined;
        if (typeof details.length === 'number') visit.items = details.length;
      } else if (type === 'MapStateFailed' || type === 'ParallelStateFailed' || type === 'MapRunFailed') {
        const inner = descendants(visit);
        for (const child of inner) if (child.open) cutShort(child, at, true);
        const failedChild = inner.findLast(
          (child) => child.failure !== undefined && child.status !== 'caught',
        );
        visit.failure = text(details.error)
          ? { error: String(details.error), cause: details.cause }
          : (visit.failure ?? failedChild?.failure ?? { error: 'States.BranchFailed', cause: undefined });
        visit.status = 'failed';
        visit.endMs = at;
      } else if (type === 'MapStateSucceeded' || type === 'ParallelStateSucceeded') {
        visit.failure = undefined;
      }
      return;
    }
    if (type === 'EvaluationFailed') {
      const name = text(details.state);
      const visit = nearestOpen(from, (v) => v.state === name) ?? mostRecentOpen((v) => v.state === name);
      if (visit === undefined) return;
      ownerOf.set(event, visit);
      visit.failure = { error: text(details.error) ?? 'States.QueryEvaluationError', cause: details.cause };
      visit.status = 'failed';
      visit.endMs = at;
      return;
    }
    switch (type) {
      case 'ExecutionStarted':
        startMs ??= at;
        return;
      case 'ExecutionRedriven':
        redrives += 1;
        status = 'RUNNING';
        endMs = undefined;
        executionError = undefined;
        failState = undefined;
        return;
      case 'ExecutionSucceeded':
        status = 'SUCCEEDED';
        endMs = at;
        for (const visit of openVisits()) {
          visit.open = false;
          visit.endMs = at;
          visit.status = 'succeeded';
        }
        return;
      case 'ExecutionFailed':
      case 'ExecutionTimedOut':
      case 'ExecutionAborted': {
        status =
          type === 'ExecutionFailed' ? 'FAILED' : type === 'ExecutionTimedOut' ? 'TIMED_OUT' : 'ABORTED';
        endMs = at;
        executionError = {
          error: text(details.error) ?? (type === 'ExecutionTimedOut' ? 'States.Timeout' : undefined),
          cause: details.cause,
        };
        for (const visit of openVisits()) cutShort(visit, at, type !== 'ExecutionFailed', executionError);
        // A Fail state's error and cause are only recorded on the ExecutionFailed event.
        const lastTop = visits.findLast((visit) => visit.scope === root);
        if (type === 'ExecutionFailed' && lastTop?.stateType === 'Fail') {
          lastTop.endMs = at ?? lastTop.endMs;
          if (executionError.error !== undefined)
            lastTop.failure = { error: executionError.error, cause: details.cause };
        }
        return;
      }
      default:
        return;
    }
  });

  const now =
    options.now === undefined ? newestMs : options.now instanceof Date ? options.now.getTime() : options.now;
  const span = (from: number | undefined, to: number | undefined) =>
    from === undefined || to === undefined ? 0 : Math.max(0, to - from);

  const entryOf = (visit: Visit): TimelineEntry => {
    const isTask = visit.stateType === 'Task';
    const attempts = isTask
      ? visit.attempts.length
      : visit.stateType === 'Map' || visit.stateType === 'Parallel'
        ? Math.max(1, visit.starts)
        : 1;
    const backoffMs: number[] = [];
    visit.attempts.forEach((attempt, index) => {
      const before = visit.attempts[index - 1];
      if (before?.failure !== undefined && before.endMs !== undefined && attempt.scheduledMs !== undefined) {
        backoffMs.push(Math.max(0, attempt.scheduledMs - before.endMs));
      }
    });
    const errors = visit.attempts.flatMap((attempt) =>
      attempt.failure === undefined ? [] : [attempt.failure],
    );
    const ended = visit.status === 'failed' || visit.status === 'caught';
    const last = lastAttempt(visit);
    const retrying = visit.status === 'running' && last?.failure !== undefined;
    const parent = visit.scope.parent;
    return {
      key: visit.key,
      state: visit.state,
      stateType: visit.stateType,
      phase: visit.phase,
      status: visit.status,
      startMs: visit.startMs,
      endMs: visit.endMs,
      durationMs: span(visit.startMs, visit.status === 'running' ? now : visit.endMs),
      attempts,
      backoffMs,
      errors,
      error: ended ? visit.failure?.error : undefined,
      cause: ended ? causeMessage(visit.failure?.cause) : undefined,
      compensates: visit.compensates,
      note: visit.note,
      observedStatus: visit.observedStatus,
      parent: parent === undefined ? undefined : { state: parent.state, key: parent.key },
      iteration: visit.scope.iteration,
      branch: visit.scope.branch,
      depth: visit.scope.depth,
      resource: visit.resource,
      items: visit.stateType === 'Parallel' ? visit.branches || undefined : visit.items,
      aborted: visit.aborted,
      retrying,
      input: visit.input,
      output: visit.output,
    };
  };

  const entries = flatten(visits).map(entryOf);
  const transitions = entries.reduce((sum, entry) => sum + 1 + Math.max(0, entry.attempts - 1), 0);
  const check = compensationCheck(entries, forwardStatesConfigured, definiteErrors);
  // While the execution runs, compensations may still be on their way: the verdict waits for the end.
  const compensation = {
    ...check,
    compensatedInReverse: status === 'RUNNING' ? null : check.compensatedInReverse,
  };
  const first = ordered[0];
  const executionStart = startMs ?? (first === undefined ? undefined : timestampMs(first.timestamp));
  const summary: TimelineSummary = {
    status,
    error: status === 'RUNNING' || status === 'SUCCEEDED' ? undefined : executionError?.error,
    cause: status === 'RUNNING' || status === 'SUCCEEDED' ? undefined : causeMessage(executionError?.cause),
    failState: status === 'FAILED' ? failState : undefined,
    startMs: executionStart,
    endMs,
    durationMs: span(executionStart, status === 'RUNNING' ? now : endMs),
    transitions,
    // toPrecision drops float noise (5 x 0.000025 = 0.00012500000000000003).
    priceUsd: Number((transitions * PRICE_PER_TRANSITION_USD).toPrecision(12)),
    ...compensation,
    orderStatus: orderStatusOf(entries),
    eventCount: ordered.length,
    redrives,
    accessDenied: firstAccessDenied(entries),
  };
  return { entries, summary };
}

/** Orders visits for display: each scope's visits in entry order, inner visits right after their Map/Parallel. */
function flatten(visits: readonly Visit[]): Visit[] {
  const children = new Map<Visit | undefined, Visit[]>();
  for (const visit of visits) {
    const siblings = children.get(visit.scope.parent);
    if (siblings === undefined) children.set(visit.scope.parent, [visit]);
    else siblings.push(visit);
  }
  const position = (visit: Visit) => visit.scope.iteration ?? visit.scope.branch ?? 0;
  for (const siblings of children.values())
    siblings.sort((a, b) => position(a) - position(b) || a.order - b.order);
  const out: Visit[] = [];
  const walk = (parent: Visit | undefined) => {
    for (const visit of children.get(parent) ?? []) {
      out.push(visit);
      walk(visit);
    }
  };
  walk(undefined);
  return out;
}

/** See {@link TimelineSummary.accessDenied}. */
function firstAccessDenied(
  entries: readonly TimelineEntry[],
): { readonly state: string; readonly message: string } | undefined {
  for (const entry of entries) {
    for (const attempt of entry.errors) {
      const text = `${attempt.error}: ${attempt.message ?? attempt.rawCause ?? ''}`;
      if (/AccessDenied|is not authorized to perform/.test(text)) {
        const message =
          /User: .* is not authorized to perform: [^\s]+ on resource: [^\s]+/.exec(text)?.[0] ?? text;
        return { state: entry.state, message };
      }
    }
  }
  return undefined;
}

/** See {@link TimelineSummary.compensatedInReverse} and {@link TimelineSummary.uncompensated}. */
function compensationCheck(
  entries: readonly TimelineEntry[],
  known: ReadonlySet<string>,
  definite: ReadonlySet<string>,
): { compensatedInReverse: boolean | null; uncompensated: string[] } {
  const compensationsRun = entries.filter((entry) => entry.compensates !== undefined);
  if (compensationsRun.length === 0) return { compensatedInReverse: null, uncompensated: [] };
  // Forward steps with a known compensation: the configured ones, and those paired by name with one that ran.
  const undoable = new Set([...known, ...compensationsRun.map((entry) => entry.compensates)]);
  // A step that failed may still have committed (an unknown outcome): unless its error says it did not, or its
  // compensation ran anyway, it counts as a step to undo, in its place in the forward order.
  const attempted = new Set(compensationsRun.map((entry) => entry.compensates));
  const mayHaveCommitted = (entry: TimelineEntry) =>
    entry.status === 'caught' &&
    (attempted.has(entry.state) || (entry.error !== undefined && !definite.has(entry.error)));
  const completed: string[] = [];
  for (const entry of entries) {
    if (
      entry.phase === 'forward' &&
      (entry.status === 'succeeded' || mayHaveCommitted(entry)) &&
      undoable.has(entry.state) &&
      !completed.includes(entry.state)
    ) {
      completed.push(entry.state);
    }
  }
  const undone: string[] = [];
  for (const entry of entries) {
    const target = entry.compensates;
    if (
      entry.status === 'succeeded' &&
      target !== undefined &&
      completed.includes(target) &&
      !undone.includes(target)
    ) {
      undone.push(target);
    }
  }
  const expected = completed.toReversed();
  return {
    compensatedInReverse:
      expected.length === undone.length && expected.every((state, index) => undone[index] === state),
    uncompensated: expected.filter((state) => !undone.includes(state)),
  };
}

const SAGA_STATES = new Set([
  'CheckOrder',
  'AlreadySettled',
  'OrderNotFound',
  'CancelOrder',
  'CancelOrderAfterPayment',
  'ChargePayment',
  'ReserveInventory',
  'ShipOrder',
  'RefundPayment',
  'ReleaseInventory',
  'MarkOrderCompleted',
  'MarkOrderFailed',
  'MarkOrderCancelled',
  'MarkCompensationFailed',
  'OrderCompleted',
  'PaymentFailed',
  'OrderCancelled',
  'CompensationFailed',
]);

const ORDER_STATUSES: ReadonlySet<string> = new Set<OrderStatus>([
  'COMPLETED',
  'CANCELLED',
  'FAILED',
  'COMPENSATION_FAILED',
  'CANCELLING',
  'PENDING',
]);

/** The order status a state name announces: the saga's terminal states and any `Mark*` state. */
function orderStatusNamed(name: string): OrderStatus | undefined {
  const normalized = name.replace(/^Mark/, '');
  if (/CompensationFailed$/.test(normalized)) return 'COMPENSATION_FAILED';
  if (normalized === 'PaymentFailed' || /^Order(Failed)$/.test(normalized)) return 'FAILED';
  if (/^Order(Cancelled|Canceled)$/.test(normalized)) return 'CANCELLED';
  if (/^Order(Completed)$/.test(normalized)) return 'COMPLETED';
  return undefined;
}

/**
 * The order status the history implies: the last terminal state reached (OrderCompleted, OrderCancelled,
 * PaymentFailed, CompensationFailed) or `Mark*` state that succeeded; PENDING for a saga history that reached
 * none; null for a history of another state machine.
 */
function orderStatusOf(entries: readonly TimelineEntry[]): OrderStatus | null {
  if (!entries.some((entry) => SAGA_STATES.has(entry.state) || entry.state.startsWith('MarkOrder')))
    return null;
  let status: OrderStatus = 'PENDING';
  for (const entry of entries) {
    // What the guard read is the status until a later write changes it (AlreadySettled writes nothing).
    if (entry.observedStatus !== undefined && ORDER_STATUSES.has(entry.observedStatus)) {
      status = entry.observedStatus as OrderStatus;
      continue;
    }
    if (SAGA_COMPENSATION_STARTS.includes(entry.state) && entry.status === 'succeeded') {
      status = 'CANCELLING';
      continue;
    }
    const named = orderStatusNamed(entry.state);
    if (named === undefined) continue;
    const isMark = entry.state.startsWith('Mark');
    if (isMark ? entry.status === 'succeeded' : entry.phase === 'final') status = named;
  }
  return status;
}
