import { describe, expect, it } from 'vitest';
import { IamAuthority, type IamMode, lambdaPermissionStatement } from '../iam/authority.ts';
import { LOCAL_ACCOUNT_ID, LOCAL_CREDENTIALS, LOCAL_REGION } from '../types.ts';
import { EventBridgeService, type EventTargetSpec } from './service.ts';
import { createTargetDispatcher } from './targets.ts';

// EventBridge delivers as events.amazonaws.com (aws:SourceArn = the rule) against the targets' resource policies,
// or as the target's role; a denied delivery goes to the DLQ at once, and a denied DLQ drops the event.

const A = `${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}`;
const RULE = `arn:aws:events:${A}:rule/OrderEvents/OrderPlaced`;
const OTHER_RULE = `arn:aws:events:${A}:rule/OrderEvents/Other`;
const SCHEDULE = `arn:aws:events:${A}:rule/Sweep`;
const FUNCTION = `arn:aws:lambda:${A}:function:Audit`;
const QUEUE = `arn:aws:sqs:${A}:audit`;
const DLQ = `arn:aws:sqs:${A}:audit-dlq`;
const LOG_GROUP = `arn:aws:logs:${A}:log-group:/saga/events:*`;
const MACHINE = `arn:aws:states:${A}:stateMachine:Saga`;
const ROLE_NAME = 'EventsInvokeSaga';
const ROLE = `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/${ROLE_NAME}`;

const TARGETS: EventTargetSpec[] = [
  { id: 'Lambda', arn: FUNCTION, deadLetterArn: DLQ, maximumRetryAttempts: 3 },
  { id: 'Queue', arn: QUEUE, deadLetterArn: DLQ, maximumRetryAttempts: 3 },
  { id: 'Logs', arn: LOG_GROUP, deadLetterArn: DLQ, maximumRetryAttempts: 3 },
  { id: 'Saga', arn: MACHINE, roleArn: ROLE, deadLetterArn: DLQ, maximumRetryAttempts: 3 },
];

/** The queue policy CDK writes for a DLQ (or a queue target): HTTPS only, SendMessage for one rule. */
function queuePolicy(queue: string, ruleArn: string): unknown[] {
  return [
    {
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: 'sqs:*',
      Resource: queue,
      Condition: { Bool: { 'aws:SecureTransport': 'false' } },
    },
    {
      Effect: 'Allow',
      Principal: { Service: 'events.amazonaws.com' },
      Action: 'sqs:SendMessage',
      Resource: queue,
      Condition: { ArnEquals: { 'aws:SourceArn': ruleArn } },
    },
  ];
}

interface Options {
  readonly mode?: IamMode;
  /** Grant each target its permission. */
  readonly grants?: boolean;
  /** The rule the DLQ's policy lets send. */
  readonly dlqRule?: string;
}

