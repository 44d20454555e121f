/**
 * IAM policy documents as AWS accepts them (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html),
 * and {@link normalizePolicy}, which checks one and returns it in a single shape (every element an array), or
 * throws a {@link PolicyError} saying which element is wrong and why.
 */

/** One value or several. */
export type OneOrMany<T> = T | readonly T[];

/** The `Principal` / `NotPrincipal` element of a resource-based policy. */
export type PolicyPrincipal =
  | '*'
  | {
      readonly AWS?: OneOrMany<string>;
      readonly Service?: OneOrMany<string>;
      readonly Federated?: OneOrMany<string>;
      readonly CanonicalUser?: OneOrMany<string>;
    };

/** `{ operator: { key: value(s) } }`, e.g. `{ ArnLike: { 'aws:SourceArn': 'arn:aws:events:…' } }`. */
export type PolicyCondition = Readonly<
  Record<string, Readonly<Record<string, OneOrMany<string | number | boolean>>>>
>;

/** One statement of a policy document. */
export interface PolicyStatement {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Action?: OneOrMany<string>;
  readonly NotAction?: OneOrMany<string>;
  readonly Resource?: OneOrMany<string>;
  readonly NotResource?: OneOrMany<string>;
  readonly Principal?: PolicyPrincipal;
  readonly NotPrincipal?: PolicyPrincipal;
  readonly Condition?: PolicyCondition;
}

/** A policy document: identity-based (attached to a role) or resource-based (attached to a queue, a function…). */
export interface PolicyDocument {
  readonly Version?: string;
  readonly Id?: string;
  readonly Statement: OneOrMany<PolicyStatement>;
}

/** A principal element after {@link normalizePolicy}: `'*'`, or each kind as an array. */
export type NormalizedPrincipal =
  | '*'
  | {
      readonly AWS?: readonly string[];
      readonly Service?: readonly string[];
      readonly Federated?: readonly string[];
      readonly CanonicalUser?: readonly string[];
    };

/** A statement after {@link normalizePolicy}: every list an array, every condition value a string. */
export interface NormalizedStatement {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Action?: readonly string[];
  readonly NotAction?: readonly string[];
  readonly Resource?: readonly string[];
  readonly NotResource?: readonly string[];
  readonly Principal?: NormalizedPrincipal;
  readonly NotPrincipal?: NormalizedPrincipal;
  readonly Condition?: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>>;
}

/** A document after {@link normalizePolicy}. */
export interface NormalizedPolicy {
  readonly Version: string;
  readonly Id?: string;
  readonly Statement: readonly NormalizedStatement[];
}

/**
 * Which kind of policy a document is, for what it must and must not contain:
 * - `identity`: no `Principal`; `Resource` or `NotResource` required;
 * - `resource`: `Principal` or `NotPrincipal` required; `Resource` optional (a trust policy has none);
 * - `any` (default): `Resource`/`NotResource` required unless the statement names a principal.
 */
export type PolicyKind = 'identity' | 'resource' | 'any';

/** A policy document that is not valid; the message names the element (`Statement[1].Action[0]: …`). */
export class PolicyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicyError';
  }
}

/** The condition operators AWS defines (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html). */
export const CONDITION_OPERATORS: ReadonlySet<string> = new Set([
  'StringEquals',
  'StringNotEquals',
  'StringEqualsIgnoreCase',
  'StringNotEqualsIgnoreCase',
  'StringLike',
  'StringNotLike',
  'NumericEquals',
  'NumericNotEquals',
  'NumericLessThan',
  'NumericLessThanEquals',
  'NumericGreaterThan',
  'NumericGreaterThanEquals',
  'DateEquals',
  'DateNotEquals',
  'DateLessThan',
  'DateLessThanEquals',
  'DateGreaterThan',
  'DateGreaterThanEquals',
  'Bool',
  'BinaryEquals',
  'IpAddress',
  'NotIpAddress',
  'ArnEquals',
  'ArnLike',
  'ArnNotEquals',
  'ArnNotLike',
  'Null',
]);

/** An operator name split into its parts: `ForAnyValue:StringLikeIfExists` → set, base, ifExists. */
export interface ParsedOperator {
  readonly set?: 'ForAnyValue' | 'ForAllValues';
  readonly base: string;
  readonly ifExists: boolean;
}

