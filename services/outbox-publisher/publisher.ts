/**
 * The outbox publisher's domain: turn an `OUTBOX#` row from the Orders stream into an `OrderPlaced` event on
 * EventBridge and the start of the order's saga execution (named after the order, so Step Functions itself
 * refuses a second one).
 */

import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { type EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { InvalidInputError, TransientError } from '../shared/errors.ts';
import { type FailureHooks, NO_FAILURES } from '../shared/hooks.ts';
import * as z from '../shared/zod.ts';

/** The EventBridge source of the events the publisher puts. */
export const EVENT_SOURCE = 'saga.orders';
/** The detail-type of an order's creation event. */
export const ORDER_PLACED = 'OrderPlaced';
/** PutEvents attempts for an entry EventBridge reports as failed. */
export const PUT_EVENTS_ATTEMPTS = 3;

const OutboxRowSchema = z.object({
  pk: z.string().check(z.startsWith('OUTBOX#')),
  eventId: z.string().check(z.minLength(1)),
  eventType: z.string().check(z.minLength(1)),
  payload: z.looseObject({ orderId: z.string().check(z.minLength(1)) }),
});

/** An outbox row as the publisher needs it. */
export interface OutboxEvent {
  readonly eventId: string;
  readonly eventType: string;
  readonly orderId: string;
  /** The saga input `{orderId, customerId, items, amount, currency}`. */
  readonly payload: Readonly<Record<string, unknown>> & { readonly orderId: string };
}

/** The order id a stream record is about (from its keys), for logs; undefined if the keys say nothing. */
export function orderIdOfRecord(record: DynamoDBRecord): string | undefined {
  const pk = record.dynamodb?.Keys?.pk?.S;
  return pk?.replace(/^(OUTBOX|ORDER)#/, '');
}

/**
 * The outbox event in a stream record, or undefined when the record is not the INSERT of an `OUTBOX#` row (the
 * event source mapping's filter lets only those through; this guards against a mapping without it).
 *
 * @throws InvalidInputError when an `OUTBOX#` insert lacks the fields an event needs.
 */
export function outboxEventOf(record: DynamoDBRecord): OutboxEvent | undefined {
  if (record.eventName !== 'INSERT' || !record.dynamodb?.Keys?.pk?.S?.startsWith('OUTBOX#')) return undefined;
  const image = record.dynamodb.NewImage;
  if (!image)
    throw new InvalidInputError('outbox stream record', [
      'dynamodb.NewImage: missing (the stream must carry NEW_IMAGE)',
    ]);
  // aws-lambda's AttributeValue type is a structural twin of the SDK's.
  const row = z.safeParse(OutboxRowSchema, unmarshall(image as Record<string, AttributeValue>));
  if (!row.success) {
    throw new InvalidInputError(
      `outbox row ${record.dynamodb.Keys.pk.S}`,
      row.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`),
    );
  }
  const { eventId, eventType, payload } = row.data;
  return { eventId, eventType, orderId: payload.orderId, payload };
}

/** What {@link publishOutboxEvent} talks to. */
export interface PublisherDeps {
  readonly eventBridge: EventBridgeClient;
  readonly sfn: SFNClient;
  readonly eventBusName: string;
  readonly stateMachineArn: string;
  /** @default a real timer */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** What publishing one outbox event did. */
export interface PublishOutcome {
  /** The EventBridge event id. */
  readonly eventBridgeEventId: string | undefined;
  /** The execution started, or undefined when one with this name already existed. */
  readonly executionArn: string | undefined;
  /** True when Step Functions already had an execution named after the order (a redelivery). */
  readonly alreadyStarted: boolean;
}

const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Puts the event, retrying an entry EventBridge reports as failed a bounded number of times. */
async function putEvent(deps: PublisherDeps, event: OutboxEvent): Promise<string | undefined> {
  const sleep = deps.sleep ?? realSleep;
  let last = '';
  for (let attempt = 1; attempt <= PUT_EVENTS_ATTEMPTS; attempt++) {
    const response = await deps.eventBridge.send(
      new PutEventsCommand({
        Entries: [
          {
            Source: EVENT_SOURCE,
            DetailType: event.eventType,
            Detail: JSON.stringify({ ...event.payload, eventId: event.eventId }),
            EventBusName: deps.eventBusName,
          },
        ],
      }),
    );
    const entry = response.Entries?.[0];
    if (!response.FailedEntryCount && !entry?.ErrorCode) return entry?.EventId;
    last = `${entry?.ErrorCode ?? 'unknown error'}: ${entry?.ErrorMessage ?? 'no message'}`;
    if (attempt < PUT_EVENTS_ATTEMPTS) await sleep(100 * 2 ** (attempt - 1));
  }
  throw new TransientError(
    `PutEvents failed ${PUT_EVENTS_ATTEMPTS} times for event ${event.eventId} (${last})`,
  );
}

/**
 * Publishes one outbox event: PutEvents, then StartExecution named after the order with the payload as input.
 * An `ExecutionAlreadyExists` answer means a previous delivery started it: success.
 */
export async function publishOutboxEvent(
  deps: PublisherDeps,
  event: OutboxEvent,
  hooks: FailureHooks = NO_FAILURES,
): Promise<PublishOutcome> {
  await hooks.before();
  const eventBridgeEventId = await putEvent(deps, event);
  // The failure flag's crash-after-commit lands here: the event is out, the saga not yet started.
  await hooks.afterCommit();
  try {
    const { executionArn } = await deps.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: deps.stateMachineArn,
        name: event.orderId,
        input: JSON.stringify(event.payload),
      }),
    );
    return { eventBridgeEventId, executionArn, alreadyStarted: false };
  } catch (error) {
    if (error instanceof Error && error.name === 'ExecutionAlreadyExists') {
      return { eventBridgeEventId, executionArn: undefined, alreadyStarted: true };
    }
    throw error;
  }
}
