/**
 * Reads a synthesized CDK cloud assembly (`cdk.out/`) and resolves the CloudFormation intrinsics of its
 * template the way CloudFormation would for the local cloud: physical names, ARNs, pseudo parameters,
 * conditions and the order resources must come up in.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** A CloudFormation resource as it appears in a template. */
export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Readonly<Record<string, unknown>>;
  readonly DependsOn?: string | readonly string[];
  readonly Condition?: string;
  readonly Metadata?: unknown;
}

/** A CloudFormation output. */
export interface CfnOutput {
  readonly Value: unknown;
  readonly Description?: string;
  readonly Condition?: string;
  readonly Export?: unknown;
}

/** A CloudFormation parameter. */
export interface CfnParameter {
  readonly Type: string;
  readonly Default?: unknown;
  readonly Description?: string;
}

/** The parts of a CloudFormation template the local cloud reads. */
export interface CfnTemplate {
  readonly Resources: Readonly<Record<string, CfnResource>>;
  readonly Outputs?: Readonly<Record<string, CfnOutput>>;
  readonly Parameters?: Readonly<Record<string, CfnParameter>>;
  readonly Conditions?: Readonly<Record<string, unknown>>;
  readonly Mappings?: Readonly<Record<string, Readonly<Record<string, Readonly<Record<string, unknown>>>>>>;
}

/** A stack's synthesized template and its file assets. */
export interface CloudAssembly {
  /** Absolute path of the `cdk.out` folder. */
  readonly cdkOut: string;
  readonly stackName: string;
  /** Absolute path of `<stack>.template.json`. */
  readonly templateFile: string;
  readonly template: CfnTemplate;
  /** Asset hash → absolute path of its source (`cdk.out/asset.<hash>` for a function bundle). */
  readonly assets: ReadonlyMap<string, string>;
}

/** Raised when `cdk.out` is missing, stale or unreadable. */
export class CloudAssemblyError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'CloudAssemblyError';
  }
}

/** Raised when an intrinsic function cannot be resolved locally (bad shape, unknown reference, import). */
export class TemplateResolutionError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TemplateResolutionError';
  }
}

const SYNTH_HINT = 'run `npm run synth` or `saga deploy`';

/**
 * Loads `<stackName>.template.json` and `<stackName>.assets.json` from a cloud assembly folder.
 * Throws {@link CloudAssemblyError} with what to run when the folder or a file is missing.
 */
export function loadCloudAssembly(cdkOut: string, stackName = 'Saga'): CloudAssembly {
  const dir = resolve(cdkOut);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new CloudAssemblyError(
      `No cloud assembly at ${dir}: ${SYNTH_HINT} to synthesize the CDK app first.`,
    );
  }
  const templateFile = join(dir, `${stackName}.template.json`);
  if (!existsSync(templateFile)) {
    throw new CloudAssemblyError(
      `The cloud assembly ${dir} has no template for stack "${stackName}" (${stackName}.template.json): ${SYNTH_HINT}.`,
    );
  }
  const template = readJson(templateFile) as CfnTemplate;
  if (typeof template !== 'object' || template === null || typeof template.Resources !== 'object') {
    throw new CloudAssemblyError(
      `${templateFile} is not a CloudFormation template (no "Resources"): ${SYNTH_HINT}.`,
    );
  }
  const assets = new Map<string, string>();
  const assetsFile = join(dir, `${stackName}.assets.json`);
  if (existsSync(assetsFile)) {
    const manifest = readJson(assetsFile) as { files?: Record<string, { source?: { path?: string } }> };
    for (const [hash, entry] of Object.entries(manifest.files ?? {})) {
      if (entry.source?.path) assets.set(hash, resolve(dir, entry.source.path));
    }
  }
  return { cdkOut: dir, stackName, templateFile, template, assets };
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new CloudAssemblyError(`Could not read ${file} as JSON: ${SYNTH_HINT} again.`, { cause: error });
  }
}

/**
 * The folder holding a function's bundle: its `Code.S3Key` is `<asset hash>.zip`, which names the asset.
 * Throws {@link CloudAssemblyError} when the asset is not in the assembly.
 */