/** Splits a condition operator name, or returns `undefined` if it is not one AWS defines. */
export function parseConditionOperator(name: string): ParsedOperator | undefined {
  let rest = name;
  let set: ParsedOperator['set'];
  const colon = rest.indexOf(':');
  if (colon !== -1) {
    const prefix = rest.slice(0, colon);
    if (prefix !== 'ForAnyValue' && prefix !== 'ForAllValues') return undefined;
    set = prefix;
    rest = rest.slice(colon + 1);
  }
  const ifExists = rest.endsWith('IfExists');
  const base = ifExists ? rest.slice(0, -'IfExists'.length) : rest;
  if (!CONDITION_OPERATORS.has(base) || (ifExists && base === 'Null')) return undefined;
  return set === undefined ? { base, ifExists } : { set, base, ifExists };
}

const STATEMENT_ELEMENTS = new Set([
  'Sid',
  'Effect',
  'Action',
  'NotAction',
  'Resource',
  'NotResource',
  'Principal',
  'NotPrincipal',
  'Condition',
]);
const PRINCIPAL_KINDS = new Set(['AWS', 'Service', 'Federated', 'CanonicalUser']);
const ACTION = /^(\*|[a-z0-9-]+:[A-Za-z0-9*?]+)$/i;

/**
 * Checks a policy document (an object, or its JSON text) and returns it with every element as an array and
 * every condition value as a string. Throws a {@link PolicyError} naming what is wrong, e.g.
 * `Statement[0].Resource: expected a string or an array of strings, got {"Fn::GetAtt":["Queue","Arn"]}`.
 * Policy variables (`${aws:username}`) are not expanded: they compare as text.
 */
export function normalizePolicy(document: unknown, kind: PolicyKind = 'any'): NormalizedPolicy {
  let doc = document;
  if (typeof doc === 'string') {
    try {
      doc = JSON.parse(doc);
    } catch (error) {
      throw new PolicyError(`the policy is not valid JSON: ${(error as Error).message}`);
    }
  }
  if (!isRecord(doc)) throw new PolicyError(`a policy document must be an object, got ${show(doc)}`);
  for (const key of Object.keys(doc)) {
    if (key !== 'Version' && key !== 'Id' && key !== 'Statement') {
      throw new PolicyError(`unknown policy element "${key}" (expected Version, Id, Statement)`);
    }
  }
  const version = doc.Version ?? '2008-10-17';
  if (version !== '2012-10-17' && version !== '2008-10-17') {
    throw new PolicyError(`Version: expected "2012-10-17" or "2008-10-17", got ${show(version)}`);
  }
  if (doc.Id !== undefined && typeof doc.Id !== 'string') {
    throw new PolicyError(`Id: expected a string, got ${show(doc.Id)}`);
  }
  if (doc.Statement === undefined) throw new PolicyError('the policy has no Statement');
  const statements = Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement];
  const normalized: NormalizedPolicy = {
    Version: version,
    Statement: statements.map((statement, index) =>
      normalizeStatement(statement, `Statement[${index}]`, kind),
    ),
  };
  return doc.Id === undefined ? normalized : { ...normalized, Id: doc.Id as string };
}

function normalizeStatement(statement: unknown, where: string, kind: PolicyKind): NormalizedStatement {
  if (!isRecord(statement))
    throw new PolicyError(`${where}: a statement must be an object, got ${show(statement)}`);
  for (const key of Object.keys(statement)) {
    if (!STATEMENT_ELEMENTS.has(key)) throw new PolicyError(`${where}: unknown element "${key}"`);
  }
  const out: Record<string, unknown> = {};
  if (statement.Sid !== undefined) {
    if (typeof statement.Sid !== 'string') throw new PolicyError(`${where}.Sid: expected a string`);
    out.Sid = statement.Sid;
  }
  if (statement.Effect !== 'Allow' && statement.Effect !== 'Deny') {
    throw new PolicyError(`${where}.Effect: expected "Allow" or "Deny", got ${show(statement.Effect)}`);
  }
  out.Effect = statement.Effect;

  const actionKey = exactlyOne(statement, 'Action', 'NotAction', where, true) as string;
  out[actionKey] = strings(statement[actionKey], `${where}.${actionKey}`).map((action, i) => {
    if (!ACTION.test(action)) {
      throw new PolicyError(
        `${where}.${actionKey}[${i}]: ${show(action)} is not an action ("service:Operation", wildcards * and ? allowed, or "*")`,
      );
    }
    return action;
  });

  const principalKey = exactlyOne(statement, 'Principal', 'NotPrincipal', where, kind === 'resource');
  if (principalKey !== undefined) {
    if (kind === 'identity') {
      throw new PolicyError(`${where}.${principalKey}: an identity-based policy cannot name a principal`);
    }
    out[principalKey] = normalizePrincipal(statement[principalKey], `${where}.${principalKey}`);
  }

  const resourceRequired = kind === 'identity' || (kind === 'any' && principalKey === undefined);
  const resourceKey = exactlyOne(statement, 'Resource', 'NotResource', where, resourceRequired);
  if (resourceKey !== undefined) {
    out[resourceKey] = strings(statement[resourceKey], `${where}.${resourceKey}`).map((resource, i) => {
      if (resource !== '*' && !resource.startsWith('arn:')) {
        throw new PolicyError(`${where}.${resourceKey}[${i}]: ${show(resource)} is neither "*" nor an ARN`);
      }
      return resource;
    });
  }

  if (statement.Condition !== undefined) {
    out.Condition = normalizeCondition(statement.Condition, `${where}.Condition`);
  }
  return out as unknown as NormalizedStatement;
}

