import { DescribeTableCommand, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import {
  type _Record,
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import {
  DescribeExecutionCommand,
  SFNClient,
  StartExecutionCommand,
  StateMachineDoesNotExist,
} from '@aws-sdk/client-sfn';
import { marshall } from '@aws-sdk/util-dynamodb';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
  DynamoDBBatchResponse,
  DynamoDBRecord,
  DynamoDBStreamEvent,
} from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { ulid } from 'ulid';
import { afterEach, beforeAll, beforeEach, describe, expect, inject, test } from 'vitest';
import { TEST_AWS, testDynamoDbClient, useTestAwsEnv } from '../../test/support/dynamodb.ts';
import { deleteFailureFlag, GLOBAL_SCOPE, parseFailSpec, writeFailureFlag } from '../shared/failure-flags.ts';
import {
  createServiceTables,
  httpApiEvent,
  lambdaContext,
  type ServiceTables,
  setServiceEnv,
} from '../shared/testing.ts';
import { PUT_EVENTS_ATTEMPTS } from './publisher.ts';
import { ExecutionInputMismatchError, executionArnOf, startSaga } from './start-saga.ts';
import { type FakeExecution, fakeStepFunctions } from './testing.ts';

const EVENT_BUS_NAME = 'OrderEvents-test';
const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:OrderSaga-test';

const client = testDynamoDbClient();
// EventBridge and Step Functions cannot run here: only they are mocked. DynamoDB and its stream are real.
const eventBridge = mockClient(EventBridgeClient);
const sfn = mockClient(SFNClient);
let tables: ServiceTables;
let streamArn: string;
let streams: DynamoDBStreamsClient;
let placeOrder: (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;
let publish: (event: DynamoDBStreamEvent, context: Context) => Promise<DynamoDBBatchResponse>;
/** The fake Step Functions' executions, by name. */
let executions: Map<string, FakeExecution>;
/** Stream records already handed out, so each test sees only its own. */
const seen = new Set<string>();

beforeAll(async () => {
  useTestAwsEnv();
  tables = await createServiceTables(client, {
    ordersStream: { StreamEnabled: true, StreamViewType: 'NEW_IMAGE' },
  });
  setServiceEnv(tables, { EVENT_BUS_NAME, STATE_MACHINE_ARN });
  ({ handler: placeOrder } = await import('../order/handler.ts'));
  ({ handler: publish } = await import('./handler.ts'));
  const { Table } = await client.send(new DescribeTableCommand({ TableName: tables.ORDERS_TABLE }));
  streamArn = Table?.LatestStreamArn ?? '';
  expect(streamArn).toMatch(/^arn:aws:dynamodb:/);
  streams = new DynamoDBStreamsClient({ ...TEST_AWS, endpoint: inject('dynamodbEndpoint') });
});

beforeEach(() => {
  eventBridge.reset();
  sfn.reset();
  eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'eb-event-1' }] });
  executions = fakeStepFunctions(sfn);
});

afterEach(async () => {
  await deleteFailureFlag(client, tables.FAILURE_FLAGS_TABLE, GLOBAL_SCOPE, 'publisher');
});

/** Places an order through the real order handler; returns its id. */
async function order(items = [{ sku: 'ceramic-mug', qty: 2 }]): Promise<string> {
  const orderId = ulid();
  const response = await placeOrder(
    httpApiEvent('POST', '/orders', { body: JSON.stringify({ orderId, customerId: 'stream-test', items }) }),
    lambdaContext(),
  );
  expect(response.statusCode).toBe(202);
  return orderId;
}

