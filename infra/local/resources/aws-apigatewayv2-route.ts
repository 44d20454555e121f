/** AWS::ApiGatewayV2::Route → a route of an HTTP API (aws-apigatewayv2-api.ts), `NONE` or `AWS_IAM` authorized. */
import { LOWER, pseudoRandom, resourceSeed } from '../cloudformation/model.ts';
import { httpApis } from './aws-apigatewayv2-api.ts';
import type { ResourceProvider } from './provider.ts';

export const apiGatewayV2Route: ResourceProvider = {
  type: 'AWS::ApiGatewayV2::Route',
  ref: (c) => pseudoRandom(resourceSeed(c.stackName, c.logicalId), 7, LOWER),
  deploy(ctx) {
    const p = ctx.properties();
    const id = ctx.stack.ref(ctx.logicalId);
    const api = httpApis(ctx).get(String(p.ApiId));
    const authorizationType = String(p.AuthorizationType ?? 'NONE');
    if (!api || (authorizationType !== 'NONE' && authorizationType !== 'AWS_IAM')) {
      return {
        status: 'unsupported',
        physicalId: id,
        note: `route ${String(p.RouteKey)} with authorization ${authorizationType}`,
      };
    }
    api.routes.push({
      logicalId: ctx.logicalId,
      physicalId: id,
      routeKey: String(p.RouteKey),
      authorizationType,
      target: p.Target as string | undefined,
    });
    return { status: 'created', physicalId: id };
  },
};
