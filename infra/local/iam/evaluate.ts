/**
 * AWS's policy evaluation logic for a request within one account, small and pure
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):
 *
 * 1. an explicit `Deny` in any applicable policy (identity-based, or resource-based naming the principal or its
 *    account) denies;
 * 2. otherwise the account root user is allowed;
 * 3. otherwise an `Allow` in an identity-based policy of a role session, or in the resource-based policy naming the
 *    principal itself (its session, its role, a service, or `*`), allows. A resource-based policy naming only the
 *    *account* delegates to the account's identity-based policies: it grants nothing by itself
 *    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-accounts);
 * 4. otherwise the request is implicitly denied. Service principals (`events.amazonaws.com`) have no identity-based
 *    policies: only the resource-based policy can allow them.
 *
 * Not modelled: permissions boundaries, session policies, SCPs/RCPs, policy variables (`${aws:username}` compares as
 * text), IPv6 in `IpAddress`.
 */
import {
  type NormalizedPolicy,
  type NormalizedPrincipal,
  type NormalizedStatement,
  normalizePolicy,
  type PolicyDocument,
  PolicyError,
  type PolicyKind,
  parseConditionOperator,
} from './policy.ts';

/** Who makes a request. */
export interface RequestPrincipal {
  /** The root ARN, the session ARN (`arn:aws:sts::<acct>:assumed-role/<Role>/<session>`) or the service name. */
  readonly arn: string;
  readonly kind: 'root' | 'role-session' | 'service';
  /** For `service`: `events.amazonaws.com`, … (defaults to `arn`). */
  readonly service?: string;
  /** For `role-session`: the role's ARN (`arn:aws:iam::<acct>:role/<path/><Role>`). */
  readonly roleArn?: string;
}

/** A condition key's value: one string, or several for a multivalued key. */
export type ContextValue = string | readonly string[];

/** What is evaluated: who does which action on which resource, with the request's condition keys. */
export interface EvaluationRequest {
  readonly principal: RequestPrincipal;
  /** `service:Operation`. */
  readonly action: string;
  /** The resource's ARN, or `*`. */
  readonly resource: string;
  /** Condition keys of the request (names are case-insensitive). The principal's own keys are added. */
  readonly context?: Readonly<Record<string, ContextValue>>;
}

/** The policies that apply: the principal's identity-based ones and the resource's resource-based one. */
export interface PolicySet {
  readonly identity: readonly (PolicyDocument | NormalizedPolicy | CompiledPolicy)[];
  readonly resource?: PolicyDocument | NormalizedPolicy | CompiledPolicy;
}

/** Why a request was allowed or denied; the denials read as the end of AWS's `AccessDenied` message. */
export type EvaluationReason =
  | 'an identity-based policy allows'
  | 'a resource-based policy allows'
  | 'the account root user is allowed'
  | 'no identity-based policy allows'
  | 'no resource-based policy allows'
  | 'an explicit deny in an identity-based policy'
  | 'an explicit deny in a resource-based policy';

/** The outcome of {@link evaluate}. */
export interface EvaluationResult {
  readonly decision: 'allow' | 'explicit-deny' | 'implicit-deny';
  readonly reason: EvaluationReason;
  /** The statement that decided (absent for an implicit deny and for the root user). */
  readonly by?: {
    readonly policy: 'identity' | 'resource';
    readonly name: string;
    readonly statement: string;
  };
}

/** How a resource-based statement's principal element matches the requester. */
type PrincipalMatch = 'direct' | 'account' | 'none';

interface CompiledPrincipal {
  readonly wildcard: boolean;
  readonly arns: ReadonlySet<string>;
  readonly accounts: ReadonlySet<string>;
  readonly services: ReadonlySet<string>;
}

interface CompiledCondition {
  /** The key, lower-cased. */
  readonly key: string;
  readonly set: 'ForAnyValue' | 'ForAllValues' | undefined;
  readonly ifExists: boolean;
  readonly negated: boolean;
  /** For `Null`: the key must be absent (`true`) / present (`false`); either if both values are listed. */
  readonly isNull: boolean;
  readonly nullValues: readonly string[];
  /** Whether one request value matches any policy value (before negation). */
  readonly test: (value: string) => boolean;
}

interface CompiledStatement {
  /** The Sid, or `#<index>`. */
  readonly label: string;
  readonly deny: boolean;
  readonly actions: RegExp;
  readonly notAction: boolean;
  /** `undefined`: the statement has no Resource element (a trust policy): any resource. */
  readonly resources: RegExp | undefined;
  readonly notResource: boolean;
  readonly principal: CompiledPrincipal | undefined;
  readonly notPrincipal: boolean;
  readonly conditions: readonly CompiledCondition[];
}

