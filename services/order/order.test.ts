import {
  DeleteItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { isValid, ulid } from 'ulid';
import { beforeAll, describe, expect, test } from 'vitest';
import { testDynamoDbClient, useTestAwsEnv } from '../../test/support/dynamodb.ts';
import {
  createServiceTables,
  httpApiEvent,
  lambdaContext,
  type ServiceTables,
  setServiceEnv,
} from '../shared/testing.ts';
import {
  buildPlaceOrderTransaction,
  deriveOrderId,
  formatIssuePath,
  MAX_ITEMS,
  OUTBOX_TTL_SECONDS,
  orderDifferences,
  priceOrder,
  type SagaInput,
  ULID_PATTERN,
  validateOrderRequest,
} from './order.ts';

type Handler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

const client = testDynamoDbClient();
let tables: ServiceTables;
let handler: Handler;

beforeAll(async () => {
  useTestAwsEnv();
  tables = await createServiceTables(client);
  setServiceEnv(tables);
  ({ handler } = await import('./handler.ts'));
});

const post = (body: string, headers: Record<string, string> = {}) =>
  handler(httpApiEvent('POST', '/orders', { body, headers }), lambdaContext());

const ALICE = 'arn:aws:iam::000000000000:user/alice';
const BOB = 'arn:aws:sts::000000000000:assumed-role/Shop/bob-session';

/** A POST signed by `userArn`: the IAM authorizer's `requestContext.authorizer.iam`, as the HTTP API sends it. */
function postAs(userArn: string, body: string, headers: Record<string, string> = {}) {
  const event = httpApiEvent('POST', '/orders', { body, headers });
  Object.assign(event.requestContext, {
    authorizer: {
      iam: {
        accessKey: 'AKIAEXAMPLE',
        accountId: '000000000000',
        callerId: 'AIDAEXAMPLE',
        cognitoIdentity: null,
        principalOrgId: null,
        userArn,
        userId: 'AIDAEXAMPLE',
      },
    },
  });
  return handler(event, lambdaContext());
}

/** Forgets every Powertools record of the order POST, as if the function had died before storing its result. */
async function forgetIdempotencyRecords(): Promise<void> {
  const { Items = [] } = await client.send(new ScanCommand({ TableName: tables.IDEMPOTENCY_TABLE }));
  for (const item of Items) {
    if (item.id?.S?.startsWith('order.place#')) {
      await client.send(new DeleteItemCommand({ TableName: tables.IDEMPOTENCY_TABLE, Key: { id: item.id } }));
    }
  }
}

const bodyOf = (response: APIGatewayProxyStructuredResultV2): Record<string, unknown> =>
  JSON.parse(response.body ?? '{}') as Record<string, unknown>;

async function rowCount(): Promise<number> {
  const { Count } = await client.send(new ScanCommand({ TableName: tables.ORDERS_TABLE, Select: 'COUNT' }));
  return Count ?? 0;
}

async function rowsOf(orderId: string) {
  const order = await client.send(
    new QueryCommand({
      TableName: tables.ORDERS_TABLE,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': { S: `ORDER#${orderId}` } },
    }),
  );
  const outbox = await client.send(
    new QueryCommand({
      TableName: tables.ORDERS_TABLE,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': { S: `OUTBOX#${orderId}` } },
    }),
  );
  return { order: order.Items ?? [], outbox: outbox.Items ?? [] };
}

describe('domain', () => {
  test('prices from the catalog: Σ priceCents × qty', () => {
    expect(
      priceOrder([
        { sku: 'espresso-beans', qty: 2 },
        { sku: 'ceramic-mug', qty: 3 },
      ]),
    ).toBe(2 * 2450 + 3 * 1200);
  });

  test('validation defaults the currency to EUR and reports every problem at its field path', () => {
    const ok = validateOrderRequest({ customerId: 'c1', items: [{ sku: 'ceramic-mug', qty: 1 }] });
    expect(ok).toEqual({
      ok: true,
      request: { customerId: 'c1', items: [{ sku: 'ceramic-mug', qty: 1 }], currency: 'EUR' },
    });

    const bad = validateOrderRequest({ customerId: '', items: [{ sku: 'nope', qty: 0 }], currency: 'JPY' });
    expect(bad.ok).toBe(false);
    const paths = bad.ok ? [] : bad.issues.map((issue) => issue.path);
    expect(paths).toEqual(expect.arrayContaining(['customerId', 'items[0].qty', 'currency', 'items[0].sku']));
  });

  test('derived order ids: ULIDs (first char 0–7), the same for the same caller and key, else different', () => {
    const id = deriveOrderId(ALICE, 'k1');
    expect(id).toMatch(ULID_PATTERN);
    expect(isValid(id)).toBe(true);
    expect(deriveOrderId(ALICE, 'k1')).toBe(id);
    expect(deriveOrderId(ALICE, 'k2')).not.toBe(id);
    expect(deriveOrderId(BOB, 'k1')).not.toBe(id);
    // No ambiguity from the separator: ("a\nb", "c") and ("a", "b\nc") are different callers and keys.
    expect(deriveOrderId('a\nb', 'c')).not.toBe(deriveOrderId('a', 'b\nc'));
    const firsts = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const derived = deriveOrderId(ALICE, `key-${i}`);
      expect(derived).toMatch(ULID_PATTERN);
      firsts.add(derived.charAt(0));
    }
    // The first character takes all eight values 0–7 (3 bits of the hash), never more.
    expect([...firsts].sort().join('')).toBe('01234567');
  });

  test('orderDifferences compares customerId, the lines as a set, and currency', () => {
    const row = {
      customerId: 'c1',
      items: [
        { sku: 'a', qty: 1 },
        { sku: 'b', qty: 2 },
      ],
      currency: 'EUR',
    };
    expect(
      orderDifferences(row, {
        customerId: 'c1',
        items: [
          { sku: 'b', qty: 2 },
          { sku: 'a', qty: 1 },
        ],
        currency: 'EUR',
      }),
    ).toEqual([]);
    expect(
      orderDifferences(row, { customerId: 'c2', items: [{ sku: 'a', qty: 1 }], currency: 'USD' }),
    ).toEqual(['customerId', 'items', 'currency']);
    expect(
      orderDifferences({}, { customerId: 'c1', items: [{ sku: 'a', qty: 1 }], currency: 'EUR' }),
    ).toEqual(['customerId', 'items', 'currency']);
  });

  test('issue paths read like the JSON they point into', () => {
    expect(formatIssuePath(['items', 3, 'qty'])).toBe('items[3].qty');
    expect(formatIssuePath([])).toBe('(body)');
  });

  test('the transaction puts the order and its outbox event, each only if new', () => {
    const input: SagaInput = {
      orderId: '01JDQ3V5G8M2W4X6Y8Z0A2B4C6',
      customerId: 'c1',
      items: [{ sku: 'ceramic-mug', qty: 2 }],
      amount: 2400,
      currency: 'EUR',
    };
    const now = new Date('2026-11-27T10:00:00.000Z');
    const tx = buildPlaceOrderTransaction({
      table: 'Orders',
      input,
      eventId: '01JDQ3V5G8M2W4X6Y8Z0A2B4C7',
      now,
    });
    const [order, outbox] = tx.TransactItems ?? [];
    expect(order?.Put?.Item).toMatchObject({
      pk: `ORDER#${input.orderId}`,
      sk: 'ORDER',
      status: 'PENDING',
      amount: 2400,
    });
    expect(order?.Put?.ConditionExpression).toBe('attribute_not_exists(pk)');
    expect(outbox?.Put?.Item).toMatchObject({
      pk: `OUTBOX#${input.orderId}`,
      sk: 'EVENT#01JDQ3V5G8M2W4X6Y8Z0A2B4C7',
      eventType: 'OrderPlaced',
      payload: input,
      ttl: now.getTime() / 1000 + OUTBOX_TTL_SECONDS,
    });
  });

  test('the transaction writes both rows or neither (a failing outbox put leaves no order row)', async () => {
    const orderId = ulid();
    const eventId = ulid();
    // An outbox row that is already there makes the second Put's condition fail.
    await client.send(
      new PutItemCommand({
        TableName: tables.ORDERS_TABLE,
        Item: { pk: { S: `OUTBOX#${orderId}` }, sk: { S: `EVENT#${eventId}` } },
      }),
    );
    const input: SagaInput = {
      orderId,
      customerId: 'c1',
      items: [{ sku: 'ceramic-mug', qty: 1 }],
      amount: 1200,
      currency: 'EUR',
    };
    const doc = DynamoDBDocumentClient.from(client);
    await expect(
      doc.send(
        new TransactWriteCommand(
          buildPlaceOrderTransaction({ table: tables.ORDERS_TABLE, input, eventId, now: new Date() }),
        ),
      ),
    ).rejects.toMatchObject({ name: 'TransactionCanceledException' });
    const rows = await rowsOf(orderId);
    expect(rows.order).toHaveLength(0);
    expect(rows.outbox).toHaveLength(1);
  });
});

