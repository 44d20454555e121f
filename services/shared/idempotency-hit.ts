/**
 * The message the saga functions log when Powertools answers a repeated key from the Idempotency table instead
 * of running the action. `saga replay` counts these lines (a CloudWatch Logs filter) as idempotency hits; kept
 * in its own module so the CLI can import it without loading Powertools.
 */
export const IDEMPOTENCY_HIT_MESSAGE = 'Idempotency hit';
