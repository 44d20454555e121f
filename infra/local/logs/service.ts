/**
 * The local cloud's CloudWatch Logs: log groups and streams kept in memory and persisted as one JSONL file per
 * group under `<dataDir>/logs`, served over the `Logs_20140328.*` JSON protocol, with CloudWatch filter patterns.
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { appendFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type {
  CreateLogGroupRequest,
  CreateLogStreamRequest,
  DeleteLogGroupRequest,
  DeleteLogStreamRequest,
  DeleteRetentionPolicyRequest,
  DescribeLogGroupsRequest,
  DescribeLogStreamsRequest,
  FilterLogEventsRequest,
  GetLogEventsRequest,
  PutLogEventsRequest,
  PutRetentionPolicyRequest,
} from '@aws-sdk/client-cloudwatch-logs';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION, type LogSink } from '../types.ts';
import { AwsError, type JsonService } from '../wire/aws-error.ts';
import { defineInput, type InputErrors } from '../wire/input.ts';
import { encodePageToken, offsetPageToken, pageOffset, readPageToken } from '../wire/paging.ts';
import { compileFilterPattern, FilterPatternError, type LogEventMatcher } from './filter-pattern.ts';
/** Options of {@link LogsService}. */
export interface LogsServiceOptions {
  /** Persist under `<dataDir>/logs` (one JSONL file per log group) and reload from there. In memory when absent. */
  readonly dataDir?: string;
}

interface StoredEvent {
  readonly timestamp: number;
  readonly message: string;
  readonly ingestionTime: number;
  /** Global arrival order: ties on timestamp, event ids and paging tokens. */
  readonly seq: number;
  readonly stream: LogStream;
}

interface LogStream {
  readonly name: string;
  readonly creationTime: number;
  readonly events: StoredEvent[];
  lastIngestionTime?: number;
  storedBytes: number;
}

interface LogGroup {
  readonly name: string;
  readonly creationTime: number;
  retentionInDays?: number;
  readonly streams: Map<string, LogStream>;
  readonly file?: string;
}

/** One JSONL line of a log group file. */
type Persisted =
  | { k: 'g'; n: string; c: number; r?: number | null }
  | { k: 's'; n: string; c: number }
  | { k: 'ds'; n: string }
  | { k: 'e'; s: string; t: number; m: string; i: number };

const GROUP_NAME = /^[.\-_/#A-Za-z0-9]{1,512}$/;
const RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];
const FLUSH_DELAY_MS = 100;
const DAY_MS = 86_400_000;

/** CloudWatch Logs names bad input `InvalidParameterException`. */
const INPUT_ERRORS: InputErrors = { type: 'InvalidParameterException' };
const NAME = { type: 'string', min: 1 } as const;
const TIME = { type: 'integer', optional: true, min: 0 } as const;
const PAGE_LIMIT = { type: 'integer', optional: true, min: 1, max: 50 } as const;
const EVENT_LIMIT = { type: 'integer', optional: true, min: 1, max: 10_000 } as const;

