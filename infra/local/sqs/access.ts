/** What IAM checks for an SQS request arriving at the edge: `sqs:<Action>` on the queue's ARN. */
import type { AccessRequest } from '../iam/access.ts';

/** The queue ARN of a queue URL (`http://host/<account>/<name>`) or, for CreateQueue, of its name. */
export function queueArnOf(queueUrlOrName: string, region: string, accountId: string): string {
  const [account, name] = queueUrlOrName.includes('/')
    ? queueUrlOrName.split('/').slice(-2)
    : [accountId, queueUrlOrName];
  return `arn:aws:sqs:${region}:${account}:${name}`;
}

/**
 * The access an SQS request (JSON `AmazonSQS.<operation>` or query `Action=<operation>`) asks for. The batch
 * actions are authorized as their single forms, as SQS does (`SendMessageBatch` needs `sqs:SendMessage`).
 */
export function sqsAccess(
  operation: string,
  input: Record<string, unknown>,
  where: { readonly region: string; readonly accountId: string },
): AccessRequest[] {
  const action = `sqs:${operation.replace(/Batch$/, '')}`;
  const queue = input.QueueUrl ?? input.QueueName;
  if (typeof queue !== 'string') return [{ action, resource: '*' }];
  return [{ action, resource: queueArnOf(queue, where.region, where.accountId) }];
}
