/**
 * Differential test of evaluate.ts against @cloud-copilot/iam-simulate (AGPL, a devDependency used by this test
 * only): random policies and requests over a small alphabet, and the two must decide alike.
 *
 * What the generators leave out, because the oracle and AWS's documentation disagree there (evaluate.ts follows the
 * documentation; its unit tests cover these cases):
 * - the root user: the oracle has no "root has full access" rule
 *   (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html: "all requests are
 *   implicitly denied with the exception of the AWS account root user, which has full access");
 * - `ForAnyValue:…IfExists` with the key missing: the oracle answers false, the documentation says an …IfExists
 *   condition with a missing key is true (reference_policies_elements_condition_operators.html#Conditions_IfExists);
 * - a `NotPrincipal` listing only part of a session's identities (session, role, account): the oracle exempts the
 *   session if any is listed; the documentation warns the session may still be denied unless all three are listed
 *   (reference_policies_elements_notprincipal.html). Lists here name all three, or none of them;
 * - a `*` ending a segment before the resource part, where it would have to span a `:` (the documentation lets it,
 *   reference_policies_elements_resource.html#reference_policies_elements_resource_wildcards; the oracle never
 *   does): no pattern of the alphabet can tell them apart;
 * - a short ARN (`arn:aws:sqs:*`) in `NotResource`: the oracle, "conservatively", never lets one exclude a
 *   resource it does not cover; the documentation has NotResource match every resource but those listed
 *   (reference_policies_elements_notresource.html). Short ARNs appear in `Resource` only;
 * - upper case in the partition/service/region/account of a Resource (the oracle ignores case there);
 * - `Arn*` operators on keys whose values are not ARNs (undocumented; the oracle makes the negated ones false).
 * Also not generated, being out of scope: multivalued keys in the request, policy variables.
 */
import { runSimulation, type Simulation } from '@cloud-copilot/iam-simulate';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { type EvaluationResult, evaluate, principalContext, type RequestPrincipal } from './evaluate.ts';
import type { PolicyDocument, PolicyPrincipal, PolicyStatement } from './policy.ts';

const ACCOUNT = '000000000000';
const OTHER_ACCOUNT = '111111111111';
const REGION = 'us-east-1';
const ROLE_A = `arn:aws:iam::${ACCOUNT}:role/RoleA`;
const ROLE_B = `arn:aws:iam::${ACCOUNT}:role/RoleB`;
const SESSION_A = `arn:aws:sts::${ACCOUNT}:assumed-role/RoleA/session`;
const arn = (service: string, resource: string) => `arn:aws:${service}:${REGION}:${ACCOUNT}:${resource}`;
const TABLE = arn('dynamodb', 'table/Orders');
const TABLE2 = arn('dynamodb', 'table/Payments');
const QUEUE = arn('sqs', 'Dlq');
const QUEUE2 = arn('sqs', 'Work');
const FUNCTION = arn('lambda', 'function:Order');
const MACHINE = arn('states', 'stateMachine:OrderSaga');
const BUS = arn('events', 'event-bus/saga');
const STREAM = arn('logs', 'log-group:/aws/lambda/Order:log-stream:abc');
const RULE = arn('events', 'rule/saga/OrderPlaced');
const OTHER_RULE = arn('events', 'rule/other');
const API_SOURCE = arn('execute-api', 'abc/$default/POST/orders');

const PRINCIPALS: readonly RequestPrincipal[] = [
  { arn: SESSION_A, kind: 'role-session', roleArn: ROLE_A },
  { arn: SESSION_A, kind: 'role-session', roleArn: ROLE_A },
  { arn: 'events.amazonaws.com', kind: 'service', service: 'events.amazonaws.com' },
  { arn: 'apigateway.amazonaws.com', kind: 'service', service: 'apigateway.amazonaws.com' },
];

