// biome-ignore-all lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub strings are the subject of these tests.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from '../types.ts';
import {
  assetDirectory,
  type CfnTemplate,
  CircularDependencyError,
  CloudAssemblyError,
  deploymentOrder,
  generatedName,
  loadCloudAssembly,
  NO_VALUE,
  TemplateResolutionError,
  TemplateResolver,
} from './template.ts';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'assembly');
const FUNCTION_ASSET = '044e1cac5c8e318888f49df73950340814075293220fa349a9be25f737fdbabb';

function fixtureResolver(parameters?: Record<string, string>): TemplateResolver {
  const { template } = loadCloudAssembly(FIXTURE, 'Saga');
  return new TemplateResolver({
    template,
    stackName: 'Saga',
    accountId: LOCAL_ACCOUNT_ID,
    region: LOCAL_REGION,
    parameters,
  });
}

function inlineResolver(template: Partial<CfnTemplate>): TemplateResolver {
  return new TemplateResolver({
    template: { Resources: {}, ...template },
    stackName: 'Saga',
    accountId: LOCAL_ACCOUNT_ID,
    region: LOCAL_REGION,
  });
}

describe('loadCloudAssembly', () => {
  test('reads the template and maps asset hashes to their folders', () => {
    const assembly = loadCloudAssembly(FIXTURE, 'Saga');

    expect(assembly.template.Resources.OrdersA9B65338?.Type).toBe('AWS::DynamoDB::Table');
    expect(assembly.assets.get(FUNCTION_ASSET)).toBe(join(FIXTURE, `asset.${FUNCTION_ASSET}`));
    const code = assembly.template.Resources.OrderFunctionFABF799C?.Properties?.Code;
    expect(assetDirectory(assembly, code, 'OrderFunctionFABF799C')).toBe(
      join(FIXTURE, `asset.${FUNCTION_ASSET}`),
    );
  });

  test('a missing cdk.out says how to synthesize', () => {
    expect(() => loadCloudAssembly('/nonexistent/cdk.out', 'Saga')).toThrow(CloudAssemblyError);
    expect(() => loadCloudAssembly('/nonexistent/cdk.out', 'Saga')).toThrow(/npm run synth.*saga deploy/);
  });

  test('a cdk.out without the stack names the stack and the fix', () => {
    expect(() => loadCloudAssembly(FIXTURE, 'Other')).toThrow(/no template for stack "Other".*npm run synth/);
  });

  test('a corrupt template is a clear error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'saga-template-'));
    try {
      writeFileSync(join(dir, 'Saga.template.json'), '{ not json');
      expect(() => loadCloudAssembly(dir, 'Saga')).toThrow(/Could not read .*Saga.template.json as JSON/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a function whose asset is missing is a clear error', () => {
    const assembly = loadCloudAssembly(FIXTURE, 'Saga');
    expect(() => assetDirectory(assembly, { S3Key: 'deadbeef.zip' }, 'Fn')).toThrow(
      /asset deadbeef is missing/,
    );
    expect(() => assetDirectory(assembly, { ZipFile: 'x' }, 'Fn')).toThrow(/no asset Code.S3Key/);
  });
});

describe('physical names', () => {
  test('generated names have the CloudFormation shape, are deterministic and fit the service limit', () => {
    const table = generatedName('Saga', 'OrdersA9B65338', 'AWS::DynamoDB::Table');
    expect(table).toMatch(/^Saga-OrdersA9B65338-[A-Z0-9]{13}$/);
    expect(generatedName('Saga', 'OrdersA9B65338', 'AWS::DynamoDB::Table')).toBe(table);
    expect(generatedName('Saga', 'PaymentsB2C3D4E5', 'AWS::DynamoDB::Table')).not.toBe(table);

    const longId = `OutboxPublisherFunction${'X'.repeat(60)}`;
    const fn = generatedName('Saga', longId, 'AWS::Lambda::Function');
    expect(fn.length).toBeLessThanOrEqual(64);
    expect(fn).toMatch(/^Saga-OutboxPublisherFunctionX+-[A-Za-z0-9]{12}$/);
    expect(generatedName('Saga', longId, 'AWS::SQS::Queue').length).toBeLessThanOrEqual(80);
    expect(generatedName('Saga', 'OrderSagaF61556E2', 'AWS::StepFunctions::StateMachine')).toMatch(
      /^OrderSagaF61556E2-[A-Za-z0-9]{12}$/,
    );
  });

  test('explicit names win over generated ones', () => {
    const r = fixtureResolver();
    expect(r.ref('IdempotencyC15CBC33')).toBe('saga-idempotency');
    expect(r.ref('OrderEvents91E7078A')).toBe('saga-orders');
    expect(r.ref('OrdersA9B65338')).toBe(generatedName('Saga', 'OrdersA9B65338', 'AWS::DynamoDB::Table'));
  });

  test('a FIFO queue without a name gets the .fifo suffix', () => {
    const r = inlineResolver({
      Resources: { JobsFifo: { Type: 'AWS::SQS::Queue', Properties: { FifoQueue: true } } },
    });
    expect(r.physicalName('JobsFifo')).toMatch(/^Saga-JobsFifo-[A-Z0-9]{13}\.fifo$/);
  });
});

describe('Ref and Fn::GetAtt per type', () => {
  const r = fixtureResolver();
  const arn = (service: string, rest: string): string => `arn:aws:${service}:us-east-1:000000000000:${rest}`;

  test('resources return what CloudFormation returns', () => {
    const fnName = r.ref('OrderFunctionFABF799C');
    expect(fnName).toMatch(/^Saga-OrderFunctionFABF799C-/);
    expect(r.resolve({ 'Fn::GetAtt': ['OrderFunctionFABF799C', 'Arn'] })).toBe(
      arn('lambda', `function:${fnName}`),
    );
    expect(r.resolve({ 'Fn::GetAtt': 'OrdersA9B65338.Arn' })).toBe(
      arn('dynamodb', `table/${r.ref('OrdersA9B65338')}`),
    );

    const queue = r.physicalName('PublisherDlq085B5D78');
    expect(r.resolve({ Ref: 'PublisherDlq085B5D78' })).toBe(
      `https://sqs.us-east-1.amazonaws.com/000000000000/${queue}`,
    );
    expect(r.resolve({ 'Fn::GetAtt': ['PublisherDlq085B5D78', 'Arn'] })).toBe(arn('sqs', queue));
    expect(r.resolve({ 'Fn::GetAtt': ['PublisherDlq085B5D78', 'QueueName'] })).toBe(queue);

    expect(r.resolve({ 'Fn::GetAtt': ['OrderEvents91E7078A', 'Arn'] })).toBe(
      arn('events', 'event-bus/saga-orders'),
    );
    const rule = r.physicalName('OrderPlacedRuleAF2E7ADF');
    expect(r.resolve({ Ref: 'OrderPlacedRuleAF2E7ADF' })).toBe(`saga-orders|${rule}`);
    expect(r.resolve({ 'Fn::GetAtt': ['OrderPlacedRuleAF2E7ADF', 'Arn'] })).toBe(
      arn('events', `rule/saga-orders/${rule}`),
    );

    const sm = r.physicalName('OrderSagaF61556E2');
    expect(r.resolve({ Ref: 'OrderSagaF61556E2' })).toBe(arn('states', `stateMachine:${sm}`));
    expect(r.resolve({ 'Fn::GetAtt': ['OrderSagaF61556E2', 'Name'] })).toBe(sm);

    const logGroup = r.ref('OrderFunctionLogs9172950A');
    expect(r.resolve({ 'Fn::GetAtt': ['OrderFunctionLogs9172950A', 'Arn'] })).toBe(
      arn('logs', `log-group:${logGroup}:*`),
    );

    const apiId = r.ref('OrdersApi48294D44');
    expect(apiId).toMatch(/^[a-z0-9]{10}$/);
    expect(r.resolve({ 'Fn::GetAtt': ['OrdersApi48294D44', 'ApiEndpoint'] })).toBe(
      `https://${apiId}.execute-api.us-east-1.amazonaws.com`,
    );
    expect(r.resolve({ 'Fn::GetAtt': ['OrderFunctionServiceRole3E66F569', 'Arn'] })).toMatch(
      /^arn:aws:iam::000000000000:role\/Saga-OrderFunctionServiceRole3E66F569-[A-Z0-9]{13}$/,
    );
    expect(r.ref('OutboxPublisherFunctionDynamoDBEventSourceSagaOrdersF0ADB654E00A0167')).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });

  test('overrides from the running parts win', () => {
    const local = fixtureResolver();
    local.setPhysicalId('PublisherDlq085B5D78', 'http://127.0.0.1:4566/000000000000/q');
    local.setAttribute(
      'OrdersA9B65338',
      'StreamArn',
      'arn:aws:dynamodb:ddblocal:000000000000:table/x/stream/1',
    );
    expect(local.resolve({ Ref: 'PublisherDlq085B5D78' })).toBe('http://127.0.0.1:4566/000000000000/q');
    expect(local.resolve({ 'Fn::GetAtt': ['PublisherDlq085B5D78', 'QueueUrl'] })).toBe(
      'http://127.0.0.1:4566/000000000000/q',
    );
    expect(local.resolve({ 'Fn::GetAtt': ['OrdersA9B65338', 'StreamArn'] })).toMatch(/stream\/1$/);
  });

  test('unknown references and attributes are clear errors', () => {
    expect(() => r.resolve({ Ref: 'Nope' })).toThrow(/Ref "Nope": the template has no resource or parameter/);
    expect(() => r.resolve({ 'Fn::GetAtt': ['OrdersA9B65338', 'Bogus'] })).toThrow(
      /does not know attribute "Bogus" of AWS::DynamoDB::Table\. It knows: Arn, StreamArn/,
    );
    expect(() => r.resolve({ 'Fn::GetAtt': ['OrdersA9B65338', 'StreamArn'] })).toThrow(
      /only known once the table exists/,
    );
    expect(() => r.resolve({ 'Fn::GetAtt': ['AlarmTopicD01E77F9', 'TopicArn'] })).toThrow(
      TemplateResolutionError,
    );
  });
});

describe('intrinsic functions', () => {
  const r = fixtureResolver();

  test('pseudo parameters', () => {
    expect(
      r.resolve({
        'Fn::Join': [
          '|',
          [
            { Ref: 'AWS::AccountId' },
            { Ref: 'AWS::Region' },
            { Ref: 'AWS::Partition' },
            { Ref: 'AWS::URLSuffix' },
            { Ref: 'AWS::StackName' },
          ],
        ],
      }),
    ).toBe('000000000000|us-east-1|aws|amazonaws.com|Saga');
    expect(r.resolve({ Ref: 'AWS::StackId' })).toMatch(
      /^arn:aws:cloudformation:us-east-1:000000000000:stack\/Saga\/[0-9a-f-]{36}$/,
    );
    expect(r.resolve({ Ref: 'AWS::NoValue' })).toBe(NO_VALUE);
    expect(r.resolve({ a: 1, b: { Ref: 'AWS::NoValue' }, c: [1, { Ref: 'AWS::NoValue' }, 2] })).toEqual({
      a: 1,
      c: [1, 2],
    });
  });

  test('parameters take their default unless given', () => {
    expect(r.resolve({ Ref: 'Environment' })).toBe('dev');
    expect(fixtureResolver({ Environment: 'prod' }).resolve({ Ref: 'Environment' })).toBe('prod');
  });

  test('Fn::Sub, string form: pseudo parameters, Ref and GetAtt', () => {
    expect(r.resolve({ 'Fn::Sub': 'cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}' })).toBe(
      'cdk-hnb659fds-assets-000000000000-us-east-1',
    );
    expect(r.resolve({ 'Fn::Sub': '${IdempotencyC15CBC33}/${OrderEvents91E7078A.Arn}/${!Literal}' })).toBe(
      'saga-idempotency/arn:aws:events:us-east-1:000000000000:event-bus/saga-orders/${Literal}',
    );
  });

  test('Fn::Sub, list form: variables shadow resources', () => {
    expect(
      r.resolve({
        'Fn::Sub': [
          '${AWS::StackName}-${Bus}-${IdempotencyC15CBC33}',
          { Bus: { Ref: 'OrderEvents91E7078A' } },
        ],
      }),
    ).toBe('Saga-saga-orders-saga-idempotency');
    expect(r.resolve({ 'Fn::Sub': ['${IdempotencyC15CBC33}', { IdempotencyC15CBC33: 'shadowed' }] })).toBe(
      'shadowed',
    );
  });

  test('Fn::Join, Fn::Select, Fn::Split', () => {
    expect(r.resolve({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':x']] })).toBe('arn:aws:x');
    expect(r.resolve({ 'Fn::Select': [2, { 'Fn::Split': [',', 'a,b,c'] }] })).toBe('c');
    expect(() => r.resolve({ 'Fn::Select': [5, ['a']] })).toThrow(/index 5 is out of range for a list of 1/);
    expect(() => r.resolve({ 'Fn::Join': ['', 'notalist'] })).toThrow(/Fn::Join expects \[delimiter/);
  });

  test('conditions: Fn::If, Fn::Equals, Fn::Or, Fn::And, Fn::Not, Condition', () => {
    expect(r.condition('CDKMetadataAvailable')).toBe(true);
    expect(r.condition('IsProd')).toBe(false);
    expect(r.condition('NotProd')).toBe(true);
    expect(r.condition('ProdAndUsEast')).toBe(false);
    expect(fixtureResolver({ Environment: 'prod' }).condition('ProdAndUsEast')).toBe(true);
    expect(
      r.resolve({ 'Fn::If': ['IsProd', 'p', { 'Fn::Join': ['-', ['not', { Ref: 'Environment' }]] }] }),
    ).toBe('not-dev');
    expect(r.resolve({ 'Fn::If': ['NotProd', { Ref: 'AWS::NoValue' }, 'x'] })).toBe(NO_VALUE);
    expect(() => r.condition('Missing')).toThrow(/no condition "Missing"/);
  });

  test('Fn::ImportValue is a clear error', () => {
    expect(() => r.resolve({ 'Fn::ImportValue': 'SharedVpcId' })).toThrow(
      /Fn::ImportValue "SharedVpcId": the local cloud runs one stack/,
    );
  });

  test('Fn::Base64, Fn::FindInMap, Fn::GetAZs', () => {
    const m = inlineResolver({ Mappings: { Sizes: { small: { mb: 128 } } } });
    expect(m.resolve({ 'Fn::FindInMap': ['Sizes', 'small', 'mb'] })).toBe(128);
    expect(m.resolve({ 'Fn::Base64': 'hi' })).toBe('aGk=');
    expect(m.resolve({ 'Fn::Select': [0, { 'Fn::GetAZs': '' }] })).toBe('us-east-1a');
  });

  test('an object with one non-intrinsic key is data, not a function', () => {
    expect(r.resolve({ Variables: { A: { Ref: 'AWS::Region' } } })).toEqual({
      Variables: { A: 'us-east-1' },
    });
  });
});

