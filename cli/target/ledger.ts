import { type AttributeValue, DynamoDBClient, QueryCommand } from '@aws-sdk/client-dynamodb';
import { formatMoney } from '../ui/format.ts';
import type { ResolvedTarget } from './target.ts';

/** The side effects recorded for one order (design §6 `replay` JSON contract). */
export interface Ledger {
  readonly charges: number;
  readonly refunds: number;
  readonly reservations: number;
  readonly releases: number;
  readonly shipments: number;
}

export const LEDGER_KEYS = ['charges', 'refunds', 'reservations', 'releases', 'shipments'] as const;

/** One row an order left in a ledger table (what `saga report` lists). */
export interface LedgerRow {
  readonly table: 'Payments' | 'Inventory' | 'Shipments';
  /** The row's sort key: CHARGE, REFUND, RESERVATION#<sku>, RELEASE#<sku>, SHIPMENT. */
  readonly sk: string;
  /** When the service wrote it (the row's `at`), ISO 8601; absent if the row has none. */
  readonly at?: string | undefined;
  /** What it holds, in brief: an amount and its id, an SKU and quantity, a carrier and tracking id. */
  readonly detail: string;
}

type Item = Record<string, AttributeValue>;

/** An order's rows (partition `ORDER#<orderId>`) in one table, strongly consistent, every page. */
export async function readOrderItems(
  ddb: DynamoDBClient,
  table: string,
  orderId: string,
  projection?: string,
): Promise<Item[]> {
  const items: Item[] = [];
  let start: Item | undefined;
  do {
    const page = await ddb.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': { S: `ORDER#${orderId}` } },
        ProjectionExpression: projection,
        ConsistentRead: true,
        ExclusiveStartKey: start,
      }),
    );
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

/** The counts of a set of ledger rows (by sort key). */
export function ledgerOf(rows: readonly { readonly sk: string }[]): Ledger {
  const keys = rows.map((r) => r.sk);
  return {
    charges: keys.filter((k) => k === 'CHARGE').length,
    refunds: keys.filter((k) => k === 'REFUND').length,
    reservations: keys.filter((k) => k.startsWith('RESERVATION#')).length,
    releases: keys.filter((k) => k.startsWith('RELEASE#')).length,
    shipments: keys.filter((k) => k === 'SHIPMENT').length,
  };
}

/** Counts an order's rows in the Payments, Inventory and Shipments tables. */
export async function readLedger(
  target: ResolvedTarget,
  orderId: string,
  client?: DynamoDBClient,
): Promise<Ledger> {
  const ddb = client ?? new DynamoDBClient(target.clientConfig());
  const tables = [
    target.outputs.PaymentsTableName,
    target.outputs.InventoryTableName,
    target.outputs.ShipmentsTableName,
  ];
  const items = await Promise.all(tables.map((t) => readOrderItems(ddb, t, orderId, 'sk')));
  return ledgerOf(items.flat().map((item) => ({ sk: item.sk?.S ?? '' })));
}

/** The brief of one ledger row (pure). */
export function describeLedgerItem(item: Item): string {
  const sk = item.sk?.S ?? '';
  const text = (name: string) => item[name]?.S;
  const num = (name: string) => (item[name]?.N === undefined ? undefined : Number(item[name]?.N));
  if (sk === 'CHARGE' || sk === 'REFUND') {
    const amount = num('amount');
    const money = amount === undefined ? '' : formatMoney(amount, text('currency'));
    const id = sk === 'CHARGE' ? text('chargeId') : text('refundId');
    return [money, id].filter(Boolean).join(' · ');
  }
  if (sk.startsWith('RESERVATION#') || sk.startsWith('RELEASE#')) {
    const qty = num('qty');
    return `${text('sku') ?? sk.slice(sk.indexOf('#') + 1)}${qty === undefined ? '' : ` ×${qty}`}`;
  }
  if (sk === 'SHIPMENT') return [text('carrier'), text('trackingId')].filter(Boolean).join(' · ');
  return '';
}

/** An order's rows in the Payments, Inventory and Shipments tables, in the order they were written. */
export async function readLedgerRows(
  target: ResolvedTarget,
  orderId: string,
  client?: DynamoDBClient,
): Promise<LedgerRow[]> {
  const ddb = client ?? new DynamoDBClient(target.clientConfig());
  const tables = [
    ['Payments', target.outputs.PaymentsTableName],
    ['Inventory', target.outputs.InventoryTableName],
    ['Shipments', target.outputs.ShipmentsTableName],
  ] as const;
  const read = await Promise.all(
    tables.map(async ([table, name]) =>
      (await readOrderItems(ddb, name, orderId)).map(
        (item): LedgerRow => ({
          table,
          sk: item.sk?.S ?? '',
          at: item.at?.S,
          detail: describeLedgerItem(item),
        }),
      ),
    ),
  );
  // In the order they were written; rows without a time last, in table order (the sort is stable).
  const last = '\uffff';
  return read.flat().sort((a, b) => (a.at ?? last).localeCompare(b.at ?? last));
}

/** Side effects in `after` that were not in `before`. */
export function newSideEffects(before: Ledger, after: Ledger): number {
  return LEDGER_KEYS.reduce((sum, k) => sum + Math.max(0, after[k] - before[k]), 0);
}