describe('POST /orders', () => {
  test('places an order: 202, order row PENDING and outbox event with the saga input, in one go', async () => {
    const orderId = ulid();
    const response = await post(
      JSON.stringify({
        orderId,
        customerId: 'cust-1',
        items: [
          { sku: 'espresso-beans', qty: 2 },
          { sku: 'paper-filters', qty: 1 },
        ],
        currency: 'USD',
      }),
    );
    expect(response.statusCode).toBe(202);
    expect(bodyOf(response)).toEqual({ orderId, status: 'PENDING' });

    const { order, outbox } = await rowsOf(orderId);
    expect(order).toHaveLength(1);
    expect(order[0]?.status?.S).toBe('PENDING');
    expect(order[0]?.amount?.N).toBe(String(2 * 2450 + 650));
    expect(order[0]?.currency?.S).toBe('USD');
    expect(order[0]?.createdAt?.S).toBe(order[0]?.updatedAt?.S);
    expect(outbox).toHaveLength(1);
    expect(outbox[0]?.eventType?.S).toBe('OrderPlaced');
    expect(outbox[0]?.sk?.S).toBe(`EVENT#${outbox[0]?.eventId?.S}`);
    const payload = outbox[0]?.payload?.M;
    expect(payload?.orderId?.S).toBe(orderId);
    expect(payload?.amount?.N).toBe(String(2 * 2450 + 650));
    expect(payload?.items?.L).toHaveLength(2);
    const ttl = Number(outbox[0]?.ttl?.N);
    expect(ttl - Math.floor(Date.now() / 1000)).toBeGreaterThan(OUTBOX_TTL_SECONDS - 60);
  });

  test('a base64-encoded body (as API Gateway sends non-text content types) is decoded', async () => {
    const orderId = ulid();
    const body = Buffer.from(
      JSON.stringify({ orderId, customerId: 'b64', items: [{ sku: 'ceramic-mug', qty: 1 }] }),
    ).toString('base64');
    const response = await handler(
      httpApiEvent('POST', '/orders', { body, isBase64Encoded: true }),
      lambdaContext(),
    );
    expect(response.statusCode).toBe(202);
    expect((await rowsOf(orderId)).order).toHaveLength(1);
  });

  test('generates a ULID order id when the client gives none', async () => {
    const response = await post(
      JSON.stringify({ customerId: 'cust-2', items: [{ sku: 'ceramic-mug', qty: 1 }] }),
    );
    expect(response.statusCode).toBe(202);
    const { orderId } = bodyOf(response);
    expect(orderId).toMatch(/^[0-7][0-9A-HJKMNP-TV-Z]{25}$/);
    expect((await rowsOf(String(orderId))).order[0]?.currency?.S).toBe('EUR');
  });

  test('a duplicate order id with a different body is refused with 409 naming the fields; nothing changes', async () => {
    const orderId = ulid();
    expect(
      (await post(JSON.stringify({ orderId, customerId: 'first', items: [{ sku: 'ceramic-mug', qty: 1 }] })))
        .statusCode,
    ).toBe(202);
    const before = await rowsOf(orderId);
    const count = await rowCount();

    const response = await post(
      JSON.stringify({ orderId, customerId: 'second', items: [{ sku: 'burr-grinder', qty: 1 }] }),
    );
    expect(response.statusCode).toBe(409);
    expect(bodyOf(response).message).toContain(
      `Order ${orderId} already exists with a different customerId, items`,
    );
    expect(bodyOf(response).differences).toEqual(['customerId', 'items']);
    expect(await rowsOf(orderId)).toEqual(before);
    expect(await rowCount()).toBe(count);
  });

  test('a different currency alone is a conflict too, and says so', async () => {
    const orderId = ulid();
    const order = { orderId, customerId: 'cur', items: [{ sku: 'ceramic-mug', qty: 1 }] };
    expect((await post(JSON.stringify(order))).statusCode).toBe(202);
    const response = await post(JSON.stringify({ ...order, currency: 'GBP' }));
    expect(response.statusCode).toBe(409);
    expect(bodyOf(response)).toMatchObject({ orderId, differences: ['currency'] });
    expect(bodyOf(response).message).toMatch(/different currency; nothing was written/);
  });

  test('repeating an order (same id and body, lines in another order) answers it: 202, order-existed, its status', async () => {
    const orderId = ulid();
    const lines = [
      { sku: 'ceramic-mug', qty: 1 },
      { sku: 'espresso-beans', qty: 2 },
    ];
    const first = await post(JSON.stringify({ orderId, customerId: 'again', items: lines }));
    expect(first.statusCode).toBe(202);
    expect(first.headers?.['order-existed']).toBeUndefined();
    const count = await rowCount();

    const repeat = await post(
      JSON.stringify({ orderId, customerId: 'again', items: [...lines].reverse(), currency: 'EUR' }),
    );
    expect(repeat.statusCode).toBe(202);
    expect(bodyOf(repeat)).toEqual({ orderId, status: 'PENDING' });
    expect(repeat.headers?.['order-existed']).toBe('true');
    expect(await rowCount()).toBe(count);

    // Once the saga moved the order on, a repeat answers its status now.
    await client.send(
      new UpdateItemCommand({
        TableName: tables.ORDERS_TABLE,
        Key: { pk: { S: `ORDER#${orderId}` }, sk: { S: 'ORDER' } },
        UpdateExpression: 'SET #s = :s',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: { ':s': { S: 'COMPLETED' } },
      }),
    );
    const later = await post(JSON.stringify({ orderId, customerId: 'again', items: lines }));
    expect(later.statusCode).toBe(202);
    expect(bodyOf(later)).toEqual({ orderId, status: 'COMPLETED' });
  });

  const tooMany = Array.from({ length: MAX_ITEMS + 1 }, (_, i) => ({ sku: `sku-${i}`, qty: 1 }));
  const badInputs: { name: string; body: string; path?: string; message: RegExp }[] = [
    { name: 'non-JSON', body: '{"customerId": "c1", items: [', message: /not valid JSON/ },
    { name: 'empty body', body: '', message: /empty/ },
    { name: 'a JSON array', body: '[]', path: '(body)', message: /expected object/i },
    {
      name: 'a body over 64 KB',
      body: JSON.stringify({ customerId: 'x'.repeat(70_000), items: [] }),
      message: /limit is 65536 bytes/,
    },
    {
      name: 'qty as a string',
      body: '{"customerId":"c1","items":[{"sku":"ceramic-mug","qty":"2"}]}',
      path: 'items[0].qty',
      message: /whole number.*"2"/,
    },
    {
      name: 'customerId as a number',
      body: '{"customerId":5,"items":[{"sku":"ceramic-mug","qty":1}]}',
      path: 'customerId',
      message: /received 5/,
    },
    {
      name: 'zero qty',
      body: '{"customerId":"c1","items":[{"sku":"ceramic-mug","qty":0}]}',
      path: 'items[0].qty',
      message: /at least 1, received 0/,
    },
    {
      name: 'negative qty',
      body: '{"customerId":"c1","items":[{"sku":"ceramic-mug","qty":-3}]}',
      path: 'items[0].qty',
      message: /at least 1, received -3/,
    },
    {
      name: 'fractional qty',
      body: '{"customerId":"c1","items":[{"sku":"ceramic-mug","qty":1.5}]}',
      path: 'items[0].qty',
      message: /whole number/,
    },
    { name: 'no items', body: '{"customerId":"c1","items":[]}', path: 'items', message: /at least one item/ },
    {
      name: 'too many items',
      body: JSON.stringify({ customerId: 'c1', items: tooMany }),
      path: 'items',
      message: /at most 25 lines, received 26/,
    },
    {
      name: 'an unknown SKU',
      body: '{"customerId":"c1","items":[{"sku":"tea-leaves","qty":1}]}',
      path: 'items[0].sku',
      message: /unknown SKU "tea-leaves".*espresso-beans/,
    },
    {
      name: 'a repeated SKU',
      body: '{"customerId":"c1","items":[{"sku":"ceramic-mug","qty":1},{"sku":"ceramic-mug","qty":2}]}',
      path: 'items[1].sku',
      message: /already on line 0/,
    },
    {
      name: 'an unsupported currency',
      body: '{"customerId":"c1","items":[{"sku":"ceramic-mug","qty":1}],"currency":"JPY"}',
      path: 'currency',
      message: /EUR, USD, GBP.*"JPY"/,
    },
    {
      name: 'a malformed orderId',
      body: '{"orderId":"order-1","customerId":"c1","items":[{"sku":"ceramic-mug","qty":1}]}',
      path: 'orderId',
      message: /ULID.*"order-1"/,
    },
    {
      name: 'an unknown field',
      body: '{"customerId":"c1","items":[{"sku":"ceramic-mug","qty":1}],"price":1}',
      path: '(body)',
      message: /price/,
    },
    {
      name: 'a missing customerId',
      body: '{"items":[{"sku":"ceramic-mug","qty":1}]}',
      path: 'customerId',
      message: /received undefined/,
    },
  ];

  test.each(badInputs)('$name → 400 with a message and nothing written', async ({ body, path, message }) => {
    const count = await rowCount();
    const response = await post(body);
    expect(response.statusCode).toBe(400);
    const answer = bodyOf(response);
    expect(String(answer.message)).toMatch(path ? /Invalid order request/ : message);
    if (path) {
      const errors = answer.errors as { path: string; message: string }[];
      expect(errors).toEqual(
        expect.arrayContaining([expect.objectContaining({ path, message: expect.stringMatching(message) })]),
      );
    }
    expect(await rowCount()).toBe(count);
  });
});

