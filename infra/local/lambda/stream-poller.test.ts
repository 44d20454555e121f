import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DeleteItemCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestTable, TEST_AWS, testDynamoDbClient } from '../../../test/support/dynamodb.ts';
import type { InvokeResult, LambdaInvoker, TargetDispatcher } from '../types.ts';
import {
  DynamoDbStreamMapping,
  type DynamoDbStreamMappingOptions,
  type LambdaDynamoDbRecord,
} from './stream-poller.ts';

const FUNCTION_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:OutboxPublisher';
const ON_FAILURE = 'arn:aws:sqs:us-east-1:000000000000:outbox-failures';
const OUTBOX_FILTER = {
  Filters: [
    {
      Pattern: JSON.stringify({
        eventName: ['INSERT'],
        dynamodb: { Keys: { pk: { S: [{ prefix: 'OUTBOX#' }] } } },
      }),
    },
  ],
};

type Handler = (event: { Records: LambdaDynamoDbRecord[] }) => unknown;

/** The function under the mapping: a plain handler, run the way the Lambda runtime reports it (errors → Unhandled). */
function fakeFunction(handler: Handler): LambdaInvoker & { calls: LambdaDynamoDbRecord[][] } {
  const calls: LambdaDynamoDbRecord[][] = [];
  return {
    calls,
    async invoke(_arn: string, payload: unknown): Promise<InvokeResult> {
      const event = payload as { Records: LambdaDynamoDbRecord[] };
      calls.push(event.Records);
      const requestId = randomUUID();
      try {
        return {
          statusCode: 200,
          payload: (await handler(event)) ?? null,
          executedVersion: '$LATEST',
          requestId,
        };
      } catch (error) {
        const e = error as Error;
        return {
          statusCode: 200,
          payload: { errorType: e.name, errorMessage: e.message, trace: [] },
          functionError: 'Unhandled',
          executedVersion: '$LATEST',
          requestId,
        };
      }
    },
  };
}

function recordingDispatcher(): TargetDispatcher & { sent: { arn: string; payload: unknown }[] } {
  const sent: { arn: string; payload: unknown }[] = [];
  return { sent, deliver: async (arn, payload) => void sent.push({ arn, payload }) };
}

const ids = (batch: readonly LambdaDynamoDbRecord[]) =>
  batch.map((r) => (r.dynamodb.Keys.pk as { S: string }).S);