/** The input of each operation, as the SDK types it. */
const INPUT = {
  CreateLogGroup: defineInput<CreateLogGroupRequest>()({ logGroupName: NAME }, INPUT_ERRORS),
  DeleteLogGroup: defineInput<DeleteLogGroupRequest>()({ logGroupName: NAME }, INPUT_ERRORS),
  PutRetentionPolicy: defineInput<PutRetentionPolicyRequest>()(
    { logGroupName: NAME, retentionInDays: 'integer' },
    INPUT_ERRORS,
  ),
  DeleteRetentionPolicy: defineInput<DeleteRetentionPolicyRequest>()({ logGroupName: NAME }, INPUT_ERRORS),
  CreateLogStream: defineInput<CreateLogStreamRequest>()(
    { logGroupName: NAME, logStreamName: NAME },
    INPUT_ERRORS,
  ),
  DeleteLogStream: defineInput<DeleteLogStreamRequest>()(
    { logGroupName: NAME, logStreamName: NAME },
    INPUT_ERRORS,
  ),
  PutLogEvents: defineInput<PutLogEventsRequest>()(
    { logGroupName: NAME, logStreamName: NAME, logEvents: 'list' },
    INPUT_ERRORS,
  ),
  DescribeLogGroups: defineInput<DescribeLogGroupsRequest>()(
    {
      logGroupNamePrefix: 'string?',
      logGroupNamePattern: 'string?',
      nextToken: 'string?',
      limit: PAGE_LIMIT,
    },
    INPUT_ERRORS,
  ),
  DescribeLogStreams: defineInput<DescribeLogStreamsRequest>()(
    {
      logGroupName: 'string?',
      logGroupIdentifier: 'string?',
      logStreamNamePrefix: 'string?',
      orderBy: { type: 'string', optional: true, oneOf: ['LogStreamName', 'LastEventTime'] },
      descending: 'boolean?',
      nextToken: 'string?',
      limit: PAGE_LIMIT,
    },
    INPUT_ERRORS,
  ),
  GetLogEvents: defineInput<GetLogEventsRequest>()(
    {
      logGroupName: 'string?',
      logGroupIdentifier: 'string?',
      logStreamName: NAME,
      startTime: TIME,
      endTime: TIME,
      nextToken: 'string?',
      limit: EVENT_LIMIT,
      startFromHead: 'boolean?',
    },
    INPUT_ERRORS,
  ),
  FilterLogEvents: defineInput<FilterLogEventsRequest>()(
    {
      logGroupName: 'string?',
      logGroupIdentifier: 'string?',
      logStreamNames: { type: 'string[]', optional: true, min: 1 },
      logStreamNamePrefix: 'string?',
      startTime: TIME,
      endTime: TIME,
      filterPattern: 'string?',
      nextToken: 'string?',
      limit: EVENT_LIMIT,
    },
    INPUT_ERRORS,
  ),
};

const invalidToken = (): AwsError => invalid('The specified nextToken is invalid.');

/**
 * CloudWatch Logs for the local cloud. Also the {@link LogSink} functions write to: `put` creates the group and
 * stream on first use, as Lambda does. Call {@link close} to flush to disk.
 */
export class LogsService implements JsonService, LogSink {
  private readonly groups = new Map<string, LogGroup>();
  private readonly dir: string | undefined;
  private readonly pending = new Map<string, string[]>();
  private flushTimer: NodeJS.Timeout | undefined;
  private writes: Promise<void> = Promise.resolve();
  private writeError: unknown;
  private seq = 0;

  constructor(options: LogsServiceOptions = {}) {
    this.dir = options.dataDir === undefined ? undefined : join(options.dataDir, 'logs');
    if (this.dir !== undefined) {
      mkdirSync(this.dir, { recursive: true });
      this.load(this.dir);
    }
  }

  /** Appends events, creating the group and stream if needed (Lambda's implicit log group). */
  put(
    logGroupName: string,
    logStreamName: string,
    events: readonly { timestamp: number; message: string }[],
  ): void {
    if (events.length === 0) return;
    const group = this.groups.get(logGroupName) ?? this.addGroup(checkGroupName(logGroupName), Date.now());
    const stream =
      group.streams.get(logStreamName) ?? this.addStream(group, checkStreamName(logStreamName), Date.now());
    const ingestionTime = Date.now();
    for (const event of events) this.append(group, stream, event.timestamp, event.message, ingestionTime);
  }

  /** Creates a log group (the template's `AWS::Logs::LogGroup`); an existing one only gets its retention updated. */
  createLogGroup(name: string, retentionInDays?: number): void {
    if (retentionInDays !== undefined) checkRetention(retentionInDays);
    const existing = this.groups.get(name);
    if (existing) {
      if (retentionInDays !== undefined && existing.retentionInDays !== retentionInDays) {
        existing.retentionInDays = retentionInDays;
        this.persist(existing, { k: 'g', n: name, c: existing.creationTime, r: retentionInDays });
      }
      return;
    }
    this.addGroup(checkGroupName(name), Date.now(), retentionInDays);
  }

