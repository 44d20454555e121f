import { expect, test } from 'vitest';
import { MissingEnvironmentError, requireEnv } from './env.ts';

test('requireEnv returns the values and names every missing or empty variable', () => {
  process.env.SAGA_TEST_PRESENT = 'yes';
  process.env.SAGA_TEST_EMPTY = ' ';
  delete process.env.SAGA_TEST_ABSENT;
  expect(requireEnv('SAGA_TEST_PRESENT')).toEqual({ SAGA_TEST_PRESENT: 'yes' });
  expect(() => requireEnv('SAGA_TEST_PRESENT', 'SAGA_TEST_EMPTY', 'SAGA_TEST_ABSENT')).toThrow(
    'Missing environment variables SAGA_TEST_EMPTY, SAGA_TEST_ABSENT',
  );
});

test('a handler fails fast at import when its environment is incomplete', async () => {
  for (const name of ['PAYMENTS_TABLE', 'ORDERS_TABLE', 'IDEMPOTENCY_TABLE', 'FAILURE_FLAGS_TABLE']) {
    delete process.env[name];
  }
  process.env.PAYMENTS_TABLE = 'Payments';
  const error = await import('../payment/handler.ts').then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(MissingEnvironmentError);
  expect((error as MissingEnvironmentError).missing).toEqual([
    'ORDERS_TABLE',
    'IDEMPOTENCY_TABLE',
    'FAILURE_FLAGS_TABLE',
  ]);
});
