import { randomUUID } from 'node:crypto';
import { DescribeTableCommand, type DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestTable, TEST_AWS, testDynamoDbClient } from '../../../test/support/dynamodb.ts';
import { IamAuthority, type IamMode } from '../iam/authority.ts';
import { LOCAL_ACCOUNT_ID, LOCAL_CREDENTIALS, LOCAL_REGION } from '../types.ts';
import { AwsError } from '../wire/aws-error.ts';
import { DynamoDbStreamMapping, type DynamoDbStreamMappingOptions } from './stream-poller.ts';

// The function's role: it must read the stream and send to the on-failure destination (checked when the mapping
// is created, as CreateEventSourceMapping does, and at each send).

const FUNCTION_ARN = `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:function:OutboxPublisher`;
const ON_FAILURE = `arn:aws:sqs:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:outbox-failures`;
const ROLE_NAME = 'OutboxPublisherRole';
const ROLE = `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/${ROLE_NAME}`;
const STREAM = `arn:aws:dynamodb:ddblocal:${LOCAL_ACCOUNT_ID}:table/Orders/stream/2025-01-01T00:00:00.000`;

/** What CDK grants a function reading a table's stream (`grantStreamRead`), and one sending to a queue. */
const READ_STREAM = (streamArn: string) => [
  { Effect: 'Allow', Action: 'dynamodb:ListStreams', Resource: '*' },
  {
    Effect: 'Allow',
    Action: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'],
    Resource: streamArn,
  },
];
const SEND = { Effect: 'Allow', Action: 'sqs:SendMessage', Resource: ON_FAILURE };

function authority(mode: IamMode, statements: readonly unknown[]): IamAuthority {
  const iam = new IamAuthority({
    accountId: LOCAL_ACCOUNT_ID,
    region: LOCAL_REGION,
    mode,
    log: () => undefined,
    rootCredentials: LOCAL_CREDENTIALS,
  });
  iam.putRole({
    roleName: ROLE_NAME,
    roleArn: ROLE,
    inlinePolicies: [{ name: 'Esm', document: { Version: '2012-10-17', Statement: statements } }],
    managedPolicyArns: [],
  });
  return iam;
}

const STREAM_ERROR = (streamArn: string) =>
  `Cannot access stream ${streamArn}. Please ensure the role can perform the GetRecords, GetShardIterator, DescribeStream, and ListStreams Actions on your stream in IAM.`;
const SEND_ERROR = 'The provided execution role does not have permissions to call SendMessage on SQS';

