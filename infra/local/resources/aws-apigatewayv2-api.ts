/**
 * AWS::ApiGatewayV2::Api (HTTP) → an HTTP API served by the edge. Its integrations and routes are collected as
 * they deploy (aws-apigatewayv2-integration.ts, -route.ts); the API is served once every resource is up.
 */
import { LOWER, pseudoRandom, resourceSeed } from '../cloudformation/model.ts';
import type { ApiRoute, DeployContext, ResourceProvider } from './provider.ts';

/** An HTTP API of the template, as its resources come up. */
export interface HttpApiDraft {
  readonly logicalId: string;
  readonly apiId: string;
  readonly name: string;
  /** Integration id → the Lambda proxy it stands for. */
  readonly integrations: Map<string, { functionArn: string; payloadFormatVersion: '2.0' | '1.0' }>;
  readonly routes: {
    logicalId: string;
    physicalId: string;
    routeKey: string;
    authorizationType: string;
    target?: string;
  }[];
}

/** The HTTP APIs of this deploy, by API id. */
export function httpApis(ctx: DeployContext): Map<string, HttpApiDraft> {
  return ctx.shared('AWS::ApiGatewayV2::Api', () => new Map<string, HttpApiDraft>());
}

export const apiGatewayV2Api: ResourceProvider = {
  type: 'AWS::ApiGatewayV2::Api',
  ref: (c) => pseudoRandom(resourceSeed(c.stackName, c.logicalId), 10, LOWER),
  attributes: {
    ApiId: (c) => c.ref(),
    ApiEndpoint: (c) => `https://${c.ref()}.execute-api.${c.region}.amazonaws.com`,
  },
  deploy(ctx) {
    const p = ctx.properties();
    if (p.ProtocolType !== undefined && p.ProtocolType !== 'HTTP') {
      return {
        status: 'unsupported',
        physicalId: ctx.stack.ref(ctx.logicalId),
        note: `ProtocolType ${String(p.ProtocolType)}: only HTTP APIs`,
      };
    }
    const apiId = ctx.stack.ref(ctx.logicalId);
    const api: HttpApiDraft = {
      logicalId: ctx.logicalId,
      apiId,
      name: String(p.Name ?? ctx.logicalId),
      integrations: new Map(),
      routes: [],
    };
    httpApis(ctx).set(apiId, api);
    ctx.afterAll(() => serve(ctx, api));
    return { status: 'created', physicalId: apiId };
  },
};

/** Serves the API with its routes; a route with no Lambda proxy integration is reported unsupported. */
async function serve(ctx: DeployContext, api: HttpApiDraft): Promise<void> {
  const routes: ApiRoute[] = [];
  for (const route of api.routes) {
    const integrationId = route.target?.replace(/^integrations\//, '');
    const integration = integrationId ? api.integrations.get(integrationId) : undefined;
    if (!integration) {
      ctx.report({
        logicalId: route.logicalId,
        type: 'AWS::ApiGatewayV2::Route',
        status: 'unsupported',
        physicalId: route.physicalId,
        note: `route ${route.routeKey} has no Lambda proxy integration (target ${route.target ?? 'none'})`,
      });
      continue;
    }
    const [method, path] = route.routeKey === '$default' ? ['ANY', '$default'] : route.routeKey.split(' ', 2);
    routes.push({
      method: method ?? 'ANY',
      path: path ?? '/',
      authorizationType: route.authorizationType === 'AWS_IAM' ? 'AWS_IAM' : 'NONE',
      functionArn: integration.functionArn,
      payloadFormatVersion: integration.payloadFormatVersion,
    });
  }
  const url = await ctx.parts.edge.serveHttpApi({ apiId: api.apiId, name: api.name, routes });
  const endpoint = url.replace(/\/+$/, '');
  ctx.stack.setAttribute(api.logicalId, 'ApiEndpoint', endpoint);
  ctx.localizeUrl(`https://${api.apiId}.execute-api.${ctx.region}.amazonaws.com`, endpoint);
  ctx.addHttpApi({ logicalId: api.logicalId, apiId: api.apiId, name: api.name, url });
}
