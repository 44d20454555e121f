/**
 * Errors the saga's Lambda functions throw. Their `name` is what Step Functions reports as the task's error
 * type and what `ErrorEquals` in the state machine matches: renaming one is a breaking change.
 */

/** The charge was refused; the saga marks the order FAILED (nothing to undo). */
export class PaymentDeclined extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PaymentDeclined';
  }
}

/** Not enough stock for at least one SKU; the saga refunds the payment. */
export class OutOfStock extends Error {
  /** The SKU that could not be reserved. */
  readonly sku: string;
  /** Units available when the reservation was attempted (0 for an unknown SKU). */
  readonly available: number;
  /** Units the order asked for. */
  readonly requested: number;

  /** The message defaults to one naming the SKU, the units available and the units requested. */
  constructor(
    shortage: { readonly sku: string; readonly available: number; readonly requested: number },
    message?: string,
    options?: ErrorOptions,
  ) {
    super(
      message ??
        `Out of stock: sku '${shortage.sku}' has ${shortage.available} available, ${shortage.requested} requested`,
      options,
    );
    this.name = 'OutOfStock';
    this.sku = shortage.sku;
    this.available = shortage.available;
    this.requested = shortage.requested;
  }
}

/** The order cannot be shipped; the saga releases the stock and refunds the payment. */
export class ShippingUnavailable extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ShippingUnavailable';
  }
}

/** A refund compensation failed for good; the saga ends in COMPENSATION_FAILED. */
export class RefundFailed extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RefundFailed';
  }
}

/** A stock release compensation failed for good; the saga ends in COMPENSATION_FAILED. */
export class ReleaseFailed extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ReleaseFailed';
  }
}

/**
 * The order is no longer `PENDING` (another execution decided to cancel it, or it settled): a forward step
 * refuses to commit, or finds its own effect already undone. The saga goes back to `CheckOrder`.
 */
export class OrderNotPending extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'OrderNotPending';
  }
}

/** A dependency's throttling answer, shaped like the AWS SDK's (`name`, `$fault`, `$retryable`). */
export class ThrottlingException extends Error {
  readonly $fault = 'client';
  readonly $retryable = { throttling: true };
  readonly $metadata = { httpStatusCode: 400 };

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ThrottlingException';
  }
}

/** A failure worth retrying (throttling, a crash, an injected transient fault); matched by the Retry blocks. */
export class TransientError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TransientError';
  }
}

/**
 * A task payload that does not have the shape the function expects: a wiring bug between the state machine
 * and the function, never retried.
 */
export class InvalidInputError extends Error {
  /** One line per problem: `path: message`. */
  readonly issues: readonly string[];

  constructor(what: string, issues: readonly string[], options?: ErrorOptions) {
    super(`Invalid ${what}: ${issues.join('; ')}`, options);
    this.name = 'InvalidInputError';
    this.issues = issues;
  }
}

/** Names of the business errors (caught by the saga and routed to compensations). */
export const BUSINESS_ERROR_NAMES = [
  'PaymentDeclined',
  'OutOfStock',
  'ShippingUnavailable',
  'RefundFailed',
  'ReleaseFailed',
  'OrderNotPending',
] as const;

/** Names of the errors a retry may cure: ours, and Powertools' concurrent-execution error for the same key. */
export const RETRYABLE_ERROR_NAMES = ['TransientError', 'IdempotencyAlreadyInProgressError'] as const;

/**
 * Every error name a saga service can throw (the `errorType` Step Functions sees), so a test can check that
 * each name in the state machine's `ErrorEquals` is real. Besides ours: Powertools' idempotency errors for a
 * concurrent call (`IdempotencyAlreadyInProgressError`) and for a reused key with a changed payload
 * (`IdempotencyValidationError`).
 */
export const SERVICE_ERROR_NAMES = [
  ...BUSINESS_ERROR_NAMES,
  'TransientError',
  'ThrottlingException',
  'InvalidInputError',
  'IdempotencyAlreadyInProgressError',
  'IdempotencyValidationError',
] as const;

/** One of {@link SERVICE_ERROR_NAMES}. */
export type ServiceErrorName = (typeof SERVICE_ERROR_NAMES)[number];