export function assetDirectory(assembly: CloudAssembly, code: unknown, logicalId: string): string {
  const key = typeof code === 'object' && code !== null ? (code as { S3Key?: unknown }).S3Key : undefined;
  if (typeof key !== 'string') {
    throw new CloudAssemblyError(
      `Function ${logicalId} has no asset Code.S3Key (received ${JSON.stringify(code)}); ` +
        'the local cloud runs only bundled assets (NodejsFunction / Code.fromAsset).',
    );
  }
  const hash = key.replace(/\.zip$/, '');
  const dir = assembly.assets.get(hash) ?? join(assembly.cdkOut, `asset.${hash}`);
  if (!existsSync(dir)) {
    throw new CloudAssemblyError(
      `Function ${logicalId}: asset ${hash} is missing from ${assembly.cdkOut}: ${SYNTH_HINT}.`,
    );
  }
  return dir;
}

/** The longest name each service accepts; CloudFormation truncates generated names to fit. */
const NAME_LIMITS: Readonly<Record<string, number>> = {
  'AWS::Lambda::Function': 64,
  'AWS::SQS::Queue': 80,
  'AWS::DynamoDB::Table': 255,
  'AWS::Logs::LogGroup': 512,
  'AWS::Events::Rule': 64,
  'AWS::Events::Archive': 48,
  'AWS::StepFunctions::StateMachine': 80,
  'AWS::IAM::Role': 64,
  'AWS::IAM::Policy': 128,
};

/** Property that carries an explicit physical name, per type. */
const NAME_PROPERTIES: Readonly<Record<string, string>> = {
  'AWS::DynamoDB::Table': 'TableName',
  'AWS::Lambda::Function': 'FunctionName',
  'AWS::SQS::Queue': 'QueueName',
  'AWS::Events::EventBus': 'Name',
  'AWS::Events::Rule': 'Name',
  'AWS::Events::Archive': 'ArchiveName',
  'AWS::Logs::LogGroup': 'LogGroupName',
  'AWS::StepFunctions::StateMachine': 'StateMachineName',
  'AWS::IAM::Role': 'RoleName',
  'AWS::IAM::Policy': 'PolicyName',
  'AWS::ApiGatewayV2::Stage': 'StageName',
};

const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const LOWER = 'abcdefghijklmnopqrstuvwxyz0123456789';
const MIXED = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A deterministic stand-in for CloudFormation's random suffix: the same logical id gives the same name. */
export function pseudoRandom(seed: string, length: number, alphabet = UPPER): string {
  const bytes = createHash('sha256').update(seed).digest();
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[(bytes[i % bytes.length] ?? 0) % alphabet.length];
  return out;
}

/**
 * The physical name CloudFormation gives a resource with no explicit name:
 * `<Stack>-<LogicalId>-<RANDOM13>` (state machines: `<LogicalId>-<Random12>`), truncated to the
 * service's limit. Deterministic from stack and logical id, so a restart finds the same tables.
 */
export function generatedName(stackName: string, logicalId: string, type: string): string {
  const seed = `${stackName}/${logicalId}`;
  if (type === 'AWS::StepFunctions::StateMachine') {
    return `${logicalId.slice(0, 80 - 13)}-${pseudoRandom(seed, 12, MIXED)}`;
  }
  const suffix = type === 'AWS::Lambda::Function' ? pseudoRandom(seed, 12, MIXED) : pseudoRandom(seed, 13);
  const limit = NAME_LIMITS[type] ?? 255;
  const prefix = `${stackName}-${logicalId}`.slice(0, limit - suffix.length - 1);
  return `${prefix}-${suffix}`;
}

/** The pseudo parameters and account the template resolves against. */
export interface ResolverOptions {
  readonly template: CfnTemplate;
  readonly stackName: string;
  readonly accountId: string;
  readonly region: string;
  /** Values for template parameters; others take their Default. */
  readonly parameters?: Readonly<Record<string, string>>;
}

/** Returned by the resolver for `Ref: AWS::NoValue`; dropped from the enclosing object or list. */
export const NO_VALUE: unique symbol = Symbol('AWS::NoValue');

const INTRINSICS = new Set([
  'Ref',
  'Fn::GetAtt',
  'Fn::Join',
  'Fn::Sub',
  'Fn::Select',
  'Fn::Split',
  'Fn::If',
  'Fn::Equals',
  'Fn::Or',
  'Fn::And',
  'Fn::Not',
  'Fn::ImportValue',
  'Fn::Base64',
  'Fn::FindInMap',
  'Fn::GetAZs',
  'Condition',
]);

