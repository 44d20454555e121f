import { BatchWriteItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestTable, TEST_AWS, testDynamoDbClient } from '../../test/support/dynamodb.ts';
import type { StackOutputs } from './context.ts';
import { type Ledger, newSideEffects, readLedger } from './ledger.ts';
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

  test('a new side effect shows up as the difference', async () => {
    const before = await readLedger(target(), 'D', ddb);
    await put(tables.shipments, [['ORDER#D', 'SHIPMENT']]);
    const after = await readLedger(target(), 'D', ddb);
    expect(newSideEffects(before, after)).toBe(1);
  });
});
