/**
 * The shapes, errors and naming rules shared by the template resolver, the deployer and the resource
 * providers. It imports nothing of theirs, so each of them can import it.
 */
import { createHash } from 'node:crypto';

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

/** Whether a type is a custom resource (`Custom::…` or `AWS::CloudFormation::CustomResource`). */
export function isCustomResourceType(type: string): boolean {
  return type.startsWith('Custom::') || type === 'AWS::CloudFormation::CustomResource';
}

/** Alphabets of the deterministic stand-ins for CloudFormation's random parts. */
export const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
export const LOWER = 'abcdefghijklmnopqrstuvwxyz0123456789';
export const MIXED = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A deterministic stand-in for CloudFormation's random suffix: the same logical id gives the same name. */
export function pseudoRandom(seed: string, length: number, alphabet = UPPER): string {
  const bytes = createHash('sha256').update(seed).digest();
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[(bytes[i % bytes.length] ?? 0) % alphabet.length];
  return out;
}

/** The seed of a resource's deterministic names and ids. */
export function resourceSeed(stackName: string, logicalId: string): string {
  return `${stackName}/${logicalId}`;
}

/**
 * `<Stack>-<LogicalId>-<suffix>` truncated to `limit`, the name CloudFormation generates for most types.
 * @param suffix @default 13 upper-case letters and digits
 */
export function stackGeneratedName(
  stackName: string,
  logicalId: string,
  limit: number,
  suffix = pseudoRandom(resourceSeed(stackName, logicalId), 13),
): string {
  const prefix = `${stackName}-${logicalId}`.slice(0, limit - suffix.length - 1);
  return `${prefix}-${suffix}`;
}

/** `<Stack>-<LogicalId (20)>-<RANDOM12>`: the physical id of types with no name (permissions, policies). */
export function shortPhysicalId(stackName: string, logicalId: string): string {
  return `${stackName}-${logicalId.slice(0, 20)}-${pseudoRandom(resourceSeed(stackName, logicalId), 12)}`;
}

/** A version-4-shaped UUID derived from a seed. */
export function deterministicUuid(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
