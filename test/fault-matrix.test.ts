/**
 * The fault matrix on the shared local cloud: every saga step (payment, inventory, shipping, refund, release) ×
 * every failure mode (error, transient:N and throttle:N within and beyond the retries, timeout, crash-after-commit,
 * die-after-commit, timeout-after-commit, latency), compensation failures paired with the forward failure that
 * makes them run. Each cell is its own order with order-scoped flags; cells run concurrently. For each cell: the
 * execution's terminal status, the order's status (from the table below AND from `expectedOrderStatus`), the Task
 * states entered and the compensations in their order (GetExecutionHistory), the failures the flag injected, the
 * ledgers and the stock. Then, for every cell, three re-runs of the settled order (as is; flags cleared; flags and
 * Idempotency records cleared) must change nothing — design §4a rule 6 — except that a COMPENSATION_FAILED order
 * finishes its compensations once they can succeed.
 *
 * Retry counts are read from the ASL (the last `States.ALL` retrier of each Task state), not written down here.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type HistoryEvent, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { ulid } from 'ulid';
import { beforeAll, describe, expect, inject, test } from 'vitest';
import {
  executionArnFor,
  readHistory,
  waitForExecutionToEnd,
  waitForExecutionToExist,
} from '../cli/target/executions.ts';
import { expectedOrderStatus, type OrderStatus } from '../cli/target/expectations.ts';
import { callApi } from '../cli/target/http.ts';
import { readStock, type StockLevels } from '../cli/target/invariants.ts';
import { readOrderLogs } from '../cli/target/logs.ts';
import { type ResolvedTarget, resolveTarget } from '../cli/target/target.ts';
import { findCatalogItem } from '../services/shared/catalog.ts';
import {
  type FailSpec,
  type FailureMode,
  formatFailSpec,
  parseFailSpec,
  writeFailureFlag,
} from '../services/shared/failure-flags.ts';
import { runCli } from './support/cli.ts';
import {
  deleteIdempotencyRecords,
  deleteOrderFlags,
  orderItem,
  orderRows,
  type Row,
} from './support/saga-rows.ts';

/** Every cell orders the same lines: two SKUs with plenty of stock, so that a stock delta per SKU is visible. */
const ITEMS = [
  { sku: 'espresso-beans', qty: 1 },
  { sku: 'paper-filters', qty: 2 },
] as const;
/** 1 × 2450 + 2 × 650 cents (services/shared/catalog.ts). */
const AMOUNT = 3750;

/**
 * Cells in flight at once: enough to keep the file short, few enough for two shared cores. The cells whose flags
 * end sandboxes (timeouts, process exits) run after the others, all at once: they mostly wait, but each sandbox
 * they end is replaced by a cold one, and cold starts under the scaled Lambda timeout would disturb other cells.
 */
const CONCURRENCY = 12;
/**
 * Orders run (unasserted) before the matrix so that every function has warm sandboxes: on a fresh cloud a wave of
 * cold starts under the scaled Lambda timeout makes tasks time out for reasons no flag asked for.
 */
const WARM_UP_ORDERS = 10;
/** A latency the steps absorb: well under the scaled Lambda timeout. */
const LATENCY_MS = 150;

type SagaState =
  | 'CheckOrder'
  | 'ChargePayment'
  | 'ReserveInventory'
  | 'ShipOrder'
  | 'CancelOrder'
  | 'ReleaseInventory'
  | 'RefundPayment'
  | 'MarkOrderCompleted'
  | 'MarkOrderFailed'
  | 'MarkOrderCancelled'
  | 'MarkCompensationFailed'
  | 'RetryReleaseInventory'
  | 'RetryRefundPayment';

/** The saga steps a flag targets, and the Task state that runs each. */
type SagaStep = 'payment' | 'inventory' | 'shipping' | 'refund' | 'release';
const STATE_OF_STEP: Readonly<Record<SagaStep, SagaState>> = {
  payment: 'ChargePayment',
  inventory: 'ReserveInventory',
  shipping: 'ShipOrder',
  refund: 'RefundPayment',
  release: 'ReleaseInventory',
};
const LAMBDA_STATES: readonly SagaState[] = Object.values(STATE_OF_STEP);
const COMPENSATIONS: readonly SagaState[] = ['ReleaseInventory', 'RefundPayment'];
/**
 * After the order is marked COMPENSATION_FAILED each failed compensation runs once more, uncaught and not retried
 * (the state a redrive restarts from): the same function as the first pass.
 */
const AGAIN: Readonly<Record<'refund' | 'release', SagaState>> = {
  refund: 'RetryRefundPayment',
  release: 'RetryReleaseInventory',
};
/** The Task states that run a step's function: its own, and for a compensation its second pass. */
const statesOfStep = (step: SagaStep): SagaState[] =>
  step === 'refund' || step === 'release' ? [STATE_OF_STEP[step], AGAIN[step]] : [STATE_OF_STEP[step]];
/** The first-pass state of a compensation's second pass (same function, same idempotency key); else itself. */
const firstPassOf = (state: string): string =>
  state === AGAIN.refund ? STATE_OF_STEP.refund : state === AGAIN.release ? STATE_OF_STEP.release : state;

// ---------------------------------------------------------------------------------------------------------------
// Retries, from the ASL

interface AslRetrier {
  readonly ErrorEquals: readonly string[];
  readonly MaxAttempts?: number;
}
const ASL = JSON.parse(
  readFileSync(fileURLToPath(new URL('../state-machines/order-saga.asl.json', import.meta.url)), 'utf8'),
) as { States: Record<string, { Retry?: readonly AslRetrier[] }> };

/** Retries of the last `States.ALL` retrier of a Task state (ASL default MaxAttempts: 3). */
function catchAllRetries(state: SagaState): number {
  const retrier = (ASL.States[state]?.Retry ?? []).findLast((r) => r.ErrorEquals.includes('States.ALL'));
  if (!retrier) throw new Error(`${state} has no States.ALL retrier in order-saga.asl.json`);
  return retrier.MaxAttempts ?? 3;
}
const RETRIES = Object.fromEntries(LAMBDA_STATES.map((s) => [s, catchAllRetries(s)])) as Record<
  SagaState,
  number
>;

// ---------------------------------------------------------------------------------------------------------------
// Outcomes

/** The terminal shapes of the saga (see {@link OUTCOMES}). */
type OutcomeName =
  | 'completed'
  | 'paymentFailed'
  | 'paymentCancelled'
  | 'inventoryCancelled'
  | 'inventoryRefundStuck'
  | 'shippingCancelled'
  | 'shippingReleaseStuck'
  | 'shippingRefundStuck'
  | 'shippingBothStuck'
  | 'shippingReleaseRecovered'
  | 'shippingRefundRecovered'
  | 'inventoryRefundRecovered';

