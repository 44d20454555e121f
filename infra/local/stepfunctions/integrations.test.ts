import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestTable, testDynamoDbClient } from '../../../test/support/dynamodb.ts';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from '../types.ts';
import { parseTaskResource, runAwsSdkDynamoDb, runDynamoDbIntegration } from './integrations.ts';
import { StepFunctionsService } from './service.ts';
import { statesEntered, TestFunctions } from './testing.ts';

// The AWS SDK integration for DynamoDB (arn:aws:states:::aws-sdk:dynamodb:<action>) against DynamoDB Local.

const dynamodb = testDynamoDbClient();
let orders = '';
let shipments = '';
const key = (id: string) => ({ pk: { S: `ORDER#${id}` }, sk: { S: 'ORDER' } });

async function putOrder(id: string, status: string): Promise<void> {
  await dynamodb.send(new PutItemCommand({ TableName: orders, Item: { ...key(id), status: { S: status } } }));
}

async function statusOf(id: string): Promise<string | undefined> {
  const { Item } = await dynamodb.send(
    new GetItemCommand({ TableName: orders, Key: key(id), ConsistentRead: true }),
  );
  return Item?.status?.S;
}

/** The saga's cancel decision: PENDING → CANCELLING, provided no shipment exists. */
function cancelRequest(id: string) {
  return {
    TransactItems: [
      {
        Update: {
          TableName: orders,
          Key: key(id),
          UpdateExpression: 'SET #s = :cancelling, failureReason = :reason',
          ConditionExpression: '#s = :pending',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: {
            ':cancelling': { S: 'CANCELLING' },
            ':pending': { S: 'PENDING' },
            ':reason': { S: 'OutOfStock' },
          },
        },
      },
      {
        ConditionCheck: {
          TableName: shipments,
          Key: { pk: { S: `ORDER#${id}` }, sk: { S: 'SHIPMENT' } },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
    ],
  };
}

beforeAll(async () => {
  [orders, shipments] = await Promise.all([
    createTestTable(dynamodb, 'sfn-sdk-orders'),
    createTestTable(dynamodb, 'sfn-sdk-shipments'),
  ]);
});

describe('parseTaskResource', () => {
  test('aws-sdk:dynamodb actions resolve; other aws-sdk resources are unsupported with the list', () => {
    expect(parseTaskResource('arn:aws:states:::aws-sdk:dynamodb:transactWriteItems')).toEqual({
      kind: 'aws-sdk-dynamodb',
      resourceType: 'aws-sdk:dynamodb',
      resource: 'transactWriteItems',
    });
    for (const action of ['getItem', 'putItem', 'updateItem', 'deleteItem', 'query', 'scan']) {
      expect(parseTaskResource(`arn:aws:states:::aws-sdk:dynamodb:${action}`).kind).toBe('aws-sdk-dynamodb');
    }
    const createTable = parseTaskResource('arn:aws:states:::aws-sdk:dynamodb:createTable');
    expect(createTable.kind).toBe('unsupported');
    expect(createTable).toMatchObject({
      reason: expect.stringContaining('arn:aws:states:::aws-sdk:dynamodb:getItem|putItem'),
    });
    expect(parseTaskResource('arn:aws:states:::aws-sdk:dynamodb:getItem.waitForTaskToken').kind).toBe(
      'unsupported',
    );
    expect(parseTaskResource('arn:aws:states:::aws-sdk:s3:getObject').kind).toBe('unsupported');
    // The optimized integration keeps its own four actions.
    expect(parseTaskResource('arn:aws:states:::dynamodb:query').kind).toBe('unsupported');
  });
});

describe('runAwsSdkDynamoDb', () => {
  test('transactWriteItems commits and answers the raw (empty) API response', async () => {
    await putOrder('tw-ok', 'PENDING');
    const outcome = await runAwsSdkDynamoDb(dynamodb, 'transactWriteItems', cancelRequest('tw-ok'));
    expect(outcome).toEqual({ ok: true, output: {} });
    expect(await statusOf('tw-ok')).toBe('CANCELLING');
  });

  test('a refused transaction is DynamoDb.TransactionCanceledException with the Java SDK cause text', async () => {
    await putOrder('tw-shipped', 'PENDING');
    await dynamodb.send(
      new PutItemCommand({
        TableName: shipments,
        Item: { pk: { S: 'ORDER#tw-shipped' }, sk: { S: 'SHIPMENT' } },
      }),
    );
    const outcome = await runAwsSdkDynamoDb(dynamodb, 'transactWriteItems', cancelRequest('tw-shipped'));
    expect(outcome).toEqual({
      ok: false,
      error: 'DynamoDb.TransactionCanceledException',
      cause: expect.stringMatching(
        /^Transaction cancelled, please refer cancellation reasons for specific reasons \[None, ConditionalCheckFailed\] \(Service: DynamoDb, Status Code: 400, Request ID: [\w-]+\)$/,
      ),
    });
    expect(await statusOf('tw-shipped')).toBe('PENDING');
  });

  test('getItem, putItem, updateItem, deleteItem, query and scan answer the API response without SDK metadata', async () => {
    const table = orders;
    const item = { ...key('crud'), status: { S: 'PENDING' }, amount: { N: '2500' }, blob: { B: 'AAEC/w==' } };
    expect(await runAwsSdkDynamoDb(dynamodb, 'putItem', { TableName: table, Item: item })).toEqual({
      ok: true,
      output: {},
    });
    // Binary values travel as base64 text both ways, as on the wire.
    expect(
      await runAwsSdkDynamoDb(dynamodb, 'getItem', {
        TableName: table,
        Key: key('crud'),
        ConsistentRead: true,
      }),
    ).toEqual({ ok: true, output: { Item: item } });
    expect(await runAwsSdkDynamoDb(dynamodb, 'getItem', { TableName: table, Key: key('absent') })).toEqual({
      ok: true,
      output: {},
    });
    const updated = await runAwsSdkDynamoDb(dynamodb, 'updateItem', {
      TableName: table,
      Key: key('crud'),
      UpdateExpression: 'SET #s = :s',
      ExpressionAttributeNames: { '#s': 'status' },
      ExpressionAttributeValues: { ':s': { S: 'COMPLETED' } },
      ReturnValues: 'UPDATED_NEW',
    });
    expect(updated).toEqual({ ok: true, output: { Attributes: { status: { S: 'COMPLETED' } } } });
    const queried = await runAwsSdkDynamoDb(dynamodb, 'query', {
      TableName: table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': { S: 'ORDER#crud' } },
    });
    expect(queried).toEqual({
      ok: true,
      output: { Count: 1, ScannedCount: 1, Items: [{ ...item, status: { S: 'COMPLETED' } }] },
    });
    const scanned = await runAwsSdkDynamoDb(dynamodb, 'scan', { TableName: table, Select: 'COUNT' });
    expect(scanned).toMatchObject({ ok: true, output: { Count: expect.any(Number) } });
    expect(
      await runAwsSdkDynamoDb(dynamodb, 'deleteItem', {
        TableName: table,
        Key: key('crud'),
        ReturnValues: 'ALL_OLD',
      }),
    ).toMatchObject({ ok: true, output: { Attributes: { status: { S: 'COMPLETED' } } } });
    expect(await statusOf('crud')).toBeUndefined();
  });

  test('a failed condition is DynamoDb.ConditionalCheckFailedException; the optimized integration says DynamoDB.', async () => {
    await putOrder('cond', 'COMPLETED');
    const request = {
      TableName: orders,
      Key: key('cond'),
      UpdateExpression: 'SET #s = :failed',
      ConditionExpression: '#s = :pending',
      ExpressionAttributeNames: { '#s': 'status' },
      ExpressionAttributeValues: { ':failed': { S: 'FAILED' }, ':pending': { S: 'PENDING' } },
    };
    expect(await runAwsSdkDynamoDb(dynamodb, 'updateItem', request)).toEqual({
      ok: false,
      error: 'DynamoDb.ConditionalCheckFailedException',
      cause: expect.stringMatching(
        /^The conditional request failed \(Service: DynamoDb, Status Code: 400, Request ID: [\w-]+\)$/,
      ),
    });
    expect(await runDynamoDbIntegration(dynamodb, 'updateItem', request)).toMatchObject({
      ok: false,
      error: 'DynamoDB.ConditionalCheckFailedException',
    });
    expect(await statusOf('cond')).toBe('COMPLETED');
  });

  test('an error the DynamoDB model does not declare is DynamoDb.DynamoDbException', async () => {
    const outcome = await runAwsSdkDynamoDb(dynamodb, 'getItem', {
      TableName: orders,
      Key: { pk: { S: 'only-half-the-key' } },
    });
    expect(outcome).toMatchObject({
      ok: false,
      error: 'DynamoDb.DynamoDbException',
      cause: expect.stringMatching(/\(Service: DynamoDb, Status Code: 400, Request ID: [\w-]+\)$/),
    });
    const missing = await runAwsSdkDynamoDb(dynamodb, 'getItem', {
      TableName: 'no-such-table',
      Key: key('x'),
    });
    expect(missing).toMatchObject({ ok: false, error: 'DynamoDb.ResourceNotFoundException' });
  });

  test('Parameters that are not an object are a States.Runtime failure of the task', async () => {
    await expect(runAwsSdkDynamoDb(dynamodb, 'getItem', 'TableName')).rejects.toThrow(
      /aws-sdk:dynamodb:getItem needs Parameters with the API request.*received "TableName"/,
    );
  });
});

describe('in a state machine', () => {
  const service = new StepFunctionsService({
    lambda: new TestFunctions({}),
    dynamodb,
    timeScale: 0.01,
    accountId: LOCAL_ACCOUNT_ID,
    region: LOCAL_REGION,
  });
  afterAll(() => service.close());

  test('task events name aws-sdk:dynamodb; a refused transaction is caught by its error name', async () => {
    const arn = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:stateMachine:SdkCancel`;
    const request = cancelRequest('PLACEHOLDER');
    const update = request.TransactItems[0]?.Update as Record<string, unknown>;
    const check = request.TransactItems[1]?.ConditionCheck as Record<string, unknown>;
    service.createStateMachine({
      name: 'SdkCancel',
      arn,
      roleArn: `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/saga-test`,
      type: 'STANDARD',
      definition: JSON.stringify({
        StartAt: 'CancelOrder',
        States: {
          CancelOrder: {
            Type: 'Task',
            Resource: 'arn:aws:states:::aws-sdk:dynamodb:transactWriteItems',
            Parameters: {
              TransactItems: [
                {
                  Update: {
                    ...update,
                    Key: { pk: { 'S.$': "States.Format('ORDER#{}', $.orderId)" }, sk: { S: 'ORDER' } },
                  },
                },
                {
                  ConditionCheck: {
                    ...check,
                    Key: { pk: { 'S.$': "States.Format('ORDER#{}', $.orderId)" }, sk: { S: 'SHIPMENT' } },
                  },
                },
              ],
            },
            ResultPath: '$.cancel',
            Catch: [
              {
                ErrorEquals: ['DynamoDb.TransactionCanceledException'],
                ResultPath: '$.refused',
                Next: 'Refused',
              },
            ],
            Next: 'Cancelled',
          },
          Cancelled: { Type: 'Succeed' },
          Refused: { Type: 'Pass', End: true },
        },
      }),
    });
    await putOrder('sm-1', 'PENDING');
    await putOrder('sm-2', 'COMPLETED');
    const run = async (orderId: string) => {
      const { executionArn } = (await service.handle('StartExecution', {
        stateMachineArn: arn,
        input: JSON.stringify({ orderId }),
      })) as { executionArn: string };
      const described = await service.waitForExecution(executionArn, { timeoutMs: 20_000 });
      return { described, events: service.getExecutionHistory(executionArn) };
    };

    const ok = await run('sm-1');
    expect(ok.described.status).toBe('SUCCEEDED');
    expect(JSON.parse(String(ok.described.output))).toEqual({ orderId: 'sm-1', cancel: {} });
    const scheduled = ok.events.find((e) => e.type === 'TaskScheduled')?.taskScheduledEventDetails;
    expect(scheduled).toMatchObject({ resourceType: 'aws-sdk:dynamodb', resource: 'transactWriteItems' });
    expect(JSON.parse(String(scheduled?.parameters)).TransactItems[0].Update.Key.pk).toEqual({
      S: 'ORDER#sm-1',
    });
    expect(await statusOf('sm-1')).toBe('CANCELLING');

    const refused = await run('sm-2');
    expect(statesEntered(refused.events)).toEqual(['CancelOrder', 'Refused']);
    expect(refused.events.find((e) => e.type === 'TaskFailed')?.taskFailedEventDetails).toMatchObject({
      resourceType: 'aws-sdk:dynamodb',
      resource: 'transactWriteItems',
      error: 'DynamoDb.TransactionCanceledException',
    });
    expect(JSON.parse(String(refused.described.output)).refused).toEqual({
      Error: 'DynamoDb.TransactionCanceledException',
      Cause: expect.stringContaining('[ConditionalCheckFailed, None]'),
    });
    expect(await statusOf('sm-2')).toBe('COMPLETED');
  });
});