/** Reads every new record of the Orders stream through the DynamoDB Streams API. */
async function newStreamRecords(): Promise<_Record[]> {
  const { StreamDescription } = await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
  const records: _Record[] = [];
  for (const shard of StreamDescription?.Shards ?? []) {
    let { ShardIterator } = await streams.send(
      new GetShardIteratorCommand({
        StreamArn: streamArn,
        ShardId: shard.ShardId,
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    while (ShardIterator) {
      const page = await streams.send(new GetRecordsCommand({ ShardIterator }));
      if (!page.Records?.length) break;
      records.push(...page.Records);
      ShardIterator = page.NextShardIterator;
    }
  }
  const fresh = records.filter((record) => !seen.has(record.eventID ?? ''));
  for (const record of fresh) seen.add(record.eventID ?? '');
  return fresh;
}

/**
 * What the event source mapping hands the function: the records its filter lets through (INSERTs of
 * `OUTBOX#` rows), as Lambda's JSON event with `eventSourceARN`.
 */
async function streamEvent(): Promise<DynamoDBStreamEvent> {
  const records = (await newStreamRecords()).filter(
    (record) => record.eventName === 'INSERT' && record.dynamodb?.Keys?.pk?.S?.startsWith('OUTBOX#'),
  );
  const lambdaRecords = records.map((record) => ({
    ...record,
    dynamodb: {
      ...record.dynamodb,
      ApproximateCreationDateTime: Math.floor(
        (record.dynamodb?.ApproximateCreationDateTime?.getTime() ?? 0) / 1000,
      ),
    },
    eventSourceARN: streamArn,
  }));
  return { Records: JSON.parse(JSON.stringify(lambdaRecords)) as DynamoDBRecord[] };
}

const putEntries = () =>
  eventBridge.commandCalls(PutEventsCommand).map((call) => call.args[0].input.Entries?.[0]);
const startCalls = () => sfn.commandCalls(StartExecutionCommand).map((call) => call.args[0].input);
const describeCalls = () => sfn.commandCalls(DescribeExecutionCommand).map((call) => call.args[0].input);
const executionArn = (orderId: string) =>
  `arn:aws:states:us-east-1:000000000000:execution:OrderSaga-test:${orderId}`;

/** Writes an outbox row straight into the Orders table (as a future producer of other events would). */
async function putOutboxRow(row: Record<string, unknown>): Promise<void> {
  await client.send(new PutItemCommand({ TableName: tables.ORDERS_TABLE, Item: marshall(row) }));
}
const sequenceNumbers = (event: DynamoDBStreamEvent) =>
  event.Records.map((record) => record.dynamodb?.SequenceNumber);

describe('outbox publisher', () => {
  test('an order placed through the API is put on the bus and starts its saga, named after the order', async () => {
    const orderId = await order([
      { sku: 'espresso-beans', qty: 1 },
      { sku: 'ceramic-mug', qty: 2 },
    ]);
    const event = await streamEvent();
    expect(event.Records).toHaveLength(1);
    expect(event.Records[0]?.eventSourceARN).toBe(streamArn);

    expect(await publish(event, lambdaContext())).toEqual({ batchItemFailures: [] });

    const sagaInput = {
      orderId,
      customerId: 'stream-test',
      items: [
        { sku: 'espresso-beans', qty: 1 },
        { sku: 'ceramic-mug', qty: 2 },
      ],
      amount: 2450 + 2 * 1200,
      currency: 'EUR',
    };
    const [entry] = putEntries();
    expect(entry).toMatchObject({
      Source: 'saga.orders',
      DetailType: 'OrderPlaced',
      EventBusName: EVENT_BUS_NAME,
    });
    const detail = JSON.parse(entry?.Detail ?? '{}') as Record<string, unknown>;
    expect(detail).toEqual({ ...sagaInput, eventId: expect.stringMatching(/^[0-7][0-9A-HJKMNP-TV-Z]{25}$/) });
    expect(startCalls()).toEqual([
      { stateMachineArn: STATE_MACHINE_ARN, name: orderId, input: expect.any(String) },
    ]);
    expect(JSON.parse(startCalls()[0]?.input ?? '{}')).toEqual(sagaInput);
  });

  test('a duplicate delivery: an existing execution with the same input counts as success', async () => {
    const orderId = await order();
    const event = await streamEvent();
    await publish(event, lambdaContext());
    // The saga ended meanwhile: Step Functions now answers the same name with ExecutionAlreadyExists.
    const first = executions.get(orderId);
    if (first) first.status = 'SUCCEEDED';

    expect(await publish(event, lambdaContext())).toEqual({ batchItemFailures: [] });
    expect(startCalls()).toHaveLength(2);
    expect(describeCalls()).toEqual([{ executionArn: executionArn(orderId) }]);
  });

  test('an existing execution with another input is an error: the record and the rest of the batch fail', async () => {
    const orderIds = [await order(), await order()];
    const event = await streamEvent();
    // An execution named after the first order, started with another amount (not this order's saga).
    executions.set(orderIds[0] ?? '', {
      executionArn: executionArn(orderIds[0] ?? ''),
      input: JSON.stringify({
        orderId: orderIds[0],
        customerId: 'stream-test',
        items: [],
        amount: 1,
        currency: 'EUR',
      }),
      status: 'SUCCEEDED',
    });

    const result = await publish(event, lambdaContext());

    expect(result.batchItemFailures.map((failure) => failure.itemIdentifier)).toEqual(sequenceNumbers(event));
    expect(describeCalls()).toEqual([{ executionArn: executionArn(orderIds[0] ?? '') }]);
    expect(executions.has(orderIds[1] ?? '')).toBe(false);
  });

  test('only OrderPlaced starts a saga: another event type is put on the bus and nothing is started', async () => {
    const orderId = ulid();
    await putOutboxRow({
      pk: `OUTBOX#${orderId}`,
      sk: 'EVENT#01JDQ3V5G8M2W4X6Y8Z0A2B4C7',
      eventId: '01JDQ3V5G8M2W4X6Y8Z0A2B4C7',
      eventType: 'OrderShipped',
      orderId,
      payload: { orderId, trackingId: 'TRK1' },
    });
    const event = await streamEvent();
    expect(event.Records).toHaveLength(1);

    expect(await publish(event, lambdaContext())).toEqual({ batchItemFailures: [] });

    expect(putEntries().map((entry) => entry?.DetailType)).toEqual(['OrderShipped']);
    expect(startCalls()).toHaveLength(0);
  });

  test('an OrderPlaced payload that is not a saga input fails its record before anything is put', async () => {
    const orderId = ulid();
    await putOutboxRow({
      pk: `OUTBOX#${orderId}`,
      sk: 'EVENT#01JDQ3V5G8M2W4X6Y8Z0A2B4C8',
      eventId: '01JDQ3V5G8M2W4X6Y8Z0A2B4C8',
      eventType: 'OrderPlaced',
      orderId,
      payload: { orderId, customerId: 'c1', items: [{ sku: 'ceramic-mug', qty: 1 }], currency: 'EUR' },
    });
    const event = await streamEvent();

    expect((await publish(event, lambdaContext())).batchItemFailures).toEqual([
      { itemIdentifier: sequenceNumbers(event)[0] },
    ]);
    expect(putEntries()).toHaveLength(0);
    expect(startCalls()).toHaveLength(0);
  });

  test('a failed PutEvents entry is retried', async () => {
    await order();
    eventBridge
      .on(PutEventsCommand)
      .resolvesOnce({
        FailedEntryCount: 1,
        Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'try again' }],
      })
      .resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'eb-event-2' }] });
    expect(await publish(await streamEvent(), lambdaContext())).toEqual({ batchItemFailures: [] });
    expect(putEntries()).toHaveLength(2);
    expect(startCalls()).toHaveLength(1);
  });

  test('a record that keeps failing is reported with every record after it; earlier ones are done', async () => {
    const orderIds = [await order(), await order(), await order()];
    const event = await streamEvent();
    expect(event.Records).toHaveLength(3);
    // The second order's event never gets onto the bus.
    eventBridge
      .on(PutEventsCommand)
      .callsFake((input: { Entries: { Detail: string }[] }) =>
        input.Entries[0]?.Detail.includes(orderIds[1] ?? '')
          ? { FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'down' }] }
          : { FailedEntryCount: 0, Entries: [{ EventId: 'ok' }] },
      );
    const result = await publish(event, lambdaContext());
    expect(result.batchItemFailures.map((failure) => failure.itemIdentifier)).toEqual(
      sequenceNumbers(event).slice(1),
    );
    expect(putEntries()).toHaveLength(1 + PUT_EVENTS_ATTEMPTS);
    expect(startCalls().map((call) => call.name)).toEqual([orderIds[0]]);
  });

  test('a StartExecution error other than ExecutionAlreadyExists fails the record', async () => {
    await order();
    sfn
      .on(StartExecutionCommand)
      .rejects(new StateMachineDoesNotExist({ message: 'no such machine', $metadata: {} }));
    const event = await streamEvent();
    expect((await publish(event, lambdaContext())).batchItemFailures).toEqual([
      { itemIdentifier: sequenceNumbers(event)[0] },
    ]);
  });

  test('records that are not outbox inserts are left alone', async () => {
    await order();
    const orderRows = (await newStreamRecords()).filter((record) =>
      record.dynamodb?.Keys?.pk?.S?.startsWith('ORDER#'),
    );
    expect(orderRows).toHaveLength(1);
    const event = { Records: JSON.parse(JSON.stringify(orderRows)) as DynamoDBRecord[] };
    expect(await publish(event, lambdaContext())).toEqual({ batchItemFailures: [] });
    expect(putEntries()).toHaveLength(0);
    expect(startCalls()).toHaveLength(0);
  });
});

