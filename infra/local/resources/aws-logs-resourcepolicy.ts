/**
 * AWS::Logs::ResourcePolicy → the statements of its `PolicyDocument` on each log group they name, when IAM is
 * wired; accepted with no effect otherwise.
 */
import type { IamRegistry, ResourceProvider } from './provider.ts';
import { iamOutcome, policyStatements } from './support.ts';

export const logsResourcePolicy: ResourceProvider = {
  type: 'AWS::Logs::ResourcePolicy',
  deploy(ctx) {
    const physicalId = ctx.stack.ref(ctx.logicalId);
    if (!ctx.iam) return iamOutcome(physicalId, false);
    putResourcePolicy(ctx.iam, ctx.logicalId, ctx.properties().PolicyDocument);
    return iamOutcome(physicalId, true);
  },
};

/** Registers a resource policy's statements under each `Resource` they name (`*` when none). */
export function putResourcePolicy(iam: IamRegistry, sourceId: string, document: unknown): void {
  const byResource = new Map<string, unknown[]>();
  for (const statement of policyStatements(document)) {
    const resource = (statement as { Resource?: unknown }).Resource ?? '*';
    for (const arn of [resource].flat()) {
      const list = byResource.get(String(arn)) ?? [];
      list.push(statement);
      byResource.set(String(arn), list);
    }
  }
  for (const [arn, statements] of byResource) iam.putResourceStatements(arn, sourceId, statements);
}