/** One terminal shape of the saga, derived by hand from design §3–§4a and the ASL. */
interface Outcome {
  readonly execution: 'SUCCEEDED' | 'FAILED';
  /** The Fail state's error (DescribeExecution `error`). */
  /**
   * `compensation`: the execution failed in the second pass of the compensation that failed (first in run order):
   * its error is the one the flag injects.
   */
  readonly executionError?: 'PaymentFailed' | 'OrderCancelled' | 'compensation';
  readonly order: OrderStatus;
  /** The Task states entered, in order (retries stay inside a state; Choice states are not Tasks). */
  readonly states: readonly SagaState[];
  /** The compensations that ran, in the order they ran. */
  readonly compensations: readonly SagaState[];
  /** The forward state whose failure decided the outcome (its last error is the order's `failureReason`). */
  readonly failedStep?: SagaState;
  /** The compensations that failed for good (the keys of the order's `compensationError`). */
  readonly failedCompensations?: readonly ('release' | 'refund')[];
  /** Rows in Payments, Inventory (one per SKU) and Shipments. */
  readonly ledger: {
    readonly charges: number;
    readonly refunds: number;
    readonly reservations: number;
    readonly releases: number;
    readonly shipments: number;
  };
  /** Charged − refunded, cents. */
  readonly netCents: number;
  /** Whether the order's units left the stock for good (reserved and not released). */
  readonly holdsStock: boolean;
  /** COMPENSATION_FAILED only: the outcome a re-run reaches once the failed compensations succeed. */
  readonly healsTo?: OutcomeName;
}

const HAPPY: readonly SagaState[] = ['CheckOrder', 'ChargePayment', 'ReserveInventory', 'ShipOrder'];
const AFTER_INVENTORY: readonly SagaState[] = [
  'CheckOrder',
  'ChargePayment',
  'ReserveInventory',
  'CancelOrder',
  'ReleaseInventory',
  'RefundPayment',
];
const AFTER_SHIPPING: readonly SagaState[] = [...HAPPY, 'CancelOrder', 'ReleaseInventory', 'RefundPayment'];

/**
 * The outcomes a cell can end in. Compensations run to the end: one that fails for good does not stop the
 * others, and the order ends COMPENSATION_FAILED (a re-run resumes it).
 */
const OUTCOMES = {
  completed: {
    execution: 'SUCCEEDED',
    order: 'COMPLETED',
    states: [...HAPPY, 'MarkOrderCompleted'],
    compensations: [],
    ledger: { charges: 1, refunds: 0, reservations: 2, releases: 0, shipments: 1 },
    netCents: AMOUNT,
    holdsStock: true,
  },
  /** The payment was declined: nothing to undo. */
  paymentFailed: {
    execution: 'FAILED',
    executionError: 'PaymentFailed',
    order: 'FAILED',
    states: ['CheckOrder', 'ChargePayment', 'MarkOrderFailed'],
    compensations: [],
    failedStep: 'ChargePayment',
    ledger: { charges: 0, refunds: 0, reservations: 0, releases: 0, shipments: 0 },
    netCents: 0,
    holdsStock: false,
  },
  /**
   * The payment's outcome stayed unknown: cancel, and undo whatever may have committed. Every compensation runs
   * (another execution of the order may have charged or reserved); here neither has anything to undo.
   */
  paymentCancelled: {
    execution: 'FAILED',
    executionError: 'OrderCancelled',
    order: 'CANCELLED',
    states: [
      'CheckOrder',
      'ChargePayment',
      'CancelOrder',
      'ReleaseInventory',
      'RefundPayment',
      'MarkOrderCancelled',
    ],
    compensations: ['ReleaseInventory', 'RefundPayment'],
    failedStep: 'ChargePayment',
    ledger: { charges: 0, refunds: 0, reservations: 0, releases: 0, shipments: 0 },
    netCents: 0,
    holdsStock: false,
  },
  /** The release has nothing to give back; the refund undoes the charge. */
  inventoryCancelled: {
    execution: 'FAILED',
    executionError: 'OrderCancelled',
    order: 'CANCELLED',
    states: [...AFTER_INVENTORY, 'MarkOrderCancelled'],
    compensations: ['ReleaseInventory', 'RefundPayment'],
    failedStep: 'ReserveInventory',
    ledger: { charges: 1, refunds: 1, reservations: 0, releases: 0, shipments: 0 },
    netCents: 0,
    holdsStock: false,
  },
  inventoryRefundStuck: {
    execution: 'FAILED',
    executionError: 'compensation',
    order: 'COMPENSATION_FAILED',
    states: [...AFTER_INVENTORY, 'MarkCompensationFailed', 'RetryRefundPayment'],
    compensations: ['ReleaseInventory', 'RefundPayment'],
    failedStep: 'ReserveInventory',
    failedCompensations: ['refund'],
    ledger: { charges: 1, refunds: 0, reservations: 0, releases: 0, shipments: 0 },
    netCents: AMOUNT,
    holdsStock: false,
    healsTo: 'inventoryCancelled',
  },
  shippingCancelled: {
    execution: 'FAILED',
    executionError: 'OrderCancelled',
    order: 'CANCELLED',
    states: [...AFTER_SHIPPING, 'MarkOrderCancelled'],
    compensations: ['ReleaseInventory', 'RefundPayment'],
    failedStep: 'ShipOrder',
    ledger: { charges: 1, refunds: 1, reservations: 2, releases: 2, shipments: 0 },
    netCents: 0,
    holdsStock: false,
  },
  /** The release fails for good; the refund still runs (design §4a rule 5). */
  shippingReleaseStuck: {
    execution: 'FAILED',
    executionError: 'compensation',
    order: 'COMPENSATION_FAILED',
    states: [...AFTER_SHIPPING, 'MarkCompensationFailed', 'RetryReleaseInventory'],
    compensations: ['ReleaseInventory', 'RefundPayment'],
    failedStep: 'ShipOrder',
    failedCompensations: ['release'],
    ledger: { charges: 1, refunds: 1, reservations: 2, releases: 0, shipments: 0 },
    netCents: 0,
    holdsStock: true,
    healsTo: 'shippingCancelled',
  },
  shippingRefundStuck: {
    execution: 'FAILED',
    executionError: 'compensation',
    order: 'COMPENSATION_FAILED',
    states: [...AFTER_SHIPPING, 'MarkCompensationFailed', 'RetryRefundPayment'],
    compensations: ['ReleaseInventory', 'RefundPayment'],
    failedStep: 'ShipOrder',
    failedCompensations: ['refund'],
    ledger: { charges: 1, refunds: 0, reservations: 2, releases: 2, shipments: 0 },
    netCents: AMOUNT,
    holdsStock: false,
    healsTo: 'shippingCancelled',
  },
  shippingBothStuck: {
    execution: 'FAILED',
    executionError: 'compensation',
    order: 'COMPENSATION_FAILED',
    states: [...AFTER_SHIPPING, 'MarkCompensationFailed', 'RetryReleaseInventory'],
    compensations: ['ReleaseInventory', 'RefundPayment'],
    failedStep: 'ShipOrder',
    failedCompensations: ['release', 'refund'],
    ledger: { charges: 1, refunds: 0, reservations: 2, releases: 0, shipments: 0 },
    netCents: AMOUNT,
    holdsStock: true,
    healsTo: 'shippingCancelled',
  },
  /** The release failed its whole first pass, then succeeded when run once more: CANCELLED all the same. */
  shippingReleaseRecovered: {
    execution: 'FAILED',
    executionError: 'OrderCancelled',
    order: 'CANCELLED',
    states: [...AFTER_SHIPPING, 'MarkCompensationFailed', 'RetryReleaseInventory', 'MarkOrderCancelled'],
    compensations: ['ReleaseInventory', 'RefundPayment'],
    failedStep: 'ShipOrder',
    ledger: { charges: 1, refunds: 1, reservations: 2, releases: 2, shipments: 0 },
    netCents: 0,
    holdsStock: false,
  },
  /** The refund failed its whole first pass, then succeeded when run once more. */
  shippingRefundRecovered: {
    execution: 'FAILED',
    executionError: 'OrderCancelled',
    order: 'CANCELLED',
    states: [...AFTER_SHIPPING, 'MarkCompensationFailed', 'RetryRefundPayment', 'MarkOrderCancelled'],
    compensations: ['ReleaseInventory', 'RefundPayment'],
    failedStep: 'ShipOrder',
    ledger: { charges: 1, refunds: 1, reservations: 2, releases: 2, shipments: 0 },
    netCents: 0,
    holdsStock: false,
  },
  inventoryRefundRecovered: {
    execution: 'FAILED',
    executionError: 'OrderCancelled',
    order: 'CANCELLED',
    states: [...AFTER_INVENTORY, 'MarkCompensationFailed', 'RetryRefundPayment', 'MarkOrderCancelled'],
    compensations: ['ReleaseInventory', 'RefundPayment'],
    failedStep: 'ReserveInventory',
    ledger: { charges: 1, refunds: 1, reservations: 0, releases: 0, shipments: 0 },
    netCents: 0,
    holdsStock: false,
  },
} as const satisfies Record<OutcomeName, Outcome>;