describe('POST /orders with Idempotency-Key', () => {
  test('the same key and body give the same response and write once, even without a client order id', async () => {
    const key = `key-${ulid()}`;
    const body = JSON.stringify({ customerId: 'idem-1', items: [{ sku: 'milk-frother', qty: 1 }] });
    const first = await post(body, { 'idempotency-key': key });
    const count = await rowCount();
    // Same content, other key order and an explicit default currency: the same request.
    const second = await post(
      JSON.stringify({ items: [{ qty: 1, sku: 'milk-frother' }], customerId: 'idem-1', currency: 'EUR' }),
      {
        'idempotency-key': key,
      },
    );
    expect(first.statusCode).toBe(202);
    expect(second.statusCode).toBe(202);
    expect(bodyOf(second)).toEqual(bodyOf(first));
    expect(await rowCount()).toBe(count);
    expect((await rowsOf(String(bodyOf(first).orderId))).outbox).toHaveLength(1);
  });

  test('the same key with a different body → 422 and nothing written', async () => {
    const key = `key-${ulid()}`;
    await post(JSON.stringify({ customerId: 'idem-2', items: [{ sku: 'ceramic-mug', qty: 1 }] }), {
      'idempotency-key': key,
    });
    const count = await rowCount();
    const response = await post(
      JSON.stringify({ customerId: 'idem-2', items: [{ sku: 'ceramic-mug', qty: 5 }] }),
      {
        'idempotency-key': key,
      },
    );
    expect(response.statusCode).toBe(422);
    expect(bodyOf(response).message).toMatch(/already used with a different request body/);
    expect(await rowCount()).toBe(count);
  });

  test('different keys place different orders', async () => {
    const body = JSON.stringify({ customerId: 'idem-3', items: [{ sku: 'ceramic-mug', qty: 1 }] });
    const a = await post(body, { 'idempotency-key': `a-${ulid()}` });
    const b = await post(body, { 'idempotency-key': `b-${ulid()}` });
    expect(bodyOf(a).orderId).not.toBe(bodyOf(b).orderId);
  });

  test('without an orderId, the order id is derived from the SigV4 caller and the key', async () => {
    const key = `key-${ulid()}`;
    const body = JSON.stringify({ customerId: 'derived', items: [{ sku: 'ceramic-mug', qty: 1 }] });
    const response = await postAs(ALICE, body, { 'idempotency-key': key });
    expect(response.statusCode).toBe(202);
    expect(bodyOf(response)).toEqual({ orderId: deriveOrderId(ALICE, key), status: 'PENDING' });
    expect((await rowsOf(deriveOrderId(ALICE, key))).order).toHaveLength(1);
  });

  test('a crash after the commit (no stored result) and a retry: the same order, not a second one', async () => {
    const key = `key-${ulid()}`;
    const body = JSON.stringify({ customerId: 'crash', items: [{ sku: 'burr-grinder', qty: 1 }] });
    const first = await postAs(ALICE, body, { 'idempotency-key': key });
    expect(first.statusCode).toBe(202);
    await forgetIdempotencyRecords();
    const count = await rowCount();

    const retry = await postAs(ALICE, body, { 'idempotency-key': key });

    expect(retry.statusCode).toBe(202);
    expect(bodyOf(retry)).toEqual(bodyOf(first));
    expect(retry.headers?.['order-existed']).toBe('true');
    expect(await rowCount()).toBe(count);
    expect((await rowsOf(String(bodyOf(first).orderId))).outbox).toHaveLength(1);
  });

  test('after the stored result is gone, the same key with another body is a 409 naming what differs', async () => {
    const key = `key-${ulid()}`;
    await postAs(ALICE, JSON.stringify({ customerId: 'k', items: [{ sku: 'ceramic-mug', qty: 1 }] }), {
      'idempotency-key': key,
    });
    await forgetIdempotencyRecords();
    const response = await postAs(
      ALICE,
      JSON.stringify({ customerId: 'k', items: [{ sku: 'ceramic-mug', qty: 2 }] }),
      {
        'idempotency-key': key,
      },
    );
    expect(response.statusCode).toBe(409);
    expect(bodyOf(response)).toMatchObject({ orderId: deriveOrderId(ALICE, key), differences: ['items'] });
  });

  test('the same key from another caller is another order', async () => {
    const key = `key-${ulid()}`;
    const body = JSON.stringify({ customerId: 'shared-key', items: [{ sku: 'ceramic-mug', qty: 1 }] });
    const alice = await postAs(ALICE, body, { 'idempotency-key': key });
    // Within the hour Powertools keeps Alice's answer: Bob's request must not get it.
    const bob = await postAs(BOB, body, { 'idempotency-key': key });
    expect(alice.statusCode).toBe(202);
    expect(bob.statusCode).toBe(202);
    expect(bodyOf(bob).orderId).toBe(deriveOrderId(BOB, key));
    expect(bodyOf(bob).orderId).not.toBe(bodyOf(alice).orderId);
    expect(bob.headers?.['order-existed']).toBeUndefined();
  });

  test('a client-chosen orderId wins over the derived one', async () => {
    const orderId = ulid();
    const response = await postAs(
      ALICE,
      JSON.stringify({ orderId, customerId: 'own-id', items: [{ sku: 'ceramic-mug', qty: 1 }] }),
      { 'idempotency-key': `key-${ulid()}` },
    );
    expect(bodyOf(response).orderId).toBe(orderId);
  });

  test('a malformed key → 400', async () => {
    const response = await post(
      JSON.stringify({ customerId: 'c', items: [{ sku: 'ceramic-mug', qty: 1 }] }),
      {
        'idempotency-key': 'has spaces in it',
      },
    );
    expect(response.statusCode).toBe(400);
    expect(bodyOf(response).message).toMatch(/Idempotency-Key/);
  });
});

