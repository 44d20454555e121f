/**
 * The edge with IAM on: every request's signature is checked against the key it names and attributed to a
 * principal (the root user, or a role session whose keys the authority handed out), then what it asks for is
 * authorized for that principal — a DynamoDB transaction item by item — before any service sees it.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { createTestTable, TEST_AWS } from '../../../test/support/dynamodb.ts';
import { IamAuthority } from '../iam/authority.ts';
import type { InvokeResult, LambdaInvoker } from '../types.ts';
import { AwsError, type JsonService } from '../wire/aws-error.ts';
import { type Edge, startEdge } from './edge.ts';

const run = promisify(execFile);
const ACCOUNT = '000000000000';
const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/Saga-ShipRole`;
const tableArn = (name: string) => `arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/${name}`;

const started: string[] = [];
const stepfunctions: JsonService = {
  async handle(operation, input) {
    if (operation !== 'StartExecution') throw new AwsError('UnknownOperationException', operation);
    started.push(String(input.name));
    return {
      executionArn: `arn:aws:states:us-east-1:${ACCOUNT}:execution:Saga:${String(input.name)}`,
      startDate: 0,
    };
  },
};
const nothing: JsonService = {
  async handle(operation) {
    throw new AwsError('UnknownOperationException', operation);
  },
};
const lambda: LambdaInvoker = {
  async invoke(): Promise<InvokeResult> {
    return { statusCode: 200, payload: null, executedVersion: '$LATEST', requestId: 'r' };
  },
};

let edge: Edge;
let iam: IamAuthority;
let shipments: string;
let orders: string;
const log: string[] = [];

beforeAll(async () => {
  const ddb = new DynamoDBClient({ ...TEST_AWS, endpoint: inject('dynamodbEndpoint') });
  shipments = await createTestTable(ddb, 'edge-iam-shipments');
  orders = await createTestTable(ddb, 'edge-iam-orders');
  iam = new IamAuthority({
    accountId: ACCOUNT,
    region: 'us-east-1',
    mode: 'enforce',
    rootCredentials: TEST_AWS.credentials,
    log: (line) => log.push(line),
  });
  iam.putRole({ roleName: 'Saga-ShipRole', roleArn: ROLE_ARN, inlinePolicies: [], managedPolicyArns: [] });
  iam.putPolicy(
    'ShipPolicy',
    {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:PutItem'], Resource: tableArn(shipments) },
        { Effect: 'Allow', Action: 'dynamodb:ConditionCheckItem', Resource: tableArn(orders) },
      ],
    },
    ['Saga-ShipRole'],
  );
  edge = await startEdge({
    services: {
      stepfunctions,
      logs: nothing,
      events: nothing,
      sqs: nothing,
      lambda,
      dynamodbEndpoint: inject('dynamodbEndpoint'),
    },
    region: 'us-east-1',
    credentials: TEST_AWS.credentials,
    iam,
    log: (line) => log.push(line),
  });
});

afterAll(async () => {
  await edge?.close();
});

/** Clients signing with a session of the role, as a Lambda function of that role has. */
function asRole(sessionName = 'Saga-ShipFunction') {
  const credentials = iam.credentialsForRole(ROLE_ARN, sessionName);
  const config = { region: 'us-east-1', endpoint: edge.endpoint, credentials, maxAttempts: 1 };
  return { ddb: new DynamoDBClient(config), sfn: new SFNClient(config) };
}

const item = (pk: string) => ({ pk: { S: pk }, sk: { S: 'SHIPMENT' } });

describe('authentication', () => {
  test('a key the account never handed out is UnrecognizedClientException (403)', async () => {
    const stranger = new DynamoDBClient({
      region: 'us-east-1',
      endpoint: edge.endpoint,
      maxAttempts: 1,
      credentials: { accessKeyId: 'AKIASTRANGER00000000', secretAccessKey: 'x'.repeat(40) },
    });
    const error = await stranger
      .send(new GetItemCommand({ TableName: shipments, Key: item('a') }))
      .catch((e) => e);
    expect(error).toMatchObject({ name: 'UnrecognizedClientException', $metadata: { httpStatusCode: 403 } });
    expect(error.message).toBe('The security token included in the request is invalid.');
  });

  test('the right key with a wrong secret is InvalidSignatureException; a session key without its token is refused', async () => {
    const keys = iam.credentialsForRole(ROLE_ARN, 'Saga-ShipFunction');
    const wrongSecret = new DynamoDBClient({
      region: 'us-east-1',
      endpoint: edge.endpoint,
      maxAttempts: 1,
      credentials: { ...keys, secretAccessKey: `${keys.secretAccessKey.slice(0, -1)}x` },
    });
    const error = await wrongSecret
      .send(new GetItemCommand({ TableName: shipments, Key: item('a') }))
      .catch((e) => e);
    expect(error).toMatchObject({ name: 'InvalidSignatureException', $metadata: { httpStatusCode: 403 } });
    expect(error.message).toMatch(/^The request signature we calculated does not match/);

    const noToken = new DynamoDBClient({
      region: 'us-east-1',
      endpoint: edge.endpoint,
      maxAttempts: 1,
      credentials: { accessKeyId: keys.accessKeyId, secretAccessKey: keys.secretAccessKey },
    });
    await expect(
      noToken.send(new GetItemCommand({ TableName: shipments, Key: item('a') })),
    ).rejects.toMatchObject({
      name: 'UnrecognizedClientException',
    });
  });

  test('the AWS CLI (botocore, another signer) signs as the edge expects', async () => {
    const keys = iam.credentialsForRole(ROLE_ARN, 'cli-session');
    const args = ['dynamodb', 'get-item', '--table-name', shipments, '--key', JSON.stringify(item('cli'))];
    const env = {
      ...process.env,
      AWS_ACCESS_KEY_ID: keys.accessKeyId,
      AWS_SECRET_ACCESS_KEY: keys.secretAccessKey,
      AWS_SESSION_TOKEN: keys.sessionToken,
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_EC2_METADATA_DISABLED: 'true',
    };
    const ok = await run('aws', ['--endpoint-url', edge.endpoint, ...args], { env });
    expect(ok.stdout.trim()).toBe('');
    const denied = await run(
      'aws',
      [
        '--endpoint-url',
        edge.endpoint,
        'dynamodb',
        'delete-item',
        '--table-name',
        shipments,
        '--key',
        JSON.stringify(item('cli')),
      ],
      { env },
    ).catch((e) => e);
    expect(denied.stderr).toContain('AccessDeniedException');
    expect(denied.stderr).toContain('is not authorized to perform: dynamodb:DeleteItem');
  });
});

