/**
 * The account's IAM state — roles and their policies, resource-based policy statements, the keys of role sessions —
 * and {@link IamAuthority.authorize}, the one check every service of the local cloud calls before doing what a
 * request asks. A denial is the `AccessDeniedException` AWS answers, with AWS's message.
 *
 * Policies are checked and compiled when registered; decisions are memoized per (principal, action, resource,
 * context) until the registry changes, so a repeated check costs a string key and a map lookup.
 */
import { createHmac } from 'node:crypto';
import { AwsError } from '../wire/aws-error.ts';
import type { AccessRequest } from './access.ts';
import {
  CompiledPolicy,
  compilePolicy,
  type EvaluationResult,
  evaluate,
  type RequestPrincipal,
} from './evaluate.ts';
import { awsManagedPolicy, isAwsManagedPolicyArn, UnknownManagedPolicyError } from './managed.ts';
import type { PolicyPrincipal, PolicyStatement } from './policy.ts';

/** `off`: allow everything without evaluating; `warn`: log each distinct denial and allow; `enforce`: deny. */
export type IamMode = 'off' | 'warn' | 'enforce';

/** How to build an {@link IamAuthority}. */
export interface IamAuthorityOptions {
  readonly accountId: string;
  readonly region: string;
  readonly mode: IamMode;
  /** Where `warn` mode writes its lines. @default console.warn */
  readonly log?: (line: string) => void;
  /** The account's own keys: they act as the root user. */
  readonly rootCredentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** The secret role-session keys are derived from. @default derived from the root secret key */
  readonly keySecret?: string;
}

/** An IAM role as a template declares it (`AWS::IAM::Role`). */
export interface RoleDefinition {
  readonly roleName: string;
  readonly roleArn: string;
  /** The trust policy; checked, kept, not evaluated by {@link IamAuthority.authorize}. */
  readonly assumeRolePolicy?: unknown;
  /** `Policies` of the role. */
  readonly inlinePolicies: readonly { readonly name: string; readonly document: unknown }[];
  /** AWS managed (`arn:aws:iam::aws:policy/…`) or customer managed (`arn:aws:iam::<acct>:policy/<name>`). */
  readonly managedPolicyArns: readonly string[];
}

/** Keys of a role session, as STS hands them out. */
export interface TemporaryCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
}

/** Who an access key belongs to, and the secret its signatures are made with. */
export interface KeyOwner {
  readonly principal: RequestPrincipal;
  readonly secretAccessKey: string;
  /** For a role session's keys. */
  readonly sessionToken?: string;
}

/** One check: a principal asking for an action on a resource. */
export interface AuthorizationRequest extends AccessRequest {
  readonly principal: RequestPrincipal;
}

/** AWS's `AccessDeniedException` (HTTP 400), with the evaluation that led to it. */
export class AccessDeniedError extends AwsError {
  readonly request: AuthorizationRequest;
  readonly result: EvaluationResult;

  constructor(request: AuthorizationRequest, result: EvaluationResult) {
    super('AccessDeniedException', accessDeniedMessage(request, result), 400);
    this.name = 'AccessDeniedError';
    this.request = request;
    this.result = result;
  }
}

/**
 * AWS's message for a denial, e.g. `User: arn:aws:sts::000000000000:assumed-role/R/S is not authorized to perform:
 * dynamodb:PutItem on resource: arn:aws:dynamodb:us-east-1:000000000000:table/T because no identity-based policy
 * allows the dynamodb:PutItem action`.
 */
export function accessDeniedMessage(request: AuthorizationRequest, result: EvaluationResult): string {
  const head = `User: ${request.principal.arn} is not authorized to perform: ${request.action} on resource: ${request.resource}`;
  switch (result.reason) {
    case 'an explicit deny in an identity-based policy':
    case 'an explicit deny in a resource-based policy':
      return `${head} with ${result.reason}`;
    case 'no resource-based policy allows':
      return `${head} because no resource-based policy allows the ${request.action} action`;
    default:
      return `${head} because no identity-based policy allows the ${request.action} action`;
  }
}

/**
 * The statement `AWS::Lambda::Permission` (Lambda's AddPermission) puts in a function's resource-based policy:
 * `Principal` is a service (`events.amazonaws.com`), an account id, an ARN or `*`; `SourceArn` becomes an `ArnLike`
 * condition on `aws:SourceArn`, `SourceAccount` a `StringEquals` on `aws:SourceAccount`.
 */
