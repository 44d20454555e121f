/**
 * Resolves the CloudFormation intrinsics of a synthesized template the way CloudFormation would for the local
 * cloud: pseudo parameters, parameters, conditions, Ref / Fn::GetAtt / Fn::Sub… and the order resources must come
 * up in. What a type's physical name, Ref and GetAtt are is each type's provider's (resources/); reading the cloud
 * assembly is assembly.ts (re-exported here).
 */
import { createHash } from 'node:crypto';
import { providerFor, providerForType } from '../resources/index.ts';
import type { NameContext, ResolveContext, ResourceProvider, StackResolver } from '../resources/provider.ts';
import {
  type CfnResource,
  type CfnTemplate,
  isCustomResourceType,
  stackGeneratedName,
  TemplateResolutionError,
} from './model.ts';

export { assetDirectory, loadCloudAssembly } from './assembly.ts';
export {
  type CfnOutput,
  type CfnParameter,
  type CfnResource,
  type CfnTemplate,
  type CloudAssembly,
  CloudAssemblyError,
  pseudoRandom,
  TemplateResolutionError,
} from './model.ts';

/** The name a provider generates, or `<Stack>-<LogicalId>-<RANDOM13>` within its limit (255 by default). */
function generateName(provider: ResourceProvider | undefined, ctx: NameContext): string {
  const naming = provider?.name;
  if (naming?.generate) return naming.generate(ctx);
  return stackGeneratedName(ctx.stackName, ctx.logicalId, naming?.limit ?? 255);
}

/**
 * The physical name CloudFormation gives a resource with no explicit name:
 * `<Stack>-<LogicalId>-<RANDOM13>` (state machines: `<LogicalId>-<Random12>`), truncated to the
 * service's limit. Deterministic from stack and logical id, so a restart finds the same tables.
 */
export function generatedName(stackName: string, logicalId: string, type: string): string {
  return generateName(providerForType(type), { stackName, logicalId, property: () => undefined });
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
export class TemplateResolver implements StackResolver {
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
    const provider = providerFor(resource);
    const prop = provider?.name?.property;
    const explicit = prop ? resource.Properties?.[prop] : undefined;
    if (explicit !== undefined) {
      const value = this.resolve(explicit);
      if (typeof value === 'string' && value !== '') return value;
    }
    return generateName(provider, this.#context(logicalId, resource));
  }

  /** What `Ref` returns for a resource: an override by a running part, else what its provider says. */
  ref(logicalId: string): string {
    const override = this.#physicalIds.get(logicalId);
    if (override !== undefined) return override;
    const resource = this.resource(logicalId);
    const ref = providerFor(resource)?.ref;
    return ref ? ref(this.#context(logicalId, resource)) : this.physicalName(logicalId);
  }

  /** What `Fn::GetAtt` returns, per the type's provider; an unknown attribute is a clear error. */
  getAtt(logicalId: string, attribute: string): unknown {
    const key = `${logicalId}.${attribute}`;
    if (this.#attributes.has(key)) return this.#attributes.get(key);
    const resource = this.resource(logicalId);
    const type = resource.Type;
    const table = providerFor(resource)?.attributes;
    if (table) {
      const get = table[attribute];
      if (!get) throw this.#unknownAttribute(logicalId, type, attribute, Object.keys(table));
      return get(this.#context(logicalId, resource));
    }
    if (isCustomResourceType(type)) {
      throw new TemplateResolutionError(
        `Fn::GetAtt ${logicalId}.${attribute}: custom resource ${logicalId} (${type}) returned no attribute ` +
          `"${attribute}" in the local cloud.`,
      );
    }
    throw this.#unknownAttribute(logicalId, type, attribute, []);
  }

  /** What a provider computes names, Ref and GetAtt from. */
  #context(logicalId: string, resource: CfnResource): ResolveContext {
    return {
      logicalId,
      type: resource.Type,
      stackName: this.stackName,
      accountId: this.accountId,
      region: this.region,
      property: (name) => {
        const value = this.resolve(resource.Properties?.[name]);
        return value === NO_VALUE ? undefined : value;
      },
      physicalName: () => this.physicalName(logicalId),
      ref: () => this.ref(logicalId),
    };
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