// ---------------------------------------------------------------------------------------------------------------
// Cells

/** One cell of the matrix. */
interface Cell {
  /** Order-scoped failure specs, as `saga order --fail` takes them. */
  readonly flags: readonly string[];
  readonly outcome: OutcomeName;
  /** Failures the flags inject per state (see {@link modeCases}); a state not named gets none. */
  readonly injected: Partial<Record<SagaState, number>>;
  /**
   * COMPENSATION_FAILED only: the re-run that finishes the compensations. `first`: the failing flag was used up
   * (`transient:N`, `throttle:N`), so the first re-run succeeds; `flagsCleared`: the flag fails every attempt
   * (`error`, `timeout`) until the flags are cleared.
   */
  readonly heals?: 'first' | 'flagsCleared';
}

/** One mode of one step: its spec, whether the step then fails for good, the failures it injects. */
interface ModeCase {
  readonly spec: string;
  readonly failsForGood: boolean;
  readonly injected: number;
  /** A compensation only: the failures injected in its second pass (after MarkCompensationFailed). */
  readonly again?: number;
  /** A compensation only: its first pass failed for good, its second pass succeeded (the order is CANCELLED). */
  readonly recovered?: boolean;
}

/**
 * Every mode of a step, with what the ASL's retries make of it: `error` is never retried in a forward step and
 * retried like anything else in a compensation; `transient:N`/`throttle:N` fail N attempts (absorbed up to the
 * retries, one more fails for good); `timeout` fails every attempt; the after-commit modes fail once, after the
 * side effect committed, and the retry answers from the step's own ledger; `latency` fails nothing.
 */
function modeCases(step: SagaStep): ModeCase[] {
  const retries = RETRIES[STATE_OF_STEP[step]];
  const attempts = 1 + retries;
  const compensation = step === 'refund' || step === 'release';
  if (!compensation) {
    return [
      { spec: `${step}:error`, failsForGood: true, injected: 1 },
      { spec: `${step}:transient:${retries}`, failsForGood: false, injected: retries },
      { spec: `${step}:transient:${attempts}`, failsForGood: true, injected: attempts },
      { spec: `${step}:throttle`, failsForGood: false, injected: 1 },
      { spec: `${step}:throttle:${attempts}`, failsForGood: true, injected: attempts },
      { spec: `${step}:timeout`, failsForGood: true, injected: attempts },
      { spec: `${step}:crash-after-commit`, failsForGood: false, injected: 1 },
      { spec: `${step}:die-after-commit`, failsForGood: false, injected: 1 },
      { spec: `${step}:timeout-after-commit`, failsForGood: false, injected: 1 },
      { spec: `${step}:latency:${LATENCY_MS}`, failsForGood: false, injected: 0 },
    ];
  }
  // A compensation runs `attempts` times, then (the order marked COMPENSATION_FAILED) once more.
  return [
    { spec: `${step}:error`, failsForGood: true, injected: attempts, again: 1 },
    { spec: `${step}:transient:${retries}`, failsForGood: false, injected: retries },
    { spec: `${step}:transient:${attempts}`, failsForGood: false, injected: attempts, recovered: true },
    { spec: `${step}:transient:${attempts + 1}`, failsForGood: true, injected: attempts, again: 1 },
    { spec: `${step}:throttle`, failsForGood: false, injected: 1 },
    { spec: `${step}:throttle:${attempts}`, failsForGood: false, injected: attempts, recovered: true },
    { spec: `${step}:throttle:${attempts + 1}`, failsForGood: true, injected: attempts, again: 1 },
    { spec: `${step}:timeout`, failsForGood: true, injected: attempts, again: 1 },
    { spec: `${step}:crash-after-commit`, failsForGood: false, injected: 1 },
    { spec: `${step}:die-after-commit`, failsForGood: false, injected: 1 },
    { spec: `${step}:timeout-after-commit`, failsForGood: false, injected: 1 },
    { spec: `${step}:latency:${LATENCY_MS}`, failsForGood: false, injected: 0 },
  ];
}

/** A forward step alone, in every mode. */
function forwardCells(
  step: 'payment' | 'inventory' | 'shipping',
  fails: (m: ModeCase) => OutcomeName,
): Cell[] {
  return modeCases(step).map((m) => ({
    flags: [m.spec],
    outcome: m.failsForGood ? fails(m) : 'completed',
    injected: { [STATE_OF_STEP[step]]: m.injected },
  }));
}

/** A compensation in (some of) its modes, after the forward failure that makes it run. */
function compensationCells(
  forward: 'inventory:error' | 'shipping:error',
  step: 'refund' | 'release',
  outcomes: { stuck: OutcomeName; undone: OutcomeName; recovered: OutcomeName },
  only?: (m: ModeCase) => boolean,
): Cell[] {
  const forwardState = STATE_OF_STEP[parseFailSpec(forward).step as SagaStep];
  return modeCases(step)
    .filter(only ?? (() => true))
    .map((m): Cell => {
      const mode = parseFailSpec(m.spec).mode;
      const cell: Cell = {
        flags: [forward, m.spec],
        outcome: m.failsForGood ? outcomes.stuck : m.recovered ? outcomes.recovered : outcomes.undone,
        injected: {
          [forwardState]: 1,
          [STATE_OF_STEP[step]]: m.injected,
          ...(m.again ? { [AGAIN[step]]: m.again } : {}),
        },
      };
      if (!m.failsForGood) return cell;
      return { ...cell, heals: mode === 'error' || mode === 'timeout' ? 'flagsCleared' : 'first' };
    });
}

const paymentAttempts = 1 + RETRIES.ChargePayment;
const compensationAttempts = (step: 'refund' | 'release') => 1 + RETRIES[STATE_OF_STEP[step]];

