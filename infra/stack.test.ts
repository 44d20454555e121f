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
  ChargePaymentFunction: 'index.charge',
  RefundPaymentFunction: 'index.refund',
  ReserveInventoryFunction: 'index.reserve',
  ReleaseInventoryFunction: 'index.release',
  ShipOrderFunction: 'index.ship',
};

/** The tables each function may touch (item-level), by construct id. Anything else is a least-privilege bug. */
const TABLE_ACCESS: Record<string, string[]> = {
  OrderFunction: ['Orders', 'Idempotency'],
  OutboxPublisherFunction: ['FailureFlags'],
  ChargePaymentFunction: ['Payments', 'Idempotency', 'FailureFlags'],
  RefundPaymentFunction: ['Payments', 'Idempotency', 'FailureFlags'],
  ReserveInventoryFunction: ['Inventory', 'Idempotency', 'FailureFlags'],
  ReleaseInventoryFunction: ['Inventory', 'Idempotency', 'FailureFlags'],
  ShipOrderFunction: ['Shipments', 'Idempotency', 'FailureFlags'],
};
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
        Timeout: fnId === 'OutboxPublisherFunction' ? 30 : 10,
      });
      const assetPath = (fn?.Properties.Code as { S3Key?: string } | undefined)?.S3Key;
      expect(assetPath, fnId).toMatch(/^[0-9a-f]{64}\.zip$/);
      const bundle = join(outdir, `asset.${String(assetPath).replace('.zip', '')}`, 'index.mjs');
      expect(existsSync(bundle), `${fnId}: ${bundle}`).toBe(true);
    }
    template.resourcePropertiesCountIs(
      'AWS::Lambda::Function',
      { Runtime: 'nodejs24.x', Architectures: ['arm64'] },
      7,
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
    expect(Object.keys(sm.DefinitionSubstitutions as Json).sort()).toEqual([
      'ChargePaymentFunctionArn',
      'OrdersTableName',
      'RefundPaymentFunctionArn',
      'ReleaseInventoryFunctionArn',
      'ReserveInventoryFunctionArn',
      'ShipOrderFunctionArn',
    ]);
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
    template.resourcePropertiesCountIs('AWS::SQS::Queue', { SqsManagedSseEnabled: true }, 2);
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

  it('lets each function touch exactly its own tables (the charge function cannot touch Inventory)', () => {
    const tableIds = new Map(TABLES.map((t) => [logicalId(stack.node.findChild(t) as never), t]));
    for (const [fnId, expected] of Object.entries(TABLE_ACCESS)) {
      const touched = new Set<string>();
      for (const s of statementsOfRole(roleOfFunction(fnId))) {
        if (!actionsOf(s).some((a) => a.startsWith('dynamodb:'))) continue;
        for (const [id, name] of tableIds) {
          if (JSON.stringify(s.Resource).includes(`"${id}"`)) touched.add(name);
        }
        // Item-level actions only: no Scan, no table management.
        if (actionsOf(s).some((a) => ['dynamodb:GetItem', 'dynamodb:PutItem'].includes(a))) {
          expect(actionsOf(s), fnId).not.toContain('dynamodb:Scan');
          expect(actionsOf(s), fnId).not.toContain('dynamodb:DeleteTable');
        }
      }
      // The publisher reads the Orders stream (StreamArn) through its event source mapping.
      if (fnId === 'OutboxPublisherFunction') touched.delete('Orders');
      expect([...touched].sort(), fnId).toEqual([...expected].sort());
    }
    const charge = JSON.stringify(statementsOfRole(roleOfFunction('ChargePaymentFunction')));
    expect(charge).not.toContain(logicalId(stack.inventoryTable));
  });

  it('lets the publisher start only the saga and put events only on OrderEvents', () => {
    const statements = statementsOfRole(roleOfFunction('OutboxPublisherFunction'));
    const start = statements.filter((s) => actionsOf(s).includes('states:StartExecution'));
    expect(start.map((s) => s.Resource)).toEqual([{ Ref: logicalId(stack.stateMachine) }]);
    const put = statements.filter((s) => actionsOf(s).includes('events:PutEvents'));
    expect(put.map((s) => s.Resource)).toEqual([{ 'Fn::GetAtt': [logicalId(stack.eventBus), 'Arn'] }]);
    for (const fnId of Object.keys(FUNCTION_HANDLERS).filter((f) => f !== 'OutboxPublisherFunction')) {
      const other = JSON.stringify(statementsOfRole(roleOfFunction(fnId)));
      expect(other, fnId).not.toContain('states:StartExecution');
      expect(other, fnId).not.toContain('events:PutEvents');
    }
  });

  it('lets the state machine invoke only the five saga functions and update only Orders', () => {
    const statements = statementsOfRole(
      getAttTarget(json.Resources[logicalId(stack.stateMachine)]?.Properties.RoleArn),
    );
    const invoke = statements.filter((s) => actionsOf(s).includes('lambda:InvokeFunction'));
    const invoked = invoke.flatMap((s) => s.Resource as unknown[]).map((r) => JSON.stringify(r));
    const sagaFns = ['ChargePayment', 'RefundPayment', 'ReserveInventory', 'ReleaseInventory', 'ShipOrder'];
    expect(invoked.sort()).toEqual(
      sagaFns
        .map((f) =>
          JSON.stringify({ 'Fn::GetAtt': [logicalId(stack.functions[`${f}Function`] as never), 'Arn'] }),
        )
        .sort(),
    );
    const dynamo = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('dynamodb:')));
    expect(dynamo.flatMap(actionsOf)).toEqual(['dynamodb:UpdateItem']);
    expect(dynamo.map((s) => s.Resource)).toEqual([{ 'Fn::GetAtt': [logicalId(stack.ordersTable), 'Arn'] }]);
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
    expect(names['Fn::Join'][1]).toHaveLength(7);
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
