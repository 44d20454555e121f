import { type AttributeValue, DynamoDBClient, GetItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { CATALOG } from '../../services/shared/catalog.ts';
import type { FailSpec } from '../../services/shared/failure-flags.ts';
import { listAllExecutions } from './executions.ts';
import { expectedOrderStatus } from './expectations.ts';
import type { ResolvedTarget } from './target.ts';

/** One order a load run placed, with the failures it carried. */
export interface PlacedBenchOrder {
  readonly orderId: string;
  readonly specs: readonly FailSpec[];
  readonly items: readonly { sku: string; qty: number }[];
}

/** The result of one invariant check. */
export interface InvariantResult {
  readonly name: string;
  readonly ok: boolean;
  /** What was found; on a violation, the orders and numbers that break it. */
  readonly detail: string;
}

/** Available stock per SKU. */
export type StockLevels = Record<string, number>;

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

async function rows(
  ddb: DynamoDBClient,
  table: string,
  pk: string,
): Promise<Record<string, AttributeValue>[]> {
  const { Items = [] } = await ddb.send(
    new QueryCommand({
      TableName: table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': { S: pk } },
      ConsistentRead: true,
    }),
  );
  return Items;
}

/**
 * Checks the saga's invariants over a set of orders placed by one run (design §3–§4):
 * terminal status matches the injected failures; charges − refunds equal the completed orders' amounts; stock is
 * conserved (stock taken = reservations − releases of these orders); one execution per order; no duplicated side
 * effect (at most one charge, refund, shipment, and one reservation/release per SKU per order).
 * Assumes nothing else touched stock between `stockBefore` and now.
 */
export async function checkInvariants(
  target: ResolvedTarget,
  orders: readonly PlacedBenchOrder[],
  stockBefore: StockLevels,
): Promise<InvariantResult[]> {
  const ddb = new DynamoDBClient(target.clientConfig());
  const sfn = new SFNClient(target.clientConfig());
  const statusMismatches: string[] = [];
  const duplicates: string[] = [];
  let charged = 0;
  let refunded = 0;
  let completedAmount = 0;
  const moneyMismatches: string[] = [];
  const taken: Record<string, number> = {};
  const facts = await Promise.all(
    orders.map(async (order) => {
      const id = order.orderId;
      const [orderRow, payments, inventory, shipments] = await Promise.all([
        rows(ddb, target.outputs.OrdersTableName, `ORDER#${id}`),
        rows(ddb, target.outputs.PaymentsTableName, `ORDER#${id}`),
        rows(ddb, target.outputs.InventoryTableName, `ORDER#${id}`),
        rows(ddb, target.outputs.ShipmentsTableName, `ORDER#${id}`),
      ]);
      return { order, orderRow: orderRow.find((r) => r.sk?.S === 'ORDER'), payments, inventory, shipments };
    }),
  );
  for (const { order, orderRow, payments, inventory, shipments } of facts) {
    const id = order.orderId;
    const status = orderRow?.status?.S ?? 'MISSING';
    const expected = expectedOrderStatus(order.specs);
    if (status !== expected) statusMismatches.push(`${id}: ${status}, expected ${expected}`);
    const count = (list: Record<string, AttributeValue>[], sk: string) =>
      list.filter((r) => r.sk?.S === sk).length;
    const amountOf = (list: Record<string, AttributeValue>[], sk: string) =>
      list.filter((r) => r.sk?.S === sk).reduce((sum, r) => sum + Number(r.amount?.N ?? 0), 0);
    if (count(payments, 'CHARGE') > 1 || count(payments, 'REFUND') > 1 || count(shipments, 'SHIPMENT') > 1) {
      duplicates.push(
        `${id}: ${count(payments, 'CHARGE')} charges, ${count(payments, 'REFUND')} refunds, ${count(shipments, 'SHIPMENT')} shipments`,
      );
    }
    const charge = amountOf(payments, 'CHARGE');
    const refund = amountOf(payments, 'REFUND');
    charged += charge;
    refunded += refund;
    const amount = Number(orderRow?.amount?.N ?? 0);
    if (status === 'COMPLETED') completedAmount += amount;
    // Per order: completed keeps its charge; cancelled and failed keep nothing (a stuck compensation needs a human).
    if (status !== 'COMPENSATION_FAILED' && charge - refund !== (status === 'COMPLETED' ? amount : 0)) {
      moneyMismatches.push(
        `${id} (${status}): charged ${charge} − refunded ${refund} ≠ ${status === 'COMPLETED' ? amount : 0}`,
      );
    }
    const seen = new Map<string, number>();
    for (const r of inventory) {
      const sk = r.sk?.S ?? '';
      seen.set(sk, (seen.get(sk) ?? 0) + 1);
      const [kind, sku = ''] = sk.split('#');
      const qty = Number(r.qty?.N ?? 0);
      if (kind === 'RESERVATION') taken[sku] = (taken[sku] ?? 0) + qty;
      if (kind === 'RELEASE') taken[sku] = (taken[sku] ?? 0) - qty;
    }
    for (const [sk, n] of seen) if (n > 1) duplicates.push(`${id}: ${n}× ${sk}`);
  }
  const stockAfter = await readStock(target, ddb);
  const stockMismatches = Object.keys(stockBefore)
    .filter((sku) => (stockBefore[sku] ?? 0) - (stockAfter[sku] ?? 0) !== (taken[sku] ?? 0))
    .map(
      (sku) =>
        `${sku}: stock fell by ${(stockBefore[sku] ?? 0) - (stockAfter[sku] ?? 0)}, reservations − releases = ${taken[sku] ?? 0}`,
    );
  const negative = Object.entries(stockAfter)
    .filter(([, n]) => n < 0)
    .map(([sku, n]) => `${sku}: ${n}`);

  const executionCounts = new Map<string, number>();
  for (const e of await listAllExecutions(sfn, target.outputs.StateMachineArn)) {
    executionCounts.set(e.name ?? '', (executionCounts.get(e.name ?? '') ?? 0) + 1);
  }
  const executionMismatches = orders
    .filter((o) => executionCounts.get(o.orderId) !== 1)
    .map((o) => `${o.orderId}: ${executionCounts.get(o.orderId) ?? 0} executions`);

  const show = (list: string[]) =>
    list.length <= 3 ? list.join('; ') : `${list.slice(0, 3).join('; ')}; … ${list.length - 3} more`;
  return [
    {
      name: 'terminal status matches the injected failures',
      ok: statusMismatches.length === 0,
      detail: statusMismatches.length === 0 ? `${orders.length} orders` : show(statusMismatches),
    },
    {
      name: 'charges − refunds = completed orders’ amounts',
      ok: moneyMismatches.length === 0 && charged - refunded === completedAmount + stuckNet(facts),
      detail:
        moneyMismatches.length === 0
          ? `${charged} − ${refunded} = ${charged - refunded} (cents)`
          : show(moneyMismatches),
    },
    {
      name: 'stock conserved, never negative',
      ok: stockMismatches.length === 0 && negative.length === 0,
      detail:
        stockMismatches.length === 0 && negative.length === 0
          ? `${Object.keys(stockBefore).length} SKUs`
          : show([...stockMismatches, ...negative]),
    },
    {
      name: 'one execution per order',
      ok: executionMismatches.length === 0,
      detail: executionMismatches.length === 0 ? `${orders.length} executions` : show(executionMismatches),
    },
    {
      name: 'no duplicated side effect',
      ok: duplicates.length === 0,
      detail:
        duplicates.length === 0
          ? 'at most one charge, refund, shipment and reservation per SKU per order'
          : show(duplicates),
    },
  ];
}

/** Money still held by orders whose compensation failed (they are excluded from the per-order check). */
function stuckNet(
  facts: readonly { orderRow?: Record<string, AttributeValue>; payments: Record<string, AttributeValue>[] }[],
): number {
  return facts
    .filter((f) => f.orderRow?.status?.S === 'COMPENSATION_FAILED')
    .reduce((sum, f) => {
      const charge = f.payments
        .filter((r) => r.sk?.S === 'CHARGE')
        .reduce((s, r) => s + Number(r.amount?.N ?? 0), 0);
      const refund = f.payments
        .filter((r) => r.sk?.S === 'REFUND')
        .reduce((s, r) => s + Number(r.amount?.N ?? 0), 0);
      return sum + charge - refund;
    }, 0);
}
