/**
 * What a resource provider is: everything the local cloud knows about one CloudFormation resource type —
 * its physical name, what `Ref` and `Fn::GetAtt` return, and how it is brought up on the running parts.
 * `cloudformation/template.ts` asks the providers for names, Ref and GetAtt; `cloudformation/deploy.ts`
 * orders the resources and asks the providers to deploy them. The registry is `resources/index.ts`.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import type { CfnResource, CloudAssembly } from '../cloudformation/model.ts';
import type { EventArchiveSpec, EventRuleSpec } from '../events/service.ts';
import type { LocalFunctionSpec } from '../lambda/runtime.ts';
import type { DynamoDbStreamMappingOptions } from '../lambda/stream-poller.ts';
import type { StateMachineSpec } from '../stepfunctions/service.ts';
import type { LambdaInvoker, TargetDispatcher } from '../types.ts';

/** One provider per CloudFormation resource type. */
export interface ResourceProvider {
  /** The CloudFormation type it plays, as written in templates (`AWS::SQS::Queue`). */
  readonly type: string;
  /**
   * For a provider of custom resources, whose type name the template chooses (`Custom::AWS`): whether the
   * resource is one it plays. The registry asks it for resources of its `type`, and for resources of a type no
   * provider names. @default every resource of `type`
   */
  readonly matches?: (resource: CfnResource) => boolean;
  /** How its physical name is found. @default no name property; `<Stack>-<LogicalId>-<RANDOM13>` within 255 */
  readonly name?: Naming;
  /** What `Ref` returns. @default the physical name */
  readonly ref?: (ctx: ResolveContext) => string;
  /**
   * What `Fn::GetAtt` returns, per attribute; any other attribute is an error listing these. An override set by a
   * running part (`TemplateResolver.setAttribute`) wins. @default none known
   */
  readonly attributes?: Readonly<Record<string, (ctx: ResolveContext) => unknown>>;
  /**
   * Creates (or, when it is already there from an earlier run, keeps and updates) the resource on the running parts
   * and says how that went. An error fails the deploy, named after the resource (`DeployError`).
   */
  deploy(ctx: DeployContext): Promise<DeployOutcome> | DeployOutcome;
  /**
   * Removes it from the running parts. Nothing calls it yet: the local cloud keeps what it deployed until it stops
   * (tables and their data persist across restarts). @default nothing to remove
   */
  delete?(ctx: DeployContext): Promise<void> | void;
}

/** How a type's physical name is found. */
export interface Naming {
  /** The property that carries an explicit name (`TableName`), used when it resolves to a non-empty string. */
  readonly property?: string;
  /** The longest name the service accepts; generated names are truncated to fit. @default 255 */
  readonly limit?: number;
  /**
   * The name CloudFormation generates when there is no explicit one, if it is not
   * `<Stack>-<LogicalId>-<RANDOM13>` truncated to `limit`. Must be deterministic (a restart finds the same names).
   */
  readonly generate?: (ctx: NameContext) => string;
}

/** What a generated name may depend on. */
export interface NameContext {
  readonly stackName: string;
  readonly logicalId: string;
  /** A property of the resource, intrinsics resolved; `undefined` when absent (and in `generatedName()`). */
  property(name: string): unknown;
}

/** What `Ref` and `Fn::GetAtt` of a resource are computed from. */
export interface ResolveContext extends NameContext {
  readonly type: string;
  readonly accountId: string;
  readonly region: string;
  /** The physical name: the explicit name property if set, else the generated name. */
  physicalName(): string;
  /** What `Ref` returns for this resource (overrides by the running parts included). */
  ref(): string;
}

/** How one resource came out of {@link ResourceProvider.deploy}. */
export interface DeployOutcome {
  /**
   * `created`: brought up now; `existing`: kept from an earlier run (a table with its data, a custom resource
   * already run); `accepted`: no local effect (permissions while IAM is not wired, metadata); `unsupported`: the
   * local cloud cannot play it (say why in `note`).
   */
  readonly status: 'created' | 'existing' | 'accepted' | 'unsupported';
  readonly physicalId?: string;
  /** Why it is unsupported, or what was not applied. */
  readonly note?: string;
}

/** What happened to one resource of a deploy. */
export interface DeployedResource {
  readonly logicalId: string;
  readonly type: string;
  /** {@link DeployOutcome.status}, or `skipped` when its Condition is false. */
  readonly status: DeployOutcome['status'] | 'skipped';
  readonly physicalId?: string;
  readonly note?: string;
}

