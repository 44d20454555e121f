/**
 * Test helpers for the services' Vitest suites (not bundled into any function): a realistic Lambda context,
 * HTTP API events, and the six tables created on the suite's DynamoDB Local.
 */
import { randomUUID } from 'node:crypto';
import { type DynamoDBClient, PutItemCommand, type StreamSpecification } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { createTestTable } from '../../test/support/dynamodb.ts';
import { ulid } from './ulid.ts';

/** A Lambda context like the runtime's, whose remaining time counts down from `remainingMs`. */
export function lambdaContext(options: { remainingMs?: number; functionName?: string } = {}): Context {
  const functionName = options.functionName ?? 'saga-test-function';
  const deadline = Date.now() + (options.remainingMs ?? 30_000);
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: '256',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `2026/11/27/[$LATEST]${randomUUID().replaceAll('-', '')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** An HTTP API (payload 2.0) event as API Gateway sends it to the order function. */
export function httpApiEvent(
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  options: { body?: string; headers?: Record<string, string>; isBase64Encoded?: boolean } = {},
): APIGatewayProxyEventV2 {
  const idMatch = /^\/orders\/([^/]+)$/.exec(path);
  const routeKey = idMatch ? `${method} /orders/{id}` : `${method} ${path}`;
  const now = new Date();
  return {
    version: '2.0',
    routeKey,
    rawPath: path,
    rawQueryString: '',
    headers: {
      'content-type': 'application/json',
      host: 'abc123.execute-api.us-east-1.amazonaws.com',
      'user-agent': 'saga-test',
      ...(options.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(options.body)) }),
      ...options.headers,
    },
    ...(idMatch?.[1] === undefined ? {} : { pathParameters: { id: decodeURIComponent(idMatch[1]) } }),
    requestContext: {
      accountId: '000000000000',
      apiId: 'abc123',
      domainName: 'abc123.execute-api.us-east-1.amazonaws.com',
      domainPrefix: 'abc123',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'saga-test' },
      requestId: randomUUID(),
      routeKey,
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    ...(options.body === undefined ? {} : { body: options.body }),
    isBase64Encoded: options.isBase64Encoded ?? false,
  };
}

/** The tables of the stack, each with a unique name. */
export interface ServiceTables {
  readonly ORDERS_TABLE: string;
  readonly PAYMENTS_TABLE: string;
  readonly INVENTORY_TABLE: string;
  readonly SHIPMENTS_TABLE: string;
  readonly IDEMPOTENCY_TABLE: string;
  readonly FAILURE_FLAGS_TABLE: string;
}

/** Creates the six tables (Orders optionally with a stream) and returns their names keyed by env var. */
export async function createServiceTables(
  client: DynamoDBClient,
  options: { ordersStream?: StreamSpecification } = {},
): Promise<ServiceTables> {
  const [orders, payments, inventory, shipments, idempotency, flags] = await Promise.all([
    createTestTable(client, 'Orders', options.ordersStream ? { stream: options.ordersStream } : {}),
    createTestTable(client, 'Payments'),
    createTestTable(client, 'Inventory'),
    createTestTable(client, 'Shipments'),
    createTestTable(client, 'Idempotency', { keys: [{ name: 'id', type: 'HASH' }] }),
    createTestTable(client, 'FailureFlags'),
  ]);
  return {
    ORDERS_TABLE: orders,
    PAYMENTS_TABLE: payments,
    INVENTORY_TABLE: inventory,
    SHIPMENTS_TABLE: shipments,
    IDEMPOTENCY_TABLE: idempotency,
    FAILURE_FLAGS_TABLE: flags,
  };
}

/** Sets the tables' env vars, and quiet logs, before a handler module is imported. */
export function setServiceEnv(tables: ServiceTables, extra: Record<string, string> = {}): void {
  Object.assign(
    process.env,
    tables,
    { POWERTOOLS_LOG_LEVEL: 'SILENT', POWERTOOLS_SERVICE_NAME: 'saga-test' },
    extra,
  );
}

/**
 * Writes an order row with a status (default `PENDING`: the saga's forward steps commit only then) and returns
 * its id (a new ULID unless given).
 */
export async function placeTestOrder(
  client: DynamoDBClient,
  ordersTable: string,
  options: { orderId?: string; status?: string } = {},
): Promise<string> {
  const orderId = options.orderId ?? ulid();
  await client.send(
    new PutItemCommand({
      TableName: ordersTable,
      Item: { pk: { S: `ORDER#${orderId}` }, sk: { S: 'ORDER' }, status: { S: options.status ?? 'PENDING' } },
    }),
  );
  return orderId;
}
