import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { deployTemplate } from '../cloudformation/deploy.ts';
import { loadCloudAssembly } from '../cloudformation/template.ts';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from '../types.ts';
import { customAwsCustomResource } from './custom-awscustomresource.ts';
import { PROVIDERS, providerFor, providerForType } from './index.ts';
import { stubParts } from './testing.ts';

/** The types deploy.ts accepted with no local effect before the providers (its ACCEPTED_TYPES). */
const ACCEPTED_BEFORE = [
  'AWS::IAM::Role',
  'AWS::IAM::Policy',
  'AWS::IAM::ManagedPolicy',
  'AWS::Lambda::Permission',
  'AWS::SQS::QueuePolicy',
  'AWS::Events::EventBusPolicy',
  'AWS::Logs::ResourcePolicy',
  'AWS::CDK::Metadata',
];

/** The types deploy.ts brought up before the providers (its switch). */
const DEPLOYED_BEFORE = [
  'AWS::DynamoDB::Table',
  'AWS::Lambda::Function',
  'AWS::Lambda::EventSourceMapping',
  'AWS::SQS::Queue',
  'AWS::Events::EventBus',
  'AWS::Events::Rule',
  'AWS::Events::Archive',
  'AWS::Logs::LogGroup',
  'Custom::LogRetention',
  'AWS::StepFunctions::StateMachine',
  'AWS::ApiGatewayV2::Api',
  'AWS::ApiGatewayV2::Integration',
  'AWS::ApiGatewayV2::Route',
  'AWS::ApiGatewayV2::Stage',
];

const SERVICE_TOKEN = { 'Fn::GetAtt': ['AWS679f53fac002430cb0da5b7982bd2287Fn', 'Arn'] };

describe('the provider registry', () => {
  test('every type the local cloud played or accepted has exactly one provider', () => {
    for (const type of [...ACCEPTED_BEFORE, ...DEPLOYED_BEFORE]) {
      expect(providerForType(type)?.type, type).toBe(type);
      expect(providerFor({ Type: type })?.type, type).toBe(type);
    }
    // The AwsCustomResource (SDK call) provider, plus nothing else.
    expect(PROVIDERS.map((p) => p.type).sort()).toEqual(
      [...ACCEPTED_BEFORE, ...DEPLOYED_BEFORE, 'Custom::AWS'].sort(),
    );
  });

  test('an AwsCustomResource is recognized whatever its custom type is called', () => {
    const call = '{"service":"DynamoDB","action":"putItem"}';
    for (const Type of ['Custom::AWS', 'Custom::SeedStock', 'AWS::CloudFormation::CustomResource']) {
      expect(providerFor({ Type, Properties: { ServiceToken: SERVICE_TOKEN, Create: call } })).toBe(
        customAwsCustomResource,
      );
    }
    // Not CDK's provider, or no Create call: no provider.
    expect(
      providerFor({ Type: 'Custom::AWS', Properties: { ServiceToken: 'arn:other', Create: call } }),
    ).toBe(undefined);
    expect(providerFor({ Type: 'Custom::AWS', Properties: { ServiceToken: SERVICE_TOKEN } })).toBe(undefined);
  });

  test('a type with no provider is listed unsupported; Ref still gives it a generated name', async () => {
    expect(providerForType('AWS::SNS::Topic')).toBeUndefined();
    const dataDir = mkdtempSync(join(tmpdir(), 'saga-registry-'));
    try {
      const result = await deployTemplate({
        assembly: {
          ...loadCloudAssembly(join(import.meta.dirname, '..', 'cloudformation', 'fixtures', 'assembly')),
          template: {
            Resources: {
              Topic: { Type: 'AWS::SNS::Topic', Properties: {} },
              Thing: { Type: 'Custom::Thing', Properties: { ServiceToken: 'arn:aws:lambda:x' } },
              Meta: { Type: 'AWS::CDK::Metadata', Properties: {} },
            },
            Outputs: { TopicRef: { Value: { Ref: 'Topic' } } },
          },
        },
        parts: stubParts().parts,
        dataDir,
        accountId: LOCAL_ACCOUNT_ID,
        region: LOCAL_REGION,
      });
      expect(result.unsupported).toEqual([
        { logicalId: 'Topic', type: 'AWS::SNS::Topic', note: 'no local equivalent' },
        { logicalId: 'Thing', type: 'Custom::Thing', note: 'no local equivalent' },
      ]);
      expect(result.accepted).toEqual([{ logicalId: 'Meta', type: 'AWS::CDK::Metadata' }]);
      expect(result.outputs.TopicRef).toMatch(/^Saga-Topic-[A-Z0-9]{13}$/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
