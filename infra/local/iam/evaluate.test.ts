import { describe, expect, test } from 'vitest';
import {
  compilePolicy,
  type EvaluationRequest,
  evaluate,
  type PolicySet,
  principalContext,
  type RequestPrincipal,
  roleArnOfSession,
} from './evaluate.ts';
import type { PolicyStatement } from './policy.ts';

const ACCOUNT = '000000000000';
const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/OrderRole`;
const SESSION: RequestPrincipal = {
  arn: `arn:aws:sts::${ACCOUNT}:assumed-role/OrderRole/fn`,
  kind: 'role-session',
  roleArn: ROLE_ARN,
};
const ROOT: RequestPrincipal = { arn: `arn:aws:iam::${ACCOUNT}:root`, kind: 'root' };
const EVENTS: RequestPrincipal = {
  arn: 'events.amazonaws.com',
  kind: 'service',
  service: 'events.amazonaws.com',
};
const TABLE = `arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/Orders`;
const QUEUE = `arn:aws:sqs:us-east-1:${ACCOUNT}:Dlq`;
const RULE = `arn:aws:events:us-east-1:${ACCOUNT}:rule/saga/OrderPlaced`;

function doc(...statements: PolicyStatement[]) {
  return { Version: '2012-10-17', Statement: statements };
}

function allow(action: string | string[], resource: string | string[] = '*'): PolicyStatement {
  return { Effect: 'Allow', Action: action, Resource: resource };
}

function check(
  request: Partial<EvaluationRequest> & Pick<EvaluationRequest, 'action' | 'resource'>,
  policies: PolicySet,
) {
  return evaluate({ principal: SESSION, ...request }, policies);
}

/** The decision of one identity statement for an action on a resource. */
function decide(statement: PolicyStatement, action: string, resource: string, context = {}) {
  return check({ action, resource, context }, { identity: [doc(statement)] }).decision;
}

describe('evaluate: identity-based policies', () => {
  test('no policy at all: implicit deny, reason "no identity-based policy allows"', () => {
    expect(check({ action: 'dynamodb:PutItem', resource: TABLE }, { identity: [] })).toEqual({
      decision: 'implicit-deny',
      reason: 'no identity-based policy allows',
    });
  });

  test('an Allow matching action and resource allows, and says which statement', () => {
    const policy = compilePolicy(
      doc({ Sid: 'Tables', ...allow('dynamodb:PutItem', TABLE) }),
      'OrderRole/Default',
    );
    expect(check({ action: 'dynamodb:PutItem', resource: TABLE }, { identity: [policy] })).toEqual({
      decision: 'allow',
      reason: 'an identity-based policy allows',
      by: { policy: 'identity', name: 'OrderRole/Default', statement: 'Tables' },
    });
  });

  test('an explicit Deny anywhere wins over an Allow elsewhere', () => {
    const result = check(
      { action: 'dynamodb:PutItem', resource: TABLE },
      {
        identity: [
          doc(allow('dynamodb:*')),
          doc({ Effect: 'Deny', Action: 'dynamodb:PutItem', Resource: '*' }),
        ],
      },
    );
    expect(result.decision).toBe('explicit-deny');
    expect(result.reason).toBe('an explicit deny in an identity-based policy');
    expect(result.by).toEqual({ policy: 'identity', name: 'identity policy #1', statement: '#0' });
  });

  test('actions match case-insensitively, with * and ? wildcards', () => {
    expect(decide(allow('DynamoDB:putitem'), 'dynamodb:PutItem', TABLE)).toBe('allow');
    expect(decide(allow('dynamodb:Get*'), 'dynamodb:GetItem', TABLE)).toBe('allow');
    expect(decide(allow('dynamodb:Get*'), 'dynamodb:PutItem', TABLE)).toBe('implicit-deny');
    expect(decide(allow('dynamodb:?etItem'), 'dynamodb:GetItem', TABLE)).toBe('allow');
    expect(decide(allow('dynamodb:?etItem'), 'dynamodb:BatchGetItem', TABLE)).toBe('implicit-deny');
    expect(decide(allow('*'), 'sqs:SendMessage', QUEUE)).toBe('allow');
    // The service prefix is part of the match: dynamodb:* does not cover sqs.
    expect(decide(allow('dynamodb:*'), 'sqs:SendMessage', QUEUE)).toBe('implicit-deny');
  });

  test('NotAction applies to every action but those listed', () => {
    const statement: PolicyStatement = {
      Effect: 'Allow',
      NotAction: ['sqs:*', 'dynamodb:DeleteItem'],
      Resource: '*',
    };
    expect(decide(statement, 'dynamodb:PutItem', TABLE)).toBe('allow');
    expect(decide(statement, 'dynamodb:DeleteItem', TABLE)).toBe('implicit-deny');
    expect(decide(statement, 'sqs:SendMessage', QUEUE)).toBe('implicit-deny');
  });

  test('resources match case-sensitively, with wildcards', () => {
    expect(decide(allow('dynamodb:*', TABLE), 'dynamodb:GetItem', TABLE)).toBe('allow');
    expect(decide(allow('dynamodb:*', TABLE.toLowerCase()), 'dynamodb:GetItem', TABLE)).toBe('implicit-deny');
    expect(decide(allow('dynamodb:*', 'arn:aws:dynamodb:*:*:table/Ord*'), 'dynamodb:GetItem', TABLE)).toBe(
      'allow',
    );
    expect(decide(allow('dynamodb:*', 'arn:aws:dynamodb:*:*:table/Or?ers'), 'dynamodb:GetItem', TABLE)).toBe(
      'allow',
    );
    expect(decide(allow('dynamodb:*', 'arn:aws:dynamodb:*:*:table/Pay*'), 'dynamodb:GetItem', TABLE)).toBe(
      'implicit-deny',
    );
  });

  test('* in the resource part spans "/" and ":" (index ARNs, function qualifiers, log streams)', () => {
    expect(decide(allow('dynamodb:Query', `${TABLE}*`), 'dynamodb:Query', `${TABLE}/index/ByCustomer`)).toBe(
      'allow',
    );
    expect(decide(allow('dynamodb:Query', TABLE), 'dynamodb:Query', `${TABLE}/index/ByCustomer`)).toBe(
      'implicit-deny',
    );
    const fn = `arn:aws:lambda:us-east-1:${ACCOUNT}:function:Order`;
    expect(decide(allow('lambda:InvokeFunction', `${fn}*`), 'lambda:InvokeFunction', `${fn}:live`)).toBe(
      'allow',
    );
    expect(decide(allow('lambda:InvokeFunction', fn), 'lambda:InvokeFunction', `${fn}:live`)).toBe(
      'implicit-deny',
    );
    const stream = `arn:aws:logs:us-east-1:${ACCOUNT}:log-group:/aws/lambda/Order:log-stream:2026/01/01/abc`;
    expect(
      decide(
        allow('logs:PutLogEvents', 'arn:aws:logs:*:*:log-group:/aws/lambda/*'),
        'logs:PutLogEvents',
        stream,
      ),
    ).toBe('allow');
  });

  test('a * inside a segment stays in it; a * ending a segment, or a short ARN ending in *, goes beyond', () => {
    // "us-*-1" must match one region, not swallow the account too.
    expect(decide(allow('sqs:*', `arn:aws:sqs:us-*-1:${ACCOUNT}:Dlq`), 'sqs:SendMessage', QUEUE)).toBe(
      'allow',
    );
    expect(decide(allow('sqs:*', 'arn:aws:sqs:us-*1:Dlq'), 'sqs:SendMessage', QUEUE)).toBe('implicit-deny');
    expect(decide(allow('sqs:*', 'arn:aws:sqs:*'), 'sqs:SendMessage', QUEUE)).toBe('allow');
    expect(decide(allow('sqs:*', 'arn:aws:sqs:us-east-1'), 'sqs:SendMessage', QUEUE)).toBe('implicit-deny');
  });

  test('NotResource applies to every resource but those listed', () => {
    const statement: PolicyStatement = { Effect: 'Deny', Action: '*', NotResource: `${TABLE}*` };
    const policies = { identity: [doc(allow('*'), statement)] };
    expect(check({ action: 'dynamodb:GetItem', resource: TABLE }, policies).decision).toBe('allow');
    expect(check({ action: 'sqs:SendMessage', resource: QUEUE }, policies).decision).toBe('explicit-deny');
  });
});

describe('evaluate: principals', () => {
  test('the root user is allowed without any policy, but not against an explicit deny', () => {
    expect(
      evaluate({ principal: ROOT, action: 'dynamodb:DeleteTable', resource: TABLE }, { identity: [] }),
    ).toEqual({
      decision: 'allow',
      reason: 'the account root user is allowed',
    });
    const deny = doc({ Effect: 'Deny', Principal: '*', Action: 'sqs:*', Resource: QUEUE });
    expect(
      evaluate(
        { principal: ROOT, action: 'sqs:DeleteQueue', resource: QUEUE },
        { identity: [], resource: deny },
      ).decision,
    ).toBe('explicit-deny');
  });

  test('a service principal is allowed only by a resource-based policy; its identity policies are ignored', () => {
    const request = { principal: EVENTS, action: 'sqs:SendMessage', resource: QUEUE };
    expect(evaluate(request, { identity: [doc(allow('*'))] })).toEqual({
      decision: 'implicit-deny',
      reason: 'no resource-based policy allows',
    });
    const queuePolicy = doc({
      Effect: 'Allow',
      Principal: { Service: 'events.amazonaws.com' },
      Action: 'sqs:SendMessage',
      Resource: QUEUE,
    });
    expect(evaluate(request, { identity: [], resource: queuePolicy }).decision).toBe('allow');
    // Another service is not the one named.
    expect(
      evaluate(
        { ...request, principal: { arn: 'sns.amazonaws.com', kind: 'service' } },
        { identity: [], resource: queuePolicy },
      ).decision,
    ).toBe('implicit-deny');
  });

  test('a resource-based policy naming the session, or its role, allows the session without identity policy', () => {
    for (const aws of [SESSION.arn, ROLE_ARN]) {
      const resource = doc({
        Effect: 'Allow',
        Principal: { AWS: aws },
        Action: 'sqs:SendMessage',
        Resource: QUEUE,
      });
      expect(check({ action: 'sqs:SendMessage', resource: QUEUE }, { identity: [], resource })).toEqual({
        decision: 'allow',
        reason: 'a resource-based policy allows',
        by: { policy: 'resource', name: 'resource policy', statement: '#0' },
      });
    }
    const other = doc({
      Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::${ACCOUNT}:role/OtherRole` },
      Action: 'sqs:SendMessage',
      Resource: QUEUE,
    });
    expect(
      check({ action: 'sqs:SendMessage', resource: QUEUE }, { identity: [], resource: other }).decision,
    ).toBe('implicit-deny');
  });

  test('a resource-based policy naming the account delegates to identity policies: it allows nothing alone', () => {
    for (const aws of [ACCOUNT, `arn:aws:iam::${ACCOUNT}:root`]) {
      const resource = doc({ Effect: 'Allow', Principal: { AWS: aws }, Action: 'sqs:*', Resource: QUEUE });
      expect(check({ action: 'sqs:SendMessage', resource: QUEUE }, { identity: [], resource }).decision).toBe(
        'implicit-deny',
      );
      expect(
        check({ action: 'sqs:SendMessage', resource: QUEUE }, { identity: [doc(allow('sqs:*'))], resource })
          .decision,
      ).toBe('allow');
      // …but a Deny naming the account applies to everyone in it.
      const deny = doc({ Effect: 'Deny', Principal: { AWS: aws }, Action: 'sqs:*', Resource: QUEUE });
      expect(
        check(
          { action: 'sqs:SendMessage', resource: QUEUE },
          { identity: [doc(allow('sqs:*'))], resource: deny },
        ),
      ).toMatchObject({ decision: 'explicit-deny', reason: 'an explicit deny in a resource-based policy' });
    }
  });

  test('"*" and {"AWS": "*"} name every principal, services included', () => {
    for (const principal of ['*', { AWS: '*' }] as const) {
      const resource = doc({
        Effect: 'Allow',
        Principal: principal,
        Action: 'sqs:SendMessage',
        Resource: QUEUE,
      });
      expect(
        evaluate(
          { principal: EVENTS, action: 'sqs:SendMessage', resource: QUEUE },
          { identity: [], resource },
        ).decision,
      ).toBe('allow');
      expect(check({ action: 'sqs:SendMessage', resource: QUEUE }, { identity: [], resource }).decision).toBe(
        'allow',
      );
    }
  });

  test('NotPrincipal exempts a session only when its session, role and account are all listed', () => {
    const denyAllBut = (aws: string[]) =>
      doc({ Effect: 'Deny', NotPrincipal: { AWS: aws }, Action: 'sqs:*', Resource: QUEUE });
    const identity = [doc(allow('sqs:*'))];
    const request = { action: 'sqs:SendMessage', resource: QUEUE };
    expect(
      check(request, { identity, resource: denyAllBut([SESSION.arn, ROLE_ARN, ACCOUNT]) }).decision,
    ).toBe('allow');
    expect(check(request, { identity, resource: denyAllBut([SESSION.arn, ACCOUNT]) }).decision).toBe(
      'explicit-deny',
    );
    expect(check(request, { identity, resource: denyAllBut([ROLE_ARN]) }).decision).toBe('explicit-deny');
    // A service is exempted by its name.
    const exceptEvents = doc({
      Effect: 'Deny',
      NotPrincipal: { Service: 'events.amazonaws.com' },
      Action: 'sqs:*',
      Resource: QUEUE,
    });
    expect(
      evaluate({ principal: EVENTS, ...request }, { identity: [], resource: exceptEvents }).decision,
    ).toBe('implicit-deny');
    expect(check(request, { identity, resource: exceptEvents }).decision).toBe('explicit-deny');
  });

  test('the principal keys are in the context: a session is seen as its role in aws:PrincipalArn', () => {
    expect(principalContext(SESSION)).toEqual({
      'aws:PrincipalArn': ROLE_ARN,
      'aws:PrincipalAccount': ACCOUNT,
      'aws:PrincipalType': 'AssumedRole',
      'aws:PrincipalIsAWSService': 'false',
    });
    expect(principalContext(EVENTS)).toEqual({
      'aws:PrincipalServiceName': 'events.amazonaws.com',
      'aws:PrincipalIsAWSService': 'true',
    });
    const statement: PolicyStatement = {
      Effect: 'Allow',
      Action: '*',
      Resource: '*',
      Condition: { ArnEquals: { 'aws:PrincipalArn': ROLE_ARN } },
    };
    expect(decide(statement, 'sqs:SendMessage', QUEUE)).toBe('allow');
    // The request cannot pretend to be someone else.
    expect(
      check(
        {
          action: 'sqs:SendMessage',
          resource: QUEUE,
          principal: { ...SESSION, roleArn: `${ROLE_ARN}X` },
          context: { 'aws:PrincipalArn': ROLE_ARN },
        },
        { identity: [doc(statement)] },
      ).decision,
    ).toBe('implicit-deny');
    expect(roleArnOfSession(SESSION.arn)).toBe(ROLE_ARN);
  });
});

