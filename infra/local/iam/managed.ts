/**
 * The AWS managed policies a CDK stack typically attaches to its roles (`ManagedPolicyArns`), with their real
 * documents (default version), copied from the AWS Managed Policy Reference
 * (https://docs.aws.amazon.com/aws-managed-policy/latest/reference/<PolicyName>.html) — except
 * AWSLambdaSQSQueueExecutionRole, which that search did not return, copied from the MAMIP archive of AWS managed
 * policies (github.com/zoph-io/MAMIP, policies/AWSLambdaSQSQueueExecutionRole, version v1).
 * An ARN not in this table is answered by {@link awsManagedPolicy} with `undefined`, and by
 * {@link requireAwsManagedPolicy} with an {@link UnknownManagedPolicyError}: the caller decides which it wants.
 */
import type { PolicyDocument } from './policy.ts';

const LOGS_WRITE = ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'];

/** Documents by path and name (the ARN after `arn:<partition>:iam::aws:policy/`). */
const MANAGED: Readonly<Record<string, PolicyDocument>> = {
  // https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSLambdaBasicExecutionRole.html (v1)
  'service-role/AWSLambdaBasicExecutionRole': {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: LOGS_WRITE, Resource: '*' }],
  },
  // https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSLambdaDynamoDBExecutionRole.html (v1)
  'service-role/AWSLambdaDynamoDBExecutionRole': {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: [
          'dynamodb:DescribeStream',
          'dynamodb:GetRecords',
          'dynamodb:GetShardIterator',
          'dynamodb:ListStreams',
          ...LOGS_WRITE,
        ],
        Resource: '*',
      },
    ],
  },
  // github.com/zoph-io/MAMIP policies/AWSLambdaSQSQueueExecutionRole (v1)
  'service-role/AWSLambdaSQSQueueExecutionRole': {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', ...LOGS_WRITE],
        Resource: '*',
      },
    ],
  },
  // https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSXRayDaemonWriteAccess.html (v2)
  AWSXRayDaemonWriteAccess: {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'AWSXRayDaemonWriteAccess',
        Effect: 'Allow',
        Action: [
          'xray:PutTraceSegments',
          'xray:PutTelemetryRecords',
          'xray:GetSamplingRules',
          'xray:GetSamplingTargets',
          'xray:GetSamplingStatisticSummaries',
        ],
        Resource: ['*'],
      },
    ],
  },
};

const AWS_MANAGED_ARN = /^arn:[^:]+:iam::aws:policy\/(.+)$/;

/** Whether an ARN names an AWS managed policy (`arn:aws:iam::aws:policy/…`), known here or not. */
export function isAwsManagedPolicyArn(arn: string): boolean {
  return AWS_MANAGED_ARN.test(arn);
}

/** The ARNs (partition `aws`) of the managed policies this table knows. */
export function knownAwsManagedPolicyArns(): string[] {
  return Object.keys(MANAGED).map((name) => `arn:aws:iam::aws:policy/${name}`);
}

/** The document of an AWS managed policy this table knows, or `undefined`. */
export function awsManagedPolicy(arn: string): PolicyDocument | undefined {
  const name = AWS_MANAGED_ARN.exec(arn)?.[1];
  return name === undefined ? undefined : MANAGED[name];
}

/** A managed policy ARN this table does not know; the message suggests the right path when only that is wrong. */
export class UnknownManagedPolicyError extends Error {
  readonly policyArn: string;

  constructor(policyArn: string) {
    const name = policyArn.slice(policyArn.lastIndexOf('/') + 1);
    const samename = knownAwsManagedPolicyArns().find((arn) => arn.endsWith(`/${name}`) && arn !== policyArn);
    super(
      `unknown AWS managed policy ${policyArn}` +
        (samename === undefined
          ? ` (the local cloud knows ${Object.keys(MANAGED).join(', ')})`
          : ` (did you mean ${samename}?)`),
    );
    this.name = 'UnknownManagedPolicyError';
    this.policyArn = policyArn;
  }
}

/** The document of an AWS managed policy; throws an {@link UnknownManagedPolicyError} if this table lacks it. */
export function requireAwsManagedPolicy(arn: string): PolicyDocument {
  const document = awsManagedPolicy(arn);
  if (document === undefined) throw new UnknownManagedPolicyError(arn);
  return document;
}
