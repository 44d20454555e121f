/**
 * Deploys a synthesized CloudFormation template onto the parts of the local cloud: each resource type
 * is brought up on the part that plays its service (DynamoDB Local, the Lambda runtime, SQS, EventBridge,
 * Step Functions, the HTTP API edge). Types with no local effect are accepted and listed; anything else
 * is listed as unsupported, never faked.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceNotFoundException,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import type { EventArchiveSpec, EventRuleSpec } from '../events/service.ts';
import type { LocalFunctionSpec } from '../lambda/runtime.ts';
import type { DynamoDbStreamMappingOptions } from '../lambda/stream-poller.ts';
import type { StateMachineSpec } from '../stepfunctions/service.ts';
import type { InvokeResult, LambdaInvoker, LogSink, TargetDispatcher } from '../types.ts';
import { AwsError, type JsonService } from '../wire/aws-error.ts';
import {
  assetDirectory,
  type CfnResource,
  type CloudAssembly,
  deploymentOrder,
  resourceDependencies,
  TemplateResolver,
} from './template.ts';

/** What deploy registers with the Lambda runtime. */
export type FunctionSpec = LocalFunctionSpec;

/** One route of a served HTTP API (the edge's `HttpApiRoute`). */
export interface ApiRoute {
  readonly method: string;
  readonly path: string;
  readonly authorizationType: 'AWS_IAM' | 'NONE';
  readonly functionArn: string;
  readonly payloadFormatVersion: '2.0' | '1.0';
}

/** An HTTP API to serve (the edge's `HttpApiSpec`). */
export interface ApiSpec {
  readonly apiId: string;
  readonly name: string;
  readonly routes: readonly ApiRoute[];
}

/** Options of a DynamoDB stream event source mapping (the `DynamoDbStreamMapping` constructor's). */
export type StreamMappingOptions = DynamoDbStreamMappingOptions;

/** A created (not yet started) event source mapping. */
export interface StreamMapping {
  start(): void;
  stop(): Promise<void>;
  drain(): Promise<void>;
}

/** The running parts deploy brings resources up on. Shapes are those of local-cloud.md. */
export interface DeployParts {
  /** A client on DynamoDB Local. */
  readonly dynamodb: DynamoDBClient;
  /** Resolves once DynamoDB Local answers; tables (and what needs them) wait for it. @default ready */
  readonly dynamodbReady?: Promise<unknown>;
  /** A DynamoDB Streams client on DynamoDB Local, for the event source mappings. */
  readonly streams: DynamoDBStreamsClient;
  readonly lambda: LambdaInvoker & { register(spec: FunctionSpec): void };
  readonly logs: { createLogGroup(name: string, retentionInDays?: number): void };
  readonly sqs: {
    createQueue(spec: { name: string; arn: string; attributes?: Record<string, string> }): {
      url: string;
      arn: string;
    };
  };
  readonly events: {
    createBus(spec: { name: string; arn: string }): void;
    putRule(spec: EventRuleSpec): void;
    createArchive(spec: EventArchiveSpec): void;
  };
  readonly stepfunctions: { createStateMachine(spec: StateMachineSpec): void };
  /** The edge: its endpoint (custom resources call services through it) and the HTTP API server. */
  readonly edge: { readonly endpoint: string; serveHttpApi(api: ApiSpec): Promise<string> };
  readonly dispatcher: TargetDispatcher;
  /** Builds a stream event source mapping (the `DynamoDbStreamMapping` class in the real cloud). */
  readonly createStreamMapping: (options: StreamMappingOptions) => StreamMapping;
}

/** Options for {@link deployTemplate}. */
export interface DeployOptions {
  readonly assembly: CloudAssembly;
  readonly parts: DeployParts;
  /** Where deploy keeps its records (custom resources already run, mapping checkpoints under `esm/`). */
  readonly dataDir: string;
  readonly accountId: string;
  readonly region: string;
  /** Template parameter values; the others take their Default. */
  readonly parameters?: Readonly<Record<string, string>>;
  /** Stream mappings' poll interval. @default the mapping's own */
  readonly pollIntervalMs?: number;
  /** Called as each resource is settled (for progress output). */
  readonly onResource?: (resource: DeployedResource) => void;
}