describe('authorization for the signer', () => {
  test('what the role grants goes through; anything else is AccessDeniedException with AWS’s message', async () => {
    const { ddb } = asRole();
    await ddb.send(new PutItemCommand({ TableName: shipments, Item: item('o-1') }));
    const got = await ddb.send(new GetItemCommand({ TableName: shipments, Key: item('o-1') }));
    expect(got.Item?.pk?.S).toBe('o-1');

    const error = await ddb
      .send(new PutItemCommand({ TableName: orders, Item: item('o-1') }))
      .catch((e) => e);
    expect(error).toMatchObject({ name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } });
    expect(error.message).toBe(
      `User: arn:aws:sts::${ACCOUNT}:assumed-role/Saga-ShipRole/Saga-ShipFunction is not authorized to perform: ` +
        `dynamodb:PutItem on resource: ${tableArn(orders)} because no identity-based policy allows the dynamodb:PutItem action`,
    );
  });

  test('a transaction is authorized item by item: one item not granted denies it all, nothing is written', async () => {
    const { ddb } = asRole();
    const transaction = (orderItem: 'ConditionCheck' | 'Update') =>
      new TransactWriteItemsCommand({
        TransactItems: [
          {
            [orderItem]: {
              TableName: orders,
              Key: item('o-2'),
              ...(orderItem === 'Update'
                ? {
                    UpdateExpression: 'SET #s = :s',
                    ExpressionAttributeNames: { '#s': 's' },
                    ExpressionAttributeValues: { ':s': { S: 'x' } },
                  }
                : { ConditionExpression: 'attribute_not_exists(pk)' }),
            },
          } as never,
          { Put: { TableName: shipments, Item: item('o-2') } },
        ],
      });
    const error = await ddb.send(transaction('Update')).catch((e) => e);
    expect(error.name).toBe('AccessDeniedException');
    expect(error.message).toContain(`dynamodb:UpdateItem on resource: ${tableArn(orders)}`);
    expect(await ddb.send(new GetItemCommand({ TableName: shipments, Key: item('o-2') }))).not.toHaveProperty(
      'Item',
    );

    await ddb.send(transaction('ConditionCheck'));
    expect((await ddb.send(new GetItemCommand({ TableName: shipments, Key: item('o-2') }))).Item?.pk?.S).toBe(
      'o-2',
    );
  });

  test('JSON services too: StartExecution without states:StartExecution never reaches Step Functions', async () => {
    const { sfn } = asRole();
    const error = await sfn
      .send(
        new StartExecutionCommand({
          stateMachineArn: `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:Saga`,
          name: 'denied',
        }),
      )
      .catch((e) => e);
    expect(error.name).toBe('AccessDeniedException');
    expect(error.message).toContain(
      'states:StartExecution on resource: arn:aws:states:us-east-1:000000000000:stateMachine:Saga',
    );
    expect(started).not.toContain('denied');
  });

  test('the root user (the account’s own keys) may do anything', async () => {
    const sfn = new SFNClient({ ...TEST_AWS, endpoint: edge.endpoint, maxAttempts: 1 });
    await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:Saga`,
        name: 'root',
      }),
    );
    expect(started).toContain('root');
  });

  test('warn mode lets the denied call through and logs it once; off checks nothing', async () => {
    const { ddb } = asRole('warn-session');
    try {
      iam.setMode('warn');
      await ddb.send(new PutItemCommand({ TableName: orders, Item: item('w-1') }));
      await ddb.send(new PutItemCommand({ TableName: orders, Item: item('w-2') }));
      const warnings = log.filter((l) => l.startsWith('IAM (warn)') && l.includes('warn-session'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain(`dynamodb:PutItem on resource: ${tableArn(orders)}`);
      iam.setMode('off');
      await ddb.send(new PutItemCommand({ TableName: orders, Item: item('w-3') }));
    } finally {
      iam.setMode('enforce');
    }
  });
});