  async handle(operation: string, input: Record<string, unknown>): Promise<unknown> {
    switch (operation) {
      case 'CreateLogGroup': {
        const name = INPUT.CreateLogGroup.parse(input).logGroupName;
        if (this.groups.has(name)) {
          throw new AwsError('ResourceAlreadyExistsException', 'The specified log group already exists');
        }
        this.addGroup(checkGroupName(name), Date.now());
        return {};
      }
      case 'DeleteLogGroup': {
        const group = this.group(INPUT.DeleteLogGroup.parse(input).logGroupName);
        this.groups.delete(group.name);
        this.pending.delete(group.name);
        const file = group.file;
        if (file) this.enqueue(() => rm(file, { force: true }));
        return {};
      }
      case 'PutRetentionPolicy': {
        const { logGroupName, retentionInDays } = INPUT.PutRetentionPolicy.parse(input);
        const group = this.group(logGroupName);
        const days = checkRetention(retentionInDays);
        group.retentionInDays = days;
        this.persist(group, { k: 'g', n: group.name, c: group.creationTime, r: days });
        return {};
      }
      case 'DeleteRetentionPolicy': {
        const group = this.group(INPUT.DeleteRetentionPolicy.parse(input).logGroupName);
        group.retentionInDays = undefined;
        this.persist(group, { k: 'g', n: group.name, c: group.creationTime, r: null });
        return {};
      }
      case 'CreateLogStream': {
        const { logGroupName, logStreamName } = INPUT.CreateLogStream.parse(input);
        const group = this.group(logGroupName);
        const name = checkStreamName(logStreamName);
        if (group.streams.has(name)) {
          throw new AwsError('ResourceAlreadyExistsException', 'The specified log stream already exists');
        }
        this.addStream(group, name, Date.now());
        return {};
      }
      case 'DeleteLogStream': {
        const { logGroupName, logStreamName } = INPUT.DeleteLogStream.parse(input);
        const group = this.group(logGroupName);
        const stream = this.stream(group, logStreamName);
        group.streams.delete(stream.name);
        this.persist(group, { k: 'ds', n: stream.name });
        return {};
      }
      case 'PutLogEvents':
        return this.putLogEvents(input);
      case 'DescribeLogGroups':
        return this.describeLogGroups(input);
      case 'DescribeLogStreams':
        return this.describeLogStreams(input);
      case 'GetLogEvents':
        return this.getLogEvents(input);
      case 'FilterLogEvents':
        return this.filterLogEvents(input);
      default:
        throw new AwsError(
          'UnknownOperationException',
          `The local CloudWatch Logs does not support ${operation}`,
        );
    }
  }

  /** Writes everything buffered to disk; the service stays usable. */
  async close(): Promise<void> {
    this.flush();
    await this.writes;
    if (this.writeError !== undefined) {
      const cause = this.writeError;
      this.writeError = undefined;
      throw new Error(`Could not persist CloudWatch Logs under ${this.dir}: ${String(cause)}`, { cause });
    }
  }

  private putLogEvents(input: Record<string, unknown>): unknown {
    const request = INPUT.PutLogEvents.parse(input);
    const group = this.group(request.logGroupName);
    const stream = this.stream(group, request.logStreamName);
    // Checked after the group and stream exist, as CloudWatch Logs does.
    const count = request.logEvents.length;
    if (count === 0 || count > 10_000) {
      throw invalid(`logEvents must be a list of 1 to 10000 {timestamp, message} events; received ${count}`);
    }
    const events = request.logEvents.map((event: unknown, index) => {
      const { timestamp, message } = (event ?? {}) as { timestamp?: unknown; message?: unknown };
      if (
        typeof timestamp !== 'number' ||
        !Number.isFinite(timestamp) ||
        typeof message !== 'string' ||
        message === ''
      ) {
        throw invalid(`logEvents[${index}] needs a numeric timestamp (epoch ms) and a non-empty message`);
      }
      return { timestamp, message };
    });
    for (let i = 1; i < events.length; i++) {
      if ((events[i]?.timestamp ?? 0) < (events[i - 1]?.timestamp ?? 0)) {
        throw invalid('Log events in a single PutLogEvents request must be in chronological order.');
      }
    }
    const ingestionTime = Date.now();
    for (const event of events) this.append(group, stream, event.timestamp, event.message, ingestionTime);
    return { nextSequenceToken: sequenceToken(this.seq) };
  }