/** What happened to one resource. */
export interface DeployedResource {
  readonly logicalId: string;
  readonly type: string;
  /**
   * `created`: brought up now; `existing`: kept from an earlier run (a table with its data, a custom
   * resource already run); `accepted`: no local effect (IAM, permissions, metadata: accepted, not enforced);
   * `unsupported`: the local cloud cannot play it; `skipped`: its Condition is false.
   */
  readonly status: 'created' | 'existing' | 'accepted' | 'unsupported' | 'skipped';
  readonly physicalId?: string;
  /** Why it is unsupported, or what was not applied. */
  readonly note?: string;
}

/** The outcome of {@link deployTemplate}. */
export interface DeployResult {
  readonly resources: readonly DeployedResource[];
  /** Resolved stack outputs (HTTP API URLs point at the local servers). */
  readonly outputs: Readonly<Record<string, string>>;
  readonly unsupported: readonly { logicalId: string; type: string; note?: string }[];
  readonly accepted: readonly { logicalId: string; type: string }[];
  /** Created, not started: the caller starts them once everything is up. */
  readonly mappings: readonly StreamMapping[];
  /** The served HTTP APIs. */
  readonly httpApis: readonly { logicalId: string; apiId: string; name: string; url: string }[];
  /** The resolver, with the physical ids the parts gave. */
  readonly resolver: TemplateResolver;
}

/** Raised when a resource fails to come up; names the resource and says why. */
export class DeployError extends Error {
  readonly logicalId: string;
  readonly type: string;
  constructor(logicalId: string, type: string, detail: string, options?: ErrorOptions) {
    super(`Could not deploy ${logicalId} (${type}) to the local cloud: ${detail}`, options);
    this.name = 'DeployError';
    this.logicalId = logicalId;
    this.type = type;
  }
}

/** Types that have no local effect: listed as "accepted, not enforced". */
export const ACCEPTED_TYPES: ReadonlySet<string> = new Set([
  'AWS::IAM::Role',
  'AWS::IAM::Policy',
  'AWS::IAM::ManagedPolicy',
  'AWS::Lambda::Permission',
  'AWS::SQS::QueuePolicy',
  'AWS::Events::EventBusPolicy',
  'AWS::Logs::ResourcePolicy',
  'AWS::CDK::Metadata',
]);

/** The logical id prefix of CDK's AwsCustomResource provider function (a singleton per stack). */
const AWS_CUSTOM_RESOURCE_PROVIDER = 'AWS679f53fac002430cb0da5b7982bd2287';

interface DeployRecord {
  customResources: Record<string, { physicalResourceId: string; at: string; data?: Record<string, string> }>;
}

interface ApiCollect {
  logicalId: string;
  apiId: string;
  name: string;
  integrations: Map<string, { functionArn: string; payloadFormatVersion: '2.0' | '1.0' }>;
  routes: { logicalId: string; routeKey: string; authorizationType: string; target?: string }[];
}

/**
 * Brings every resource of the template up on the local parts, in dependency order (independent
 * resources concurrently), then serves the HTTP APIs and resolves the outputs. Idempotent: tables that
 * exist keep their data, custom resources recorded in `dataDir` do not run again.
 */
