/**
 * The exploration: C fast-check lanes in parallel (seeds S, S+1, …), each running generated schedules on its own
 * orders until the budget runs out. The first lane to find a violation stops the others and shrinks its schedule
 * (re-running smaller ones on fresh orders) within the shrink budget.
 */
import fc from 'fast-check';
import type { RunResult } from './runner.ts';
import { type Schedule, scheduleArb } from './schedule.ts';

/** Options of {@link explore}. */
export interface ExploreOptions {
  /** The seed of lane 0; lane i uses seed + i. */
  readonly seed: number;
  /** Lanes in parallel. */
  readonly concurrency: number;
  /** Exploration ends this long after it started (shrinking may go on past it, within `shrinkBudgetMs`). */
  readonly budgetMs: number;
  /** The longest shrinking may take once a violation is found. */
  readonly shrinkBudgetMs: number;
  /** At most this many schedules explored (shrink runs aside), over all lanes. @default no limit */
  readonly maxRuns?: number;
  /** Replays one lane from a fast-check path (`--path`): needs concurrency 1. */
  readonly path?: string;
  /** Aborts everything (Ctrl-C). */
  readonly signal?: AbortSignal;
  /** Runs one schedule. */
  readonly run: (schedule: Schedule) => Promise<RunResult>;
  /** Called after every run (explored or shrinking). */
  readonly onRun?: (event: RunEvent) => void;
}

/** One finished run, for progress and `--json`. */
export interface RunEvent {
  readonly lane: number;
  readonly seed: number;
  readonly schedule: Schedule;
  readonly result: RunResult;
  /** A shrink attempt (a smaller schedule re-run after a violation), not an explored one. */
  readonly shrinking: boolean;
}

/** The lane that found a violation: its seed, the shrunk schedule, where fast-check found it, and its last run. */
export interface Counterexample {
  readonly lane: number;
  readonly seed: number;
  /** fast-check's path to the counterexample (`--path`). */
  readonly path: string;
  readonly schedule: Schedule;
  readonly result: RunResult;
  /** Successful shrink steps. */
  readonly shrinks: number;
}

/** What the exploration did. */
export interface ExploreResult {
  /** Schedules explored (shrink runs aside). */
  readonly runs: number;
  /** Shrink runs. */
  readonly shrinkRuns: number;
  /** Orders placed, shrink runs included. */
  readonly orders: number;
  /** Runs with at least one violation, shrink runs included. */
  readonly failedRuns: number;
  readonly durationMs: number;
  readonly counterexample?: Counterexample;
  /** A run that could not be made (stock ran out, the cloud went away) ended the exploration early. */
  readonly error?: unknown;
}

/** Thrown by a run to make fast-check stop the lane (budget out, another lane failed, Ctrl-C). */
const stopLane = () => new fc.PreconditionFailure(true);

/** Explores schedules with fast-check; see the module comment. */
export async function explore(options: ExploreOptions): Promise<ExploreResult> {
  const started = Date.now();
  const deadline = started + options.budgetMs;
  let winner: number | undefined;
  let shrinkDeadline = Number.POSITIVE_INFINITY;
  let runs = 0;
  let shrinkRuns = 0;
  let orders = 0;
  let failedRuns = 0;
  const lastFailure = new Map<number, RunResult>();
  let crash: unknown;

  const lane = async (index: number) => {
    const seed = (options.seed + index) | 0;
    let failedOnce = false;
    const property = fc.asyncProperty(scheduleArb, async (schedule) => {
      const shrinking = failedOnce;
      if (options.signal?.aborted || crash !== undefined) throw stopLane();
      if (shrinking) {
        if (winner !== index || Date.now() > shrinkDeadline) throw stopLane();
      } else {
        if (winner !== undefined || Date.now() > deadline) throw stopLane();
        if (options.maxRuns !== undefined && runs >= options.maxRuns) throw stopLane();
        runs++;
      }
      if (shrinking) shrinkRuns++;
      let result: RunResult;
      try {
        result = await options.run(schedule);
      } catch (error) {
        // Not a violation but a run that could not be made (the cloud went away): stop everything, report it.
        crash ??= error;
        throw stopLane();
      }
      orders += result.orderIds.length;
      options.onRun?.({ lane: index, seed, schedule, result, shrinking });
      if (result.violations.length === 0) return true;
      failedRuns++;
      lastFailure.set(index, result);
      if (!failedOnce) {
        failedOnce = true;
        if (winner === undefined) {
          winner = index;
          shrinkDeadline = Date.now() + options.shrinkBudgetMs;
        }
      }
      return false;
    });
    const details = await fc.check(property, {
      seed,
      numRuns: options.maxRuns ?? Number.MAX_SAFE_INTEGER,
      // A shrink step that leaves the schedule as it was (a dice roll that still keeps a flag) costs no run.
      ignoreEqualValues: true,
      ...(options.path === undefined ? {} : { path: options.path }),
    });
    return { index, seed, details };
  };

  const lanes = await Promise.all(Array.from({ length: options.concurrency }, (_, i) => lane(i)));
  const result: ExploreResult = {
    runs,
    shrinkRuns,
    orders,
    failedRuns,
    durationMs: Date.now() - started,
    // A run that could not be made ends the exploration; what was explored until then still counts.
    ...(crash !== undefined && !options.signal?.aborted ? { error: crash } : {}),
  };
  const found = lanes.find((l) => l.index === winner);
  if (found === undefined) return result;
  const { details } = found;
  const [schedule] = (details.counterexample ?? []) as [Schedule?];
  const last = lastFailure.get(found.index);
  if (schedule === undefined || last === undefined) return result;
  return {
    ...result,
    counterexample: {
      lane: found.index,
      seed: found.seed,
      path: details.counterexamplePath ?? '',
      schedule,
      result: last,
      shrinks: details.numShrinks,
    },
  };
}