const CELLS: readonly Cell[] = [
  { flags: [], outcome: 'completed', injected: {} },
  ...forwardCells('payment', (m) => (m.spec === 'payment:error' ? 'paymentFailed' : 'paymentCancelled')),
  ...forwardCells('inventory', () => 'inventoryCancelled'),
  ...forwardCells('shipping', () => 'shippingCancelled'),
  // After a shipping failure both compensations run: the release first, then the refund.
  ...compensationCells('shipping:error', 'release', {
    stuck: 'shippingReleaseStuck',
    undone: 'shippingCancelled',
    recovered: 'shippingReleaseRecovered',
  }),
  ...compensationCells('shipping:error', 'refund', {
    stuck: 'shippingRefundStuck',
    undone: 'shippingCancelled',
    recovered: 'shippingRefundRecovered',
  }),
  // After an inventory failure the refund is the only compensation with something to undo.
  ...compensationCells(
    'inventory:error',
    'refund',
    { stuck: 'inventoryRefundStuck', undone: 'inventoryCancelled', recovered: 'inventoryRefundRecovered' },
    (m) => ['error', 'transient', 'throttle', 'die-after-commit'].includes(parseFailSpec(m.spec).mode),
  ),

  // Compensation flags only matter when a compensation has something to undo.
  { flags: ['refund:error'], outcome: 'completed', injected: {} },
  { flags: ['release:error'], outcome: 'completed', injected: {} },
  { flags: ['payment:error', 'refund:error'], outcome: 'paymentFailed', injected: { ChargePayment: 1 } },
  {
    // Nothing was charged or reserved: both compensations answer from their ledgers without reading a flag.
    flags: [`payment:transient:${paymentAttempts}`, 'release:error', 'refund:error'],
    outcome: 'paymentCancelled',
    injected: { ChargePayment: paymentAttempts, ReleaseInventory: 0, RefundPayment: 0 },
  },
  {
    // Nothing was reserved: the release answers from its ledger without reading its flag.
    flags: ['inventory:error', 'release:error'],
    outcome: 'inventoryCancelled',
    injected: { ReserveInventory: 1, ReleaseInventory: 0 },
  },
  {
    flags: ['shipping:error', 'release:error', 'refund:error'],
    outcome: 'shippingBothStuck',
    injected: {
      ShipOrder: 1,
      ReleaseInventory: compensationAttempts('release'),
      RefundPayment: compensationAttempts('refund'),
      // The execution fails in the release's second pass: the refund's is not reached.
      RetryReleaseInventory: 1,
    },
    heals: 'flagsCleared',
  },
];

/** Modes whose injected failure ends the sandbox (or outlives it): their cells run last, together. */
const SANDBOX_ENDING: readonly FailureMode[] = ['timeout', 'timeout-after-commit', 'die-after-commit'];
const AFTER_COMMIT: readonly FailureMode[] = [
  'crash-after-commit',
  'die-after-commit',
  'timeout-after-commit',
];
const COUNTED: readonly FailureMode[] = ['transient', 'throttle'];

/** The error a flag's mode injects in its step, as the history's TaskFailed `error` names it. */
function injectedErrorName(spec: FailSpec): string {
  switch (spec.mode) {
    case 'timeout':
    case 'timeout-after-commit':
      return 'Sandbox.Timedout';
    case 'die-after-commit':
      return 'Runtime.ExitError';
    case 'throttle':
      return 'ThrottlingException';
    case 'transient':
    case 'crash-after-commit':
      return 'TransientError';
    default: {
      const business: Record<string, string> = {
        payment: 'PaymentDeclined',
        inventory: 'OutOfStock',
        shipping: 'ShippingUnavailable',
        refund: 'RefundFailed',
        release: 'ReleaseFailed',
      };
      return business[spec.step] ?? '?';
    }
  }
}

const IN_PROGRESS = 'IdempotencyAlreadyInProgressError';

// ---------------------------------------------------------------------------------------------------------------
// Running cells

/** The order's rows at one moment. */
interface Snapshot {
  readonly order?: Row;
  readonly payments: Row[];
  readonly inventory: Row[];
  readonly shipments: Row[];
}

/** What one cell produced. */
interface CellResult {
  readonly orderId: string;
  readonly executionArn: string;
  /** The execution's input (what a re-run starts with). */
  readonly input: string;
  readonly execution: { status?: string; error?: string; cause?: string };
  readonly events: readonly HistoryEvent[];
  readonly rows: Snapshot;
  readonly flagRows: Row[];
  /** Latency cells: the flags the functions logged as active for this order (function name, flag). */
  readonly activeFlags: readonly { functionName: string; flag: Record<string, unknown> }[];
}

/** One re-run of a settled cell. */
interface Rerun {
  readonly phase: RerunPhase;
  readonly executionArn: string;
  readonly execution: { status?: string; error?: string; cause?: string };
  readonly events: readonly HistoryEvent[];
  readonly before: Snapshot;
  readonly after: Snapshot;
  /** What was cleared before this re-run: flags deleted, Idempotency record ids deleted. */
  readonly cleared: { flags?: number; idempotencyIds?: readonly string[] };
}

/** The re-runs of each cell, in order: as is, after the flags are cleared, after the Idempotency records too. */
const RERUN_PHASES = ['as is', 'flags cleared', 'idempotency cleared'] as const;
type RerunPhase = (typeof RERUN_PHASES)[number];

let target: ResolvedTarget;
let ddb: DynamoDBClient;
let sfn: SFNClient;
const results = new Map<Cell, CellResult>();
const reruns = new Map<Cell, Rerun[]>();
let matrixStartedAt = 0;
let rerunsStartedAt = 0;
let rerunsEndedAt = 0;
/** Per cell: Lambda timeouts and in-progress answers no flag asked for (load on a shared machine). */
const noise: string[] = [];

async function snapshot(orderId: string): Promise<Snapshot> {
  const { outputs } = target;
  const [order, payments, inventory, shipments] = await Promise.all([
    orderItem(ddb, outputs.OrdersTableName, orderId),
    orderRows(ddb, outputs.PaymentsTableName, orderId),
    orderRows(ddb, outputs.InventoryTableName, orderId),
    orderRows(ddb, outputs.ShipmentsTableName, orderId),
  ]);
  return { order, payments, inventory, shipments };
}

/** Orders are placed one at a time (their sagas then run concurrently): see {@link place}. */
let placing: Promise<unknown> = Promise.resolve();

/**
 * Sets the flags on a fresh order id and places the order through the signed API. Orders are placed one after
 * the other: a burst of POSTs would cold-start order-function sandboxes whose first request can outlive the
 * scaled timeout on a loaded machine, and API Gateway answers that with a 500.
 */
function place(flags: readonly string[]): Promise<{ orderId: string; executionArn: string }> {
  const placed = placing.then(async () => {
    const orderId = ulid();
    await Promise.all(
      flags.map((spec) =>
        writeFailureFlag(ddb, target.outputs.FailureFlagsTableName, { orderId }, parseFailSpec(spec)),
      ),
    );
    for (let attempt = 1; ; attempt++) {
      const response = await callApi(target, 'POST', '/orders', {
        body: { orderId, customerId: 'c-fault-matrix', items: ITEMS, currency: 'EUR' },
      });
      if (response.status === 202) break;
      // A client retries a 5xx with the same order id and body; if the first try did commit, the retry finds it.
      if (response.status < 500 || attempt === 3) {
        throw new Error(`POST /orders answered ${response.status} (attempt ${attempt}): ${response.text}`);
      }
    }
    return { orderId, executionArn: executionArnFor(target, orderId) };
  });
  placing = placed.catch(() => undefined);
  return placed;
}

