/** AWS::Logs::LogGroup → a log group of the CloudWatch Logs service, with its retention. */
import type { ResourceProvider } from './provider.ts';
import { optionalNumber } from './support.ts';

export const logsLogGroup: ResourceProvider = {
  type: 'AWS::Logs::LogGroup',
  name: { property: 'LogGroupName', limit: 512 },
  attributes: {
    Arn: (c) => `arn:aws:logs:${c.region}:${c.accountId}:log-group:${c.physicalName()}:*`,
  },
  deploy(ctx) {
    const p = ctx.properties();
    const name = ctx.stack.physicalName(ctx.logicalId);
    ctx.parts.logs.createLogGroup(name, optionalNumber(p.RetentionInDays));
    return { status: 'created', physicalId: name };
  },
};