describe('DynamoDbStreamMapping (DynamoDB Local streams)', () => {
  let ddb: DynamoDBClient;
  let streams: DynamoDBStreamsClient;
  const dir = mkdtempSync(join(tmpdir(), 'saga-esm-'));

  beforeAll(() => {
    ddb = testDynamoDbClient();
    streams = new DynamoDBStreamsClient({ ...TEST_AWS, endpoint: inject('dynamodbEndpoint') });
  });

  afterAll(() => {
    ddb.destroy();
    streams.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  async function streamTable(): Promise<{ table: string; streamArn: string }> {
    const table = await createTestTable(ddb, 'esm', {
      stream: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    });
    const described = await ddb.send(new DescribeTableCommand({ TableName: table }));
    return { table, streamArn: described.Table?.LatestStreamArn as string };
  }

  async function putOutbox(table: string, n: number, extra: Record<string, unknown> = {}): Promise<void> {
    await ddb.send(
      new PutItemCommand({
        TableName: table,
        Item: {
          pk: { S: `OUTBOX#${n}` },
          sk: { S: `EVENT#${n}` },
          eventType: { S: 'OrderPlaced' },
          ...extra,
        } as never,
      }),
    );
  }

  function mapping(
    streamArn: string,
    invoker: LambdaInvoker,
    dispatcher: TargetDispatcher,
    options: Partial<DynamoDbStreamMappingOptions> = {},
  ): DynamoDbStreamMapping {
    return new DynamoDbStreamMapping({
      uuid: randomUUID(),
      functionArn: FUNCTION_ARN,
      invoker,
      dispatcher,
      streamArn,
      streams,
      batchSize: 10,
      filterCriteria: OUTBOX_FILTER,
      startingPosition: 'TRIM_HORIZON',
      pollIntervalMs: 20,
      region: 'us-east-1',
      ...options,
    });
  }

  it('delivers only OUTBOX# INSERTs, in order, in batches of batchSize, as Lambda builds the event', async () => {
    // Prepare: outbox inserts mixed with order rows, a MODIFY and a REMOVE of outbox rows.
    const { table, streamArn } = await streamTable();
    const checkpointFile = join(dir, 'filter.json');
    await ddb.send(
      new PutItemCommand({ TableName: table, Item: { pk: { S: 'ORDER#1' }, sk: { S: 'ORDER' } } }),
    );
    await putOutbox(table, 1, {
      blob: { B: new Uint8Array([1, 2, 3]) },
      items: { L: [{ M: { sku: { S: 'A' } } }] },
    });
    await putOutbox(table, 2);
    await ddb.send(
      new UpdateItemCommand({
        TableName: table,
        Key: { pk: { S: 'OUTBOX#1' }, sk: { S: 'EVENT#1' } },
        UpdateExpression: 'SET published = :t',
        ExpressionAttributeValues: { ':t': { BOOL: true } },
      }),
    );
    await putOutbox(table, 3);
    await ddb.send(
      new PutItemCommand({ TableName: table, Item: { pk: { S: 'ORDER#2' }, sk: { S: 'ORDER' } } }),
    );
    await putOutbox(table, 4);
    await putOutbox(table, 5);
    await ddb.send(
      new DeleteItemCommand({ TableName: table, Key: { pk: { S: 'OUTBOX#2' }, sk: { S: 'EVENT#2' } } }),
    );
    const fn = fakeFunction(() => ({ batchItemFailures: [] }));

    // Act
    await mapping(streamArn, fn, recordingDispatcher(), { batchSize: 2, checkpointFile }).drain();

    // Assess
    expect(fn.calls.map(ids)).toEqual([['OUTBOX#1', 'OUTBOX#2'], ['OUTBOX#3', 'OUTBOX#4'], ['OUTBOX#5']]);
    const records = fn.calls.flat();
    expect(records.every((r) => r.eventName === 'INSERT')).toBe(true);
    const sequence = records.map((r) => BigInt(r.dynamodb.SequenceNumber));
    expect(sequence).toEqual([...sequence].sort((a, b) => (a < b ? -1 : 1)));
    const first = records[0] as LambdaDynamoDbRecord;
    expect(first).toEqual({
      eventID: expect.any(String),
      eventName: 'INSERT',
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: 'us-east-1',
      dynamodb: {
        ApproximateCreationDateTime: expect.any(Number),
        Keys: { pk: { S: 'OUTBOX#1' }, sk: { S: 'EVENT#1' } },
        NewImage: {
          pk: { S: 'OUTBOX#1' },
          sk: { S: 'EVENT#1' },
          eventType: { S: 'OrderPlaced' },
          blob: { B: 'AQID' },
          items: { L: [{ M: { sku: { S: 'A' } } }] },
        },
        SequenceNumber: expect.stringMatching(/^\d+$/),
        SizeBytes: expect.any(Number),
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
      eventSourceARN: streamArn,
    });
    expect(Math.abs(first.dynamodb.ApproximateCreationDateTime - Date.now() / 1000)).toBeLessThan(120);
    // The filtered REMOVE at the end was skipped, and the checkpoint moved past it.
    const saved = JSON.parse(readFileSync(checkpointFile, 'utf8')) as {
      shards: Record<string, { sequenceNumber: string }>;
    };
    const [position] = Object.values(saved.shards);
    expect(BigInt(position?.sequenceNumber ?? '0')).toBeGreaterThan(sequence.at(-1) as bigint);
  });

  it('retries a throwing function maximumRetryAttempts times, then sends the on-failure record and moves on', async () => {
    // Prepare
    const { table, streamArn } = await streamTable();
    for (const n of [1, 2, 3]) await putOutbox(table, n);
    const fn = fakeFunction((event) => {
      if (ids(event.Records).includes('OUTBOX#1')) throw new Error('publisher down');
    });
    const dispatcher = recordingDispatcher();

    // Act
    await mapping(streamArn, fn, dispatcher, {
      batchSize: 2,
      maximumRetryAttempts: 2,
      onFailureDestinationArn: ON_FAILURE,
    }).drain();

    // Assess
    expect(fn.calls.map(ids)).toEqual([
      ['OUTBOX#1', 'OUTBOX#2'],
      ['OUTBOX#1', 'OUTBOX#2'],
      ['OUTBOX#1', 'OUTBOX#2'],
      ['OUTBOX#3'],
    ]);
    expect(dispatcher.sent).toHaveLength(1);
    const [failure] = dispatcher.sent;
    const batch = fn.calls[0] as LambdaDynamoDbRecord[];
    expect(failure?.arn).toBe(ON_FAILURE);
    expect(failure?.payload).toEqual({
      requestContext: {
        requestId: expect.any(String),
        functionArn: FUNCTION_ARN,
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: 3,
      },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      version: '1.0',
      timestamp: expect.stringMatching(/Z$/),
      DDBStreamBatchInfo: {
        shardId: expect.stringMatching(/^shardId-/),
        startSequenceNumber: batch[0]?.dynamodb.SequenceNumber,
        endSequenceNumber: batch[1]?.dynamodb.SequenceNumber,
        approximateArrivalOfFirstRecord: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
        approximateArrivalOfLastRecord: expect.stringMatching(/Z$/),
        batchSize: 2,
        streamArn,
      },
    });
  });

  it('bisects a failing batch so that only the poison record goes to the on-failure destination', async () => {
    // Prepare
    const { table, streamArn } = await streamTable();
    for (const n of [1, 2, 3, 4]) await putOutbox(table, n);
    const processed: string[] = [];
    const fn = fakeFunction((event) => {
      if (ids(event.Records).includes('OUTBOX#3')) throw new Error('poison');
      processed.push(...ids(event.Records));
    });
    const dispatcher = recordingDispatcher();

    // Act
    await mapping(streamArn, fn, dispatcher, {
      batchSize: 4,
      bisectBatchOnFunctionError: true,
      maximumRetryAttempts: 1,
      onFailureDestinationArn: ON_FAILURE,
    }).drain();

    // Assess: halves are tried in order; the single poison record gets its retry, then is discarded.
    expect(fn.calls.map(ids)).toEqual([
      ['OUTBOX#1', 'OUTBOX#2', 'OUTBOX#3', 'OUTBOX#4'],
      ['OUTBOX#1', 'OUTBOX#2'],
      ['OUTBOX#3', 'OUTBOX#4'],
      ['OUTBOX#3'],
      ['OUTBOX#3'],
      ['OUTBOX#4'],
    ]);
    expect(processed).toEqual(['OUTBOX#1', 'OUTBOX#2', 'OUTBOX#4']);
    const poison = (fn.calls[3] as LambdaDynamoDbRecord[])[0]?.dynamodb.SequenceNumber;
    expect(dispatcher.sent.map((s) => s.payload)).toEqual([
      expect.objectContaining({
        requestContext: expect.objectContaining({
          condition: 'RetryAttemptsExhausted',
          approximateInvokeCount: 2,
        }),
        DDBStreamBatchInfo: expect.objectContaining({
          startSequenceNumber: poison,
          endSequenceNumber: poison,
          batchSize: 1,
        }),
      }),
    ]);
  });

  it('with ReportBatchItemFailures, resumes at the lowest failed sequence number', async () => {
    // Prepare
    const { table, streamArn } = await streamTable();
    for (const n of [1, 2, 3, 4]) await putOutbox(table, n);
    const fn = fakeFunction((event) => {
      if (fn.calls.length > 1) return { batchItemFailures: [] };
      const [, second, , fourth] = event.Records;
      return {
        batchItemFailures: [
          { itemIdentifier: fourth?.dynamodb.SequenceNumber },
          { itemIdentifier: second?.dynamodb.SequenceNumber },
        ],
      };
    });
    const dispatcher = recordingDispatcher();

    // Act
    await mapping(streamArn, fn, dispatcher, {
      functionResponseTypes: ['ReportBatchItemFailures'],
      maximumRetryAttempts: 3,
      onFailureDestinationArn: ON_FAILURE,
    }).drain();

    // Assess
    expect(fn.calls.map(ids)).toEqual([
      ['OUTBOX#1', 'OUTBOX#2', 'OUTBOX#3', 'OUTBOX#4'],
      ['OUTBOX#2', 'OUTBOX#3', 'OUTBOX#4'],
    ]);
    expect(dispatcher.sent).toEqual([]);
  });

  it('treats an unknown itemIdentifier as a failure of the whole batch, and ignores batchItemFailures unless enabled', async () => {
    const { table, streamArn } = await streamTable();
    for (const n of [1, 2]) await putOutbox(table, n);
    const bogus = fakeFunction(() => ({ batchItemFailures: [{ itemIdentifier: 'not-a-sequence-number' }] }));
    await mapping(streamArn, bogus, recordingDispatcher(), {
      functionResponseTypes: ['ReportBatchItemFailures'],
      maximumRetryAttempts: 1,
    }).drain();
    expect(bogus.calls.map(ids)).toEqual([
      ['OUTBOX#1', 'OUTBOX#2'],
      ['OUTBOX#1', 'OUTBOX#2'],
    ]);

    const ignored = fakeFunction(() => ({ batchItemFailures: [{ itemIdentifier: 'anything' }] }));
    await mapping(streamArn, ignored, recordingDispatcher()).drain();
    expect(ignored.calls.map(ids)).toEqual([['OUTBOX#1', 'OUTBOX#2']]);
  });

  it('does not redeliver after a restart with the same checkpointFile', async () => {
    // Prepare
    const { table, streamArn } = await streamTable();
    const checkpointFile = join(dir, 'restart', 'checkpoint.json');
    for (const n of [1, 2, 3]) await putOutbox(table, n);
    const before = fakeFunction(() => null);
    const first = mapping(streamArn, before, recordingDispatcher(), { checkpointFile });
    first.start();
    await first.drain();
    await first.stop();
    await putOutbox(table, 4);

    // Act
    const after = fakeFunction(() => null);
    await mapping(streamArn, after, recordingDispatcher(), { checkpointFile }).drain();

    // Assess
    expect(before.calls.map(ids)).toEqual([['OUTBOX#1', 'OUTBOX#2', 'OUTBOX#3']]);
    expect(after.calls.map(ids)).toEqual([['OUTBOX#4']]);
  });

  it('LATEST skips what is already in the stream, also across a restart before anything new arrived', async () => {
    // Prepare
    const { table, streamArn } = await streamTable();
    const checkpointFile = join(dir, 'latest.json');
    await putOutbox(table, 1);
    const first = fakeFunction(() => null);
    await mapping(streamArn, first, recordingDispatcher(), {
      startingPosition: 'LATEST',
      checkpointFile,
    }).drain();

    // Act: written while "down", then a new mapping instance with the same checkpoint file.
    await putOutbox(table, 2);
    const second = fakeFunction(() => null);
    const running = mapping(streamArn, second, recordingDispatcher(), {
      startingPosition: 'LATEST',
      checkpointFile,
    });
    running.start();
    await running.drain();
    await putOutbox(table, 3);
    await running.drain();
    await running.stop();

    // Assess
    expect(first.calls).toEqual([]);
    expect(second.calls.flat().map((r) => (r.dynamodb.Keys.pk as { S: string }).S)).toEqual([
      'OUTBOX#2',
      'OUTBOX#3',
    ]);
  });

  it('waits up to the batching window to fill a batch', async () => {
    const { table, streamArn } = await streamTable();
    await putOutbox(table, 1);
    const fn = fakeFunction(() => null);
    const running = mapping(streamArn, fn, recordingDispatcher(), {
      batchSize: 3,
      maximumBatchingWindowInSeconds: 1,
    });
    running.start();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await putOutbox(table, 2);
    await running.drain();
    await running.stop();
    expect(fn.calls.map(ids)).toEqual([['OUTBOX#1', 'OUTBOX#2']]);
  });

  it('rejects an invalid filter pattern the way Lambda does', () => {
    expect(() =>
      mapping(
        'arn:aws:dynamodb:ddblocal:000000000000:table/x/stream/y',
        fakeFunction(() => null),
        recordingDispatcher(),
        {
          filterCriteria: { Filters: [{ Pattern: '{"eventName":"INSERT"}' }] },
        },
      ),
    ).toThrow(
      expect.objectContaining({
        type: 'InvalidParameterValueException',
        message: expect.stringMatching(/Invalid filter pattern/),
      }),
    );
  });
});
