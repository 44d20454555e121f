import { QueryCommand } from '@aws-sdk/client-dynamodb';
import { PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { ulid } from 'ulid';
import { beforeAll, describe, expect, test, vi } from 'vitest';
import { testDynamoDbClient, useTestAwsEnv } from '../../test/support/dynamodb.ts';
import { deleteFailureFlag, GLOBAL_SCOPE, parseFailSpec, writeFailureFlag } from '../shared/failure-flags.ts';
import {
  createServiceTables,
  lambdaContext,
  placeTestOrder,
  type ServiceTables,
  setServiceEnv,
} from '../shared/testing.ts';
import { CARRIERS, carrierFor, type ShipResult } from './shipping.ts';

const client = testDynamoDbClient();
let tables: ServiceTables;
const pending = (): Promise<string> => placeTestOrder(client, tables.ORDERS_TABLE);
let ship: (event: unknown, context: Context) => Promise<ShipResult>;

beforeAll(async () => {
  useTestAwsEnv();
  tables = await createServiceTables(client);
  setServiceEnv(tables);
  ({ ship } = await import('./handler.ts'));
});

const items = [{ sku: 'ceramic-mug', qty: 2 }];
const shipEvent = (orderId: string, lines = items, key = `${orderId}#ship`) => ({
  orderId,
  items: lines,
  idempotency_key: key,
});

async function shipments(orderId: string) {
  const { Items } = await client.send(
    new QueryCommand({
      TableName: tables.SHIPMENTS_TABLE,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': { S: `ORDER#${orderId}` } },
    }),
  );
  return Items ?? [];
}

const flag = (orderId: string, spec: string) =>
  writeFailureFlag(client, tables.FAILURE_FLAGS_TABLE, { orderId }, parseFailSpec(spec));

describe('ship', () => {
  test('ships once: the same key, and a new key (a replayed saga), give the same shipment', async () => {
    const orderId = await pending();
    const first = await ship(shipEvent(orderId), lambdaContext());
    expect(first).toEqual({ trackingId: expect.stringMatching(/^TRK/), carrier: carrierFor(orderId) });
    expect(await ship(shipEvent(orderId), lambdaContext())).toEqual(first);
    expect(await ship(shipEvent(orderId, items, `${orderId}#ship#replay`), lambdaContext())).toEqual(first);
    const rows = await shipments(orderId);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.sk?.S).toBe('SHIPMENT');
    expect(rows[0]?.trackingId?.S).toBe(first.trackingId);
  });

  test('25 concurrent calls with one key: one shipment written', async () => {
    const orderId = await pending();
    const { documentClient } = await import('../shared/clients.ts');
    const send = vi.spyOn(documentClient, 'send');
    const outcomes = await Promise.allSettled(
      Array.from({ length: 25 }, () => ship(shipEvent(orderId), lambdaContext())),
    );
    const writes = send.mock.calls.filter(([command]) => command instanceof TransactWriteCommand);
    send.mockRestore();
    const rows = await shipments(orderId);
    expect(rows).toHaveLength(1);
    expect(writes).toHaveLength(1);
    for (const outcome of outcomes) {
      if (outcome.status === 'fulfilled') expect(outcome.value.trackingId).toBe(rows[0]?.trackingId?.S);
      else expect(outcome.reason).toMatchObject({ name: 'IdempotencyAlreadyInProgressError' });
    }
  });

  test('the same key with changed items is refused by Powertools payload validation', async () => {
    const orderId = await pending();
    await ship(shipEvent(orderId), lambdaContext());
    await expect(
      ship(shipEvent(orderId, [{ sku: 'ceramic-mug', qty: 3 }]), lambdaContext()),
    ).rejects.toMatchObject({
      name: 'IdempotencyValidationError',
    });
  });

  test('crash after commit, then retry: one shipment', async () => {
    const orderId = await pending();
    await flag(orderId, 'shipping:crash-after-commit');
    await expect(ship(shipEvent(orderId), lambdaContext())).rejects.toMatchObject({
      name: 'TransientError',
      message: expect.stringContaining('crashed after commit'),
    });
    const retried = await ship(shipEvent(orderId), lambdaContext());
    const rows = await shipments(orderId);
    expect(rows).toHaveLength(1);
    expect(retried.trackingId).toBe(rows[0]?.trackingId?.S);
  });

  test('error mode: ShippingUnavailable and nothing shipped', async () => {
    const orderId = await pending();
    await flag(orderId, 'shipping:error');
    await expect(ship(shipEvent(orderId), lambdaContext())).rejects.toMatchObject({
      name: 'ShippingUnavailable',
    });
    expect(await shipments(orderId)).toHaveLength(0);
  });

  test('a GLOBAL flag hits every order; an order flag shadows it', async () => {
    await writeFailureFlag(client, tables.FAILURE_FLAGS_TABLE, GLOBAL_SCOPE, {
      ...parseFailSpec('shipping:error'),
      rate: 1,
    });
    try {
      await expect(ship(shipEvent(await pending()), lambdaContext())).rejects.toMatchObject({
        name: 'ShippingUnavailable',
      });
      const shielded = await pending();
      await flag(shielded, 'shipping:latency:1');
      await expect(ship(shipEvent(shielded), lambdaContext())).resolves.toMatchObject({
        carrier: carrierFor(shielded),
      });
    } finally {
      await deleteFailureFlag(client, tables.FAILURE_FLAGS_TABLE, GLOBAL_SCOPE, 'shipping');
    }
  });

  test('an existing shipment row is what a retry returns', async () => {
    const orderId = await pending();
    const { documentClient } = await import('../shared/clients.ts');
    await documentClient.send(
      new PutCommand({
        TableName: tables.SHIPMENTS_TABLE,
        Item: {
          pk: `ORDER#${orderId}`,
          sk: 'SHIPMENT',
          trackingId: 'TRK-EXISTING',
          carrier: 'UPS',
          at: 'then',
        },
      }),
    );
    await expect(ship(shipEvent(orderId), lambdaContext())).resolves.toEqual({
      trackingId: 'TRK-EXISTING',
      carrier: 'UPS',
    });
  });

  test('the carrier is one of the known ones and stable per order', () => {
    const orderId = ulid();
    expect(CARRIERS).toContain(carrierFor(orderId));
    expect(carrierFor(orderId)).toBe(carrierFor(orderId));
  });
});

describe('the order guard and the ledger', () => {
  test('an order that is no longer PENDING is not shipped: OrderNotPending, no shipment', async () => {
    for (const status of ['CANCELLING', 'CANCELLED', 'FAILED']) {
      const orderId = await placeTestOrder(client, tables.ORDERS_TABLE, { status });
      await expect(ship(shipEvent(orderId), lambdaContext())).rejects.toMatchObject({
        name: 'OrderNotPending',
      });
      expect(await shipments(orderId)).toHaveLength(0);
    }
  });

  test('an existing shipment answers without consulting flags, whatever the order status is now', async () => {
    const orderId = await pending();
    const first = await ship(shipEvent(orderId), lambdaContext());
    await placeTestOrder(client, tables.ORDERS_TABLE, { orderId, status: 'COMPLETED' });
    await flag(orderId, 'shipping:error');
    await expect(ship(shipEvent(orderId, items, `${orderId}#ship#2`), lambdaContext())).resolves.toEqual(
      first,
    );
    expect(await shipments(orderId)).toHaveLength(1);
  });
});
