import type { Context } from 'aws-lambda';
import { afterEach, beforeAll, expect, test, vi } from 'vitest';
import { testDynamoDbClient, useTestAwsEnv } from '../../test/support/dynamodb.ts';
import { parseFailSpec, writeFailureFlag } from './failure-flags.ts';
import {
  createServiceTables,
  lambdaContext,
  placeTestOrder,
  type ServiceTables,
  setServiceEnv,
} from './testing.ts';

const client = testDynamoDbClient();
let tables: ServiceTables;
let charge: (event: unknown, context: Context) => Promise<unknown>;
let lines: Record<string, unknown>[] = [];

beforeAll(async () => {
  useTestAwsEnv();
  tables = await createServiceTables(client);
  setServiceEnv(tables, { POWERTOOLS_LOG_LEVEL: 'DEBUG', POWERTOOLS_SERVICE_NAME: 'payment' });
  ({ charge } = await import('../payment/handler.ts'));
});

function captureLogs(): void {
  lines = [];
  const collect = (chunk: string | Uint8Array): boolean => {
    for (const line of String(chunk).split('\n').filter(Boolean))
      lines.push(JSON.parse(line) as Record<string, unknown>);
    return true;
  };
  // Powertools writes INFO and below to stdout, WARN and ERROR to stderr.
  vi.spyOn(process.stdout, 'write').mockImplementation(collect);
  vi.spyOn(process.stderr, 'write').mockImplementation(collect);
}

afterEach(() => {
  vi.restoreAllMocks();
});

test('every log line of an invocation carries its order id, and the next invocation its own', async () => {
  const first = await placeTestOrder(client, tables.ORDERS_TABLE);
  const second = await placeTestOrder(client, tables.ORDERS_TABLE);
  await writeFailureFlag(
    client,
    tables.FAILURE_FLAGS_TABLE,
    { orderId: first },
    parseFailSpec('payment:transient'),
  );
  captureLogs();
  await expect(
    charge(
      { orderId: first, amount: 100, currency: 'EUR', idempotency_key: `${first}#charge` },
      lambdaContext(),
    ),
  ).rejects.toMatchObject({ name: 'TransientError' });
  const firstLines = lines.length;
  await charge(
    { orderId: second, amount: 100, currency: 'EUR', idempotency_key: `${second}#charge` },
    lambdaContext(),
  );
  vi.restoreAllMocks();

  expect(firstLines).toBeGreaterThanOrEqual(2);
  expect(lines.length).toBeGreaterThan(firstLines);
  lines.forEach((line, index) => {
    expect(line.orderId).toBe(index < firstLines ? first : second);
    expect(line.service).toBe('payment');
    expect(line.function_request_id).toEqual(expect.any(String));
  });
});