/**
 * Resolves intrinsic functions against the local cloud's view of the stack. Physical ids and
 * attributes start from what CloudFormation would generate; `deploy.ts` overrides the ones only the
 * running parts know (a queue's URL, a stream's ARN, the served HTTP API URL).
 */
export class TemplateResolver {
  readonly template: CfnTemplate;
  readonly stackName: string;
  readonly accountId: string;
  readonly region: string;
  readonly stackId: string;
  readonly #parameters: Readonly<Record<string, string>>;
  readonly #physicalIds = new Map<string, string>();
  readonly #attributes = new Map<string, unknown>();
  readonly #conditions = new Map<string, boolean>();

  constructor(options: ResolverOptions) {
    this.template = options.template;
    this.stackName = options.stackName;
    this.accountId = options.accountId;
    this.region = options.region;
    const id = createHash('sha256').update(`stack/${options.stackName}`).digest('hex');
    const uuid = `${id.slice(0, 8)}-${id.slice(8, 12)}-${id.slice(12, 16)}-${id.slice(16, 20)}-${id.slice(20, 32)}`;
    this.stackId = `arn:aws:cloudformation:${options.region}:${options.accountId}:stack/${options.stackName}/${uuid}`;
    this.#parameters = options.parameters ?? {};
  }

  /** The resource, or a clear error if the template has none by that logical id. */
  resource(logicalId: string): CfnResource {
    const resource = this.template.Resources[logicalId];
    if (!resource) {
      throw new TemplateResolutionError(`The template has no resource "${logicalId}".`);
    }
    return resource;
  }

  /** Overrides what `Ref` returns for a resource (the running part's id). */
  setPhysicalId(logicalId: string, value: string): void {
    this.#physicalIds.set(logicalId, value);
  }

  /** Overrides what `Fn::GetAtt` returns for one attribute of a resource. */
  setAttribute(logicalId: string, attribute: string, value: unknown): void {
    this.#attributes.set(`${logicalId}.${attribute}`, value);
  }

  /** The resource's physical name: its explicit name property when set, else a generated one. */
  physicalName(logicalId: string): string {
    const resource = this.resource(logicalId);
    const prop = NAME_PROPERTIES[resource.Type];
    const explicit = prop ? resource.Properties?.[prop] : undefined;
    if (explicit !== undefined) {
      const value = this.resolve(explicit);
      if (typeof value === 'string' && value !== '') return value;
    }
    if (resource.Type === 'AWS::SQS::Queue' && this.resolve(resource.Properties?.FifoQueue) === true) {
      return `${generatedName(this.stackName, logicalId, resource.Type).slice(0, 75)}.fifo`;
    }
    return generatedName(this.stackName, logicalId, resource.Type);
  }

  /** What `Ref` returns for a resource, per type, as CloudFormation documents it. */
  ref(logicalId: string): string {
    const override = this.#physicalIds.get(logicalId);
    if (override !== undefined) return override;
    const resource = this.resource(logicalId);
    const { accountId: a, region: r } = this;
    const seed = `${this.stackName}/${logicalId}`;
    switch (resource.Type) {
      case 'AWS::StepFunctions::StateMachine':
        return `arn:aws:states:${r}:${a}:stateMachine:${this.physicalName(logicalId)}`;
      case 'AWS::SQS::Queue':
        return `https://sqs.${r}.amazonaws.com/${a}/${this.physicalName(logicalId)}`;
      case 'AWS::Events::Rule': {
        const bus = this.#busName(resource);
        const name = this.physicalName(logicalId);
        return bus === 'default' ? name : `${bus}|${name}`;
      }
      case 'AWS::ApiGatewayV2::Api':
        return pseudoRandom(seed, 10, LOWER);
      case 'AWS::ApiGatewayV2::Integration':
      case 'AWS::ApiGatewayV2::Route':
        return pseudoRandom(seed, 7, LOWER);
      case 'AWS::Lambda::EventSourceMapping':
        return deterministicUuid(seed);
      case 'AWS::Lambda::Permission':
      case 'AWS::IAM::Policy':
      case 'AWS::SQS::QueuePolicy':
      case 'AWS::CDK::Metadata':
        return `${this.stackName}-${logicalId.slice(0, 20)}-${pseudoRandom(seed, 12)}`;
      default:
        return this.physicalName(logicalId);
    }
  }

