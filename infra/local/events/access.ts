/** What IAM checks for an EventBridge request arriving at the edge: `events:<Operation>` on the bus or rule. */
import type { AccessRequest } from '../iam/access.ts';

/** The ARN of an event bus given by name or ARN (`default` when none is given). */
export function eventBusArn(nameOrArn: unknown, region: string, accountId: string): string {
  const name = typeof nameOrArn === 'string' && nameOrArn !== '' ? nameOrArn : 'default';
  return name.startsWith('arn:') ? name : `arn:aws:events:${region}:${accountId}:event-bus/${name}`;
}

/** The access a `AWSEvents.<operation>` request asks for: PutEvents is authorized on each entry's bus. */
export function eventsAccess(
  operation: string,
  input: Record<string, unknown>,
  where: { readonly region: string; readonly accountId: string },
): AccessRequest[] {
  const action = `events:${operation}`;
  if (operation === 'PutEvents' && Array.isArray(input.Entries)) {
    const buses = new Set(
      input.Entries.map((entry: { EventBusName?: unknown }) =>
        eventBusArn(entry?.EventBusName, where.region, where.accountId),
      ),
    );
    return [...buses].map((resource) => ({ action, resource }));
  }
  if (typeof input.Rule === 'string' || (typeof input.Name === 'string' && operation.includes('Rule'))) {
    const rule = String(input.Rule ?? input.Name);
    const bus = typeof input.EventBusName === 'string' ? `${input.EventBusName}/` : '';
    const resource = rule.startsWith('arn:')
      ? rule
      : `arn:aws:events:${where.region}:${where.accountId}:rule/${bus}${rule}`;
    return [{ action, resource }];
  }
  if (typeof input.EventBusName === 'string') {
    return [{ action, resource: eventBusArn(input.EventBusName, where.region, where.accountId) }];
  }
  return [{ action, resource: '*' }];
}
