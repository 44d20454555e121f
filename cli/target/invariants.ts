/**
 * The saga's invariants (design §4b I1–I7), checked over a set of orders: one implementation for `saga bench`,
 * `saga chaos` and the tests. Two halves: {@link readInvariantFacts} reads the tables and the execution
 * histories into plain rows; {@link judgeInvariants} (pure) turns the rows into one result per invariant,
 * naming the orders that break it.
 */
import { type AttributeValue, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { CATALOG } from '../../services/shared/catalog.ts';
import {
  buildTimeline,
  type EntryStatus,
  ORDER_SAGA,
  readSagaDefinition,
  type SagaReading,
} from '../timeline/index.ts';
import { formatShortDuration, formatWholeSeconds } from '../ui/format.ts';
import { listAllExecutions, readHistory } from './executions.ts';
import {
  expectedOutcome,
  type InjectedFlag,
  mayFailCompensation,
  type SagaDefinition,
  sagaDefinition,
} from './expectations.ts';
import { readOrderItems } from './ledger.ts';
import type { ResolvedTarget } from './target.ts';

/** An order to check, with the failures injected on it. */
export interface CheckedOrder {
  readonly orderId: string;
  /** The order's failure flags (with their rates, if any). */
  readonly specs: readonly InjectedFlag[];
  /** The items as placed (informational: the checks use the order row's items). */
  readonly items?: readonly { sku: string; qty: number }[];
}

/** One order `saga bench` placed. */
export type PlacedBenchOrder = CheckedOrder;

/** Which invariant a result is about: design §4b's I1–I7, and `expected` (the status the failures imply). */
export type InvariantId = 'expected' | 'I1' | 'I2' | 'I3' | 'I4' | 'I5' | 'I6' | 'I7';

/** The result of one invariant check. */
export interface InvariantResult {
  readonly id: InvariantId;
  readonly name: string;
  readonly ok: boolean;
  /** What was found; on a violation, the orders and numbers that break it (the first few). */
  readonly detail: string;
  /** Every order that breaks it. */
  readonly orders: readonly string[];
}

/** Available stock per SKU. */
export type StockLevels = Record<string, number>;

/** A line of an order: a SKU and a quantity. */
export interface OrderLine {
  readonly sku: string;
  readonly qty: number;
}

/** One state visit of an execution, as the history records it. */
export interface StateVisit {
  readonly state: string;
  readonly status: EntryStatus;
  /** When the visit ended, epoch ms. */
  readonly endMs?: number | undefined;
  /** The error that ended a failed or caught visit. */
  readonly error?: string | undefined;
  /** Task attempts (1 without retries). */
  readonly attempts: number;
}

/** One execution of an order's saga. */
export interface ExecutionFacts {
  readonly name: string;
  readonly status: string;
  readonly visits: readonly StateVisit[];
}

/** Everything recorded about one order. */
export interface OrderFacts {
  readonly orderId: string;
  readonly injected: readonly InjectedFlag[];
  /** The ORDER row; undefined when there is none. */
  readonly order?:
    | {
        readonly status: string;
        readonly amount: number;
        readonly items: readonly OrderLine[];
        readonly createdAt?: string | undefined;
        readonly updatedAt?: string | undefined;
      }
    | undefined;
  /** Payments rows: sk (`CHARGE`, `REFUND`) and amount. */
  readonly payments: readonly { readonly sk: string; readonly amount: number }[];
  /** Inventory rows of the order: sk (`RESERVATION#<sku>`, `RELEASE#<sku>`) and qty. */
  readonly inventory: readonly { readonly sk: string; readonly qty: number }[];
  /** Shipments rows: sk (`SHIPMENT`). */
  readonly shipments: readonly { readonly sk: string }[];
  /** Executions named after the order: the one the outbox started (`<id>`) and replays (`<id>-…`). */
  readonly executions: readonly ExecutionFacts[];
}

/** What the judge needs. */
export interface InvariantFacts {
  readonly orders: readonly OrderFacts[];
  /** Stock before the orders were placed and now; without it, I3 checks each order only. */
  readonly stock?: { readonly before: StockLevels; readonly after: StockLevels } | undefined;
  /** The time of the reading, epoch ms (I7). */
  readonly now: number;
}

/** Options of {@link judgeInvariants}. */
export interface JudgeOptions {
  /** I7: an order PENDING or CANCELLING for longer than this is stuck. @default 300_000 (5 minutes) */
  readonly stuckAfterMs?: number;
  /**
   * The saga's ASL: the retry counts behind the expectations, and the status writes I5 follows. @default the
   * project's
   */
  readonly definition?: SagaDefinition;
}

/** Settled statuses: they never change again (design §3). */
export const SETTLED_STATUSES: readonly string[] = ['COMPLETED', 'FAILED', 'CANCELLED'];

/** I7's default bound. */
export const DEFAULT_STUCK_AFTER_MS = 5 * 60 * 1000;

/**
 * The states that write the order's status, the status each writes and the statuses its condition accepts (§3's
 * arrows), as the saga's ASL says them: the `status` each Task's DynamoDB update sets and its
 * `ConditionExpression` (see `readSagaDefinition`).
 */
export type StatusWrites = SagaReading['statusWrites'];

/** Whether a status write may go over `status`: its condition accepts it (no condition: anything not settled). */
function allows(write: StatusWrites[string], status: string): boolean {
  return write.from.length > 0 ? write.from.includes(status) : !SETTLED_STATUSES.includes(status);
}

/** The errors with which DynamoDB refuses a conditional write (the guard said no). */
const REFUSALS = new Set([
  'DynamoDB.ConditionalCheckFailedException',
  'DynamoDb.ConditionalCheckFailedException',
  'DynamoDB.TransactionCanceledException',
  'DynamoDb.TransactionCanceledException',
]);

/** Whether a visit's error is a refused conditional write. */
export function isRefusal(error: string | undefined): boolean {
  return error !== undefined && REFUSALS.has(error);
}

// ---------------------------------------------------------------------------------------------------------------
// Judging (pure)

function show(list: readonly string[]): string {
  return list.length <= 3 ? list.join('; ') : `${list.slice(0, 3).join('; ')}; … ${list.length - 3} more`;
}

/** One thing that breaks an invariant: an order (or, with `orderId` absent, a SKU) and why. */
interface Breach {
  readonly subject: string;
  readonly why: string;
  readonly orderId?: string;
}

const breach = (orderId: string, why: string): Breach => ({ subject: orderId, why, orderId });

function result(
  id: InvariantId,
  name: string,
  broken: readonly Breach[],
  okDetail: string,
  note = '',
): InvariantResult {
  return {
    id,
    name,
    ok: broken.length === 0,
    detail: (broken.length === 0 ? okDetail : show(broken.map((b) => `${b.subject}: ${b.why}`))) + note,
    orders: [...new Set(broken.flatMap((b) => (b.orderId === undefined ? [] : [b.orderId])))],
  };
}

const statusOf = (o: OrderFacts) => o.order?.status ?? 'MISSING';

const rowsOf = <T extends { sk: string }>(rows: readonly T[], kind: string) =>
  rows.filter((r) => r.sk === kind || r.sk.startsWith(`${kind}#`));

/** Net reserved quantity per SKU of one order (reservations − releases). */
function netReserved(o: OrderFacts): Map<string, number> {
  const net = new Map<string, number>();
  for (const row of o.inventory) {
    const [kind, sku = ''] = row.sk.split('#');
    if (kind === 'RESERVATION') net.set(sku, (net.get(sku) ?? 0) + row.qty);
    if (kind === 'RELEASE') net.set(sku, (net.get(sku) ?? 0) - row.qty);
  }
  return net;
}

/** The status writes an execution recorded: the visits of states that write a status, that took effect. */
function recordedWrites(
  o: OrderFacts,
  writes: StatusWrites,
): { state: string; at: number; certain: boolean }[] {
  return o.executions
    .flatMap((e) =>
      e.visits.flatMap((v) => {
        if (!Object.hasOwn(writes, v.state)) return [];
        if (v.status === 'succeeded') return [{ state: v.state, at: v.endMs ?? 0, certain: true }];
        // Refused after an earlier attempt failed: that attempt may have committed and lost its answer.
        if (v.status === 'caught' && isRefusal(v.error) && v.attempts > 1) {
          return [{ state: v.state, at: v.endMs ?? 0, certain: false }];
        }
        return [];
      }),
    )
    .sort((a, b) => a.at - b.at);
}

/** I5 for one order, along the status writes of the ASL: the reason it breaks, or undefined. */
function monotonicBreak(o: OrderFacts, writes: StatusWrites): string | undefined {
  if (o.order === undefined || o.executions.length === 0) return undefined;
  let status = 'PENDING';
  const path = ['PENDING'];
  for (const write of recordedWrites(o, writes)) {
    const arrow = writes[write.state] as StatusWrites[string];
    if (!allows(arrow, status)) {
      if (!write.certain) continue;
      return `${write.state} wrote ${arrow.status} over ${status} (${path.join(' → ')} → ${arrow.status})`;
    }
    status = arrow.status;
    path.push(status);
  }
  if (status !== o.order.status) {
    return `status ${o.order.status}, but the executions recorded ${path.join(' → ')}`;
  }
  return undefined;
}

/** Judges design §4b's invariants over the facts read (pure). */
export function judgeInvariants(facts: InvariantFacts, options: JudgeOptions = {}): InvariantResult[] {
  const definition = options.definition ?? sagaDefinition();
  const writes =
    options.definition === undefined ? ORDER_SAGA.statusWrites : readSagaDefinition(definition).statusWrites;
  const stuckAfterMs = options.stuckAfterMs ?? DEFAULT_STUCK_AFTER_MS;
  const orders = facts.orders;
  const n = orders.length;

  const mismatched: Breach[] = [];
  let unpredictable = 0;
  for (const o of orders) {
    const outcome = expectedOutcome(o.injected, definition);
    if (!outcome.predictable) unpredictable++;
    else if (statusOf(o) !== outcome.status) {
      mismatched.push(breach(o.orderId, `${statusOf(o)}, expected ${outcome.status}`));
    }
  }

  const unsettled = orders
    .filter((o) => !SETTLED_STATUSES.includes(statusOf(o)))
    .filter((o) => !(statusOf(o) === 'COMPENSATION_FAILED' && mayFailCompensation(o.injected, definition)))
    .map((o) =>
      breach(
        o.orderId,
        statusOf(o) === 'COMPENSATION_FAILED'
          ? 'COMPENSATION_FAILED, but no compensation was made to fail for good'
          : statusOf(o),
      ),
    );

  const money: Breach[] = [];
  const moneyExcepted: string[] = [];
  let charged = 0;
  let refunded = 0;
  for (const o of orders) {
    const charges = rowsOf(o.payments, 'CHARGE');
    const refunds = rowsOf(o.payments, 'REFUND');
    const charge = charges.reduce((s, r) => s + r.amount, 0);
    const refund = refunds.reduce((s, r) => s + r.amount, 0);
    charged += charge;
    refunded += refund;
    if (charges.length > 1 || refunds.length > 1) {
      money.push(breach(o.orderId, `${charges.length} charges, ${refunds.length} refunds`));
      continue;
    }
    const status = statusOf(o);
    if (status === 'COMPENSATION_FAILED') {
      if (charge !== refund) moneyExcepted.push(`${o.orderId} holds ${charge - refund}`);
      continue;
    }
    const due = status === 'COMPLETED' ? (o.order?.amount ?? 0) : 0;
    if (charge - refund !== due) {
      money.push(breach(o.orderId, `${status}: charged ${charge} − refunded ${refund} ≠ ${due}`));
    }
  }

  const stock: Breach[] = [];
  const stockExcepted: string[] = [];
  const taken = new Map<string, number>();
  for (const o of orders) {
    const net = netReserved(o);
    for (const [sku, qty] of net) taken.set(sku, (taken.get(sku) ?? 0) + qty);
    const duplicated = [...new Set(o.inventory.map((r) => r.sk))].filter(
      (sk) => o.inventory.filter((r) => r.sk === sk).length > 1,
    );
    if (duplicated.length > 0) {
      stock.push(breach(o.orderId, `${duplicated.join(', ')} recorded twice`));
      continue;
    }
    const status = statusOf(o);
    const due = new Map<string, number>();
    if (status === 'COMPLETED')
      for (const l of o.order?.items ?? []) due.set(l.sku, (due.get(l.sku) ?? 0) + l.qty);
    const wrong = [...new Set([...net.keys(), ...due.keys()])]
      .filter((sku) => (net.get(sku) ?? 0) !== (due.get(sku) ?? 0))
      .map((sku) => `${sku} net reserved ${net.get(sku) ?? 0} ≠ ${due.get(sku) ?? 0}`);
    if (wrong.length === 0) continue;
    if (status === 'COMPENSATION_FAILED') stockExcepted.push(`${o.orderId} holds ${wrong.join(', ')}`);
    else stock.push(breach(o.orderId, `${status}: ${wrong.join(', ')}`));
  }
  if (facts.stock) {
    const { before, after } = facts.stock;
    for (const sku of new Set([...Object.keys(before), ...taken.keys()])) {
      const fell = (before[sku] ?? 0) - (after[sku] ?? 0);
      if (fell !== (taken.get(sku) ?? 0)) {
        stock.push({
          subject: `SKU ${sku}`,
          why: `stock fell by ${fell}, reservations − releases = ${taken.get(sku) ?? 0}`,
        });
      }
    }
    for (const [sku, available] of Object.entries(after)) {
      if (available < 0) stock.push({ subject: `SKU ${sku}`, why: `${available} available` });
    }
  }

  const shipments = orders.flatMap((o) => {
    const count = rowsOf(o.shipments, 'SHIPMENT').length;
    const due = statusOf(o) === 'COMPLETED' ? 1 : 0;
    return count === due ? [] : [breach(o.orderId, `${statusOf(o)} with ${count} shipments`)];
  });

  const monotonic = orders.flatMap((o) => {
    const why = monotonicBreak(o, writes);
    return why === undefined ? [] : [breach(o.orderId, why)];
  });

  const sagas = orders.flatMap((o) => {
    const started = o.executions.filter((e) => e.name === o.orderId).length;
    const due = o.order === undefined ? 0 : 1;
    return started === due ? [] : [breach(o.orderId, `${started} executions named ${o.orderId}`)];
  });

  const stuck = orders.flatMap((o) => {
    const status = statusOf(o);
    if (status !== 'PENDING' && status !== 'CANCELLING') return [];
    const since = Date.parse(o.order?.updatedAt ?? o.order?.createdAt ?? '');
    const age = facts.now - since;
    return Number.isNaN(since) || age > stuckAfterMs
      ? [
          breach(
            o.orderId,
            `${status} for ${Number.isNaN(since) ? 'an unknown time' : formatWholeSeconds(age)}`,
          ),
        ]
      : [];
  });

  const excepted = (list: readonly string[]) =>
    list.length === 0 ? '' : `; COMPENSATION_FAILED excepted: ${show(list)}`;
  return [
    result(
      'expected',
      'terminal status matches the injected failures',
      mismatched,
      `${n - unpredictable} orders${unpredictable > 0 ? `; ${unpredictable} not predictable (a flag rate below 1)` : ''}`,
    ),
    result('I1', 'I1 terminal: every order settled', unsettled, `${n} orders`),
    result(
      'I2',
      'I2 money: one charge/refund, charged − refunded = amount if COMPLETED else 0',
      money,
      `${charged} − ${refunded} = ${charged - refunded} (cents)`,
      excepted(moneyExcepted),
    ),
    result(
      'I3',
      'I3 stock: net reserved = items if COMPLETED else 0; per SKU conserved',
      stock,
      `${n} orders${facts.stock ? `, ${Object.keys(facts.stock.before).length} SKUs` : ''}`,
      excepted(stockExcepted),
    ),
    result('I4', 'I4 shipment: one if COMPLETED, none otherwise', shipments, `${n} orders`),
    result('I5', 'I5 monotonic: status only along §3’s arrows', monotonic, `${n} orders`),
    result('I6', 'I6 one saga: one execution per order', sagas, `${n} executions`),
    result(
      'I7',
      'I7 nothing stuck in PENDING or CANCELLING',
      stuck,
      `none past ${formatShortDuration(stuckAfterMs)}`,
    ),
  ];
}

// ---------------------------------------------------------------------------------------------------------------
// Reading

/** Reads `available` of every catalog SKU. */
export async function readStock(
  target: ResolvedTarget,
  ddb = new DynamoDBClient(target.clientConfig()),
): Promise<StockLevels> {
  const levels: StockLevels = {};
  await Promise.all(
    CATALOG.map(async ({ sku }) => {
      const { Item } = await ddb.send(
        new GetItemCommand({
          TableName: target.outputs.InventoryTableName,
          Key: { pk: { S: `SKU#${sku}` }, sk: { S: 'STOCK' } },
          ConsistentRead: true,
        }),
      );
      levels[sku] = Number(Item?.available?.N ?? Number.NaN);
    }),
  );
  return levels;
}

/** Runs `work` over `items`, `concurrency` at a time. */
async function pool<T, R>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await work(items[i] as T);
      }
    }),
  );
  return out;
}