function exactlyOne(
  statement: Record<string, unknown>,
  a: string,
  b: string,
  where: string,
  required: boolean,
): string | undefined {
  const hasA = statement[a] !== undefined;
  const hasB = statement[b] !== undefined;
  if (hasA && hasB) throw new PolicyError(`${where}: has both ${a} and ${b} (a statement takes one)`);
  if (!hasA && !hasB) {
    if (required) throw new PolicyError(`${where}: has neither ${a} nor ${b}`);
    return undefined;
  }
  return hasA ? a : b;
}

function normalizePrincipal(value: unknown, where: string): NormalizedPrincipal {
  if (value === '*') return '*';
  if (!isRecord(value)) {
    throw new PolicyError(
      `${where}: expected "*" or an object such as {"AWS": …, "Service": …}, got ${show(value)}`,
    );
  }
  const out: Record<string, readonly string[]> = {};
  for (const [kind, ids] of Object.entries(value)) {
    if (!PRINCIPAL_KINDS.has(kind)) {
      throw new PolicyError(
        `${where}: unknown principal kind "${kind}" (expected AWS, Service, Federated, CanonicalUser)`,
      );
    }
    out[kind] = strings(ids, `${where}.${kind}`).map((id, i) => {
      if (kind === 'AWS' && id !== '*' && !/^\d{12}$/.test(id) && !id.startsWith('arn:')) {
        throw new PolicyError(`${where}.AWS[${i}]: ${show(id)} is neither "*", an account id nor an ARN`);
      }
      if (id === '') throw new PolicyError(`${where}.${kind}[${i}]: empty principal`);
      return id;
    });
  }
  if (Object.keys(out).length === 0) throw new PolicyError(`${where}: names no principal`);
  return out;
}

function normalizeCondition(
  value: unknown,
  where: string,
): Record<string, Record<string, readonly string[]>> {
  if (!isRecord(value)) throw new PolicyError(`${where}: expected an object, got ${show(value)}`);
  const out: Record<string, Record<string, readonly string[]>> = {};
  for (const [operator, block] of Object.entries(value)) {
    if (parseConditionOperator(operator) === undefined) {
      throw new PolicyError(`${where}: unknown condition operator "${operator}"`);
    }
    if (!isRecord(block)) {
      throw new PolicyError(`${where}.${operator}: expected {"key": value(s)}, got ${show(block)}`);
    }
    const keys: Record<string, readonly string[]> = {};
    for (const [key, values] of Object.entries(block)) {
      const list = Array.isArray(values) ? values : [values];
      keys[key] = list.map((v, i) => {
        if (typeof v === 'string') return v;
        if (typeof v === 'number' || typeof v === 'boolean') return String(v);
        throw new PolicyError(
          `${where}.${operator}["${key}"][${i}]: expected a string, number or boolean, got ${show(v)}`,
        );
      });
    }
    out[operator] = keys;
  }
  return out;
}

function strings(value: unknown, where: string): string[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) throw new PolicyError(`${where}: empty list`);
  return list.map((item) => {
    if (typeof item !== 'string') {
      const hint = isRecord(item) && Object.keys(item).some((k) => k === 'Ref' || k.startsWith('Fn::'));
      throw new PolicyError(
        `${where}: expected a string or an array of strings, got ${show(item)}${hint ? ' (an unresolved CloudFormation intrinsic?)' : ''}`,
      );
    }
    return item;
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function show(value: unknown): string {
  const text = value === undefined ? 'undefined' : JSON.stringify(value);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}
