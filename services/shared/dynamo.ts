/** Small helpers for DynamoDB errors, by name so they hold whichever copy of the SDK threw them. */
import { TransientError } from './errors.ts';

/** DynamoDB errors a retry may cure. */
const TRANSIENT_NAMES = new Set([
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
  'TransactionConflictException',
  'TransactionInProgressException',
]);

const nameOf = (error: unknown): string | undefined => (error instanceof Error ? error.name : undefined);

/** A single-item write whose condition failed. */
export function isConditionalCheckFailed(error: unknown): boolean {
  return nameOf(error) === 'ConditionalCheckFailedException';
}

/** One entry of a cancelled transaction's reasons: `Code` is `None` for the items that did not fail. */
export interface CancellationReason {
  readonly Code?: string;
  readonly Message?: string;
}

/** The per-item reasons of a `TransactionCanceledException`, or undefined for any other error. */
export function cancellationReasons(error: unknown): readonly CancellationReason[] | undefined {
  if (nameOf(error) !== 'TransactionCanceledException') return undefined;
  return ((error as { CancellationReasons?: CancellationReason[] }).CancellationReasons ?? []).map(
    (reason) => reason,
  );
}

/**
 * Rethrows what a retry may cure (throttling, conflicts, a transaction cancelled by a conflict) as
 * {@link TransientError} so the saga's Retry picks it up; anything else as it is.
 */
export function rethrowTransient(error: unknown): never {
  const name = nameOf(error);
  const conflict = cancellationReasons(error)?.some((reason) =>
    ['TransactionConflict', 'ThrottlingError', 'ProvisionedThroughputExceeded'].includes(reason.Code ?? ''),
  );
  if ((name !== undefined && TRANSIENT_NAMES.has(name)) || conflict) {
    throw new TransientError(`DynamoDB: ${name}: ${(error as Error).message}`, { cause: error });
  }
  throw error;
}
