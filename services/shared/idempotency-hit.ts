/**
 * The message the saga functions log when Powertools answers a repeated key from the Idempotency table instead
 * of running the action. `saga replay` counts these lines (a CloudWatch Logs filter) as idempotency hits; kept
 * in its own module so the CLI can import it without loading Powertools.
 */
export const IDEMPOTENCY_HIT_MESSAGE = 'Idempotency hit';

/**
 * The message a saga step logs when it answers from its own ledger (the side effect's record) without calling
 * the dependency: `saga replay` counts these lines as answers of the third layer.
 */
export const LEDGER_HIT_MESSAGE = 'Answered from the ledger';

/**
 * The message the outbox publisher logs when Step Functions refused a re-delivery by execution name (an execution
 * with the same name and the same input exists): `saga replay --via outbox` counts these lines.
 */
export const NAME_DEDUPE_MESSAGE = 'Event published; saga already started';

/**
 * The record-id prefix of each saga action's Idempotency records (`<prefix>#<hash of the key>`): fixed per action, so
 * record ids are the same on every deployment and target, and the CLI can find (or expire) an order's records.
 */
export const IDEMPOTENCY_KEY_PREFIXES = {
  charge: 'payment.charge',
  refund: 'payment.refund',
  reserve: 'inventory.reserve',
  release: 'inventory.release',
  ship: 'shipping.ship',
} as const;
