/**
 * AWS::SQS::QueuePolicy → the resource-policy statements of each queue it names (`Queues`, queue URLs), one source
 * per QueuePolicy, when IAM is wired.
 */
import { shortPhysicalId } from '../cloudformation/model.ts';
import type { ResourceProvider } from './provider.ts';
import { iamOutcome, policyStatements } from './support.ts';

export const sqsQueuePolicy: ResourceProvider = {
  type: 'AWS::SQS::QueuePolicy',
  ref: (c) => shortPhysicalId(c.stackName, c.logicalId),
  deploy(ctx) {
    const physicalId = ctx.stack.ref(ctx.logicalId);
    if (!ctx.iam) return iamOutcome(physicalId, false);
    const p = ctx.properties();
    const statements = policyStatements(p.PolicyDocument);
    for (const queue of (p.Queues ?? []) as unknown[]) {
      ctx.iam.putResourceStatements(
        queueArnOfUrl(String(queue), ctx.region, ctx.accountId),
        ctx.logicalId,
        statements,
      );
    }
    return iamOutcome(physicalId, true);
  },
};

/** `arn:aws:sqs:<region>:<account>:<name>` of a queue URL (`…/<account>/<name>`, local or AWS form) or ARN. */
export function queueArnOfUrl(url: string, region: string, accountId: string): string {
  if (url.startsWith('arn:')) return url;
  const [name = '', account = accountId] = url.replace(/\/+$/, '').split('/').reverse();
  return `arn:aws:sqs:${region}:${/^\d{12}$/.test(account) ? account : accountId}:${name}`;
}