export async function deployTemplate(options: DeployOptions): Promise<DeployResult> {
  const { assembly, parts, dataDir, accountId, region } = options;
  const template = assembly.template;
  const resolver = new TemplateResolver({
    template,
    stackName: assembly.stackName,
    accountId,
    region,
    parameters: options.parameters,
  });
  const order = deploymentOrder(template);
  const graph = resourceDependencies(template);
  const recordFile = join(dataDir, 'deploy.json');
  const record = readRecord(recordFile);
  const results = new Map<string, DeployedResource>();
  const mappings: StreamMapping[] = [];
  const apis = new Map<string, ApiCollect>();
  const arn = (service: string, rest: string): string => `arn:aws:${service}:${region}:${accountId}:${rest}`;

  const settle = (resource: DeployedResource): void => {
    results.set(resource.logicalId, resource);
    options.onResource?.(resource);
  };

  const deployOne = async (logicalId: string, resource: CfnResource): Promise<void> => {
    const type = resource.Type;
    const props = (resolve: boolean): Record<string, unknown> =>
      (resolve ? resolver.resolve(resource.Properties ?? {}) : (resource.Properties ?? {})) as Record<
        string,
        unknown
      >;
    const done = (status: DeployedResource['status'], physicalId?: string, note?: string): void =>
      settle({ logicalId, type, status, physicalId, note });

    if (ACCEPTED_TYPES.has(type)) return done('accepted', resolver.ref(logicalId));
    switch (type) {
      case 'AWS::DynamoDB::Table': {
        await parts.dynamodbReady;
        const name = resolver.physicalName(logicalId);
        const { created, streamArn } = await ensureTable(parts.dynamodb, name, props(true));
        if (streamArn) resolver.setAttribute(logicalId, 'StreamArn', streamArn);
        return done(created ? 'created' : 'existing', name);
      }
      case 'AWS::Lambda::Function': {
        const p = props(true);
        if (logicalId.startsWith(AWS_CUSTOM_RESOURCE_PROVIDER)) {
          // The local cloud performs AwsCustomResource calls itself; the provider never runs.
          return done(
            'accepted',
            resolver.ref(logicalId),
            'AwsCustomResource provider: calls made by the local cloud',
          );
        }
        if (typeof (p.Code as { S3Key?: unknown } | undefined)?.S3Key !== 'string') {
          return done(
            'unsupported',
            resolver.ref(logicalId),
            'only asset code (Code.S3Key) runs locally, not inline or image code',
          );
        }
        const functionName = resolver.physicalName(logicalId);
        const variables = ((p.Environment as { Variables?: Record<string, unknown> } | undefined)
          ?.Variables ?? {}) as Record<string, unknown>;
        parts.lambda.register({
          functionName,
          arn: arn('lambda', `function:${functionName}`),
          bundleDir: assetDirectory(assembly, p.Code, logicalId),
          handler: String(p.Handler ?? 'index.handler'),
          runtime: String(p.Runtime ?? 'nodejs24.x'),
          timeoutSeconds: Number(p.Timeout ?? 3),
          memoryMb: Number(p.MemorySize ?? 128),
          environment: Object.fromEntries(Object.entries(variables).map(([k, v]) => [k, stringify(v)])),
        });
        return done('created', functionName);
      }
      case 'AWS::Lambda::EventSourceMapping': {
        const p = props(true);
        const uuid = resolver.ref(logicalId);
        const source = String(p.EventSourceArn ?? '');
        if (!/^arn:aws:dynamodb:[^:]*:[^:]*:table\/[^/]+\/stream\//.test(source)) {
          return done(
            'unsupported',
            uuid,
            `event source ${source || '(none)'}: only DynamoDB streams are polled locally`,
          );
        }
        const fn = String(p.FunctionName);
        const functionArn = fn.startsWith('arn:') ? fn : arn('lambda', `function:${fn}`);
        if (p.Enabled === false) return done('created', uuid, 'disabled (Enabled: false): not polled');
        const onFailure = (p.DestinationConfig as { OnFailure?: { Destination?: string } } | undefined)
          ?.OnFailure?.Destination;
        mappings.push(
          parts.createStreamMapping({
            uuid,
            functionArn,
            invoker: parts.lambda,
            dispatcher: parts.dispatcher,
            streamArn: source,
            streams: parts.streams,
            batchSize: Number(p.BatchSize ?? 100),
            maximumBatchingWindowInSeconds: optionalNumber(p.MaximumBatchingWindowInSeconds),
            filterCriteria: p.FilterCriteria as StreamMappingOptions['filterCriteria'],
            bisectBatchOnFunctionError: p.BisectBatchOnFunctionError === true,
            maximumRetryAttempts: optionalNumber(p.MaximumRetryAttempts),
            maximumRecordAgeInSeconds: optionalNumber(p.MaximumRecordAgeInSeconds),
            onFailureDestinationArn: onFailure,
            startingPosition: p.StartingPosition === 'LATEST' ? 'LATEST' : 'TRIM_HORIZON',
            functionResponseTypes: p.FunctionResponseTypes as string[] | undefined,
            checkpointFile: join(dataDir, 'esm', `${uuid}.json`),
            pollIntervalMs: options.pollIntervalMs,
            region,
          }),
        );
        return done('created', uuid);
      }
      case 'AWS::SQS::Queue': {
        const p = props(true);
        const name = resolver.physicalName(logicalId);
        const attributes: Record<string, string> = {};
        for (const [key, value] of Object.entries(p)) {
          if (key === 'QueueName' || key === 'Tags') continue;
          attributes[key] = typeof value === 'object' ? JSON.stringify(value) : String(value);
        }
        const queue = parts.sqs.createQueue({ name, arn: arn('sqs', name), attributes });
        resolver.setPhysicalId(logicalId, queue.url);
        return done('created', queue.url);
      }
      case 'AWS::Events::EventBus': {
        const name = resolver.physicalName(logicalId);
        if (name !== 'default') parts.events.createBus({ name, arn: arn('events', `event-bus/${name}`) });
        return done('created', name);
      }
      case 'AWS::Events::Rule': {
        const p = props(true);
        const schedule = p.ScheduleExpression === undefined ? undefined : String(p.ScheduleExpression);
        if (schedule?.trim().startsWith('cron(')) {
          return done(
            'unsupported',
            resolver.ref(logicalId),
            `cron() schedules do not run locally (only rate(); a cron time has no time-scaled meaning): ${schedule}`,
          );
        }
        const name = resolver.physicalName(logicalId);
        const bus = String(p.EventBusName ?? 'default');
        const busName = bus.startsWith('arn:') ? (bus.split('event-bus/')[1] ?? bus) : bus;
        const notes: string[] = [];
        const targets = ((p.Targets ?? []) as Record<string, unknown>[]).map((t) => {
          if (t.InputTransformer !== undefined)
            notes.push(`target ${String(t.Id)}: InputTransformer not applied`);
          return {
            id: String(t.Id),
            arn: String(t.Arn),
            deadLetterArn: (t.DeadLetterConfig as { Arn?: string } | undefined)?.Arn,
            input: t.Input as string | undefined,
            inputPath: t.InputPath as string | undefined,
            maximumRetryAttempts: optionalNumber(
              (t.RetryPolicy as { MaximumRetryAttempts?: unknown })?.MaximumRetryAttempts,
            ),
          };
        });
        parts.events.putRule({
          name,
          arn: String(resolver.getAtt(logicalId, 'Arn')),
          busName,
          eventPattern: p.EventPattern === undefined ? undefined : parsePattern(p.EventPattern),
          scheduleExpression: schedule,
          state: p.State === 'DISABLED' ? 'DISABLED' : 'ENABLED',
          targets,
        });
        return done('created', resolver.ref(logicalId), notes.length > 0 ? notes.join('; ') : undefined);
      }
      case 'AWS::Events::Archive': {
        const p = props(true);
        const name = resolver.physicalName(logicalId);
        parts.events.createArchive({
          name,
          arn: arn('events', `archive/${name}`),
          sourceArn: String(p.SourceArn),
          eventPattern: p.EventPattern === undefined ? undefined : parsePattern(p.EventPattern),
          retentionDays: optionalNumber(p.RetentionDays),
        });
        return done('created', name);
      }
      case 'AWS::Logs::LogGroup': {
        const p = props(true);
        const name = resolver.physicalName(logicalId);
        parts.logs.createLogGroup(name, optionalNumber(p.RetentionInDays));
        return done('created', name);
      }
      case 'Custom::LogRetention': {
        // CDK's log retention provider: create the group with its retention, as the provider would.
        const p = props(true);
        parts.logs.createLogGroup(String(p.LogGroupName), optionalNumber(p.RetentionInDays));
        return done('accepted', String(p.LogGroupName), 'log group created with its retention');
      }
      case 'AWS::StepFunctions::StateMachine': {
        const p = props(true);
        if (p.DefinitionS3Location !== undefined) {
          throw new DeployError(
            logicalId,
            type,
            'DefinitionS3Location is not supported: inline the definition.',
          );
        }
        const raw =
          p.DefinitionString ?? (p.Definition === undefined ? undefined : JSON.stringify(p.Definition));
        if (typeof raw !== 'string')
          throw new DeployError(logicalId, type, 'it has no DefinitionString or Definition.');
        const definition = applySubstitutions(
          raw,
          (p.DefinitionSubstitutions ?? {}) as Record<string, unknown>,
        );
        const name = resolver.physicalName(logicalId);
        parts.stepfunctions.createStateMachine({
          name,
          arn: resolver.ref(logicalId),
          definition,
          roleArn: String(p.RoleArn ?? ''),
          type: p.StateMachineType === 'EXPRESS' ? 'EXPRESS' : 'STANDARD',
          loggingConfiguration: p.LoggingConfiguration,
          tracingConfiguration: p.TracingConfiguration,
        });
        return done('created', resolver.ref(logicalId));
      }
      case 'AWS::ApiGatewayV2::Api': {
        const p = props(true);
        if (p.ProtocolType !== undefined && p.ProtocolType !== 'HTTP') {
          return done(
            'unsupported',
            resolver.ref(logicalId),
            `ProtocolType ${String(p.ProtocolType)}: only HTTP APIs`,
          );
        }
        const apiId = resolver.ref(logicalId);
        apis.set(apiId, {
          logicalId,
          apiId,
          name: String(p.Name ?? logicalId),
          integrations: new Map(),
          routes: [],
        });
        return done('created', apiId);
      }
      case 'AWS::ApiGatewayV2::Integration': {
        const p = props(true);
        const id = resolver.ref(logicalId);
        const api = apis.get(String(p.ApiId));
        const functionArn = lambdaArnOfIntegrationUri(String(p.IntegrationUri ?? ''));
        if (!api || p.IntegrationType !== 'AWS_PROXY' || !functionArn) {
          return done(
            'unsupported',
            id,
            `integration ${String(p.IntegrationType)} ${String(p.IntegrationUri ?? '')}`,
          );
        }
        api.integrations.set(id, {
          functionArn,
          payloadFormatVersion: String(p.PayloadFormatVersion ?? '2.0') === '1.0' ? '1.0' : '2.0',
        });
        return done('created', id);
      }
      case 'AWS::ApiGatewayV2::Route': {
        const p = props(true);
        const id = resolver.ref(logicalId);
        const api = apis.get(String(p.ApiId));
        const authorizationType = String(p.AuthorizationType ?? 'NONE');
        if (!api || (authorizationType !== 'NONE' && authorizationType !== 'AWS_IAM')) {
          return done(
            'unsupported',
            id,
            `route ${String(p.RouteKey)} with authorization ${authorizationType}`,
          );
        }
        api.routes.push({
          logicalId,
          routeKey: String(p.RouteKey),
          authorizationType,
          target: p.Target as string | undefined,
        });
        return done('created', id);
      }
      case 'AWS::ApiGatewayV2::Stage': {
        const p = props(true);
        const stage = String(p.StageName ?? '$default');
        // The edge serves each API at its root, which is what the `$default` stage is.
        return stage === '$default'
          ? done('created', stage, 'served at the API root; throttling and access logs not applied')
          : done('unsupported', stage, 'only the $default stage is served');
      }
      default:
        if (isAwsCustomResource(resource)) return deployCustomResource(logicalId, resource);
        return done('unsupported', undefined, 'no local equivalent');
    }
  };

  const deployCustomResource = async (logicalId: string, resource: CfnResource): Promise<void> => {
    const type = resource.Type;
    const previous = record.customResources[logicalId];
    if (previous) {
      resolver.setPhysicalId(logicalId, previous.physicalResourceId);
      for (const [key, value] of Object.entries(previous.data ?? {}))
        resolver.setAttribute(logicalId, key, value);
      settle({
        logicalId,
        type,
        status: 'existing',
        physicalId: previous.physicalResourceId,
        note: 'ran on first deploy',
      });
      return;
    }
    const json = resolver.resolveString(resource.Properties?.Create, `${logicalId}.Create`);
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
    const physicalId = call.physicalResourceId?.id ?? resolver.ref(logicalId);
    if (/policy$/i.test(action)) {
      settle({
        logicalId,
        type,
        status: 'accepted',
        physicalId,
        note: `${service}.${action}: permissions not enforced`,
      });
      return;
    }
    if (service.replace('@aws-sdk/client-', '').toLowerCase() === 'dynamodb') await parts.dynamodbReady;
    let response: unknown;
    try {
      response = await performSdkCall(service, action, call.parameters ?? {}, {
        dynamodbClient: parts.dynamodb,
        endpoint: parts.edge.endpoint,
        region,
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
    resolver.setPhysicalId(logicalId, physicalId);
    // AwsCustomResource exposes the flattened response as attributes (`getResponseField('Items.0.pk.S')`).
    const data = flattenResponse(response);
    for (const [key, value] of Object.entries(data)) resolver.setAttribute(logicalId, key, value);
    record.customResources[logicalId] = {
      physicalResourceId: physicalId,
      at: new Date().toISOString(),
      data,
    };
    writeRecord(recordFile, record);
    settle({ logicalId, type, status: 'created', physicalId, note: `${service}.${action}` });
  };

  // Each resource starts as soon as everything it depends on is up: DynamoDB Local's start overlaps the rest.
  const tasks = new Map<string, Promise<void>>();
  for (const logicalId of order) {
    const resource = resolver.resource(logicalId);
    const deps = [...(graph.get(logicalId) ?? [])].map((dep) => tasks.get(dep) ?? Promise.resolve());
    tasks.set(
      logicalId,
      Promise.all(deps).then(async () => {
        if (!resolver.included(resource)) {
          settle({
            logicalId,
            type: resource.Type,
            status: 'skipped',
            note: `condition ${resource.Condition} is false`,
          });
          return;
        }
        try {
          await deployOne(logicalId, resource);
        } catch (error) {
          if (error instanceof DeployError) throw error;
          throw new DeployError(logicalId, resource.Type, errorText(error), { cause: error });
        }
      }),
    );
  }
  const settled = await Promise.allSettled(tasks.values());
  // A failed resource fails its dependents with the same error; report it once.
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failure) throw failure.reason;

  const httpApis: { logicalId: string; apiId: string; name: string; url: string }[] = [];
  const localUrls: [string, string][] = [];
  for (const api of apis.values()) {
    const routes: ApiRoute[] = [];
    for (const route of api.routes) {
      const integrationId = route.target?.replace(/^integrations\//, '');
      const integration = integrationId ? api.integrations.get(integrationId) : undefined;
      if (!integration) {
        const previous = results.get(route.logicalId);
        settle({
          logicalId: route.logicalId,
          type: 'AWS::ApiGatewayV2::Route',
          status: 'unsupported',
          physicalId: previous?.physicalId,
          note: `route ${route.routeKey} has no Lambda proxy integration (target ${route.target ?? 'none'})`,
        });
        continue;
      }
      const [method, path] =
        route.routeKey === '$default' ? ['ANY', '$default'] : route.routeKey.split(' ', 2);
      routes.push({
        method: method ?? 'ANY',
        path: path ?? '/',
        authorizationType: route.authorizationType === 'AWS_IAM' ? 'AWS_IAM' : 'NONE',
        functionArn: integration.functionArn,
        payloadFormatVersion: integration.payloadFormatVersion,
      });
    }
    const url = await parts.edge.serveHttpApi({ apiId: api.apiId, name: api.name, routes });
    const endpoint = url.replace(/\/+$/, '');
    resolver.setAttribute(api.logicalId, 'ApiEndpoint', endpoint);
    localUrls.push([`https://${api.apiId}.execute-api.${region}.amazonaws.com`, endpoint]);
    httpApis.push({ logicalId: api.logicalId, apiId: api.apiId, name: api.name, url });
  }

  const outputs: Record<string, string> = {};
  for (const [name, output] of Object.entries(template.Outputs ?? {})) {
    if (!resolver.included(output)) continue;
    let value = stringify(resolver.resolve(output.Value));
    // `HttpStage.url` is built from the API id and region, not from ApiEndpoint: point it here too.
    for (const [aws, local] of localUrls) value = value.split(aws).join(local);
    outputs[name] = value;
  }

  const resources = order.map((id) => results.get(id)).filter((r): r is DeployedResource => r !== undefined);
  return {
    resources,
    outputs,
    unsupported: resources
      .filter((r) => r.status === 'unsupported')
      .map((r) => ({ logicalId: r.logicalId, type: r.type, note: r.note })),
    accepted: resources
      .filter((r) => r.status === 'accepted')
      .map((r) => ({ logicalId: r.logicalId, type: r.type })),
    mappings,
    httpApis,
    resolver,
  };
}

/** Whether a resource is CDK's AwsCustomResource (a `Create`/`Update` SDK call as JSON). */
export function isAwsCustomResource(resource: CfnResource): boolean {
  const custom =
    resource.Type.startsWith('Custom::') || resource.Type === 'AWS::CloudFormation::CustomResource';
  const token = JSON.stringify(resource.Properties?.ServiceToken ?? '');
  return custom && resource.Properties?.Create !== undefined && token.includes(AWS_CUSTOM_RESOURCE_PROVIDER);
}

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

/** Replaces `${Name}` placeholders of a state machine definition, as CloudFormation's DefinitionSubstitutions. */
export function applySubstitutions(
  definition: string,
  substitutions: Readonly<Record<string, unknown>>,
): string {
  return definition.replace(/\$\{([^}]+)\}/g, (match, name: string) =>
    Object.hasOwn(substitutions, name) ? stringify(substitutions[name]) : match,
  );
}

/** The function ARN of a Lambda proxy integration URI (plain ARN or the `…/functions/<arn>/invocations` form). */
export function lambdaArnOfIntegrationUri(uri: string): string | undefined {
  const wrapped = /\/functions\/(arn:aws:lambda:[^/]+)\/invocations$/.exec(uri);
  if (wrapped?.[1]) return wrapped[1];
  return /^arn:aws:lambda:[^:]+:[^:]+:function:/.test(uri) ? uri : undefined;
}

function parsePattern(pattern: unknown): unknown {
  if (typeof pattern !== 'string') return pattern;
  try {
    return JSON.parse(pattern);
  } catch (error) {
    throw new Error(`EventPattern is not JSON: ${pattern.slice(0, 120)}`, { cause: error });
  }
}

function optionalNumber(value: unknown): number | undefined {
  return value === undefined || value === null || value === '' ? undefined : Number(value);
}

function stringify(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(stringify).join(',');
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
  return String(value);
}

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function readRecord(file: string): DeployRecord {
  if (!existsSync(file)) return { customResources: {} };
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<DeployRecord>;
    return { customResources: parsed.customResources ?? {} };
  } catch (error) {
    throw new Error(`The deploy record ${file} is corrupt; remove it (custom resources will run again).`, {
      cause: error,
    });
  }
}

function writeRecord(file: string, record: DeployRecord): void {
  mkdirSync(join(file, '..'), { recursive: true });
  // Write then rename: a crash mid-write must not lose the record of what already ran.
  writeFileSync(`${file}.tmp`, JSON.stringify(record, null, 2));
  renameSync(`${file}.tmp`, file);
}

/** Creates the table unless it exists (then it is kept, data and all); returns its stream ARN. */
async function ensureTable(
  client: DynamoDBClient,
  name: string,
  p: Record<string, unknown>,
): Promise<{ created: boolean; streamArn?: string }> {
  const existing = await describeTable(client, name);
  if (existing) {
    await ensureTimeToLive(client, name, p);
    return { created: false, streamArn: existing.LatestStreamArn };
  }
  const billing = String(p.BillingMode ?? 'PROVISIONED');
  const throughput = (value: unknown): CreateTableCommandInput['ProvisionedThroughput'] =>
    billing === 'PAY_PER_REQUEST'
      ? undefined
      : ((value as CreateTableCommandInput['ProvisionedThroughput']) ?? {
          ReadCapacityUnits: 5,
          WriteCapacityUnits: 5,
        });
  const stream = p.StreamSpecification as { StreamViewType?: string } | undefined;
  const input = {
    TableName: name,
    AttributeDefinitions: p.AttributeDefinitions,
    KeySchema: p.KeySchema,
    BillingMode: billing,
    ProvisionedThroughput: throughput(p.ProvisionedThroughput),
    GlobalSecondaryIndexes: (p.GlobalSecondaryIndexes as Record<string, unknown>[] | undefined)?.map(
      (index) => ({
        IndexName: index.IndexName,
        KeySchema: index.KeySchema,
        Projection: index.Projection,
        ProvisionedThroughput: throughput(index.ProvisionedThroughput),
      }),
    ),
    LocalSecondaryIndexes: (p.LocalSecondaryIndexes as Record<string, unknown>[] | undefined)?.map(
      (index) => ({
        IndexName: index.IndexName,
        KeySchema: index.KeySchema,
        Projection: index.Projection,
      }),
    ),
    StreamSpecification: stream?.StreamViewType
      ? { StreamEnabled: true, StreamViewType: stream.StreamViewType }
      : undefined,
  } as CreateTableCommandInput;
  try {
    const out = await client.send(new CreateTableCommand(input));
    await ensureTimeToLive(client, name, p);
    return { created: true, streamArn: out.TableDescription?.LatestStreamArn };
  } catch (error) {
    // Another start raced us to it: keep theirs.
    if (error instanceof Error && error.name === 'ResourceInUseException') {
      const table = await describeTable(client, name);
      return { created: false, streamArn: table?.LatestStreamArn };
    }
    throw error;
  }
}

async function describeTable(client: DynamoDBClient, name: string) {
  try {
    return (await client.send(new DescribeTableCommand({ TableName: name }))).Table;
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return undefined;
    throw error;
  }
}

async function ensureTimeToLive(
  client: DynamoDBClient,
  name: string,
  p: Record<string, unknown>,
): Promise<void> {
  const ttl = p.TimeToLiveSpecification as { AttributeName?: string; Enabled?: boolean } | undefined;
  if (!ttl?.AttributeName || ttl.Enabled === false) return;
  try {
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: name,
        TimeToLiveSpecification: { AttributeName: ttl.AttributeName, Enabled: true },
      }),
    );
  } catch (error) {
    // Already enabled on an existing table.
    if (!(error instanceof Error && /already enabled/i.test(error.message))) throw error;
  }
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
  const key = service.startsWith('@aws-sdk/client-')
    ? service.slice('@aws-sdk/client-'.length).replace(/-/g, '')
    : service.toLowerCase();
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