/** Actions with resources each is valid for (the oracle checks that). */
const REQUESTS: readonly { action: string; resources: readonly string[] }[] = [
  { action: 'dynamodb:GetItem', resources: [TABLE, TABLE2] },
  { action: 'dynamodb:PutItem', resources: [TABLE, TABLE2] },
  { action: 'dynamodb:Query', resources: [TABLE, `${TABLE}/index/ByCustomer`] },
  { action: 'sqs:SendMessage', resources: [QUEUE, QUEUE2] },
  { action: 'sqs:ReceiveMessage', resources: [QUEUE] },
  { action: 'lambda:InvokeFunction', resources: [FUNCTION, `${FUNCTION}:live`] },
  { action: 'states:StartExecution', resources: [MACHINE] },
  { action: 'events:PutEvents', resources: [BUS] },
  { action: 'logs:PutLogEvents', resources: [STREAM] },
];

const ACTION_PATTERNS = [
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:*',
  'dynamodb:Get*',
  'DynamoDB:putitem',
  'dynamodb:?etItem',
  'sqs:SendMessage',
  'sqs:*Message',
  'sqs:*',
  'lambda:InvokeFunction',
  'lambda:Invoke?unction',
  'states:StartExecution',
  'events:PutEvents',
  'logs:PutLogEvents',
  'logs:*',
  '*',
];

const RESOURCE_PATTERNS = [
  '*',
  TABLE,
  TABLE2,
  'arn:aws:dynamodb:*:*:table/*',
  arn('dynamodb', 'table/Ord*'),
  arn('dynamodb', 'table/orders'),
  `${TABLE}*`,
  QUEUE,
  `arn:aws:sqs:*:${ACCOUNT}:*`,
  arn('sqs', 'Dl?'),
  'arn:aws:sqs:*',
  FUNCTION,
  `${FUNCTION}*`,
  'arn:aws:lambda:*:*:function:*',
  MACHINE,
  'arn:aws:states:*:*:stateMachine:*',
  BUS,
  'arn:aws:logs:*:*:log-group:/aws/lambda/*',
  arn('logs', 'log-group:/aws/lambda/Order:*'),
];

/** Condition keys, the values a policy compares them with, and the operators that suit them. */
const KEYS: readonly { key: string; values: readonly string[]; operators: readonly string[] }[] = [
  {
    key: 'aws:SourceArn',
    values: [
      RULE,
      'arn:aws:events:*:*:rule/saga/*',
      arn('events', 'rule/*'),
      OTHER_RULE,
      arn('execute-api', 'abc/*/*/orders'),
    ],
    operators: [
      'ArnEquals',
      'ArnLike',
      'ArnNotEquals',
      'ArnNotLike',
      'StringEquals',
      'StringLike',
      'StringNotLike',
    ],
  },
  {
    key: 'aws:SourceAccount',
    values: [ACCOUNT, OTHER_ACCOUNT, '0*'],
    operators: ['StringEquals', 'StringNotEquals', 'StringLike', 'StringNotLike'],
  },
  { key: 'aws:SecureTransport', values: ['true', 'false', 'TRUE'], operators: ['Bool'] },
  {
    key: 'aws:PrincipalArn',
    values: [ROLE_A, ROLE_B, `arn:aws:iam::${ACCOUNT}:role/*`],
    operators: ['ArnEquals', 'ArnLike', 'ArnNotLike', 'StringEquals', 'StringLike'],
  },
  {
    key: 'aws:PrincipalServiceName',
    values: ['events.amazonaws.com', 'APIGateway.amazonaws.com', '*.amazonaws.com'],
    operators: ['StringEquals', 'StringEqualsIgnoreCase', 'StringNotEqualsIgnoreCase', 'StringLike'],
  },
  { key: 'aws:SourceVpc', values: ['vpc-1'], operators: ['StringEquals', 'StringNotEquals'] },
];

const condition = fc
  .record({
    spec: fc.constantFrom(...KEYS),
    pick: fc.nat(),
    form: fc.constantFrom('plain', 'plain', 'IfExists', 'Null', 'ForAnyValue', 'ForAllValues'),
    values: fc.uniqueArray(fc.nat(), { minLength: 1, maxLength: 2 }),
    nullValue: fc.constantFrom('true', 'false'),
  })
  .map(({ spec, pick, form, values, nullValue }) => {
    const base = spec.operators[pick % spec.operators.length] as string;
    const chosen = [...new Set(values.map((i) => spec.values[i % spec.values.length] as string))];
    const value = chosen.length === 1 ? (chosen[0] as string) : chosen;
    switch (form) {
      case 'Null':
        return { operator: 'Null', key: spec.key, value: nullValue };
      case 'IfExists':
        return { operator: `${base}IfExists`, key: spec.key, value };
      case 'ForAnyValue':
      case 'ForAllValues':
        // Set operators only with string operators, and never with IfExists (see the module comment).
        return {
          operator: `${form}:${base.startsWith('String') ? base : 'StringLike'}`,
          key: spec.key,
          value,
        };
      default:
        return { operator: base, key: spec.key, value };
    }
  });

