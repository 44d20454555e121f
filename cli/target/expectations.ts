import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FailSpec, FailureStep } from '../../services/shared/failure-flags.ts';
import { PACKAGE_ROOT } from './project.ts';

/** An order's terminal status (design §3). */
export type OrderStatus = 'COMPLETED' | 'CANCELLED' | 'FAILED' | 'COMPENSATION_FAILED';

/** The Task state of the saga that runs each step. */
export const STEP_STATES: Readonly<Record<Exclude<FailureStep, 'publisher'>, string>> = {
  payment: 'ChargePayment',
  inventory: 'ReserveInventory',
  shipping: 'ShipOrder',
  refund: 'RefundPayment',
  release: 'ReleaseInventory',
};

interface AslState {
  readonly Retry?: readonly { readonly ErrorEquals: readonly string[]; readonly MaxAttempts?: number }[];
}

let cachedStates: Record<string, AslState> | undefined;

function states(): Record<string, AslState> {
  cachedStates ??= (
    JSON.parse(readFileSync(join(PACKAGE_ROOT, 'state-machines', 'order-saga.asl.json'), 'utf8')) as {
      States: Record<string, AslState>;
    }
  ).States;
  return cachedStates;
}

/** How many retries the state machine gives a `TransientError` in a state (ASL MaxAttempts; default 3). */
export function transientRetries(state: string): number {
  const retrier = states()[state]?.Retry?.find(
    (r) => r.ErrorEquals.includes('TransientError') || r.ErrorEquals.includes('States.ALL'),
  );
  return retrier ? (retrier.MaxAttempts ?? 3) : 0;
}

/** Whether a step with this flag fails for good (after the state machine's retries). */
function failsForGood(spec: FailSpec | undefined): boolean {
  if (!spec) return false;
  if (spec.mode === 'error' || spec.mode === 'timeout') return true;
  if (spec.mode === 'transient') {
    const state = STEP_STATES[spec.step as keyof typeof STEP_STATES];
    return state !== undefined && (spec.times ?? 1) > transientRetries(state);
  }
  // latency and crash-after-commit end in success (the second idempotency layer absorbs the crash).
  return false;
}

/**
 * The order status the saga must end in for a set of injected failures (design §3–§4): the first forward step
 * that fails for good decides; its compensations failing for good turn CANCELLED into COMPENSATION_FAILED.
 */
export function expectedOrderStatus(specs: readonly FailSpec[]): OrderStatus {
  const by = (step: FailureStep) => specs.find((s) => s.step === step);
  if (failsForGood(by('payment'))) return 'FAILED';
  if (failsForGood(by('inventory'))) return failsForGood(by('refund')) ? 'COMPENSATION_FAILED' : 'CANCELLED';
  if (failsForGood(by('shipping'))) {
    return failsForGood(by('release')) || failsForGood(by('refund')) ? 'COMPENSATION_FAILED' : 'CANCELLED';
  }
  return 'COMPLETED';
}