/** A policy checked and turned into matchers once, so that evaluating it costs no parsing. */
export class CompiledPolicy {
  readonly name: string;
  readonly statements: readonly CompiledStatement[];

  constructor(name: string, statements: readonly CompiledStatement[]) {
    this.name = name;
    this.statements = statements;
  }
}

/**
 * Checks ({@link normalizePolicy}) and compiles a policy document. Throws a `PolicyError` if it is invalid, its
 * message prefixed with the policy's name.
 */
export function compilePolicy(document: unknown, name = 'policy', kind: PolicyKind = 'any'): CompiledPolicy {
  let policy: NormalizedPolicy;
  try {
    policy = normalizePolicy(document, kind);
  } catch (error) {
    throw error instanceof PolicyError ? new PolicyError(`${name}: ${error.message}`) : error;
  }
  return new CompiledPolicy(
    name,
    policy.Statement.map((statement, index) => compileStatement(statement, index)),
  );
}

const compiledIdentity = new WeakMap<object, CompiledPolicy>();
const compiledResource = new WeakMap<object, CompiledPolicy>();

function compiled(
  policy: PolicyDocument | NormalizedPolicy | CompiledPolicy,
  kind: 'identity' | 'resource',
  index: number,
): CompiledPolicy {
  if (policy instanceof CompiledPolicy) return policy;
  const cache = kind === 'identity' ? compiledIdentity : compiledResource;
  let result = cache.get(policy);
  if (result === undefined) {
    result = compilePolicy(
      policy,
      kind === 'identity' ? `identity policy #${index}` : 'resource policy',
      kind,
    );
    cache.set(policy, result);
  }
  return result;
}

/**
 * Evaluates a request against the policies that apply to it (see the module comment for the rules). Pure: the
 * same request and policies always give the same result.
 */
export function evaluate(request: EvaluationRequest, policies: PolicySet): EvaluationResult {
  const { principal, action, resource } = request;
  const context = requestContext(request);
  const identity =
    principal.kind === 'service' ? [] : policies.identity.map((p, i) => compiled(p, 'identity', i));
  const resourcePolicy =
    policies.resource === undefined ? undefined : compiled(policies.resource, 'resource', 0);
  const account = accountOf(principal.arn);

  // 1. An explicit deny anywhere wins.
  for (const policy of identity) {
    for (const statement of policy.statements) {
      if (statement.deny && applies(statement, action, resource, context)) {
        return explicitDeny('identity', policy, statement);
      }
    }
  }
  if (resourcePolicy !== undefined) {
    for (const statement of resourcePolicy.statements) {
      if (
        statement.deny &&
        principalMatch(statement, principal, account) !== 'none' &&
        applies(statement, action, resource, context)
      ) {
        return explicitDeny('resource', resourcePolicy, statement);
      }
    }
  }

  // 2. The root user has full access.
  if (principal.kind === 'root') return { decision: 'allow', reason: 'the account root user is allowed' };

  // 3. An allow in an identity-based policy, or in the resource-based policy naming the principal itself.
  for (const policy of identity) {
    for (const statement of policy.statements) {
      if (!statement.deny && applies(statement, action, resource, context)) {
        return allowedBy('identity', policy, statement);
      }
    }
  }
  if (resourcePolicy !== undefined) {
    for (const statement of resourcePolicy.statements) {
      if (
        !statement.deny &&
        principalMatch(statement, principal, account) === 'direct' &&
        applies(statement, action, resource, context)
      ) {
        return allowedBy('resource', resourcePolicy, statement);
      }
    }
  }

  // 4. Implicit deny.
  return {
    decision: 'implicit-deny',
    reason:
      principal.kind === 'service' ? 'no resource-based policy allows' : 'no identity-based policy allows',
  };
}

function explicitDeny(kind: 'identity' | 'resource', policy: CompiledPolicy, statement: CompiledStatement) {
  return {
    decision: 'explicit-deny',
    reason:
      kind === 'identity'
        ? 'an explicit deny in an identity-based policy'
        : 'an explicit deny in a resource-based policy',
    by: { policy: kind, name: policy.name, statement: statement.label },
  } as const;
}

function allowedBy(kind: 'identity' | 'resource', policy: CompiledPolicy, statement: CompiledStatement) {
  return {
    decision: 'allow',
    reason: kind === 'identity' ? 'an identity-based policy allows' : 'a resource-based policy allows',
    by: { policy: kind, name: policy.name, statement: statement.label },
  } as const;
}

