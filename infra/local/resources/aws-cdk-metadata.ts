/** AWS::CDK::Metadata → accepted, no local effect. */
import { shortPhysicalId } from '../cloudformation/model.ts';
import type { ResourceProvider } from './provider.ts';

export const cdkMetadata: ResourceProvider = {
  type: 'AWS::CDK::Metadata',
  ref: (c) => shortPhysicalId(c.stackName, c.logicalId),
  deploy: (ctx) => ({ status: 'accepted', physicalId: ctx.stack.ref(ctx.logicalId) }),
};
