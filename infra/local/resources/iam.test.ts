// biome-ignore-all lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub strings.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type DeployResult, deployTemplate } from '../cloudformation/deploy.ts';
import { type CfnTemplate, loadCloudAssembly } from '../cloudformation/template.ts';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from '../types.ts';
import type { IamRegistry } from './provider.ts';
import { recordingIam, stubParts } from './testing.ts';

const FIXTURE = join(import.meta.dirname, '..', 'cloudformation', 'fixtures', 'assembly');
const ASSET = '044e1cac5c8e318888f49df73950340814075293220fa349a9be25f737fdbabb';
const A = `${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}`;
const PROVIDER_FN = 'AWS679f53fac002430cb0da5b7982bd2287Fn';

const LOGS_DOCUMENT = (group: string) =>
  JSON.stringify({
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Service: 'events.amazonaws.com' },
        Action: ['logs:PutLogEvents', 'logs:CreateLogStream'],
        Resource: `arn:aws:logs:${A}:log-group:${group}:*`,
      },
    ],
  });

const TEMPLATE: CfnTemplate = {
  Resources: {
    Queue: { Type: 'AWS::SQS::Queue', Properties: {} },
    Role: {
      Type: 'AWS::IAM::Role',
      Properties: {
        AssumeRolePolicyDocument: {
          Statement: [
            { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } },
          ],
          Version: '2012-10-17',
        },
        Policies: [
          {
            PolicyName: 'send',
            PolicyDocument: {
              Statement: [
                { Action: 'sqs:SendMessage', Effect: 'Allow', Resource: { 'Fn::GetAtt': ['Queue', 'Arn'] } },
              ],
            },
          },
        ],
        ManagedPolicyArns: [
          {
            'Fn::Join': [
              '',
              [
                'arn:',
                { Ref: 'AWS::Partition' },
                ':iam::aws:policy/service-role/AWSLambdaBasicExecutionRole',
              ],
            ],
          },
        ],
      },
    },
    RolePolicy: {
      Type: 'AWS::IAM::Policy',
      Properties: {
        PolicyName: 'RoleDefaultPolicy',
        PolicyDocument: {
          Statement: [
            {
              Action: ['dynamodb:PutItem'],
              Effect: 'Allow',
              Resource: { 'Fn::Sub': 'arn:aws:dynamodb:${AWS::Region}:${AWS::AccountId}:table/Orders' },
            },
          ],
          Version: '2012-10-17',
        },
        Roles: [{ Ref: 'Role' }],
      },
    },
    Fn: {
      Type: 'AWS::Lambda::Function',
      Properties: {
        Code: { S3Key: `${ASSET}.zip` },
        Handler: 'index.handler',
        Runtime: 'nodejs24.x',
        Role: { 'Fn::GetAtt': ['Role', 'Arn'] },
      },
    },
    Rule: {
      Type: 'AWS::Events::Rule',
      Properties: {
        EventPattern: { source: ['saga.orders'] },
        Targets: [
          { Arn: { 'Fn::GetAtt': ['Fn', 'Arn'] }, Id: 'Target0' },
          {
            Arn: `arn:aws:states:${A}:stateMachine:Saga`,
            Id: 'Target1',
            RoleArn: { 'Fn::GetAtt': ['Role', 'Arn'] },
          },
        ],
      },
    },
    QueuePolicy: {
      Type: 'AWS::SQS::QueuePolicy',
      Properties: {
        PolicyDocument: {
          Statement: [
            {
              Action: 'sqs:SendMessage',
              Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': ['Rule', 'Arn'] } } },
              Effect: 'Allow',
              Principal: { Service: 'events.amazonaws.com' },
              Resource: { 'Fn::GetAtt': ['Queue', 'Arn'] },
            },
          ],
          Version: '2012-10-17',
        },
        Queues: [{ Ref: 'Queue' }],
      },
    },
    Permission: {
      Type: 'AWS::Lambda::Permission',
      Properties: {
        Action: 'lambda:InvokeFunction',
        FunctionName: { 'Fn::GetAtt': ['Fn', 'Arn'] },
        Principal: 'events.amazonaws.com',
        SourceArn: { 'Fn::GetAtt': ['Rule', 'Arn'] },
      },
    },
    AccountPermission: {
      Type: 'AWS::Lambda::Permission',
      Properties: {
        Action: 'lambda:InvokeFunction',
        FunctionName: { Ref: 'Fn' },
        Principal: { Ref: 'AWS::AccountId' },
        SourceAccount: { Ref: 'AWS::AccountId' },
      },
    },
    LogsPolicy: {
      Type: 'AWS::Logs::ResourcePolicy',
      Properties: { PolicyName: 'events-to-logs', PolicyDocument: LOGS_DOCUMENT('/saga/a') },
    },
    [PROVIDER_FN]: { Type: 'AWS::Lambda::Function', Properties: {} },
    EventsLogPolicy: {
      Type: 'Custom::CloudwatchLogResourcePolicy',
      Properties: {
        ServiceToken: { 'Fn::GetAtt': [PROVIDER_FN, 'Arn'] },
        Create: JSON.stringify({
          service: 'CloudWatchLogs',
          action: 'putResourcePolicy',
          parameters: { policyName: 'events-to-b', policyDocument: LOGS_DOCUMENT('/saga/b') },
          physicalResourceId: { id: 'EventsLogPolicy' },
        }),
      },
    },
  },
};

