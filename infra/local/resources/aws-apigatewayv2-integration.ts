/** AWS::ApiGatewayV2::Integration → a Lambda proxy integration of an HTTP API (aws-apigatewayv2-api.ts). */
import { LOWER, pseudoRandom, resourceSeed } from '../cloudformation/model.ts';
import { httpApis } from './aws-apigatewayv2-api.ts';
import type { ResourceProvider } from './provider.ts';

export const apiGatewayV2Integration: ResourceProvider = {
  type: 'AWS::ApiGatewayV2::Integration',
  ref: (c) => pseudoRandom(resourceSeed(c.stackName, c.logicalId), 7, LOWER),
  deploy(ctx) {
    const p = ctx.properties();
    const id = ctx.stack.ref(ctx.logicalId);
    const api = httpApis(ctx).get(String(p.ApiId));
    const functionArn = lambdaArnOfIntegrationUri(String(p.IntegrationUri ?? ''));
    if (!api || p.IntegrationType !== 'AWS_PROXY' || !functionArn) {
      return {
        status: 'unsupported',
        physicalId: id,
        note: `integration ${String(p.IntegrationType)} ${String(p.IntegrationUri ?? '')}`,
      };
    }
    api.integrations.set(id, {
      functionArn,
      payloadFormatVersion: String(p.PayloadFormatVersion ?? '2.0') === '1.0' ? '1.0' : '2.0',
    });
    return { status: 'created', physicalId: id };
  },
};

/** The function ARN of a Lambda proxy integration URI (plain ARN or the `…/functions/<arn>/invocations` form). */
export function lambdaArnOfIntegrationUri(uri: string): string | undefined {
  const wrapped = /\/functions\/(arn:aws:lambda:[^/]+)\/invocations$/.exec(uri);
  if (wrapped?.[1]) return wrapped[1];
  return /^arn:aws:lambda:[^:]+:[^:]+:function:/.test(uri) ? uri : undefined;
}