/** Waits until the outbox has started the order's saga and the saga has ended. */
async function finish(executionArn: string) {
  await waitForExecutionToExist(sfn, executionArn, { timeoutMs: 60_000 });
  return waitForExecutionToEnd(sfn, executionArn, { timeoutMs: 150_000, intervalMs: 300 });
}

async function runCell(cell: Cell): Promise<CellResult> {
  const { orderId, executionArn } = await place(cell.flags);
  const execution = await finish(executionArn);
  const [events, rows, flagRows] = await Promise.all([
    readHistory(sfn, executionArn),
    snapshot(orderId),
    orderRows(ddb, target.outputs.FailureFlagsTableName, orderId),
  ]);
  // A latency flag leaves no trace in the tables or the history (timings are not asserted): its log line does.
  const logs = cell.flags.some((f) => parseFailSpec(f).mode === 'latency')
    ? await readOrderLogs(target, orderId)
    : [];
  return {
    orderId,
    executionArn,
    input: execution.input ?? '',
    execution: { status: execution.status, error: execution.error, cause: execution.cause },
    events,
    rows,
    flagRows,
    activeFlags: logs.flatMap((line) =>
      line.message === 'Failure flag active' &&
      typeof line.fields?.flag === 'object' &&
      line.fields.flag !== null
        ? [{ functionName: line.functionName, flag: line.fields.flag as Record<string, unknown> }]
        : [],
    ),
  };
}

/**
 * Starts a second execution of a settled order directly (as `saga replay` does), with the input the outbox
 * gave the first, after clearing what the phase clears; waits for it to end.
 */
async function rerun(result: CellResult, phase: RerunPhase, index: number, before: Snapshot): Promise<Rerun> {
  const { outputs } = target;
  const cleared: { flags?: number; idempotencyIds?: readonly string[] } = {};
  if (phase === 'flags cleared') {
    cleared.flags = await deleteOrderFlags(ddb, outputs.FailureFlagsTableName, result.orderId);
  }
  if (phase === 'idempotency cleared') {
    cleared.idempotencyIds = await deleteIdempotencyRecords(
      ddb,
      outputs.IdempotencyTableName,
      result.orderId,
    );
  }
  const { executionArn } = await sfn.send(
    new StartExecutionCommand({
      stateMachineArn: outputs.StateMachineArn,
      name: `${result.orderId}-rerun-${index}`,
      input: result.input,
    }),
  );
  if (!executionArn) throw new Error(`StartExecution of ${result.orderId}-rerun-${index} returned no ARN`);
  const execution = await waitForExecutionToEnd(sfn, executionArn, { timeoutMs: 150_000, intervalMs: 300 });
  const [events, after] = await Promise.all([readHistory(sfn, executionArn), snapshot(result.orderId)]);
  return {
    phase,
    executionArn,
    execution: { status: execution.status, error: execution.error, cause: execution.cause },
    events,
    before,
    after,
    cleared,
  };
}

/** The three re-runs of one cell, one after the other. */
async function rerunCell(result: CellResult): Promise<Rerun[]> {
  const done: Rerun[] = [];
  let before = await snapshot(result.orderId);
  for (const [i, phase] of RERUN_PHASES.entries()) {
    const one = await rerun(result, phase, i + 1, before);
    done.push(one);
    before = one.after;
  }
  return done;
}

/** Runs `work` over `items`, `concurrency` at a time; settles every item. */
async function pool<T, R>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<R>,
): Promise<PromiseSettledResult<R>[]> {
  const out: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await work(items[i] as T).then(
          (value) => ({ status: 'fulfilled', value }) as const,
          (reason: unknown) => ({ status: 'rejected', reason }) as const,
        );
      }
    }),
  );
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Reading histories and rows

/** The Task states entered, in order (TaskStateEntered names). */
function statesEntered(events: readonly HistoryEvent[]): string[] {
  return events.flatMap((e) =>
    e.type === 'TaskStateEntered' ? [e.stateEnteredEventDetails?.name ?? '?'] : [],
  );
}

/** Every state entered (any type), in order. */
function allStatesEntered(events: readonly HistoryEvent[]): string[] {
  return events.flatMap((e) => (e.stateEnteredEventDetails?.name ? [e.stateEnteredEventDetails.name] : []));
}

/** The error names of the failed attempts in each state. */
function failuresByState(events: readonly HistoryEvent[]): Map<string, string[]> {
  const failures = new Map<string, string[]>();
  let state = '';
  for (const e of events) {
    if (e.type === 'TaskStateEntered') state = e.stateEnteredEventDetails?.name ?? '?';
    if (e.type === 'TaskFailed' || e.type === 'TaskTimedOut') {
      const error = e.taskFailedEventDetails?.error ?? e.taskTimedOutEventDetails?.error ?? e.type;
      failures.set(state, [...(failures.get(state) ?? []), error]);
    }
  }
  return failures;
}

/** The states with at least one TaskSucceeded. */
function statesSucceeded(events: readonly HistoryEvent[]): Set<string> {
  const succeeded = new Set<string>();
  let state = '';
  for (const e of events) {
    if (e.type === 'TaskStateEntered') state = e.stateEnteredEventDetails?.name ?? '?';
    if (e.type === 'TaskSucceeded') succeeded.add(state);
  }
  return succeeded;
}

/** The states where an attempt's sandbox was ended (timed out or exited) rather than answering. */
function statesKilled(events: readonly HistoryEvent[]): Set<string> {
  return new Set(
    [...failuresByState(events)].flatMap(([state, errors]) =>
      errors.some((e) => e === 'Sandbox.Timedout' || e === 'Runtime.ExitError') ? [state] : [],
    ),
  );
}

/** The state's output as it exited (the last time), parsed. */
function exitedOutput(events: readonly HistoryEvent[], state: string): Record<string, unknown> | undefined {
  const exited = events.filter(
    (e) => e.type === 'TaskStateExited' && e.stateExitedEventDetails?.name === state,
  );
  const output = exited.at(-1)?.stateExitedEventDetails?.output;
  return output === undefined ? undefined : (JSON.parse(output) as Record<string, unknown>);
}

/** Units taken from stock per SKU by one order: reservations − releases. */
function stockTaken(rows: readonly Row[]): Record<string, number> {
  const taken: Record<string, number> = {};
  for (const row of rows) {
    const [kind, sku = '?'] = (row.sk?.S ?? '').split('#');
    const qty = Number(row.qty?.N ?? Number.NaN);
    if (kind === 'RESERVATION') taken[sku] = (taken[sku] ?? 0) + qty;
    if (kind === 'RELEASE') taken[sku] = (taken[sku] ?? 0) - qty;
  }
  return taken;
}

const sumCents = (rows: readonly Row[], sk: string): number =>
  rows.filter((r) => r.sk?.S === sk).reduce((sum, r) => sum + Number(r.amount?.N ?? Number.NaN), 0);