  /** What `Fn::GetAtt` returns, per type; an unknown attribute is a clear error. */
  getAtt(logicalId: string, attribute: string): unknown {
    const key = `${logicalId}.${attribute}`;
    if (this.#attributes.has(key)) return this.#attributes.get(key);
    const resource = this.resource(logicalId);
    const { accountId: a, region: r } = this;
    const type = resource.Type;
    const name = (): string => this.physicalName(logicalId);
    const pick = (table: Record<string, () => unknown>): unknown => {
      const get = table[attribute];
      if (!get) throw this.#unknownAttribute(logicalId, type, attribute, Object.keys(table));
      return get();
    };
    switch (type) {
      case 'AWS::DynamoDB::Table':
        return pick({
          Arn: () => `arn:aws:dynamodb:${r}:${a}:table/${name()}`,
          StreamArn: () => {
            throw new TemplateResolutionError(
              `${logicalId}.StreamArn is only known once the table exists in DynamoDB Local ` +
                '(is StreamSpecification set, and does the reference come after the table?).',
            );
          },
        });
      case 'AWS::Lambda::Function':
        return pick({ Arn: () => `arn:aws:lambda:${r}:${a}:function:${name()}` });
      case 'AWS::SQS::Queue':
        return pick({
          Arn: () => `arn:aws:sqs:${r}:${a}:${name()}`,
          QueueName: name,
          QueueUrl: () => this.ref(logicalId),
        });
      case 'AWS::Events::EventBus':
        return pick({ Arn: () => `arn:aws:events:${r}:${a}:event-bus/${name()}`, Name: name });
      case 'AWS::Events::Rule': {
        const bus = this.#busName(resource);
        const path = bus === 'default' ? name() : `${bus}/${name()}`;
        return pick({ Arn: () => `arn:aws:events:${r}:${a}:rule/${path}` });
      }
      case 'AWS::Events::Archive':
        return pick({ Arn: () => `arn:aws:events:${r}:${a}:archive/${name()}`, ArchiveName: name });
      case 'AWS::Logs::LogGroup':
        return pick({ Arn: () => `arn:aws:logs:${r}:${a}:log-group:${name()}:*` });
      case 'AWS::StepFunctions::StateMachine':
        return pick({ Arn: () => this.ref(logicalId), Name: name });
      case 'AWS::ApiGatewayV2::Api':
        return pick({
          ApiId: () => this.ref(logicalId),
          ApiEndpoint: () => `https://${this.ref(logicalId)}.execute-api.${r}.amazonaws.com`,
        });
      case 'AWS::IAM::Role':
        return pick({
          Arn: () => `arn:aws:iam::${a}:role/${name()}`,
          RoleId: () => `AROA${pseudoRandom(`${this.stackName}/${logicalId}`, 17)}`,
        });
      case 'AWS::Lambda::EventSourceMapping':
        return pick({ Id: () => this.ref(logicalId) });
      default:
        if (type.startsWith('Custom::') || type === 'AWS::CloudFormation::CustomResource') {
          throw new TemplateResolutionError(
            `Fn::GetAtt ${logicalId}.${attribute}: custom resource ${logicalId} (${type}) returned no attribute ` +
              `"${attribute}" in the local cloud.`,
          );
        }
        throw this.#unknownAttribute(logicalId, type, attribute, []);
    }
  }

  #unknownAttribute(
    logicalId: string,
    type: string,
    attribute: string,
    known: string[],
  ): TemplateResolutionError {
    const list = known.length > 0 ? ` It knows: ${known.join(', ')}.` : '';
    return new TemplateResolutionError(
      `Fn::GetAtt ${logicalId}.${attribute}: the local cloud does not know attribute "${attribute}" of ${type}.${list}`,
    );
  }