describe('evaluate: conditions', () => {
  const withCondition = (condition: PolicyStatement['Condition']): PolicyStatement => ({
    Effect: 'Allow',
    Action: '*',
    Resource: '*',
    Condition: condition,
  });
  const ok = (condition: PolicyStatement['Condition'], context: Record<string, string | string[]> = {}) =>
    decide(withCondition(condition), 'sqs:SendMessage', QUEUE, context) === 'allow';

  test('StringEquals is exact and case-sensitive; several values are ORed', () => {
    expect(ok({ StringEquals: { 'aws:SourceAccount': ACCOUNT } }, { 'aws:SourceAccount': ACCOUNT })).toBe(
      true,
    );
    expect(
      ok({ StringEquals: { 'aws:SourceAccount': ['1', ACCOUNT] } }, { 'aws:SourceAccount': ACCOUNT }),
    ).toBe(true);
    expect(ok({ StringEquals: { 'aws:SourceAccount': 'X' } }, { 'aws:SourceAccount': 'x' })).toBe(false);
    expect(ok({ StringEquals: { 'aws:SourceAccount': '0*' } }, { 'aws:SourceAccount': ACCOUNT })).toBe(false);
  });

  test('condition key names are case-insensitive', () => {
    expect(ok({ StringEquals: { 'AWS:SOURCEACCOUNT': ACCOUNT } }, { 'aws:sourceaccount': ACCOUNT })).toBe(
      true,
    );
  });

  test('StringNotEquals, StringEqualsIgnoreCase, StringNotEqualsIgnoreCase', () => {
    expect(
      ok({ StringNotEquals: { 'aws:SourceAccount': ['1', '2'] } }, { 'aws:SourceAccount': ACCOUNT }),
    ).toBe(true);
    expect(
      ok({ StringNotEquals: { 'aws:SourceAccount': ['1', ACCOUNT] } }, { 'aws:SourceAccount': ACCOUNT }),
    ).toBe(false);
    expect(ok({ StringEqualsIgnoreCase: { 'aws:x': 'AbC' } }, { 'aws:x': 'aBc' })).toBe(true);
    expect(ok({ StringNotEqualsIgnoreCase: { 'aws:x': 'AbC' } }, { 'aws:x': 'aBc' })).toBe(false);
  });

  test('StringLike / StringNotLike: * and ? wildcards anywhere, case-sensitive', () => {
    expect(ok({ StringLike: { 'aws:x': 'orders/*/items' } }, { 'aws:x': 'orders/a/b/items' })).toBe(true);
    expect(ok({ StringLike: { 'aws:x': 'ord?rs' } }, { 'aws:x': 'orders' })).toBe(true);
    expect(ok({ StringLike: { 'aws:x': 'Ord*' } }, { 'aws:x': 'orders' })).toBe(false);
    expect(ok({ StringNotLike: { 'aws:x': 'ord*' } }, { 'aws:x': 'orders' })).toBe(false);
    expect(ok({ StringNotLike: { 'aws:x': 'pay*' } }, { 'aws:x': 'orders' })).toBe(true);
  });

  test('ArnLike / ArnEquals compare the six components separately; ArnNotLike negates', () => {
    expect(
      ok({ ArnLike: { 'aws:SourceArn': 'arn:aws:events:*:*:rule/saga/*' } }, { 'aws:SourceArn': RULE }),
    ).toBe(true);
    expect(
      ok({ ArnEquals: { 'aws:SourceArn': 'arn:aws:events:*:*:rule/saga/*' } }, { 'aws:SourceArn': RULE }),
    ).toBe(true);
    // Too few components: matches nothing, even with a trailing *.
    expect(ok({ ArnLike: { 'aws:SourceArn': 'arn:aws:events:*' } }, { 'aws:SourceArn': RULE })).toBe(false);
    // A * does not cross a component boundary.
    expect(
      ok({ ArnLike: { 'aws:SourceArn': `arn:aws:events:us-east-1:*` } }, { 'aws:SourceArn': RULE }),
    ).toBe(false);
    expect(ok({ ArnLike: { 'aws:SourceArn': RULE.toUpperCase() } }, { 'aws:SourceArn': RULE })).toBe(false);
    expect(
      ok({ ArnNotLike: { 'aws:SourceArn': 'arn:aws:events:*:*:rule/other' } }, { 'aws:SourceArn': RULE }),
    ).toBe(true);
    expect(ok({ ArnNotEquals: { 'aws:SourceArn': RULE } }, { 'aws:SourceArn': RULE })).toBe(false);
  });

  test('Bool compares true/false ignoring case', () => {
    expect(ok({ Bool: { 'aws:SecureTransport': 'true' } }, { 'aws:SecureTransport': 'TRUE' })).toBe(true);
    expect(ok({ Bool: { 'aws:SecureTransport': false } }, { 'aws:SecureTransport': 'true' })).toBe(false);
    expect(ok({ Bool: { 'aws:SecureTransport': 'true' } }, { 'aws:SecureTransport': 'yes' })).toBe(false);
  });

  test('Null tests presence: true = absent, false = present', () => {
    expect(ok({ Null: { 'aws:SourceArn': 'true' } })).toBe(true);
    expect(ok({ Null: { 'aws:SourceArn': 'true' } }, { 'aws:SourceArn': RULE })).toBe(false);
    expect(ok({ Null: { 'aws:SourceArn': 'false' } }, { 'aws:SourceArn': RULE })).toBe(true);
    expect(ok({ Null: { 'aws:SourceArn': 'false' } })).toBe(false);
  });

  test('Numeric and Date operators', () => {
    expect(ok({ NumericLessThan: { 's3:max-keys': '10' } }, { 's3:max-keys': '9' })).toBe(true);
    expect(ok({ NumericLessThan: { 's3:max-keys': '10' } }, { 's3:max-keys': '10' })).toBe(false);
    expect(ok({ NumericGreaterThanEquals: { 's3:max-keys': 10 } }, { 's3:max-keys': '10' })).toBe(true);
    expect(ok({ NumericEquals: { 's3:max-keys': '10' } }, { 's3:max-keys': 'ten' })).toBe(false);
    expect(ok({ NumericNotEquals: { 's3:max-keys': '10' } }, { 's3:max-keys': '11' })).toBe(true);
    expect(
      ok(
        { DateLessThan: { 'aws:CurrentTime': '2026-01-01T00:00:00Z' } },
        { 'aws:CurrentTime': '2025-12-31T23:59:59Z' },
      ),
    ).toBe(true);
    expect(
      ok({ DateGreaterThan: { 'aws:EpochTime': '1700000000' } }, { 'aws:EpochTime': '1600000000' }),
    ).toBe(false);
  });

  test('IpAddress / NotIpAddress on IPv4 ranges', () => {
    expect(ok({ IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } }, { 'aws:SourceIp': '10.1.2.3' })).toBe(true);
    expect(ok({ IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } }, { 'aws:SourceIp': '11.1.2.3' })).toBe(false);
    expect(ok({ NotIpAddress: { 'aws:SourceIp': '10.0.0.0/8' } }, { 'aws:SourceIp': '11.1.2.3' })).toBe(true);
  });

  test('a missing key fails a condition, except …IfExists and the negated operators', () => {
    expect(ok({ StringEquals: { 'aws:SourceAccount': ACCOUNT } })).toBe(false);
    expect(ok({ StringEqualsIfExists: { 'aws:SourceAccount': ACCOUNT } })).toBe(true);
    expect(ok({ StringEqualsIfExists: { 'aws:SourceAccount': ACCOUNT } }, { 'aws:SourceAccount': '1' })).toBe(
      false,
    );
    expect(ok({ StringNotEquals: { 'aws:SourceAccount': ACCOUNT } })).toBe(true);
    expect(ok({ ArnNotLike: { 'aws:SourceArn': RULE } })).toBe(true);
    expect(ok({ Bool: { 'aws:SecureTransport': 'false' } })).toBe(false);
    expect(ok({ BoolIfExists: { 'aws:SecureTransport': 'false' } })).toBe(true);
  });

  test('several keys, and several operators, are ANDed', () => {
    const both = {
      ArnLike: { 'aws:SourceArn': RULE },
      StringEquals: { 'aws:SourceAccount': ACCOUNT, 'aws:x': 'y' },
    };
    expect(ok(both, { 'aws:SourceArn': RULE, 'aws:SourceAccount': ACCOUNT, 'aws:x': 'y' })).toBe(true);
    expect(ok(both, { 'aws:SourceArn': RULE, 'aws:SourceAccount': ACCOUNT, 'aws:x': 'z' })).toBe(false);
    expect(ok(both, { 'aws:SourceAccount': ACCOUNT, 'aws:x': 'y' })).toBe(false);
  });

  test('ForAnyValue / ForAllValues over multivalued keys; a multivalued key needs one of them', () => {
    const tags = { 'aws:TagKeys': ['env', 'team'] };
    expect(ok({ 'ForAnyValue:StringEquals': { 'aws:TagKeys': ['team', 'cost'] } }, tags)).toBe(true);
    expect(ok({ 'ForAnyValue:StringEquals': { 'aws:TagKeys': ['cost'] } }, tags)).toBe(false);
    expect(ok({ 'ForAllValues:StringEquals': { 'aws:TagKeys': ['env', 'team', 'cost'] } }, tags)).toBe(true);
    expect(ok({ 'ForAllValues:StringEquals': { 'aws:TagKeys': ['env'] } }, tags)).toBe(false);
    expect(ok({ 'ForAllValues:StringLike': { 'aws:TagKeys': ['e*', 't*'] } }, tags)).toBe(true);
    expect(ok({ 'ForAllValues:StringNotEquals': { 'aws:TagKeys': ['cost'] } }, tags)).toBe(true);
    // Missing key: ForAllValues is vacuously true, ForAnyValue false (…IfExists makes it true).
    expect(ok({ 'ForAllValues:StringEquals': { 'aws:TagKeys': ['env'] } })).toBe(true);
    expect(ok({ 'ForAnyValue:StringEquals': { 'aws:TagKeys': ['env'] } })).toBe(false);
    expect(ok({ 'ForAnyValue:StringEqualsIfExists': { 'aws:TagKeys': ['env'] } })).toBe(true);
    // A single value is a set of one; a set without a set operator does not match.
    expect(ok({ 'ForAnyValue:StringEquals': { 'aws:TagKeys': ['env'] } }, { 'aws:TagKeys': 'env' })).toBe(
      true,
    );
    expect(ok({ StringEquals: { 'aws:TagKeys': ['env', 'team'] } }, tags)).toBe(false);
  });

  test('a Deny with a condition applies only when the condition holds (CDK enforceSSL)', () => {
    const queuePolicy = doc({
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: 'sqs:*',
      Resource: QUEUE,
      Condition: { Bool: { 'aws:SecureTransport': 'false' } },
    });
    const identity = [doc(allow('sqs:SendMessage', QUEUE))];
    const request = { action: 'sqs:SendMessage', resource: QUEUE };
    expect(
      check({ ...request, context: { 'aws:SecureTransport': 'true' } }, { identity, resource: queuePolicy })
        .decision,
    ).toBe('allow');
    expect(
      check({ ...request, context: { 'aws:SecureTransport': 'false' } }, { identity, resource: queuePolicy })
        .decision,
    ).toBe('explicit-deny');
  });
});

describe('evaluate: compiled policies', () => {
  test('a document is compiled once and reused (same object → same compiled policy)', () => {
    const document = doc(allow('sqs:SendMessage', QUEUE));
    const policies = { identity: [document] };
    const first = check({ action: 'sqs:SendMessage', resource: QUEUE }, policies);
    expect(first.decision).toBe('allow');
    expect(check({ action: 'sqs:SendMessage', resource: QUEUE }, policies)).toEqual(first);
  });

  test('an invalid document is refused with the element named', () => {
    expect(() =>
      check({ action: 'sqs:SendMessage', resource: QUEUE }, { identity: [doc(allow('SendMessage'))] }),
    ).toThrow(/Statement\[0\]\.Action\[0\]: "SendMessage" is not an action/);
  });
});
