/**
 * The functions' structured logger (Powertools Logger: JSON lines, level from `POWERTOOLS_LOG_LEVEL`, service
 * from `POWERTOOLS_SERVICE_NAME`). Every line of an invocation carries the `orderId` it works on, so
 * `saga logs <orderId>` can find them with one filter pattern.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';

/** The one logger of the execution environment. */
export const logger = new Logger();

/**
 * Starts an invocation's logging: drops the previous invocation's keys, adds the Lambda context fields and
 * the order id (or keeps only the context when the order id is not known yet).
 */
export function beginInvocation(context: Context | undefined, orderId?: string): void {
  logger.resetKeys();
  if (context) logger.addContext(context);
  if (orderId !== undefined) logger.appendKeys({ orderId });
}

/** Sets the order id carried by every following log line until the next {@link beginInvocation}. */
export function setLogOrderId(orderId: string): void {
  logger.appendKeys({ orderId });
}