describe('DynamoDbStreamMapping with IAM', () => {
  let ddb: DynamoDBClient;
  let streams: DynamoDBStreamsClient;

  beforeAll(() => {
    ddb = testDynamoDbClient();
    streams = new DynamoDBStreamsClient({ ...TEST_AWS, endpoint: inject('dynamodbEndpoint') });
  });
  afterAll(() => {
    ddb.destroy();
    streams.destroy();
  });

  function options(
    overrides: Partial<DynamoDbStreamMappingOptions> & { log?: (line: string) => void },
  ): DynamoDbStreamMappingOptions {
    return {
      uuid: randomUUID(),
      functionArn: FUNCTION_ARN,
      functionRoleArn: ROLE,
      invoker: {
        invoke: async () => ({ statusCode: 200, payload: null, executedVersion: '$LATEST', requestId: 'r' }),
      },
      dispatcher: { deliver: async () => undefined },
      streamArn: STREAM,
      streams,
      batchSize: 10,
      onFailureDestinationArn: ON_FAILURE,
      startingPosition: 'TRIM_HORIZON',
      pollIntervalMs: 20,
      region: LOCAL_REGION,
      ...overrides,
    };
  }

  function refusal(create: () => unknown): AwsError {
    try {
      create();
    } catch (error) {
      if (error instanceof AwsError) return error;
      throw error;
    }
    throw new Error('expected the mapping to be refused');
  }

  it('enforce: created when the role reads the stream and sends to the destination', () => {
    const iam = authority('enforce', [...READ_STREAM(STREAM), SEND]);
    expect(() => new DynamoDbStreamMapping(options({ iam }))).not.toThrow();
  });

  it('enforce: a role that cannot read the stream is refused as CreateEventSourceMapping refuses it', () => {
    const iam = authority('enforce', [SEND]);
    const error = refusal(() => new DynamoDbStreamMapping(options({ iam })));
    expect(error.type).toBe('InvalidParameterValueException');
    expect(error.message).toBe(STREAM_ERROR(STREAM));
    // ListStreams alone on the stream is not enough either: every action counts.
    const partial = authority('enforce', [READ_STREAM(STREAM)[1], SEND]);
    expect(refusal(() => new DynamoDbStreamMapping(options({ iam: partial }))).message).toBe(
      STREAM_ERROR(STREAM),
    );
  });

  it('enforce: a role that cannot send to the on-failure queue is refused', () => {
    const iam = authority('enforce', READ_STREAM(STREAM));
    const error = refusal(() => new DynamoDbStreamMapping(options({ iam })));
    expect(error.type).toBe('InvalidParameterValueException');
    expect(error.message).toBe(SEND_ERROR);
    // Without a destination there is nothing to send to.
    expect(
      () => new DynamoDbStreamMapping(options({ iam, onFailureDestinationArn: undefined })),
    ).not.toThrow();
  });

  it('warn: created, each refusal logged; off or no authority: nothing checked', () => {
    const log: string[] = [];
    new DynamoDbStreamMapping(options({ iam: authority('warn', []), log: (line) => log.push(line) }));
    expect(log).toEqual([
      expect.stringMatching(
        new RegExp(
          `^IAM \\(warn\\) event source mapping [0-9a-f-]{36} \\(arn:aws:sts::${LOCAL_ACCOUNT_ID}:assumed-role/${ROLE_NAME}/OutboxPublisher\\): InvalidParameterValueException: Cannot access stream `,
        ),
      ),
      expect.stringContaining(`InvalidParameterValueException: ${SEND_ERROR}`),
    ]);
    expect(() => new DynamoDbStreamMapping(options({ iam: authority('off', []) }))).not.toThrow();
    expect(() => new DynamoDbStreamMapping(options({}))).not.toThrow();
  });

  describe('sending a discarded batch to the on-failure destination', () => {
    async function discardOne(iam: IamAuthority) {
      const table = await createTestTable(ddb, 'esm-iam', {
        stream: { StreamEnabled: true, StreamViewType: 'NEW_IMAGE' },
      });
      const described = await ddb.send(new DescribeTableCommand({ TableName: table }));
      const streamArn = described.Table?.LatestStreamArn as string;
      await ddb.send(
        new PutItemCommand({ TableName: table, Item: { pk: { S: 'OUTBOX#1' }, sk: { S: 'EVENT#1' } } }),
      );
      const sent: string[] = [];
      const log: string[] = [];
      // The role may create the mapping; what it may do at send time changes afterwards.
      const mapping = new DynamoDbStreamMapping(
        options({
          iam,
          streamArn,
          log: (line) => log.push(line),
          maximumRetryAttempts: 0,
          invoker: {
            invoke: async () => ({
              statusCode: 200,
              payload: { errorType: 'Error', errorMessage: 'boom', trace: [] },
              functionError: 'Unhandled',
              executedVersion: '$LATEST',
              requestId: 'r',
            }),
          },
          dispatcher: { deliver: async (arn) => void sent.push(arn) },
        }),
      );
      return { mapping, sent, log, streamArn };
    }

    it('allowed: the record is sent', async () => {
      const iam = authority('enforce', [{ Effect: 'Allow', Action: '*', Resource: '*' }]);
      const { mapping, sent } = await discardOne(iam);
      await mapping.drain();
      expect(sent).toEqual([ON_FAILURE]);
    });

    it('denied: nothing is sent and the log says why', async () => {
      const iam = authority('enforce', [{ Effect: 'Allow', Action: '*', Resource: '*' }]);
      const { mapping, sent, log } = await discardOne(iam);
      iam.putPolicy(
        'NoSend',
        { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 'sqs:SendMessage', Resource: '*' }] },
        [ROLE_NAME],
      );
      await mapping.drain();
      expect(sent).toEqual([]);
      expect(log.filter((l) => l.includes('on-failure destination'))).toEqual([
        expect.stringMatching(
          new RegExp(
            `: could not send the record of 1 discarded record\\(s\\) to the on-failure destination ${ON_FAILURE}: AccessDeniedException: User: arn:aws:sts::${LOCAL_ACCOUNT_ID}:assumed-role/${ROLE_NAME}/OutboxPublisher is not authorized to perform: sqs:SendMessage on resource: ${ON_FAILURE} with an explicit deny in an identity-based policy$`,
          ),
        ),
      ]);
    });
  });
});