/** The parts a {@link TargetDispatcher} delivers to. `events` is read at delivery (it is built after). */
export interface DispatchParts {
  readonly lambda: LambdaInvoker;
  readonly sqs: {
    send(queueArnOrUrl: string, body: string, messageAttributes?: Record<string, unknown>): void;
  };
  readonly stepfunctions: JsonService;
  readonly logs: LogSink;
  readonly events?: () => JsonService | undefined;
}

/** Raised when a target rejects a delivery (a function error, an unknown ARN). */
export class TargetDeliveryError extends Error {
  readonly targetArn: string;
  constructor(targetArn: string, message: string, options?: ErrorOptions) {
    super(`Delivery to ${targetArn} failed: ${message}`, options);
    this.name = 'TargetDeliveryError';
    this.targetArn = targetArn;
  }
}

/**
 * Routes a delivery by the target's ARN: Lambda → invoke (a function error rejects, so the caller
 * retries or dead-letters), SQS → send, Step Functions state machine → StartExecution, CloudWatch Logs
 * log group → put, EventBridge bus → PutEvents.
 */
export function createTargetDispatcher(parts: DispatchParts): TargetDispatcher & {
  deliverDeadLetter(queueArn: string, body: string, attributes: Record<string, unknown>): Promise<void>;
} {
  return {
    async deliverDeadLetter(
      queueArn: string,
      body: string,
      attributes: Record<string, unknown>,
    ): Promise<void> {
      parts.sqs.send(queueArn, body, attributes);
    },
    async deliver(targetArn: string, payload: unknown): Promise<void> {
      const [, , service = '', , , ...rest] = targetArn.split(':');
      const resource = rest.join(':');
      const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
      switch (service) {
        case 'lambda': {
          const result: InvokeResult = await parts.lambda.invoke(targetArn, payload);
          if (result.functionError) {
            const error = result.payload as { errorType?: string; errorMessage?: string } | undefined;
            throw new TargetDeliveryError(
              targetArn,
              `${error?.errorType ?? 'Error'}: ${error?.errorMessage ?? ''}`,
            );
          }
          return;
        }
        case 'sqs':
          parts.sqs.send(targetArn, body);
          return;
        case 'states':
          if (!resource.startsWith('stateMachine:')) break;
          try {
            await parts.stepfunctions.handle('StartExecution', { stateMachineArn: targetArn, input: body });
          } catch (error) {
            throw new TargetDeliveryError(targetArn, errorText(error), { cause: error });
          }
          return;
        case 'logs': {
          const name = /^log-group:([^:]+)/.exec(resource)?.[1];
          if (!name) break;
          const id =
            typeof payload === 'object' && payload !== null ? (payload as { id?: unknown }).id : undefined;
          parts.logs.put(name, typeof id === 'string' ? id : 'events', [
            { timestamp: Date.now(), message: body },
          ]);
          return;
        }
        case 'events': {
          const events = parts.events?.();
          if (!events || !resource.startsWith('event-bus/')) break;
          const event = (typeof payload === 'object' && payload !== null ? payload : {}) as Record<
            string,
            unknown
          >;
          await events.handle('PutEvents', {
            Entries: [
              {
                EventBusName: targetArn,
                Source: event.source,
                DetailType: event['detail-type'],
                Detail: JSON.stringify(event.detail ?? {}),
                Resources: event.resources,
              },
            ],
          });
          return;
        }
      }
      throw new TargetDeliveryError(
        targetArn,
        new AwsError('ResourceNotFoundException', 'the local cloud has no target of this kind').message,
      );
    },
  };
}
