/**
 * The outbox publisher: invoked by the Orders table's stream (filtered to INSERTs of `OUTBOX#` rows) with
 * `ReportBatchItemFailures`. Records are handled in stream order; at the first failure the rest of the batch
 * is reported failed too, so Lambda retries from there and never skips past an unpublished event.
 */

import type {
  Context,
  DynamoDBBatchItemFailure,
  DynamoDBBatchResponse,
  DynamoDBStreamEvent,
} from 'aws-lambda';
import { dynamoDbClient } from '../shared/clients.ts';
import { requireEnv } from '../shared/env.ts';
import {
  type FailureFlag,
  injectAfterCommit,
  injectBefore,
  readFailureFlag,
} from '../shared/failure-flags.ts';
import { NAME_DEDUPE_MESSAGE } from '../shared/idempotency-hit.ts';
import { recordInjection } from '../shared/injection-record.ts';
import { beginInvocation, logger } from '../shared/logger.ts';
import { eventBridgeClient, sfnClient } from './clients.ts';
import {
  ORDER_PLACED,
  orderIdOfRecord,
  outboxEventOf,
  type PublisherDeps,
  publishOutboxEvent,
} from './publisher.ts';

const env = requireEnv('EVENT_BUS_NAME', 'STATE_MACHINE_ARN', 'FAILURE_FLAGS_TABLE', 'ORDERS_TABLE');
const deps: PublisherDeps = {
  eventBridge: eventBridgeClient,
  sfn: sfnClient,
  eventBusName: env.EVENT_BUS_NAME,
  stateMachineArn: env.STATE_MACHINE_ARN,
};

/** The stream handler. */
export const handler = async (
  event: DynamoDBStreamEvent,
  context: Context,
): Promise<DynamoDBBatchResponse> => {
  const batchItemFailures: DynamoDBBatchItemFailure[] = [];
  const records = event.Records ?? [];
  for (const [index, record] of records.entries()) {
    beginInvocation(context, orderIdOfRecord(record));
    try {
      const outboxEvent = outboxEventOf(record);
      if (!outboxEvent) {
        logger.debug('Not an outbox insert; skipped', { eventName: record.eventName });
        continue;
      }
      const flag = await readFailureFlag(
        dynamoDbClient,
        env.FAILURE_FLAGS_TABLE,
        outboxEvent.orderId,
        'publisher',
      );
      if (flag) logger.info('Failure flag active', { flag });
      const orderId = outboxEvent.orderId;
      const injection = {
        client: dynamoDbClient,
        table: env.FAILURE_FLAGS_TABLE,
        lambdaContext: context,
        // What hit the order is kept on it (`saga ls`), as the saga's steps do.
        onInject: (acting: FailureFlag) => recordInjection(dynamoDbClient, env.ORDERS_TABLE, orderId, acting),
      };
      const outcome = await publishOutboxEvent(deps, outboxEvent, {
        before: () => injectBefore(flag, injection),
        afterCommit: () => injectAfterCommit(flag, injection),
      });
      logger.info(
        !outcome.startsSaga
          ? `Event published; not ${ORDER_PLACED}, so no saga started`
          : outcome.alreadyStarted
            ? NAME_DEDUPE_MESSAGE
            : 'Event published; saga started',
        { eventId: outboxEvent.eventId, eventType: outboxEvent.eventType, ...outcome },
      );
    } catch (error) {
      const rest = records.slice(index);
      logger.error('Publishing failed; reporting this record and the rest of the batch for retry', {
        error,
        sequenceNumber: record.dynamodb?.SequenceNumber,
        reported: rest.length,
      });
      for (const failed of rest)
        batchItemFailures.push({ itemIdentifier: failed.dynamodb?.SequenceNumber ?? '' });
      break;
    }
  }
  return { batchItemFailures };
};
