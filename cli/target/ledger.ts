import { DynamoDBClient, QueryCommand } from '@aws-sdk/client-dynamodb';
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

/** Counts an order's rows in the Payments, Inventory and Shipments tables. */
export async function readLedger(
  target: ResolvedTarget,
  orderId: string,
  client?: DynamoDBClient,
): Promise<Ledger> {
  const ddb = client ?? new DynamoDBClient(target.clientConfig());
  const sortKeys = async (table: string): Promise<string[]> => {
    const keys: string[] = [];
    let start: Record<string, import('@aws-sdk/client-dynamodb').AttributeValue> | undefined;
    do {
      const page = await ddb.send(
        new QueryCommand({
          TableName: table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': { S: `ORDER#${orderId}` } },
          ProjectionExpression: 'sk',
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) if (item.sk?.S) keys.push(item.sk.S);
      start = page.LastEvaluatedKey;
    } while (start);
    return keys;
  };
  const [payments, inventory, shipments] = await Promise.all([
    sortKeys(target.outputs.PaymentsTableName),
    sortKeys(target.outputs.InventoryTableName),
    sortKeys(target.outputs.ShipmentsTableName),
  ]);
  return {
    charges: payments.filter((k) => k === 'CHARGE').length,
    refunds: payments.filter((k) => k === 'REFUND').length,
    reservations: inventory.filter((k) => k.startsWith('RESERVATION#')).length,
    releases: inventory.filter((k) => k.startsWith('RELEASE#')).length,
    shipments: shipments.filter((k) => k === 'SHIPMENT').length,
  };
}

/** Side effects in `after` that were not in `before`. */
export function newSideEffects(before: Ledger, after: Ledger): number {
  return LEDGER_KEYS.reduce((sum, k) => sum + Math.max(0, after[k] - before[k]), 0);
}