export function lambdaPermissionStatement(permission: {
  readonly action: string;
  readonly principal: string;
  readonly functionArn: string;
  readonly sourceArn?: string;
  readonly sourceAccount?: string;
  readonly sid?: string;
}): PolicyStatement {
  const condition: Record<string, Record<string, string>> = {};
  if (permission.sourceArn !== undefined) condition.ArnLike = { 'AWS:SourceArn': permission.sourceArn };
  if (permission.sourceAccount !== undefined) {
    condition.StringEquals = { 'AWS:SourceAccount': permission.sourceAccount };
  }
  return {
    ...(permission.sid === undefined ? {} : { Sid: permission.sid }),
    Effect: 'Allow',
    Principal: principalElement(permission.principal),
    Action: permission.action,
    Resource: permission.functionArn,
    ...(Object.keys(condition).length === 0 ? {} : { Condition: condition }),
  };
}

function principalElement(principal: string): PolicyPrincipal {
  if (principal === '*') return '*';
  if (/^\d{12}$/.test(principal) || principal.startsWith('arn:')) return { AWS: principal };
  return { Service: principal };
}

interface Role {
  readonly definition: RoleDefinition;
  readonly inline: readonly CompiledPolicy[];
}

interface AttachedPolicy {
  readonly policy: CompiledPolicy;
  readonly roleNames: ReadonlySet<string>;
}

interface ResourceStatements {
  readonly resourceArn: string;
  readonly policy: CompiledPolicy;
}

const MAX_REMEMBERED_DECISIONS = 50_000;

/** The IAM state of the local cloud's one account, and the check every service asks. */
export class IamAuthority {
  readonly accountId: string;
  readonly region: string;
  /** The principal the root credentials act as. */
  readonly rootPrincipal: RequestPrincipal;

  #mode: IamMode;
  readonly #log: (line: string) => void;
  readonly #root: KeyOwner & { readonly accessKeyId: string };
  readonly #keySecret: string;

  readonly #roles = new Map<string, Role>();
  readonly #policies = new Map<string, AttachedPolicy>();
  /** sourceId → the statements it put on each resource. */
  readonly #resourceStatements = new Map<string, ResourceStatements[]>();
  readonly #keys = new Map<string, KeyOwner>();

  // Derived from the registry; cleared on every change.
  readonly #identityCache = new Map<string, readonly CompiledPolicy[]>();
  readonly #resourceCache = new Map<string, CompiledPolicy | null>();
  readonly #decisions = new Map<string, EvaluationResult>();

  constructor(options: IamAuthorityOptions) {
    this.accountId = options.accountId;
    this.region = options.region;
    this.#mode = options.mode;
    this.#log = options.log ?? ((line) => console.warn(line));
    this.rootPrincipal = { arn: `arn:aws:iam::${options.accountId}:root`, kind: 'root' };
    this.#root = { ...options.rootCredentials, principal: this.rootPrincipal };
    this.#keySecret = options.keySecret ?? `iam-session-keys:${options.rootCredentials.secretAccessKey}`;
  }

  /** The current mode. */
  get mode(): IamMode {
    return this.#mode;
  }

  /** Changes the mode (e.g. `saga local --iam warn`); forgets remembered decisions. */
  setMode(mode: IamMode): void {
    this.#mode = mode;
    this.#changed();
  }

  // -------------------------------------------------------------------------------------------------------------
  // Registry

  /**
   * Registers (or replaces) a role. Throws a `PolicyError` if one of its documents is invalid. Returns warnings
   * for managed policy ARNs the local cloud does not know (those grant nothing): the caller decides whether to
   * fail or to log them.
   */
  putRole(role: RoleDefinition): string[] {
    if (role.assumeRolePolicy !== undefined) {
      compilePolicy(role.assumeRolePolicy, `${role.roleName} (trust policy)`, 'resource');
    }
    const inline = role.inlinePolicies.map((p) =>
      compilePolicy(p.document, `${role.roleName}/${p.name}`, 'identity'),
    );
    this.#roles.set(role.roleName, { definition: role, inline });
    this.#changed();
    return role.managedPolicyArns
      .filter((arn) => isAwsManagedPolicyArn(arn) && awsManagedPolicy(arn) === undefined)
      .map(
        (arn) =>
          `role ${role.roleName}: ${new UnknownManagedPolicyError(arn).message}; it grants nothing here`,
      );
  }

  /** Forgets a role (its inline policies with it). */
  deleteRole(roleName: string): void {
    this.#roles.delete(roleName);
    this.#changed();
  }

  /**
   * Registers (or replaces) a policy attached to roles by name: `AWS::IAM::Policy`, or `AWS::IAM::ManagedPolicy`
   * (which a role may also name in its `ManagedPolicyArns`). Throws a `PolicyError` if the document is invalid.
   */
  putPolicy(policyName: string, document: unknown, roleNames: readonly string[]): void {
    const policy = compilePolicy(document, policyName, 'identity');
    this.#policies.set(policyName, { policy, roleNames: new Set(roleNames) });
    this.#changed();
  }