function setup(options: Options = {}) {
  const iamLog: string[] = [];
  const iam = new IamAuthority({
    accountId: LOCAL_ACCOUNT_ID,
    region: LOCAL_REGION,
    mode: options.mode ?? 'enforce',
    log: (line) => iamLog.push(line),
    rootCredentials: LOCAL_CREDENTIALS,
  });
  iam.putRole({
    roleName: ROLE_NAME,
    roleArn: ROLE,
    inlinePolicies: options.grants
      ? [
          {
            name: 'Start',
            document: {
              Version: '2012-10-17',
              Statement: [{ Effect: 'Allow', Action: 'states:StartExecution', Resource: MACHINE }],
            },
          },
        ]
      : [],
    managedPolicyArns: [],
  });
  if (options.dlqRule !== undefined) {
    iam.putResourceStatements(DLQ, 'DlqPolicy', queuePolicy(DLQ, options.dlqRule));
  }
  if (options.grants) {
    iam.putResourceStatements(FUNCTION, 'AuditPermission', [
      lambdaPermissionStatement({
        action: 'lambda:InvokeFunction',
        principal: 'events.amazonaws.com',
        functionArn: FUNCTION,
        sourceArn: RULE,
      }),
    ]);
    iam.putResourceStatements(QUEUE, 'QueuePolicy', queuePolicy(QUEUE, RULE));
    // What the rule's log group target gets from CDK (a CloudWatch Logs resource policy).
    iam.putResourceStatements(LOG_GROUP, 'EventsLogGroupPolicy', [
      {
        Effect: 'Allow',
        Principal: { Service: 'events.amazonaws.com' },
        Action: ['logs:PutLogEvents', 'logs:CreateLogStream'],
        Resource: LOG_GROUP,
      },
    ]);
  }

  const invoked: string[] = [];
  const sent: { queue: string; body: string; attributes?: Record<string, unknown> }[] = [];
  const started: unknown[] = [];
  const logged: string[] = [];
  const dispatcher = createTargetDispatcher({
    lambda: {
      invoke: async (arn) => {
        invoked.push(arn);
        return { statusCode: 200, payload: null, executedVersion: '$LATEST', requestId: 'r' };
      },
    },
    sqs: { send: (queue, body, attributes) => sent.push({ queue, body, attributes }) },
    stepfunctions: {
      handle: async (_operation, input) => {
        started.push(input);
        return {};
      },
    },
    logs: { put: (group, stream) => logged.push(`${group} ${stream}`) },
    iam,
  });
  const log: string[] = [];
  const events = new EventBridgeService({
    dispatcher,
    retryBaseDelayMs: 1,
    // rate(1 minute) fires every 120 ms.
    timeScale: 0.002,
    log: (line) => log.push(line),
  });
  events.createBus({ name: 'OrderEvents', arn: `arn:aws:events:${A}:event-bus/OrderEvents` });
  const rule = (name: string, arn: string, targets: EventTargetSpec[], schedule?: string) =>
    events.putRule({
      name,
      arn,
      busName: schedule === undefined ? 'OrderEvents' : 'default',
      ...(schedule === undefined
        ? { eventPattern: { source: ['saga.orders'] } }
        : { scheduleExpression: schedule }),
      targets,
    });
  const put = async () => {
    await events.handle('PutEvents', {
      Entries: [
        { EventBusName: 'OrderEvents', Source: 'saga.orders', DetailType: 'OrderPlaced', Detail: '{}' },
      ],
    });
    await events.idle();
  };
  const dlq = () => sent.filter((s) => s.queue === DLQ);
  return { iam, iamLog, events, rule, put, invoked, sent, started, logged, log, dlq };
}

const attributesOf = (message: { attributes?: Record<string, unknown> } | undefined) =>
  Object.fromEntries(
    Object.entries(message?.attributes ?? {}).map(([k, v]) => [
      k,
      (v as { StringValue: string }).StringValue,
    ]),
  );

const denied = (action: string, resource: string) =>
  `User: events.amazonaws.com is not authorized to perform: ${action} on resource: ${resource} because no resource-based policy allows the ${action} action`;

