import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DEFAULT_TRANSIENT_TIMES,
  type FailSpec,
  type FailureStep,
  formatFailSpec,
} from '../../services/shared/failure-flags.ts';
import { PACKAGE_ROOT } from './project.ts';

/** An order's terminal status (design §3). */
export type OrderStatus = 'COMPLETED' | 'CANCELLED' | 'FAILED' | 'COMPENSATION_FAILED';

/** A failure injected on an order: a spec, and the share of invocations it hits (absent: every one). */
export interface InjectedFlag extends FailSpec {
  /** 0..1; below 1 the flag may or may not hit, so the outcome it implies is not predictable. */
  readonly rate?: number;
}

/** What a set of injected failures implies for the order. */
export type Expectation =
  | { readonly predictable: true; readonly status: OrderStatus }
  | {
      readonly predictable: false;
      /** The statuses the order may end in. */
      readonly possible: readonly OrderStatus[];
      /** Why: the flags whose `rate` makes the outcome a matter of chance. */
      readonly reason: string;
    };

/** The Task state of the saga that runs each step. */
export const STEP_STATES: Readonly<Record<Exclude<FailureStep, 'publisher'>, string>> = {
  payment: 'ChargePayment',
  inventory: 'ReserveInventory',
  shipping: 'ShipOrder',
  refund: 'RefundPayment',
  release: 'ReleaseInventory',
};

/** The error name each counted mode raises (what a Retry's `ErrorEquals` must match). */
const COUNTED_MODE_ERRORS: Readonly<Partial<Record<FailSpec['mode'], string>>> = {
  transient: 'TransientError',
  throttle: 'ThrottlingException',
};

/** One `Retry` entry of an ASL Task state. */
interface AslRetrier {
  readonly ErrorEquals: readonly string[];
  readonly MaxAttempts?: number;
}

/** The part of an ASL definition the expectations read: each state's retriers and the function it invokes. */
export interface SagaDefinition {
  readonly States: Readonly<
    Record<
      string,
      {
        readonly Type?: string;
        readonly Retry?: readonly AslRetrier[];
        readonly Parameters?: { readonly FunctionName?: unknown };
      }
    >
  >;
}

let cachedDefinition: SagaDefinition | undefined;

/** The order saga's ASL (`state-machines/order-saga.asl.json`), read once. */
export function sagaDefinition(): SagaDefinition {
  cachedDefinition ??= JSON.parse(
    readFileSync(join(PACKAGE_ROOT, 'state-machines', 'order-saga.asl.json'), 'utf8'),
  ) as SagaDefinition;
  return cachedDefinition;
}

/**
 * How many times the state machine retries `error` in `state`: the `MaxAttempts` (ASL default 3) of the first
 * retrier that matches it, as Step Functions picks one — by name, by `States.TaskFailed` (any error but
 * `States.Timeout`) or by `States.ALL` (the last retrier). 0 when none matches or the state has no retrier.
 */
export function retriesFor(state: string, error: string, definition = sagaDefinition()): number {
  const retrier = definition.States[state]?.Retry?.find(
    (r) =>
      r.ErrorEquals.includes(error) ||
      r.ErrorEquals.includes('States.ALL') ||
      (r.ErrorEquals.includes('States.TaskFailed') && error !== 'States.Timeout'),
  );
  return retrier ? (retrier.MaxAttempts ?? 3) : 0;
}

/** How many retries the state machine gives a `TransientError` in a state. */
export function transientRetries(state: string, definition = sagaDefinition()): number {
  return retriesFor(state, 'TransientError', definition);
}

/**
 * Whether a step with this flag fails for good, i.e. after the state machine's retries, assuming the flag hits
 * every invocation. `error` and `timeout` hit every attempt; `transient:N` and `throttle:N` fail N attempts, so
 * they fail for good when N exceeds the retries for their error. `latency` and the after-commit modes (which
 * hit once, after the side effect committed) end in success: the retry answers from the step's own record.
 */
