import { describe, expect, test } from 'vitest';
import {
  awsManagedPolicy,
  isAwsManagedPolicyArn,
  knownAwsManagedPolicyArns,
  requireAwsManagedPolicy,
  UnknownManagedPolicyError,
} from './managed.ts';
import { normalizePolicy, PolicyError, parseConditionOperator } from './policy.ts';

const QUEUE = 'arn:aws:sqs:us-east-1:000000000000:Dlq';

describe('normalizePolicy', () => {
  test('returns every element as an array and every condition value as a string', () => {
    expect(
      normalizePolicy({
        Version: '2012-10-17',
        Statement: {
          Sid: 'S',
          Effect: 'Allow',
          Principal: { Service: 'events.amazonaws.com', AWS: ['000000000000'] },
          Action: 'sqs:SendMessage',
          Resource: QUEUE,
          Condition: {
            Bool: { 'aws:SecureTransport': true },
            NumericLessThan: { 's3:max-keys': [10, '20'] },
          },
        },
      }),
    ).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'S',
          Effect: 'Allow',
          Principal: { Service: ['events.amazonaws.com'], AWS: ['000000000000'] },
          Action: ['sqs:SendMessage'],
          Resource: [QUEUE],
          Condition: {
            Bool: { 'aws:SecureTransport': ['true'] },
            NumericLessThan: { 's3:max-keys': ['10', '20'] },
          },
        },
      ],
    });
  });

  test('accepts the JSON text of a document, and a missing Version (2008-10-17, as AWS)', () => {
    const policy = normalizePolicy(
      JSON.stringify({ Statement: [{ Effect: 'Deny', Action: '*', Resource: '*' }] }),
    );
    expect(policy.Version).toBe('2008-10-17');
    expect(policy.Statement[0]?.Effect).toBe('Deny');
  });

  test.each([
    [42, /a policy document must be an object, got 42/],
    ['{not json', /the policy is not valid JSON/],
    [{ Version: '2012-10-17' }, /the policy has no Statement/],
    [
      { Version: '2020-01-01', Statement: [] },
      /Version: expected "2012-10-17" or "2008-10-17", got "2020-01-01"/,
    ],
    [{ Statement: [], Statements: [] }, /unknown policy element "Statements"/],
    [{ Statement: ['x'] }, /Statement\[0\]: a statement must be an object, got "x"/],
    [
      { Statement: [{ Effect: 'allow', Action: '*', Resource: '*' }] },
      /Statement\[0\]\.Effect: expected "Allow" or "Deny", got "allow"/,
    ],
    [
      { Statement: [{ Effect: 'Allow', Actions: '*', Resource: '*' }] },
      /Statement\[0\]: unknown element "Actions"/,
    ],
    [{ Statement: [{ Effect: 'Allow', Resource: '*' }] }, /Statement\[0\]: has neither Action nor NotAction/],
    [
      { Statement: [{ Effect: 'Allow', Action: '*', NotAction: 'sqs:*', Resource: '*' }] },
      /Statement\[0\]: has both Action and NotAction/,
    ],
    [
      { Statement: [{ Effect: 'Allow', Action: '*' }] },
      /Statement\[0\]: has neither Resource nor NotResource/,
    ],
    [{ Statement: [{ Effect: 'Allow', Action: [], Resource: '*' }] }, /Statement\[0\]\.Action: empty list/],
    [
      { Statement: [{ Effect: 'Allow', Action: 'sqs:Send Message', Resource: '*' }] },
      /Statement\[0\]\.Action\[0\]: "sqs:Send Message" is not an action/,
    ],
    [
      { Statement: [{ Effect: 'Allow', Action: '*', Resource: 'queue/Dlq' }] },
      /Statement\[0\]\.Resource\[0\]: "queue\/Dlq" is neither "\*" nor an ARN/,
    ],
    [
      { Statement: [{ Effect: 'Allow', Action: '*', Resource: { 'Fn::GetAtt': ['Queue', 'Arn'] } }] },
      /Statement\[0\]\.Resource: expected a string or an array of strings, got \{"Fn::GetAtt":\["Queue","Arn"\]\} \(an unresolved CloudFormation intrinsic\?\)/,
    ],
    [
      { Statement: [{ Effect: 'Allow', Principal: 'events.amazonaws.com', Action: '*', Resource: '*' }] },
      /Statement\[0\]\.Principal: expected "\*" or an object/,
    ],
    [
      { Statement: [{ Effect: 'Allow', Principal: { Services: 'x' }, Action: '*', Resource: '*' }] },
      /Statement\[0\]\.Principal: unknown principal kind "Services"/,
    ],
    [
      { Statement: [{ Effect: 'Allow', Principal: { AWS: 'OrderRole' }, Action: '*', Resource: '*' }] },
      /Statement\[0\]\.Principal\.AWS\[0\]: "OrderRole" is neither "\*", an account id nor an ARN/,
    ],
    [
      {
        Statement: [{ Effect: 'Allow', Action: '*', Resource: '*', Condition: { StringEqual: { k: 'v' } } }],
      },
      /Statement\[0\]\.Condition: unknown condition operator "StringEqual"/,
    ],
    [
      {
        Statement: [
          { Effect: 'Allow', Action: '*', Resource: '*', Condition: { NullIfExists: { k: 'true' } } },
        ],
      },
      /unknown condition operator "NullIfExists"/,
    ],
    [
      {
        Statement: [
          { Effect: 'Allow', Action: '*', Resource: '*', Condition: { StringEquals: { k: { v: 1 } } } },
        ],
      },
      /Statement\[0\]\.Condition\.StringEquals\["k"\]\[0\]: expected a string, number or boolean/,
    ],
  ])('refuses %j: %s', (document, message) => {
    expect(() => normalizePolicy(document)).toThrow(PolicyError);
    expect(() => normalizePolicy(document)).toThrow(message);
  });

  test('an identity-based policy names no principal and needs a resource', () => {
    const statement = { Effect: 'Allow', Principal: '*', Action: '*', Resource: '*' };
    expect(() => normalizePolicy({ Statement: [statement] }, 'identity')).toThrow(
      /Statement\[0\]\.Principal: an identity-based policy cannot name a principal/,
    );
    expect(normalizePolicy({ Statement: [statement] }, 'any').Statement).toHaveLength(1);
  });

  test('a resource-based policy needs a principal; its Resource is optional (trust policies have none)', () => {
    expect(() =>
      normalizePolicy({ Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }, 'resource'),
    ).toThrow(/Statement\[0\]: has neither Principal nor NotPrincipal/);
    const trust = {
      Statement: [
        { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
      ],
    };
    expect(normalizePolicy(trust, 'resource').Statement[0]?.Resource).toBeUndefined();
  });

  test('parseConditionOperator splits set operator, base and IfExists', () => {
    expect(parseConditionOperator('ForAnyValue:StringLikeIfExists')).toEqual({
      set: 'ForAnyValue',
      base: 'StringLike',
      ifExists: true,
    });
    expect(parseConditionOperator('ArnLike')).toEqual({ base: 'ArnLike', ifExists: false });
    expect(parseConditionOperator('ForSomeValues:StringLike')).toBeUndefined();
    expect(parseConditionOperator('StringLikeIfExist')).toBeUndefined();
  });
});