  #busName(resource: CfnResource): string {
    const bus = this.resolve(resource.Properties?.EventBusName ?? 'default');
    if (typeof bus !== 'string') return 'default';
    // EventBusName may be given as the bus ARN.
    return bus.startsWith('arn:') ? (bus.split('event-bus/')[1] ?? bus) : bus;
  }

  /** Whether a named condition of the template holds. */
  condition(name: string): boolean {
    const cached = this.#conditions.get(name);
    if (cached !== undefined) return cached;
    const definition = this.template.Conditions?.[name];
    if (definition === undefined) {
      throw new TemplateResolutionError(`The template has no condition "${name}".`);
    }
    const value = this.resolve(definition);
    if (typeof value !== 'boolean') {
      throw new TemplateResolutionError(
        `Condition "${name}" did not resolve to a boolean (got ${JSON.stringify(value)}).`,
      );
    }
    this.#conditions.set(name, value);
    return value;
  }

  /** Whether a resource or output is part of the stack (its `Condition`, if any, holds). */
  included(entry: { readonly Condition?: string }): boolean {
    return entry.Condition === undefined || this.condition(entry.Condition);
  }

  /** Resolves every intrinsic function in a value; `Ref: AWS::NoValue` drops the key or item. */
  resolve(value: unknown): unknown {
    if (Array.isArray(value)) {
      return value.map((item) => this.resolve(item)).filter((item) => item !== NO_VALUE);
    }
    if (typeof value !== 'object' || value === null) return value;
    const keys = Object.keys(value);
    const [first] = keys;
    if (keys.length === 1 && first !== undefined && INTRINSICS.has(first)) {
      return this.#intrinsic(first, (value as Record<string, unknown>)[first]);
    }
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      const resolved = this.resolve(item);
      if (resolved !== NO_VALUE) out[key] = resolved;
    }
    return out;
  }

  /** Resolves a value that must become a string (numbers and booleans are stringified, as CloudFormation does). */
  resolveString(value: unknown, where: string): string {
    const resolved = this.resolve(value);
    if (typeof resolved === 'string') return resolved;
    if (typeof resolved === 'number' || typeof resolved === 'boolean') return String(resolved);
    throw new TemplateResolutionError(`${where} must resolve to a string, got ${JSON.stringify(resolved)}.`);
  }

  #intrinsic(fn: string, arg: unknown): unknown {
    switch (fn) {
      case 'Ref':
        return this.#ref(arg);
      case 'Fn::GetAtt':
        return this.#getAttIntrinsic(arg);
      case 'Fn::Join': {
        const [delimiter, list] = this.#args(fn, arg, 2);
        const items = this.resolve(list);
        if (typeof delimiter !== 'string' || !Array.isArray(items)) {
          throw this.#shape(fn, arg, '[delimiter, [values…]]');
        }
        return items.map((item) => this.#scalar(fn, item)).join(delimiter);
      }
      case 'Fn::Sub':
        return this.#sub(arg);
      case 'Fn::Select': {
        const [index, list] = this.#args(fn, arg, 2);
        const i = Number(this.resolve(index));
        const items = this.resolve(list);
        if (!Array.isArray(items) || !Number.isInteger(i)) throw this.#shape(fn, arg, '[index, [values…]]');
        if (i < 0 || i >= items.length) {
          throw new TemplateResolutionError(
            `Fn::Select index ${i} is out of range for a list of ${items.length}.`,
          );
        }
        return items[i];
      }
      case 'Fn::Split': {
        const [delimiter, source] = this.#args(fn, arg, 2);
        const text = this.resolve(source);
        if (typeof delimiter !== 'string' || typeof text !== 'string') {
          throw this.#shape(fn, arg, '[delimiter, string]');
        }
        return text.split(delimiter);
      }
      case 'Fn::If': {
        const [name, whenTrue, whenFalse] = this.#args(fn, arg, 3);
        if (typeof name !== 'string')
          throw this.#shape(fn, arg, '[conditionName, valueIfTrue, valueIfFalse]');
        return this.resolve(this.condition(name) ? whenTrue : whenFalse);
      }
      case 'Fn::Equals': {
        const [left, right] = this.#args(fn, arg, 2);
        return JSON.stringify(this.resolve(left)) === JSON.stringify(this.resolve(right));
      }
      case 'Fn::And':
      case 'Fn::Or': {
        if (!Array.isArray(arg) || arg.length < 1) throw this.#shape(fn, arg, '[condition, …]');
        const values = arg.map((item) => this.#boolean(fn, item));
        return fn === 'Fn::And' ? values.every(Boolean) : values.some(Boolean);
      }
      case 'Fn::Not': {
        const [inner] = this.#args(fn, arg, 1);
        return !this.#boolean(fn, inner);
      }
      case 'Condition':
        if (typeof arg !== 'string') throw this.#shape(fn, arg, 'conditionName');
        return this.condition(arg);
      case 'Fn::ImportValue':
        throw new TemplateResolutionError(
          `Fn::ImportValue ${JSON.stringify(this.resolve(arg))}: the local cloud runs one stack and has no ` +
            'exports from other stacks. Pass the value in directly (a context value or parameter) for the local target.',
        );
      case 'Fn::Base64':
        return Buffer.from(this.#scalar(fn, this.resolve(arg))).toString('base64');
      case 'Fn::FindInMap': {
        const [map, top, second] = this.#args(fn, arg, 3).map((item) => this.#scalar(fn, this.resolve(item)));
        const value = this.template.Mappings?.[map ?? '']?.[top ?? '']?.[second ?? ''];
        if (value === undefined) {
          throw new TemplateResolutionError(
            `Fn::FindInMap: no ${map}.${top}.${second} in the template's Mappings.`,
          );
        }
        return value;
      }
      case 'Fn::GetAZs':
        return ['a', 'b', 'c'].map((zone) => `${this.region}${zone}`);
      default:
        throw new TemplateResolutionError(`Unsupported intrinsic function ${fn}.`);
    }
  }

  #ref(arg: unknown): unknown {
    if (typeof arg !== 'string') throw this.#shape('Ref', arg, 'a logical id or parameter name');
    switch (arg) {
      case 'AWS::AccountId':
        return this.accountId;
      case 'AWS::Region':
        return this.region;
      case 'AWS::Partition':
        return 'aws';
      case 'AWS::URLSuffix':
        return 'amazonaws.com';
      case 'AWS::StackName':
        return this.stackName;
      case 'AWS::StackId':
        return this.stackId;
      case 'AWS::NoValue':
        return NO_VALUE;
      case 'AWS::NotificationARNs':
        return [];
    }
    const parameter = this.template.Parameters?.[arg];
    if (parameter) {
      const value = this.#parameters[arg] ?? parameter.Default;
      if (value === undefined) {
        throw new TemplateResolutionError(
          `Parameter "${arg}" has no value and no Default: pass it in the parameters.`,
        );
      }
      return parameter.Type.startsWith('List<') || parameter.Type === 'CommaDelimitedList'
        ? String(value).split(',')
        : value;
    }
    if (!this.template.Resources[arg]) {
      throw new TemplateResolutionError(
        `Ref "${arg}": the template has no resource or parameter by that name.`,
      );
    }
    return this.ref(arg);
  }

  #getAttIntrinsic(arg: unknown): unknown {
    let logicalId: unknown;
    let attribute: unknown;
    if (typeof arg === 'string') {
      const dot = arg.indexOf('.');
      [logicalId, attribute] = dot < 0 ? [arg, undefined] : [arg.slice(0, dot), arg.slice(dot + 1)];
    } else if (Array.isArray(arg) && arg.length === 2) {
      logicalId = arg[0];
      attribute = this.resolve(arg[1]);
    }
    if (typeof logicalId !== 'string' || typeof attribute !== 'string') {
      throw this.#shape('Fn::GetAtt', arg, '[logicalId, attribute] or "logicalId.attribute"');
    }
    return this.getAtt(logicalId, attribute);
  }

  #sub(arg: unknown): string {
    let text: unknown = arg;
    let variables: Record<string, unknown> = {};
    if (Array.isArray(arg)) {
      if (arg.length !== 2 || typeof arg[0] !== 'string' || typeof arg[1] !== 'object' || arg[1] === null) {
        throw this.#shape('Fn::Sub', arg, 'a string or [string, {name: value}]');
      }
      text = arg[0];
      variables = arg[1] as Record<string, unknown>;
    }
    if (typeof text !== 'string') throw this.#shape('Fn::Sub', arg, 'a string or [string, {name: value}]');
    return text.replace(/\$\{([^}]*)\}/g, (_match, inner: string) => {
      // `${!Literal}` writes `${Literal}` unchanged.
      if (inner.startsWith('!')) return `\${${inner.slice(1)}}`;
      const name = inner.trim();
      if (Object.hasOwn(variables, name)) return this.#scalar('Fn::Sub', this.resolve(variables[name]));
      const dot = name.indexOf('.');
      if (dot > 0 && !name.startsWith('AWS::')) {
        return this.#scalar('Fn::Sub', this.getAtt(name.slice(0, dot), name.slice(dot + 1)));
      }
      return this.#scalar('Fn::Sub', this.#ref(name));
    });
  }

  #boolean(fn: string, value: unknown): boolean {
    const resolved = this.resolve(value);
    if (typeof resolved === 'boolean') return resolved;
    if (resolved === 'true' || resolved === 'false') return resolved === 'true';
    throw new TemplateResolutionError(`${fn} expects conditions, got ${JSON.stringify(resolved)}.`);
  }

  #scalar(fn: string, value: unknown): string {
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    throw new TemplateResolutionError(`${fn} needs string values, got ${JSON.stringify(value)}.`);
  }

  #args(fn: string, arg: unknown, count: number): unknown[] {
    if (!Array.isArray(arg) || arg.length !== count) throw this.#shape(fn, arg, `a list of ${count}`);
    return arg;
  }

  #shape(fn: string, arg: unknown, expected: string): TemplateResolutionError {
    return new TemplateResolutionError(`${fn} expects ${expected}, got ${JSON.stringify(arg)}.`);
  }
}

