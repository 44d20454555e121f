/** AWS::Lambda::Function → a function of the Lambda runtime, run from its asset bundle. */
import { assetDirectory } from '../cloudformation/assembly.ts';
import { MIXED, pseudoRandom, resourceSeed, stackGeneratedName } from '../cloudformation/model.ts';
import { AWS_CUSTOM_RESOURCE_PROVIDER } from './custom-awscustomresource.ts';
import type { DeployContext, ResourceProvider } from './provider.ts';
import { stringify } from './support.ts';

export const lambdaFunction: ResourceProvider = {
  type: 'AWS::Lambda::Function',
  name: {
    property: 'FunctionName',
    limit: 64,
    generate: (c) =>
      stackGeneratedName(
        c.stackName,
        c.logicalId,
        64,
        pseudoRandom(resourceSeed(c.stackName, c.logicalId), 12, MIXED),
      ),
  },
  attributes: {
    Arn: (c) => `arn:aws:lambda:${c.region}:${c.accountId}:function:${c.physicalName()}`,
  },
  deploy(ctx) {
    const p = ctx.properties();
    const functionName = ctx.stack.physicalName(ctx.logicalId);
    const arn = ctx.arn('lambda', `function:${functionName}`);
    const roleArn = typeof p.Role === 'string' ? p.Role : undefined;
    if (roleArn !== undefined) functionRoles(ctx).set(arn, roleArn);
    if (ctx.logicalId.startsWith(AWS_CUSTOM_RESOURCE_PROVIDER)) {
      // The local cloud performs AwsCustomResource calls itself; the provider never runs.
      return {
        status: 'accepted',
        physicalId: ctx.stack.ref(ctx.logicalId),
        note: 'AwsCustomResource provider: calls made by the local cloud',
      };
    }
    if (typeof (p.Code as { S3Key?: unknown } | undefined)?.S3Key !== 'string') {
      return {
        status: 'unsupported',
        physicalId: ctx.stack.ref(ctx.logicalId),
        note: 'only asset code (Code.S3Key) runs locally, not inline or image code',
      };
    }
    const variables = ((p.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ??
      {}) as Record<string, unknown>;
    ctx.parts.lambda.register({
      functionName,
      arn,
      bundleDir: assetDirectory(ctx.assembly, p.Code, ctx.logicalId),
      handler: String(p.Handler ?? 'index.handler'),
      runtime: String(p.Runtime ?? 'nodejs24.x'),
      timeoutSeconds: Number(p.Timeout ?? 3),
      memoryMb: Number(p.MemorySize ?? 128),
      environment: Object.fromEntries(Object.entries(variables).map(([k, v]) => [k, stringify(v)])),
      roleArn,
    });
    return { status: 'created', physicalId: functionName };
  },
};

/** Function ARN → its execution role ARN, for the functions of this deploy (event source mappings read it). */
export function functionRoles(ctx: DeployContext): Map<string, string> {
  return ctx.shared('AWS::Lambda::Function roles', () => new Map<string, string>());
}
