import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqsService } from '../sqs/service.ts';
import { AwsError, type JsonService } from '../wire/aws-error.ts';
import { type DeadLetterDispatcher, EventBridgeService, type EventEnvelope } from './service.ts';

const ARN = 'arn:aws:events:us-east-1:000000000000';
const BUS_ARN = `${ARN}:event-bus/OrderEvents`;
const SAGA_PATTERN = { source: ['saga.orders'], 'detail-type': ['OrderPlaced'] };

/** A minimal awsJson1_1 front door (what the edge does) so the real EventBridge client talks to the service. */
async function serveJson(service: JsonService): Promise<{ server: Server; endpoint: string }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      const input = JSON.parse(Buffer.concat(chunks).toString() || '{}') as Record<string, unknown>;
      service.handle(target.slice(target.indexOf('.') + 1), input).then(
        (output) => {
          res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
          res.end(JSON.stringify(output));
        },
        (error: unknown) => {
          const e = error instanceof AwsError ? error : new AwsError('InternalFailure', String(error), 500);
          res.writeHead(e.statusCode, { 'content-type': 'application/x-amz-json-1.1' });
          res.end(JSON.stringify({ __type: e.type, message: e.message }));
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** Routes SQS ARNs to a real SqsService, records everything else, and fails the ARNs it is told to. */
function testDispatcher(sqs: SqsService, options: { withAttributes: boolean }) {
  const delivered: { arn: string; payload: unknown }[] = [];
  const failing = new Set<string>();
  const dispatcher: DeadLetterDispatcher = {
    async deliver(arn, payload) {
      delivered.push({ arn, payload });
      if (failing.has(arn))
        throw new AwsError('ResourceNotFoundException', `Function not found: ${arn}`, 404);
      if (arn.startsWith('arn:aws:sqs:'))
        sqs.send(arn, typeof payload === 'string' ? payload : JSON.stringify(payload));
    },
    ...(options.withAttributes
      ? {
          async deliverDeadLetter(arn: string, body: string, attributes: Record<string, unknown>) {
            sqs.send(arn, body, attributes);
          },
        }
      : {}),
  };
  return { dispatcher, delivered, failing };
}

function entry(detail: Record<string, unknown>, overrides: Record<string, unknown> = {}) {
  return {
    EventBusName: 'OrderEvents',
    Source: 'saga.orders',
    DetailType: 'OrderPlaced',
    Detail: JSON.stringify(detail),
    ...overrides,
  };
}

describe('EventBridgeService', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'saga-events-'));
  const sqs = new SqsService({ queueUrlBase: () => 'http://127.0.0.1:1/000000000000' });
  const dlq = sqs.createQueue({ name: 'events-dlq', arn: 'arn:aws:sqs:us-east-1:000000000000:events-dlq' });
  const { dispatcher, delivered, failing } = testDispatcher(sqs, { withAttributes: true });
  const events = new EventBridgeService({ dispatcher, dataDir, retryBaseDelayMs: 5 });
  let server: Server;
  let client: EventBridgeClient;

  beforeAll(async () => {
    events.createBus({ name: 'OrderEvents', arn: BUS_ARN });
    events.putRule({
      name: 'OrderPlacedRule',
      arn: `${ARN}:rule/OrderEvents/OrderPlacedRule`,
      busName: 'OrderEvents',
      eventPattern: SAGA_PATTERN,
      targets: [
        { id: 'Whole', arn: 'arn:aws:lambda:us-east-1:000000000000:function:Audit' },
        {
          id: 'Path',
          arn: 'arn:aws:lambda:us-east-1:000000000000:function:Path',
          inputPath: '$.detail.items[0]',
        },
        {
          id: 'Constant',
          arn: 'arn:aws:lambda:us-east-1:000000000000:function:Constant',
          input: '{"fixed":true}',
        },
      ],
    });
    events.putRule({
      name: 'Disabled',
      arn: `${ARN}:rule/OrderEvents/Disabled`,
      busName: 'OrderEvents',
      eventPattern: SAGA_PATTERN,
      state: 'DISABLED',
      targets: [{ id: 'Never', arn: 'arn:aws:lambda:us-east-1:000000000000:function:Never' }],
    });
    events.createArchive({
      name: 'OrderArchive',
      arn: `${ARN}:archive/OrderArchive`,
      sourceArn: BUS_ARN,
      eventPattern: { detail: { currency: ['EUR'] } },
    });
    let endpoint: string;
    ({ server, endpoint } = await serveJson(events));
    client = new EventBridgeClient({
      region: 'us-east-1',
      endpoint,
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    });
  });

  afterAll(async () => {
    client.destroy();
    await new Promise((resolve) => server.close(resolve));
    await events.close();
    await sqs.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers PutEvents per entry and delivers the envelope to every target of every matching enabled rule', async () => {
    // Prepare
    delivered.length = 0;
    const detail = { orderId: '01JA', currency: 'EUR', items: [{ sku: 'A', qty: 2 }] };

    // Act
    const response = await client.send(
      new PutEventsCommand({
        Entries: [
          entry(detail, { Resources: ['arn:aws:dynamodb:us-east-1:000000000000:table/Orders'] }),
          entry(detail, { Detail: undefined }),
          entry(detail, { Detail: '{"not json' }),
          entry(detail, { EventBusName: 'Missing' }),
          entry(detail, { Source: 'someone.else' }),
        ],
      }),
    );
    await events.idle();

    // Assess
    expect(response.FailedEntryCount).toBe(3);
    const [ok, noDetail, malformed, noBus, unmatched] = response.Entries ?? [];
    expect(ok?.EventId).toMatch(/^[0-9a-f-]{36}$/);
    expect(noDetail).toEqual({
      ErrorCode: 'InvalidArgument',
      ErrorMessage: expect.stringMatching(/Detail.*required/),
    });
    expect(malformed?.ErrorCode).toBe('MalformedDetail');
    expect(noBus).toEqual({
      ErrorCode: 'ResourceNotFoundException',
      ErrorMessage: 'Event bus Missing does not exist.',
    });
    expect(unmatched?.EventId).toBeDefined();

    expect(delivered.map((d) => d.arn).sort()).toEqual([
      'arn:aws:lambda:us-east-1:000000000000:function:Audit',
      'arn:aws:lambda:us-east-1:000000000000:function:Constant',
      'arn:aws:lambda:us-east-1:000000000000:function:Path',
    ]);
    const whole = delivered.find((d) => d.arn.endsWith(':Audit'))?.payload as EventEnvelope;
    expect(whole).toEqual({
      version: '0',
      id: ok?.EventId,
      'detail-type': 'OrderPlaced',
      source: 'saga.orders',
      account: '000000000000',
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      region: 'us-east-1',
      resources: ['arn:aws:dynamodb:us-east-1:000000000000:table/Orders'],
      detail,
    });
    expect(delivered.find((d) => d.arn.endsWith(':Path'))?.payload).toEqual({ sku: 'A', qty: 2 });
    expect(delivered.find((d) => d.arn.endsWith(':Constant'))?.payload).toEqual({ fixed: true });
  });

  it('fails the whole request when no entry has Source, DetailType and Detail', async () => {
    await expect(
      events.handle('PutEvents', { Entries: [{ Source: 'x', DetailType: 'y' }] }),
    ).rejects.toMatchObject({ type: 'ValidationException' });
    await expect(events.handle('PutEvents', { Entries: [] })).rejects.toThrow(/between 1 and 10/);
  });

  it('retries a failing target maximumRetryAttempts times, then sends the event to its DLQ with the error attributes', async () => {
    // Prepare
    const target = 'arn:aws:lambda:us-east-1:000000000000:function:Broken';
    const ruleArn = `${ARN}:rule/OrderEvents/BrokenRule`;
    failing.add(target);
    events.putRule({
      name: 'BrokenRule',
      arn: ruleArn,
      busName: 'OrderEvents',
      eventPattern: { source: ['saga.broken'] },
      targets: [{ id: 'Broken', arn: target, deadLetterArn: dlq.arn, maximumRetryAttempts: 2 }],
    });
    delivered.length = 0;

    // Act
    const response = (await events.handle('PutEvents', {
      Entries: [entry({ orderId: '01JB' }, { Source: 'saga.broken' })],
    })) as { Entries: { EventId: string }[] };
    await events.idle();
    const received = (await sqs.handle('ReceiveMessage', {
      QueueUrl: dlq.url,
      MessageAttributeNames: ['All'],
    })) as { Messages?: { Body: string; MessageAttributes: Record<string, { StringValue: string }> }[] };

    // Assess
    expect(delivered.filter((d) => d.arn === target)).toHaveLength(3);
    const message = received.Messages?.[0];
    expect(JSON.parse(message?.Body ?? '{}')).toMatchObject({
      id: response.Entries[0]?.EventId,
      source: 'saga.broken',
    });
    const attributes = Object.fromEntries(
      Object.entries(message?.MessageAttributes ?? {}).map(([k, v]) => [k, v.StringValue]),
    );
    expect(attributes).toMatchObject({
      RULE_ARN: ruleArn,
      TARGET_ARN: target,
      ERROR_CODE: 'RESOURCE_NOT_FOUND',
      ERROR_MESSAGE: `Function not found: ${target}`,
    });
  });

  it('without deliverDeadLetter, hands the event itself to the dispatcher for the DLQ', async () => {
    const queue = sqs.createQueue({ name: 'plain-dlq', arn: 'arn:aws:sqs:us-east-1:000000000000:plain-dlq' });
    const plain = testDispatcher(sqs, { withAttributes: false });
    plain.failing.add('arn:aws:lambda:us-east-1:000000000000:function:Down');
    const service = new EventBridgeService({ dispatcher: plain.dispatcher, retryBaseDelayMs: 1 });
    service.putRule({
      name: 'R',
      arn: `${ARN}:rule/R`,
      busName: 'default',
      eventPattern: { source: ['s'] },
      targets: [
        {
          id: 'T',
          arn: 'arn:aws:lambda:us-east-1:000000000000:function:Down',
          deadLetterArn: queue.arn,
          maximumRetryAttempts: 0,
        },
      ],
    });
    await service.handle('PutEvents', { Entries: [{ Source: 's', DetailType: 'd', Detail: '{"a":1}' }] });
    await service.close();
    const received = (await sqs.handle('ReceiveMessage', { QueueUrl: queue.url })) as {
      Messages?: { Body: string }[];
    };
    expect(JSON.parse(received.Messages?.[0]?.Body ?? '{}')).toMatchObject({ source: 's', detail: { a: 1 } });
  });

  it('archives matching events under dataDir/events and reloads them on restart', async () => {
    // Prepare
    await events.handle('PutEvents', {
      Entries: [entry({ orderId: 'EUR-1', currency: 'EUR' }), entry({ orderId: 'USD-1', currency: 'USD' })],
    });
    await events.idle();

    // Act
    const restarted = new EventBridgeService({ dispatcher, dataDir });
    restarted.createBus({ name: 'OrderEvents', arn: BUS_ARN });
    restarted.createArchive({ name: 'OrderArchive', arn: `${ARN}:archive/OrderArchive`, sourceArn: BUS_ARN });
    const archived = restarted
      .archivedEvents('OrderArchive')
      .map((e) => (e.detail as { orderId: string }).orderId);
    await restarted.close();

    // Assess: the EUR events of every test so far, never the USD one.
    expect(archived).toContain('EUR-1');
    expect(archived).not.toContain('USD-1');
    expect(archived).toContain('01JA');
  });

  it('lists buses, rules and targets, and rejects unknown rules and invalid patterns', async () => {
    const bus = (await events.handle('DescribeEventBus', { Name: 'OrderEvents' })) as { Arn: string };
    expect(bus.Arn).toBe(BUS_ARN);
    const buses = (await events.handle('ListEventBuses', {})) as { EventBuses: { Name: string }[] };
    expect(buses.EventBuses.map((b) => b.Name)).toEqual(['default', 'OrderEvents']);
    const rules = (await events.handle('ListRules', {
      EventBusName: 'OrderEvents',
      NamePrefix: 'Order',
    })) as {
      Rules: { Name: string; EventPattern: string; State: string }[];
    };
    expect(rules.Rules).toEqual([
      expect.objectContaining({
        Name: 'OrderPlacedRule',
        State: 'ENABLED',
        EventPattern: JSON.stringify(SAGA_PATTERN),
      }),
    ]);
    const targets = (await events.handle('ListTargetsByRule', {
      Rule: 'BrokenRule',
      EventBusName: BUS_ARN,
    })) as {
      Targets: unknown[];
    };
    expect(targets.Targets).toEqual([
      {
        Id: 'Broken',
        Arn: 'arn:aws:lambda:us-east-1:000000000000:function:Broken',
        DeadLetterConfig: { Arn: dlq.arn },
        RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 86400 },
      },
    ]);
    await expect(
      events.handle('ListTargetsByRule', { Rule: 'Nope', EventBusName: 'OrderEvents' }),
    ).rejects.toThrow('Rule Nope does not exist on EventBus OrderEvents.');
    expect(() =>
      events.putRule({
        name: 'Bad',
        arn: `${ARN}:rule/Bad`,
        busName: 'OrderEvents',
        eventPattern: { source: 'x' },
        targets: [],
      }),
    ).toThrow(expect.objectContaining({ type: 'InvalidEventPatternException' }));
  });
});

