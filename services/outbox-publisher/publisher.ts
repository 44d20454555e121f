/**
 * The outbox publisher's domain: turn an `OUTBOX#` row from the Orders stream into an event on EventBridge and,
 * for `OrderPlaced` only, the start of the order's saga execution (named after the order, so Step Functions
 * itself refuses a second one; see {@link startSaga}).
 */

import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { type EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { SFNClient } from '@aws-sdk/client-sfn';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { InvalidInputError, TransientError } from '../shared/errors.ts';
import { type FailureHooks, NO_FAILURES } from '../shared/hooks.ts';
import { type SagaInput, sagaInputOf } from '../shared/saga-input.ts';
import * as z from '../shared/zod.ts';
import { startSaga } from './start-saga.ts';

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
  /** The event's payload; for `OrderPlaced`, the saga input `{orderId, customerId, items, amount, currency}`. */
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
  /** True for `OrderPlaced`: the event starts the order's saga. Other event types only go on the bus. */
  readonly startsSaga: boolean;
  /** The order's execution (started now or found), or undefined when the event starts no saga. */
  readonly executionArn: string | undefined;
  /**
   * True when Step Functions already had an execution named after the order with the same input (a
   * redelivery, or the sweeper started it first).
   */
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
 * Publishes one outbox event: PutEvents, then, for `OrderPlaced` only, the order's saga (name = orderId, input
 * from the payload). An existing execution with the same input is a success; with another input it is an
 * `ExecutionInputMismatchError`.
 *
 * @throws InvalidInputError when an `OrderPlaced` payload is not a saga input (checked before anything is put).
 */
export async function publishOutboxEvent(
  deps: PublisherDeps,
  event: OutboxEvent,
  hooks: FailureHooks = NO_FAILURES,
): Promise<PublishOutcome> {
  const sagaInput: SagaInput | undefined =
    event.eventType === ORDER_PLACED
      ? sagaInputOf(event.payload, `${ORDER_PLACED} payload of outbox event ${event.eventId}`)
      : undefined;
  await hooks.before();
  const eventBridgeEventId = await putEvent(deps, event);
  // The failure flag's crash-after-commit lands here: the event is out, the saga not yet started.
  await hooks.afterCommit();
  if (!sagaInput)
    return { eventBridgeEventId, startsSaga: false, executionArn: undefined, alreadyStarted: false };
  const started = await startSaga(deps, sagaInput);
  return {
    eventBridgeEventId,
    startsSaga: true,
    executionArn: started.executionArn,
    alreadyStarted: started.alreadyStarted,
  };
}
