import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  CloudWatchLogsClient,
  DescribeLogGroupsCommand,
  FilterLogEventsCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { DynamoDBClient, GetItemCommand, ListTablesCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import {
  DescribeExecutionCommand,
  ExecutionDoesNotExist,
  ListStateMachinesCommand,
  SFNClient,
  SFNServiceException,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { GetQueueUrlCommand, QueueDoesNotExist, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { createTestTable, TEST_AWS } from '../../../test/support/dynamodb.ts';
import type { InvokeResult, LambdaInvoker } from '../types.ts';
import { AwsError, type JsonService } from '../wire/aws-error.ts';
import { type Edge, startEdge } from './edge.ts';

const run = promisify(execFile);

/** A JSON service that records its calls and answers from a table of operations. */
function recordingService(
  operations: Record<string, (input: Record<string, unknown>) => unknown>,
): JsonService & { calls: { operation: string; input: Record<string, unknown> }[] } {
  const calls: { operation: string; input: Record<string, unknown> }[] = [];
  return {
    calls,
    async handle(operation, input) {
      calls.push({ operation, input });
      const op = operations[operation];
      if (!op) throw new AwsError('UnknownOperationException', `no ${operation}`);
      return op(input);
    },
  };
}

const stepfunctions = recordingService({
  StartExecution: (input) => ({
    executionArn: `arn:aws:states:us-east-1:000000000000:execution:OrderSaga:${String(input.name)}`,
    // A Date from a service goes on the wire as epoch seconds, as the SDK expects.
    startDate: new Date(1_767_225_600_500),
  }),
  DescribeExecution: (input) => {
    throw new AwsError('ExecutionDoesNotExist', `Execution Does Not Exist: '${String(input.executionArn)}'`);
  },
  ListStateMachines: () => {
    throw new TypeError('interpreter exploded');
  },
});
const logs = recordingService({
  DescribeLogGroups: () => ({ logGroups: [{ logGroupName: '/aws/lambda/OrderFunction', storedBytes: 42 }] }),
  FilterLogEvents: () => ({ events: [{ logStreamName: 's', timestamp: 1, message: 'hello', eventId: '1' }] }),
});
const events = recordingService({
  PutEvents: (input) => ({
    FailedEntryCount: 0,
    Entries: (input.Entries as unknown[]).map((_, i) => ({ EventId: `event-${i}` })),
  }),
});
const sqs = recordingService({
  GetQueueUrl: (input) => {
    if (input.QueueName === 'orders-dlq') return { QueueUrl: 'http://127.0.0.1/000000000000/orders-dlq' };
    // As the SQS service names it: with its Smithy namespace.
    throw new AwsError('com.amazonaws.sqs#QueueDoesNotExist', 'The specified queue does not exist.');
  },
  SendMessage: () => ({ MessageId: 'm-1', MD5OfMessageBody: '5d41402abc4b2a76b9719d911017c592' }),
  ReceiveMessage: () => ({
    Messages: [
      {
        MessageId: 'm-1',
        ReceiptHandle: 'r-1',
        MD5OfBody: '5d41402abc4b2a76b9719d911017c592',
        Body: 'a <b> & c',
        Attributes: { ApproximateReceiveCount: '1' },
      },
    ],
  }),
});
const invocations: { name: string; payload: unknown }[] = [];
const lambda: LambdaInvoker = {
  async invoke(name, payload): Promise<InvokeResult> {
    invocations.push({ name, payload });
    if (name === 'Missing')
      throw new AwsError('ResourceNotFoundException', `Function not found: ${name}`, 404);
    if (name === 'Thrower') {
      return {
        statusCode: 200,
        payload: { errorType: 'PaymentDeclined', errorMessage: 'card declined', trace: [] },
        functionError: 'Unhandled',
        executedVersion: '$LATEST',
        requestId: 'req-err',
      };
    }
    return { statusCode: 200, payload: { echo: payload }, executedVersion: '$LATEST', requestId: 'req-ok' };
  },
};

let edge: Edge;
const errors: string[] = [];
const client = { ...TEST_AWS, maxAttempts: 1 };

beforeAll(async () => {
  edge = await startEdge({
    services: { stepfunctions, logs, events, sqs, lambda, dynamodbEndpoint: inject('dynamodbEndpoint') },
    region: 'us-east-1',
    credentials: TEST_AWS.credentials,
    log: (line) => errors.push(line),
  });
});

afterAll(async () => {
  await edge?.close();
});

const auth =
  'AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/states/aws4_request, SignedHeaders=host, Signature=0';

describe('JSON protocols through the AWS SDK', () => {
  test('Step Functions: a call reaches the service and its answer comes back typed', async () => {
    const sfn = new SFNClient({ ...client, endpoint: edge.endpoint });
    const out = await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:OrderSaga',
        name: 'o-1',
        input: '{}',
      }),
    );
    expect(out.executionArn).toBe('arn:aws:states:us-east-1:000000000000:execution:OrderSaga:o-1');
    expect(out.startDate).toEqual(new Date(1_767_225_600_500));
    expect(stepfunctions.calls.at(-1)).toMatchObject({
      operation: 'StartExecution',
      input: { name: 'o-1', input: '{}' },
    });
  });

  test('an AwsError comes out as the SDK typed exception', async () => {
    const sfn = new SFNClient({ ...client, endpoint: edge.endpoint });
    const error = await sfn
      .send(
        new DescribeExecutionCommand({
          executionArn: 'arn:aws:states:us-east-1:000000000000:execution:OrderSaga:nope',
        }),
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ExecutionDoesNotExist);
    expect((error as ExecutionDoesNotExist).message).toContain('Execution Does Not Exist');
    expect((error as ExecutionDoesNotExist).$metadata.httpStatusCode).toBe(400);
  });

  test('any other exception is a 500 InternalFailure with its message, and the edge keeps serving', async () => {
    const sfn = new SFNClient({ ...client, endpoint: edge.endpoint });
    const error = await sfn.send(new ListStateMachinesCommand({})).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SFNServiceException);
    expect((error as SFNServiceException).name).toBe('InternalFailure');
    expect((error as SFNServiceException).message).toBe('interpreter exploded');
    expect((error as SFNServiceException).$metadata.httpStatusCode).toBe(500);
    expect(errors.some((line) => line.includes('interpreter exploded'))).toBe(true);
    await expect(
      sfn.send(new StartExecutionCommand({ stateMachineArn: 'x', name: 'o-2' })),
    ).resolves.toBeDefined();
  });

  test('CloudWatch Logs speaks awsJson1_1', async () => {
    const cw = new CloudWatchLogsClient({ ...client, endpoint: edge.endpoint });
    const groups = await cw.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: '/aws/lambda/' }));
    expect(groups.logGroups?.[0]?.logGroupName).toBe('/aws/lambda/OrderFunction');
    const found = await cw.send(
      new FilterLogEventsCommand({ logGroupName: '/aws/lambda/OrderFunction', filterPattern: 'hello' }),
    );
    expect(found.events?.[0]?.message).toBe('hello');
    expect(logs.calls.map((c) => c.operation)).toEqual(['DescribeLogGroups', 'FilterLogEvents']);
    expect(logs.calls[1]?.input).toMatchObject({ filterPattern: 'hello' });
  });

  test('EventBridge PutEvents', async () => {
    const eb = new EventBridgeClient({ ...client, endpoint: edge.endpoint });
    const out = await eb.send(
      new PutEventsCommand({
        Entries: [
          {
            Source: 'saga.orders',
            DetailType: 'OrderPlaced',
            Detail: '{"orderId":"o-1"}',
            EventBusName: 'OrderEvents',
          },
        ],
      }),
    );
    expect(out.FailedEntryCount).toBe(0);
    expect(out.Entries?.[0]?.EventId).toBe('event-0');
    expect(events.calls[0]?.input).toMatchObject({
      Entries: [{ Source: 'saga.orders', EventBusName: 'OrderEvents' }],
    });
  });

  test('SQS (awsJson1_0, query-compatible): answers and typed errors', async () => {
    const q = new SQSClient({ ...client, endpoint: edge.endpoint });
    const url = await q.send(new GetQueueUrlCommand({ QueueName: 'orders-dlq' }));
    expect(url.QueueUrl).toBe('http://127.0.0.1/000000000000/orders-dlq');
    const sent = await q.send(
      new SendMessageCommand({ QueueUrl: `${edge.endpoint}/000000000000/orders-dlq`, MessageBody: 'hello' }),
    );
    expect(sent.MessageId).toBe('m-1');
    const error = await q.send(new GetQueueUrlCommand({ QueueName: 'nope' })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueueDoesNotExist);
    expect((error as QueueDoesNotExist & { Code?: string }).Code).toBe(
      'AWS.SimpleQueueService.NonExistentQueue',
    );
  });

  test('DynamoDB goes through the proxy to DynamoDB Local untouched', async () => {
    const ddb = new DynamoDBClient({ ...client, endpoint: edge.endpoint });
    const table = await createTestTable(ddb, 'edge');
    await ddb.send(
      new PutItemCommand({ TableName: table, Item: { pk: { S: 'a' }, sk: { S: 'b' }, n: { N: '7' } } }),
    );
    const got = await ddb.send(
      new GetItemCommand({ TableName: table, Key: { pk: { S: 'a' }, sk: { S: 'b' } } }),
    );
    expect(got.Item?.n?.N).toBe('7');
    const { TableNames } = await ddb.send(new ListTablesCommand({}));
    expect(TableNames).toContain(table);
    // DynamoDB Local's own error, passed through with its status.
    const missing = await ddb
      .send(new GetItemCommand({ TableName: 'no-such-table', Key: { pk: { S: 'a' } } }))
      .catch((e: unknown) => e);
    expect((missing as Error).name).toBe('ResourceNotFoundException');
  });
});