/**
 * The condition keys AWS adds for the principal (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html):
 * `aws:PrincipalArn` (a session's *role* ARN), `aws:PrincipalAccount`, `aws:PrincipalType`,
 * `aws:PrincipalIsAWSService` and, for a service, `aws:PrincipalServiceName`.
 */
export function principalContext(principal: RequestPrincipal): Record<string, string> {
  if (principal.kind === 'service') {
    return {
      'aws:PrincipalServiceName': principal.service ?? principal.arn,
      'aws:PrincipalIsAWSService': 'true',
    };
  }
  const account = accountOf(principal.arn) ?? '';
  if (principal.kind === 'root') {
    return {
      'aws:PrincipalArn': principal.arn,
      'aws:PrincipalAccount': account,
      'aws:PrincipalType': 'Account',
      'aws:PrincipalIsAWSService': 'false',
    };
  }
  return {
    'aws:PrincipalArn': principal.roleArn ?? roleArnOfSession(principal.arn),
    'aws:PrincipalAccount': account,
    'aws:PrincipalType': 'AssumedRole',
    'aws:PrincipalIsAWSService': 'false',
  };
}

/** The request's condition keys, lower-cased, with the principal's keys (which the request cannot override). */
function requestContext(request: EvaluationRequest): Map<string, ContextValue> {
  const context = new Map<string, ContextValue>();
  if (request.context !== undefined) {
    for (const key in request.context) context.set(key.toLowerCase(), request.context[key] as ContextValue);
  }
  const own = principalContext(request.principal);
  for (const key in own) context.set(key.toLowerCase(), own[key] as string);
  return context;
}

/** The account id in an ARN (its fifth field), or `undefined`. */
export function accountOf(arn: string): string | undefined {
  const parts = arn.split(':', 5);
  return parts.length === 5 && parts[0] === 'arn' && parts[4] !== '' ? parts[4] : undefined;
}

/** `arn:aws:sts::<acct>:assumed-role/<Role>/<session>` → `arn:aws:iam::<acct>:role/<Role>` (without a path). */
export function roleArnOfSession(sessionArn: string): string {
  const match = /^arn:([^:]+):sts::(\d+):assumed-role\/([^/]+)\//.exec(sessionArn);
  return match === null ? sessionArn : `arn:${match[1]}:iam::${match[2]}:role/${match[3]}`;
}

function applies(
  statement: CompiledStatement,
  action: string,
  resource: string,
  context: ReadonlyMap<string, ContextValue>,
): boolean {
  if (statement.actions.test(action) === statement.notAction) return false;
  if (statement.resources !== undefined && statement.resources.test(resource) === statement.notResource) {
    return false;
  }
  for (const condition of statement.conditions) {
    if (!conditionHolds(condition, context.get(condition.key))) return false;
  }
  return true;
}

function principalMatch(
  statement: CompiledStatement,
  principal: RequestPrincipal,
  account: string | undefined,
): PrincipalMatch {
  const p = statement.principal;
  if (p === undefined) return 'none';
  if (statement.notPrincipal) {
    // NotPrincipal excludes a principal only if every identity it acts as is listed: a role session is its
    // session, its role and its account (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html).
    return listedInNotPrincipal(p, principal, account) ? 'none' : 'direct';
  }
  if (p.wildcard) return 'direct';
  switch (principal.kind) {
    case 'service':
      return p.services.has(principal.service ?? principal.arn) ? 'direct' : 'none';
    case 'root':
      return account !== undefined && p.accounts.has(account) ? 'direct' : 'none';
    case 'role-session': {
      const roleArn = principal.roleArn ?? roleArnOfSession(principal.arn);
      if (p.arns.has(principal.arn) || p.arns.has(roleArn)) return 'direct';
      return account !== undefined && p.accounts.has(account) ? 'account' : 'none';
    }
  }
}

function listedInNotPrincipal(
  p: CompiledPrincipal,
  principal: RequestPrincipal,
  account: string | undefined,
): boolean {
  if (p.wildcard) return true;
  switch (principal.kind) {
    case 'service':
      return p.services.has(principal.service ?? principal.arn);
    case 'root':
      return account !== undefined && p.accounts.has(account);
    case 'role-session':
      return (
        p.arns.has(principal.arn) &&
        p.arns.has(principal.roleArn ?? roleArnOfSession(principal.arn)) &&
        account !== undefined &&
        p.accounts.has(account)
      );
  }
}

