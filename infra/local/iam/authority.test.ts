import { describe, expect, test } from 'vitest';
import { AwsError } from '../wire/aws-error.ts';
import { AccessDeniedError, IamAuthority, type IamMode, lambdaPermissionStatement } from './authority.ts';
import { PolicyError } from './policy.ts';

const ACCOUNT = '000000000000';
const ROOT_KEYS = {
  accessKeyId: 'AKIASAGALOCAL0000000',
  secretAccessKey: 'saga-local-secret-do-not-use-on-aws',
};
const TABLE = `arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/Orders`;
const QUEUE = `arn:aws:sqs:us-east-1:${ACCOUNT}:Dlq`;
const QUEUE2 = `arn:aws:sqs:us-east-1:${ACCOUNT}:Dlq2`;
const FUNCTION = `arn:aws:lambda:us-east-1:${ACCOUNT}:function:Order`;
const RULE = `arn:aws:events:us-east-1:${ACCOUNT}:rule/saga/OrderPlaced`;
const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/OrderRole`;
const BASIC = 'arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole';

function authority(mode: IamMode = 'enforce', log: string[] = []) {
  const iam = new IamAuthority({
    accountId: ACCOUNT,
    region: 'us-east-1',
    mode,
    log: (line) => log.push(line),
    rootCredentials: ROOT_KEYS,
  });
  iam.putRole({
    roleName: 'OrderRole',
    roleArn: ROLE_ARN,
    assumeRolePolicy: {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
      ],
    },
    inlinePolicies: [
      {
        name: 'Tables',
        document: {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:PutItem'], Resource: TABLE }],
        },
      },
    ],
    managedPolicyArns: [BASIC],
  });
  return iam;
}

const session = (iam: IamAuthority) => iam.sessionPrincipal(ROLE_ARN, 'Order');

function denial(run: () => void): AccessDeniedError {
  try {
    run();
  } catch (error) {
    if (error instanceof AccessDeniedError) return error;
    throw error;
  }
  throw new Error('expected an AccessDeniedError');
}

describe('IamAuthority.authorize', () => {
  test('allows what the role’s inline and AWS managed policies allow', () => {
    const iam = authority();
    const principal = session(iam);
    expect(principal.arn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/OrderRole/Order`);
    expect(() => iam.authorize({ principal, action: 'dynamodb:PutItem', resource: TABLE })).not.toThrow();
    const logGroup = `arn:aws:logs:us-east-1:${ACCOUNT}:log-group:/aws/lambda/Order:log-stream:x`;
    expect(() => iam.authorize({ principal, action: 'logs:PutLogEvents', resource: logGroup })).not.toThrow();
  });

  test('denies in AWS’s shape: AccessDeniedException, 400, "User: … because no identity-based policy allows …"', () => {
    const iam = authority();
    const error = denial(() =>
      iam.authorize({ principal: session(iam), action: 'dynamodb:DeleteItem', resource: TABLE }),
    );
    expect(error).toBeInstanceOf(AwsError);
    expect(error.type).toBe('AccessDeniedException');
    expect(error.statusCode).toBe(400);
    expect(error.message).toBe(
      `User: arn:aws:sts::${ACCOUNT}:assumed-role/OrderRole/Order is not authorized to perform: dynamodb:DeleteItem on resource: ${TABLE} because no identity-based policy allows the dynamodb:DeleteItem action`,
    );
    expect(error.result.decision).toBe('implicit-deny');
  });

  test('an explicit deny says so; a service principal is told no resource-based policy allows', () => {
    const iam = authority();
    iam.putPolicy(
      'NoWrites',
      { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 'dynamodb:PutItem', Resource: '*' }] },
      ['OrderRole'],
    );
    expect(
      denial(() => iam.authorize({ principal: session(iam), action: 'dynamodb:PutItem', resource: TABLE }))
        .message,
    ).toBe(
      `User: arn:aws:sts::${ACCOUNT}:assumed-role/OrderRole/Order is not authorized to perform: dynamodb:PutItem on resource: ${TABLE} with an explicit deny in an identity-based policy`,
    );
    const events = iam.servicePrincipal('events.amazonaws.com');
    expect(
      denial(() => iam.authorize({ principal: events, action: 'sqs:SendMessage', resource: QUEUE })).message,
    ).toBe(
      `User: events.amazonaws.com is not authorized to perform: sqs:SendMessage on resource: ${QUEUE} because no resource-based policy allows the sqs:SendMessage action`,
    );
  });

  test('the root user may do anything', () => {
    const iam = authority();
    expect(() =>
      iam.authorize({ principal: iam.rootPrincipal, action: 'dynamodb:DeleteTable', resource: TABLE }),
    ).not.toThrow();
  });

  test('warn mode logs each distinct denial once and allows; off mode does not even evaluate', () => {
    const log: string[] = [];
    const iam = authority('warn', log);
    const request = { principal: session(iam), action: 'dynamodb:DeleteItem', resource: TABLE };
    iam.authorize(request);
    iam.authorize(request);
    expect(log).toEqual([
      `IAM (warn) User: arn:aws:sts::${ACCOUNT}:assumed-role/OrderRole/Order is not authorized to perform: dynamodb:DeleteItem on resource: ${TABLE} because no identity-based policy allows the dynamodb:DeleteItem action`,
    ]);
    iam.setMode('off');
    iam.authorize({ ...request, resource: QUEUE });
    expect(log).toHaveLength(1);
    expect(iam.decide({ ...request, resource: QUEUE }).decision).toBe('implicit-deny');
    iam.setMode('enforce');
    expect(() => iam.authorize(request)).toThrow(AccessDeniedError);
  });

  test('a remembered decision is forgotten when the registry changes', () => {
    const iam = authority();
    const request = { principal: session(iam), action: 'sqs:SendMessage', resource: QUEUE };
    expect(() => iam.authorize(request)).toThrow(AccessDeniedError);
    iam.putPolicy(
      'Send',
      { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sqs:SendMessage', Resource: QUEUE }] },
      ['OrderRole'],
    );
    expect(() => iam.authorize(request)).not.toThrow();
    iam.deletePolicy('Send');
    expect(() => iam.authorize(request)).toThrow(AccessDeniedError);
    iam.deleteRole('OrderRole');
    expect(() => iam.authorize({ ...request, action: 'dynamodb:GetItem', resource: TABLE })).toThrow(
      AccessDeniedError,
    );
  });

  test('a customer managed policy named in ManagedPolicyArns counts; an unknown AWS one is a warning', () => {
    const iam = authority();
    iam.putPolicy(
      'QueueAccess',
      { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sqs:*', Resource: QUEUE }] },
      [],
    );
    const warnings = iam.putRole({
      roleName: 'Other',
      roleArn: `arn:aws:iam::${ACCOUNT}:role/Other`,
      inlinePolicies: [],
      managedPolicyArns: [
        `arn:aws:iam::${ACCOUNT}:policy/QueueAccess`,
        'arn:aws:iam::aws:policy/AdministratorAccess',
      ],
    });
    expect(warnings).toEqual([
      expect.stringMatching(
        /^role Other: unknown AWS managed policy arn:aws:iam::aws:policy\/AdministratorAccess .*grants nothing here$/,
      ),
    ]);
    const principal = iam.sessionPrincipal(`arn:aws:iam::${ACCOUNT}:role/Other`, 's');
    expect(() => iam.authorize({ principal, action: 'sqs:SendMessage', resource: QUEUE })).not.toThrow();
    expect(() => iam.authorize({ principal, action: 'dynamodb:GetItem', resource: TABLE })).toThrow(
      AccessDeniedError,
    );
  });

  test('an invalid document is refused when registered, naming the role', () => {
    const iam = authority();
    expect(() =>
      iam.putRole({
        roleName: 'Bad',
        roleArn: `arn:aws:iam::${ACCOUNT}:role/Bad`,
        inlinePolicies: [{ name: 'P', document: { Statement: [{ Effect: 'Allow', Action: 'sqs:*' }] } }],
        managedPolicyArns: [],
      }),
    ).toThrow(new PolicyError('Bad/P: Statement[0]: has neither Resource nor NotResource'));
    expect(() =>
      iam.putRole({
        roleName: 'Bad',
        roleArn: `arn:aws:iam::${ACCOUNT}:role/Bad`,
        assumeRolePolicy: { Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole' }] },
        inlinePolicies: [],
        managedPolicyArns: [],
      }),
    ).toThrow('Bad (trust policy): Statement[0]: has neither Principal nor NotPrincipal');
    expect(() => iam.putResourceStatements(TABLE, 'TablePolicy', [{ Effect: 'Allow', Action: '*' }])).toThrow(
      'TablePolicy: Statement[0]: has neither Principal nor NotPrincipal',
    );
  });

  test('authorizeAll checks every item in order; the first denial throws', () => {
    const iam = authority();
    const principal = session(iam);
    expect(() =>
      iam.authorizeAll(principal, [
        { action: 'dynamodb:GetItem', resource: TABLE },
        {
          action: 'dynamodb:PutItem',
          resource: TABLE,
          context: { 'dynamodb:EnclosingOperation': 'TransactWriteItems' },
        },
      ]),
    ).not.toThrow();
    const error = denial(() =>
      iam.authorizeAll(principal, [
        { action: 'dynamodb:GetItem', resource: TABLE },
        { action: 'dynamodb:ConditionCheckItem', resource: TABLE },
        { action: 'dynamodb:DeleteItem', resource: TABLE },
      ]),
    );
    expect(error.request.action).toBe('dynamodb:ConditionCheckItem');
  });
});

describe('IamAuthority resource-based statements', () => {
  const queuePolicy = (queue: string) => [
    {
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: 'sqs:*',
      Resource: queue,
      Condition: { Bool: { 'aws:SecureTransport': 'false' } },
    },
    {
      Sid: 'AllowRuleDeadLetters',
      Effect: 'Allow',
      Principal: { Service: 'events.amazonaws.com' },
      Action: 'sqs:SendMessage',
      Resource: queue,
      Condition: { ArnEquals: { 'aws:SourceArn': RULE } },
    },
  ];

  test('a queue policy (CDK enforceSSL + a rule’s dead letters): aws:SecureTransport is true by default', () => {
    const iam = authority();
    iam.putResourceStatements(QUEUE, 'DlqPolicy', queuePolicy(QUEUE));
    const events = iam.servicePrincipal('events.amazonaws.com');
    const send = { principal: events, action: 'sqs:SendMessage', resource: QUEUE };
    expect(() => iam.authorize({ ...send, context: { 'aws:SourceArn': RULE } })).not.toThrow();
    expect(iam.decide({ ...send, context: { 'aws:SourceArn': RULE } }).by).toEqual({
      policy: 'resource',
      name: 'DlqPolicy',
      statement: 'AllowRuleDeadLetters',
    });
    expect(() => iam.authorize({ ...send, context: { 'aws:SourceArn': `${RULE}2` } })).toThrow(
      AccessDeniedError,
    );
    expect(() => iam.authorize(send)).toThrow(AccessDeniedError);
    expect(
      denial(() =>
        iam.authorize({ ...send, context: { 'aws:SourceArn': RULE, 'aws:SecureTransport': 'false' } }),
      ).result.reason,
    ).toBe('an explicit deny in a resource-based policy');
  });

  test('one source can cover several resources; removing the source removes them all', () => {
    const iam = authority();
    iam.putResourceStatements(QUEUE, 'Policy', queuePolicy(QUEUE));
    iam.putResourceStatements(QUEUE2, 'Policy', queuePolicy(QUEUE2));
    const send = {
      principal: iam.servicePrincipal('events.amazonaws.com'),
      action: 'sqs:SendMessage',
      context: { 'aws:SourceArn': RULE },
    };
    expect(() => iam.authorize({ ...send, resource: QUEUE })).not.toThrow();
    expect(() => iam.authorize({ ...send, resource: QUEUE2 })).not.toThrow();
    // Putting again for one resource replaces only that resource's statements.
    iam.putResourceStatements(QUEUE, 'Policy', queuePolicy(QUEUE).slice(0, 1));
    expect(() => iam.authorize({ ...send, resource: QUEUE })).toThrow(AccessDeniedError);
    expect(() => iam.authorize({ ...send, resource: QUEUE2 })).not.toThrow();
    iam.removeResourceStatements('Policy');
    expect(() => iam.authorize({ ...send, resource: QUEUE2 })).toThrow(AccessDeniedError);
  });

  test('Lambda permissions: the service is allowed only from the SourceArn (ArnLike) and SourceAccount named', () => {
    const iam = authority();
    const api = `arn:aws:execute-api:us-east-1:${ACCOUNT}:abc123/*/*/orders`;
    iam.putResourceStatements(FUNCTION, 'ApiPermission', [
      lambdaPermissionStatement({
        action: 'lambda:InvokeFunction',
        principal: 'apigateway.amazonaws.com',
        functionArn: FUNCTION,
        sourceArn: api,
        sourceAccount: ACCOUNT,
      }),
    ]);
    const invoke = {
      principal: iam.servicePrincipal('apigateway.amazonaws.com'),
      action: 'lambda:InvokeFunction',
      resource: FUNCTION,
    };
    const from = (sourceArn: string, sourceAccount = ACCOUNT) => ({
      ...invoke,
      context: { 'aws:SourceArn': sourceArn, 'aws:SourceAccount': sourceAccount },
    });
    expect(() =>
      iam.authorize(from(`arn:aws:execute-api:us-east-1:${ACCOUNT}:abc123/$default/POST/orders`)),
    ).not.toThrow();
    expect(() =>
      iam.authorize(from(`arn:aws:execute-api:us-east-1:${ACCOUNT}:other/$default/POST/orders`)),
    ).toThrow(AccessDeniedError);
    expect(() =>
      iam.authorize(
        from(`arn:aws:execute-api:us-east-1:${ACCOUNT}:abc123/$default/POST/orders`, '111111111111'),
      ),
    ).toThrow(AccessDeniedError);
    expect(() =>
      iam.authorize({
        ...from(`arn:aws:execute-api:us-east-1:${ACCOUNT}:abc123/$default/POST/orders`),
        principal: iam.servicePrincipal('events.amazonaws.com'),
      }),
    ).toThrow(AccessDeniedError);
  });

  test('lambdaPermissionStatement builds the statement Lambda’s AddPermission does', () => {
    expect(
      lambdaPermissionStatement({
        action: 'lambda:InvokeFunction',
        principal: 'events.amazonaws.com',
        functionArn: FUNCTION,
        sourceArn: RULE,
        sid: 'S',
      }),
    ).toEqual({
      Sid: 'S',
      Effect: 'Allow',
      Principal: { Service: 'events.amazonaws.com' },
      Action: 'lambda:InvokeFunction',
      Resource: FUNCTION,
      Condition: { ArnLike: { 'AWS:SourceArn': RULE } },
    });
    expect(
      lambdaPermissionStatement({ action: 'lambda:*', principal: ACCOUNT, functionArn: FUNCTION }).Principal,
    ).toEqual({
      AWS: ACCOUNT,
    });
    expect(
      lambdaPermissionStatement({ action: 'lambda:*', principal: '*', functionArn: FUNCTION }).Principal,
    ).toBe('*');
  });

  test('statements put on a wildcard resource apply to every resource it matches', () => {
    const iam = authority();
    const deliveries = `arn:aws:logs:us-east-1:${ACCOUNT}:log-group:/aws/events/*`;
    iam.putResourceStatements(`arn:aws:logs:us-east-1:${ACCOUNT}:*`, 'LogsResourcePolicy', [
      {
        Effect: 'Allow',
        Principal: { Service: 'events.amazonaws.com' },
        Action: 'logs:PutLogEvents',
        Resource: deliveries,
      },
    ]);
    const put = { principal: iam.servicePrincipal('events.amazonaws.com'), action: 'logs:PutLogEvents' };
    expect(() =>
      iam.authorize({
        ...put,
        resource: `arn:aws:logs:us-east-1:${ACCOUNT}:log-group:/aws/events/saga:log-stream:s`,
      }),
    ).not.toThrow();
    expect(() =>
      iam.authorize({
        ...put,
        resource: `arn:aws:logs:us-east-1:${ACCOUNT}:log-group:/aws/lambda/x:log-stream:s`,
      }),
    ).toThrow(AccessDeniedError);
  });
});

describe('IamAuthority keys', () => {
  test('role-session keys are deterministic, AWS-shaped, distinct per session, and map back to the session', () => {
    const iam = authority();
    const keys = iam.credentialsForRole(ROLE_ARN, 'Order');
    expect(keys.accessKeyId).toMatch(/^ASIA[A-Z2-7]{16}$/);
    expect(keys.secretAccessKey).toHaveLength(40);
    expect(keys.sessionToken.length).toBeGreaterThan(40);
    expect(authority().credentialsForRole(ROLE_ARN, 'Order')).toEqual(keys);
    expect(iam.credentialsForRole(ROLE_ARN, 'Other').accessKeyId).not.toBe(keys.accessKeyId);
    expect(iam.principalForAccessKey(keys.accessKeyId)).toEqual({
      principal: {
        arn: `arn:aws:sts::${ACCOUNT}:assumed-role/OrderRole/Order`,
        kind: 'role-session',
        roleArn: ROLE_ARN,
      },
      secretAccessKey: keys.secretAccessKey,
      sessionToken: keys.sessionToken,
    });
    // Another cloud (another key secret) hands out other keys.
    const other = new IamAuthority({
      accountId: ACCOUNT,
      region: 'us-east-1',
      mode: 'enforce',
      rootCredentials: ROOT_KEYS,
      keySecret: 'x',
    });
    expect(other.credentialsForRole(ROLE_ARN, 'Order').accessKeyId).not.toBe(keys.accessKeyId);
  });

  test('the root keys are the root user; an unknown key is nobody', () => {
    const iam = authority();
    expect(iam.principalForAccessKey(ROOT_KEYS.accessKeyId)).toEqual({
      principal: { arn: `arn:aws:iam::${ACCOUNT}:root`, kind: 'root' },
      secretAccessKey: ROOT_KEYS.secretAccessKey,
    });
    expect(iam.principalForAccessKey('ASIAAAAAAAAAAAAAAAAA')).toBeUndefined();
  });

  test('a role with a path: the session is named after the role name alone', () => {
    const iam = authority();
    const principal = iam.sessionPrincipal(`arn:aws:iam::${ACCOUNT}:role/service-role/Runner`, 'x');
    expect(principal.arn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/Runner/x`);
  });
});
