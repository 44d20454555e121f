/**
 * The fault matrix on the shared local cloud: every saga step (payment, inventory, shipping, refund, release) ×
 * every failure mode (error, transient:N within and beyond the retries, timeout, crash-after-commit, latency),
 * compensation failures paired with the forward failure that makes them run. Each cell is its own order with
 * order-scoped flags; cells run concurrently in batches. For each cell: the execution's terminal status, the
 * order's status (from the table below AND from `expectedOrderStatus`), the states entered and the compensations in
 * their order (GetExecutionHistory), the failures the flag injected, the ledgers and the stock.
 */
import { DynamoDBClient, GetItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { type HistoryEvent, SFNClient } from '@aws-sdk/client-sfn';
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
import { type FailSpec, parseFailSpec, writeFailureFlag } from '../services/shared/failure-flags.ts';
import { runCli } from './support/cli.ts';

/** Every cell orders the same lines: two SKUs with plenty of stock, so that a stock delta per SKU is visible. */
const ITEMS = [
  { sku: 'espresso-beans', qty: 1 },
  { sku: 'paper-filters', qty: 2 },
] as const;
/** 1 × 2450 + 2 × 650 cents (services/shared/catalog.ts). */
const AMOUNT = 3750;

/** Cells run at once per batch: enough to keep the file short, few enough for two shared cores. */
const BATCH_SIZE = 12;
/**
 * Orders run (unasserted) before the matrix so that every function has warm sandboxes: on a fresh cloud a wave of
 * cold starts under a 1 s (scaled) Lambda timeout makes tasks time out for reasons no flag asked for.
 */
const WARM_UP_ORDERS = 10;

type SagaState =
  | 'ChargePayment'
  | 'ReserveInventory'
  | 'ShipOrder'
  | 'ReleaseInventory'
  | 'RefundPayment'
  | 'MarkOrderCompleted'
  | 'MarkOrderFailed'
  | 'MarkOrderCancelled'
  | 'MarkCompensationFailed';

const COMPENSATIONS: readonly SagaState[] = ['ReleaseInventory', 'RefundPayment'];

/** One terminal shape of the saga, derived by hand from design §3–§4 and the ASL. */
interface Outcome {
  readonly execution: 'SUCCEEDED' | 'FAILED';
  /** The Fail state's error (DescribeExecution `error`). */
  readonly executionError?: 'PaymentFailed' | 'OrderCancelled' | 'CompensationFailed';
  readonly order: OrderStatus;
  /** The Task states entered, in order (retries stay inside a state). */
  readonly states: readonly SagaState[];
  /** The compensations that ran, in the order they ran. */
  readonly compensations: readonly SagaState[];
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
}

const HAPPY: readonly SagaState[] = ['ChargePayment', 'ReserveInventory', 'ShipOrder'];

/**
 * The outcomes a cell can end in. A compensation that fails for good stops the rollback where it is: the steps
 * after it are not undone, and the order needs a human (COMPENSATION_FAILED).
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
  paymentFailed: {
    execution: 'FAILED',
    executionError: 'PaymentFailed',
    order: 'FAILED',
    states: ['ChargePayment', 'MarkOrderFailed'],
    compensations: [],
    ledger: { charges: 0, refunds: 0, reservations: 0, releases: 0, shipments: 0 },
    netCents: 0,
    holdsStock: false,
  },
  refunded: {
    execution: 'FAILED',
    executionError: 'OrderCancelled',
    order: 'CANCELLED',
    states: ['ChargePayment', 'ReserveInventory', 'RefundPayment', 'MarkOrderCancelled'],
    compensations: ['RefundPayment'],
    ledger: { charges: 1, refunds: 1, reservations: 0, releases: 0, shipments: 0 },
    netCents: 0,
    holdsStock: false,
  },
  refundStuck: {
    execution: 'FAILED',
    executionError: 'CompensationFailed',
    order: 'COMPENSATION_FAILED',
    states: ['ChargePayment', 'ReserveInventory', 'RefundPayment', 'MarkCompensationFailed'],
    compensations: ['RefundPayment'],
    ledger: { charges: 1, refunds: 0, reservations: 0, releases: 0, shipments: 0 },
    netCents: AMOUNT,
    holdsStock: false,
  },
  releasedAndRefunded: {
    execution: 'FAILED',
    executionError: 'OrderCancelled',
    order: 'CANCELLED',
    states: [...HAPPY, 'ReleaseInventory', 'RefundPayment', 'MarkOrderCancelled'],
    compensations: ['ReleaseInventory', 'RefundPayment'],
    ledger: { charges: 1, refunds: 1, reservations: 2, releases: 2, shipments: 0 },
    netCents: 0,
    holdsStock: false,
  },
  releaseStuck: {
    execution: 'FAILED',
    executionError: 'CompensationFailed',
    order: 'COMPENSATION_FAILED',
    states: [...HAPPY, 'ReleaseInventory', 'MarkCompensationFailed'],
    compensations: ['ReleaseInventory'],
    ledger: { charges: 1, refunds: 0, reservations: 2, releases: 0, shipments: 0 },
    netCents: AMOUNT,
    holdsStock: true,
  },
  releasedRefundStuck: {
    execution: 'FAILED',
    executionError: 'CompensationFailed',
    order: 'COMPENSATION_FAILED',
    states: [...HAPPY, 'ReleaseInventory', 'RefundPayment', 'MarkCompensationFailed'],
    compensations: ['ReleaseInventory', 'RefundPayment'],
    ledger: { charges: 1, refunds: 0, reservations: 2, releases: 2, shipments: 0 },
    netCents: AMOUNT,
    holdsStock: false,
  },
} as const satisfies Record<string, Outcome>;

/** One cell of the matrix. */
interface Cell {
  /** Order-scoped failure specs, as `saga order --fail` takes them. */
  readonly flags: readonly string[];
  readonly outcome: keyof typeof OUTCOMES;
  /**
   * Failures the flags injected per state: the step's business error (`error`), `TransientError` from the flag
   * (`transient`, `crash-after-commit`), `Sandbox.Timedout` (`timeout`). Forward steps retry TransientError 3 times
   * and a timeout once and never retry a business error; compensations retry anything 6 times.
   */
  readonly injected: Partial<Record<SagaState, number>>;
}

// Forward steps: transient:3 is the last that the retries absorb (1 + 3 attempts), transient:4 the first they don't.
// Compensations: transient:6 / transient:7 likewise (1 + 6 attempts). latency stays well under the 1 s (scaled)
// Lambda timeout.
const CELLS: readonly Cell[] = [
  { flags: [], outcome: 'completed', injected: {} },

  { flags: ['payment:error'], outcome: 'paymentFailed', injected: { ChargePayment: 1 } },
  { flags: ['payment:transient:3'], outcome: 'completed', injected: { ChargePayment: 3 } },
  { flags: ['payment:transient:4'], outcome: 'paymentFailed', injected: { ChargePayment: 4 } },
  { flags: ['payment:timeout'], outcome: 'paymentFailed', injected: { ChargePayment: 2 } },
  { flags: ['payment:crash-after-commit'], outcome: 'completed', injected: { ChargePayment: 1 } },
  { flags: ['payment:latency:150'], outcome: 'completed', injected: { ChargePayment: 0 } },

  { flags: ['inventory:error'], outcome: 'refunded', injected: { ReserveInventory: 1 } },
  { flags: ['inventory:transient:3'], outcome: 'completed', injected: { ReserveInventory: 3 } },
  { flags: ['inventory:transient:4'], outcome: 'refunded', injected: { ReserveInventory: 4 } },
  { flags: ['inventory:timeout'], outcome: 'refunded', injected: { ReserveInventory: 2 } },
  { flags: ['inventory:crash-after-commit'], outcome: 'completed', injected: { ReserveInventory: 1 } },
  { flags: ['inventory:latency:150'], outcome: 'completed', injected: { ReserveInventory: 0 } },

  { flags: ['shipping:error'], outcome: 'releasedAndRefunded', injected: { ShipOrder: 1 } },
  { flags: ['shipping:transient:3'], outcome: 'completed', injected: { ShipOrder: 3 } },
  { flags: ['shipping:transient:4'], outcome: 'releasedAndRefunded', injected: { ShipOrder: 4 } },
  { flags: ['shipping:timeout'], outcome: 'releasedAndRefunded', injected: { ShipOrder: 2 } },
  { flags: ['shipping:crash-after-commit'], outcome: 'completed', injected: { ShipOrder: 1 } },
  { flags: ['shipping:latency:150'], outcome: 'completed', injected: { ShipOrder: 0 } },

  // Refund after a shipping failure: the release runs first and succeeds.
  {
    flags: ['shipping:error', 'refund:error'],
    outcome: 'releasedRefundStuck',
    injected: { ShipOrder: 1, RefundPayment: 7 },
  },
  {
    flags: ['shipping:error', 'refund:transient:6'],
    outcome: 'releasedAndRefunded',
    injected: { ShipOrder: 1, RefundPayment: 6 },
  },
  {
    flags: ['shipping:error', 'refund:transient:7'],
    outcome: 'releasedRefundStuck',
    injected: { ShipOrder: 1, RefundPayment: 7 },
  },
  {
    flags: ['shipping:error', 'refund:timeout'],
    outcome: 'releasedRefundStuck',
    injected: { ShipOrder: 1, RefundPayment: 7 },
  },
  {
    flags: ['shipping:error', 'refund:crash-after-commit'],
    outcome: 'releasedAndRefunded',
    injected: { ShipOrder: 1, RefundPayment: 1 },
  },
  {
    flags: ['shipping:error', 'refund:latency:150'],
    outcome: 'releasedAndRefunded',
    injected: { ShipOrder: 1, RefundPayment: 0 },
  },

  // Release after a shipping failure: when it fails for good the refund never runs.
  {
    flags: ['shipping:error', 'release:error'],
    outcome: 'releaseStuck',
    injected: { ShipOrder: 1, ReleaseInventory: 7 },
  },
  {
    flags: ['shipping:error', 'release:transient:6'],
    outcome: 'releasedAndRefunded',
    injected: { ShipOrder: 1, ReleaseInventory: 6 },
  },
  {
    flags: ['shipping:error', 'release:transient:7'],
    outcome: 'releaseStuck',
    injected: { ShipOrder: 1, ReleaseInventory: 7 },
  },
  {
    flags: ['shipping:error', 'release:timeout'],
    outcome: 'releaseStuck',
    injected: { ShipOrder: 1, ReleaseInventory: 7 },
  },
  {
    flags: ['shipping:error', 'release:crash-after-commit'],
    outcome: 'releasedAndRefunded',
    injected: { ShipOrder: 1, ReleaseInventory: 1 },
  },
  {
    flags: ['shipping:error', 'release:latency:150'],
    outcome: 'releasedAndRefunded',
    injected: { ShipOrder: 1, ReleaseInventory: 0 },
  },

  // Refund after an inventory failure: the only compensation.
  {
    flags: ['inventory:error', 'refund:error'],
    outcome: 'refundStuck',
    injected: { ReserveInventory: 1, RefundPayment: 7 },
  },
  {
    flags: ['inventory:error', 'refund:transient:6'],
    outcome: 'refunded',
    injected: { ReserveInventory: 1, RefundPayment: 6 },
  },
  {
    flags: ['inventory:error', 'refund:transient:7'],
    outcome: 'refundStuck',
    injected: { ReserveInventory: 1, RefundPayment: 7 },
  },
  {
    flags: ['inventory:error', 'refund:timeout'],
    outcome: 'refundStuck',
    injected: { ReserveInventory: 1, RefundPayment: 7 },
  },
  {
    flags: ['inventory:error', 'refund:crash-after-commit'],
    outcome: 'refunded',
    injected: { ReserveInventory: 1, RefundPayment: 1 },
  },
  {
    flags: ['inventory:error', 'refund:latency:150'],
    outcome: 'refunded',
    injected: { ReserveInventory: 1, RefundPayment: 0 },
  },

  // Compensation flags only matter when a forward step fails.
  { flags: ['refund:error'], outcome: 'completed', injected: {} },
  { flags: ['release:error'], outcome: 'completed', injected: {} },
  { flags: ['payment:error', 'refund:error'], outcome: 'paymentFailed', injected: { ChargePayment: 1 } },
  {
    flags: ['shipping:error', 'release:error', 'refund:error'],
    outcome: 'releaseStuck',
    injected: { ShipOrder: 1, ReleaseInventory: 7 },
  },
];

/** The error a flag's mode injects in its step, as the history's TaskFailed `error` names it. */
function injectedErrorName(spec: FailSpec): string {
  if (spec.mode === 'timeout') return 'Sandbox.Timedout';
  if (spec.mode === 'transient' || spec.mode === 'crash-after-commit') return 'TransientError';
  const business: Record<string, string> = {
    payment: 'PaymentDeclined',
    inventory: 'OutOfStock',
    shipping: 'ShippingUnavailable',
    refund: 'RefundFailed',
    release: 'ReleaseFailed',
  };
  return business[spec.step] ?? '?';
}

const STATE_OF_STEP: Readonly<Record<string, SagaState>> = {
  payment: 'ChargePayment',
  inventory: 'ReserveInventory',
  shipping: 'ShipOrder',
  refund: 'RefundPayment',
  release: 'ReleaseInventory',
};

/** What one cell produced. */
interface CellResult {
  readonly orderId: string;
  readonly execution: { status?: string; error?: string };
  readonly orderStatus: string;
  readonly orderAmount: number;
  readonly events: readonly HistoryEvent[];
  readonly rows: { payments: Row[]; inventory: Row[]; shipments: Row[]; flags: Row[] };
  /** Latency cells: the flags the functions logged as active for this order (function name, flag). */
  readonly activeFlags: readonly { functionName: string; flag: Record<string, unknown> }[];
}

type Row = Record<string, { S?: string; N?: string }>;

let target: ResolvedTarget;
let ddb: DynamoDBClient;
let sfn: SFNClient;
const results = new Map<Cell, CellResult>();
let matrixStartedAt = 0;
/** Per cell: Lambda timeouts no flag asked for (load on a shared machine), reported with the timing. */
const noise: string[] = [];

async function history(executionArn: string): Promise<HistoryEvent[]> {
  return await readHistory(sfn, executionArn);
}

async function rowsOf(table: string, orderId: string): Promise<Row[]> {
  const { Items = [] } = await ddb.send(
    new QueryCommand({
      TableName: table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': { S: `ORDER#${orderId}` } },
      ConsistentRead: true,
    }),
  );
  return Items as Row[];
}

/**
 * Sets the flags on a fresh order id and places the order through the signed API. Callers place orders one after
 * the other (the sagas then run concurrently): a burst of POSTs would cold-start order-function sandboxes whose first
 * request can outlive the 1 s (scaled) timeout on a loaded machine, and API Gateway answers that with a 500.
 */
async function place(flags: readonly string[]): Promise<{ orderId: string; executionArn: string }> {
  const orderId = ulid();
  placedFlags.set(orderId, flags);
  await Promise.all(
    flags.map((spec) =>
      writeFailureFlag(ddb, target.outputs.FailureFlagsTableName, { orderId }, parseFailSpec(spec)),
    ),
  );
  for (let attempt = 1; ; attempt++) {
    const placed = await callApi(target, 'POST', '/orders', {
      body: { orderId, customerId: 'c-fault-matrix', items: ITEMS, currency: 'EUR' },
    });
    if (placed.status === 202) break;
    // A client retries a 5xx with the same order id; if the first try did commit, the retry finds the order.
    if (placed.status === 409 && attempt > 1) break;
    if (placed.status < 500 || attempt === 3) {
      throw new Error(`POST /orders answered ${placed.status} (attempt ${attempt}): ${placed.text}`);
    }
  }
  return { orderId, executionArn: executionArnFor(target, orderId) };
}

/** Waits until the outbox has started the order's saga and the saga has ended. */
async function finish(executionArn: string) {
  await waitForExecutionToExist(sfn, executionArn, { timeoutMs: 60_000 });
  return waitForExecutionToEnd(sfn, executionArn, { timeoutMs: 150_000, intervalMs: 300 });
}

const placedFlags = new Map<string, readonly string[]>();
const flagsOf = (orderId: string): readonly string[] => placedFlags.get(orderId) ?? [];

async function collect(orderId: string, executionArn: string): Promise<CellResult> {
  const execution = await finish(executionArn);
  const [order, events, payments, inventory, shipments, flags] = await Promise.all([
    ddb.send(
      new GetItemCommand({
        TableName: target.outputs.OrdersTableName,
        Key: { pk: { S: `ORDER#${orderId}` }, sk: { S: 'ORDER' } },
        ConsistentRead: true,
      }),
    ),
    history(executionArn),
    rowsOf(target.outputs.PaymentsTableName, orderId),
    rowsOf(target.outputs.InventoryTableName, orderId),
    rowsOf(target.outputs.ShipmentsTableName, orderId),
    rowsOf(target.outputs.FailureFlagsTableName, orderId),
  ]);
  // A latency flag leaves no trace in the tables or the history (timings are not asserted): its log line does.
  const logs = flagsOf(orderId).some((f) => f.endsWith(':latency') || f.includes(':latency:'))
    ? await readOrderLogs(target, orderId)
    : [];
  return {
    orderId,
    execution: { status: execution.status, error: execution.error },
    orderStatus: order.Item?.status?.S ?? 'MISSING',
    orderAmount: Number(order.Item?.amount?.N),
    events,
    rows: { payments, inventory, shipments, flags },
    activeFlags: logs.flatMap((line) =>
      line.message === 'Failure flag active' &&
      typeof line.fields?.flag === 'object' &&
      line.fields.flag !== null
        ? [{ functionName: line.functionName, flag: line.fields.flag as Record<string, unknown> }]
        : [],
    ),
  };
}

/** Places the cells' orders one by one, then waits for all their sagas at once. */
async function runBatch(cells: readonly Cell[]): Promise<PromiseSettledResult<CellResult>[]> {
  const placed: Promise<CellResult>[] = [];
  for (const cell of cells) {
    const order = await place(cell.flags).catch((error: unknown) => error as Error);
    placed.push(order instanceof Error ? Promise.reject(order) : collect(order.orderId, order.executionArn));
  }
  return Promise.allSettled(placed);
}

/** The Task states entered, in order (TaskStateEntered names). */
function statesEntered(events: readonly HistoryEvent[]): string[] {
  return events.flatMap((e) =>
    e.type === 'TaskStateEntered' ? [e.stateEnteredEventDetails?.name ?? '?'] : [],
  );
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

const cellName = (cell: Cell): string => (cell.flags.length === 0 ? 'no failure' : cell.flags.join(' + '));

// Timeouts kill sandboxes (their replacements start cold), so the timeout cells run in a batch of their own.
const hasTimeout = (cell: Cell) => cell.flags.some((f) => f.endsWith(':timeout'));
const batches: Cell[][] = [];
for (const group of [CELLS.filter((c) => !hasTimeout(c)), CELLS.filter(hasTimeout)]) {
  const count = Math.ceil(group.length / BATCH_SIZE);
  const size = Math.ceil(group.length / count);
  for (let i = 0; i < group.length; i += size) batches.push(group.slice(i, i + size));
}

beforeAll(async () => {
  target = await resolveTarget(inject('sagaProjectDir'), {});
  ddb = new DynamoDBClient(target.clientConfig());
  sfn = new SFNClient(target.clientConfig());
  // shipping:error runs all five task functions (and the order function and publisher) at this concurrency.
  const warming: Promise<unknown>[] = [];
  for (let i = 0; i < WARM_UP_ORDERS; i++) {
    const placed = await place(['shipping:error']).catch(() => undefined);
    if (placed) warming.push(finish(placed.executionArn));
  }
  await Promise.allSettled(warming);
  matrixStartedAt = Date.now();
}, 170_000);

test('the table agrees with expectedOrderStatus (two independent derivations of design §3–§4)', () => {
  for (const cell of CELLS) {
    expect(expectedOrderStatus(cell.flags.map(parseFailSpec)), cellName(cell)).toBe(
      OUTCOMES[cell.outcome].order,
    );
  }
  // Every step × every mode is in the matrix.
  const covered = new Set(CELLS.flatMap((c) => c.flags.map(parseFailSpec).map((s) => `${s.step}:${s.mode}`)));
  for (const step of ['payment', 'inventory', 'shipping', 'refund', 'release']) {
    for (const mode of ['error', 'transient', 'timeout', 'crash-after-commit', 'latency']) {
      expect(covered, `${step}:${mode}`).toContain(`${step}:${mode}`);
    }
  }
  expect(batches.flat()).toHaveLength(CELLS.length);
  expect(findCatalogItem('espresso-beans')?.priceCents).toBe(2450);
  expect(findCatalogItem('paper-filters')?.priceCents).toBe(650);
});

describe.each(batches.map((cells, i) => ({ cells, label: `batch ${i + 1}/${batches.length}` })))(
  'fault matrix $label',
  ({ cells }) => {
    let stockBefore: StockLevels;
    let stockAfter: StockLevels;

    beforeAll(async () => {
      stockBefore = await readStock(target, ddb);
      const settled = await runBatch(cells);
      settled.forEach((outcome, i) => {
        const cell = cells[i] as Cell;
        if (outcome.status === 'fulfilled') results.set(cell, outcome.value);
      });
      stockAfter = await readStock(target, ddb);
      const failed = settled.find((s) => s.status === 'rejected');
      if (failed) throw failed.reason;
    }, 170_000);

    test.for(cells.map((cell) => [cellName(cell), cell] as const))('%s', ([name, cell]) => {
      const result = results.get(cell);
      if (!result) throw new Error(`cell ${name} did not run`);
      const expected: Outcome = OUTCOMES[cell.outcome];
      const why = `${name} (order ${result.orderId})`;

      // Terminal status of the execution and of the order.
      expect(result.execution.status, why).toBe(expected.execution);
      expect(result.execution.error, why).toBe(expected.executionError);
      expect(result.orderStatus, why).toBe(expected.order);
      expect(result.orderStatus, why).toBe(expectedOrderStatus(cell.flags.map(parseFailSpec)));
      expect(result.orderAmount, why).toBe(AMOUNT);

      // The path through the saga, and the compensations in the order they ran.
      const entered = statesEntered(result.events);
      expect(entered, why).toEqual(expected.states);
      expect(
        entered.filter((s) => COMPENSATIONS.includes(s as SagaState)),
        why,
      ).toEqual(expected.compensations);

      // The failures the flags injected. A Lambda timeout no flag asked for (a loaded machine, 1 s scaled timeout)
      // can take the place of an injected failure, never add one.
      const failures = failuresByState(result.events);
      for (const spec of cell.flags.map(parseFailSpec)) {
        const state = STATE_OF_STEP[spec.step];
        if (!state) throw new Error(`${why}: the matrix flags saga steps only, not ${spec.step}`);
        const errors = failures.get(state) ?? [];
        const want = cell.injected[state] ?? 0;
        const injected = errors.filter((e) => e === injectedErrorName(spec)).length;
        const unasked = spec.mode === 'timeout' ? 0 : errors.filter((e) => e === 'Sandbox.Timedout').length;
        if (unasked > 0) noise.push(`${name}: ${unasked} unasked timeout(s) in ${state}`);
        expect(
          errors.length - injected - unasked,
          `${why}: other failures in ${state}: ${errors.join(', ')}`,
        ).toBe(0);
        expect(
          injected,
          `${why}: ${injectedErrorName(spec)} in ${state}: ${errors.join(', ')}`,
        ).toBeLessThanOrEqual(want);
        expect(
          injected + unasked,
          `${why}: failures in ${state}: ${errors.join(', ')}`,
        ).toBeGreaterThanOrEqual(want);
        if (spec.mode === 'latency') {
          expect(
            result.activeFlags.filter((a) => a.functionName.includes(`-${state}Function`)).map((a) => a.flag),
            `${why}: ${state} logged its latency flag`,
          ).toContainEqual(expect.objectContaining({ mode: 'latency', latencyMs: spec.latencyMs }));
        }
        if (spec.mode === 'transient' || spec.mode === 'crash-after-commit') {
          // Each failure the flag hands out is taken from `remaining` and shows in the history.
          const flag = result.rows.flags.find((r) => r.sk?.S === spec.step);
          expect(Number(flag?.remaining?.N), `${why}: ${spec.step} flag remaining`).toBe(
            (spec.times ?? 1) - injected,
          );
        }
      }
      // A compensation that fails for good used every attempt its retrier gives (1 + 6).
      for (const state of COMPENSATIONS) {
        if (cell.injected[state] === 7) expect(failures.get(state), `${why}: ${state}`).toHaveLength(7);
      }

      // Ledgers: rows per side effect, money and units held.
      const { payments, inventory, shipments } = result.rows;
      const count = (rows: readonly Row[], prefix: string) =>
        rows.filter((r) => (r.sk?.S ?? '').startsWith(prefix)).length;
      expect(
        {
          charges: count(payments, 'CHARGE'),
          refunds: count(payments, 'REFUND'),
          reservations: count(inventory, 'RESERVATION#'),
          releases: count(inventory, 'RELEASE#'),
          shipments: count(shipments, 'SHIPMENT'),
        },
        why,
      ).toEqual(expected.ledger);
      expect(sumCents(payments, 'CHARGE') - sumCents(payments, 'REFUND'), `${why}: charged − refunded`).toBe(
        expected.netCents,
      );
      const taken = stockTaken(inventory);
      for (const { sku, qty } of ITEMS) {
        expect(taken[sku] ?? 0, `${why}: units of ${sku} taken`).toBe(expected.holdsStock ? qty : 0);
      }
    });

    test('the stock counters moved by exactly the units the batch holds, never below zero', () => {
      for (const { sku, qty } of ITEMS) {
        const holding = cells.filter((c) => OUTCOMES[c.outcome].holdsStock).length;
        expect((stockBefore[sku] ?? 0) - (stockAfter[sku] ?? 0), sku).toBe(holding * qty);
      }
      for (const [sku, available] of Object.entries(stockAfter))
        expect(available, sku).toBeGreaterThanOrEqual(0);
    });
  },
);

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
        JSON.parse(line) as { orderId: string; status: string; executionStatus: string; failures: string[] },
    );
  const human = await runCli(['ls', '--limit', '1000'], { cwd });
  expect(human.code, human.stderr).toBe(0);

  for (const cell of stuck) {
    const orderId = results.get(cell)?.orderId ?? 'missing';
    const row = rows.find((r) => r.orderId === orderId);
    expect(row, cellName(cell)).toMatchObject({ status: 'COMPENSATION_FAILED', executionStatus: 'FAILED' });
    expect([...(row?.failures ?? [])].sort(), cellName(cell)).toEqual([...cell.flags].sort());
    const line = human.stdout.split('\n').find((l) => l.includes(orderId));
    expect(line, cellName(cell)).toMatch(/COMPENSATION_FAILED/);
  }
  // Figures for the lead (not asserted): how long the matrix took here, and the load it ran under.
  console.info(
    `fault matrix: ${CELLS.length} cells in ${batches.length} batches, ${((Date.now() - matrixStartedAt) / 1000).toFixed(1)} s` +
      ` after the warm-up; unasked Lambda timeouts: ${noise.length === 0 ? 'none' : noise.join('; ')}`,
  );
});
