/**
 * AWS::IAM::ManagedPolicy → an identity policy of the roles it names (`Roles`), when IAM is wired. (A role that
 * lists it in `ManagedPolicyArns` instead is not resolved to it: its `Ref` is a generated name, not the ARN.)
 */
import type { ResourceProvider } from './provider.ts';
import { iamOutcome } from './support.ts';

export const iamManagedPolicy: ResourceProvider = {
  type: 'AWS::IAM::ManagedPolicy',
  deploy(ctx) {
    const physicalId = ctx.stack.ref(ctx.logicalId);
    if (!ctx.iam) return iamOutcome(physicalId, false);
    const p = ctx.properties();
    const name =
      typeof p.ManagedPolicyName === 'string' && p.ManagedPolicyName !== ''
        ? p.ManagedPolicyName
        : physicalId;
    ctx.iam.putPolicy(name, p.PolicyDocument, ((p.Roles ?? []) as unknown[]).map(String));
    return iamOutcome(physicalId, true);
  },
};
