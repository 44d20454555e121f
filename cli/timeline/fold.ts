/**
 * The generic history fold: execution history events -> one record per STATE VISIT (a `*StateEntered` event and
 * what follows it) and the execution-level facts, for any state machine. It knows Step Functions' events, not what
 * the states mean: the saga reading (saga.ts) adds that. Pure: no I/O, no clock unless `now` is passed.
 *
 * Events are attributed to visits by following `previousEventId` (so concurrent Map iterations and Parallel
 * branches do not get mixed up), with a by-name fallback for histories whose links are missing.
 */
import { type HistoryEventLike, type JsonValue, normalizeOrder, timestampMs } from './history.ts';

/** The outcome of one state visit. `caught`: the visit failed and a Catch moved the execution on. */
export type EntryStatus = 'succeeded' | 'failed' | 'caught' | 'running';

/** Execution status as `DescribeExecution` reports it (PENDING_REDRIVE is reported as FAILED). */
export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

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

/** What the history says about one state visit, whatever the state machine. */
export interface VisitFacts {
  /** Stable identity across polls: the id of the `*StateEntered` event. */
  readonly key: string;
  /** State name. */
  readonly state: string;
  /** State type from the entered event: Task, Pass, Choice, Wait, Succeed, Fail, Map, Parallel. */
  readonly stateType: string;
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

/** One visit of the fold: its facts, and where and when it happened in the history (for readings of it). */
export interface FoldedVisit {
  readonly facts: VisitFacts;
  /**
   * The sequence the visit ran in: `root` at the top level, `<Map/Parallel entry key>/i<n>` for a Map iteration,
   * `<key>/b<n>` for a Parallel branch. Visits of one scope run one after the other.
   */
  readonly scope: string;
  /** Position in the (ordered) history of the `*StateEntered` event. */
  readonly enteredAt: number;
  /** Position of its `*StateExited` event; undefined when it did not exit (running, cut short, a Fail state). */
  readonly exitedAt: number | undefined;
}

/** Execution-level facts. */
export interface ExecutionFacts {
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

/** The fold of one execution's history. */
export interface FoldedHistory {
  /** Visits for display: top-level visits in order, each Map/Parallel followed by its inner visits. */
  readonly visits: readonly FoldedVisit[];
  readonly execution: ExecutionFacts;
}

/** Price of one Standard-workflow state transition in USD ($0.025 per 1,000). */
export const PRICE_PER_TRANSITION_USD = 0.025 / 1000;

/** Options of {@link foldHistory}. */
export interface FoldOptions {
  /** The current time (epoch ms or Date), for the duration of running visits and executions. @default the newest event's time */
  readonly now?: number | Date | undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Cause parsing

/** Parses a JSON-encoded string when it looks like a JSON object or array; otherwise returns it unchanged. */
export function maybeJson(value: unknown): unknown {
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
  /** See {@link FoldedVisit.scope}. */
  readonly id: string;
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
  readonly enteredAt: number;
  exitedAt: number | undefined;
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

export const TASK_SCHEDULED: ReadonlySet<string> = new Set([
  'TaskScheduled',
  'LambdaFunctionScheduled',
  'ActivityScheduled',
]);
export const TASK_STARTED: ReadonlySet<string> = new Set([
  'TaskStarted',
  'LambdaFunctionStarted',
  'ActivityStarted',
  'TaskSubmitted',
]);
export const TASK_SUCCEEDED: ReadonlySet<string> = new Set([
  'TaskSucceeded',
  'LambdaFunctionSucceeded',
  'ActivitySucceeded',
]);
export const TASK_FAILED: ReadonlySet<string> = new Set([
  'TaskFailed',
  'TaskStartFailed',
  'TaskSubmitFailed',
  'LambdaFunctionFailed',
  'LambdaFunctionStartFailed',
  'ActivityFailed',
]);
export const TASK_TIMED_OUT: ReadonlySet<string> = new Set([
  'TaskTimedOut',
  'LambdaFunctionTimedOut',
  'ActivityTimedOut',
]);
/** Failures that happen instead of a scheduling: each is an attempt of its own. */
export const SCHEDULE_FAILED: ReadonlySet<string> = new Set([
  'LambdaFunctionScheduleFailed',
  'ActivityScheduleFailed',
]);

type Details = Record<string, unknown>;

/** The `...EventDetails` object of an event, whichever it is. */
export function detailsOf(event: HistoryEventLike): Details {
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
 * Folds the history events of one execution (any order; duplicates ignored) into its state visits and execution
 * facts. Works on a partial history (a running execution) and on the history of any state machine.
 */
export function foldHistory(events: readonly HistoryEventLike[], options: FoldOptions = {}): FoldedHistory {
  const ordered = normalizeOrder(events);
  const byId = new Map<number, HistoryEventLike>();
  for (const event of ordered) if (event.id !== undefined) byId.set(event.id, event);

  const root: Scope = {
    parent: undefined,
    iteration: undefined,
    branch: undefined,
    depth: 0,
    id: 'root',
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
      id: `${parent.key}/${id}`,
    };
    parent.childScopes.set(id, scope);
    return scope;
  }

  function openVisit(event: HistoryEventLike, index: number, at: number | undefined): Visit {
    const details = detailsOf(event);
    const state = text(details.name) ?? '(unnamed)';
    const stateType = (event.type ?? '').replace(/StateEntered$/, '');
    const scope = scopeFor(previousOf(event, index));
    const visit: Visit = {
      order: visits.length,
      key: String(event.id ?? `#${index}`),
      state,
      stateType,
      scope,
      startMs: at,
      enteredAt: index,
      exitedAt: undefined,
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
      visit.exitedAt = index;
      visit.output = jsonText(details.output);
      const last = lastAttempt(visit);
      const failed =
        (last?.failure !== undefined && !last.succeeded) ||
        (visit.failure !== undefined && visit.stateType !== 'Task') ||
        visit.status === 'failed';
      visit.status = failed ? 'caught' : 'succeeded';
      if (failed) visit.failure ??= caughtErrorIn(details.output);
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

  const factsOf = (visit: Visit): VisitFacts => {
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
      status: visit.status,
      startMs: visit.startMs,
      endMs: visit.endMs,
      durationMs: span(visit.startMs, visit.status === 'running' ? now : visit.endMs),
      attempts,
      backoffMs,
      errors,
      error: ended ? visit.failure?.error : undefined,
      cause: ended ? causeMessage(visit.failure?.cause) : undefined,
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

  const folded = flatten(visits).map(
    (visit): FoldedVisit => ({
      facts: factsOf(visit),
      scope: visit.scope.id,
      enteredAt: visit.enteredAt,
      exitedAt: visit.exitedAt,
    }),
  );
  const facts = folded.map((visit) => visit.facts);
  const transitions = facts.reduce((sum, visit) => sum + 1 + Math.max(0, visit.attempts - 1), 0);
  const first = ordered[0];
  const executionStart = startMs ?? (first === undefined ? undefined : timestampMs(first.timestamp));
  const execution: ExecutionFacts = {
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
    eventCount: ordered.length,
    redrives,
    accessDenied: firstAccessDenied(facts),
  };
  return { visits: folded, execution };
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

/** See {@link ExecutionFacts.accessDenied}. */
function firstAccessDenied(
  entries: readonly VisitFacts[],
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
