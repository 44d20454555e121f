/** What IAM checks for a CloudWatch Logs request arriving at the edge: `logs:<Operation>` on the group or stream. */
import type { AccessRequest } from '../iam/access.ts';

/** The ARN IAM uses for a log group (`…:log-group:<name>:*`) or one of its streams. */
export function logArn(region: string, accountId: string, group: string, stream?: string): string {
  const base = `arn:aws:logs:${region}:${accountId}:log-group:${group}`;
  return stream === undefined ? `${base}:*` : `${base}:log-stream:${stream}`;
}

/** The access a `Logs_20140328.<operation>` request asks for. */
export function logsAccess(
  operation: string,
  input: Record<string, unknown>,
  where: { readonly region: string; readonly accountId: string },
): AccessRequest[] {
  const action = `logs:${operation}`;
  const group = input.logGroupName ?? input.logGroupIdentifier;
  if (typeof group !== 'string') return [{ action, resource: '*' }];
  const name = group.startsWith('arn:') ? (/:log-group:([^:]+)/.exec(group)?.[1] ?? group) : group;
  const stream =
    (operation === 'PutLogEvents' || operation === 'CreateLogStream') &&
    typeof input.logStreamName === 'string'
      ? input.logStreamName
      : undefined;
  return [{ action, resource: logArn(where.region, where.accountId, name, stream) }];
}
