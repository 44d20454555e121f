/** Custom::LogRetention (CDK's log retention provider) → the log group, created with its retention. */
import type { ResourceProvider } from './provider.ts';
import { optionalNumber } from './support.ts';

export const customLogRetention: ResourceProvider = {
  type: 'Custom::LogRetention',
  deploy(ctx) {
    // Create the group with its retention, as the provider would.
    const p = ctx.properties();
    ctx.parts.logs.createLogGroup(String(p.LogGroupName), optionalNumber(p.RetentionInDays));
    return {
      status: 'accepted',
      physicalId: String(p.LogGroupName),
      note: 'log group created with its retention',
    };
  },
};