describe('deploymentOrder', () => {
  test('every resource comes after what it references (Ref, GetAtt, Sub, DependsOn)', () => {
    const { template } = loadCloudAssembly(FIXTURE, 'Saga');
    const order = deploymentOrder(template);
    const at = (id: string): number => order.indexOf(id);

    expect(order).toHaveLength(Object.keys(template.Resources).length);
    expect(at('OrdersA9B65338')).toBeLessThan(
      at('OutboxPublisherFunctionDynamoDBEventSourceSagaOrdersF0ADB654E00A0167'),
    );
    expect(at('OrderSagaF61556E2')).toBeLessThan(at('OutboxPublisherFunctionA7EA23BE'));
    expect(at('OrderFunctionServiceRole3E66F569')).toBeLessThan(at('OrderFunctionFABF799C'));
    expect(at('SeedStockCustomResourcePolicyD5C6E254')).toBeLessThan(at('SeedStock2628E3B8'));
    expect(at('OrdersApiPOSTordersPostOrder7A4F012E')).toBeLessThan(at('OrdersApiPOSTordersC7A258EF'));
  });

  test('Fn::Sub references count as dependencies', () => {
    const order = deploymentOrder({
      Resources: {
        B: { Type: 'AWS::SQS::Queue', Properties: { QueueName: { 'Fn::Sub': '${A}-${C.Arn}-${!NotARef}' } } },
        A: { Type: 'AWS::SQS::Queue' },
        C: { Type: 'AWS::SQS::Queue' },
      },
    });
    expect(order.indexOf('A')).toBeLessThan(order.indexOf('B'));
    expect(order.indexOf('C')).toBeLessThan(order.indexOf('B'));
  });

  test('a cycle is a clear error naming it', () => {
    const template: CfnTemplate = {
      Resources: {
        A: { Type: 'AWS::SQS::Queue', Properties: { X: { Ref: 'B' } } },
        B: { Type: 'AWS::SQS::Queue', Properties: { X: { 'Fn::GetAtt': ['C', 'Arn'] } } },
        C: { Type: 'AWS::SQS::Queue', DependsOn: 'A' },
      },
    };
    expect(() => deploymentOrder(template)).toThrow(CircularDependencyError);
    expect(() => deploymentOrder(template)).toThrow(/cycle: A → B → C → A/);
  });

  test('DependsOn on a missing resource is a clear error', () => {
    expect(() =>
      deploymentOrder({ Resources: { A: { Type: 'AWS::SQS::Queue', DependsOn: ['Ghost'] } } }),
    ).toThrow(/A DependsOn "Ghost", which is not a resource/);
  });
});
