/** Small helpers several resource providers share. */
import type { DeployOutcome } from './provider.ts';

/** A resolved template value as the string CloudFormation would pass (lists comma-joined, objects as JSON). */
export function stringify(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(stringify).join(',');
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
  return String(value);
}

/** A number property, or `undefined` when it is absent or empty. */
export function optionalNumber(value: unknown): number | undefined {
  return value === undefined || value === null || value === '' ? undefined : Number(value);
}

/** An event pattern given as JSON text or as an object. */
export function parsePattern(pattern: unknown): unknown {
  if (typeof pattern !== 'string') return pattern;
  try {
    return JSON.parse(pattern);
  } catch (error) {
    throw new Error(`EventPattern is not JSON: ${pattern.slice(0, 120)}`, { cause: error });
  }
}

/** `Name: message` of an error, for notes and wrapped errors. */
export function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** The ARN of a function given by name, partial ARN (`<account>:function:<name>`) or ARN. */
export function lambdaFunctionArn(nameOrArn: string, region: string, accountId: string): string {
  if (nameOrArn.startsWith('arn:')) return nameOrArn;
  if (/^\d{12}:function:/.test(nameOrArn)) return `arn:aws:lambda:${region}:${nameOrArn}`;
  return `arn:aws:lambda:${region}:${accountId}:function:${nameOrArn}`;
}

/** The statements of a policy document (an object or its JSON text; one statement or a list). */
export function policyStatements(document: unknown): unknown[] {
  const parsed = typeof document === 'string' ? (JSON.parse(document) as unknown) : document;
  const statement =
    typeof parsed === 'object' && parsed !== null ? (parsed as { Statement?: unknown }).Statement : undefined;
  if (statement === undefined) return [];
  return Array.isArray(statement) ? statement : [statement];
}

/** What IAM resources come out as: registered when IAM is wired, else accepted with no effect. */
export function iamOutcome(physicalId: string, registered: boolean): DeployOutcome {
  return registered
    ? { status: 'created', physicalId, note: 'registered with IAM' }
    : { status: 'accepted', physicalId };
}