function conditionHolds(condition: CompiledCondition, value: ContextValue | undefined): boolean {
  if (condition.isNull) {
    const wanted = value === undefined ? 'true' : 'false';
    return condition.nullValues.includes(wanted);
  }
  if (value === undefined) {
    // A missing key fails the condition, except with …IfExists, ForAllValues (vacuously true) and the negated
    // operators (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html).
    if (condition.ifExists || condition.set === 'ForAllValues') return true;
    if (condition.set === 'ForAnyValue') return false;
    return condition.negated;
  }
  if (condition.set === undefined) {
    // A multivalued key needs a set operator; without one the condition does not match.
    if (typeof value !== 'string') return false;
    return condition.test(value) !== condition.negated;
  }
  const values = typeof value === 'string' ? [value] : value;
  if (condition.set === 'ForAnyValue') return values.some((v) => condition.test(v) !== condition.negated);
  return values.every((v) => condition.test(v) !== condition.negated);
}

// ---------------------------------------------------------------------------------------------------------------
// Compilation

function compileStatement(statement: NormalizedStatement, index: number): CompiledStatement {
  const actions = statement.Action ?? statement.NotAction ?? [];
  const resources = statement.Resource ?? statement.NotResource;
  const principal = statement.Principal ?? statement.NotPrincipal;
  const conditions: CompiledCondition[] = [];
  for (const [operator, block] of Object.entries(statement.Condition ?? {})) {
    for (const [key, values] of Object.entries(block))
      conditions.push(compileCondition(operator, key, values));
  }
  return {
    label: statement.Sid ?? `#${index}`,
    deny: statement.Effect === 'Deny',
    actions: new RegExp(`^(?:${actions.map((a) => glob(a, '.*', '.')).join('|')})$`, 'i'),
    notAction: statement.NotAction !== undefined,
    resources:
      resources === undefined ? undefined : new RegExp(`^(?:${resources.map(resourcePattern).join('|')})$`),
    notResource: statement.NotResource !== undefined,
    principal: principal === undefined ? undefined : compilePrincipal(principal),
    notPrincipal: statement.NotPrincipal !== undefined,
    conditions,
  };
}

function compilePrincipal(principal: NormalizedPrincipal): CompiledPrincipal {
  if (principal === '*') return { wildcard: true, arns: new Set(), accounts: new Set(), services: new Set() };
  const arns = new Set<string>();
  const accounts = new Set<string>();
  let wildcard = false;
  for (const id of principal.AWS ?? []) {
    const root = /^arn:[^:]+:iam::(\d{12}):root$/.exec(id);
    if (id === '*') wildcard = true;
    else if (/^\d{12}$/.test(id)) accounts.add(id);
    else if (root !== null) accounts.add(root[1] as string);
    else arns.add(id);
  }
  return { wildcard, arns, accounts, services: new Set(principal.Service ?? []) };
}

/**
 * A `Resource` pattern as a regular expression: `*` and `?` match within a segment of the ARN, except that a `*`
 * ending a segment, and any `*` in the resource part (after the fifth colon), also match across `:` and `/`
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html#reference_policies_elements_resource_wildcards).
 * A short pattern (`arn:aws:sqs:*`) thus covers every ARN it is a prefix of; case matters.
 */
function resourcePattern(pattern: string): string {
  if (pattern === '*') return '.*';
  let source = '';
  let colons = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === ':') {
      colons++;
      source += ':';
    } else if (c === '*') {
      const endsSegment = i + 1 === pattern.length || pattern[i + 1] === ':';
      source += colons >= 5 || endsSegment ? '.*' : '[^:]*';
    } else if (c === '?') {
      source += colons >= 5 ? '.' : '[^:]';
    } else {
      source += escapeRegex(c);
    }
  }
  return source;
}

/**
 * An `ArnLike`/`ArnEquals` value as a regular expression: each of the six colon-separated components is matched
 * on its own (the last, the resource, may contain colons); a value with fewer components matches nothing.
 */
function arnConditionPattern(pattern: string): string {
  const parts = pattern.split(':');
  if (parts.length < 6) return '(?!)';
  const head = parts.slice(0, 5).map((part) => glob(part, '[^:]*', '[^:]'));
  return [...head, glob(parts.slice(5).join(':'), '.*', '.')].join(':');
}