describe('outbox publisher failure flags', () => {
  test('a GLOBAL publisher error flag with rate 1 fails the batch from its first record', async () => {
    await order();
    await order();
    await writeFailureFlag(client, tables.FAILURE_FLAGS_TABLE, GLOBAL_SCOPE, {
      ...parseFailSpec('publisher'),
      rate: 1,
    });
    const event = await streamEvent();
    const result = await publish(event, lambdaContext());
    expect(result.batchItemFailures.map((failure) => failure.itemIdentifier)).toEqual(sequenceNumbers(event));
    expect(putEntries()).toHaveLength(0);
  });

  test('a GLOBAL flag with rate 0 hits nothing', async () => {
    await order();
    await writeFailureFlag(client, tables.FAILURE_FLAGS_TABLE, GLOBAL_SCOPE, {
      ...parseFailSpec('publisher'),
      rate: 0,
    });
    expect(await publish(await streamEvent(), lambdaContext())).toEqual({ batchItemFailures: [] });
    expect(startCalls()).toHaveLength(1);
  });

  test('crash-after-commit: the event is out, the saga not started; the redelivery starts it', async () => {
    const orderId = await order();
    await writeFailureFlag(
      client,
      tables.FAILURE_FLAGS_TABLE,
      { orderId },
      parseFailSpec('publisher:crash-after-commit'),
    );
    const event = await streamEvent();
    expect((await publish(event, lambdaContext())).batchItemFailures).toHaveLength(1);
    expect(putEntries()).toHaveLength(1);
    expect(startCalls()).toHaveLength(0);

    expect(await publish(event, lambdaContext())).toEqual({ batchItemFailures: [] });
    expect(startCalls().map((call) => call.name)).toEqual([orderId]);
  });

  test('transient:1 fails one delivery, then publishes', async () => {
    const orderId = await order();
    await writeFailureFlag(
      client,
      tables.FAILURE_FLAGS_TABLE,
      { orderId },
      parseFailSpec('publisher:transient'),
    );
    const event = await streamEvent();
    expect((await publish(event, lambdaContext())).batchItemFailures).toHaveLength(1);
    expect(await publish(event, lambdaContext())).toEqual({ batchItemFailures: [] });
    expect(startCalls()).toHaveLength(1);
    // What hit the order stays on its ORDER row (`saga ls`), as for the saga's steps.
    expect(await injectedOn(orderId)).toEqual(['publisher:transient:1']);
  });

  test('a GLOBAL publisher flag that hits is recorded on the order it hit, not on others', async () => {
    const hit = await order();
    await writeFailureFlag(
      client,
      tables.FAILURE_FLAGS_TABLE,
      GLOBAL_SCOPE,
      parseFailSpec('publisher:transient'),
    );
    await publish(await streamEvent(), lambdaContext());
    expect(await injectedOn(hit)).toEqual(['GLOBAL publisher:transient:1']);
    const spared = await order();
    await publish(await streamEvent(), lambdaContext());
    expect(await injectedOn(spared)).toBeUndefined();
  });
});