describe('raw wire behaviour', () => {
  const post = (headers: Record<string, string>, body = '{}', path = '/') =>
    fetch(`${edge.endpoint}${path}`, { method: 'POST', headers, body });

  test('requests without a signature get 403 MissingAuthenticationToken', async () => {
    const res = await post({
      'x-amz-target': 'AWSStepFunctions.ListStateMachines',
      'content-type': 'application/x-amz-json-1.0',
    });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ __type: 'MissingAuthenticationTokenException' });
  });

  test('an unknown target is 400 UnknownOperationException; an unknown path is 404 JSON', async () => {
    const res = await post({ authorization: auth, 'x-amz-target': 'Kinesis_20131202.PutRecord' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { __type: string }).__type).toBe('UnknownOperationException');
    const missing = await fetch(`${edge.endpoint}/nothing/here`, { headers: { authorization: auth } });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toBe('application/json');
    expect(((await missing.json()) as { message: string }).message).toContain('GET /nothing/here');
  });

  test('answers carry the request content type and a request id; bad JSON is a SerializationException', async () => {
    const ok = await post({
      authorization: auth,
      'x-amz-target': 'Logs_20140328.DescribeLogGroups',
      'content-type': 'application/x-amz-json-1.1',
    });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe('application/x-amz-json-1.1');
    expect(ok.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
    const bad = await post({ authorization: auth, 'x-amz-target': 'AWSEvents.PutEvents' }, '{not json');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { __type: string }).__type).toBe('SerializationException');
  });

  test('SQS errors carry x-amzn-query-error', async () => {
    const res = await post(
      {
        authorization: auth,
        'x-amz-target': 'AmazonSQS.GetQueueUrl',
        'content-type': 'application/x-amz-json-1.0',
      },
      '{"QueueName":"nope"}',
    );
    expect(res.status).toBe(400);
    expect(res.headers.get('x-amzn-query-error')).toBe('AWS.SimpleQueueService.NonExistentQueue;Sender');
    expect(await res.json()).toEqual({
      __type: 'com.amazonaws.sqs#QueueDoesNotExist',
      message: 'The specified queue does not exist.',
    });
  });

  test('SQS query protocol: flattened parameters in, XML out', async () => {
    sqs.calls.length = 0;
    const form = new URLSearchParams({
      Action: 'SendMessage',
      MessageBody: 'hello',
      DelaySeconds: '2',
      'MessageAttribute.1.Name': 'kind',
      'MessageAttribute.1.Value.DataType': 'String',
      'MessageAttribute.1.Value.StringValue': 'test',
    });
    const res = await post(
      { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' },
      form.toString(),
      '/000000000000/orders-dlq',
    );
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('<SendMessageResult><MessageId>m-1</MessageId>');
    expect(sqs.calls[0]).toEqual({
      operation: 'SendMessage',
      input: {
        MessageBody: 'hello',
        DelaySeconds: 2,
        QueueUrl: `${edge.endpoint}/000000000000/orders-dlq`,
        MessageAttributes: { kind: { DataType: 'String', StringValue: 'test' } },
      },
    });
    const received = await post(
      { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' },
      'Action=ReceiveMessage&AttributeName.1=All',
      '/000000000000/orders-dlq',
    );
    const xml = await received.text();
    expect(xml).toContain('<Message><MessageId>m-1</MessageId>');
    expect(xml).toContain('<Body>a &lt;b&gt; &amp; c</Body>');
    expect(xml).toContain('<Attribute><Name>ApproximateReceiveCount</Name><Value>1</Value></Attribute>');
    expect(sqs.calls[1]?.input).toMatchObject({ AttributeNames: ['All'] });
    const missing = await post(
      { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' },
      'Action=GetQueueUrl&QueueName=nope',
    );
    expect(missing.status).toBe(400);
    expect(await missing.text()).toContain('<Code>AWS.SimpleQueueService.NonExistentQueue</Code>');
  });

  test('Lambda Invoke (REST): payload, function errors and unknown functions as Lambda answers them', async () => {
    const ok = await post(
      { authorization: auth },
      '{"a":1}',
      '/2015-03-31/functions/ChargePayment/invocations',
    );
    expect(ok.status).toBe(200);
    expect(ok.headers.get('x-amz-executed-version')).toBe('$LATEST');
    expect(ok.headers.get('x-amz-function-error')).toBeNull();
    expect(await ok.json()).toEqual({ echo: { a: 1 } });
    const failed = await post({ authorization: auth }, '{}', '/2015-03-31/functions/Thrower/invocations');
    expect(failed.status).toBe(200);
    expect(failed.headers.get('x-amz-function-error')).toBe('Unhandled');
    expect(await failed.json()).toMatchObject({ errorType: 'PaymentDeclined' });
    const missing = await post({ authorization: auth }, '{}', '/2015-03-31/functions/Missing/invocations');
    expect(missing.status).toBe(404);
    expect(missing.headers.get('x-amzn-errortype')).toBe('ResourceNotFoundException');
    const arn = encodeURIComponent('arn:aws:lambda:us-east-1:000000000000:function:ShipOrder');
    const event = await post(
      { authorization: auth, 'x-amz-invocation-type': 'Event' },
      '{}',
      `/2015-03-31/functions/${arn}/invocations`,
    );
    expect(event.status).toBe(202);
    expect(invocations.at(-1)?.name).toBe('arn:aws:lambda:us-east-1:000000000000:function:ShipOrder');
  });
});

describe('the AWS CLI against the edge', () => {
  const env = {
    ...process.env,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_PAGER: '',
  };

  test('aws dynamodb list-tables goes through the proxy', async () => {
    const ddb = new DynamoDBClient({ ...client, endpoint: edge.endpoint });
    const table = await createTestTable(ddb, 'edge-cli');
    const { stdout } = await run(
      'aws',
      ['dynamodb', 'list-tables', '--endpoint-url', edge.endpoint, '--output', 'json'],
      {
        env,
      },
    );
    expect((JSON.parse(stdout) as { TableNames: string[] }).TableNames).toContain(table);
  });

  test('aws lambda invoke reports the function error', async () => {
    const { stdout } = await run(
      'aws',
      [
        'lambda',
        'invoke',
        '--function-name',
        'Thrower',
        '--endpoint-url',
        edge.endpoint,
        '--output',
        'json',
        '/dev/null',
      ],
      { env },
    );
    expect(JSON.parse(stdout)).toMatchObject({
      StatusCode: 200,
      FunctionError: 'Unhandled',
      ExecutedVersion: '$LATEST',
    });
  });
});
