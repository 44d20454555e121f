import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GetExecutionHistoryCommand, SFNClient } from '@aws-sdk/client-sfn';
import { describe, expect, test } from 'vitest';
import {
  createHistoryCursor,
  type HistoryEventLike,
  HistoryFileError,
  type HistoryPageRequest,
  IncompleteHistoryError,
  parseHistoryFile,
  pollIntervalMs,
  timestampMs,
} from './history.ts';
import { buildTimeline } from './model.ts';

const AWS_FIXTURES = fileURLToPath(new URL('../../test/fixtures/aws-history', import.meta.url));

describe('parseHistoryFile', () => {
  test.each(readdirSync(AWS_FIXTURES).filter((name) => name.endsWith('.json')))('reads %s', (name) => {
    const text = readFileSync(join(AWS_FIXTURES, name), 'utf8');
    const events = parseHistoryFile(text);
    const raw = JSON.parse(text) as { events: unknown[] };
    expect(events).toHaveLength(raw.events.length);
    expect(events[0]?.type).toBe('ExecutionStarted');
    expect(events.map((event) => event.id)).toEqual(events.map((_, index) => index + 1));
  });

  test('accepts a bare array, in reverse order, with duplicated pages', () => {
    const text = readFileSync(join(AWS_FIXTURES, '05-choice-then-pass.json'), 'utf8');
    const { events } = JSON.parse(text) as { events: HistoryEventLike[] };
    const reversed = [...events].reverse();
    const parsed = parseHistoryFile(JSON.stringify([...reversed, ...reversed.slice(0, 2)]));
    expect(parsed.map((event) => event.type)).toEqual([
      'ExecutionStarted',
      'ChoiceStateEntered',
      'ChoiceStateExited',
      'PassStateEntered',
      'PassStateExited',
      'ExecutionSucceeded',
    ]);
  });

  test('says what it received when the text is not JSON', () => {
    expect(() => parseHistoryFile('arn:aws:states:eu-west-1:1:execution:Saga:01J')).toThrowError(
      HistoryFileError,
    );
    expect(() => parseHistoryFile('arn:aws:states:eu-west-1:1:execution:Saga:01J')).toThrowError(
      /not JSON .*"arn:aws:states:eu-west-1:1:execution:Saga:01J".*get-execution-history/,
    );
  });

  test('says what it received when the JSON is not a history', () => {
    expect(() => parseHistoryFile('{"executions": [], "nextToken": null}')).toThrowError(
      /expected \{"events": \[\.\.\.\]\}.*received an object with keys executions, nextToken/,
    );
    expect(() => parseHistoryFile('{"events": [{"name": "x"}]}')).toThrowError(
      /event #0 should be an object with a numeric "id" and a string "type", received an object with keys name/,
    );
    expect(() => parseHistoryFile('42')).toThrowError(/received number 42/);
    const error = (() => {
      try {
        parseHistoryFile('{');
      } catch (caught) {
        return caught as Error;
      }
      return undefined;
    })();
    expect(error?.name).toBe('HistoryFileError');
    expect(error?.cause).toBeInstanceOf(SyntaxError);
  });
});

describe('timestampMs', () => {
  test('reads Dates, ISO strings (AWS CLI microseconds), epoch seconds and milliseconds', () => {
    expect(timestampMs(new Date('2026-11-27T10:00:00.250Z'))).toBe(Date.parse('2026-11-27T10:00:00.250Z'));
    expect(timestampMs('2026-11-27T10:00:00.250000+00:00')).toBe(Date.parse('2026-11-27T10:00:00.250Z'));
    expect(timestampMs(1_795_600_000.25)).toBe(1_795_600_000_250);
    expect(timestampMs(1_795_600_000_250)).toBe(1_795_600_000_250);
    expect(timestampMs('timestamp')).toBeUndefined();
    expect(timestampMs(undefined)).toBeUndefined();
  });
});

/** A fake GetExecutionHistory over a growing list of events, recording each request. */
function pagedSource() {
  const events: HistoryEventLike[] = [];
  const requests: HistoryPageRequest[] = [];
  const append = (count: number) => {
    for (let index = 0; index < count; index += 1) {
      const id = events.length + 1;
      events.push({
        id,
        previousEventId: id - 1,
        type: id === 1 ? 'ExecutionStarted' : 'PassStateEntered',
        timestamp: new Date(id * 1000),
      });
    }
  };
  const fetchPage = async (request: HistoryPageRequest) => {
    requests.push(request);
    const newestFirst = [...events].reverse();
    const offset = request.nextToken === undefined ? 0 : Number(request.nextToken);
    const page = newestFirst.slice(offset, offset + request.maxResults);
    const next = offset + request.maxResults;
    return { events: page, nextToken: next < newestFirst.length ? String(next) : undefined };
  };
  return { events, requests, append, fetchPage };
}