  /** Forgets a policy registered with {@link putPolicy}. */
  deletePolicy(policyName: string): void {
    this.#policies.delete(policyName);
    this.#changed();
  }

  /**
   * Puts resource-based policy statements on a resource, on behalf of `sourceId` (e.g. the logical id of an
   * `AWS::SQS::QueuePolicy`, which calls this once per queue, or of an `AWS::Lambda::Permission`, see
   * {@link lambdaPermissionStatement}). A `resourceArn` with wildcards (`arn:aws:logs:us-east-1:000000000000:*`)
   * puts them on every resource it matches. Replaces what `sourceId` had put on that resource. Throws a
   * `PolicyError` if a statement is invalid.
   */
  putResourceStatements(resourceArn: string, sourceId: string, statements: readonly unknown[]): void {
    const policy = compilePolicy({ Version: '2012-10-17', Statement: statements }, sourceId, 'resource');
    const others = (this.#resourceStatements.get(sourceId) ?? []).filter(
      (s) => s.resourceArn !== resourceArn,
    );
    this.#resourceStatements.set(sourceId, [...others, { resourceArn, policy }]);
    this.#changed();
  }

  /** Removes every statement `sourceId` put, on every resource. */
  removeResourceStatements(sourceId: string): void {
    this.#resourceStatements.delete(sourceId);
    this.#changed();
  }