function glob(pattern: string, star: string, one: string): string {
  let source = '';
  for (const c of pattern) source += c === '*' ? star : c === '?' ? one : escapeRegex(c);
  return source;
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const NEGATED: Readonly<Record<string, string>> = {
  StringNotEquals: 'StringEquals',
  StringNotEqualsIgnoreCase: 'StringEqualsIgnoreCase',
  StringNotLike: 'StringLike',
  NumericNotEquals: 'NumericEquals',
  DateNotEquals: 'DateEquals',
  ArnNotEquals: 'ArnEquals',
  ArnNotLike: 'ArnLike',
  NotIpAddress: 'IpAddress',
};

function compileCondition(operator: string, key: string, values: readonly string[]): CompiledCondition {
  const parsed = parseConditionOperator(operator);
  if (parsed === undefined) throw new Error(`unknown condition operator ${operator}`); // normalizePolicy checked it
  const positive = NEGATED[parsed.base] ?? parsed.base;
  return {
    key: key.toLowerCase(),
    set: parsed.set,
    ifExists: parsed.ifExists,
    negated: positive !== parsed.base,
    isNull: parsed.base === 'Null',
    nullValues: values.map((v) => v.toLowerCase()),
    test: valueTest(positive, values),
  };
}

/** Whether a request value matches any of the policy values under a (positive) operator. */
function valueTest(operator: string, values: readonly string[]): (value: string) => boolean {
  switch (operator) {
    case 'StringEquals':
    case 'BinaryEquals': {
      const set = new Set(values);
      return (v) => set.has(v);
    }
    case 'StringEqualsIgnoreCase': {
      const set = new Set(values.map((v) => v.toLowerCase()));
      return (v) => set.has(v.toLowerCase());
    }
    case 'StringLike': {
      const regex = new RegExp(`^(?:${values.map((v) => glob(v, '.*', '.')).join('|')})$`, 's');
      return (v) => regex.test(v);
    }
    case 'ArnEquals':
    case 'ArnLike': {
      const regex = new RegExp(`^(?:${values.map(arnConditionPattern).join('|')})$`);
      return (v) => regex.test(v);
    }
    case 'Bool': {
      const set = new Set(values.map((v) => v.toLowerCase()));
      return (v) => {
        const lower = v.toLowerCase();
        return (lower === 'true' || lower === 'false') && set.has(lower);
      };
    }
    case 'NumericEquals':
      return compare(values, Number, (a, b) => a === b);
    case 'NumericLessThan':
      return compare(values, Number, (a, b) => a < b);
    case 'NumericLessThanEquals':
      return compare(values, Number, (a, b) => a <= b);
    case 'NumericGreaterThan':
      return compare(values, Number, (a, b) => a > b);
    case 'NumericGreaterThanEquals':
      return compare(values, Number, (a, b) => a >= b);
    case 'DateEquals':
      return compare(values, toTime, (a, b) => a === b);
    case 'DateLessThan':
      return compare(values, toTime, (a, b) => a < b);
    case 'DateLessThanEquals':
      return compare(values, toTime, (a, b) => a <= b);
    case 'DateGreaterThan':
      return compare(values, toTime, (a, b) => a > b);
    case 'DateGreaterThanEquals':
      return compare(values, toTime, (a, b) => a >= b);
    case 'IpAddress': {
      const ranges = values.map(parseCidr);
      return (v) => {
        const address = parseIpv4(v);
        return (
          address !== undefined && ranges.some((r) => r !== undefined && (address & r.mask) === r.network)
        );
      };
    }
    default:
      return () => false;
  }
}

/** `request <op> policy` for any policy value, both read as numbers (or times); unreadable values never match. */
function compare(
  values: readonly string[],
  read: (text: string) => number,
  op: (request: number, policy: number) => boolean,
): (value: string) => boolean {
  const policy = values.map(read).filter((n) => !Number.isNaN(n));
  return (v) => {
    const n = read(v);
    return !Number.isNaN(n) && policy.some((p) => op(n, p));
  };
}

function toTime(text: string): number {
  if (text.trim() === '') return Number.NaN;
  return /^\d+$/.test(text) ? Number(text) * 1000 : Date.parse(text);
}

function parseIpv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let address = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return undefined;
    address = address * 256 + Number(part);
  }
  return address | 0;
}

function parseCidr(text: string): { network: number; mask: number } | undefined {
  const [ip, bits = '32'] = text.split('/');
  const address = parseIpv4(ip ?? '');
  const length = Number(bits);
  if (address === undefined || !Number.isInteger(length) || length < 0 || length > 32) return undefined;
  const mask = length === 0 ? 0 : (~0 << (32 - length)) | 0;
  return { network: address & mask, mask };
}