  private describeLogGroups(input: Record<string, unknown>): unknown {
    const request = INPUT.DescribeLogGroups.parse(input);
    const { logGroupNamePrefix: prefix, logGroupNamePattern: pattern } = request;
    if (prefix !== undefined && pattern !== undefined) {
      throw invalid('logGroupNamePrefix and logGroupNamePattern are mutually exclusive; give one of them');
    }
    const limit = request.limit ?? 50;
    const after =
      request.nextToken === undefined
        ? undefined
        : readPageToken(
            request.nextToken,
            (c) => (typeof c.name === 'string' ? c.name : undefined),
            invalidToken,
          );
    const names = [...this.groups.keys()]
      .filter(
        (name) =>
          (prefix === undefined || name.startsWith(prefix)) &&
          (pattern === undefined || name.toLowerCase().includes(pattern.toLowerCase())),
      )
      .sort();
    const start = after === undefined ? 0 : names.findIndex((name) => name > after);
    const page = start === -1 ? [] : names.slice(start, start + limit);
    const last = page.at(-1);
    const more = start !== -1 && start + limit < names.length;
    return {
      logGroups: page.map((name) => {
        const group = this.groups.get(name) as LogGroup;
        const arn = `arn:aws:logs:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:log-group:${name}`;
        return {
          logGroupName: name,
          creationTime: group.creationTime,
          ...(group.retentionInDays === undefined ? {} : { retentionInDays: group.retentionInDays }),
          metricFilterCount: 0,
          arn: `${arn}:*`,
          logGroupArn: arn,
          storedBytes: [...group.streams.values()].reduce((sum, s) => sum + s.storedBytes, 0),
          logGroupClass: 'STANDARD',
        };
      }),
      ...(more && last !== undefined ? { nextToken: encodePageToken({ name: last }) } : {}),
    };
  }

  private describeLogStreams(input: Record<string, unknown>): unknown {
    const request = INPUT.DescribeLogStreams.parse(input);
    const group = this.group(groupNameOf(request));
    const prefix = request.logStreamNamePrefix;
    const orderBy = request.orderBy ?? 'LogStreamName';
    if (orderBy === 'LastEventTime' && prefix !== undefined) {
      throw invalid('Cannot order by LastEventTime with a logStreamNamePrefix.');
    }
    const descending = request.descending === true;
    const limit = request.limit ?? 50;
    const offset = pageOffset(request.nextToken, invalidToken);
    const streams = [...group.streams.values()]
      .filter((s) => prefix === undefined || s.name.startsWith(prefix))
      .sort((a, b) =>
        orderBy === 'LogStreamName'
          ? a.name.localeCompare(b.name)
          : (a.events.at(-1)?.timestamp ?? 0) - (b.events.at(-1)?.timestamp ?? 0) ||
            a.name.localeCompare(b.name),
      );
    if (descending) streams.reverse();
    const page = streams.slice(offset, offset + limit);
    return {
      logStreams: page.map((s) => ({
        logStreamName: s.name,
        creationTime: s.creationTime,
        ...(s.events.length > 0
          ? {
              firstEventTimestamp: s.events[0]?.timestamp,
              lastEventTimestamp: s.events.at(-1)?.timestamp,
              lastIngestionTime: s.lastIngestionTime,
            }
          : {}),
        uploadSequenceToken: sequenceToken(s.events.at(-1)?.seq ?? 0),
        arn: `arn:aws:logs:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:log-group:${group.name}:log-stream:${s.name}`,
        storedBytes: 0,
      })),
      ...(offset + limit < streams.length ? { nextToken: offsetPageToken(offset + limit) } : {}),
    };
  }

  private getLogEvents(input: Record<string, unknown>): unknown {
    const request = INPUT.GetLogEvents.parse(input);
    const group = this.group(groupNameOf(request));
    const stream = this.stream(group, request.logStreamName);
    const { startTime, endTime } = request;
    const limit = request.limit ?? 10_000;
    const cutoff = retentionCutoff(group);
    // endTime is exclusive here (FilterLogEvents' is inclusive), as in CloudWatch.
    const events = stream.events.filter(
      (e) =>
        e.timestamp >= cutoff &&
        (startTime === undefined || e.timestamp >= startTime) &&
        (endTime === undefined || e.timestamp < endTime),
    );
    const token = request.nextToken;
    let from: number;
    let to: number;
    if (token === undefined) {
      const fromHead = request.startFromHead === true;
      from = fromHead ? 0 : Math.max(0, events.length - limit);
      to = fromHead ? Math.min(events.length, limit) : events.length;
    } else {
      const match = /^([fb])\/(\d+)$/.exec(token);
      if (!match) throw invalid('The specified nextToken is invalid.');
      const position = Math.min(Number(match[2]), events.length);
      [from, to] =
        match[1] === 'f'
          ? [position, Math.min(events.length, position + limit)]
          : [Math.max(0, position - limit), position];
    }
    return {
      events: events
        .slice(from, to)
        .map((e) => ({ timestamp: e.timestamp, message: e.message, ingestionTime: e.ingestionTime })),
      nextForwardToken: `f/${String(to).padStart(56, '0')}`,
      nextBackwardToken: `b/${String(from).padStart(56, '0')}`,
    };
  }

