import { existsSync, readFileSync } from 'node:fs';
import { Logger } from '@aws-lambda-powertools/logger';
import {
  CloudWatchLogsClient,
  type FilteredLogEvent,
  FilterLogEventsCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { lambdaContext } from '../../services/shared/testing.ts';
import { CapturedStream, runCli, tempProject } from '../../test/support/cli.ts';
import type { CommandContext } from '../command.ts';
import { interruptNote } from '../errors.ts';
import { createLogTail, shortFunctionName } from '../saga/log-tail.ts';
import type { StackOutputs } from '../target/context.ts';
import type { OrderLogLine } from '../target/logs.ts';
import type { ResolvedTarget } from '../target/target.ts';
import { Output } from '../ui/output.ts';
import {
  createLinePrinter,
  follow,
  type LogRecord,
  levelRank,
  parseLogsOptions,
  shownAtLevel,
  toLogRecord,
} from './logs.ts';

const TEMPLATE = new URL('../../cdk.out/Saga.template.json', import.meta.url);

/** Our functions' logical ids as CDK generates them (`ChargePaymentFunction60D226DB`), from the synthesized template. */
function functionLogicalIds(): string[] {
  if (!existsSync(TEMPLATE)) {
    // Not synthesized yet: the ids of the stack as it is committed (construct id + 8-hex path hash).
    return [
      'ChargePaymentFunction60D226DB',
      'RefundPaymentFunction8E0AE9CB',
      'ReserveInventoryFunction15B81C05',
      'ReleaseInventoryFunction945A6FD7',
      'ShipOrderFunction264D20AA',
      'OrderFunctionFABF799C',
      'OutboxPublisherFunctionA7EA23BE',
      'OutboxSweeperFunction42C3EDC8',
    ];
  }
  const template = JSON.parse(readFileSync(TEMPLATE, 'utf8')) as {
    Resources: Record<string, { Type: string }>;
  };
  return Object.entries(template.Resources)
    .filter(([id, r]) => r.Type === 'AWS::Lambda::Function' && /Function[0-9A-F]{8}$/.test(id))
    .map(([id]) => id);
}

describe('shortFunctionName', () => {
  const ids = functionLogicalIds();

  test('the (synthesized) template has the eight functions of the contract', () => {
    expect(ids.map((id) => id.replace(/Function[0-9A-F]{8}$/, '')).sort()).toEqual([
      'ChargePayment',
      'Order',
      'OutboxPublisher',
      'OutboxSweeper',
      'RefundPayment',
      'ReleaseInventory',
      'ReserveInventory',
      'ShipOrder',
    ]);
  });

  test.each(ids)('%s as CloudFormation names it on AWS and as the local cloud names it', (logicalId) => {
    const construct = logicalId.replace(/Function[0-9A-F]{8}$/, '');
    // AWS: <stack>-<logical id>-<12 random letters and digits>.
    expect(shortFunctionName(`Saga-${logicalId}-AbCdEf1g2H3i`)).toBe(construct);
    // The local cloud: <stack>-<logical id>-<13 upper-case letters and digits>.
    expect(shortFunctionName(`Saga-${logicalId}-1A2B3C4D5E6F7`)).toBe(construct);
  });

  test('a hash made of letters only is still cut off', () => {
    expect(shortFunctionName('Saga-ShipOrderFunctionABCDEFAB-q1W2e3R4t5Y6')).toBe('ShipOrder');
  });

  test('names that are not CloudFormation-generated come back as they are', () => {
    expect(shortFunctionName('my-handwritten-function-name')).toBe('my-handwritten-function-name');
    expect(shortFunctionName('Saga-AWS679f53fac002430cb0da5b7982bd2287-AbCdEf1g2H3i')).toBe(
      'Saga-AWS679f53fac002430cb0da5b7982bd2287-AbCdEf1g2H3i',
    );
  });
});

const ORDER_ID = '01JD8Z6Q3M4N5P6R7S8T9V0W1X';
const CHARGE = 'Saga-ChargePaymentFunction60D226DB-1A2B3C4D5E6F7';
const SHIP = 'Saga-ShipOrderFunction264D20AA-1A2B3C4D5E6F7';

/** Real Powertools Logger lines (its own formatter, as the functions write them), one per call of `write`. */
function powertoolsLines(write: (logger: Logger) => void): string[] {
  const lines: string[] = [];
  const collect = (chunk: string | Uint8Array): boolean => {
    lines.push(...String(chunk).split('\n').filter(Boolean));
    return true;
  };
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(collect);
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(collect);
  try {
    const logger = new Logger({ serviceName: 'payment', logLevel: 'DEBUG' });
    logger.addContext(lambdaContext({ functionName: CHARGE }));
    logger.appendKeys({ orderId: ORDER_ID });
    write(logger);
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
  return lines;
}

/** What readOrderLogs makes of a message (target/logs.ts): JSON lines parsed into `fields`, others as text. */
function logLine(message: string, timestamp = 1_764_756_000_000, functionName = CHARGE): OrderLogLine {
  try {
    const fields = JSON.parse(message) as Record<string, unknown>;
    return {
      timestamp,
      functionName,
      level: String(fields.level ?? 'INFO'),
      message: String(fields.message),
      fields,
    };
  } catch {
    return { timestamp, functionName, level: 'INFO', message: message.trimEnd() };
  }
}

describe('toLogRecord', () => {
  test('a Powertools line: level, message, service, time and the correlation ids on their own, the rest in fields', () => {
    const [line] = powertoolsLines((logger) => logger.warn('charge failed', { step: 'payment', attempt: 2 }));
    const parsed = JSON.parse(line ?? '{}') as Record<string, unknown>;
    const record = toLogRecord(logLine(line ?? ''));
    expect(record).toEqual({
      type: 'log',
      timestamp: 1_764_756_000_000,
      functionName: CHARGE,
      level: 'WARN',
      message: 'charge failed',
      time: parsed.timestamp,
      service: 'payment',
      orderId: ORDER_ID,
      requestId: parsed.function_request_id,
      fields: {
        cold_start: parsed.cold_start,
        function_arn: parsed.function_arn,
        function_memory_size: parsed.function_memory_size,
        function_name: CHARGE,
        sampling_rate: parsed.sampling_rate,
        step: 'payment',
        attempt: 2,
      },
    });
    expect(record.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  test('an error line keeps the error object in fields; X-Ray and correlation ids are lifted out', () => {
    const record = toLogRecord(
      logLine(
        JSON.stringify({
          level: 'error',
          message: 'refund failed',
          timestamp: '2026-12-03T10:00:00.123Z',
          service: 'payment',
          xray_trace_id: '1-5759e988-bd862e3fe1be46a994272793',
          correlation_id: 'req-42',
          orderId: ORDER_ID,
          error: { name: 'TransientError', message: 'try again' },
        }),
      ),
    );
    expect(record).toMatchObject({
      level: 'ERROR',
      xrayTraceId: '1-5759e988-bd862e3fe1be46a994272793',
      correlationId: 'req-42',
      time: '2026-12-03T10:00:00.123Z',
      fields: { error: { name: 'TransientError', message: 'try again' } },
    });
    expect(record.raw).toBeUndefined();
  });

  test("Lambda's text format around a JSON line: the level and request id of the prefix, the JSON's fields", () => {
    const record = toLogRecord(
      logLine(`2026-12-03T10:00:00.000Z\tabc-123\tERROR\t{"message":"Invoke Error","orderId":"${ORDER_ID}"}`),
    );
    expect(record).toMatchObject({
      level: 'ERROR',
      message: 'Invoke Error',
      requestId: 'abc-123',
      orderId: ORDER_ID,
    });
    expect(record.raw).toContain('Invoke Error');
  });

  test('plain text: no level (null), the text as message and raw, the event time', () => {
    const record = toLogRecord(logLine('START RequestId: abc Version: $LATEST\n'));
    expect(record).toEqual({
      type: 'log',
      timestamp: 1_764_756_000_000,
      functionName: CHARGE,
      level: null,
      message: 'START RequestId: abc Version: $LATEST',
      time: new Date(1_764_756_000_000).toISOString(),
      fields: {},
      raw: 'START RequestId: abc Version: $LATEST',
    });
  });
});

describe('--level', () => {
  test('lines below the level are hidden; a line whose level cannot be read is shown', () => {
    const at = (level: string | null) => shownAtLevel({ level }, 'warn');
    expect([at('DEBUG'), at('INFO'), at('WARN'), at('ERROR'), at('CRITICAL')]).toEqual([
      false,
      false,
      true,
      true,
      true,
    ]);
    expect(at(null)).toBe(true);
    expect(at('NOTICE')).toBe(true);
    expect(shownAtLevel({ level: 'TRACE' }, undefined)).toBe(true);
    expect(levelRank('warn')).toBe(levelRank('WARN'));
  });

  test('real Powertools lines at every level, filtered at info and at error', () => {
    const lines = powertoolsLines((logger) => {
      logger.debug('reading flags');
      logger.info('charged');
      logger.warn('retrying');
      logger.error('gave up');
    }).map((l) => toLogRecord(logLine(l)));
    expect(lines.filter((r) => shownAtLevel(r, 'info')).map((r) => r.message)).toEqual([
      'charged',
      'retrying',
      'gave up',
    ]);
    expect(lines.filter((r) => shownAtLevel(r, 'error')).map((r) => r.message)).toEqual(['gave up']);
  });
});

describe('parseLogsOptions', () => {
  test('an order id, or --follow without one (every order); a level', () => {
    expect(parseLogsOptions([ORDER_ID.toLowerCase()], { level: 'error' })).toEqual({
      orderId: ORDER_ID,
      follow: false,
      level: 'error',
    });
    expect(parseLogsOptions([], { follow: true })).toEqual({ follow: true });
  });

  test('no id and no --follow, a bad id: UserErrors', () => {
    expect(() => parseLogsOptions([], {})).toThrowError(
      '`saga logs --follow` to follow the lines of every order',
    );
    expect(() => parseLogsOptions(['xyz'], {})).toThrowError('received "xyz"');
  });

  test.each([
    [['logs'], '`saga logs --follow`'],
    [['logs', ORDER_ID, '--level', 'verbose'], '--level takes one of debug, info, warn, error'],
    [['logs', '--follow', '--level', 'x', '--json'], 'received \\"x\\"'],
  ])('saga %j → exit 2 before looking for the stack', async (argv, message) => {
    const cwd = await tempProject();
    const result = await runCli(argv, { cwd });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
  });

  test('good options go on to the stack (exit 3 here: no local cloud)', async () => {
    const cwd = await tempProject();
    const result = await runCli(['logs', ORDER_ID, '--level', 'warn'], { cwd });
    expect(result.code).toBe(3);
  });
});

describe('createLinePrinter', () => {
  test('time, function, level, message (and the error it carries); with every order, the order id too; an unreadable level as —', async () => {
    const stdout = new CapturedStream();
    const out = await Output.create({
      stdout,
      stderr: new CapturedStream(),
      json: false,
      color: false,
      interactive: false,
    });
    const record = (level: string | null, message: string): LogRecord => ({
      type: 'log',
      timestamp: Date.parse('2026-12-03T10:00:00.123Z'),
      functionName: CHARGE,
      level,
      message,
      time: '2026-12-03T10:00:00.123Z',
      orderId: ORDER_ID,
      fields: {},
    });
    createLinePrinter(out, { functionWidth: 16, withOrder: false })(record('WARN', 'charge failed'));
    createLinePrinter(out, { functionWidth: 16, withOrder: true })(record(null, 'START RequestId: abc'));
    createLinePrinter(out, { functionWidth: 16, withOrder: false })({
      ...record('WARN', 'charge failed'),
      fields: { error: { name: 'TransientError', message: 'try again', stack: '…' } },
    });
    expect(stdout.text().split('\n')).toEqual([
      '10:00:00.123 ChargePayment    WARN  charge failed',
      `10:00:00.123 ChargePayment    ${ORDER_ID} —     START RequestId: abc`,
      '10:00:00.123 ChargePayment    WARN  charge failed (TransientError: try again)',
      '',
    ]);
  });
});

describe('follow and the tail (CloudWatch Logs stubbed)', () => {
  const logs = mockClient(CloudWatchLogsClient);
  afterEach(() => logs.reset());

  function target(): ResolvedTarget {
    const outputs = {
      ApiUrl: 'http://127.0.0.1:1/',
      StateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:OrderSaga',
      FunctionNames: `${CHARGE},${SHIP}`,
    } as unknown as StackOutputs;
    const config = { region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } };
    return { kind: 'local', ...config, endpoint: 'http://127.0.0.1:1', outputs, clientConfig: () => config };
  }

  /** A log service whose groups hold `events` (filtered by startTime), and the calls made to it. */
  function stubGroups(events: Record<string, FilteredLogEvent[]>): {
    startTimes: (number | undefined)[];
    patterns: string[];
  } {
    const calls = { startTimes: [] as (number | undefined)[], patterns: [] as string[] };
    logs
      .on(FilterLogEventsCommand)
      .callsFake((input: { logGroupName: string; startTime?: number; filterPattern: string }) => {
        calls.startTimes.push(input.startTime);
        calls.patterns.push(input.filterPattern);
        const group = input.logGroupName.replace('/aws/lambda/', '');
        return { events: (events[group] ?? []).filter((e) => (e.timestamp ?? 0) >= (input.startTime ?? 0)) };
      });
    return calls;
  }

  const event = (timestamp: number, message: string, orderId = ORDER_ID): FilteredLogEvent => ({
    timestamp,
    message: JSON.stringify({
      level: 'INFO',
      message,
      orderId,
      service: 'payment',
      timestamp: new Date(timestamp).toISOString(),
    }),
  });

  test('the tail reads again a little before the newest line (late lines of another group are not lost), once each', async () => {
    const events: Record<string, FilteredLogEvent[]> = {
      [CHARGE]: [event(1000, 'a'), event(5000, 'b')],
      [SHIP]: [],
    };
    const calls = stubGroups(events);
    const tail = createLogTail(target(), ORDER_ID, { minIntervalMs: 0, lookbackMs: 2000 });
    expect((await tail.poll()).map((l) => l.message)).toEqual(['a', 'b']);
    // A line of another function, older than the newest seen, becomes searchable late.
    events[SHIP]?.push(event(4000, 'late'));
    events[CHARGE]?.push(event(5000, 'b'), event(6000, 'c'));
    expect((await tail.poll()).map((l) => l.message)).toEqual(['late', 'b', 'c']);
    expect(await tail.poll()).toEqual([]);
    expect(calls.startTimes.slice(-2)).toEqual([4000, 4000]);
  });

  test('--follow of every order: lines with an orderId from now on, at the level asked, until Ctrl-C (130, with the note)', async () => {
    const now = Date.now();
    const events: Record<string, FilteredLogEvent[]> = {
      [CHARGE]: [event(now - 60_000, 'before the follow')],
      [SHIP]: [],
    };
    const calls = stubGroups(events);
    const controller = new AbortController();
    const stdout = new CapturedStream();
    const out = await Output.create({
      stdout,
      stderr: new CapturedStream(),
      json: true,
      color: false,
      interactive: false,
    });
    const ctx = { out, signal: controller.signal } as unknown as CommandContext;
    const seen: LogRecord[] = [];
    const following = follow(ctx, target(), { follow: true, level: 'warn' }, (r) => seen.push(r), {
      minIntervalMs: 10,
    });
    events[SHIP]?.push(
      {
        timestamp: now + 10,
        message: JSON.stringify({ level: 'WARN', message: 'shipping slow', orderId: ORDER_ID }),
      },
      {
        timestamp: now + 11,
        message: JSON.stringify({ level: 'DEBUG', message: 'hidden', orderId: ORDER_ID }),
      },
      { timestamp: now + 12, message: 'not JSON, level unknown' },
    );
    await vi.waitFor(() =>
      expect(seen.map((r) => r.message)).toEqual(['shipping slow', 'not JSON, level unknown']),
    );
    expect(calls.patterns.every((p) => p === '{ $.orderId = "*" }')).toBe(true);
    controller.abort();
    expect(await following).toBe(130);
    expect(interruptNote(controller.signal)).toContain('Stopped following the logs');
  });
});