const conditionBlock = fc.array(condition, { maxLength: 2 }).map((conditions) => {
  const block: Record<string, Record<string, string | string[]>> = {};
  for (const c of conditions) {
    block[c.operator] ??= {};
    (block[c.operator] as Record<string, string | string[]>)[c.key] = c.value;
  }
  return Object.keys(block).length === 0 ? undefined : block;
});

const PRINCIPAL_ELEMENTS: readonly PolicyPrincipal[] = [
  '*',
  { AWS: '*' },
  { AWS: ACCOUNT },
  { AWS: `arn:aws:iam::${ACCOUNT}:root` },
  { AWS: ROLE_A },
  { AWS: ROLE_B },
  { AWS: SESSION_A },
  { AWS: OTHER_ACCOUNT },
  { AWS: [ROLE_B, OTHER_ACCOUNT] },
  { Service: 'events.amazonaws.com' },
  { Service: ['apigateway.amazonaws.com', 'sns.amazonaws.com'] },
  { AWS: ROLE_A, Service: 'events.amazonaws.com' },
];

/** NotPrincipal lists naming all of session A's identities, or none (see the module comment). */
const NOT_PRINCIPAL_ELEMENTS: readonly PolicyPrincipal[] = [
  { AWS: [SESSION_A, ROLE_A, ACCOUNT] },
  { AWS: [SESSION_A, ROLE_A, `arn:aws:iam::${ACCOUNT}:root`], Service: 'events.amazonaws.com' },
  { AWS: [ROLE_B, OTHER_ACCOUNT] },
  { Service: 'apigateway.amazonaws.com' },
  { Service: 'events.amazonaws.com' },
];

/** The request a scenario makes; statements lean towards it so that they often apply. */
interface Target {
  readonly action: string;
  readonly resource: string;
}

/** One to three of `values`, mixed half the time with values close to the target's. */
const someOf = (values: readonly string[], near: readonly string[]) =>
  fc
    .uniqueArray(fc.oneof(fc.constantFrom(...values), fc.constantFrom(...near)), {
      minLength: 1,
      maxLength: 3,
    })
    .map((list) => (list.length === 1 ? (list[0] as string) : list));

function statement(kind: 'identity' | 'resource', target: Target) {
  const service = target.action.split(':')[0] as string;
  const nearActions = [target.action, target.action.toUpperCase(), `${service}:*`, '*'];
  const nearResources = [target.resource, '*', `${target.resource.split(':').slice(0, 5).join(':')}:*`];
  const notResources = RESOURCE_PATTERNS.filter((r) => r.split(':').length >= 6 || r === '*');
  return fc
    .record({
      Effect: fc.constantFrom('Allow', 'Allow', 'Deny'),
      notAction: fc.nat(4).map((n) => n === 0),
      actions: someOf(ACTION_PATTERNS, nearActions),
      notResource: fc.nat(4).map((n) => n === 0),
      resources: someOf(RESOURCE_PATTERNS, nearResources),
      notResources: someOf(notResources, nearResources),
      notPrincipal: fc.nat(4).map((n) => n === 0),
      principal: fc.constantFrom(...PRINCIPAL_ELEMENTS),
      notPrincipalElement: fc.constantFrom(...NOT_PRINCIPAL_ELEMENTS),
      Condition: fc.option(conditionBlock, { nil: undefined, freq: 2 }),
      sid: fc.nat(),
    })
    .map((s) => {
      const out: Record<string, unknown> = {
        Sid: `S${s.sid}`,
        Effect: s.Effect,
        [s.notAction ? 'NotAction' : 'Action']: s.actions,
        ...(s.notResource ? { NotResource: s.notResources } : { Resource: s.resources }),
      };
      if (kind === 'resource') {
        if (s.notPrincipal) out.NotPrincipal = s.notPrincipalElement;
        else out.Principal = s.principal;
      }
      if (s.Condition !== undefined) out.Condition = s.Condition;
      return out as unknown as PolicyStatement;
    });
}

