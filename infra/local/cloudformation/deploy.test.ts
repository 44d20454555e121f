// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ASL `${Placeholder}`s are the subject of some tests.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DeleteItemCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { TEST_AWS, testDynamoDbClient } from '../../../test/support/dynamodb.ts';
import type { EventRuleSpec } from '../events/service.ts';
import { lambdaArnOfIntegrationUri } from '../resources/aws-apigatewayv2-integration.ts';
import { applySubstitutions } from '../resources/aws-stepfunctions-statemachine.ts';
import { flattenResponse } from '../resources/custom-awscustomresource.ts';
import { type InvokeResult, LOCAL_ACCOUNT_ID, LOCAL_REGION } from '../types.ts';
import {
  type ApiSpec,
  DeployError,
  type DeployParts,
  type DeployResult,
  deployTemplate,
  type FunctionSpec,
  type StreamMappingOptions,
} from './deploy.ts';
import {
  assetDirectory,
  type CloudAssembly,
  deploymentOrder,
  loadCloudAssembly,
  TemplateResolver,
} from './template.ts';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'assembly');
const SERVED_URL = 'http://127.0.0.1:45678/';
const REAL_CDK_OUT = join(import.meta.dirname, '..', '..', '..', 'cdk.out');

/** What deploy asked of each part; the parts under test elsewhere, DynamoDB Local real. */
interface Recorded {
  functions: FunctionSpec[];
  logGroups: { name: string; retention?: number }[];
  queues: { name: string; arn: string; attributes?: Record<string, string> }[];
  buses: { name: string; arn: string }[];
  rules: EventRuleSpec[];
  archives: {
    name: string;
    arn: string;
    sourceArn: string;
    eventPattern?: unknown;
    retentionDays?: number;
  }[];
  stateMachines: { name: string; arn: string; definition: string; roleArn: string; type: string }[];
  apis: ApiSpec[];
  mappings: StreamMappingOptions[];
  started: number;
}

function recordingParts(): { parts: DeployParts; recorded: Recorded } {
  const recorded: Recorded = {
    functions: [],
    logGroups: [],
    queues: [],
    buses: [],
    rules: [],
    archives: [],
    stateMachines: [],
    apis: [],
    mappings: [],
    started: 0,
  };
  const invoke = async (): Promise<InvokeResult> => ({
    statusCode: 200,
    payload: null,
    executedVersion: '$LATEST',
    requestId: 'r',
  });
  const parts: DeployParts = {
    dynamodb: testDynamoDbClient(),
    streams: new DynamoDBStreamsClient({ ...TEST_AWS, endpoint: inject('dynamodbEndpoint') }),
    lambda: { register: (spec) => recorded.functions.push(spec), invoke },
    logs: { createLogGroup: (name, retention) => recorded.logGroups.push({ name, retention }) },
    sqs: {
      createQueue: (spec) => {
        recorded.queues.push(spec);
        return { url: `http://127.0.0.1:4566/${LOCAL_ACCOUNT_ID}/${spec.name}`, arn: spec.arn };
      },
    },
    events: {
      createBus: (spec) => recorded.buses.push(spec),
      putRule: (spec) => recorded.rules.push(spec),
      createArchive: (spec) => recorded.archives.push(spec),
    },
    stepfunctions: { createStateMachine: (spec) => recorded.stateMachines.push(spec) },
    edge: {
      endpoint: inject('dynamodbEndpoint'),
      serveHttpApi: async (api) => {
        recorded.apis.push(api);
        return SERVED_URL;
      },
    },
    dispatcher: { deliver: async () => undefined },
    createStreamMapping: (options) => {
      recorded.mappings.push(options);
      return {
        start: () => {
          recorded.started += 1;
        },
        stop: async () => undefined,
        drain: async () => undefined,
      };
    },
  };
  return { parts, recorded };
}

