import { describe, expect, test } from 'vitest';
import {
  BUSINESS_ERROR_NAMES,
  InvalidInputError,
  OutOfStock,
  PaymentDeclined,
  RefundFailed,
  ReleaseFailed,
  SERVICE_ERROR_NAMES,
  ShippingUnavailable,
  TransientError,
} from './errors.ts';

describe('service errors', () => {
  const errors = [
    new PaymentDeclined('no'),
    new OutOfStock({ sku: 'ceramic-mug', available: 1, requested: 2 }),
    new ShippingUnavailable('no'),
    new RefundFailed('no'),
    new ReleaseFailed('no'),
    new TransientError('later'),
    new InvalidInputError('payload', ['amount: expected number']),
  ];

  test('each error is named exactly as the state machine matches it, and that name is listed', () => {
    expect(errors.map((error) => error.name)).toEqual([
      'PaymentDeclined',
      'OutOfStock',
      'ShippingUnavailable',
      'RefundFailed',
      'ReleaseFailed',
      'TransientError',
      'InvalidInputError',
    ]);
    for (const error of errors) expect(SERVICE_ERROR_NAMES).toContain(error.name);
    expect(SERVICE_ERROR_NAMES).toEqual(
      expect.arrayContaining([...BUSINESS_ERROR_NAMES, 'IdempotencyAlreadyInProgressError']),
    );
  });

  test('Powertools names its idempotency errors as listed', async () => {
    const { IdempotencyAlreadyInProgressError, IdempotencyValidationError } = await import(
      '@aws-lambda-powertools/idempotency'
    );
    expect(new IdempotencyAlreadyInProgressError('x').name).toBe('IdempotencyAlreadyInProgressError');
    expect(new IdempotencyValidationError('x').name).toBe('IdempotencyValidationError');
    expect(SERVICE_ERROR_NAMES).toContain('IdempotencyValidationError');
  });

  test('OutOfStock names the SKU, the available and the requested units', () => {
    const error = new OutOfStock({ sku: 'milk-frother', available: 0, requested: 3 });
    expect(error.message).toBe("Out of stock: sku 'milk-frother' has 0 available, 3 requested");
    expect(error).toMatchObject({ sku: 'milk-frother', available: 0, requested: 3 });
  });
});
