import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, test } from 'vitest';
import { createTestTable, testDynamoDbClient } from '../../../test/support/dynamodb.ts';
import { IamAuthority, type IamMode } from '../iam/authority.ts';
import { LOCAL_ACCOUNT_ID, LOCAL_CREDENTIALS, LOCAL_REGION } from '../types.ts';
import { StepFunctionsService } from './service.ts';
import { TestFunctions } from './testing.ts';

// The state machine's role: each task's call is authorized as a session of it before it is sent.

const dynamodb = testDynamoDbClient();
const ROLE_NAME = 'SagaStateMachineRole';
const ROLE = `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/${ROLE_NAME}`;
const table = (name: string) => `arn:aws:dynamodb:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:table/${name}`;
const SESSION = new RegExp(`^User: arn:aws:sts::${LOCAL_ACCOUNT_ID}:assumed-role/${ROLE_NAME}/[0-9a-f]{32} `);
const REQUEST_ID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

let orders = '';
let shipments = '';

beforeAll(async () => {
  [orders, shipments] = await Promise.all([
    createTestTable(dynamodb, 'sfn-iam-orders'),
    createTestTable(dynamodb, 'sfn-iam-shipments'),
  ]);
});

/** An authority with the machine's role; `grants` are the role's inline policy statements. */
function authority(mode: IamMode, grants: readonly unknown[], log: string[] = []): IamAuthority {
  const iam = new IamAuthority({
    accountId: LOCAL_ACCOUNT_ID,
    region: LOCAL_REGION,
    mode,
    log: (line) => log.push(line),
    rootCredentials: LOCAL_CREDENTIALS,
  });
  iam.putRole({
    roleName: ROLE_NAME,
    roleArn: ROLE,
    inlinePolicies:
      grants.length === 0 ? [] : [{ name: 'Tasks', document: { Version: '2012-10-17', Statement: grants } }],
    managedPolicyArns: [],
  });
  return iam;
}

const key = (id: string) => ({ pk: { S: `ORDER#${id}` }, sk: { S: 'ORDER' } });