/** The fixture under a unique stack name, so generated table names do not clash across runs. */
function fixtureAssembly(stackName: string): CloudAssembly {
  return { ...loadCloudAssembly(FIXTURE, 'Saga'), stackName };
}

describe('deployTemplate on the fixture template', () => {
  const stackName = `T${Date.now().toString(36)}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'saga-deploy-'));
  const ddb = testDynamoDbClient();
  let result: DeployResult;
  let recorded: Recorded;
  const status = (id: string): string | undefined => result.resources.find((r) => r.logicalId === id)?.status;

  beforeAll(async () => {
    const run = recordingParts();
    recorded = run.recorded;
    result = await deployTemplate({
      assembly: fixtureAssembly(stackName),
      parts: run.parts,
      dataDir,
      accountId: LOCAL_ACCOUNT_ID,
      region: LOCAL_REGION,
    });
  });

  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  test('tables are created with keys, indexes, stream and TTL', async () => {
    const name = result.resolver.ref('OrdersA9B65338');
    expect(name).toMatch(new RegExp(`^${stackName}-OrdersA9B65338-[A-Z0-9]{13}$`));
    const { Table } = await ddb.send(new DescribeTableCommand({ TableName: name }));
    expect(Table?.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    expect(Table?.GlobalSecondaryIndexes?.map((i) => i.IndexName)).toEqual(['byStatus']);
    expect(Table?.LocalSecondaryIndexes?.map((i) => i.IndexName)).toEqual(['byCreated']);
    expect(Table?.StreamSpecification).toEqual({ StreamEnabled: true, StreamViewType: 'NEW_IMAGE' });
    expect(result.outputs.StreamArn).toBe(Table?.LatestStreamArn);

    const ttl = await ddb.send(new DescribeTimeToLiveCommand({ TableName: 'saga-idempotency' }));
    expect(ttl.TimeToLiveDescription?.AttributeName).toBe('expiration');
    expect(status('OrdersA9B65338')).toBe('created');
  });

  test('functions are registered with their bundle, settings and resolved environment', () => {
    expect(recorded.functions.map((f) => f.functionName)).toHaveLength(2);
    const order = recorded.functions.find((f) => f.handler === 'index.handler');
    expect(order).toMatchObject({
      bundleDir: join(FIXTURE, 'asset.044e1cac5c8e318888f49df73950340814075293220fa349a9be25f737fdbabb'),
      runtime: 'nodejs24.x',
      timeoutSeconds: 10,
      memoryMb: 512,
      arn: `arn:aws:lambda:us-east-1:000000000000:function:${order?.functionName}`,
      environment: {
        ORDERS_TABLE: result.resolver.ref('OrdersA9B65338'),
        EVENT_BUS_NAME: 'saga-orders',
        IDEMPOTENCY_TABLE: 'saga-idempotency',
        POWERTOOLS_LOG_LEVEL: 'INFO',
      },
    });
    const publisher = recorded.functions.find((f) => f.handler === 'index.other');
    expect(publisher?.timeoutSeconds).toBe(3);
    expect(publisher?.memoryMb).toBe(128);
    expect(publisher?.environment).toEqual({
      BUS_ARN: 'arn:aws:events:us-east-1:000000000000:event-bus/saga-orders',
      QUEUE_URL: result.outputs.QueueUrl,
      STATE_MACHINE_ARN: result.outputs.StateMachineArn,
    });
    expect(result.outputs.QueueUrl).toMatch(/^http:\/\/127\.0\.0\.1:4566\/000000000000\//);
    // CDK's AwsCustomResource provider never runs locally: the cloud makes its SDK calls.
    expect(status('AWS679f53fac002430cb0da5b7982bd22872D164C4C')).toBe('accepted');
  });

  test('the stream mapping gets every setting of the template, created but not started', () => {
    expect(recorded.mappings).toHaveLength(1);
    const [mapping] = recorded.mappings;
    const publisher = recorded.functions.find((f) => f.handler === 'index.other');
    expect(mapping).toMatchObject({
      functionArn: publisher?.arn,
      streamArn: result.outputs.StreamArn,
      batchSize: 10,
      bisectBatchOnFunctionError: true,
      maximumRetryAttempts: 3,
      maximumRecordAgeInSeconds: 3600,
      onFailureDestinationArn: `arn:aws:sqs:us-east-1:000000000000:${recorded.queues[0]?.name}`,
      startingPosition: 'TRIM_HORIZON',
      functionResponseTypes: ['ReportBatchItemFailures'],
      region: 'us-east-1',
      filterCriteria: {
        Filters: [
          { Pattern: '{"eventName":["INSERT"],"dynamodb":{"Keys":{"pk":{"S":[{"prefix":"OUTBOX#"}]}}}}' },
        ],
      },
    });
    expect(mapping?.checkpointFile).toBe(join(dataDir, 'esm', `${mapping?.uuid}.json`));
    // The function's execution role, as the function spec has it.
    expect(mapping?.functionRoleArn).toBe(
      result.resolver.getAtt('OutboxPublisherFunctionServiceRoleBF2EAF93', 'Arn'),
    );
    expect(publisher?.roleArn).toBe(mapping?.functionRoleArn);
    expect(recorded.started).toBe(0);
    expect(result.mappings).toHaveLength(1);
  });

  test('queues, buses, rules, archives and log groups', () => {
    expect(recorded.queues).toHaveLength(1);
    expect(recorded.buses).toEqual([
      { name: 'saga-orders', arn: 'arn:aws:events:us-east-1:000000000000:event-bus/saga-orders' },
    ]);
    const [rule] = recorded.rules;
    const dlqArn = `arn:aws:sqs:us-east-1:000000000000:${recorded.queues[0]?.name}`;
    expect(rule?.busName).toBe('saga-orders');
    expect(rule?.eventPattern).toEqual({ source: ['saga.orders'], 'detail-type': ['OrderPlaced'] });
    expect(rule?.arn).toMatch(/^arn:aws:events:us-east-1:000000000000:rule\/saga-orders\//);
    expect(rule?.targets).toEqual([
      {
        id: 'Target0',
        arn: recorded.functions.find((f) => f.handler === 'index.handler')?.arn,
        deadLetterArn: dlqArn,
        maximumRetryAttempts: 2,
      },
      { id: 'Target1', arn: dlqArn },
      {
        id: 'Target2',
        arn: `arn:aws:logs:us-east-1:000000000000:log-group:${recorded.logGroups[0]?.name}`,
      },
    ]);
    expect(recorded.archives).toEqual([
      expect.objectContaining({
        sourceArn: 'arn:aws:events:us-east-1:000000000000:event-bus/saga-orders',
        eventPattern: { source: ['saga.orders'] },
        retentionDays: 7,
      }),
    ]);
    expect(recorded.logGroups).toEqual([{ name: expect.stringMatching(/OrderFunctionLogs/), retention: 7 }]);
  });

  test('the state machine definition has every substitution applied', () => {
    const [sm] = recorded.stateMachines;
    expect(sm?.arn).toBe(result.outputs.StateMachineArn);
    expect(sm?.type).toBe('STANDARD');
    expect(sm?.definition).not.toContain('${');
    const definition = JSON.parse(sm?.definition ?? '{}');
    expect(definition.States.Charge.Parameters.FunctionName).toBe(
      recorded.functions.find((f) => f.handler === 'index.handler')?.arn,
    );
    expect(definition.States.Mark.Parameters.TableName).toBe(result.resolver.ref('OrdersA9B65338'));
    expect(sm?.roleArn).toMatch(/^arn:aws:iam::000000000000:role\//);
  });

  test('the HTTP API is served with its routes and ApiEndpoint points at it', () => {
    const orderArn = recorded.functions.find((f) => f.handler === 'index.handler')?.arn;
    expect(recorded.apis).toEqual([
      {
        apiId: result.resolver.ref('OrdersApi48294D44'),
        name: 'OrdersApi',
        routes: [
          {
            method: 'POST',
            path: '/orders',
            authorizationType: 'AWS_IAM',
            functionArn: orderArn,
            payloadFormatVersion: '2.0',
          },
          {
            method: 'GET',
            path: '/orders/{id}',
            authorizationType: 'NONE',
            functionArn: orderArn,
            payloadFormatVersion: '2.0',
          },
        ],
      },
    ]);
    expect(result.outputs.ApiUrl).toBe('http://127.0.0.1:45678');
    // The `$default` stage URL form (Join of the API id and region) is localized too.
    expect(result.outputs.StageUrl).toBe(SERVED_URL);
    expect(result.httpApis[0]?.url).toBe(SERVED_URL);
  });

  test('outputs are resolved; outputs whose condition is false are left out', () => {
    expect(result.outputs).toMatchObject({
      OrdersTableName: result.resolver.ref('OrdersA9B65338'),
      IdempotencyTableName: 'saga-idempotency',
      BusArn: 'arn:aws:events:us-east-1:000000000000:event-bus/saga-orders',
      SubExample: `${stackName}-saga-orders-x`,
      Selected: 'aws',
      Mode: 'not-dev',
    });
    expect(result.outputs).not.toHaveProperty('ProdQueue');
  });

  test('unsupported types are listed, accepted ones too, conditional ones skipped', () => {
    expect(result.unsupported).toEqual([
      { logicalId: 'AlarmTopicD01E77F9', type: 'AWS::SNS::Topic', note: 'no local equivalent' },
    ]);
    const accepted = result.accepted.map((a) => a.type);
    for (const type of [
      'AWS::IAM::Role',
      'AWS::IAM::Policy',
      'AWS::Lambda::Permission',
      'AWS::SQS::QueuePolicy',
      'AWS::CDK::Metadata',
    ]) {
      expect(accepted).toContain(type);
    }
    // The log resource policy is an AwsCustomResource whose call only grants permissions.
    expect(status('EventsLogGroupPolicySagaOrderPlacedRuleABDADC111DCB7B4E')).toBe('accepted');
    expect(status('ProdOnlyQueue4A1B2C3D')).toBe('skipped');
    expect(result.resources).toHaveLength(Object.keys(fixtureAssembly(stackName).template.Resources).length);
  });

  test('the AwsCustomResource SDK call ran for real (BatchWriteItem on DynamoDB Local)', async () => {
    const { Item } = await ddb.send(
      new GetItemCommand({
        TableName: result.resolver.ref('OrdersA9B65338'),
        Key: { pk: { S: 'SKU#apple' }, sk: { S: 'STOCK' } },
      }),
    );
    expect(Item?.available).toEqual({ N: '100' });
    expect(result.resources.find((r) => r.logicalId === 'SeedStock2628E3B8')).toMatchObject({
      status: 'created',
      physicalId: 'seed-stock',
    });
  });

  test('a second deploy on the same dataDir keeps tables and data and does not run custom resources again', async () => {
    const table = result.resolver.ref('OrdersA9B65338');
    const key = { pk: { S: 'SKU#apple' }, sk: { S: 'STOCK' } };
    await ddb.send(
      new PutItemCommand({ TableName: table, Item: { pk: { S: 'ORDER#1' }, sk: { S: 'ORDER' } } }),
    );
    // Sold out since the first deploy: a re-run seed would put the stock back.
    await ddb.send(new DeleteItemCommand({ TableName: table, Key: key }));

    const again = await deployTemplate({
      assembly: fixtureAssembly(stackName),
      parts: recordingParts().parts,
      dataDir,
      accountId: LOCAL_ACCOUNT_ID,
      region: LOCAL_REGION,
    });

    expect(again.resources.find((r) => r.logicalId === 'OrdersA9B65338')?.status).toBe('existing');
    expect(again.resources.find((r) => r.logicalId === 'SeedStock2628E3B8')?.status).toBe('existing');
    expect(again.outputs.StreamArn).toBe(result.outputs.StreamArn);
    const kept = await ddb.send(
      new GetItemCommand({ TableName: table, Key: { pk: { S: 'ORDER#1' }, sk: { S: 'ORDER' } } }),
    );
    expect(kept.Item).toBeDefined();
    expect((await ddb.send(new GetItemCommand({ TableName: table, Key: key }))).Item).toBeUndefined();
  });
});

describe('deploy failures', () => {
  test('a custom resource calling a service the cloud cannot reach names the resource', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'saga-deploy-'));
    try {
      const assembly: CloudAssembly = {
        ...loadCloudAssembly(FIXTURE, 'Saga'),
        template: {
          Resources: {
            Provider: { Type: 'AWS::Lambda::Function', Properties: {} },
            Bad: {
              Type: 'Custom::AWS',
              Properties: {
                ServiceToken: { 'Fn::GetAtt': ['AWS679f53fac002430cb0da5b7982bd2287Fn', 'Arn'] },
                Create: '{"service":"Route53","action":"createHostedZone","parameters":{}}',
              },
            },
            AWS679f53fac002430cb0da5b7982bd2287Fn: { Type: 'AWS::Lambda::Function', Properties: {} },
          },
        },
      };
      const deploy = deployTemplate({
        assembly,
        parts: recordingParts().parts,
        dataDir,
        accountId: LOCAL_ACCOUNT_ID,
        region: LOCAL_REGION,
      });
      await expect(deploy).rejects.toThrow(DeployError);
      await expect(deploy).rejects.toThrow(/Could not deploy (Provider|Bad)/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('scheduled rules', () => {
  test('a rate() rule is put with its schedule and Lambda target; a cron() rule is listed unsupported', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'saga-deploy-'));
    try {
      const sweeper = 'arn:aws:lambda:us-east-1:000000000000:function:Saga-Sweeper';
      const assembly: CloudAssembly = {
        ...loadCloudAssembly(FIXTURE, 'Saga'),
        template: {
          Resources: {
            SweepRule: {
              Type: 'AWS::Events::Rule',
              Properties: {
                ScheduleExpression: 'rate(1 minute)',
                State: 'ENABLED',
                Targets: [{ Arn: sweeper, Id: 'Target0' }],
              },
            },
            NightlyRule: {
              Type: 'AWS::Events::Rule',
              Properties: {
                ScheduleExpression: 'cron(0 3 * * ? *)',
                Targets: [{ Arn: sweeper, Id: 'Target0' }],
              },
            },
          },
        },
      };
      const { parts, recorded } = recordingParts();
      const result = await deployTemplate({
        assembly,
        parts,
        dataDir,
        accountId: LOCAL_ACCOUNT_ID,
        region: LOCAL_REGION,
      });
      expect(recorded.rules).toEqual([
        expect.objectContaining({
          busName: 'default',
          eventPattern: undefined,
          scheduleExpression: 'rate(1 minute)',
          state: 'ENABLED',
          targets: [expect.objectContaining({ id: 'Target0', arn: sweeper })],
        }),
      ]);
      expect(recorded.rules[0]?.arn).toMatch(/^arn:aws:events:us-east-1:000000000000:rule\//);
      expect(result.unsupported).toEqual([
        {
          logicalId: 'NightlyRule',
          type: 'AWS::Events::Rule',
          note: expect.stringMatching(/^cron\(\) schedules do not run locally .*cron\(0 3 \* \* \? \*\)$/),
        },
      ]);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('helpers', () => {
  test('applySubstitutions fills known placeholders and leaves others', () => {
    expect(applySubstitutions('{"a":"${A}","b":"${B}","n":${N}}', { A: 'x', N: 3 })).toBe(
      '{"a":"x","b":"${B}","n":3}',
    );
  });

  test('lambdaArnOfIntegrationUri takes both forms', () => {
    const fn = 'arn:aws:lambda:us-east-1:000000000000:function:f';
    expect(lambdaArnOfIntegrationUri(fn)).toBe(fn);
    expect(
      lambdaArnOfIntegrationUri(
        `arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/${fn}/invocations`,
      ),
    ).toBe(fn);
    expect(lambdaArnOfIntegrationUri('https://example.com')).toBeUndefined();
  });
});

/** The fixture, plus the real synthesized stack when `npm run synth` has produced it. */
const TEMPLATES = [
  { label: 'fixture', cdkOut: FIXTURE },
  ...(existsSync(join(REAL_CDK_OUT, 'Saga.template.json'))
    ? [{ label: 'real cdk.out', cdkOut: REAL_CDK_OUT }]
    : []),
];

describe.each(TEMPLATES)('the $label template resolves completely', ({ cdkOut }) => {
  const assembly = loadCloudAssembly(cdkOut, 'Saga');
  const { template } = assembly;
  const resolver = new TemplateResolver({
    template,
    stackName: 'Saga',
    accountId: LOCAL_ACCOUNT_ID,
    region: LOCAL_REGION,
  });
  const ofType = (type: string) => Object.entries(template.Resources).filter(([, r]) => r.Type === type);
  for (const [id, table] of ofType('AWS::DynamoDB::Table')) {
    if (table.Properties?.StreamSpecification)
      resolver.setAttribute(id, 'StreamArn', `arn:aws:dynamodb:ddblocal:000000000000:table/${id}/stream/1`);
  }
  for (const [id] of ofType('AWS::ApiGatewayV2::Api'))
    resolver.setAttribute(id, 'ApiEndpoint', 'http://127.0.0.1:1');

  test('every resource is ordered after its dependencies', () => {
    expect(new Set(deploymentOrder(template))).toEqual(new Set(Object.keys(template.Resources)));
  });

  test('every function has its bundle and a fully resolved environment', () => {
    const functions = ofType('AWS::Lambda::Function');
    expect(functions.length).toBeGreaterThan(0);
    for (const [id, fn] of functions) {
      const dir = assetDirectory(assembly, fn.Properties?.Code, id);
      expect(
        existsSync(join(dir, 'index.mjs')) || existsSync(join(dir, 'index.js')),
        `${id} bundle in ${dir}`,
      ).toBe(true);
      const env = resolver.resolve(fn.Properties?.Environment ?? {}) as {
        Variables?: Record<string, unknown>;
      };
      for (const [name, value] of Object.entries(env.Variables ?? {})) {
        expect(typeof value, `${id} ${name}`).toBe('string');
      }
    }
  });

  test('every state machine placeholder is substituted', () => {
    for (const [id, sm] of ofType('AWS::StepFunctions::StateMachine')) {
      const definition = resolver.resolveString(sm.Properties?.DefinitionString, id);
      const substitutions = resolver.resolve(sm.Properties?.DefinitionSubstitutions ?? {}) as Record<
        string,
        unknown
      >;
      const applied = applySubstitutions(definition, substitutions);
      expect(applied, id).not.toMatch(/\$\{[^}]+\}/);
      expect(() => JSON.parse(applied)).not.toThrow();
    }
  });

  test('every output resolves to a string', () => {
    for (const [name, output] of Object.entries(template.Outputs ?? {})) {
      if (!resolver.included(output)) continue;
      const value = resolver.resolve(output.Value);
      expect(
        ['string', 'number'].includes(typeof value) || Array.isArray(value),
        `${name}: ${String(value)}`,
      ).toBe(true);
    }
  });
});

describe('flattenResponse', () => {
  test('flattens nested objects and arrays with dotted paths, leaving out $metadata', () => {
    expect(
      flattenResponse({
        $metadata: { httpStatusCode: 200 },
        Items: [{ pk: { S: 'a' } }],
        Count: 1,
        Empty: undefined,
      }),
    ).toEqual({ 'Items.0.pk.S': 'a', Count: '1' });
  });
});
