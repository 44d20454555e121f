import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { beforeAll, expect, test } from 'vitest';
import { testDynamoDbClient, useTestAwsEnv } from '../../test/support/dynamodb.ts';
import { deleteFailureFlag, GLOBAL_SCOPE, parseFailSpec, writeFailureFlag } from './failure-flags.ts';
import { type SagaActionEnvironment, sagaActionHandler } from './saga-action.ts';
import {
  createServiceTables,
  lambdaContext,
  placeTestOrder,
  type ServiceTables,
  setServiceEnv,
} from './testing.ts';
import * as z from './zod.ts';

const client = testDynamoDbClient();
let tables: ServiceTables;

beforeAll(async () => {
  useTestAwsEnv();
  tables = await createServiceTables(client);
  setServiceEnv(tables);
});

const schema = z.object({ orderId: z.string(), idempotency_key: z.string() });

/** A saga action whose dependency is nothing: only the flags make it fail. */
function action(environment: Partial<SagaActionEnvironment> = {}) {
  return sagaActionHandler(
    {
      action: 'ship',
      step: 'shipping',
      schema,
      keyPrefix: 'test.ship',
      payloadValidationJmesPath: 'orderId',
      run: async (_input, hooks) => {
        await hooks.before();
        await hooks.afterCommit();
        return { shipped: true };
      },
    },
    {
      client,
      idempotencyTable: tables.IDEMPOTENCY_TABLE,
      failureFlagsTable: tables.FAILURE_FLAGS_TABLE,
      ...environment,
    },
  );
}

async function injected(orderId: string): Promise<string[] | undefined> {
  const { Item } = await client.send(
    new GetItemCommand({
      TableName: tables.ORDERS_TABLE,
      Key: { pk: { S: `ORDER#${orderId}` }, sk: { S: 'ORDER' } },
      ConsistentRead: true,
    }),
  );
  return Item?.injected?.SS?.sort();
}

const invoke = (handler: ReturnType<typeof action>, orderId: string, attempt = 1) =>
  handler({ orderId, idempotency_key: `${orderId}#ship#${attempt}` }, lambdaContext());

test('an order flag that acts is recorded on the ORDER row (`injected`), and stays there after the flag is cleared', async () => {
  const orderId = await placeTestOrder(client, tables.ORDERS_TABLE);
  const handler = action();
  await writeFailureFlag(
    client,
    tables.FAILURE_FLAGS_TABLE,
    { orderId },
    parseFailSpec('shipping:transient:2'),
  );
  await expect(invoke(handler, orderId, 1)).rejects.toMatchObject({ name: 'TransientError' });
  expect(await injected(orderId)).toEqual(['shipping:transient:2']);
  await expect(invoke(handler, orderId, 2)).rejects.toMatchObject({ name: 'TransientError' });
  await deleteFailureFlag(client, tables.FAILURE_FLAGS_TABLE, { orderId }, 'shipping');
  await expect(invoke(handler, orderId, 3)).resolves.toEqual({ shipped: true });
  expect(await injected(orderId)).toEqual(['shipping:transient:2']);
  const { Item } = await client.send(
    new GetItemCommand({
      TableName: tables.ORDERS_TABLE,
      Key: { pk: { S: `ORDER#${orderId}` }, sk: { S: 'ORDER' } },
    }),
  );
  expect(Item?.status?.S).toBe('PENDING');
});

test('a GLOBAL hit is recorded with its scope, next to an order flag that acted too', async () => {
  const orderId = await placeTestOrder(client, tables.ORDERS_TABLE);
  const handler = action({ ordersTable: tables.ORDERS_TABLE });
  await writeFailureFlag(client, tables.FAILURE_FLAGS_TABLE, GLOBAL_SCOPE, {
    ...parseFailSpec('shipping:error'),
    rate: 1,
  });
  try {
    await expect(invoke(handler, orderId, 1)).rejects.toMatchObject({ name: 'ShippingUnavailable' });
  } finally {
    await deleteFailureFlag(client, tables.FAILURE_FLAGS_TABLE, GLOBAL_SCOPE, 'shipping');
  }
  await writeFailureFlag(
    client,
    tables.FAILURE_FLAGS_TABLE,
    { orderId },
    parseFailSpec('shipping:crash-after-commit'),
  );
  await expect(invoke(handler, orderId, 2)).rejects.toMatchObject({ name: 'TransientError' });
  expect(await injected(orderId)).toEqual(['GLOBAL shipping:error', 'shipping:crash-after-commit']);
});

test('no flag, or a flag that has run out or missed by its rate: nothing is recorded', async () => {
  const orderId = await placeTestOrder(client, tables.ORDERS_TABLE);
  const handler = action();
  await expect(invoke(handler, orderId, 1)).resolves.toEqual({ shipped: true });
  await writeFailureFlag(
    client,
    tables.FAILURE_FLAGS_TABLE,
    { orderId },
    { ...parseFailSpec('shipping'), rate: 0 },
  );
  await expect(invoke(handler, orderId, 2)).resolves.toEqual({ shipped: true });
  expect(await injected(orderId)).toBeUndefined();
});
