/**
 * The outbox sweeper's domain (design §4a rule 7, "outbox to the end"): a stream record that exhausted the
 * publisher's retries is not the end of its order. Each sweep finds ORDER rows still `PENDING` longer than a
 * threshold and starts the saga (name = orderId, the publisher's input) for each one that has no execution.
 */
import { DescribeExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { type DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { executionArnOf, startSaga } from '../outbox-publisher/start-saga.ts';
import { sagaInputOf } from '../shared/saga-input.ts';

/** Orders `PENDING` for longer than this (seconds) are swept, unless told otherwise. */
export const DEFAULT_SWEEP_AFTER_SECONDS = 60;
/** At most this many orders are handled per sweep; the next sweep takes the rest. */
export const MAX_ORDERS_PER_SWEEP = 100;
/** Orders checked at the same time (each is a DescribeExecution, maybe a StartExecution). */
const CONCURRENCY = 4;

/** What a sweep talks to. */
export interface SweeperDeps {
  readonly client: DynamoDBDocumentClient;
  /** The Orders table. */
  readonly ordersTable: string;
  readonly sfn: SFNClient;
  /** The order saga. */
  readonly stateMachineArn: string;
}

/** Options of {@link sweep}. */
export interface SweepOptions {
  /** Orders created longer ago than this many seconds are candidates. */
  readonly sweepAfterSeconds: number;
  /** @default MAX_ORDERS_PER_SWEEP */
  readonly maxOrders?: number;
  /** @default the current time */
  readonly now?: Date;
  /** Picks the orders of a sweep when there are more than `maxOrders`. @default Math.random */
  readonly random?: () => number;
}

/** What a sweep did. */
export interface SweepResult {
  /** Stale `PENDING` orders handled by this sweep (at most `maxOrders`). */
  readonly candidates: number;
  /** Stale `PENDING` orders found, handled or not. */
  readonly found: number;
  /** Orders whose saga this sweep started, with the execution. */
  readonly started: readonly { readonly orderId: string; readonly executionArn: string }[];
  /** Orders that had an execution already (still running, or ended without settling the order). */
  readonly hadExecution: readonly { readonly orderId: string; readonly status: string }[];
  /** Orders the sweep could not check or start, with the error. */
  readonly failed: readonly { readonly orderId: string; readonly error: Error }[];
  /** True when more stale `PENDING` orders were found than one sweep handles (the next sweeps pick again). */
  readonly more: boolean;
}

type Row = Record<string, unknown>;

/**
 * Scans Orders (all of it: no index lists pending orders) for ORDER rows with status `PENDING` created before
 * `cutoff`.
 */
export async function findStalePendingOrders(
  deps: Pick<SweeperDeps, 'client' | 'ordersTable'>,
  cutoff: Date,
): Promise<Row[]> {
  const orders: Row[] = [];
  let ExclusiveStartKey: Row | undefined;
  do {
    const page = await deps.client.send(
      new ScanCommand({
        TableName: deps.ordersTable,
        FilterExpression: '#sk = :order AND #status = :pending AND #createdAt < :cutoff',
        ProjectionExpression: '#orderId, #customerId, #items, #amount, #currency, #createdAt',
        ExpressionAttributeNames: {
          '#sk': 'sk',
          '#status': 'status',
          '#createdAt': 'createdAt',
          '#orderId': 'orderId',
          '#customerId': 'customerId',
          '#items': 'items',
          '#amount': 'amount',
          '#currency': 'currency',
        },
        // createdAt is an ISO 8601 UTC timestamp (toISOString): string order is time order.
        ExpressionAttributeValues: {
          ':order': 'ORDER',
          ':pending': 'PENDING',
          ':cutoff': cutoff.toISOString(),
        },
        ExclusiveStartKey,
      }),
    );
    orders.push(...(page.Items ?? []));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return orders;
}

/**
 * `count` of the items, chosen at random (a partial Fisher–Yates shuffle). Stale orders that keep an execution
 * (one still running, or one that ended without settling its order) stay candidates on every sweep: a fixed
 * choice such as "the oldest first" could hand every sweep the same ones and never reach the rest.
 */
export function sample<T>(items: readonly T[], count: number, random: () => number = Math.random): T[] {
  const copy = [...items];
  const n = Math.min(count, copy.length);
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(random() * (copy.length - i));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy.slice(0, n);
}

type OrderOutcome =
  | { readonly kind: 'started'; readonly orderId: string; readonly executionArn: string }
  | { readonly kind: 'had-execution'; readonly orderId: string; readonly status: string };

/** Starts one order's saga unless it has an execution. */
async function sweepOrder(deps: SweeperDeps, row: Row): Promise<OrderOutcome> {
  const input = sagaInputOf(row, `ORDER row of order ${String(row.orderId)}`);
  const executionArn = executionArnOf(deps.stateMachineArn, input.orderId);
  try {
    const existing = await deps.sfn.send(new DescribeExecutionCommand({ executionArn }));
    return { kind: 'had-execution', orderId: input.orderId, status: existing.status ?? 'UNKNOWN' };
  } catch (error) {
    if (!(error instanceof Error && error.name === 'ExecutionDoesNotExist')) throw error;
  }
  // The publisher may start it between the two calls: startSaga then checks that the inputs agree.
  const outcome = await startSaga(deps, input);
  return outcome.alreadyStarted
    ? { kind: 'had-execution', orderId: input.orderId, status: outcome.existingStatus ?? 'UNKNOWN' }
    : { kind: 'started', orderId: input.orderId, executionArn: outcome.executionArn };
}

/**
 * One sweep: the stale `PENDING` orders (at most `maxOrders`, picked at random when there are more), each
 * checked with DescribeExecution and started when it has none. One order's failure does not stop the others.
 */
export async function sweep(deps: SweeperDeps, options: SweepOptions): Promise<SweepResult> {
  const { sweepAfterSeconds } = options;
  if (!Number.isFinite(sweepAfterSeconds) || sweepAfterSeconds < 0) {
    throw new RangeError(`sweepAfterSeconds must be a number ≥ 0, received ${sweepAfterSeconds}`);
  }
  const now = options.now ?? new Date();
  const cutoff = new Date(now.getTime() - sweepAfterSeconds * 1000);
  const found = await findStalePendingOrders(deps, cutoff);
  const orders = sample(found, options.maxOrders ?? MAX_ORDERS_PER_SWEEP, options.random);

  const started: { orderId: string; executionArn: string }[] = [];
  const hadExecution: { orderId: string; status: string }[] = [];
  const failed: { orderId: string; error: Error }[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let row = orders[next++]; row !== undefined; row = orders[next++]) {
      try {
        const outcome = await sweepOrder(deps, row);
        if (outcome.kind === 'started')
          started.push({ orderId: outcome.orderId, executionArn: outcome.executionArn });
        else hadExecution.push({ orderId: outcome.orderId, status: outcome.status });
      } catch (error) {
        failed.push({
          orderId: String(row.orderId),
          error: error instanceof Error ? error : new Error(String(error)),
        });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, orders.length) }, worker));
  return {
    candidates: orders.length,
    found: found.length,
    started,
    hadExecution,
    failed,
    more: found.length > orders.length,
  };
}
