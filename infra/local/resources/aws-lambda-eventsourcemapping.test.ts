import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { deployTemplate } from '../cloudformation/deploy.ts';
import { type CfnTemplate, loadCloudAssembly } from '../cloudformation/template.ts';
import { IamAuthority, type IamMode } from '../iam/authority.ts';
import { DynamoDbStreamMapping } from '../lambda/stream-poller.ts';
import { LOCAL_ACCOUNT_ID, LOCAL_CREDENTIALS, LOCAL_REGION } from '../types.ts';
import { stubParts } from './testing.ts';

// CreateEventSourceMapping's check of the function's role fails the deploy with AWS's error.

const FIXTURE = join(import.meta.dirname, '..', 'cloudformation', 'fixtures', 'assembly');
const ASSET = '044e1cac5c8e318888f49df73950340814075293220fa349a9be25f737fdbabb';
const STREAM = `arn:aws:dynamodb:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:table/Orders/stream/2025-01-01T00:00:00.000`;

function template(statements: unknown[]): CfnTemplate {
  return {
    Resources: {
      Dlq: { Type: 'AWS::SQS::Queue', Properties: {} },
      Role: {
        Type: 'AWS::IAM::Role',
        Properties: {
          AssumeRolePolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } },
            ],
          },
        },
      },
      RolePolicy: {
        Type: 'AWS::IAM::Policy',
        Properties: {
          PolicyName: 'RoleDefaultPolicy',
          PolicyDocument: { Version: '2012-10-17', Statement: statements },
          Roles: [{ Ref: 'Role' }],
        },
      },
      Fn: {
        Type: 'AWS::Lambda::Function',
        DependsOn: ['RolePolicy'],
        Properties: {
          Code: { S3Key: `${ASSET}.zip` },
          Handler: 'index.handler',
          Runtime: 'nodejs24.x',
          Role: { 'Fn::GetAtt': ['Role', 'Arn'] },
        },
      },
      Mapping: {
        Type: 'AWS::Lambda::EventSourceMapping',
        Properties: {
          FunctionName: { Ref: 'Fn' },
          EventSourceArn: STREAM,
          StartingPosition: 'TRIM_HORIZON',
          DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': ['Dlq', 'Arn'] } } },
        },
      },
    },
  };
}

const READ_STREAM = [
  { Action: 'dynamodb:ListStreams', Effect: 'Allow', Resource: '*' },
  {
    Action: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'],
    Effect: 'Allow',
    Resource: STREAM,
  },
];
const SEND = { Action: 'sqs:SendMessage', Effect: 'Allow', Resource: { 'Fn::GetAtt': ['Dlq', 'Arn'] } };

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function deploy(mode: IamMode, statements: unknown[]) {
  const dataDir = mkdtempSync(join(tmpdir(), 'saga-esm-iam-'));
  dirs.push(dataDir);
  const log: string[] = [];
  const iam = new IamAuthority({
    accountId: LOCAL_ACCOUNT_ID,
    region: LOCAL_REGION,
    mode,
    log: (line) => log.push(line),
    rootCredentials: LOCAL_CREDENTIALS,
  });
  const { parts } = stubParts();
  const result = await deployTemplate({
    assembly: { ...loadCloudAssembly(FIXTURE, 'Saga'), template: template(statements) },
    // What the local cloud passes: mappings built with the authority and the cloud's log.
    parts: {
      ...parts,
      createStreamMapping: (options) =>
        new DynamoDbStreamMapping({ ...options, iam, log: (line) => log.push(line) }),
    },
    dataDir,
    accountId: LOCAL_ACCOUNT_ID,
    region: LOCAL_REGION,
    iam,
  });
  return { result, log };
}

describe('AWS::Lambda::EventSourceMapping with IAM', () => {
  test('created when the function’s role reads the stream and sends to the on-failure queue', async () => {
    const { result, log } = await deploy('enforce', [...READ_STREAM, SEND]);
    expect(result.resources.find((r) => r.logicalId === 'Mapping')?.status).toBe('created');
    expect(result.mappings).toHaveLength(1);
    expect(log).toEqual([]);
  });

  test('a role that cannot read the stream fails the deploy with InvalidParameterValueException', async () => {
    await expect(deploy('enforce', [SEND])).rejects.toThrow(
      `Could not deploy Mapping (AWS::Lambda::EventSourceMapping) to the local cloud: InvalidParameterValueException: Cannot access stream ${STREAM}. Please ensure the role can perform the GetRecords, GetShardIterator, DescribeStream, and ListStreams Actions on your stream in IAM.`,
    );
  });

  test('a role that cannot send to the on-failure queue fails the deploy', async () => {
    await expect(deploy('enforce', READ_STREAM)).rejects.toThrow(
      'Could not deploy Mapping (AWS::Lambda::EventSourceMapping) to the local cloud: InvalidParameterValueException: The provided execution role does not have permissions to call SendMessage on SQS',
    );
  });

  test('warn mode: deployed, the refusal logged once', async () => {
    const { result, log } = await deploy('warn', [SEND]);
    expect(result.mappings).toHaveLength(1);
    expect(log).toEqual([
      expect.stringMatching(
        /^IAM \(warn\) event source mapping .*: InvalidParameterValueException: Cannot access stream /,
      ),
    ]);
  });
});