  private filterLogEvents(input: Record<string, unknown>): unknown {
    const request = INPUT.FilterLogEvents.parse(input);
    const group = this.group(groupNameOf(request));
    const { logStreamNames: names, logStreamNamePrefix: prefix, startTime, endTime } = request;
    if (names !== undefined && prefix !== undefined) {
      throw invalid('logStreamNames and logStreamNamePrefix are mutually exclusive; give one of them');
    }
    const limit = request.limit ?? 10_000;
    let matches: LogEventMatcher;
    const pattern = request.filterPattern ?? '';
    try {
      matches = compileFilterPattern(pattern);
    } catch (cause) {
      if (cause instanceof FilterPatternError)
        throw new AwsError('InvalidParameterException', cause.message, 400, { cause });
      throw cause;
    }
    const after =
      request.nextToken === undefined
        ? undefined
        : readPageToken(
            request.nextToken,
            (c) => {
              const cursor = c.after as { timestamp?: unknown; seq?: unknown } | null | undefined;
              return typeof cursor?.timestamp === 'number' && typeof cursor.seq === 'number'
                ? { timestamp: cursor.timestamp, seq: cursor.seq }
                : undefined;
            },
            invalidToken,
          );
    const streams = [...group.streams.values()]
      .filter(
        (s) =>
          (names === undefined || names.includes(s.name)) &&
          (prefix === undefined || s.name.startsWith(prefix)),
      )
      .sort((a, b) => a.name.localeCompare(b.name));
    const from = Math.max(startTime ?? 0, retentionCutoff(group));
    const found: StoredEvent[] = [];
    for (const stream of streams) {
      for (let i = lowerBound(stream.events, from); i < stream.events.length; i++) {
        const event = stream.events[i] as StoredEvent;
        if (endTime !== undefined && event.timestamp > endTime) break;
        if (after !== undefined && compareEvents(event, after) <= 0) continue;
        if (matches(event.message)) found.push(event);
      }
    }
    found.sort(compareEvents);
    const page = found.slice(0, limit);
    const last = page.at(-1);
    return {
      events: page.map((e) => ({
        logStreamName: e.stream.name,
        timestamp: e.timestamp,
        message: e.message,
        ingestionTime: e.ingestionTime,
        eventId: String(e.seq).padStart(56, '0'),
      })),
      searchedLogStreams: streams.map((s) => ({ logStreamName: s.name, searchedCompletely: true })),
      ...(found.length > limit && last
        ? { nextToken: encodePageToken({ after: { timestamp: last.timestamp, seq: last.seq } }) }
        : {}),
    };
  }

  private group(name: string): LogGroup {
    const group = this.groups.get(name);
    if (!group) throw new AwsError('ResourceNotFoundException', 'The specified log group does not exist.');
    return group;
  }

  private stream(group: LogGroup, name: string): LogStream {
    const stream = group.streams.get(name);
    if (!stream) throw new AwsError('ResourceNotFoundException', 'The specified log stream does not exist.');
    return stream;
  }

  private addGroup(name: string, creationTime: number, retentionInDays?: number, persist = true): LogGroup {
    const file = this.dir === undefined ? undefined : join(this.dir, `${encodeURIComponent(name)}.jsonl`);
    const group: LogGroup = { name, creationTime, retentionInDays, streams: new Map(), file };
    this.groups.set(name, group);
    if (persist) this.persist(group, { k: 'g', n: name, c: creationTime, r: retentionInDays });
    return group;
  }

  private addStream(group: LogGroup, name: string, creationTime: number, persist = true): LogStream {
    const stream: LogStream = { name, creationTime, events: [], storedBytes: 0 };
    group.streams.set(name, stream);
    if (persist) this.persist(group, { k: 's', n: name, c: creationTime });
    return stream;
  }

  private append(
    group: LogGroup,
    stream: LogStream,
    timestamp: number,
    message: string,
    ingestionTime: number,
    persist = true,
  ): void {
    const event: StoredEvent = { timestamp, message, ingestionTime, seq: ++this.seq, stream };
    const events = stream.events;
    const last = events.at(-1);
    if (!last || last.timestamp <= timestamp) events.push(event);
    else events.splice(lowerBound(events, timestamp + 1), 0, event);
    stream.lastIngestionTime = ingestionTime;
    stream.storedBytes += message.length + 26;
    if (persist) this.persist(group, { k: 'e', s: stream.name, t: timestamp, m: message, i: ingestionTime });
  }

