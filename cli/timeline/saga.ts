/**
 * The saga reading of a folded history (fold.ts): which visits are forward work and which compensate (and what
 * each undoes), what a visit means for the order, the order status the history implies, and whether the
 * compensations ran in the reverse order of the steps they undo.
 *
 * What the states mean is read from the state machine's definition — the order saga's
 * (state-machines/order-saga.asl.json) unless another is given: a compensation is a Task whose `Comment` starts
 * "Compensation of <ForwardState>"; the decisions to compensate are where the forward Tasks' `States.ALL` Catchers
 * lead; the checkpoint is the start state the Catchers lead back to; the order status each state writes is the
 * `status` its DynamoDB update sets. A history with no definition (any other state machine) falls back to a
 * heuristic on state names for the compensation pairs, and has no order status. Pure: the definition is imported,
 * not read at run time.
 */
import ORDER_SAGA_DEFINITION from '../../state-machines/order-saga.asl.json' with { type: 'json' };
import { type FoldedVisit, maybeJson, type VisitFacts } from './fold.ts';

/**
 * Where a visit sits in the saga: `forward` work, `compensation` (a visit after a caught error, or a state
 * known to undo a forward step), or the `final` Succeed/Fail state.
 */
export type Phase = 'forward' | 'compensation' | 'final';

/** The order status a saga history implies (design §3). */
export type OrderStatus =
  | 'COMPLETED'
  | 'CANCELLED'
  | 'FAILED'
  | 'COMPENSATION_FAILED'
  | 'CANCELLING'
  | 'PENDING';

const ORDER_STATUSES: ReadonlySet<string> = new Set<OrderStatus>([
  'COMPLETED',
  'CANCELLED',
  'FAILED',
  'COMPENSATION_FAILED',
  'CANCELLING',
  'PENDING',
]);

function isOrderStatus(value: unknown): value is OrderStatus {
  return typeof value === 'string' && ORDER_STATUSES.has(value);
}

/** The attribute of the order row that holds its status. */
const STATUS_ATTRIBUTE = 'status';

/** An ASL definition, as far as the reading needs it (any parsed definition fits; fields are checked as read). */
export interface SagaDefinition {
  readonly StartAt?: unknown;
  readonly States: Readonly<Record<string, unknown>>;
}

/** A state's write of the order status: the status it sets when it succeeds, and the ones its condition accepts. */
export interface StatusWrite {
  readonly status: OrderStatus;
  /** The statuses the write's condition expects (empty when it has none). */
  readonly from: readonly string[];
}

/** What the states of a state machine mean for the saga. */
export interface SagaReading {
  /** Compensation state -> the forward state it undoes. */
  readonly compensations: Readonly<Record<string, string>>;
  /** States that decide to compensate (the start of the compensation phase, though they undo nothing themselves). */
  readonly compensationStarts: readonly string[];
  /**
   * States that re-read what the execution acts on and route it anew: after one, the phase follows the route
   * again (forward, compensation or final) instead of staying in compensation. Each maps to the field of its
   * output that holds the read (`<field>.Item.status.S`).
   */
  readonly checkpoints: Readonly<Record<string, string>>;
  /**
   * Errors that say the step did not commit (business errors: the forward steps never retry them). A forward step
   * with a compensation that failed with any other error may have committed (an unknown outcome): it is owed its
   * compensation.
   */
  readonly definiteErrors: readonly string[];
  /** State -> the order status it writes when it succeeds. */
  readonly statusWrites: Readonly<Record<string, StatusWrite>>;
  /** What a visit of a state means, when its name alone does not say it (see `TimelineEntry.note`). */
  readonly notes: Readonly<Record<string, string>>;
  /** The states of the definition; empty for the reading of a history with no definition. */
  readonly states: readonly string[];
  /** Pair compensations not listed by shared name stems (the definition names none, or there is none). */
  readonly pairByName: boolean;
}

/** The reading of a history with no definition: compensations paired by name, no order. */
export const NO_DEFINITION: SagaReading = {
  compensations: {},
  compensationStarts: [],
  checkpoints: {},
  definiteErrors: [],
  statusWrites: {},
  notes: {},
  states: [],
  pairByName: true,
};

// ---------------------------------------------------------------------------------------------------------------
// Reading a definition

