import { QueryCommand } from '@aws-sdk/client-dynamodb';
import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { beforeAll, describe, expect, test, vi } from 'vitest';
import { testDynamoDbClient, useTestAwsEnv } from '../../test/support/dynamodb.ts';
import { parseFailSpec, readFailureFlag, writeFailureFlag } from '../shared/failure-flags.ts';
import {
  createServiceTables,
  lambdaContext,
  placeTestOrder,
  type ServiceTables,
  setServiceEnv,
} from '../shared/testing.ts';
import type { ChargeResult, RefundResult } from './payment.ts';

type Action<R> = (event: unknown, context: Context) => Promise<R>;

const client = testDynamoDbClient();
let tables: ServiceTables;
const pending = (): Promise<string> => placeTestOrder(client, tables.ORDERS_TABLE);
let charge: Action<ChargeResult>;
let refund: Action<RefundResult>;

beforeAll(async () => {
  useTestAwsEnv();
  tables = await createServiceTables(client);
  setServiceEnv(tables);
  ({ charge, refund } = await import('./handler.ts'));
});

const chargeEvent = (orderId: string, amount = 2450, key = `${orderId}#charge`) => ({
  orderId,
  amount,
  currency: 'EUR',
  idempotency_key: key,
});
const refundEvent = (orderId: string, amount = 2450, key = `${orderId}#refund`) => ({
  orderId,
  amount,
  currency: 'EUR',
  idempotency_key: key,
});

async function paymentRows(orderId: string, sk: 'CHARGE' | 'REFUND') {
  const { Items } = await client.send(
    new QueryCommand({
      TableName: tables.PAYMENTS_TABLE,
      KeyConditionExpression: 'pk = :pk AND sk = :sk',
      ExpressionAttributeValues: { ':pk': { S: `ORDER#${orderId}` }, ':sk': { S: sk } },
    }),
  );
  return Items ?? [];
}

const flag = (orderId: string, spec: string) =>
  writeFailureFlag(client, tables.FAILURE_FLAGS_TABLE, { orderId }, parseFailSpec(spec));

