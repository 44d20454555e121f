import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, type CfnElement, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CATALOG } from '../services/shared/catalog.ts';
import { addNagPlugins, buildApp, sagaStackOf } from './app.ts';
import { ORDER_SAGA_ASL_PATH, type SagaStack } from './stack.ts';

type Json = Record<string, unknown>;
interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}

const FUNCTION_HANDLERS: Record<string, string> = {
  OrderFunction: 'index.handler',
  OutboxPublisherFunction: 'index.handler',
  OutboxSweeperFunction: 'index.handler',
  ChargePaymentFunction: 'index.charge',
  RefundPaymentFunction: 'index.refund',
  ReserveInventoryFunction: 'index.reserve',
  ReleaseInventoryFunction: 'index.release',
  ShipOrderFunction: 'index.ship',
};

const POWERTOOLS = ['DeleteItem', 'GetItem', 'PutItem', 'UpdateItem'];
const FLAGS = ['BatchGetItem', 'UpdateItem'];
/**
 * The exact DynamoDB grants of each function (construct id → table → actions), read from the services' code.
 * Anything more is a least-privilege bug; anything less an AccessDenied on AWS.
 */
const EXPECTED_GRANTS: Record<string, Record<string, string[]>> = {
  OrderFunction: { Orders: ['GetItem', 'PutItem'], Idempotency: POWERTOOLS },
  OutboxPublisherFunction: { Orders: ['UpdateItem'], FailureFlags: FLAGS },
  OutboxSweeperFunction: { Orders: ['Scan'] },
  ChargePaymentFunction: {
    Payments: ['PutItem', 'Query'],
    Orders: ['ConditionCheckItem', 'UpdateItem'],
    Idempotency: POWERTOOLS,
    FailureFlags: FLAGS,
  },
  RefundPaymentFunction: {
    Payments: ['PutItem', 'Query'],
    Orders: ['UpdateItem'],
    Idempotency: POWERTOOLS,
    FailureFlags: FLAGS,
  },
  ReserveInventoryFunction: {
    Inventory: ['GetItem', 'PutItem', 'Query', 'UpdateItem'],
    Orders: ['ConditionCheckItem', 'UpdateItem'],
    Idempotency: POWERTOOLS,
    FailureFlags: FLAGS,
  },
  ReleaseInventoryFunction: {
    Inventory: ['PutItem', 'Query', 'UpdateItem'],
    Orders: ['UpdateItem'],
    Idempotency: POWERTOOLS,
    FailureFlags: FLAGS,
  },
  ShipOrderFunction: {
    Shipments: ['GetItem', 'PutItem'],
    Orders: ['ConditionCheckItem', 'UpdateItem'],
    Idempotency: POWERTOOLS,
    FailureFlags: FLAGS,
  },
};
/** The saga task functions: they read the Orders table name from ORDERS_TABLE. */
const TASK_FUNCTIONS = [
  'ChargePaymentFunction',
  'RefundPaymentFunction',
  'ReserveInventoryFunction',
  'ReleaseInventoryFunction',
  'ShipOrderFunction',
];
const TABLES = ['Orders', 'Payments', 'Inventory', 'Shipments', 'Idempotency', 'FailureFlags'];