const policyDocument = (kind: 'identity' | 'resource', target: Target) =>
  fc
    .array(statement(kind, target), { minLength: 1, maxLength: 3 })
    .map((statements): PolicyDocument => ({ Version: '2012-10-17', Statement: statements }));

const scenario = fc
  .constantFrom(...REQUESTS)
  .chain(({ action, resources }) =>
    fc.record({ action: fc.constant(action), resource: fc.constantFrom(...resources) }),
  )
  .chain((request) =>
    fc.record({
      principal: fc.constantFrom(...PRINCIPALS),
      request: fc.constant(request),
      identity: fc.array(policyDocument('identity', request), { maxLength: 2 }),
      resource: fc.option(policyDocument('resource', request), { nil: undefined, freq: 4 }),
      sourceArn: fc.constantFrom(undefined, RULE, OTHER_RULE, API_SOURCE),
      sourceAccount: fc.constantFrom(undefined, ACCOUNT, OTHER_ACCOUNT),
      secureTransport: fc.constantFrom(undefined, 'true', 'false'),
    }),
  );

const ORACLE_DECISION: Readonly<Record<string, EvaluationResult['decision']>> = {
  Allowed: 'allow',
  ExplicitlyDenied: 'explicit-deny',
  ImplicitlyDenied: 'implicit-deny',
};

describe('evaluate agrees with @cloud-copilot/iam-simulate', () => {
  test('on random policies and requests (≥ 500 runs, each outcome seen)', async () => {
    const seen = { allow: 0, 'explicit-deny': 0, 'implicit-deny': 0, 'by-resource': 0, service: 0 };
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const context: Record<string, string> = {};
        if (s.sourceArn !== undefined) context['aws:SourceArn'] = s.sourceArn;
        if (s.sourceAccount !== undefined) context['aws:SourceAccount'] = s.sourceAccount;
        if (s.secureTransport !== undefined) context['aws:SecureTransport'] = s.secureTransport;

        const mine = evaluate(
          { principal: s.principal, action: s.request.action, resource: s.request.resource, context },
          s.resource === undefined
            ? { identity: s.identity }
            : { identity: s.identity, resource: s.resource },
        );

        const isService = s.principal.kind === 'service';
        const simulation: Simulation = {
          request: {
            principal: s.principal.arn,
            action: s.request.action,
            resource: { resource: s.request.resource, accountId: ACCOUNT },
            // The oracle does not add the principal's own keys: give them.
            contextVariables: { ...context, ...principalContext(s.principal) },
          },
          // A service principal has no identity-based policies (evaluate ignores the ones it is given).
          identityPolicies: isService
            ? []
            : s.identity.map((policy, i) => ({ name: `identity${i}`, policy })),
          serviceControlPolicies: [],
          resourceControlPolicies: [],
          ...(s.resource === undefined ? {} : { resourcePolicy: s.resource }),
        };
        const oracle = await runSimulation(simulation, {});
        if (oracle.resultType === 'error') {
          throw new Error(`the oracle refused the simulation: ${JSON.stringify(oracle.errors)}`);
        }
        const expected = ORACLE_DECISION[oracle.overallResult];
        seen[mine.decision]++;
        if (mine.by?.policy === 'resource') seen['by-resource']++;
        if (isService) seen.service++;
        expect({ decision: mine.decision, simulation }).toEqual({ decision: expected, simulation });
      }),
      { numRuns: Number(process.env.IAM_DIFFERENTIAL_RUNS ?? 1000) },
    );
    // The generators must reach every outcome often enough for the agreement to mean something.
    expect(seen.allow).toBeGreaterThan(60);
    expect(seen['explicit-deny']).toBeGreaterThan(60);
    expect(seen['implicit-deny']).toBeGreaterThan(60);
    expect(seen['by-resource']).toBeGreaterThan(20);
    expect(seen.service).toBeGreaterThan(100);
  });
});