/**
 * Where the identity and resource policies of the template go once IAM is enforced (implemented by the IAM
 * authority). Without one, IAM resources are accepted and have no effect.
 */
export interface IamRegistry {
  /** An `AWS::IAM::Role`: its trust policy, inline policies (`Policies`) and `ManagedPolicyArns`. */
  putRole(role: {
    roleName: string;
    roleArn: string;
    assumeRolePolicy?: unknown;
    inlinePolicies: { name: string; document: unknown }[];
    managedPolicyArns: string[];
  }): void;
  /** An `AWS::IAM::Policy` (or `AWS::IAM::ManagedPolicy`) attached to roles by name. */
  putPolicy(policyName: string, document: unknown, roleNames: string[]): void;
  /**
   * Resource-policy statements on one resource ARN, replacing those from the same source (a QueuePolicy's or a
   * Lambda permission's logical id).
   */
  putResourceStatements(resourceArn: string, sourceId: string, statements: unknown[]): void;
}

/** The template resolver as providers see it (`cloudformation/template.ts` `TemplateResolver`). */
export interface StackResolver {
  readonly stackName: string;
  readonly accountId: string;
  readonly region: string;
  /** Resolves every intrinsic function in a value. */
  resolve(value: unknown): unknown;
  /** Resolves a value that must become a string; names `where` in the error. */
  resolveString(value: unknown, where: string): string;
  ref(logicalId: string): string;
  getAtt(logicalId: string, attribute: string): unknown;
  physicalName(logicalId: string): string;
  /** Overrides what `Ref` returns for a resource (the running part's id). */
  setPhysicalId(logicalId: string, value: string): void;
  /** Overrides what `Fn::GetAtt` returns for one attribute of a resource. */
  setAttribute(logicalId: string, attribute: string, value: unknown): void;
}

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

/** A served HTTP API, as the deploy result lists it. */
export interface ServedHttpApi {
  readonly logicalId: string;
  readonly apiId: string;
  readonly name: string;
  readonly url: string;
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

/** What a provider that must not redo work across restarts recorded (in `<dataDir>/deploy.json`). */
export interface RecordedResource {
  readonly physicalResourceId: string;
  /** ISO time it was recorded. */
  readonly at: string;
  /** Its `Fn::GetAtt` attributes. */
  readonly data?: Record<string, string>;
}

/** Everything a provider may use to deploy one resource. */
export interface DeployContext {
  readonly logicalId: string;
  readonly type: string;
  /** The resource as written in the template (intrinsics unresolved). */
  readonly resource: CfnResource;
  /** The resource's properties with every intrinsic resolved (resolved anew at each call). */
  properties(): Record<string, unknown>;
  /** The template resolver: physical ids, Ref and GetAtt of other resources, overrides for this one's. */
  readonly stack: StackResolver;
  readonly parts: DeployParts;
  readonly assembly: CloudAssembly;
  readonly accountId: string;
  readonly region: string;
  /** `arn:aws:<service>:<region>:<account>:<rest>`. */
  arn(service: string, rest: string): string;
  /** Where deploy keeps its records (mapping checkpoints go under `esm/`). */
  readonly dataDir: string;
  /** Stream mappings' poll interval. @default the mapping's own */
  readonly pollIntervalMs?: number;
  /** Where IAM roles and policies go; absent until IAM is enforced (then IAM resources have no effect). */
  readonly iam?: IamRegistry;
  /** Resources recorded by an earlier deploy on the same `dataDir`; `put` writes the record at once. */
  readonly records: {
    get(logicalId: string): RecordedResource | undefined;
    put(logicalId: string, entry: RecordedResource): void;
  };
  /**
   * State shared by the providers of one deploy under a key (the HTTP APIs collected from their Api, Integration
   * and Route resources): created on first use.
   */
  shared<T>(key: string, create: () => T): T;
  /** Runs a task once every resource is up, in the order they were added (serving an HTTP API with its routes). */
  afterAll(task: () => Promise<void> | void): void;
  /** Reports (again) how a resource came out, when that is known only later (a route with no integration). */
  report(resource: DeployedResource): void;
  /** A stream mapping created, not started: the deploy result hands it to the caller, who starts it. */
  addMapping(mapping: StreamMapping): void;
  /** An HTTP API now served, for the deploy result. */
  addHttpApi(api: ServedHttpApi): void;
  /** Replaces an AWS URL (`https://<id>.execute-api…`) by the local one in the stack outputs. */
  localizeUrl(awsUrl: string, localUrl: string): void;
}
