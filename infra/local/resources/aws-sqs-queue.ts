/** AWS::SQS::Queue → a queue of the SQS service; `Ref` becomes the queue URL the service gives. */
import { stackGeneratedName } from '../cloudformation/model.ts';
import type { ResourceProvider } from './provider.ts';

export const sqsQueue: ResourceProvider = {
  type: 'AWS::SQS::Queue',
  name: {
    property: 'QueueName',
    limit: 80,
    generate: (c) => {
      const name = stackGeneratedName(c.stackName, c.logicalId, 80);
      return c.property('FifoQueue') === true ? `${name.slice(0, 75)}.fifo` : name;
    },
  },
  ref: (c) => `https://sqs.${c.region}.amazonaws.com/${c.accountId}/${c.physicalName()}`,
  attributes: {
    Arn: (c) => `arn:aws:sqs:${c.region}:${c.accountId}:${c.physicalName()}`,
    QueueName: (c) => c.physicalName(),
    QueueUrl: (c) => c.ref(),
  },
  deploy(ctx) {
    const p = ctx.properties();
    const name = ctx.stack.physicalName(ctx.logicalId);
    const attributes: Record<string, string> = {};
    for (const [key, value] of Object.entries(p)) {
      if (key === 'QueueName' || key === 'Tags') continue;
      attributes[key] = typeof value === 'object' ? JSON.stringify(value) : String(value);
    }
    const queue = ctx.parts.sqs.createQueue({ name, arn: ctx.arn('sqs', name), attributes });
    ctx.stack.setPhysicalId(ctx.logicalId, queue.url);
    return { status: 'created', physicalId: queue.url };
  },
};
