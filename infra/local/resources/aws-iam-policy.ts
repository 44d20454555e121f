/** AWS::IAM::Policy → an identity policy of the roles it names (`Roles`), when IAM is wired. */
import { shortPhysicalId } from '../cloudformation/model.ts';
import type { ResourceProvider } from './provider.ts';
import { iamOutcome } from './support.ts';

export const iamPolicy: ResourceProvider = {
  type: 'AWS::IAM::Policy',
  name: { property: 'PolicyName', limit: 128 },
  ref: (c) => shortPhysicalId(c.stackName, c.logicalId),
  deploy(ctx) {
    const physicalId = ctx.stack.ref(ctx.logicalId);
    if (!ctx.iam) return iamOutcome(physicalId, false);
    const p = ctx.properties();
    ctx.iam.putPolicy(
      ctx.stack.physicalName(ctx.logicalId),
      p.PolicyDocument,
      ((p.Roles ?? []) as unknown[]).map(String),
    );
    return iamOutcome(physicalId, true);
  },
};
