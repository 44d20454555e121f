/**
 * CDK's AwsCustomResource (`Custom::AWS` or any custom type whose ServiceToken is CDK's singleton provider and that
 * has a `Create` call): the local cloud makes the SDK call itself, once — the call and its flattened response are
 * recorded in `<dataDir>/deploy.json`, so a restart does not run it again. Calls that only grant permissions
 * (`…Policy` actions) are accepted; a CloudWatch Logs `putResourcePolicy` is registered with IAM when IAM is wired.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type CfnResource, DeployError, isCustomResourceType } from '../cloudformation/model.ts';
import { putResourcePolicy } from './aws-logs-resourcepolicy.ts';
import type { ResourceProvider } from './provider.ts';
import { errorText } from './support.ts';

/** The logical id prefix of CDK's AwsCustomResource provider function (a singleton per stack). */
export const AWS_CUSTOM_RESOURCE_PROVIDER = 'AWS679f53fac002430cb0da5b7982bd2287';

/** Whether a resource is CDK's AwsCustomResource (a `Create`/`Update` SDK call as JSON). */
export function isAwsCustomResource(resource: CfnResource): boolean {
  const token = JSON.stringify(resource.Properties?.ServiceToken ?? '');
  return (
    isCustomResourceType(resource.Type) &&
    resource.Properties?.Create !== undefined &&
    token.includes(AWS_CUSTOM_RESOURCE_PROVIDER)
  );
}

export const customAwsCustomResource: ResourceProvider = {
  type: 'Custom::AWS',
  matches: isAwsCustomResource,
  async deploy(ctx) {
    const { logicalId, type, stack } = ctx;
    const previous = ctx.records.get(logicalId);
    if (previous) {
      stack.setPhysicalId(logicalId, previous.physicalResourceId);
      for (const [key, value] of Object.entries(previous.data ?? {}))
        stack.setAttribute(logicalId, key, value);
      return { status: 'existing', physicalId: previous.physicalResourceId, note: 'ran on first deploy' };
    }
    const json = stack.resolveString(ctx.resource.Properties?.Create, `${logicalId}.Create`);
    let call: {
      service?: string;
      action?: string;
      parameters?: Record<string, unknown>;
      physicalResourceId?: { id?: string };
    };
    try {
      call = JSON.parse(json);
    } catch (error) {
      throw new DeployError(logicalId, type, `its Create property is not JSON: ${json.slice(0, 120)}`, {
        cause: error,
      });
    }
    const service = String(call.service ?? '');
    const action = String(call.action ?? '');
    const physicalId = call.physicalResourceId?.id ?? stack.ref(logicalId);
    if (/policy$/i.test(action)) {
      if (ctx.iam && serviceKey(service) === 'cloudwatchlogs' && /^putResourcePolicy$/i.test(action)) {
        putResourcePolicy(ctx.iam, logicalId, call.parameters?.policyDocument);
        return { status: 'created', physicalId, note: `${service}.${action}: registered with IAM` };
      }
      return { status: 'accepted', physicalId, note: `${service}.${action}: permissions not enforced` };
    }
    if (service.replace('@aws-sdk/client-', '').toLowerCase() === 'dynamodb') await ctx.parts.dynamodbReady;
    let response: unknown;
    try {
      response = await performSdkCall(service, action, call.parameters ?? {}, {
        dynamodbClient: ctx.parts.dynamodb,
        endpoint: ctx.parts.edge.endpoint,
        region: ctx.region,
      });
    } catch (error) {
      throw new DeployError(
        logicalId,
        type,
        `the SDK call ${service}.${action} failed: ${errorText(error)}`,
        {
          cause: error,
        },
      );
    }
    stack.setPhysicalId(logicalId, physicalId);
    // AwsCustomResource exposes the flattened response as attributes (`getResponseField('Items.0.pk.S')`).
    const data = flattenResponse(response);
    for (const [key, value] of Object.entries(data)) stack.setAttribute(logicalId, key, value);
    ctx.records.put(logicalId, { physicalResourceId: physicalId, at: new Date().toISOString(), data });
    return { status: 'created', physicalId, note: `${service}.${action}` };
  },
};

/** Flattens an SDK response as AwsCustomResource does: `{a: {b: [x]}}` → `{'a.b.0': 'x'}` (metadata left out). */
export function flattenResponse(response: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (value: unknown, path: string): void => {
    if (value === null || value === undefined) return;
    if (typeof value === 'object' && !(value instanceof Uint8Array)) {
      for (const [key, item] of Object.entries(value)) {
        if (path === '' && key === '$metadata') continue;
        walk(item, path === '' ? key : `${path}.${key}`);
      }
      return;
    }
    if (path !== '')
      out[path] = value instanceof Uint8Array ? Buffer.from(value).toString('utf8') : String(value);
  };
  walk(response, '');
  return out;
}

/** Package of the AWS SDK v3 client for a service name as AwsCustomResource writes it (`DynamoDB`, `@aws-sdk/client-sqs`). */
const SDK_PACKAGES: Readonly<Record<string, string>> = {
  dynamodb: '@aws-sdk/client-dynamodb',
  cloudwatchlogs: '@aws-sdk/client-cloudwatch-logs',
  sqs: '@aws-sdk/client-sqs',
  eventbridge: '@aws-sdk/client-eventbridge',
  cloudwatchevents: '@aws-sdk/client-eventbridge',
  stepfunctions: '@aws-sdk/client-sfn',
  sfn: '@aws-sdk/client-sfn',
};

/** `dynamodb` for `DynamoDB` and `@aws-sdk/client-dynamodb`, `cloudwatchlogs` for `@aws-sdk/client-cloudwatch-logs`. */
function serviceKey(service: string): string {
  return service.startsWith('@aws-sdk/client-')
    ? service.slice('@aws-sdk/client-'.length).replace(/-/g, '')
    : service.toLowerCase();
}

type SdkClient = { send(command: unknown): Promise<unknown>; destroy(): void };
type SdkModule = Record<string, unknown>;

/**
 * Performs an AwsCustomResource SDK call for real against the local cloud: DynamoDB on DynamoDB Local,
 * other services through the edge.
 */
export async function performSdkCall(
  service: string,
  action: string,
  parameters: Record<string, unknown>,
  target: { dynamodbClient: DynamoDBClient; endpoint: string; region: string },
): Promise<unknown> {
  const key = serviceKey(service);
  const pkg = service.startsWith('@aws-sdk/') ? service : SDK_PACKAGES[key];
  if (!pkg)
    throw new Error(
      `service "${service}" is not one the local cloud can call (${Object.keys(SDK_PACKAGES).join(', ')})`,
    );
  const mod = (await import(pkg)) as SdkModule;
  const commandName = `${action.charAt(0).toUpperCase()}${action.slice(1).replace(/Command$/, '')}Command`;
  const Command = mod[commandName];
  if (typeof Command !== 'function') throw new Error(`${pkg} has no ${commandName}`);
  const command = new (Command as new (input: unknown) => unknown)(parameters);
  if (key === 'dynamodb') return await target.dynamodbClient.send(command as never);
  const ClientClass = Object.entries(mod).find(
    ([name, value]) => name.endsWith('Client') && typeof value === 'function' && !name.startsWith('__'),
  )?.[1] as (new (config: unknown) => SdkClient) | undefined;
  if (!ClientClass) throw new Error(`${pkg} exports no client`);
  const client = new ClientClass({
    endpoint: target.endpoint,
    region: target.region,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  try {
    return await client.send(command);
  } finally {
    client.destroy();
  }
}
