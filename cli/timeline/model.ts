/**
 * Execution history -> saga timeline model. Pure: no I/O, no clock unless `now` is passed.
 *
 * Two steps: the generic fold (fold.ts) turns the history of any state machine into state visits and execution
 * facts; the saga reading (saga.ts) says what they mean for the order — phases, compensation pairs, the order
 * status, the reverse-order check — from the state machine's definition (the order saga's unless told otherwise),
 * or by a heuristic on state names for a history with no definition.
 */
import { type ExecutionFacts, type FoldedVisit, foldHistory, type VisitFacts } from './fold.ts';
import type { HistoryEventLike } from './history.ts';
import {
  compensationCheck,
  isHistoryOf,
  NO_DEFINITION,
  ORDER_SAGA,
  type OrderStatus,
  orderStatusOf,
  type Phase,
  readSagaDefinition,
  readVisits,
  type SagaDefinition,
  type SagaReading,
} from './saga.ts';

export {
  type AttemptError,
  causeMessage,
  type EntryStatus,
  type ExecutionStatus,
  PRICE_PER_TRANSITION_USD,
} from './fold.ts';
export {
  NO_DEFINITION,
  nameWords,
  ORDER_SAGA,
  type OrderStatus,
  type Phase,
  readSagaDefinition,
  type SagaDefinition,
  type SagaReading,
  type StatusWrite,
} from './saga.ts';

/** One state visit: what the history says about it, and what it means for the saga. */
export interface TimelineEntry extends VisitFacts {
  readonly phase: Phase;
  /** For a compensation: the forward state it undoes. */
  readonly compensates?: string | undefined;
  /**
   * What the visit means for the saga, when its name alone does not say it: the order status a check read, the
   * decision to compensate, a settled order left alone, a refused conditional write.
   */
  readonly note?: string | undefined;
  /** For a checkpoint (the saga's CheckOrder): the order status it read. */
  readonly observedStatus?: string | undefined;
}

/** Execution-level facts, and what the history means for the order. */
export interface TimelineSummary extends ExecutionFacts {
  /**
   * True when compensations ran in the reverse order of the forward steps they undo (each step's compensation in
   * the place of its first attempt: one that failed and succeeded on a later run keeps its place) and every forward
   * step with a known compensation that completed, or failed with an unknown outcome (not a business error), was
   * compensated successfully; false otherwise; null when no compensation ran or the execution is still running.
   */
  readonly compensatedInReverse: boolean | null;
  /**
   * Completed forward steps with a known compensation that no successful compensation undid (yet), in the order
   * they should be undone; empty when no compensation ran.
   */
  readonly uncompensated: readonly string[];
  /** The order status implied by the states reached; null for a history that is not the order saga's. */
  readonly orderStatus: OrderStatus | null;
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
   * The definition of the state machine the history is of: what its states mean is read from it (see saga.ts).
   * `null`: no definition — compensations are paired by a heuristic on shared name stems
   * (Refund/Release/Cancel/Undo/Compensate/Revert/Rollback/Void/Reverse X <-> an earlier forward X) and there is
   * no order status.
   * @default the order saga's (state-machines/order-saga.asl.json) when most states the history entered are its
   * states; otherwise none
   */
  readonly definition?: SagaDefinition | null;
  /** Compensation state -> the forward state it undoes. @default read from the definition */
  readonly compensations?: Readonly<Record<string, string>>;
  /** The current time (epoch ms or Date), for the duration of running visits and executions. @default the newest event's time */
  readonly now?: number | Date;
  /**
   * States that decide to compensate (the start of the compensation phase, though they undo nothing themselves).
   * @default read from the definition: where the forward Tasks' States.ALL Catchers lead
   */
  readonly compensationStarts?: readonly string[];
  /**
   * States that re-read what the execution acts on and route it anew: after one, the phase follows the route
   * again (forward, compensation or final) instead of staying in compensation. The status a checkpoint read is
   * taken from its output where the definition's `ResultPath` puts it (`check.Item.status.S` when it does not say).
   * @default read from the definition: its start state, when Catchers lead back to it
   */
  readonly checkpoints?: readonly string[];
  /**
   * Errors that say the step did not commit (business errors). A forward step with a compensation that failed
   * with any other error may have committed (an unknown outcome), so it is owed its compensation.
   * @default read from the definition: the errors its forward steps never retry
   */
  readonly definiteErrors?: readonly string[];
}

/** The order saga's compensations: compensation state -> the forward state it undoes (read from its ASL). */
export const SAGA_COMPENSATIONS: Readonly<Record<string, string>> = ORDER_SAGA.compensations;

/** Definitions already read (a follower rebuilds the model on every poll with the same definition). */
const readings = new WeakMap<SagaDefinition, SagaReading>();

function readingOf(definition: SagaDefinition): SagaReading {
  let reading = readings.get(definition);
  if (reading === undefined) {
    reading = readSagaDefinition(definition);
    readings.set(definition, reading);
  }
  return reading;
}

/** The reading for a history, and whether the history is of a saga that writes an order status. */
function readingFor(
  visits: readonly FoldedVisit[],
  options: BuildTimelineOptions,
): { reading: SagaReading; hasOrder: boolean } {
  const base =
    options.definition === null
      ? NO_DEFINITION
      : options.definition !== undefined
        ? readingOf(options.definition)
        : isHistoryOf(ORDER_SAGA, visits)
          ? ORDER_SAGA
          : NO_DEFINITION;
  const reading: SagaReading = {
    ...base,
    compensations: options.compensations ?? base.compensations,
    compensationStarts: options.compensationStarts ?? base.compensationStarts,
    checkpoints:
      options.checkpoints === undefined
        ? base.checkpoints
        : Object.fromEntries(options.checkpoints.map((state) => [state, base.checkpoints[state] ?? 'check'])),
    definiteErrors: options.definiteErrors ?? base.definiteErrors,
  };
  return { reading, hasOrder: Object.keys(base.statusWrites).length > 0 };
}

/**
 * Builds the timeline model of one execution from its history events (any order; duplicates ignored). Works on a
 * partial history (a running execution) and on any AWS history, not only the order saga's.
 */
export function buildTimeline(
  events: readonly HistoryEventLike[],
  options: BuildTimelineOptions = {},
): TimelineModel {
  const { visits, execution } = foldHistory(events, { now: options.now });
  const { reading, hasOrder } = readingFor(visits, options);
  const meanings = readVisits(visits, reading);
  const entries = visits.map((visit, index): TimelineEntry => {
    const { facts } = visit;
    const meaning = meanings[index];
    return {
      ...facts,
      phase: meaning?.phase ?? 'forward',
      compensates: meaning?.compensates,
      note: meaning?.note,
      observedStatus: meaning?.observedStatus,
    };
  });
  const check = compensationCheck(
    entries,
    new Set(Object.values(reading.compensations)),
    new Set(reading.definiteErrors),
  );
  const summary: TimelineSummary = {
    ...execution,
    // While the execution runs, compensations may still be on their way: the verdict waits for the end.
    compensatedInReverse: execution.status === 'RUNNING' ? null : check.compensatedInReverse,
    uncompensated: check.uncompensated,
    orderStatus: hasOrder && entries.length > 0 ? orderStatusOf(entries, reading) : null,
  };
  return { entries, summary };
}