  private persist(group: LogGroup, record: Persisted): void {
    if (!group.file) return;
    const lines = this.pending.get(group.name) ?? [];
    lines.push(`${JSON.stringify(record)}\n`);
    this.pending.set(group.name, lines);
    if (!this.flushTimer) {
      this.flushTimer = setTimeout(() => this.flush(), FLUSH_DELAY_MS);
      this.flushTimer.unref();
    }
  }

  private flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    for (const [name, lines] of this.pending) {
      const file = this.groups.get(name)?.file;
      if (file) {
        const text = lines.join('');
        this.enqueue(() => appendFile(file, text));
      }
    }
    this.pending.clear();
  }

  /** File operations run one after another, so a delete never races an append. */
  private enqueue(operation: () => Promise<void>): void {
    this.writes = this.writes.then(operation).catch((error: unknown) => {
      this.writeError = error;
    });
  }

  private load(dir: string): void {
    for (const entry of readdirSync(dir)) {
      if (!entry.endsWith('.jsonl')) continue;
      const fallbackName = decodeURIComponent(entry.slice(0, -'.jsonl'.length));
      let group: LogGroup | undefined;
      const ensureGroup = (): LogGroup => {
        group ??= this.addGroup(fallbackName, Date.now(), undefined, false);
        return group;
      };
      for (const line of readFileSync(join(dir, entry), 'utf8').split('\n')) {
        if (line === '') continue;
        let record: Persisted;
        try {
          record = JSON.parse(line) as Persisted;
        } catch {
          continue; // a line cut short by a crash
        }
        if (record.k === 'g') {
          group ??= this.addGroup(record.n, record.c, undefined, false);
          group.retentionInDays = record.r ?? undefined;
        } else if (record.k === 's') {
          const g = ensureGroup();
          if (!g.streams.has(record.n)) this.addStream(g, record.n, record.c, false);
        } else if (record.k === 'ds') {
          ensureGroup().streams.delete(record.n);
        } else if (record.k === 'e') {
          const g = ensureGroup();
          const stream = g.streams.get(record.s) ?? this.addStream(g, record.s, record.t, false);
          this.append(g, stream, record.t, record.m, record.i, false);
        }
      }
    }
  }
}

function compareEvents(a: { timestamp: number; seq: number }, b: { timestamp: number; seq: number }): number {
  return a.timestamp - b.timestamp || a.seq - b.seq;
}

/** First index whose timestamp is ≥ `timestamp` (events are sorted by timestamp). */
function lowerBound(events: readonly StoredEvent[], timestamp: number): number {
  let lo = 0;
  let hi = events.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((events[mid] as StoredEvent).timestamp < timestamp) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function retentionCutoff(group: LogGroup): number {
  return group.retentionInDays === undefined ? 0 : Date.now() - group.retentionInDays * DAY_MS;
}

function sequenceToken(seq: number): string {
  return String(seq).padStart(56, '0');
}

function invalid(message: string): AwsError {
  return new AwsError('InvalidParameterException', message);
}

function checkGroupName(name: string): string {
  if (!GROUP_NAME.test(name)) {
    throw invalid(
      `Invalid log group name ${JSON.stringify(name)}: use 1-512 of letters, digits and . - _ / #`,
    );
  }
  return name;
}

function checkStreamName(name: string): string {
  if (name.length === 0 || name.length > 512 || /[:*]/.test(name)) {
    throw invalid(`Invalid log stream name ${JSON.stringify(name)}: use 1-512 characters, no ':' or '*'`);
  }
  return name;
}

function checkRetention(days: number): number {
  if (!RETENTION_DAYS.includes(days)) {
    throw invalid(`retentionInDays must be one of ${RETENTION_DAYS.join(', ')}; received ${String(days)}`);
  }
  return days;
}

/** `logGroupName` or `logGroupIdentifier` (a name or an ARN), exactly one of them. */
function groupNameOf(input: { logGroupName?: string; logGroupIdentifier?: string }): string {
  const { logGroupName: name, logGroupIdentifier: identifier } = input;
  if ((name === undefined) === (identifier === undefined)) {
    throw invalid('Give exactly one of logGroupName and logGroupIdentifier');
  }
  if (name !== undefined) return name;
  const arn = /^arn:aws[a-z-]*:logs:[^:]*:[^:]*:log-group:([^:]+)(?::\*)?$/.exec(identifier ?? '');
  return arn?.[1] ?? (identifier as string);
}
