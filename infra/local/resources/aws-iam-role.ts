/** AWS::IAM::Role → registered with IAM (trust policy, inline and managed policies) when IAM is wired. */
import { pseudoRandom, resourceSeed } from '../cloudformation/model.ts';
import type { ResourceProvider } from './provider.ts';
import { iamOutcome } from './support.ts';

export const iamRole: ResourceProvider = {
  type: 'AWS::IAM::Role',
  name: { property: 'RoleName', limit: 64 },
  attributes: {
    Arn: (c) => `arn:aws:iam::${c.accountId}:role/${c.physicalName()}`,
    RoleId: (c) => `AROA${pseudoRandom(resourceSeed(c.stackName, c.logicalId), 17)}`,
  },
  deploy(ctx) {
    const physicalId = ctx.stack.ref(ctx.logicalId);
    if (!ctx.iam) return iamOutcome(physicalId, false);
    const p = ctx.properties();
    const policies = (p.Policies ?? []) as { PolicyName?: unknown; PolicyDocument?: unknown }[];
    ctx.iam.putRole({
      roleName: ctx.stack.physicalName(ctx.logicalId),
      roleArn: String(ctx.stack.getAtt(ctx.logicalId, 'Arn')),
      assumeRolePolicy: p.AssumeRolePolicyDocument,
      inlinePolicies: policies.map((policy) => ({
        name: String(policy.PolicyName),
        document: policy.PolicyDocument,
      })),
      managedPolicyArns: ((p.ManagedPolicyArns ?? []) as unknown[]).map(String),
    });
    return iamOutcome(physicalId, true);
  },
};