function deterministicUuid(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Logical ids a value refers to through Ref, Fn::GetAtt and Fn::Sub (resources only, not parameters). */
export function referencedResources(
  value: unknown,
  template: CfnTemplate,
  into = new Set<string>(),
): Set<string> {
  const addName = (name: string): void => {
    if (template.Resources[name]) into.add(name);
  };
  if (Array.isArray(value)) {
    for (const item of value) referencedResources(item, template, into);
    return into;
  }
  if (typeof value !== 'object' || value === null) return into;
  for (const [key, item] of Object.entries(value)) {
    if (key === 'Ref' && typeof item === 'string') addName(item);
    else if (key === 'Fn::GetAtt') {
      if (typeof item === 'string') addName(item.split('.')[0] ?? '');
      else if (Array.isArray(item) && typeof item[0] === 'string') addName(item[0]);
    } else if (key === 'Fn::Sub') {
      const text = Array.isArray(item) ? item[0] : item;
      const variables = Array.isArray(item) && typeof item[1] === 'object' && item[1] !== null ? item[1] : {};
      if (typeof text === 'string') {
        for (const match of text.matchAll(/\$\{([^!}][^}]*)\}/g)) {
          const name = (match[1] ?? '').trim();
          if (!Object.hasOwn(variables, name)) addName(name.split('.')[0] ?? '');
        }
      }
      referencedResources(variables, template, into);
    } else referencedResources(item, template, into);
  }
  return into;
}