function ledgerOf(rows: Snapshot): Outcome['ledger'] {
  const count = (list: readonly Row[], prefix: string) =>
    list.filter((r) => (r.sk?.S ?? '').startsWith(prefix)).length;
  return {
    charges: count(rows.payments, 'CHARGE'),
    refunds: count(rows.payments, 'REFUND'),
    reservations: count(rows.inventory, 'RESERVATION#'),
    releases: count(rows.inventory, 'RELEASE#'),
    shipments: count(rows.shipments, 'SHIPMENT'),
  };
}

/** Asserts the ledger, the money and the units of one order against an outcome. */
function expectLedger(rows: Snapshot, outcome: Outcome, why: string): void {
  expect(ledgerOf(rows), why).toEqual(outcome.ledger);
  expect(
    sumCents(rows.payments, 'CHARGE') - sumCents(rows.payments, 'REFUND'),
    `${why}: charged − refunded`,
  ).toBe(outcome.netCents);
  const taken = stockTaken(rows.inventory);
  for (const { sku, qty } of ITEMS) {
    expect(taken[sku] ?? 0, `${why}: units of ${sku} taken`).toBe(outcome.holdsStock ? qty : 0);
  }
}

/** A row keyed by its sk, for comparing ledgers before and after. */
const bySk = (rows: readonly Row[]): Record<string, Row> =>
  Object.fromEntries(rows.map((r) => [r.sk?.S ?? '?', r]));

const cellName = (cell: Cell): string => (cell.flags.length === 0 ? 'no failure' : cell.flags.join(' + '));
const endsSandboxes = (cell: Cell) => cell.flags.some((f) => SANDBOX_ENDING.includes(parseFailSpec(f).mode));

/** What a re-run of a cell's order must do in a phase. */
function rerunExpectation(cell: Cell, phase: RerunPhase): 'settled' | 'stillStuck' | 'heals' {
  if (OUTCOMES[cell.outcome].order !== 'COMPENSATION_FAILED') return 'settled';
  const healsIn: RerunPhase = cell.heals === 'first' ? 'as is' : 'flags cleared';
  const [phaseAt, healAt] = [RERUN_PHASES.indexOf(phase), RERUN_PHASES.indexOf(healsIn)];
  if (phaseAt < healAt) return 'stillStuck';
  return phaseAt === healAt ? 'heals' : 'settled';
}

// ---------------------------------------------------------------------------------------------------------------
// Tests

beforeAll(async () => {
  target = await resolveTarget(inject('sagaProjectDir'), {});
  ddb = new DynamoDBClient(target.clientConfig());
  sfn = new SFNClient(target.clientConfig());
  // shipping:error runs every task function (and the order function and the publisher) at this concurrency.
  const warming = await Promise.allSettled(
    Array.from({ length: WARM_UP_ORDERS }, () =>
      place(['shipping:error']).then(({ executionArn }) => finish(executionArn)),
    ),
  );
  const cold = warming.filter((w) => w.status === 'rejected').length;
  if (cold > 0) noise.push(`${cold} warm-up order(s) did not finish`);
  matrixStartedAt = Date.now();
}, 170_000);

test('the table agrees with expectedOrderStatus (two independent derivations of design §3–§4a)', () => {
  for (const cell of CELLS) {
    expect(expectedOrderStatus(cell.flags.map(parseFailSpec)), cellName(cell)).toBe(
      OUTCOMES[cell.outcome].order,
    );
  }
});

test('the matrix covers every step × every mode, with retries read from the ASL', () => {
  const covered = new Set(CELLS.flatMap((c) => c.flags.map(parseFailSpec).map((s) => `${s.step}:${s.mode}`)));
  for (const step of Object.keys(STATE_OF_STEP)) {
    for (const mode of ['error', 'transient', 'throttle', 'timeout', 'latency', ...AFTER_COMMIT]) {
      expect(covered, `${step}:${mode}`).toContain(`${step}:${mode}`);
    }
  }
  // Counted modes are tried within and just beyond the retries of their state.
  for (const [step, state] of Object.entries(STATE_OF_STEP)) {
    for (const mode of COUNTED) {
      const counts = CELLS.flatMap((c) => c.flags.map(parseFailSpec)).flatMap((s) =>
        s.step === step && s.mode === mode ? [s.times ?? 1] : [],
      );
      expect(counts, `${step}:${mode}`).toContain(RETRIES[state] + 1);
    }
  }
  for (const state of LAMBDA_STATES) expect(RETRIES[state], state).toBeGreaterThan(0);
  expect(findCatalogItem('espresso-beans')?.priceCents).toBe(2450);
  expect(findCatalogItem('paper-filters')?.priceCents).toBe(650);
});

