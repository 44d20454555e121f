/** AWS::Events::EventBus → a bus of the EventBridge service (`default` exists already). */
import type { ResourceProvider } from './provider.ts';

export const eventsEventBus: ResourceProvider = {
  type: 'AWS::Events::EventBus',
  name: { property: 'Name' },
  attributes: {
    Arn: (c) => `arn:aws:events:${c.region}:${c.accountId}:event-bus/${c.physicalName()}`,
    Name: (c) => c.physicalName(),
  },
  deploy(ctx) {
    const name = ctx.stack.physicalName(ctx.logicalId);
    if (name !== 'default') ctx.parts.events.createBus({ name, arn: ctx.arn('events', `event-bus/${name}`) });
    return { status: 'created', physicalId: name };
  },
};