type Fields = Readonly<Record<string, unknown>>;

function isFields(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

/** Every state of a definition, those inside Parallel branches and Map processors included. */
function allStates(definition: SagaDefinition): Map<string, Fields> {
  const out = new Map<string, Fields>();
  const visit = (states: unknown) => {
    if (!isFields(states)) return;
    for (const [name, state] of Object.entries(states)) {
      if (!isFields(state)) continue;
      out.set(name, state);
      const inner = [
        ...(Array.isArray(state.Branches) ? state.Branches : []),
        state.ItemProcessor,
        state.Iterator,
      ];
      for (const scope of inner) if (isFields(scope)) visit(scope.States);
    }
  };
  visit(definition.States);
  return out;
}

function catchers(state: Fields): { errors: string[]; next: string }[] {
  if (!Array.isArray(state.Catch)) return [];
  return state.Catch.filter(isFields).flatMap((catcher) =>
    typeof catcher.Next === 'string' ? [{ errors: strings(catcher.ErrorEquals), next: catcher.Next }] : [],
  );
}

const COMPENSATION_COMMENT = /^\s*Compensation of\s+/i;

/** The forward state a state's `Comment` says it compensates ("Compensation of ReserveInventory: …"). */
function compensatedBy(state: Fields, names: readonly string[]): string | undefined {
  if (typeof state.Comment !== 'string') return undefined;
  const match = COMPENSATION_COMMENT.exec(state.Comment);
  if (match === null) return undefined;
  const rest = state.Comment.slice(match[0].length);
  // The longest state name the rest starts with, followed by the end or a character a name would not continue with.
  return names
    .filter((name) => rest.startsWith(name) && !/^[\p{L}\p{N}_-]/u.test(rest.slice(name.length)))
    .sort((a, b) => b.length - a.length)[0];
}

/** DynamoDB update objects (`UpdateExpression` with its names and values) anywhere in a state's parameters. */
function updatesIn(value: unknown, out: Fields[] = []): Fields[] {
  if (Array.isArray(value)) for (const item of value) updatesIn(item, out);
  else if (isFields(value)) {
    if (typeof value.UpdateExpression === 'string') out.push(value);
    for (const inner of Object.values(value)) updatesIn(inner, out);
  }
  return out;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The order status a DynamoDB update sets (`SET #status = :value`), with the statuses its condition accepts. */
function statusWriteOf(update: Fields): StatusWrite | undefined {
  const names = isFields(update.ExpressionAttributeNames) ? update.ExpressionAttributeNames : {};
  const values = isFields(update.ExpressionAttributeValues) ? update.ExpressionAttributeValues : {};
  const stringValue = (placeholder: string) => {
    const value = values[placeholder];
    return isFields(value) && typeof value.S === 'string' ? value.S : undefined;
  };
  const aliases = [
    STATUS_ATTRIBUTE,
    ...Object.entries(names)
      .filter(([, name]) => name === STATUS_ATTRIBUTE)
      .map(([alias]) => alias),
  ].map(escapeRegExp);
  const attribute = `(?<![\\w#])(?:${aliases.join('|')})`;
  const set = new RegExp(`${attribute}\\s*=\\s*(:[\\w]+)`).exec(String(update.UpdateExpression));
  const status = set?.[1] === undefined ? undefined : stringValue(set[1]);
  if (!isOrderStatus(status)) return undefined;
  const condition = typeof update.ConditionExpression === 'string' ? update.ConditionExpression : '';
  const equals = new RegExp(`${attribute}\\s*=\\s*(:[\\w]+)`).exec(condition);
  const within = new RegExp(`${attribute}\\s+IN\\s*\\(([^)]*)\\)`, 'i').exec(condition);
  const placeholders = equals?.[1] !== undefined ? [equals[1]] : (within?.[1]?.split(',') ?? []);
  const from = placeholders.flatMap((placeholder) => stringValue(placeholder.trim()) ?? []);
  return { status, from };
}

/** The field of the output a checkpoint writes its read into (`"ResultPath": "$.check"` -> `check`). */
function resultField(state: Fields): string | undefined {
  const path = state.ResultPath;
  return typeof path === 'string' ? /^\$\.([\w-]+)$/.exec(path)?.[1] : undefined;
}

/**
 * Notes for what the route after a checkpoint ends in: the rule that finds no status leads to "no such order",
 * the Default to a Succeed state to a settled order left alone.
 */
function routeNotes(
  checkpoint: Fields,
  field: string,
  states: ReadonlyMap<string, Fields>,
): Record<string, string> {
  const notes: Record<string, string> = {};
  const route = typeof checkpoint.Next === 'string' ? states.get(checkpoint.Next) : undefined;
  if (route?.Type !== 'Choice') return notes;
  const variable = `$.${field}.Item.${STATUS_ATTRIBUTE}.S`;
  const terminal = (name: unknown): name is string => {
    const type = typeof name === 'string' ? states.get(name)?.Type : undefined;
    return type === 'Succeed' || type === 'Fail';
  };
  for (const rule of Array.isArray(route.Choices) ? route.Choices.filter(isFields) : []) {
    const negated = isFields(rule.Not) ? rule.Not : undefined;
    if (terminal(rule.Next) && negated?.Variable === variable && negated.IsPresent === true)
      notes[rule.Next] = 'no such order';
  }
  if (terminal(route.Default) && states.get(route.Default)?.Type === 'Succeed')
    notes[route.Default] = 'already settled, nothing ran';
  return notes;
}

/** What the states of `definition` mean for the saga (see the module's comment). */
export function readSagaDefinition(definition: SagaDefinition): SagaReading {
  const states = allStates(definition);
  const names = [...states.keys()];
  const compensations: Record<string, string> = {};
  for (const [name, state] of states) {
    if (state.Type !== 'Task') continue;
    const forward = compensatedBy(state, names);
    if (forward !== undefined && forward !== name) compensations[name] = forward;
  }
  const isCompensation = (name: string) => Object.hasOwn(compensations, name);
  const statusWrites: Record<string, StatusWrite> = {};
  for (const [name, state] of states) {
    if (state.Type !== 'Task') continue;
    const write = updatesIn(state.Parameters)
      .map(statusWriteOf)
      .find((found) => found !== undefined);
    if (write !== undefined) statusWrites[name] = write;
  }
  // The forward steps: Tasks that undo nothing and whose failure (any error) leads to the compensations.
  const compensationStarts = new Set<string>();
  const definiteErrors = new Set<string>();
  for (const [name, state] of states) {
    if (state.Type !== 'Task' || isCompensation(name)) continue;
    const onAnyError = catchers(state).filter((catcher) => catcher.errors.includes('States.ALL'));
    let forward = false;
    for (const { next } of onAnyError) {
      const target = states.get(next);
      if (isCompensation(next)) forward = true;
      else if (target !== undefined && target.Type !== 'Succeed' && target.Type !== 'Fail') {
        compensationStarts.add(next);
        forward = true;
      }
    }
    // What a forward step never retries says it did not commit.
    if (forward && Array.isArray(state.Retry))
      for (const retrier of state.Retry.filter(isFields))
        if (retrier.MaxAttempts === 0)
          for (const error of strings(retrier.ErrorEquals)) definiteErrors.add(error);
  }
  const checkpoints: Record<string, string> = {};
  const notes: Record<string, string> = {};
  const start = typeof definition.StartAt === 'string' ? definition.StartAt : undefined;
  const startState = start === undefined ? undefined : states.get(start);
  const field = startState === undefined ? undefined : resultField(startState);
  const loopsBack = [...states.values()].some((state) => catchers(state).some((c) => c.next === start));
  if (start !== undefined && startState !== undefined && field !== undefined && loopsBack) {
    checkpoints[start] = field;
    Object.assign(notes, routeNotes(startState, field, states));
  }
  for (const name of compensationStarts) {
    const write = statusWrites[name];
    notes[name] =
      write === undefined
        ? 'decided to compensate'
        : `decided to compensate (${write.from.length > 0 ? `${write.from.join(' or ')} → ` : ''}${write.status})`;
  }
  return {
    compensations,
    compensationStarts: [...compensationStarts],
    checkpoints,
    definiteErrors: [...definiteErrors],
    statusWrites,
    notes,
    states: names,
    pairByName: Object.keys(compensations).length === 0,
  };
}

/** The reading of the order saga's definition (state-machines/order-saga.asl.json). */
export const ORDER_SAGA: SagaReading = readSagaDefinition(ORDER_SAGA_DEFINITION);

/**
 * Whether a history is one of the state machine `reading` was read from: most of the states it entered (more
 * than half of their names) are states of the definition. A state renamed or added since still reads.
 */
export function isHistoryOf(reading: SagaReading, visits: readonly FoldedVisit[]): boolean {
  const entered = new Set(visits.map((visit) => visit.facts.state));
  if (entered.size === 0 || reading.states.length === 0) return false;
  const known = new Set(reading.states);
  const matching = [...entered].filter((name) => known.has(name)).length;
  return matching * 2 > entered.size;
}

// ---------------------------------------------------------------------------------------------------------------
// Outputs and errors

/** DynamoDB's refusals of a conditional write, as Step Functions names them. */
const REFUSED_WRITE = /^DynamoD[Bb]\.(ConditionalCheckFailedException|TransactionCanceledException)$/;

function isRefusedWrite(error: string | undefined): boolean {
  return error !== undefined && REFUSED_WRITE.test(error);
}

/** The order status a checkpoint put in its output (`<field>.Item.status.S`), if any. */
function orderStatusRead(output: unknown, field: string): string | undefined {
  const value = maybeJson(output);
  if (!isFields(value)) return undefined;
  const read = value[field];
  const item = isFields(read) && isFields(read.Item) ? read.Item[STATUS_ATTRIBUTE] : undefined;
  return isFields(item) && typeof item.S === 'string' ? item.S : undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Compensation pairing heuristic (histories with no definition)

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
// Reading the visits

/** What a visit means for the saga. */
export interface VisitMeaning {
  readonly phase: Phase;
  /** For a compensation: the forward state it undoes. */
  readonly compensates?: string | undefined;
  readonly note?: string | undefined;
  /** For a checkpoint: the order status it read. */
  readonly observedStatus?: string | undefined;
}

/**
 * The meaning of each visit (in the order given), replaying the history: the phase of a visit follows from what
 * happened in its scope (a Map iteration or Parallel branch, or the top level) before it entered — a compensation
 * or a decision to compensate, a caught error that may have left something to undo (not a business error, not a
 * refused conditional write), or a checkpoint that routes anew.
 */
export function readVisits(visits: readonly FoldedVisit[], reading: SagaReading): VisitMeaning[] {
  const { compensations } = reading;
  const forwardKnown = new Set(Object.values(compensations));
  const starts = new Set(reading.compensationStarts);
  const definite = new Set(reading.definiteErrors);
  const isCheckpoint = (state: string) => Object.hasOwn(reading.checkpoints, state);
  const meanings = new Map<FoldedVisit, VisitMeaning>();
  const compensating = new Map<string, boolean>();
  const scopeOf = (visit: FoldedVisit) => {
    if (!compensating.has(visit.scope)) {
      const parentKey = visit.facts.parent?.key;
      const parent = visits.find((candidate) => candidate.facts.key === parentKey);
      compensating.set(visit.scope, parent !== undefined && meanings.get(parent)?.phase === 'compensation');
    }
    return {
      get: () => compensating.get(visit.scope) === true,
      set: (value: boolean) => compensating.set(visit.scope, value),
    };
  };
  const byEntry = visits.toSorted((a, b) => a.enteredAt - b.enteredAt);
  const moments = [
    ...byEntry.map((visit) => ({ at: visit.enteredAt, visit, exit: false })),
    ...byEntry.flatMap((visit) =>
      visit.exitedAt === undefined ? [] : [{ at: visit.exitedAt, visit, exit: true }],
    ),
  ].sort((a, b) => a.at - b.at);
  /** Forward steps that had succeeded by history position `at`, in the order they entered. */
  const completedForward = (at: number) =>
    byEntry
      .filter(
        (visit) =>
          meanings.get(visit)?.phase === 'forward' &&
          visit.exitedAt !== undefined &&
          visit.exitedAt < at &&
          visit.facts.status === 'succeeded',
      )
      .map((visit) => visit.facts.state);

  for (const { visit, exit } of moments) {
    const { state, stateType, status } = visit.facts;
    const scope = scopeOf(visit);
    if (!exit) {
      // hasOwn: a state may be called "constructor" or "toString".
      const compensates =
        (Object.hasOwn(compensations, state) ? compensations[state] : undefined) ??
        (!reading.pairByName ||
        forwardKnown.has(state) ||
        starts.has(state) ||
        isCheckpoint(state) ||
        compensationStem(state) === undefined
          ? undefined
          : pairByStem(state, completedForward(visit.enteredAt)));
      // A checkpoint routes anew: what follows it is forward again unless it compensates.
      if (isCheckpoint(state)) scope.set(false);
      const phase: Phase =
        stateType === 'Succeed' || stateType === 'Fail'
          ? 'final'
          : compensates !== undefined || starts.has(state) || scope.get()
            ? 'compensation'
            : 'forward';
      // Everything after a decision to compensate, or a compensation, belongs to the compensation phase.
      if (phase === 'compensation') scope.set(true);
      const note = Object.hasOwn(reading.notes, state) ? reading.notes[state] : undefined;
      meanings.set(visit, { phase, compensates, note, observedStatus: undefined });
      continue;
    }
    const meaning = meanings.get(visit);
    if (meaning === undefined) continue;
    if (status === 'caught') {
      const refused = isRefusedWrite(visit.facts.error);
      if (refused) {
        const note = starts.has(state)
          ? 'refused: already shipped, or no longer PENDING'
          : 'refused: the order is no longer in the status this write expects';
        meanings.set(visit, { ...meaning, note });
      }
      // A refused conditional write hands over to the checkpoint, not to the compensations; a business error
      // (nothing committed, e.g. PaymentDeclined -> MarkOrderFailed) has nothing to undo: the next state decides.
      if (!refused && !definite.has(visit.facts.error ?? '')) scope.set(true);
    } else if (status === 'succeeded' && isCheckpoint(state)) {
      const read = orderStatusRead(visit.facts.output, reading.checkpoints[state] ?? '');
      if (read !== undefined)
        meanings.set(visit, { ...meaning, observedStatus: read, note: `order ${read}` });
    }
  }
  return visits.map(
    (visit) =>
      meanings.get(visit) ?? {
        phase: 'forward',
        compensates: undefined,
        note: undefined,
        observedStatus: undefined,
      },
  );
}

/** A visit with its meaning, as the checks below read it. */
type ReadVisit = VisitFacts & VisitMeaning;

/** The reverse-order check: `TimelineSummary.compensatedInReverse` and `TimelineSummary.uncompensated` (model.ts). */
export function compensationCheck(
  entries: readonly ReadVisit[],
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
  const mayHaveCommitted = (entry: ReadVisit) =>
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
  // The order of the undoing is the order in which each step's compensation was first attempted: a compensation
  // that failed and ran again later (a re-run, a redrive) keeps its place.
  const attemptedOrder: string[] = [];
  const undone = new Set<string>();
  for (const entry of entries) {
    const target = entry.compensates;
    if (target === undefined || !completed.includes(target)) continue;
    if (!attemptedOrder.includes(target)) attemptedOrder.push(target);
    if (entry.status === 'succeeded') undone.add(target);
  }
  const expected = completed.toReversed();
  const uncompensated = expected.filter((state) => !undone.has(state));
  return {
    compensatedInReverse:
      uncompensated.length === 0 &&
      expected.length === attemptedOrder.length &&
      expected.every((state, index) => attemptedOrder[index] === state),
    uncompensated,
  };
}

/**
 * The order status the history implies: what the last checkpoint read or the last state that wrote a status and
 * succeeded wrote, whichever came last; PENDING when there was neither.
 */
export function orderStatusOf(entries: readonly ReadVisit[], reading: SagaReading): OrderStatus {
  let status: OrderStatus = 'PENDING';
  for (const entry of entries) {
    // What the guard read is the status until a later write changes it (a settled order: nothing is written).
    if (isOrderStatus(entry.observedStatus)) {
      status = entry.observedStatus;
      continue;
    }
    const write = Object.hasOwn(reading.statusWrites, entry.state)
      ? reading.statusWrites[entry.state]
      : undefined;
    if (write !== undefined && entry.status === 'succeeded') status = write.status;
  }
  return status;
}