describe('AWS managed policies', () => {
  test('the table has the real documents of the policies CDK attaches', () => {
    expect(awsManagedPolicy('arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole')).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
          Resource: '*',
        },
      ],
    });
    const streams = awsManagedPolicy('arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole');
    expect(JSON.stringify(streams)).toContain('dynamodb:GetShardIterator');
    const sqs = awsManagedPolicy('arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole');
    expect(JSON.stringify(sqs)).toContain('sqs:ReceiveMessage');
    const xray = awsManagedPolicy('arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess');
    expect(JSON.stringify(xray)).toContain('xray:PutTraceSegments');
    // Every document in the table is valid.
    for (const arn of knownAwsManagedPolicyArns())
      expect(() => normalizePolicy(awsManagedPolicy(arn), 'identity')).not.toThrow();
  });

  test('an unknown ARN: undefined, or an error naming it (and the right path when only that is wrong)', () => {
    expect(isAwsManagedPolicyArn('arn:aws:iam::aws:policy/AdministratorAccess')).toBe(true);
    expect(isAwsManagedPolicyArn('arn:aws:iam::000000000000:policy/Mine')).toBe(false);
    expect(awsManagedPolicy('arn:aws:iam::aws:policy/AdministratorAccess')).toBeUndefined();
    expect(() => requireAwsManagedPolicy('arn:aws:iam::aws:policy/AdministratorAccess')).toThrow(
      UnknownManagedPolicyError,
    );
    expect(() => requireAwsManagedPolicy('arn:aws:iam::aws:policy/AWSLambdaBasicExecutionRole')).toThrow(
      'unknown AWS managed policy arn:aws:iam::aws:policy/AWSLambdaBasicExecutionRole (did you mean arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole?)',
    );
  });
});
