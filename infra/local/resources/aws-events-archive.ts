/** AWS::Events::Archive → an archive of the EventBridge service (records matching events of a bus). */
import type { ResourceProvider } from './provider.ts';
import { optionalNumber, parsePattern } from './support.ts';

export const eventsArchive: ResourceProvider = {
  type: 'AWS::Events::Archive',
  name: { property: 'ArchiveName', limit: 48 },
  attributes: {
    Arn: (c) => `arn:aws:events:${c.region}:${c.accountId}:archive/${c.physicalName()}`,
    ArchiveName: (c) => c.physicalName(),
  },
  deploy(ctx) {
    const p = ctx.properties();
    const name = ctx.stack.physicalName(ctx.logicalId);
    ctx.parts.events.createArchive({
      name,
      arn: ctx.arn('events', `archive/${name}`),
      sourceArn: String(p.SourceArn),
      eventPattern: p.EventPattern === undefined ? undefined : parsePattern(p.EventPattern),
      retentionDays: optionalNumber(p.RetentionDays),
    });
    return { status: 'created', physicalId: name };
  },
};