describe('GET /orders/{id}', () => {
  test('returns the order', async () => {
    const orderId = ulid();
    await post(JSON.stringify({ orderId, customerId: 'get-1', items: [{ sku: 'burr-grinder', qty: 1 }] }));
    const response = await handler(httpApiEvent('GET', `/orders/${orderId}`), lambdaContext());
    expect(response.statusCode).toBe(200);
    expect(bodyOf(response)).toMatchObject({
      orderId,
      status: 'PENDING',
      customerId: 'get-1',
      items: [{ sku: 'burr-grinder', qty: 1 }],
      amount: 12900,
      currency: 'EUR',
    });
    expect(bodyOf(response)).not.toHaveProperty('pk');
  });

  test('404 for an order that does not exist, 400 for a malformed id', async () => {
    expect((await handler(httpApiEvent('GET', `/orders/${ulid()}`), lambdaContext())).statusCode).toBe(404);
    const bad = await handler(httpApiEvent('GET', '/orders/not-a-ulid'), lambdaContext());
    expect(bad.statusCode).toBe(400);
    expect(bodyOf(bad).message).toMatch(/ULID.*"not-a-ulid"/);
  });

  test('other methods and routes are refused', async () => {
    expect((await handler(httpApiEvent('DELETE', `/orders/${ulid()}`), lambdaContext())).statusCode).toBe(
      405,
    );
    expect((await handler(httpApiEvent('GET', '/orders'), lambdaContext())).statusCode).toBe(405);
    expect((await handler(httpApiEvent('GET', '/customers'), lambdaContext())).statusCode).toBe(404);
  });
});