export function failsForGood(spec: FailSpec | undefined, definition = sagaDefinition()): boolean {
  if (!spec || spec.step === 'publisher') return false;
  if (spec.mode === 'error' || spec.mode === 'timeout') return true;
  const error = COUNTED_MODE_ERRORS[spec.mode];
  if (error === undefined) return false;
  return (spec.times ?? DEFAULT_TRANSIENT_TIMES) >= attemptsFor(STEP_STATES[spec.step], error, definition);
}

/**
 * How many times one order's saga invokes a step's function, at most, before giving up on `error`: the attempts
 * (1 + retries) of the step's state plus those of every other Task state invoking the same function — for a
 * compensation, its `Retry*` state, which runs it once more after the order is marked COMPENSATION_FAILED.
 */
export function attemptsFor(state: string, error: string, definition = sagaDefinition()): number {
  const fn = definition.States[state]?.Parameters?.FunctionName;
  const states = Object.entries(definition.States)
    .filter(([name, s]) => name === state || (fn !== undefined && s.Parameters?.FunctionName === fn))
    .map(([name]) => name);
  return states.reduce((sum, name) => sum + 1 + retriesFor(name, error, definition), 0);
}

/**
 * The order status a set of failures that all hit implies (design §4a): the first forward step that fails for
 * good decides. Payment: a decline (`error`) → FAILED; any other failure for good → CANCELLED (the charge never
 * committed, the refund has nothing to undo, so refund flags do not matter). Inventory → CANCELLED, or
 * COMPENSATION_FAILED if the refund fails for good (the release has nothing to undo). Shipping → CANCELLED, or
 * COMPENSATION_FAILED if the release or the refund fails for good.
 */
function statusWhenAllHit(specs: readonly FailSpec[], definition: SagaDefinition): OrderStatus {
  const fails = (step: FailureStep) =>
    failsForGood(
      specs.find((s) => s.step === step),
      definition,
    );
  const payment = specs.find((s) => s.step === 'payment');
  if (fails('payment')) return payment?.mode === 'error' ? 'FAILED' : 'CANCELLED';
  if (fails('inventory')) return fails('refund') ? 'COMPENSATION_FAILED' : 'CANCELLED';
  if (fails('shipping')) return fails('release') || fails('refund') ? 'COMPENSATION_FAILED' : 'CANCELLED';
  return 'COMPLETED';
}

/**
 * What the injected failures imply for the order. A flag with a `rate` below 1 may hit or miss: every
 * combination is tried, and when they disagree the outcome is not predictable (no expectation, not a failure).
 */
export function expectedOutcome(
  flags: readonly InjectedFlag[],
  definition: SagaDefinition = sagaDefinition(),
): Expectation {
  // A rate of 0 never hits: the flag is as good as absent.
  const certain = flags.filter((f) => f.rate === undefined || f.rate >= 1);
  const chance = flags.filter((f) => f.rate !== undefined && f.rate > 0 && f.rate < 1);
  const possible = new Set<OrderStatus>();
  // At most one flag per step (six steps), so at most 2^6 combinations.
  for (let mask = 0; mask < 2 ** chance.length; mask++) {
    const hitting = chance.filter((_, i) => (mask >> i) & 1);
    possible.add(statusWhenAllHit([...certain, ...hitting], definition));
  }
  const [only] = possible;
  if (possible.size === 1 && only !== undefined) return { predictable: true, status: only };
  return {
    predictable: false,
    possible: [...possible],
    reason: `${chance.map((f) => `${formatFailSpec(f)} (rate ${f.rate})`).join(', ')} may or may not hit`,
  };
}

/**
 * The order status the saga must end in for a set of failures that hit every invocation (no `rate`): see
 * {@link expectedOutcome}, which also handles rates.
 */
export function expectedOrderStatus(specs: readonly FailSpec[], definition = sagaDefinition()): OrderStatus {
  return statusWhenAllHit(specs, definition);
}

/**
 * Whether the failures may make a compensation fail for good (design §4b I1: `COMPENSATION_FAILED` is allowed
 * only then), whatever their rates.
 */
export function mayFailCompensation(
  flags: readonly InjectedFlag[],
  definition: SagaDefinition = sagaDefinition(),
): boolean {
  return flags.some(
    (f) =>
      (f.step === 'refund' || f.step === 'release') &&
      (f.rate === undefined || f.rate > 0) &&
      failsForGood(f, definition),
  );
}
