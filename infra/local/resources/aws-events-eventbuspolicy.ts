/** AWS::Events::EventBusPolicy → accepted, no local effect (cross-account bus access does not arise locally). */
import type { ResourceProvider } from './provider.ts';

export const eventsEventBusPolicy: ResourceProvider = {
  type: 'AWS::Events::EventBusPolicy',
  deploy: (ctx) => ({ status: 'accepted', physicalId: ctx.stack.ref(ctx.logicalId) }),
};