describe('EventBridge delivers as events.amazonaws.com (or the target’s role)', () => {
  it('enforce, with the permissions: Lambda, SQS, CloudWatch Logs and Step Functions targets get the event', async () => {
    const t = setup({ grants: true, dlqRule: RULE });
    t.rule('OrderPlaced', RULE, TARGETS);
    await t.put();
    expect(t.invoked).toEqual([FUNCTION]);
    expect(t.sent.map((s) => s.queue)).toEqual([QUEUE]);
    expect(t.logged).toHaveLength(1);
    expect(t.started).toEqual([expect.objectContaining({ stateMachineArn: MACHINE })]);
    expect(t.log).toEqual([]);
    await t.events.close();
  });

  it('enforce, without them: nothing is delivered, each event goes to the DLQ at once with NO_PERMISSIONS', async () => {
    const t = setup({ dlqRule: RULE });
    t.rule('OrderPlaced', RULE, TARGETS);
    await t.put();
    expect(t.invoked).toEqual([]);
    expect(t.logged).toEqual([]);
    expect(t.started).toEqual([]);
    const messages = t.dlq().map(attributesOf);
    expect(messages).toHaveLength(4);
    const byTarget = Object.fromEntries(messages.map((m) => [m.TARGET_ARN, m]));
    expect(byTarget[FUNCTION]).toEqual({
      RULE_ARN: RULE,
      TARGET_ARN: FUNCTION,
      ERROR_CODE: 'NO_PERMISSIONS',
      ERROR_MESSAGE: denied('lambda:InvokeFunction', FUNCTION),
      RETRY_ATTEMPTS: '0',
    });
    expect(byTarget[QUEUE]?.ERROR_MESSAGE).toBe(denied('sqs:SendMessage', QUEUE));
    const eventId = JSON.parse(t.dlq()[0]?.body ?? '{}').id as string;
    expect(byTarget[LOG_GROUP]?.ERROR_MESSAGE).toBe(
      denied('logs:CreateLogStream', `arn:aws:logs:${A}:log-group:/saga/events:log-stream:${eventId}`),
    );
    expect(byTarget[MACHINE]?.ERROR_MESSAGE).toMatch(
      new RegExp(
        `^User: arn:aws:sts::${LOCAL_ACCOUNT_ID}:assumed-role/${ROLE_NAME}/[0-9a-f]{32} is not authorized to perform: states:StartExecution on resource: ${MACHINE} because no identity-based policy allows the states:StartExecution action$`,
      ),
    );
    expect(t.log.filter((l) => l.includes('failed (not retried): NO_PERMISSIONS'))).toHaveLength(4);
    await t.events.close();
  });

  it('a permission for another rule does not count: aws:SourceArn is the rule’s ARN', async () => {
    const t = setup({ grants: true, dlqRule: OTHER_RULE });
    t.rule('Other', OTHER_RULE, [TARGETS[0] as EventTargetSpec]);
    await t.put();
    expect(t.invoked).toEqual([]);
    expect(attributesOf(t.dlq()[0]).ERROR_MESSAGE).toBe(denied('lambda:InvokeFunction', FUNCTION));
    await t.events.close();
  });

  it('a DLQ whose policy does not let the rule send: the event is dropped and the log says so', async () => {
    const t = setup({ dlqRule: OTHER_RULE });
    t.rule('OrderPlaced', RULE, [TARGETS[0] as EventTargetSpec]);
    await t.put();
    expect(t.invoked).toEqual([]);
    expect(t.dlq()).toEqual([]);
    const dropped = t.log.filter((l) => l.includes('DROPPED'));
    expect(dropped).toHaveLength(1);
    expect(dropped[0]).toMatch(
      new RegExp(
        `^EventBridge: event [0-9a-f-]{36} from rule OrderPlaced DROPPED: its dead-letter queue ${DLQ} refused it \\(counted in InvocationsFailedToBeSentToDlq\\): `,
      ),
    );
    expect(dropped[0]).toContain(denied('sqs:SendMessage', DLQ));
    await t.events.close();
  });

  it('a scheduled Lambda target EventBridge may not invoke goes to its DLQ (not to Lambda’s retries)', async () => {
    const t = setup({ dlqRule: SCHEDULE });
    t.rule('Sweep', SCHEDULE, [TARGETS[0] as EventTargetSpec], 'rate(1 minute)');
    for (let i = 0; i < 200 && t.dlq().length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    await t.events.close();
    expect(t.invoked).toEqual([]);
    expect(attributesOf(t.dlq()[0])).toEqual({
      RULE_ARN: SCHEDULE,
      TARGET_ARN: FUNCTION,
      ERROR_CODE: 'NO_PERMISSIONS',
      ERROR_MESSAGE: denied('lambda:InvokeFunction', FUNCTION),
      RETRY_ATTEMPTS: '0',
    });
  });

  it('warn mode: every target gets the event, each denial is logged once', async () => {
    const t = setup({ mode: 'warn', dlqRule: RULE });
    t.rule('OrderPlaced', RULE, TARGETS);
    await t.put();
    await t.put();
    expect(t.invoked).toEqual([FUNCTION, FUNCTION]);
    expect(t.sent.filter((s) => s.queue === QUEUE)).toHaveLength(2);
    expect(t.logged).toHaveLength(2);
    expect(t.started).toHaveLength(2);
    expect(t.dlq()).toEqual([]);
    // Lambda, SQS and Step Functions once each; the log stream is the event's, so once per event and action.
    expect(t.iamLog.filter((l) => l.includes('lambda:InvokeFunction'))).toEqual([
      `IAM (warn) ${denied('lambda:InvokeFunction', FUNCTION)}`,
    ]);
    expect(t.iamLog.filter((l) => l.includes('sqs:SendMessage'))).toHaveLength(1);
    expect(t.iamLog.filter((l) => l.includes('states:StartExecution'))).toHaveLength(1);
    expect(t.log).toEqual([]);
    await t.events.close();
  });

  it('without an authority, deliveries are not checked', async () => {
    const sent: string[] = [];
    const dispatcher = createTargetDispatcher({
      lambda: {
        invoke: async (arn) => {
          sent.push(arn);
          return { statusCode: 200, payload: null, executedVersion: '$LATEST', requestId: 'r' };
        },
      },
      sqs: { send: (queue) => sent.push(queue) },
      stepfunctions: { handle: async () => ({}) },
      logs: { put: () => undefined },
    });
    await dispatcher.deliver(FUNCTION, {}, { ruleArn: RULE });
    await dispatcher.deliverDeadLetter(DLQ, '{}', {}, { ruleArn: RULE });
    expect(sent).toEqual([FUNCTION, DLQ]);
  });
});
