/**
 * Powertools idempotency options shared by the saga tasks and the order POST: DynamoDB persistence on the
 * Idempotency table, the key taken from the payload's `idempotency_key`, the payload validated on a per-action
 * JMESPath, and no silent fallback when the key is missing.
 */
import { IdempotencyConfig } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { IDEMPOTENCY_HIT_MESSAGE } from './idempotency-hit.ts';
import { logger } from './logger.ts';

/** What {@link idempotencyOptions} needs. */
export interface IdempotencyOptionsInput {
  /** The Idempotency table (partition key `id`, TTL `expiration`). */
  readonly tableName: string;
  /** The client the persistence layer uses. */
  readonly client: DynamoDBClient;
  /**
   * JMESPath over the payload whose hash is stored with the record: a later call with the same key but a
   * different value fails with `IdempotencyValidationError`.
   */
  readonly payloadValidationJmesPath: string;
  /**
   * Prefix of the stored record id (`<keyPrefix>#<md5 of the key>`). Fixed per action rather than Powertools'
   * default (the function name) so record ids are the same on every deployment and target.
   */
  readonly keyPrefix: string;
  /** How long a completed record answers repeats. @default 3600 (Powertools' default) */
  readonly expiresAfterSeconds?: number;
}

/** Options for `makeIdempotent`; the handler passes its Lambda context to `config.registerLambdaContext`. */
export interface IdempotencyOptions {
  readonly persistenceStore: DynamoDBPersistenceLayer;
  readonly config: IdempotencyConfig;
  readonly keyPrefix: string;
}

/**
 * Builds `makeIdempotent` options. One persistence layer per action: Powertools configures a layer once and
 * ignores a second, different configuration.
 */
export function idempotencyOptions(input: IdempotencyOptionsInput): IdempotencyOptions {
  return {
    persistenceStore: new DynamoDBPersistenceLayer({
      tableName: input.tableName,
      awsSdkV3Client: input.client,
    }),
    config: new IdempotencyConfig({
      eventKeyJmesPath: 'idempotency_key',
      payloadValidationJmesPath: input.payloadValidationJmesPath,
      throwOnNoIdempotencyKey: true,
      responseHook: (response, record) => {
        logger.info(IDEMPOTENCY_HIT_MESSAGE, {
          keyPrefix: input.keyPrefix,
          idempotencyKey: record.idempotencyKey,
        });
        return response;
      },
      ...(input.expiresAfterSeconds === undefined ? {} : { expiresAfterSeconds: input.expiresAfterSeconds }),
    }),
    keyPrefix: input.keyPrefix,
  };
}