/** One Task state per call the role makes, in this order. */
function definition(): string {
  const task = (resource: string, parameters: unknown, next: string | undefined) => ({
    Type: 'Task',
    Resource: resource,
    ...(parameters === undefined ? {} : { Parameters: parameters }),
    ResultPath: null,
    ...(next === undefined ? { End: true } : { Next: next }),
  });
  return JSON.stringify({
    StartAt: 'Invoke',
    States: {
      Invoke: task(
        'arn:aws:states:::lambda:invoke',
        { FunctionName: 'charge', 'Payload.$': '$' },
        'InvokeArn',
      ),
      InvokeArn: task(TestFunctions.arn('reserve'), undefined, 'Put'),
      Put: task(
        'arn:aws:states:::dynamodb:putItem',
        { TableName: orders, Item: { ...key('1'), status: { S: 'PENDING' } } },
        'Transact',
      ),
      Transact: task(
        'arn:aws:states:::aws-sdk:dynamodb:transactWriteItems',
        {
          TransactItems: [
            {
              Update: {
                TableName: orders,
                Key: key('1'),
                UpdateExpression: 'SET #s = :s',
                ExpressionAttributeNames: { '#s': 'status' },
                ExpressionAttributeValues: { ':s': { S: 'SETTLED' } },
              },
            },
            {
              ConditionCheck: {
                TableName: shipments,
                Key: key('1'),
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
          ],
        },
        undefined,
      ),
    },
  });
}

const ALL_GRANTS = (): Record<string, unknown>[] => [
  {
    Effect: 'Allow',
    Action: 'lambda:InvokeFunction',
    Resource: [TestFunctions.arn('charge'), TestFunctions.arn('reserve')],
  },
  { Effect: 'Allow', Action: ['dynamodb:PutItem', 'dynamodb:UpdateItem'], Resource: table(orders) },
  {
    Effect: 'Allow',
    Action: 'dynamodb:ConditionCheckItem',
    Resource: table(shipments),
    Condition: { StringEquals: { 'dynamodb:EnclosingOperation': 'TransactWriteItems' } },
  },
];

async function run(iam: IamAuthority | undefined, name = 'Saga') {
  const functions = new TestFunctions({ charge: () => ({ ok: true }), reserve: () => ({ ok: true }) });
  const service = new StepFunctionsService({
    lambda: functions,
    dynamodb,
    accountId: LOCAL_ACCOUNT_ID,
    region: LOCAL_REGION,
    ...(iam === undefined ? {} : { iam }),
  });
  const arn = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:stateMachine:${name}`;
  service.createStateMachine({ name, arn, definition: definition(), roleArn: ROLE, type: 'STANDARD' });
  const { executionArn } = (await service.handle('StartExecution', {
    stateMachineArn: arn,
    input: '{}',
  })) as { executionArn: string };
  const result = await service.waitForExecution(executionArn, { timeoutMs: 20_000 });
  await service.close();
  return { result, functions };
}

describe('Step Functions tasks run as the state machine’s role', () => {
  test('enforce, with the grants: every call goes through', async () => {
    const { result, functions } = await run(authority('enforce', ALL_GRANTS()));
    expect(result.status).toBe('SUCCEEDED');
    expect(functions.calls.map((c) => c.name)).toEqual(['charge', 'reserve']);
    const { Item } = await dynamodb.send(
      new GetItemCommand({ TableName: orders, Key: key('1'), ConsistentRead: true }),
    );
    expect(Item?.status?.S).toBe('SETTLED');
  });

  test('lambda:invoke without lambda:InvokeFunction: Lambda.AWSLambdaException, 403 AccessDeniedException cause', async () => {
    const { result, functions } = await run(authority('enforce', ALL_GRANTS().slice(1)));
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('Lambda.AWSLambdaException');
    expect(result.cause).toMatch(SESSION);
    expect(result.cause).toMatch(
      new RegExp(
        ` is not authorized to perform: lambda:InvokeFunction on resource: ${TestFunctions.arn('charge')} because no identity-based policy allows the lambda:InvokeFunction action \\(Service: AWSLambda; Status Code: 403; Error Code: AccessDeniedException; Request ID: ${REQUEST_ID}; Proxy: null\\)$`,
      ),
    );
    expect(functions.calls).toEqual([]);
  });

  test('a plain function ARN is authorized on that ARN, a qualifier on the qualified ARN', async () => {
    const grants = ALL_GRANTS();
    grants[0] = { Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: TestFunctions.arn('charge') };
    const { result } = await run(authority('enforce', grants));
    expect(result.error).toBe('Lambda.AWSLambdaException');
    expect(result.cause).toContain(
      `lambda:InvokeFunction on resource: ${TestFunctions.arn('reserve')} because`,
    );

    const iam = authority('enforce', []);
    const service = new StepFunctionsService({
      lambda: new TestFunctions({ charge: () => 1 }),
      dynamodb,
      accountId: LOCAL_ACCOUNT_ID,
      region: LOCAL_REGION,
      iam,
    });
    const arn = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:stateMachine:Qualified`;
    service.createStateMachine({
      name: 'Qualified',
      arn,
      roleArn: ROLE,
      type: 'STANDARD',
      definition: JSON.stringify({
        StartAt: 'Invoke',
        States: {
          Invoke: {
            Type: 'Task',
            Resource: 'arn:aws:states:::lambda:invoke',
            Parameters: { FunctionName: 'charge', Qualifier: 'live', Payload: {} },
            End: true,
          },
        },
      }),
    });
    const { executionArn } = (await service.handle('StartExecution', { stateMachineArn: arn })) as {
      executionArn: string;
    };
    const described = await service.waitForExecution(executionArn, { timeoutMs: 20_000 });
    expect(described.cause).toContain(`on resource: ${TestFunctions.arn('charge')}:live because`);
    await service.close();
  });

  test('dynamodb:putItem without dynamodb:PutItem: DynamoDB.AmazonDynamoDBException, AmazonDynamoDBv2 cause', async () => {
    const grants = ALL_GRANTS();
    grants[1] = { Effect: 'Allow', Action: 'dynamodb:UpdateItem', Resource: table(orders) };
    const { result } = await run(authority('enforce', grants));
    expect(result.error).toBe('DynamoDB.AmazonDynamoDBException');
    expect(result.cause).toMatch(SESSION);
    expect(result.cause).toMatch(
      new RegExp(
        ` is not authorized to perform: dynamodb:PutItem on resource: ${table(orders)} because no identity-based policy allows the dynamodb:PutItem action \\(Service: AmazonDynamoDBv2; Status Code: 400; Error Code: AccessDeniedException; Request ID: ${REQUEST_ID}; Proxy: null\\)$`,
      ),
    );
  });

  test('aws-sdk:dynamodb:transactWriteItems checks each item: DynamoDb.DynamoDbException, nothing written', async () => {
    const grants = ALL_GRANTS().slice(0, 2);
    const { result } = await run(authority('enforce', grants));
    expect(result.error).toBe('DynamoDb.DynamoDbException');
    expect(result.cause).toMatch(SESSION);
    expect(result.cause).toMatch(
      new RegExp(
        ` is not authorized to perform: dynamodb:ConditionCheckItem on resource: ${table(shipments)} because no identity-based policy allows the dynamodb:ConditionCheckItem action \\(Service: DynamoDb, Status Code: 400, Request ID: ${REQUEST_ID}\\)$`,
      ),
    );
    // The Put before it went through; the transaction did not.
    const { Item } = await dynamodb.send(
      new GetItemCommand({ TableName: orders, Key: key('1'), ConsistentRead: true }),
    );
    expect(Item?.status?.S).toBe('PENDING');
  });

  test('warn mode: the denied calls go through, each denial logged once across executions', async () => {
    const log: string[] = [];
    const iam = authority('warn', ALL_GRANTS().slice(1), log);
    expect((await run(iam)).result.status).toBe('SUCCEEDED');
    expect((await run(iam)).result.status).toBe('SUCCEEDED');
    const denial = (fn: string) =>
      new RegExp(
        `^IAM \\(warn\\) User: arn:aws:sts::${LOCAL_ACCOUNT_ID}:assumed-role/${ROLE_NAME}/[0-9a-f]{32} is not authorized to perform: lambda:InvokeFunction on resource: ${TestFunctions.arn(fn)} because no identity-based policy allows the lambda:InvokeFunction action$`,
      );
    expect(log).toHaveLength(2);
    expect(log[0]).toMatch(denial('charge'));
    expect(log[1]).toMatch(denial('reserve'));
  });

  test('without an authority, or in off mode, nothing is checked', async () => {
    expect((await run(undefined)).result.status).toBe('SUCCEEDED');
    const log: string[] = [];
    expect((await run(authority('off', [], log))).result.status).toBe('SUCCEEDED');
    expect(log).toEqual([]);
  });
});