describe('SagaStack (synthesized once, with the cdk-nag plugins)', () => {
  let outdir = '';
  let app: App;
  let stack: SagaStack;
  let template: Template;
  let json: { Resources: Record<string, { Type: string; Properties: Json }>; Outputs: Record<string, Json> };

  const logicalId = (construct: { node: { defaultChild?: unknown } }): string =>
    stack.getLogicalId(construct.node.defaultChild as CfnElement);

  /** Every statement of every IAM policy attached to the role of the given construct's default child. */
  function statementsOfRole(roleLogicalId: string): Statement[] {
    return Object.values(json.Resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy')
      .filter((r) => JSON.stringify(r.Properties.Roles).includes(`"${roleLogicalId}"`))
      .flatMap((r) => (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
  }
  /** Logical id of the resource a `{ "Fn::GetAtt": [id, attr] }` points at. */
  const getAttTarget = (value: unknown): string =>
    String((value as { 'Fn::GetAtt'?: string[] } | undefined)?.['Fn::GetAtt']?.[0]);
  function roleOfFunction(fnId: string): string {
    return getAttTarget(json.Resources[logicalId(stack.functions[fnId] as never)]?.Properties.Role);
  }
  const actionsOf = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);

  beforeAll(() => {
    outdir = mkdtempSync(join(tmpdir(), 'saga-stack-test-'));
    app = buildApp({ outdir });
    stack = sagaStackOf(app);
    // Runs bundling and the cdk-nag validation plugins: an unacknowledged finding throws here.
    app.synth();
    template = Template.fromStack(stack);
    json = template.toJSON() as typeof json;
  }, 120_000);

  afterAll(() => {
    rmSync(outdir, { recursive: true, force: true });
  });

  it('passes cdk-nag (AwsSolutions + Serverless): synthesis with the plugins succeeded', () => {
    const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as {
      pluginReports: { summary?: { status?: string } }[];
    };
    expect(report.pluginReports.filter((r) => r.summary?.status !== 'success')).toEqual([]);
    expect(existsSync(join(outdir, 'Saga.template.json'))).toBe(true);
  });

  it('creates the six tables: keys, on-demand, point-in-time recovery, TTL, the Orders stream', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 6);
    for (const id of TABLES) {
      const table = json.Resources[logicalId(stack.node.findChild(id) as never)];
      expect(table?.Type, id).toBe('AWS::DynamoDB::Table');
      const p = table?.Properties ?? {};
      expect(p.BillingMode, id).toBe('PAY_PER_REQUEST');
      expect(p.PointInTimeRecoverySpecification, id).toEqual({ PointInTimeRecoveryEnabled: true });
      expect(p.KeySchema, id).toEqual(
        id === 'Idempotency'
          ? [{ AttributeName: 'id', KeyType: 'HASH' }]
          : [
              { AttributeName: 'pk', KeyType: 'HASH' },
              { AttributeName: 'sk', KeyType: 'RANGE' },
            ],
      );
    }
    const props = (id: string): Json =>
      json.Resources[logicalId(stack.node.findChild(id) as never)]?.Properties ?? {};
    expect(props('Orders').StreamSpecification).toEqual({ StreamViewType: 'NEW_IMAGE' });
    expect(props('Idempotency').TimeToLiveSpecification).toEqual({
      AttributeName: 'expiration',
      Enabled: true,
    });
    expect(props('FailureFlags').TimeToLiveSpecification).toEqual({ AttributeName: 'ttl', Enabled: true });
  });

  it('runs every function on nodejs24.x / arm64 with X-Ray, its handler export, bundled as ESM index.mjs', () => {
    for (const [fnId, handler] of Object.entries(FUNCTION_HANDLERS)) {
      const fn = json.Resources[logicalId(stack.functions[fnId] as never)];
      expect(fn?.Properties, fnId).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        Handler: handler,
        TracingConfig: { Mode: 'Active' },
        Timeout: { OutboxPublisherFunction: 30, OutboxSweeperFunction: 60 }[fnId] ?? 10,
      });
      const assetPath = (fn?.Properties.Code as { S3Key?: string } | undefined)?.S3Key;
      expect(assetPath, fnId).toMatch(/^[0-9a-f]{64}\.zip$/);
      const bundle = join(outdir, `asset.${String(assetPath).replace('.zip', '')}`, 'index.mjs');
      expect(existsSync(bundle), `${fnId}: ${bundle}`).toBe(true);
    }
    template.resourcePropertiesCountIs(
      'AWS::Lambda::Function',
      { Runtime: 'nodejs24.x', Architectures: ['arm64'] },
      8,
    );
  });

  it('gives each function a /aws/lambda/<name> log group with a retention', () => {
    for (const fnId of Object.keys(FUNCTION_HANDLERS)) {
      const group = json.Resources[logicalId(stack.functions[fnId]?.functionLogGroup as never)];
      expect(group?.Properties.RetentionInDays, fnId).toBeGreaterThan(0);
      expect(JSON.stringify(group?.Properties.LogGroupName), fnId).toContain('/aws/lambda/');
      expect(JSON.stringify(group?.Properties.LogGroupName), fnId).toContain(
        logicalId(stack.functions[fnId] as never),
      );
    }
  });

  it('defines a Standard state machine inline from the ASL file, logging ALL, traced, with substitutions', () => {
    const sm = json.Resources[logicalId(stack.stateMachine)]?.Properties ?? {};
    expect(sm.StateMachineType).toBe('STANDARD');
    expect(sm.DefinitionString).toBe(readFileSync(ORDER_SAGA_ASL_PATH, 'utf8'));
    expect(sm.DefinitionS3Location).toBeUndefined();
    expect(sm.LoggingConfiguration).toMatchObject({ Level: 'ALL', IncludeExecutionData: true });
    expect(sm.TracingConfiguration).toEqual({ Enabled: true });
    const substitutions = sm.DefinitionSubstitutions as Json;
    expect(Object.keys(substitutions).sort()).toEqual([
      'ChargePaymentFunctionArn',
      'OrdersTableName',
      'PaymentsTableName',
      'RefundPaymentFunctionArn',
      'ReleaseInventoryFunctionArn',
      'ReserveInventoryFunctionArn',
      'ShipOrderFunctionArn',
      'ShipmentsTableName',
    ]);
    expect(substitutions.PaymentsTableName).toEqual({ Ref: logicalId(stack.paymentsTable) });
    expect(substitutions.ShipmentsTableName).toEqual({ Ref: logicalId(stack.shipmentsTable) });
    // Every placeholder of the ASL has a substitution.
    const placeholders = new Set(
      [...(sm.DefinitionString as string).matchAll(/\$\{(\w+)\}/g)].map((match) => match[1] ?? ''),
    );
    expect([...placeholders].filter((name) => !(name in substitutions))).toEqual([]);
  });

  it('names the state machine log group under /aws/vendedlogs/states/', () => {
    const sm = json.Resources[logicalId(stack.stateMachine)]?.Properties ?? {};
    const destination = (
      sm.LoggingConfiguration as { Destinations: { CloudWatchLogsLogGroup: { LogGroupArn: unknown } }[] }
    ).Destinations[0]?.CloudWatchLogsLogGroup.LogGroupArn;
    const group = json.Resources[getAttTarget(destination)];
    expect(group?.Type).toBe('AWS::Logs::LogGroup');
    expect(group?.Properties.LogGroupName).toBe('/aws/vendedlogs/states/Saga-OrderSaga');
    expect(group?.Properties.RetentionInDays).toBeGreaterThan(0);
  });

  it('maps the Orders stream to the publisher: OUTBOX# inserts only, bisect, bounded retries, on-failure queue', () => {
    const mappings = Object.values(json.Resources).filter(
      (r) => r.Type === 'AWS::Lambda::EventSourceMapping',
    );
    expect(mappings).toHaveLength(1);
    const p = mappings[0]?.Properties ?? {};
    expect(p.FunctionName).toEqual({ Ref: logicalId(stack.functions.OutboxPublisherFunction as never) });
    expect(p.EventSourceArn).toEqual({ 'Fn::GetAtt': [logicalId(stack.ordersTable), 'StreamArn'] });
    const filters = (p.FilterCriteria as { Filters: { Pattern: string }[] }).Filters;
    expect(filters.map((f) => JSON.parse(f.Pattern))).toEqual([
      { eventName: ['INSERT'], dynamodb: { Keys: { pk: { S: [{ prefix: 'OUTBOX#' }] } } } },
    ]);
    expect(p.BisectBatchOnFunctionError).toBe(true);
    expect(p.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
    expect(p.MaximumRetryAttempts).toBeGreaterThan(0);
    expect(p.MaximumRetryAttempts).toBeLessThanOrEqual(10);
    expect(p.MaximumRecordAgeInSeconds).toBeGreaterThan(0);
    expect(p.BatchSize).toBeGreaterThan(0);
    const destination = (p.DestinationConfig as { OnFailure: { Destination: { 'Fn::GetAtt': string[] } } })
      .OnFailure.Destination['Fn::GetAtt'];
    expect(json.Resources[destination[0] ?? '']?.Type).toBe('AWS::SQS::Queue');
  });

  it('forwards OrderPlaced on the OrderEvents bus to a log group, with a DLQ and an archive', () => {
    const bus = logicalId(stack.eventBus);
    template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: { Ref: bus },
      EventPattern: { source: ['saga.orders'], 'detail-type': ['OrderPlaced'] },
      Targets: [
        Match.objectLike({
          DeadLetterConfig: {
            Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^OrderPlacedTargetDlq'), 'Arn'] },
          },
          RetryPolicy: Match.objectLike({ MaximumRetryAttempts: Match.anyValue() }),
        }),
      ],
    });
    template.hasResourceProperties('AWS::Events::Archive', {
      SourceArn: { 'Fn::GetAtt': [bus, 'Arn'] },
      EventPattern: { source: ['saga.orders'] },
    });
    // The three dead-letter queues: the OrderPlaced rule's target, the stream mapping's on-failure destination,
    // and the sweeper schedule's target.
    template.resourcePropertiesCountIs('AWS::SQS::Queue', { SqsManagedSseEnabled: true }, 3);
  });

  it("lets EventBridge send the OrderPlaced rule's undeliverable events to its DLQ (that rule only)", () => {
    const rule = Object.entries(json.Resources).find(
      ([, r]) => r.Type === 'AWS::Events::Rule' && JSON.stringify(r.Properties).includes('OrderPlaced'),
    );
    const dlq = Object.keys(json.Resources).find(
      (id) => id.startsWith('OrderPlacedTargetDlq') && json.Resources[id]?.Type === 'AWS::SQS::Queue',
    );
    const policies = Object.values(json.Resources).filter(
      (r) =>
        r.Type === 'AWS::SQS::QueuePolicy' &&
        JSON.stringify(r.Properties.Queues) === JSON.stringify([{ Ref: dlq }]),
    );
    expect(policies).toHaveLength(1);
    const document = policies[0]?.Properties.PolicyDocument as
      | { Statement: (Statement & Json)[] }
      | undefined;
    const statements = document?.Statement ?? [];
    const allow = statements.filter((st) => st.Effect === 'Allow');
    expect(allow).toEqual([
      expect.objectContaining({
        Action: 'sqs:SendMessage',
        Principal: { Service: 'events.amazonaws.com' },
        Resource: { 'Fn::GetAtt': [dlq, 'Arn'] },
        Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [rule?.[0], 'Arn'] } } },
      }),
    ]);
    // TLS-only stays.
    expect(statements.some((st) => st.Effect === 'Deny')).toBe(true);
  });

  it('has every custom resource use the provider runtime SDK (InstallLatestAwsSdk false), the log-group policy too', () => {
    const custom = Object.entries(json.Resources).filter(([, r]) => r.Type.startsWith('Custom::'));
    const logPolicy = custom.filter(([id]) => id.startsWith('EventsLogGroupPolicy'));
    expect(logPolicy).toHaveLength(1);
    expect(logPolicy[0]?.[1].Type).toBe('Custom::CloudwatchLogResourcePolicy');
    expect(custom.length).toBeGreaterThan(1);
    for (const [id, resource] of custom) expect(resource.Properties.InstallLatestAwsSdk, id).toBe(false);
  });

  it('runs the outbox sweeper every minute on the default bus, with the Orders table, the saga and the threshold', () => {
    const sweeper = logicalId(stack.functions.OutboxSweeperFunction as never);
    const schedule = json.Resources[logicalId(stack.sweeperSchedule)]?.Properties ?? {};
    expect(schedule.ScheduleExpression).toBe('rate(1 minute)');
    expect(schedule.EventBusName).toBeUndefined();
    expect(schedule.Targets).toEqual([
      expect.objectContaining({
        Arn: { 'Fn::GetAtt': [sweeper, 'Arn'] },
        DeadLetterConfig: {
          Arn: { 'Fn::GetAtt': [expect.stringMatching(/^OutboxSweeperScheduleDlq/), 'Arn'] },
        },
      }),
    ]);
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 'sqs:SendMessage',
            Principal: { Service: 'events.amazonaws.com' },
            Condition: {
              ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [logicalId(stack.sweeperSchedule), 'Arn'] } },
            },
          }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'events.amazonaws.com',
      FunctionName: { 'Fn::GetAtt': [sweeper, 'Arn'] },
      SourceArn: { 'Fn::GetAtt': [logicalId(stack.sweeperSchedule), 'Arn'] },
    });
    expect(json.Resources[sweeper]?.Properties.Environment).toEqual({
      Variables: expect.objectContaining({
        ORDERS_TABLE: { Ref: logicalId(stack.ordersTable) },
        STATE_MACHINE_ARN: { Ref: logicalId(stack.stateMachine) },
        SWEEP_AFTER_SECONDS: '60',
      }),
    });
  });

  it('gives the saga task functions ORDERS_TABLE (their commits check the ORDER row)', () => {
    for (const fnId of TASK_FUNCTIONS) {
      const fn = json.Resources[logicalId(stack.functions[fnId as 'ShipOrderFunction'] as never)];
      const env = (fn?.Properties.Environment as { Variables: Json } | undefined)?.Variables;
      expect(env?.ORDERS_TABLE, fnId).toEqual({ Ref: logicalId(stack.ordersTable) });
    }
  });

  it('serves POST /orders and GET /orders/{id} with the IAM authorizer and a payload 2.0 Lambda proxy', () => {
    template.resourceCountIs('AWS::ApiGatewayV2::Api', 1);
    for (const routeKey of ['POST /orders', 'GET /orders/{id}']) {
      template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
        RouteKey: routeKey,
        AuthorizationType: 'AWS_IAM',
      });
    }
    template.resourceCountIs('AWS::ApiGatewayV2::Route', 2);
    template.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
      IntegrationType: 'AWS_PROXY',
      PayloadFormatVersion: '2.0',
      IntegrationUri: { 'Fn::GetAtt': [logicalId(stack.functions.OrderFunction as never), 'Arn'] },
    });
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      AccessLogSettings: Match.objectLike({ DestinationArn: Match.anyValue() }),
      DefaultRouteSettings: Match.objectLike({ ThrottlingRateLimit: Match.anyValue() }),
    });
  });

  it('seeds one STOCK row per catalog SKU, once (onCreate only)', () => {
    const seeds = Object.values(json.Resources).filter((r) => r.Type === 'Custom::AWS');
    expect(seeds).toHaveLength(1);
    const create = JSON.stringify(seeds[0]?.Properties.Create);
    expect(seeds[0]?.Properties.Update).toBeUndefined();
    expect(seeds[0]?.Properties.Delete).toBeUndefined();
    expect(create).toContain('batchWriteItem');
    expect(create).toContain(logicalId(stack.inventoryTable));
    for (const item of CATALOG) {
      expect(create).toContain(
        `SKU#${item.sku}\\\\\\"},\\\\\\"sk\\\\\\":{\\\\\\"S\\\\\\":\\\\\\"STOCK`.replaceAll('\\\\\\', '\\'),
      );
      expect(create).toContain(`{\\"N\\":\\"${item.initialStock}\\"}`);
    }
  });

  it('grants no IAM action "*" (or "service:*") anywhere', () => {
    const statements = Object.values(json.Resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::Role')
      .flatMap((r) => [
        ...((r.Properties.PolicyDocument as { Statement?: Statement[] } | undefined)?.Statement ?? []),
        ...(
          (r.Properties.Policies as { PolicyDocument: { Statement: Statement[] } }[] | undefined) ?? []
        ).flatMap((p) => p.PolicyDocument.Statement),
      ]);
    expect(statements.length).toBeGreaterThan(10);
    const wildcards = statements.flatMap(actionsOf).filter((a) => a === '*' || a.endsWith(':*'));
    expect(wildcards).toEqual([]);
  });

  it('grants each function exactly the DynamoDB actions its code calls, table by table', () => {
    const tableIds = new Map(TABLES.map((t) => [logicalId(stack.node.findChild(t) as never), t]));
    const granted: Record<string, Record<string, string[]>> = {};
    for (const fnId of Object.keys(FUNCTION_HANDLERS)) {
      const byTable: Record<string, Set<string>> = {};
      for (const s of statementsOfRole(roleOfFunction(fnId))) {
        const dynamo = actionsOf(s).filter((a) => a.startsWith('dynamodb:'));
        if (dynamo.length === 0) continue;
        const resources = Array.isArray(s.Resource) ? s.Resource : [s.Resource];
        for (const resource of resources) {
          const text = JSON.stringify(resource);
          // The publisher's event source mapping reads the Orders stream (StreamArn, ListStreams on *).
          if (text.includes('StreamArn') || (fnId === 'OutboxPublisherFunction' && resource === '*'))
            continue;
          const table = [...tableIds].find(
            ([id]) => text === JSON.stringify({ 'Fn::GetAtt': [id, 'Arn'] }),
          )?.[1];
          expect(table, `${fnId}: ${dynamo.join(',')} on ${text}`).toBeDefined();
          const actions = byTable[table ?? ''] ?? new Set<string>();
          for (const action of dynamo) actions.add(action.replace('dynamodb:', ''));
          byTable[table ?? ''] = actions;
        }
      }
      granted[fnId] = Object.fromEntries(Object.entries(byTable).map(([t, a]) => [t, [...a].sort()]));
    }
    expect(granted).toEqual(EXPECTED_GRANTS);
    const charge = JSON.stringify(statementsOfRole(roleOfFunction('ChargePaymentFunction')));
    expect(charge).not.toContain(logicalId(stack.inventoryTable));
  });

  it('lets the publisher and the sweeper start and describe only the saga; the publisher put only on OrderEvents', () => {
    const sagaExecutions = JSON.stringify({
      'Fn::Join': [
        '',
        [
          'arn:',
          { Ref: 'AWS::Partition' },
          ':states:',
          { Ref: 'AWS::Region' },
          ':',
          { Ref: 'AWS::AccountId' },
          ':execution:',
          { 'Fn::Select': [6, { 'Fn::Split': [':', { Ref: logicalId(stack.stateMachine) }] }] },
          ':*',
        ],
      ],
    });
    for (const fnId of ['OutboxPublisherFunction', 'OutboxSweeperFunction']) {
      const statements = statementsOfRole(roleOfFunction(fnId));
      const start = statements.filter((s) => actionsOf(s).includes('states:StartExecution'));
      expect(
        start.map((s) => s.Resource),
        fnId,
      ).toEqual([{ Ref: logicalId(stack.stateMachine) }]);
      const describe = statements.filter((s) => actionsOf(s).includes('states:DescribeExecution'));
      expect(
        describe.map((s) => JSON.stringify(s.Resource)),
        fnId,
      ).toEqual([sagaExecutions]);
      const states = statements.flatMap(actionsOf).filter((a) => a.startsWith('states:'));
      expect(states.sort(), fnId).toEqual(['states:DescribeExecution', 'states:StartExecution']);
    }
    const put = statementsOfRole(roleOfFunction('OutboxPublisherFunction')).filter((s) =>
      actionsOf(s).includes('events:PutEvents'),
    );
    expect(put.map((s) => s.Resource)).toEqual([{ 'Fn::GetAtt': [logicalId(stack.eventBus), 'Arn'] }]);
    expect(JSON.stringify(statementsOfRole(roleOfFunction('OutboxSweeperFunction')))).not.toContain(
      'events:',
    );
    const others = Object.keys(FUNCTION_HANDLERS).filter(
      (f) => f !== 'OutboxPublisherFunction' && f !== 'OutboxSweeperFunction',
    );
    for (const fnId of others) {
      const other = JSON.stringify(statementsOfRole(roleOfFunction(fnId)));
      expect(other, fnId).not.toContain('states:');
      expect(other, fnId).not.toContain('events:PutEvents');
    }
  });

  it('lets the state machine invoke only the five saga functions and use only the DynamoDB items its ASL names', () => {
    const statements = statementsOfRole(
      getAttTarget(json.Resources[logicalId(stack.stateMachine)]?.Properties.RoleArn),
    );
    const invoke = statements.filter((s) => actionsOf(s).includes('lambda:InvokeFunction'));
    const invoked = invoke.flatMap((s) => s.Resource as unknown[]).map((r) => JSON.stringify(r));
    const sagaFns = ['ChargePayment', 'RefundPayment', 'ReserveInventory', 'ReleaseInventory', 'ShipOrder'];
    expect(invoked.sort()).toEqual(
      sagaFns
        .map((f) =>
          JSON.stringify({
            'Fn::GetAtt': [logicalId(stack.functions[`${f}Function` as 'ShipOrderFunction'] as never), 'Arn'],
          }),
        )
        .sort(),
    );
    const arn = (table: { node: { defaultChild?: unknown } }) =>
      JSON.stringify({ 'Fn::GetAtt': [logicalId(table), 'Arn'] });
    const names = new Map([
      [arn(stack.ordersTable), 'Orders'],
      [arn(stack.paymentsTable), 'Payments'],
      [arn(stack.shipmentsTable), 'Shipments'],
    ]);
    const granted: Record<string, string[]> = {};
    for (const s of statements.filter((st) => actionsOf(st).some((a) => a.startsWith('dynamodb:')))) {
      for (const resource of Array.isArray(s.Resource) ? s.Resource : [s.Resource]) {
        const table = names.get(JSON.stringify(resource)) ?? `unexpected ${JSON.stringify(resource)}`;
        granted[table] = [...(granted[table] ?? []), ...actionsOf(s)].sort();
      }
    }
    expect(granted).toEqual({
      Orders: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
      Payments: ['dynamodb:ConditionCheckItem'],
      Shipments: ['dynamodb:ConditionCheckItem'],
    });
  });

  it('exports the outputs the CLI and the local cloud read', () => {
    expect(Object.keys(json.Outputs).sort()).toEqual(
      [
        'ApiUrl',
        'StateMachineArn',
        'OrdersTableName',
        'PaymentsTableName',
        'InventoryTableName',
        'ShipmentsTableName',
        'IdempotencyTableName',
        'FailureFlagsTableName',
        'EventBusName',
        'FunctionNames',
      ].sort(),
    );
    const names = json.Outputs.FunctionNames?.Value as { 'Fn::Join': [string, unknown[]] };
    expect(names['Fn::Join'][0]).toBe(',');
    expect(names['Fn::Join'][1]).toHaveLength(8);
  });

  it('stays account- and region-agnostic', () => {
    const text = JSON.stringify(json);
    expect(text).not.toMatch(/\b\d{12}\b/);
    expect(text).not.toMatch(
      /\b(us|eu|ap|sa|ca|me|af)-(east|west|north|south|central|northeast|southeast)-\d\b/,
    );
  });
});

describe('cdk-nag plugins are live', () => {
  it('fails synthesis on a non-compliant resource nobody acknowledged', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'saga-nag-scratch-'));
    try {
      const app = buildApp({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
      // A queue with neither a DLQ nor TLS enforcement: AwsSolutions-SQS3/SQS4, Serverless-SQSRedrivePolicy.
      new Queue(sagaStackOf(app), 'NonCompliantQueue');
      expect(() => app.synth()).toThrow(/Saga\/NonCompliantQueue[\s\S]*AwsSolutions-SQS4/);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });

  it('addNagPlugins alone catches it in a scratch app too', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'saga-nag-scratch-'));
    try {
      const app = new App({ outdir });
      addNagPlugins(app);
      new Queue(new Stack(app, 'Scratch'), 'NonCompliantQueue');
      expect(() => app.synth()).toThrow(/Serverless-SQSRedrivePolicy/);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });
});