/** Raised when resources depend on each other in a cycle. */
export class CircularDependencyError extends Error {
  readonly cycle: readonly string[];
  constructor(cycle: readonly string[]) {
    super(
      `The template's resources depend on each other in a cycle: ${cycle.join(' → ')}. ` +
        'Break it (a DependsOn or reference too many) and synthesize again.',
    );
    this.name = 'CircularDependencyError';
    this.cycle = cycle;
  }
}

/** Each resource's direct dependencies: Ref, Fn::GetAtt and Fn::Sub references plus DependsOn. */
export function resourceDependencies(template: CfnTemplate): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    const deps = referencedResources(resource.Properties ?? {}, template);
    const dependsOn = resource.DependsOn === undefined ? [] : [resource.DependsOn].flat();
    for (const dep of dependsOn) {
      if (!template.Resources[dep]) {
        throw new TemplateResolutionError(
          `${logicalId} DependsOn "${dep}", which is not a resource of the template.`,
        );
      }
      deps.add(dep);
    }
    deps.delete(logicalId);
    graph.set(logicalId, deps);
  }
  return graph;
}

/**
 * The resources in an order where each comes after everything it depends on (template order among
 * independent ones). Throws {@link CircularDependencyError} naming the cycle.
 */
export function deploymentOrder(template: CfnTemplate): string[] {
  const graph = resourceDependencies(template);
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (id: string, path: string[]): void => {
    const seen = state.get(id);
    if (seen === 'done') return;
    if (seen === 'visiting') {
      throw new CircularDependencyError([...path.slice(path.indexOf(id)), id]);
    }
    state.set(id, 'visiting');
    for (const dep of graph.get(id) ?? []) visit(dep, [...path, id]);
    state.set(id, 'done');
    order.push(id);
  };
  for (const id of graph.keys()) visit(id, []);
  return order;
}