describe('createHistoryCursor', () => {
  test('the first poll reads everything; later polls fetch only the pages holding new events', async () => {
    const source = pagedSource();
    source.append(250);
    const cursor = createHistoryCursor(source.fetchPage, { firstPageSize: 100, pageSize: 5 });

    const first = await cursor.poll();
    expect(first.map((event) => event.id)).toEqual(Array.from({ length: 250 }, (_, index) => index + 1));
    expect(source.requests).toHaveLength(3);
    expect(source.requests.every((request) => request.reverseOrder && request.maxResults === 100)).toBe(true);
    expect(cursor.calls).toEqual({ lastPoll: 3, total: 3 });

    source.requests.length = 0;
    source.append(7);
    const second = await cursor.poll();
    expect(second.map((event) => event.id)).toEqual([251, 252, 253, 254, 255, 256, 257]);
    // ceil(7 / 5) pages, each of pageSize, starting from the newest.
    expect(source.requests).toEqual([
      { reverseOrder: true, maxResults: 5 },
      { reverseOrder: true, maxResults: 5, nextToken: '5' },
    ]);

    source.requests.length = 0;
    source.append(5);
    expect((await cursor.poll()).map((event) => event.id)).toEqual([258, 259, 260, 261, 262]);
    // Exactly one page of new events: the cursor knows ids are consecutive and does not fetch the next page.
    expect(source.requests).toHaveLength(1);

    source.requests.length = 0;
    expect(await cursor.poll()).toEqual([]);
    expect(source.requests).toHaveLength(1);
    expect(cursor.lastEventId).toBe(262);
    expect(cursor.events).toHaveLength(262);
    expect(cursor.calls.total).toBe(3 + 2 + 1 + 1);
  });

  test('a failed page leaves the cursor unchanged and the next poll gets the events', async () => {
    const source = pagedSource();
    source.append(3);
    let failNext = false;
    const cursor = createHistoryCursor(async (request) => {
      if (failNext) {
        failNext = false;
        throw new Error('ThrottlingException: Rate exceeded');
      }
      return source.fetchPage(request);
    });
    await cursor.poll();
    source.append(2);
    failNext = true;
    await expect(cursor.poll()).rejects.toThrowError(/Rate exceeded/);
    expect(cursor.lastEventId).toBe(3);
    expect((await cursor.poll()).map((event) => event.id)).toEqual([4, 5]);
  });

  test('knows when the execution has finished', async () => {
    const source = pagedSource();
    source.append(2);
    const cursor = createHistoryCursor(source.fetchPage);
    await cursor.poll();
    expect(cursor.finished).toBe(false);
    source.events.push({ id: 3, previousEventId: 2, type: 'ExecutionSucceeded', timestamp: new Date(3000) });
    await cursor.poll();
    expect(cursor.finished).toBe(true);
  });

  test('rejects page sizes GetExecutionHistory would refuse', () => {
    expect(() => createHistoryCursor(pagedSource().fetchPage, { pageSize: 1001 })).toThrowError(
      /1 to 1000.*1001/,
    );
  });
});

describe('pollIntervalMs', () => {
  test('polls at most twice a second, doubles while nothing changes, caps at 4 s', () => {
    expect([0, 1, 2, 3, 4, 10, 1000].map((unchangedPolls) => pollIntervalMs({ unchangedPolls }))).toEqual([
      500, 1000, 2000, 4000, 4000, 4000, 4000,
    ]);
  });

  test('pays back multi-page polls and backs off fully when throttled', () => {
    expect(pollIntervalMs({ unchangedPolls: 0, lastPollCalls: 3 })).toBe(1500);
    expect(pollIntervalMs({ unchangedPolls: 0, lastPollCalls: 50 })).toBe(4000);
    expect(pollIntervalMs({ unchangedPolls: 0, throttled: true })).toBe(4000);
    expect(pollIntervalMs({ unchangedPolls: 2, minMs: 250, maxMs: 800 })).toBe(800);
  });
});

