/** AWS::Events::Rule → a rule of the EventBridge service (event pattern or rate() schedule) and its targets. */
import type { ResolveContext, ResourceProvider } from './provider.ts';
import { optionalNumber, parsePattern } from './support.ts';

export const eventsRule: ResourceProvider = {
  type: 'AWS::Events::Rule',
  name: { property: 'Name', limit: 64 },
  ref: (c) => {
    const bus = busName(c);
    const name = c.physicalName();
    return bus === 'default' ? name : `${bus}|${name}`;
  },
  attributes: {
    Arn: (c) => {
      const bus = busName(c);
      const path = bus === 'default' ? c.physicalName() : `${bus}/${c.physicalName()}`;
      return `arn:aws:events:${c.region}:${c.accountId}:rule/${path}`;
    },
  },
  deploy(ctx) {
    const p = ctx.properties();
    const schedule = p.ScheduleExpression === undefined ? undefined : String(p.ScheduleExpression);
    if (schedule?.trim().startsWith('cron(')) {
      return {
        status: 'unsupported',
        physicalId: ctx.stack.ref(ctx.logicalId),
        note: `cron() schedules do not run locally (only rate(); a cron time has no time-scaled meaning): ${schedule}`,
      };
    }
    const name = ctx.stack.physicalName(ctx.logicalId);
    const bus = String(p.EventBusName ?? 'default');
    const onBus = bus.startsWith('arn:') ? (bus.split('event-bus/')[1] ?? bus) : bus;
    const notes: string[] = [];
    const targets = ((p.Targets ?? []) as Record<string, unknown>[]).map((t) => {
      if (t.InputTransformer !== undefined)
        notes.push(`target ${String(t.Id)}: InputTransformer not applied`);
      return {
        id: String(t.Id),
        arn: String(t.Arn),
        deadLetterArn: (t.DeadLetterConfig as { Arn?: string } | undefined)?.Arn,
        input: t.Input as string | undefined,
        inputPath: t.InputPath as string | undefined,
        maximumRetryAttempts: optionalNumber(
          (t.RetryPolicy as { MaximumRetryAttempts?: unknown })?.MaximumRetryAttempts,
        ),
        roleArn: t.RoleArn as string | undefined,
      };
    });
    ctx.parts.events.putRule({
      name,
      arn: String(ctx.stack.getAtt(ctx.logicalId, 'Arn')),
      busName: onBus,
      eventPattern: p.EventPattern === undefined ? undefined : parsePattern(p.EventPattern),
      scheduleExpression: schedule,
      state: p.State === 'DISABLED' ? 'DISABLED' : 'ENABLED',
      targets,
    });
    return {
      status: 'created',
      physicalId: ctx.stack.ref(ctx.logicalId),
      note: notes.length > 0 ? notes.join('; ') : undefined,
    };
  },
};

/** The rule's bus name (`EventBusName` may be given as the bus ARN). */
function busName(c: ResolveContext): string {
  const bus = c.property('EventBusName') ?? 'default';
  if (typeof bus !== 'string') return 'default';
  return bus.startsWith('arn:') ? (bus.split('event-bus/')[1] ?? bus) : bus;
}
