import { BatchWriteItemCommand, type DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestTable, TEST_AWS, testDynamoDbClient } from '../../test/support/dynamodb.ts';
import type { StackOutputs } from './context.ts';
import {
  describeLedgerItem,
  type Ledger,
  ledgerOf,
  newSideEffects,
  readLedger,
  readLedgerRows,
} from './ledger.ts';
import type { ResolvedTarget } from './target.ts';

const zero: Ledger = { charges: 0, refunds: 0, reservations: 0, releases: 0, shipments: 0 };

describe('newSideEffects', () => {
  test('nothing new → 0', () => {
    const same = { charges: 1, refunds: 1, reservations: 2, releases: 2, shipments: 0 };
    expect(newSideEffects(same, { ...same })).toBe(0);
  });

  test('sums what grew, per kind', () => {
    expect(newSideEffects(zero, { charges: 1, refunds: 0, reservations: 2, releases: 0, shipments: 1 })).toBe(
      4,
    );
    expect(newSideEffects({ ...zero, charges: 1 }, { ...zero, charges: 2, shipments: 1 })).toBe(2);
  });

  test('what disappeared does not cancel out what was added', () => {
    expect(newSideEffects({ ...zero, refunds: 3 }, { ...zero, charges: 1 })).toBe(1);
  });
});

describe('readLedger against DynamoDB Local', () => {
  let ddb: DynamoDBClient;
  let tables: { payments: string; inventory: string; shipments: string };

  beforeAll(async () => {
    ddb = testDynamoDbClient();
    tables = {
      payments: await createTestTable(ddb, 'ledger-payments'),
      inventory: await createTestTable(ddb, 'ledger-inventory'),
      shipments: await createTestTable(ddb, 'ledger-shipments'),
    };
  });

  afterAll(() => ddb.destroy());

  function target(): ResolvedTarget {
    const outputs: StackOutputs = {
      ApiUrl: 'http://127.0.0.1:1/',
      StateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:OrderSaga',
      OrdersTableName: 'unused',
      PaymentsTableName: tables.payments,
      InventoryTableName: tables.inventory,
      ShipmentsTableName: tables.shipments,
      IdempotencyTableName: 'unused',
      FailureFlagsTableName: 'unused',
    };
    return { kind: 'local', ...TEST_AWS, outputs, clientConfig: () => ({ ...TEST_AWS }) };
  }

  async function put(table: string, rows: [string, string][]): Promise<void> {
    await ddb.send(
      new BatchWriteItemCommand({
        RequestItems: {
          [table]: rows.map(([pk, sk]) => ({ PutRequest: { Item: { pk: { S: pk }, sk: { S: sk } } } })),
        },
      }),
    );
  }

  test("counts one order's charges, refunds, reservations, releases and shipments, and only that order's", async () => {
    await put(tables.payments, [
      ['ORDER#A', 'CHARGE'],
      ['ORDER#A', 'REFUND'],
      ['ORDER#B', 'CHARGE'],
    ]);
    await put(tables.inventory, [
      ['ORDER#A', 'RESERVATION#espresso-beans'],
      ['ORDER#A', 'RESERVATION#ceramic-mug'],
      ['ORDER#A', 'RELEASE#espresso-beans'],
      ['SKU#espresso-beans', 'STOCK'],
      ['ORDER#B', 'RESERVATION#ceramic-mug'],
    ]);
    await put(tables.shipments, [['ORDER#B', 'SHIPMENT']]);

    const a = await readLedger(target(), 'A', ddb);
    expect(a).toEqual({ charges: 1, refunds: 1, reservations: 2, releases: 1, shipments: 0 });
    const b = await readLedger(target(), 'B', ddb);
    expect(b).toEqual({ charges: 1, refunds: 0, reservations: 1, releases: 0, shipments: 1 });
    expect(await readLedger(target(), 'C', ddb)).toEqual(zero);
  });

  test("readLedgerRows: every row of the order, in the order written, each in brief; its counts are readLedger's", async () => {
    const row = (table: string, sk: string, at: string | undefined, extra: Record<string, unknown>) =>
      ddb.send(
        new PutItemCommand({
          TableName: table,
          Item: {
            pk: { S: 'ORDER#E' },
            sk: { S: sk },
            ...(at === undefined ? {} : { at: { S: at } }),
            ...Object.fromEntries(
              Object.entries(extra).map(([k, v]) => [
                k,
                typeof v === 'number' ? { N: String(v) } : { S: String(v) },
              ]),
            ),
          },
        }),
      );
    await row(tables.payments, 'REFUND', '2026-12-03T10:00:03.000Z', {
      amount: 4850,
      currency: 'EUR',
      refundId: 're_1',
    });
    await row(tables.payments, 'CHARGE', '2026-12-03T10:00:00.500Z', {
      amount: 4850,
      currency: 'EUR',
      chargeId: 'ch_1',
    });
    await row(tables.inventory, 'RESERVATION#ceramic-mug', '2026-12-03T10:00:01.000Z', {
      sku: 'ceramic-mug',
      qty: 2,
    });
    await row(tables.inventory, 'RELEASE#ceramic-mug', '2026-12-03T10:00:02.000Z', {
      sku: 'ceramic-mug',
      qty: 2,
    });
    await row(tables.shipments, 'SHIPMENT', undefined, { carrier: 'local', trackingId: 'TRK1' });

    const rows = await readLedgerRows(target(), 'E', ddb);
    expect(rows.map((r) => [r.table, r.sk, r.detail])).toEqual([
      ['Payments', 'CHARGE', '48.50 EUR · ch_1'],
      ['Inventory', 'RESERVATION#ceramic-mug', 'ceramic-mug ×2'],
      ['Inventory', 'RELEASE#ceramic-mug', 'ceramic-mug ×2'],
      ['Payments', 'REFUND', '48.50 EUR · re_1'],
      // No time recorded: last.
      ['Shipments', 'SHIPMENT', 'local · TRK1'],
    ]);
    expect(ledgerOf(rows)).toEqual(await readLedger(target(), 'E', ddb));
  });

  test('describeLedgerItem: what a row without its usual attributes still says', () => {
    expect(describeLedgerItem({ sk: { S: 'RESERVATION#paper-filters' } })).toBe('paper-filters');
    expect(describeLedgerItem({ sk: { S: 'CHARGE' } })).toBe('');
    expect(describeLedgerItem({ sk: { S: 'SHIPMENT' }, trackingId: { S: 'T9' } })).toBe('T9');
  });

  test('a new side effect shows up as the difference', async () => {
    const before = await readLedger(target(), 'D', ddb);
    await put(tables.shipments, [['ORDER#D', 'SHIPMENT']]);
    const after = await readLedger(target(), 'D', ddb);
    expect(newSideEffects(before, after)).toBe(1);
  });
});