  #changed(): void {
    this.#identityCache.clear();
    this.#resourceCache.clear();
    this.#decisions.clear();
  }

  // -------------------------------------------------------------------------------------------------------------
  // Principals and keys

  /** The principal of a session of a role: `arn:aws:sts::<acct>:assumed-role/<RoleName>/<sessionName>`. */
  sessionPrincipal(roleArn: string, sessionName: string): RequestPrincipal {
    const account = roleArn.split(':')[4] || this.accountId;
    const roleName = roleArn.slice(roleArn.lastIndexOf('/') + 1);
    return {
      arn: `arn:aws:sts::${account}:assumed-role/${roleName}/${sessionName}`,
      kind: 'role-session',
      roleArn,
    };
  }

  /** The principal of an AWS service acting on its own (`events.amazonaws.com`, `apigateway.amazonaws.com`…). */
  servicePrincipal(service: string): RequestPrincipal {
    return { arn: service, kind: 'service', service };
  }

  /**
   * Keys for a session of a role, as `sts:AssumeRole` hands out: the same role and session name always get the
   * same keys (an HMAC of both with the cloud's key secret). {@link principalForAccessKey} knows them afterwards.
   */
  credentialsForRole(roleArn: string, sessionName: string): TemporaryCredentials {
    const mac = (label: string) =>
      createHmac('sha256', this.#keySecret).update(`${label}\n${roleArn}\n${sessionName}`).digest();
    const credentials = {
      accessKeyId: `ASIA${base32(mac('access-key-id')).slice(0, 16)}`,
      secretAccessKey: mac('secret-access-key').toString('base64').slice(0, 40),
      sessionToken: Buffer.concat([mac('session-token-1'), mac('session-token-2')]).toString('base64'),
    };
    this.#keys.set(credentials.accessKeyId, {
      principal: this.sessionPrincipal(roleArn, sessionName),
      secretAccessKey: credentials.secretAccessKey,
      sessionToken: credentials.sessionToken,
    });
    return credentials;
  }

  /**
   * The owner of an access key: the root user for the root credentials, a role session for keys from
   * {@link credentialsForRole}; `undefined` for any other key (AWS answers `UnrecognizedClientException`:
   * "The security token included in the request is invalid.").
   */
  principalForAccessKey(accessKeyId: string): KeyOwner | undefined {
    if (accessKeyId === this.#root.accessKeyId) {
      return { principal: this.#root.principal, secretAccessKey: this.#root.secretAccessKey };
    }
    return this.#keys.get(accessKeyId);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Decisions

  /**
   * Returns if IAM allows the request; otherwise, in `enforce` mode, throws an {@link AccessDeniedError}, in `warn`
   * mode logs `IAM (warn) <AWS's message>` (once per distinct request until the registry changes) and returns.
   * In `off` mode returns without evaluating. `aws:SecureTransport` is `true` unless the context says otherwise
   * (the local cloud speaks plain HTTP where AWS would speak HTTPS).
   */
  authorize(request: AuthorizationRequest): void {
    if (this.#mode === 'off') return;
    const key = decisionKey(request);
    let result = this.#decisions.get(key);
    if (result === undefined) {
      result = this.#evaluate(request);
      this.#remember(key, result);
      if (result.decision !== 'allow' && this.#mode === 'warn') {
        this.#log(`IAM (warn) ${accessDeniedMessage(request, result)}`);
      }
    }
    if (result.decision !== 'allow' && this.#mode === 'enforce') throw new AccessDeniedError(request, result);
  }

  /** {@link authorize} for each item of a transaction or batch, in order; the first denial throws. */
  authorizeAll(principal: RequestPrincipal, items: readonly AccessRequest[]): void {
    for (const item of items) this.authorize({ principal, ...item });
  }

  /** The decision for a request, whatever the mode (memoized like {@link authorize}). */
  decide(request: AuthorizationRequest): EvaluationResult {
    const key = decisionKey(request);
    let result = this.#decisions.get(key);
    if (result === undefined) {
      result = this.#evaluate(request);
      this.#remember(key, result);
    }
    return result;
  }

  #remember(key: string, result: EvaluationResult): void {
    if (this.#decisions.size >= MAX_REMEMBERED_DECISIONS) this.#decisions.clear();
    this.#decisions.set(key, result);
  }

  #evaluate(request: AuthorizationRequest): EvaluationResult {
    const { principal } = request;
    const identity = principal.kind === 'role-session' ? this.#identityPolicies(principal.arn) : [];
    const resource = this.#resourcePolicy(request.resource);
    return evaluate(
      {
        principal,
        action: request.action,
        resource: request.resource,
        context: { 'aws:SecureTransport': 'true', ...request.context },
      },
      resource === undefined ? { identity } : { identity, resource },
    );
  }

  /** The identity-based policies of the role a session ARN names. */
  #identityPolicies(sessionArn: string): readonly CompiledPolicy[] {
    const roleName = /:assumed-role\/([^/]+)\//.exec(sessionArn)?.[1];
    if (roleName === undefined) return [];
    let policies = this.#identityCache.get(roleName);
    if (policies === undefined) {
      policies = this.#collectIdentityPolicies(roleName);
      this.#identityCache.set(roleName, policies);
    }
    return policies;
  }

  #collectIdentityPolicies(roleName: string): CompiledPolicy[] {
    const role = this.#roles.get(roleName);
    if (role === undefined) return [];
    const policies = [...role.inline];
    for (const arn of role.definition.managedPolicyArns) {
      const aws = compiledAwsManagedPolicy(arn);
      if (aws !== undefined) {
        policies.push(aws);
      } else if (!isAwsManagedPolicyArn(arn)) {
        // A customer managed policy: registered with putPolicy under its name.
        const attached = this.#policies.get(arn.slice(arn.lastIndexOf('/') + 1));
        if (attached !== undefined && !attached.roleNames.has(roleName)) policies.push(attached.policy);
      }
    }
    for (const attached of this.#policies.values()) {
      if (attached.roleNames.has(roleName)) policies.push(attached.policy);
    }
    return policies;
  }

  /** All the resource-based statements on a resource, as one policy. */
  #resourcePolicy(resourceArn: string): CompiledPolicy | undefined {
    let policy = this.#resourceCache.get(resourceArn);
    if (policy === undefined) {
      const sources: string[] = [];
      const statements: CompiledPolicy['statements'][number][] = [];
      for (const [sourceId, entries] of this.#resourceStatements) {
        for (const entry of entries) {
          if (entry.resourceArn === resourceArn || wildcardMatches(entry.resourceArn, resourceArn)) {
            sources.push(sourceId);
            statements.push(...entry.policy.statements);
          }
        }
      }
      policy = statements.length === 0 ? null : new CompiledPolicy(sources.join(', '), statements);
      this.#resourceCache.set(resourceArn, policy);
    }
    return policy ?? undefined;
  }
}

const awsManagedCompiled = new Map<string, CompiledPolicy>();

function compiledAwsManagedPolicy(arn: string): CompiledPolicy | undefined {
  let policy = awsManagedCompiled.get(arn);
  if (policy === undefined) {
    const document = awsManagedPolicy(arn);
    if (document === undefined) return undefined;
    policy = compilePolicy(document, arn, 'identity');
    awsManagedCompiled.set(arn, policy);
  }
  return policy;
}

function decisionKey(request: AuthorizationRequest): string {
  let key = `${request.principal.kind}\u0000${request.principal.arn}\u0000${request.action}\u0000${request.resource}`;
  const context = request.context;
  if (context !== undefined) {
    for (const name in context) {
      const value = context[name] as string | readonly string[];
      key += `\u0000${name}=${typeof value === 'string' ? value : value.join('\u0001')}`;
    }
  }
  return key;
}

function wildcardMatches(pattern: string, arn: string): boolean {
  if (!pattern.includes('*') && !pattern.includes('?')) return false;
  const source = pattern
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`).test(arn);
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  return out;
}
