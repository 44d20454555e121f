import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CloudWatchLogsClient,
  FilterLogEventsCommand,
  GetLogEventsCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-cloudwatch-logs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AwsError } from '../wire/aws-error.ts';
import { LogsService } from './service.ts';

describe('LogsService', () => {
  const t0 = Date.UTC(2026, 0, 1);

  function seeded(): LogsService {
    const logs = new LogsService({});
    logs.put('/aws/lambda/Pay', 'a', [
      { timestamp: t0 + 1, message: 'a1 ERROR' },
      { timestamp: t0 + 3, message: JSON.stringify({ orderId: 'O1', level: 'INFO' }) },
      { timestamp: t0 + 5, message: 'a5 ERROR' },
    ]);
    logs.put('/aws/lambda/Pay', 'b', [
      { timestamp: t0 + 2, message: 'b2 ERROR' },
      { timestamp: t0 + 4, message: JSON.stringify({ orderId: 'O2', level: 'ERROR' }) },
    ]);
    // Out of order on purpose: the stream keeps time order.
    logs.put('/aws/lambda/Pay', 'b', [{ timestamp: t0, message: 'b0 early' }]);
    logs.put('/aws/lambda/Ship', 'x', [{ timestamp: t0, message: 'ship ERROR' }]);
    return logs;
  }

  it('FilterLogEvents interleaves streams by time, pages with limit + nextToken and lists the searched streams', async () => {
    const logs = seeded();
    const messages: string[] = [];
    let nextToken: string | undefined;
    let pages = 0;
    do {
      const page = (await logs.handle('FilterLogEvents', {
        logGroupName: '/aws/lambda/Pay',
        limit: 2,
        nextToken,
      })) as {
        events: { message: string; logStreamName: string; eventId: string }[];
        searchedLogStreams: { logStreamName: string; searchedCompletely: boolean }[];
        nextToken?: string;
      };
      messages.push(...page.events.map((e) => `${e.logStreamName}:${e.message.slice(0, 8)}`));
      expect(page.searchedLogStreams).toEqual([
        { logStreamName: 'a', searchedCompletely: true },
        { logStreamName: 'b', searchedCompletely: true },
      ]);
      nextToken = page.nextToken;
      pages++;
    } while (nextToken);
    expect(pages).toBe(3);
    expect(messages).toEqual([
      'b:b0 early',
      'a:a1 ERROR',
      'b:b2 ERROR',
      'a:{"orderI',
      'b:{"orderI',
      'a:a5 ERROR',
    ]);
  });

  it('FilterLogEvents applies the pattern, stream names and an inclusive time range', async () => {
    const logs = seeded();
    const filter = async (input: Record<string, unknown>) =>
      (
        (await logs.handle('FilterLogEvents', { logGroupName: '/aws/lambda/Pay', ...input })) as {
          events: { message: string }[];
        }
      ).events.map((e) => e.message);

    expect(await filter({ filterPattern: 'ERROR' })).toEqual([
      'a1 ERROR',
      'b2 ERROR',
      JSON.stringify({ orderId: 'O2', level: 'ERROR' }),
      'a5 ERROR',
    ]);
    expect(await filter({ filterPattern: 'ERROR -orderId' })).toEqual(['a1 ERROR', 'b2 ERROR', 'a5 ERROR']);
    expect(await filter({ filterPattern: '{ $.orderId = "O2" }' })).toEqual([
      JSON.stringify({ orderId: 'O2', level: 'ERROR' }),
    ]);
    expect(await filter({ filterPattern: 'ERROR -orderId', logStreamNames: ['b'] })).toEqual(['b2 ERROR']);
    expect(await filter({ startTime: t0 + 2, endTime: t0 + 3 })).toHaveLength(2);
    expect(
      await logs.handle('FilterLogEvents', {
        logGroupIdentifier: 'arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/Ship',
      }),
    ).toMatchObject({ events: [{ message: 'ship ERROR', logStreamName: 'x' }] });
  });

  it('answers AWS errors for a missing group, a bad pattern, a bad token and bad input', async () => {
    const logs = seeded();
    const failure = async (operation: string, input: Record<string, unknown>) => {
      try {
        await logs.handle(operation, input);
      } catch (error) {
        return error as AwsError;
      }
      throw new Error(`${operation} did not fail`);
    };
    const missing = await failure('FilterLogEvents', { logGroupName: '/aws/lambda/Nope' });
    expect(missing).toBeInstanceOf(AwsError);
    expect([missing.type, missing.message]).toEqual([
      'ResourceNotFoundException',
      'The specified log group does not exist.',
    ]);
    const pattern = await failure('FilterLogEvents', {
      logGroupName: '/aws/lambda/Pay',
      filterPattern: '{ $.a = }',
    });
    expect(pattern.type).toBe('InvalidParameterException');
    expect(pattern.message).toMatch(/position 9: expected a value after "="/);
    expect(
      (await failure('FilterLogEvents', { logGroupName: '/aws/lambda/Pay', nextToken: 'garbage' })).type,
    ).toBe('InvalidParameterException');
    expect(
      (await failure('FilterLogEvents', { logGroupName: '/aws/lambda/Pay', limit: 0 })).message,
    ).toContain('limit');
    expect((await failure('CreateLogGroup', { logGroupName: '/aws/lambda/Pay' })).type).toBe(
      'ResourceAlreadyExistsException',
    );
    expect(
      (
        await failure('PutLogEvents', {
          logGroupName: '/aws/lambda/Pay',
          logStreamName: 'zzz',
          logEvents: [],
        })
      ).type,
    ).toBe('ResourceNotFoundException');
    expect(
      (
        await failure('PutLogEvents', {
          logGroupName: '/aws/lambda/Pay',
          logStreamName: 'a',
          logEvents: [
            { timestamp: 2, message: 'x' },
            { timestamp: 1, message: 'y' },
          ],
        })
      ).message,
    ).toContain('chronological order');
    expect((await failure('StartQuery', {})).type).toBe('UnknownOperationException');
  });

  it('creates groups and streams, puts events and reads them back with GetLogEvents tokens', async () => {
    const logs = new LogsService({});
    await logs.handle('CreateLogGroup', { logGroupName: 'app' });
    await logs.handle('CreateLogStream', { logGroupName: 'app', logStreamName: 's' });
    const events = Array.from({ length: 5 }, (_, i) => ({ timestamp: t0 + i, message: `m${i}` }));
    await logs.handle('PutLogEvents', { logGroupName: 'app', logStreamName: 's', logEvents: events });

    const latest = (await logs.handle('GetLogEvents', {
      logGroupName: 'app',
      logStreamName: 's',
      limit: 2,
    })) as {
      events: { message: string }[];
      nextBackwardToken: string;
    };
    expect(latest.events.map((e) => e.message)).toEqual(['m3', 'm4']);
    const earlier = (await logs.handle('GetLogEvents', {
      logGroupName: 'app',
      logStreamName: 's',
      limit: 2,
      nextToken: latest.nextBackwardToken,
    })) as { events: { message: string }[] };
    expect(earlier.events.map((e) => e.message)).toEqual(['m1', 'm2']);
    const head = (await logs.handle('GetLogEvents', {
      logGroupName: 'app',
      logStreamName: 's',
      startFromHead: true,
      limit: 3,
    })) as { events: { message: string }[]; nextForwardToken: string };
    expect(head.events.map((e) => e.message)).toEqual(['m0', 'm1', 'm2']);
    const rest = (await logs.handle('GetLogEvents', {
      logGroupName: 'app',
      logStreamName: 's',
      nextToken: head.nextForwardToken,
    })) as { events: { message: string }[]; nextForwardToken: string };
    expect(rest.events.map((e) => e.message)).toEqual(['m3', 'm4']);

    const streams = (await logs.handle('DescribeLogStreams', { logGroupName: 'app' })) as {
      logStreams: { logStreamName: string; firstEventTimestamp: number; lastEventTimestamp: number }[];
    };
    expect(streams.logStreams).toMatchObject([
      { logStreamName: 's', firstEventTimestamp: t0, lastEventTimestamp: t0 + 4 },
    ]);
  });

  it('DescribeLogGroups filters by prefix and pages', async () => {
    const logs = seeded();
    logs.createLogGroup('/aws/vendedlogs/states/OrderSaga', 30);
    const first = (await logs.handle('DescribeLogGroups', {
      logGroupNamePrefix: '/aws/lambda/',
      limit: 1,
    })) as {
      logGroups: { logGroupName: string; arn: string }[];
      nextToken?: string;
    };
    expect(first.logGroups).toEqual([
      expect.objectContaining({
        logGroupName: '/aws/lambda/Pay',
        arn: 'arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/Pay:*',
      }),
    ]);
    const second = (await logs.handle('DescribeLogGroups', {
      logGroupNamePrefix: '/aws/lambda/',
      limit: 1,
      nextToken: first.nextToken,
    })) as { logGroups: { logGroupName: string }[]; nextToken?: string };
    expect(second.logGroups.map((g) => g.logGroupName)).toEqual(['/aws/lambda/Ship']);
    expect(second.nextToken).toBeUndefined();
    const all = (await logs.handle('DescribeLogGroups', {})) as {
      logGroups: { logGroupName: string; retentionInDays?: number }[];
    };
    expect(all.logGroups.find((g) => g.logGroupName.includes('OrderSaga'))?.retentionInDays).toBe(30);
  });

  describe('persistence', () => {
    let dataDir: string;
    beforeAll(async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'saga-logs-'));
    });
    afterAll(async () => {
      await rm(dataDir, { recursive: true, force: true });
    });

    it('keeps groups, streams, events, retention and deletions across a restart', async () => {
      const before = new LogsService({ dataDir });
      before.put('/aws/lambda/Pay', '2026/01/01/[$LATEST]abc', [
        { timestamp: t0, message: 'START RequestId: r1 Version: $LATEST' },
        { timestamp: t0 + 1, message: JSON.stringify({ orderId: 'O9', message: 'multi\nline' }) },
      ]);
      before.createLogGroup('/aws/lambda/Pay', 7);
      before.put('/aws/lambda/Gone', 's', [{ timestamp: t0, message: 'bye' }]);
      await before.handle('DeleteLogGroup', { logGroupName: '/aws/lambda/Gone' });
      await before.close();

      const after = new LogsService({ dataDir });
      const found = (await after.handle('FilterLogEvents', {
        logGroupName: '/aws/lambda/Pay',
        filterPattern: '{ $.orderId = "O9" }',
      })) as { events: { message: string; logStreamName: string }[] };
      // Retention 7 days counts from now; these 2026-01-01 events would be expired later than that.
      const groups = (await after.handle('DescribeLogGroups', {})) as {
        logGroups: { logGroupName: string; retentionInDays?: number }[];
      };
      expect(groups.logGroups.map((g) => [g.logGroupName, g.retentionInDays])).toEqual([
        ['/aws/lambda/Pay', 7],
      ]);
      if (Date.now() - t0 < 7 * 86_400_000) {
        expect(found.events).toEqual([
          expect.objectContaining({
            logStreamName: '2026/01/01/[$LATEST]abc',
            message: expect.stringContaining('multi\\nline'),
          }),
        ]);
      } else {
        expect(found.events).toEqual([]);
      }
      const all = (await after.handle('GetLogEvents', {
        logGroupName: '/aws/lambda/Pay',
        logStreamName: '2026/01/01/[$LATEST]abc',
        startFromHead: true,
      })) as { events: unknown[] };
      expect(all.events.length).toBe(found.events.length === 1 ? 2 : 0);
    });
  });

  describe('over the AWS SDK wire protocol', () => {
    const logs = seeded();
    let server: Server;
    let client: CloudWatchLogsClient;

    beforeAll(async () => {
      // A minimal awsJson1_1 front: the edge does this for the real local cloud.
      server = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const operation = String(req.headers['x-amz-target']).split('.')[1] ?? '';
          logs
            .handle(
              operation,
              JSON.parse(Buffer.concat(chunks).toString() || '{}') as Record<string, unknown>,
            )
            .then(
              (body) => [200, body] as const,
              (error: AwsError) =>
                [error.statusCode, { __type: error.type, message: error.message }] as const,
            )
            .then(([status, body]) => {
              res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
              res.end(JSON.stringify(body));
            });
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      client = new CloudWatchLogsClient({
        endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        region: 'us-east-1',
        credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
      });
    });
    afterAll(async () => {
      client.destroy();
      await new Promise((resolve) => server.close(resolve));
    });

    it('returns shapes the SDK parses, and errors it maps to its exception classes', async () => {
      const out = await client.send(
        new FilterLogEventsCommand({
          logGroupName: '/aws/lambda/Pay',
          filterPattern: '{ $.level = "ERROR" }',
        }),
      );
      expect(out.events).toEqual([
        expect.objectContaining({
          logStreamName: 'b',
          timestamp: t0 + 4,
          message: JSON.stringify({ orderId: 'O2', level: 'ERROR' }),
        }),
      ]);
      const got = await client.send(
        new GetLogEventsCommand({ logGroupName: '/aws/lambda/Ship', logStreamName: 'x' }),
      );
      expect(got.events?.map((e) => e.message)).toEqual(['ship ERROR']);
      await expect(client.send(new FilterLogEventsCommand({ logGroupName: 'nope' }))).rejects.toBeInstanceOf(
        ResourceNotFoundException,
      );
    });
  });
});