describe('charge', () => {
  test('charges once: the same key twice gives the same charge and one CHARGE row', async () => {
    const orderId = await pending();
    const first = await charge(chargeEvent(orderId), lambdaContext());
    const second = await charge(chargeEvent(orderId), lambdaContext());
    expect(first).toEqual({ chargeId: expect.stringMatching(/^ch_/), amount: 2450, currency: 'EUR' });
    expect(second).toEqual(first);
    const rows = await paymentRows(orderId, 'CHARGE');
    expect(rows).toHaveLength(1);
    expect(rows[0]?.chargeId?.S).toBe(first.chargeId);
  });

  test('25 concurrent calls with one key: one side effect, the others in progress or the cached result', async () => {
    const orderId = await pending();
    const { documentClient } = await import('../shared/clients.ts');
    const send = vi.spyOn(documentClient, 'send');
    const outcomes = await Promise.allSettled(
      Array.from({ length: 25 }, () => charge(chargeEvent(orderId), lambdaContext())),
    );
    const rows = await paymentRows(orderId, 'CHARGE');
    expect(rows).toHaveLength(1);
    const chargeId = rows[0]?.chargeId?.S;
    for (const outcome of outcomes) {
      if (outcome.status === 'fulfilled') expect(outcome.value.chargeId).toBe(chargeId);
      else expect(outcome.reason).toMatchObject({ name: 'IdempotencyAlreadyInProgressError' });
    }
    expect(outcomes.some((outcome) => outcome.status === 'fulfilled')).toBe(true);
    // The domain function ran once: one attempt to write a charge, not 25 that lost to the condition.
    const chargeWrites = send.mock.calls.filter(([command]) => command instanceof TransactWriteCommand);
    send.mockRestore();
    expect(chargeWrites).toHaveLength(1);
  });

  test('the same key with a changed amount is refused by Powertools payload validation', async () => {
    const orderId = await pending();
    await charge(chargeEvent(orderId, 1000), lambdaContext());
    await expect(charge(chargeEvent(orderId, 9999), lambdaContext())).rejects.toMatchObject({
      name: 'IdempotencyValidationError',
    });
    expect(await paymentRows(orderId, 'CHARGE')).toHaveLength(1);
  });

  test('crash after commit, then retry: the retry finds the charge, one side effect', async () => {
    const orderId = await pending();
    await flag(orderId, 'payment:crash-after-commit');
    await expect(charge(chargeEvent(orderId), lambdaContext())).rejects.toMatchObject({
      name: 'TransientError',
      message: expect.stringContaining('crashed after commit'),
    });
    const committed = await paymentRows(orderId, 'CHARGE');
    expect(committed).toHaveLength(1);

    const retried = await charge(chargeEvent(orderId), lambdaContext());
    expect(retried.chargeId).toBe(committed[0]?.chargeId?.S);
    expect(await paymentRows(orderId, 'CHARGE')).toHaveLength(1);
  });

  test('error mode: PaymentDeclined and no charge', async () => {
    const orderId = await pending();
    await flag(orderId, 'payment:error');
    await expect(charge(chargeEvent(orderId), lambdaContext())).rejects.toMatchObject({
      name: 'PaymentDeclined',
    });
    expect(await paymentRows(orderId, 'CHARGE')).toHaveLength(0);
  });

  test('transient:2 fails twice with TransientError, then charges once', async () => {
    const orderId = await pending();
    await flag(orderId, 'payment:transient:2');
    for (let attempt = 0; attempt < 2; attempt++) {
      await expect(charge(chargeEvent(orderId), lambdaContext())).rejects.toMatchObject({
        name: 'TransientError',
      });
      expect(await paymentRows(orderId, 'CHARGE')).toHaveLength(0);
    }
    await expect(charge(chargeEvent(orderId), lambdaContext())).resolves.toMatchObject({ amount: 2450 });
    expect(await paymentRows(orderId, 'CHARGE')).toHaveLength(1);
    expect((await readFailureFlag(client, tables.FAILURE_FLAGS_TABLE, orderId, 'payment'))?.remaining).toBe(
      0,
    );
  });

  test('timeout mode sleeps past the remaining time and commits nothing', async () => {
    const orderId = await pending();
    await flag(orderId, 'payment:timeout');
    const started = Date.now();
    await expect(charge(chargeEvent(orderId), lambdaContext({ remainingMs: 100 }))).rejects.toMatchObject({
      name: 'TransientError',
      message: expect.stringContaining('past the function timeout'),
    });
    // A lower bound (it slept at least the remaining time plus a second), not a speed assertion.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(await paymentRows(orderId, 'CHARGE')).toHaveLength(0);
  });

  test('latency mode delays, then charges', async () => {
    const orderId = await pending();
    await flag(orderId, 'payment:latency:300');
    const started = Date.now();
    await expect(charge(chargeEvent(orderId), lambdaContext())).resolves.toMatchObject({ amount: 2450 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  });

  test('a malformed payload is an InvalidInputError naming the fields', async () => {
    await expect(
      charge({ orderId: await pending(), amount: 'lots', currency: 'EUR' }, lambdaContext()),
    ).rejects.toMatchObject({
      name: 'InvalidInputError',
      message: expect.stringMatching(/amount.*idempotency_key|idempotency_key.*amount/s),
    });
  });
});

describe('charge at the edges', () => {
  test('an order that is no longer PENDING is not charged: OrderNotPending, no row', async () => {
    for (const status of ['CANCELLING', 'CANCELLED', 'COMPLETED']) {
      const orderId = await placeTestOrder(client, tables.ORDERS_TABLE, { status });
      await expect(charge(chargeEvent(orderId), lambdaContext())).rejects.toMatchObject({
        name: 'OrderNotPending',
      });
      expect(await paymentRows(orderId, 'CHARGE')).toHaveLength(0);
    }
  });

  test('answers from its ledger without consulting flags: an existing charge under a new key', async () => {
    const orderId = await pending();
    const first = await charge(chargeEvent(orderId), lambdaContext());
    await flag(orderId, 'payment:error');
    await expect(charge(chargeEvent(orderId, 2450, `${orderId}#charge#2`), lambdaContext())).resolves.toEqual(
      first,
    );
  });

  test('a refunded charge is not live: OrderNotPending, no second charge', async () => {
    const orderId = await pending();
    await charge(chargeEvent(orderId), lambdaContext());
    await refund(refundEvent(orderId), lambdaContext());
    await expect(
      charge(chargeEvent(orderId, 2450, `${orderId}#charge#again`), lambdaContext()),
    ).rejects.toMatchObject({ name: 'OrderNotPending' });
    expect(await paymentRows(orderId, 'CHARGE')).toHaveLength(1);
  });

  test('die-after-commit: the charge is committed before the process ends', async () => {
    const orderId = await pending();
    await flag(orderId, 'payment:die-after-commit');
    const exit = vi.spyOn(process, 'exit').mockImplementation((code) => {
      throw new Error(`process.exit(${String(code)})`);
    });
    await expect(charge(chargeEvent(orderId), lambdaContext())).rejects.toThrow('process.exit(1)');
    expect(exit).toHaveBeenCalledTimes(1);
    exit.mockRestore();
    expect(await paymentRows(orderId, 'CHARGE')).toHaveLength(1);
    const retried = await charge(chargeEvent(orderId), lambdaContext());
    expect(retried.chargeId).toBe((await paymentRows(orderId, 'CHARGE'))[0]?.chargeId?.S);
  });
});

describe('refund', () => {
  test('refunds what the CHARGE row says, not the amount in the payload', async () => {
    const orderId = await pending();
    await charge(chargeEvent(orderId, 1800), lambdaContext());
    await expect(refund(refundEvent(orderId, 99_999), lambdaContext())).resolves.toMatchObject({
      amount: 1800,
      refunded: true,
    });
    expect((await paymentRows(orderId, 'REFUND'))[0]?.amount?.N).toBe('1800');
  });

  test('nothing charged: answers without consulting flags (nothing to undo)', async () => {
    const orderId = await pending();
    await flag(orderId, 'refund:error');
    await expect(refund(refundEvent(orderId), lambdaContext())).resolves.toEqual({
      refundId: null,
      amount: 0,
      refunded: false,
    });
  });

  test('no charge: nothing to refund', async () => {
    const orderId = await pending();
    await expect(refund(refundEvent(orderId), lambdaContext())).resolves.toEqual({
      refundId: null,
      amount: 0,
      refunded: false,
    });
    expect(await paymentRows(orderId, 'REFUND')).toHaveLength(0);
  });

  test('refunds a charge once, also under a new key (a replayed saga)', async () => {
    const orderId = await pending();
    await charge(chargeEvent(orderId), lambdaContext());
    const first = await refund(refundEvent(orderId), lambdaContext());
    expect(first).toEqual({ refundId: expect.stringMatching(/^re_/), amount: 2450, refunded: true });
    expect(await refund(refundEvent(orderId), lambdaContext())).toEqual(first);
    expect(await refund(refundEvent(orderId, 2450, `${orderId}#refund#replay`), lambdaContext())).toEqual(
      first,
    );
    expect(await paymentRows(orderId, 'REFUND')).toHaveLength(1);
  });

  test('crash after commit, then retry: one refund', async () => {
    const orderId = await pending();
    await charge(chargeEvent(orderId), lambdaContext());
    await flag(orderId, 'refund:crash-after-commit');
    await expect(refund(refundEvent(orderId), lambdaContext())).rejects.toMatchObject({
      name: 'TransientError',
    });
    const retried = await refund(refundEvent(orderId), lambdaContext());
    const rows = await paymentRows(orderId, 'REFUND');
    expect(rows).toHaveLength(1);
    expect(retried).toEqual({ refundId: rows[0]?.refundId?.S, amount: 2450, refunded: true });
  });

  test('error mode: RefundFailed, and the refund is still possible once the flag is gone', async () => {
    const orderId = await pending();
    await charge(chargeEvent(orderId), lambdaContext());
    await flag(orderId, 'refund:error');
    await expect(refund(refundEvent(orderId), lambdaContext())).rejects.toMatchObject({
      name: 'RefundFailed',
    });
    expect(await paymentRows(orderId, 'REFUND')).toHaveLength(0);
  });
});
