/** AWS::ApiGatewayV2::Stage → the `$default` stage is the API root the edge serves; other stages are not served. */
import type { ResourceProvider } from './provider.ts';

export const apiGatewayV2Stage: ResourceProvider = {
  type: 'AWS::ApiGatewayV2::Stage',
  name: { property: 'StageName' },
  deploy(ctx) {
    const p = ctx.properties();
    const stage = String(p.StageName ?? '$default');
    // The edge serves each API at its root, which is what the `$default` stage is.
    return stage === '$default'
      ? {
          status: 'created',
          physicalId: stage,
          note: 'served at the API root; throttling and access logs not applied',
        }
      : { status: 'unsupported', physicalId: stage, note: 'only the $default stage is served' };
  },
};