async function deploy(iam?: IamRegistry) {
  const dataDir = mkdtempSync(join(tmpdir(), 'saga-iam-'));
  const { parts, calls } = stubParts();
  const result = await deployTemplate({
    assembly: { ...loadCloudAssembly(FIXTURE, 'Saga'), template: TEMPLATE },
    parts,
    dataDir,
    accountId: LOCAL_ACCOUNT_ID,
    region: LOCAL_REGION,
    iam,
  });
  return { result, calls, dataDir };
}

const IAM_RESOURCES = ['Role', 'RolePolicy', 'QueuePolicy', 'Permission', 'AccountPermission', 'LogsPolicy'];

describe('with an IAM registry, IAM resources are registered with their resolved documents', () => {
  const recorded = recordingIam();
  let result: DeployResult;
  let calls: ReturnType<typeof stubParts>['calls'];
  let dataDir = '';
  const ref = (id: string) => result.resolver.ref(id);
  const arnOf = (id: string) => String(result.resolver.getAtt(id, 'Arn'));
  const statementsOf = (sourceId: string) =>
    (recorded.statements as { sourceId: string }[]).filter((s) => s.sourceId === sourceId);

  beforeAll(async () => {
    ({ result, calls, dataDir } = await deploy(recorded.iam));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  test('they come out created, registered with IAM', () => {
    for (const id of IAM_RESOURCES) {
      expect(
        result.resources.find((r) => r.logicalId === id),
        id,
      ).toMatchObject({
        status: 'created',
        note: 'registered with IAM',
      });
    }
  });

  test('the role: trust policy, inline policies, managed policy ARNs', () => {
    expect(recorded.roles).toEqual([
      {
        roleName: ref('Role'),
        roleArn: `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/${ref('Role')}`,
        assumeRolePolicy: TEMPLATE.Resources.Role?.Properties?.AssumeRolePolicyDocument,
        inlinePolicies: [
          {
            name: 'send',
            document: {
              Statement: [{ Action: 'sqs:SendMessage', Effect: 'Allow', Resource: arnOf('Queue') }],
            },
          },
        ],
        managedPolicyArns: ['arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole'],
      },
    ]);
    expect(ref('Role')).toMatch(/^Saga-Role-[A-Z0-9]{13}$/);
  });

  test('the policy, attached to the role by name', () => {
    expect(recorded.policies).toEqual([
      {
        policyName: 'RoleDefaultPolicy',
        document: {
          Statement: [
            { Action: ['dynamodb:PutItem'], Effect: 'Allow', Resource: `arn:aws:dynamodb:${A}:table/Orders` },
          ],
          Version: '2012-10-17',
        },
        roleNames: [ref('Role')],
      },
    ]);
  });

  test('the queue policy, on the queue ARN, under the QueuePolicy logical id', () => {
    expect(arnOf('Queue')).toMatch(new RegExp(`^arn:aws:sqs:${A}:Saga-Queue-`));
    expect(statementsOf('QueuePolicy')).toEqual([
      {
        resourceArn: arnOf('Queue'),
        sourceId: 'QueuePolicy',
        statements: [
          {
            Action: 'sqs:SendMessage',
            Condition: { ArnEquals: { 'aws:SourceArn': arnOf('Rule') } },
            Effect: 'Allow',
            Principal: { Service: 'events.amazonaws.com' },
            Resource: arnOf('Queue'),
          },
        ],
      },
    ]);
  });

  test('Lambda permissions, as statements of the function resource policy', () => {
    const fnArn = arnOf('Fn');
    expect(statementsOf('Permission')).toEqual([
      {
        resourceArn: fnArn,
        sourceId: 'Permission',
        statements: [
          {
            Sid: 'Permission',
            Effect: 'Allow',
            Principal: { Service: 'events.amazonaws.com' },
            Action: 'lambda:InvokeFunction',
            Resource: fnArn,
            Condition: { ArnLike: { 'aws:SourceArn': arnOf('Rule') } },
          },
        ],
      },
    ]);
    // FunctionName by name (Ref); an account principal becomes its root ARN.
    expect(statementsOf('AccountPermission')).toEqual([
      {
        resourceArn: fnArn,
        sourceId: 'AccountPermission',
        statements: [
          {
            Sid: 'AccountPermission',
            Effect: 'Allow',
            Principal: { AWS: `arn:aws:iam::${LOCAL_ACCOUNT_ID}:root` },
            Action: 'lambda:InvokeFunction',
            Resource: fnArn,
            Condition: { StringEquals: { 'aws:SourceAccount': LOCAL_ACCOUNT_ID } },
          },
        ],
      },
    ]);
  });

  test('log resource policies (the type and the AwsCustomResource call) go on the log groups they name', () => {
    const logs = (group: string) => ({
      resourceArn: `arn:aws:logs:${A}:log-group:${group}:*`,
      statements: [JSON.parse(LOGS_DOCUMENT(group)).Statement[0]],
    });
    expect(statementsOf('LogsPolicy')).toEqual([{ ...logs('/saga/a'), sourceId: 'LogsPolicy' }]);
    expect(statementsOf('EventsLogPolicy')).toEqual([{ ...logs('/saga/b'), sourceId: 'EventsLogPolicy' }]);
    expect(result.resources.find((r) => r.logicalId === 'EventsLogPolicy')).toMatchObject({
      status: 'created',
      note: 'CloudWatchLogs.putResourcePolicy: registered with IAM',
    });
  });

  test('the services get the roles: function spec, rule target', () => {
    expect(calls.functions.map((f) => f.roleArn)).toEqual([arnOf('Role')]);
    expect(calls.rules[0]?.targets.map((t) => t.roleArn)).toEqual([undefined, arnOf('Role')]);
  });
});

test('without an IAM registry, IAM resources are accepted and nothing is resolved for them', async () => {
  const { result, dataDir } = await deploy();
  try {
    for (const id of IAM_RESOURCES) {
      expect(
        result.resources.find((r) => r.logicalId === id),
        id,
      ).toEqual({
        logicalId: id,
        type: TEMPLATE.Resources[id]?.Type,
        status: 'accepted',
        physicalId: result.resolver.ref(id),
        note: undefined,
      });
    }
    expect(result.resources.find((r) => r.logicalId === 'EventsLogPolicy')).toMatchObject({
      status: 'accepted',
      note: 'CloudWatchLogs.putResourcePolicy: permissions not enforced',
    });
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