describe('scheduled rules', () => {
  const SWEEPER = 'arn:aws:lambda:us-east-1:000000000000:function:Sweeper';
  const RULE_ARN = `${ARN}:rule/Sweep`;
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  /** A dispatcher that records each call's start, takes `busyMs` to answer, and fails while `failing`. */
  function scheduleDispatcher(options: { busyMs?: number; failing?: boolean } = {}) {
    const calls: { arn: string; payload: unknown; at: number }[] = [];
    const dispatcher: DeadLetterDispatcher = {
      async deliver(arn, payload) {
        calls.push({ arn, payload, at: performance.now() });
        if (options.busyMs) await sleep(options.busyMs);
        if (options.failing) throw new Error('Sweeper failed: Runtime.ExitError');
      },
    };
    return { dispatcher, calls };
  }

  const rule = (scheduleExpression: string, extra: Record<string, unknown> = {}) => ({
    name: 'Sweep',
    arn: RULE_ARN,
    busName: 'default',
    scheduleExpression,
    targets: [{ id: 'Target0', arn: SWEEPER }],
    ...extra,
  });

  it('parses rate() as EventBridge does and refuses cron() and malformed expressions, saying why', async () => {
    const { parseScheduleExpression } = await import('./service.ts');
    expect(parseScheduleExpression('rate(1 minute)')).toEqual({ periodMs: 60_000 });
    expect(parseScheduleExpression('rate(5 minutes)')).toEqual({ periodMs: 300_000 });
    expect(parseScheduleExpression('rate(1 hour)')).toEqual({ periodMs: 3_600_000 });
    expect(parseScheduleExpression('rate(2 days)')).toEqual({ periodMs: 172_800_000 });
    for (const bad of [
      'rate(1 minutes)',
      'rate(2 minute)',
      'rate(0 minutes)',
      'rate(1.5 hours)',
      'rate(1 week)',
      'every minute',
    ]) {
      expect(() => parseScheduleExpression(bad)).toThrow(
        /ScheduleExpression is not valid: '.*'\. Expected rate\(1 minute/,
      );
    }
    expect(() => parseScheduleExpression('cron(0/5 * * * ? *)')).toThrow(/rate\(\) schedules only.*cron\(\)/);
  });

  it('sends the Scheduled Event to a Lambda target every scaled period, without waiting for the function', async () => {
    const { dispatcher, calls } = scheduleDispatcher({ busyMs: 400 });
    // rate(1 minute) × 0.002 = one event every 120 ms; each invocation takes 400 ms.
    const events = new EventBridgeService({ dispatcher, timeScale: 0.002 });
    const created = performance.now();
    events.putRule(rule('rate(1 minute)'));
    await sleep(560);
    await events.close();
    expect(calls.length).toBeGreaterThanOrEqual(3);
    expect(calls.length).toBeLessThanOrEqual(5);
    expect(calls[0]?.at).toBeGreaterThanOrEqual(created + 110); // one period after the rule was created
    expect(calls.map((c) => c.arn)).toEqual(calls.map(() => SWEEPER));
    const first = calls[0]?.payload as EventEnvelope;
    expect(first).toEqual({
      version: '0',
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      account: '000000000000',
      time: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/),
      region: 'us-east-1',
      resources: [RULE_ARN],
      detail: {},
    });
    expect(new Set(calls.map((c) => (c.payload as EventEnvelope).id)).size).toBe(calls.length);
    // Not waiting: the second event went out while the first invocation was still running.
    expect(Number(calls[1]?.at) - Number(calls[0]?.at)).toBeLessThan(300);
    const count = calls.length;
    await sleep(300);
    expect(calls).toHaveLength(count); // stopped with the service
  });

  it('a failing Lambda target is retried twice, Lambda-style (1 and 2 minutes, scaled), then dropped and logged', async () => {
    const { dispatcher, calls } = scheduleDispatcher({ failing: true });
    const log: string[] = [];
    // rate(10 minutes) × 0.002 = 1.2 s, so one event's attempts are alone: at 1.2 s, +120 ms, +240 ms more.
    const events = new EventBridgeService({ dispatcher, timeScale: 0.002, log: (line) => log.push(line) });
    events.putRule(rule('rate(10 minutes)'));
    await sleep(1_900);
    await events.close();
    expect(calls).toHaveLength(3);
    const gaps = [Number(calls[1]?.at) - Number(calls[0]?.at), Number(calls[2]?.at) - Number(calls[1]?.at)];
    expect(gaps[0]).toBeGreaterThanOrEqual(115);
    expect(gaps[1]).toBeGreaterThanOrEqual(235);
    expect(new Set(calls.map((c) => (c.payload as EventEnvelope).id)).size).toBe(1);
    expect(log).toEqual([
      expect.stringMatching(
        /scheduled event .* of rule Sweep: .*function:Sweeper failed 3 times, dropped: .*Runtime\.ExitError/,
      ),
    ]);
  });

  it('a disabled or replaced schedule stops; ListRules shows the schedule; a non-Lambda target gets EventBridge delivery', async () => {
    const { dispatcher, calls } = scheduleDispatcher();
    const events = new EventBridgeService({ dispatcher, timeScale: 0.002 });
    events.putRule(rule('rate(1 minute)', { state: 'DISABLED' }));
    events.putRule({
      ...rule('rate(1 minute)'),
      name: 'ToQueue',
      targets: [{ id: 'Q', arn: 'arn:aws:sqs:us-east-1:000000000000:q' }],
    });
    const listed = (await events.handle('ListRules', {})) as { Rules: Record<string, unknown>[] };
    expect(listed.Rules).toContainEqual(
      expect.objectContaining({ Name: 'Sweep', ScheduleExpression: 'rate(1 minute)', State: 'DISABLED' }),
    );
    expect(listed.Rules.find((r) => r.Name === 'Sweep')).not.toHaveProperty('EventPattern');
    await sleep(300);
    expect(calls.filter((c) => c.arn === SWEEPER)).toHaveLength(0);
    expect(calls.filter((c) => c.arn.includes(':sqs:')).length).toBeGreaterThanOrEqual(1);
    // Replacing the queue rule by one with a long period stops the short one.
    events.putRule({
      ...rule('rate(1 day)'),
      name: 'ToQueue',
      targets: [{ id: 'Q', arn: 'arn:aws:sqs:us-east-1:000000000000:q' }],
    });
    const count = calls.length;
    await sleep(300);
    expect(calls).toHaveLength(count);
    expect(() => events.putRule({ ...rule('rate(1 minute)'), scheduleExpression: undefined })).toThrow(
      /give it an EventPattern, a ScheduleExpression, or both/,
    );
    await events.close();
  });
});