describe('fault matrix', () => {
  let stockBefore: StockLevels;
  let stockAfter: StockLevels;

  beforeAll(async () => {
    stockBefore = await readStock(target, ddb);
    const settled = [
      ...(await pool(
        CELLS.filter((c) => !endsSandboxes(c)),
        CONCURRENCY,
        runCell,
      )),
      ...(await pool(CELLS.filter(endsSandboxes), CELLS.length, runCell)),
    ];
    const ordered = [...CELLS.filter((c) => !endsSandboxes(c)), ...CELLS.filter(endsSandboxes)];
    settled.forEach((outcome, i) => {
      if (outcome.status === 'fulfilled') results.set(ordered[i] as Cell, outcome.value);
    });
    stockAfter = await readStock(target, ddb);
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
  }, 240_000);

  test.for(CELLS.map((cell) => [cellName(cell), cell] as const))('%s', ([name, cell]) => {
    const result = results.get(cell);
    if (!result) throw new Error(`cell ${name} did not run`);
    const expected: Outcome = OUTCOMES[cell.outcome];
    const why = `${name} (order ${result.orderId}; ${result.execution.error ?? ''} ${result.execution.cause ?? ''})`;
    const order = result.rows.order;

    // Terminal status of the execution and of the order.
    expect(result.execution.status, why).toBe(expected.execution);
    const specs = cell.flags.map(parseFailSpec);
    if (expected.executionError === 'compensation') {
      // The second pass of the first compensation that failed (the release runs before the refund).
      const failed = (['release', 'refund'] as const).find((step) =>
        expected.failedCompensations?.includes(step),
      );
      const spec = specs.find((s) => s.step === failed);
      if (!spec) throw new Error(`${why}: no flag for the failed compensation ${failed}`);
      expect([injectedErrorName(spec), 'Sandbox.Timedout'], why).toContain(result.execution.error);
    } else {
      expect(result.execution.error, why).toBe(expected.executionError);
    }
    expect(order?.status?.S, why).toBe(expected.order);
    expect(order?.status?.S, why).toBe(expectedOrderStatus(cell.flags.map(parseFailSpec)));
    expect(Number(order?.amount?.N), why).toBe(AMOUNT);

    // The path through the saga, and the compensations in the order they ran.
    const entered = statesEntered(result.events);
    expect(entered, why).toEqual(expected.states);
    expect(
      entered.filter((s) => COMPENSATIONS.includes(s as SagaState)),
      why,
    ).toEqual(expected.compensations);
    if (expected.compensations.length > 0) {
      expect(allStatesEntered(result.events), why).toContain('CompensationsDone');
    }

    // The failures the flags injected. A Lambda timeout no flag asked for (a loaded machine, scaled timeout) can
    // take the place of an injected failure, never add one; an in-progress answer follows an unknown outcome.
    const failures = failuresByState(result.events);
    for (const state of [...LAMBDA_STATES, ...Object.values(AGAIN)]) {
      const errors = failures.get(state) ?? [];
      const spec = specs.find((s) => statesOfStep(s.step as SagaStep).includes(state));
      const errorName = spec ? injectedErrorName(spec) : undefined;
      const want = cell.injected[state] ?? 0;
      const injected = errors.filter((e) => e === errorName).length;
      const inProgress = errors.filter((e) => e === IN_PROGRESS).length;
      const unasked =
        errorName === 'Sandbox.Timedout' ? 0 : errors.filter((e) => e === 'Sandbox.Timedout').length;
      const afterCommit = spec !== undefined && AFTER_COMMIT.includes(spec.mode);
      if (unasked > 0) noise.push(`${name}: ${unasked} unasked timeout(s) in ${state}`);
      if (inProgress > 0 && !afterCommit)
        noise.push(`${name}: ${inProgress} in-progress answer(s) in ${state}`);
      expect(
        errors.length - injected - unasked - inProgress,
        `${why}: other failures in ${state}: ${errors.join(', ')}`,
      ).toBe(0);
      expect(injected, `${why}: ${errorName} in ${state}: ${errors.join(', ')}`).toBeLessThanOrEqual(want);
      expect(injected + unasked, `${why}: failures in ${state}: ${errors.join(', ')}`).toBeGreaterThanOrEqual(
        want,
      );
      // The checks below are of the flag's first pass (a second pass runs only when that one failed for good).
      if (!spec || state !== STATE_OF_STEP[spec.step as SagaStep]) continue;
      if (spec.mode === 'die-after-commit') {
        // The in-progress record of the dead invocation answers the retries until it expires.
        expect(inProgress, `${why}: ${IN_PROGRESS} in ${state}: ${errors.join(', ')}`).toBeGreaterThan(0);
      }
      if (spec.mode === 'latency') {
        expect(
          result.activeFlags.filter((a) => a.functionName.includes(`-${state}Function`)).map((a) => a.flag),
          `${why}: ${state} logged its latency flag`,
        ).toContainEqual(expect.objectContaining({ mode: 'latency', latencyMs: spec.latencyMs }));
      }
      if (COUNTED.includes(spec.mode) || afterCommit) {
        // Each failure the flag hands out is taken from `remaining` and shows in the history (both passes).
        const handedOut = statesOfStep(spec.step as SagaStep)
          .map((s) => (failures.get(s) ?? []).filter((e) => e === errorName).length)
          .reduce((a, b) => a + b, 0);
        const flag = result.flagRows.find((r) => r.sk?.S === spec.step);
        expect(Number(flag?.remaining?.N), `${why}: ${spec.step} flag remaining`).toBe(
          (spec.times ?? 1) - handedOut,
        );
      }
    }
    // A compensation that fails for good used every attempt its retrier gives.
    for (const state of COMPENSATIONS) {
      if (cell.injected[state] === 1 + RETRIES[state]) {
        expect(failures.get(state), `${why}: ${state}`).toHaveLength(1 + RETRIES[state]);
      }
    }

    // Why the order did not complete: the last error of the step that failed, and what could not be undone.
    if (expected.failedStep) {
      expect(order?.failureReason?.S, `${why}: failureReason`).toBe(
        failures.get(expected.failedStep)?.at(-1),
      );
    }
    const compensationError = order?.compensationError?.S;
    if (expected.failedCompensations) {
      expect(Object.keys(JSON.parse(compensationError ?? '{}')).sort(), `${why}: compensationError`).toEqual(
        [...expected.failedCompensations].sort(),
      );
    } else {
      expect(compensationError, `${why}: compensationError`).toBeUndefined();
    }
    if (cell.outcome === 'paymentCancelled') {
      // Neither the charge nor a reservation committed: both compensations find nothing to undo.
      expect(exitedOutput(result.events, 'RefundPayment')?.refund, `${why}: refund`).toMatchObject({
        refunded: false,
        refundId: null,
      });
      expect(exitedOutput(result.events, 'ReleaseInventory')?.release, `${why}: release`).toEqual({
        released: [],
      });
    }

    // Ledgers: rows per side effect, money and units held.
    expectLedger(result.rows, expected, why);
  });

  test('a compensation that fails for good still lets the other compensations run', () => {
    const releaseStuck = CELLS.filter((c) => c.outcome === 'shippingReleaseStuck');
    expect(releaseStuck.map(cellName)).toContain('shipping:error + release:error');
    for (const cell of releaseStuck) {
      const result = results.get(cell);
      if (!result) throw new Error(`cell ${cellName(cell)} did not run`);
      const why = `${cellName(cell)} (order ${result.orderId})`;
      const entered = statesEntered(result.events);
      // The release failed for good, then the refund ran and succeeded.
      expect(entered.indexOf('RefundPayment'), why).toBeGreaterThan(entered.indexOf('ReleaseInventory'));
      expect(statesSucceeded(result.events).has('ReleaseInventory'), why).toBe(false);
      expect(statesSucceeded(result.events).has('RefundPayment'), why).toBe(true);
      const refund = result.rows.payments.find((r) => r.sk?.S === 'REFUND');
      expect(Number(refund?.amount?.N), `${why}: refund row`).toBe(AMOUNT);
      expect(
        result.rows.inventory.filter((r) => r.sk?.S?.startsWith('RELEASE#')),
        why,
      ).toEqual([]);
    }
  });

  test('the stock counters moved by exactly the units the matrix holds, never below zero', () => {
    for (const { sku, qty } of ITEMS) {
      const holding = CELLS.filter((c) => OUTCOMES[c.outcome].holdsStock).length;
      expect((stockBefore[sku] ?? 0) - (stockAfter[sku] ?? 0), sku).toBe(holding * qty);
    }
    for (const [sku, available] of Object.entries(stockAfter))
      expect(available, sku).toBeGreaterThanOrEqual(0);
  });

  test('a compensation that can never succeed shows as COMPENSATION_FAILED in `saga ls`', async () => {
    const stuck = CELLS.filter((c) => OUTCOMES[c.outcome].order === 'COMPENSATION_FAILED');
    expect(stuck.length).toBeGreaterThan(0);
    const cwd = inject('sagaProjectDir');

    const listed = await runCli(['ls', '--json', '--limit', '1000'], { cwd });
    expect(listed.code, listed.stderr).toBe(0);
    const rows = listed.stdout
      .trim()
      .split('\n')
      .map(
        (line) =>
          JSON.parse(line) as {
            orderId: string;
            status: string;
            executionStatus: string;
            failures: string[];
          },
      );
    const human = await runCli(['ls', '--limit', '1000'], { cwd });
    expect(human.code, human.stderr).toBe(0);

    for (const cell of stuck) {
      const orderId = results.get(cell)?.orderId ?? 'missing';
      const row = rows.find((r) => r.orderId === orderId);
      expect(row, cellName(cell)).toMatchObject({ status: 'COMPENSATION_FAILED', executionStatus: 'FAILED' });
      expect([...(row?.failures ?? [])].sort(), cellName(cell)).toEqual(
        cell.flags.map((f) => formatFailSpec(parseFailSpec(f))).sort(),
      );
      const line = human.stdout.split('\n').find((l) => l.includes(orderId));
      expect(line, cellName(cell)).toMatch(/COMPENSATION_FAILED/);
    }
  });
});