describe('createHistoryCursor with the real AWS SDK over the wire', () => {
  test('polls GetExecutionHistory pages (awsJson1_0) and models SDK events exactly like the saved file', async () => {
    // Prepare: a Step Functions endpoint on loopback serving a saga history that grows between polls.
    const saved = parseHistoryFile(
      readFileSync(join(import.meta.dirname, 'fixtures', 'saga-payment-transient.json'), 'utf8'),
    );
    // On the wire, timestamps are epoch seconds.
    const wire = saved.map((event) => ({ ...event, timestamp: (timestampMs(event.timestamp) ?? 0) / 1000 }));
    let visible = 12;
    const requests: Record<string, unknown>[] = [];
    const server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      request.on('end', () => {
        const input = JSON.parse(body) as { maxResults: number; reverseOrder: boolean; nextToken?: string };
        requests.push({ target: request.headers['x-amz-target'], ...input });
        const newestFirst = wire.slice(0, visible).reverse();
        const offset = Number(input.nextToken ?? 0);
        const next = offset + input.maxResults;
        response.setHeader('content-type', 'application/x-amz-json-1.0');
        response.end(
          JSON.stringify({
            events: newestFirst.slice(offset, next),
            ...(next < newestFirst.length ? { nextToken: String(next) } : {}),
          }),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const sfn = new SFNClient({
      endpoint: `http://127.0.0.1:${port}`,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
    });
    const executionArn =
      'arn:aws:states:eu-west-1:123456789012:execution:OrderSaga:01JDQ3Z8K4M2N6P8R0T2V4X6Z8';
    try {
      // Act
      const cursor = createHistoryCursor(
        async (page) => {
          const output = await sfn.send(new GetExecutionHistoryCommand({ executionArn, ...page }));
          return { events: output.events, nextToken: output.nextToken };
        },
        { firstPageSize: 5, pageSize: 4 },
      );
      const first = await cursor.poll();
      visible = saved.length;
      const second = await cursor.poll();

      // Assess
      expect(first.map((event) => event.id)).toEqual(Array.from({ length: 12 }, (_, index) => index + 1));
      expect(second).toHaveLength(saved.length - 12);
      expect(first[0]?.timestamp).toBeInstanceOf(Date);
      expect(requests[0]).toEqual({
        target: 'AWSStepFunctions.GetExecutionHistory',
        executionArn,
        maxResults: 5,
        reverseOrder: true,
      });
      // 12 events in pages of 5, then 18 new ones in pages of 4.
      expect(requests).toHaveLength(3 + Math.ceil((saved.length - 12) / 4));
      expect(buildTimeline(cursor.events)).toEqual(buildTimeline(saved));
      expect(buildTimeline(cursor.events).entries[0]).toMatchObject({ attempts: 3, backoffMs: [1200, 2900] });
    } finally {
      sfn.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('an incomplete history file is refused, saying what is missing (issue 13 bug 8)', () => {
  const happy = JSON.parse(
    readFileSync(join(import.meta.dirname, 'fixtures', 'saga-happy.json'), 'utf8'),
  ) as { events: { id: number }[] };

  test('one page with a NextToken (aws --max-items): the later events are missing', () => {
    const page = { events: happy.events.slice(0, 5), NextToken: 'eyJuZXh0VG9rZW4iOiBudWxsfQ==' };
    const parse = () => parseHistoryFile(JSON.stringify(page));
    expect(parse).toThrowError(IncompleteHistoryError);
    expect(parse).toThrowError(
      /ends with a NextToken.*the events after #5 are missing.*holds 5 event\(s\), #1–#5/,
    );
    expect(parse).toThrowError(/get-execution-history --execution-arn <arn> --output json > history\.json/);
    expect(parse).toThrowError(/unless --max-items or --no-paginate/);
  });

  test('the raw API page (nextToken, aws --no-paginate) and a --reverse-order page are refused too', () => {
    const raw = { events: happy.events.slice(0, 5), nextToken: 'AAAA' };
    expect(() => parseHistoryFile(JSON.stringify(raw))).toThrowError(IncompleteHistoryError);
    const reversed = { events: happy.events.slice(3).reverse(), NextToken: 'AAAA' };
    expect(() => parseHistoryFile(JSON.stringify(reversed))).toThrowError(/the events before #4 are missing/);
  });

  test('ids with a gap (pages concatenated with one left out)', () => {
    const gap = [...happy.events.slice(0, 3), ...happy.events.slice(6)];
    expect(() => parseHistoryFile(JSON.stringify(gap))).toThrowError(
      /the events between #3 and #7 are missing.*#1–#3, #7–/,
    );
  });

  test('a whole history, and one with an empty or null token, is accepted', () => {
    expect(parseHistoryFile(JSON.stringify(happy))).toHaveLength(happy.events.length);
    expect(parseHistoryFile(JSON.stringify({ ...happy, NextToken: null }))).toHaveLength(happy.events.length);
    expect(parseHistoryFile(JSON.stringify({ ...happy, nextToken: '' }))).toHaveLength(happy.events.length);
  });
});