/** The ORDER row's `injected` string set, sorted. */
async function injectedOn(orderId: string): Promise<string[] | undefined> {
  const { Item } = await client.send(
    new GetItemCommand({
      TableName: tables.ORDERS_TABLE,
      Key: { pk: { S: `ORDER#${orderId}` }, sk: { S: 'ORDER' } },
      ConsistentRead: true,
    }),
  );
  return Item?.injected?.SS?.sort();
}

describe('startSaga (shared with the outbox sweeper)', () => {
  const input = {
    orderId: '01JDQ3V5G8M2W4X6Y8Z0A2B4C6',
    customerId: 'c1',
    items: [{ sku: 'ceramic-mug', qty: 2 }],
    amount: 2400,
    currency: 'EUR',
  };
  const starter = () => ({ sfn: new SFNClient({}), stateMachineArn: STATE_MACHINE_ARN });

  test('starts the execution named after the order, with the input in a fixed key order', async () => {
    const { orderId, ...rest } = input;
    const outcome = await startSaga(starter(), { ...rest, orderId });
    expect(outcome).toEqual({ executionArn: executionArn(input.orderId), alreadyStarted: false });
    expect(startCalls()).toEqual([
      { stateMachineArn: STATE_MACHINE_ARN, name: input.orderId, input: JSON.stringify(input) },
    ]);
  });

  test('an ended execution with the same input (other key order, spacing) is already started', async () => {
    executions.set(input.orderId, {
      executionArn: executionArn(input.orderId),
      input: JSON.stringify(
        {
          currency: 'EUR',
          amount: 2400,
          items: [{ qty: 2, sku: 'ceramic-mug' }],
          customerId: 'c1',
          orderId: input.orderId,
        },
        null,
        2,
      ),
      status: 'FAILED',
    });
    expect(await startSaga(starter(), input)).toEqual({
      executionArn: executionArn(input.orderId),
      alreadyStarted: true,
      existingStatus: 'FAILED',
    });
  });

  test('an execution with the same name and another input is an ExecutionInputMismatchError naming both', async () => {
    const other = JSON.stringify({ ...input, items: [{ sku: 'ceramic-mug', qty: 3 }] });
    executions.set(input.orderId, {
      executionArn: executionArn(input.orderId),
      input: other,
      status: 'RUNNING',
    });
    const error = await startSaga(starter(), input).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ExecutionInputMismatchError);
    expect((error as Error).message).toContain(executionArn(input.orderId));
    expect((error as Error).message).toContain(other);
    expect((error as Error).message).toContain(JSON.stringify(input));
  });

  test('executionArnOf maps the state machine ARN, and refuses anything else with what it expected', () => {
    expect(executionArnOf(STATE_MACHINE_ARN, 'x')).toBe(executionArn('x'));
    expect(() => executionArnOf('arn:aws:lambda:us-east-1:0:function:f', 'x')).toThrow(
      /Not a state machine ARN: "arn:aws:lambda.*stateMachine:<name>.*STATE_MACHINE_ARN/,
    );
  });
});