const lineOf = (v: AttributeValue): OrderLine => ({ sku: v.M?.sku?.S ?? '', qty: Number(v.M?.qty?.N ?? 0) });

/**
 * Reads what the invariants need about `orders`: the ORDER rows, their Payments, Inventory and Shipments rows,
 * the stock (when `stockBefore` is given), and the histories of every execution named after each order.
 */
export async function readInvariantFacts(
  target: ResolvedTarget,
  orders: readonly CheckedOrder[],
  options: { stockBefore?: StockLevels; ddb?: DynamoDBClient; sfn?: SFNClient } = {},
): Promise<InvariantFacts> {
  const ddb = options.ddb ?? new DynamoDBClient(target.clientConfig());
  const sfn = options.sfn ?? new SFNClient(target.clientConfig());
  const ids = new Set(orders.map((o) => o.orderId));
  const byOrder = new Map<string, { name: string; arn: string; status: string }[]>();
  for (const e of await listAllExecutions(sfn, target.outputs.StateMachineArn)) {
    const name = e.name ?? '';
    const id = name.slice(0, 26);
    if (!ids.has(id) || !(name === id || name.startsWith(`${id}-`))) continue;
    byOrder.set(id, [
      ...(byOrder.get(id) ?? []),
      { name, arn: e.executionArn ?? '', status: e.status ?? '' },
    ]);
  }
  const now = Date.now();
  const facts = await pool(orders, 8, async (o): Promise<OrderFacts> => {
    const id = o.orderId;
    const [orderRows, payments, inventory, shipments] = await Promise.all([
      readOrderItems(ddb, target.outputs.OrdersTableName, id),
      readOrderItems(ddb, target.outputs.PaymentsTableName, id),
      readOrderItems(ddb, target.outputs.InventoryTableName, id),
      readOrderItems(ddb, target.outputs.ShipmentsTableName, id),
    ]);
    const executions: ExecutionFacts[] = [];
    for (const e of byOrder.get(id) ?? []) {
      const model = buildTimeline(await readHistory(sfn, e.arn));
      executions.push({
        name: e.name,
        status: e.status,
        visits: model.entries.map((v) => ({
          state: v.state,
          status: v.status,
          endMs: v.endMs,
          error: v.error,
          attempts: v.attempts,
        })),
      });
    }
    const row = orderRows.find((r) => r.sk?.S === 'ORDER');
    return {
      orderId: id,
      injected: o.specs,
      order: row && {
        status: row.status?.S ?? 'UNKNOWN',
        amount: Number(row.amount?.N ?? 0),
        items: (row.items?.L ?? []).map(lineOf),
        createdAt: row.createdAt?.S,
        updatedAt: row.updatedAt?.S,
      },
      payments: payments.map((r) => ({ sk: r.sk?.S ?? '', amount: Number(r.amount?.N ?? 0) })),
      inventory: inventory.map((r) => ({ sk: r.sk?.S ?? '', qty: Number(r.qty?.N ?? 0) })),
      shipments: shipments.map((r) => ({ sk: r.sk?.S ?? '' })),
      executions,
    };
  });
  const stock = options.stockBefore
    ? { before: options.stockBefore, after: await readStock(target, ddb) }
    : undefined;
  return { orders: facts, stock, now };
}

/**
 * Checks design §4b's invariants over a set of orders: reads the facts, then judges them. Assumes nothing else
 * touched stock between `stockBefore` and now.
 */
export async function checkInvariants(
  target: ResolvedTarget,
  orders: readonly CheckedOrder[],
  stockBefore?: StockLevels,
  options: JudgeOptions = {},
): Promise<InvariantResult[]> {
  return judgeInvariants(await readInvariantFacts(target, orders, { stockBefore }), options);
}