describe('re-runs of every settled cell change nothing', () => {
  let stockBefore: StockLevels;
  let stockAfter: StockLevels;

  beforeAll(async () => {
    stockBefore = await readStock(target, ddb);
    rerunsStartedAt = Date.now();
    const ran = [...results.entries()];
    // Every cell's chain at once: most re-runs end at CheckOrder; the stuck ones run their compensations again.
    const settled = await pool(ran, ran.length, async ([, result]) => await rerunCell(result));
    settled.forEach((outcome, i) => {
      const cell = ran[i]?.[0];
      if (cell && outcome.status === 'fulfilled') reruns.set(cell, outcome.value);
    });
    rerunsEndedAt = Date.now();
    stockAfter = await readStock(target, ddb);
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
  }, 200_000);

  test.for(CELLS.map((cell) => [cellName(cell), cell] as const))('%s', ([name, cell]) => {
    const result = results.get(cell);
    const done = reruns.get(cell);
    if (!result || !done) throw new Error(`cell ${name} did not run or was not re-run`);
    expect(done.map((r) => r.phase)).toEqual(RERUN_PHASES);
    const outcome: Outcome = OUTCOMES[cell.outcome];
    // Executions of this order that ran a Lambda task successfully so far (each leaves an Idempotency record).
    // A second pass shares its idempotency record with the first: count it as the first.
    const succeededSoFar = new Set([...statesSucceeded(result.events)].map(firstPassOf));
    const killedSoFar = new Set([...statesKilled(result.events)].map(firstPassOf));

    for (const one of done) {
      const why = `${name}, re-run ${one.phase} (order ${result.orderId}; ${one.execution.error ?? ''} ${one.execution.cause ?? ''})`;
      const expectation = rerunExpectation(cell, one.phase);
      const entered = statesEntered(one.events);

      // What was cleared before the re-run.
      if (one.phase === 'flags cleared')
        expect(one.cleared.flags, `${why}: flags deleted`).toBe(cell.flags.length);
      if (one.phase === 'idempotency cleared') {
        // A task that succeeded once left a COMPLETED record; one whose sandbox was ended may have left an
        // INPROGRESS one (Powertools deletes the record of an invocation that throws, not of one that is killed).
        const deleted = one.cleared.idempotencyIds?.length;
        const completed = LAMBDA_STATES.filter((s) => succeededSoFar.has(s)).length;
        const maybe = LAMBDA_STATES.filter((s) => succeededSoFar.has(s) || killedSoFar.has(s)).length;
        expect(deleted, `${why}: Idempotency records deleted`).toBeGreaterThanOrEqual(completed);
        expect(deleted, `${why}: Idempotency records deleted`).toBeLessThanOrEqual(maybe);
      }
      for (const s of statesSucceeded(one.events)) succeededSoFar.add(firstPassOf(s));
      for (const s of statesKilled(one.events)) killedSoFar.add(firstPassOf(s));

      // Nothing forward ever runs again: no new charge, reservation or shipment.
      for (const [table, sk] of [
        ['payments', 'CHARGE'],
        ['inventory', 'RESERVATION#'],
        ['shipments', 'SHIPMENT'],
      ] as const) {
        const forward = (rows: readonly Row[]) => rows.filter((r) => r.sk?.S?.startsWith(sk));
        expect(forward(one.after[table]), `${why}: ${table} ${sk} rows`).toEqual(forward(one.before[table]));
      }

      if (expectation === 'settled') {
        // AlreadySettled: no step runs, no row changes — the ORDER row included.
        expect(one.execution.status, why).toBe('SUCCEEDED');
        expect(entered, why).toEqual(['CheckOrder']);
        expect(allStatesEntered(one.events), why).toContain('AlreadySettled');
        expect(one.after, why).toEqual(one.before);
        continue;
      }

      // A COMPENSATION_FAILED order: the re-run resumes the compensations.
      expect(one.execution.status, why).toBe('FAILED');
      expect(entered.slice(0, 3), why).toEqual(['CheckOrder', 'ReleaseInventory', 'RefundPayment']);
      if (expectation === 'stillStuck') {
        // The compensation still fails (its flag fails every attempt): the order stays as it was.
        expect(one.execution.error, why).toBe(result.execution.error);
        expect(entered, why).toEqual([
          'CheckOrder',
          'ReleaseInventory',
          'RefundPayment',
          'MarkCompensationFailed',
          ...outcome.states.slice(-1),
        ]);
        expect(one.after.order?.status?.S, why).toBe('COMPENSATION_FAILED');
        expect(
          { payments: one.after.payments, inventory: one.after.inventory, shipments: one.after.shipments },
          why,
        ).toEqual({
          payments: one.before.payments,
          inventory: one.before.inventory,
          shipments: one.before.shipments,
        });
        continue;
      }
      // The compensations now succeed: only the missing REFUND / RELEASE rows are added, and the order is CANCELLED.
      const healed: Outcome = OUTCOMES[outcome.healsTo ?? cell.outcome];
      expect(one.execution.error, why).toBe('OrderCancelled');
      expect(entered, why).toEqual(['CheckOrder', 'ReleaseInventory', 'RefundPayment', 'MarkOrderCancelled']);
      expect(one.after.order?.status?.S, why).toBe('CANCELLED');
      expect(one.after.order?.compensationError, `${why}: compensationError cleared`).toBeUndefined();
      for (const table of ['payments', 'inventory', 'shipments'] as const) {
        const [before, after] = [bySk(one.before[table]), bySk(one.after[table])];
        expect(after, `${why}: ${table} rows kept`).toMatchObject(before);
        const added = Object.keys(after).filter((sk) => !(sk in before));
        for (const sk of added) expect(sk, `${why}: ${table} row added`).toMatch(/^(REFUND|RELEASE#.+)$/);
      }
      expectLedger(one.after, healed, why);
    }
  });

  test('the stock counters moved back by exactly the units the healed orders released', () => {
    const healedHolding = CELLS.filter((c) => {
      const outcome: Outcome = OUTCOMES[c.outcome];
      return outcome.holdsStock && outcome.healsTo !== undefined;
    }).length;
    expect(healedHolding).toBeGreaterThan(0);
    for (const { sku, qty } of ITEMS) {
      expect((stockAfter[sku] ?? 0) - (stockBefore[sku] ?? 0), sku).toBe(healedHolding * qty);
    }
    // Figures for the lead (not asserted): how long the matrix and the re-runs took here, and the load.
    console.info(
      `fault matrix: ${CELLS.length} cells in ${((rerunsStartedAt - matrixStartedAt) / 1000).toFixed(1)} s after the warm-up, ` +
        `${CELLS.length * RERUN_PHASES.length} re-runs in ${((rerunsEndedAt - rerunsStartedAt) / 1000).toFixed(1)} s; ` +
        `noise: ${noise.length === 0 ? 'none' : noise.join('; ')}`,
    );
  });
});
