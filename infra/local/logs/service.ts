/**
 * The local cloud's CloudWatch Logs: log groups and streams kept in memory and persisted as one JSONL file per
 * group under `<dataDir>/logs`, served over the `Logs_20140328.*` JSON protocol, with CloudWatch filter patterns.
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { appendFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION, type LogSink } from '../types.ts';
import { AwsError, type JsonService } from '../wire/aws-error.ts';

// ---------------------------------------------------------------------------------------------------------------
// Filter patterns
// ---------------------------------------------------------------------------------------------------------------

/** A filter pattern that does not parse; `position` is the 0-based offset of the offending character. */
export class FilterPatternError extends Error {
  readonly position: number;

  constructor(pattern: string, position: number, reason: string) {
    super(`Invalid filter pattern at position ${position + 1}: ${reason}. Pattern: ${pattern}`);
    this.name = 'FilterPatternError';
    this.position = position;
  }
}

/** Tests one log event message. */
export type LogEventMatcher = (message: string) => boolean;

/**
 * Compiles a CloudWatch Logs filter pattern: empty (everything); terms (`ERROR Exception` all of them,
 * `?ERROR ?WARN` any of them, `-term` none of them, `"exact phrase"`, `%regex%`); or a JSON pattern
 * (`{ $.orderId = "01J…" }`, `!=`, `< > <= >=` on numbers, `*` wildcards in values, `&&`, `||`, parentheses,
 * `IS NULL`, `NOT EXISTS`, `IS TRUE|FALSE`, selectors `$.a.b`, `$.a[0]`, `$.a[*]`). A JSON pattern applies to the
 * message's JSON, or to the JSON that follows a text prefix (Lambda's `<time>\t<requestId>\tINFO\t{…}`).
 * Space-delimited patterns (`[a, b]`) are not supported. Throws {@link FilterPatternError}.
 */
export function compileFilterPattern(pattern: string): LogEventMatcher {
  const trimmed = pattern.trim();
  if (trimmed === '') return () => true;
  if (trimmed.startsWith('{')) return compileJsonPattern(pattern);
  if (trimmed.startsWith('[')) {
    throw new FilterPatternError(
      pattern,
      pattern.indexOf('['),
      'space-delimited patterns ([field, …]) are not supported by the local cloud; use terms or a JSON pattern',
    );
  }
  return compileTermPattern(pattern);
}

interface Term {
  readonly mode: 'all' | 'any' | 'none';
  readonly test: (message: string) => boolean;
}

function compileTermPattern(pattern: string): LogEventMatcher {
  const terms: Term[] = [];
  let i = 0;
  while (i < pattern.length) {
    if (/\s/.test(pattern.charAt(i))) {
      i++;
      continue;
    }
    let mode: Term['mode'] = 'all';
    if (pattern[i] === '?' || pattern[i] === '-') {
      mode = pattern[i] === '?' ? 'any' : 'none';
      i++;
      if (i >= pattern.length || /\s/.test(pattern.charAt(i))) {
        throw new FilterPatternError(pattern, i - 1, `expected a term right after "${pattern[i - 1]}"`);
      }
    }
    const start = i;
    if (pattern[i] === '"') {
      const { value, end } = readQuoted(pattern, i);
      i = end;
      terms.push({ mode, test: (message) => message.includes(value) });
    } else if (pattern[i] === '%') {
      const { regex, end } = readRegex(pattern, i);
      i = end;
      terms.push({ mode, test: (message) => regex.test(message) });
    } else {
      while (i < pattern.length && !/\s/.test(pattern.charAt(i))) i++;
      const word = pattern.slice(start, i);
      if (word.includes('"')) {
        throw new FilterPatternError(
          pattern,
          start + word.indexOf('"'),
          'a term with quotes must be quoted as a whole',
        );
      }
      terms.push({ mode, test: (message) => containsWord(message, word) });
    }
  }
  const all = terms.filter((t) => t.mode === 'all');
  const any = terms.filter((t) => t.mode === 'any');
  const none = terms.filter((t) => t.mode === 'none');
  return (message) =>
    all.every((t) => t.test(message)) &&
    (any.length === 0 || any.some((t) => t.test(message))) &&
    !none.some((t) => t.test(message));
}

const ALNUM = /[A-Za-z0-9]/;

/** An unquoted term matches a whole word: not inside a longer run of letters and digits (AUTHORIZED ≠ UNAUTHORIZED). */
function containsWord(message: string, word: string): boolean {
  const boundedStart = ALNUM.test(word.charAt(0));
  const boundedEnd = ALNUM.test(word.charAt(word.length - 1));
  for (let at = message.indexOf(word); at !== -1; at = message.indexOf(word, at + 1)) {
    const before = message.charAt(at - 1);
    const after = message.charAt(at + word.length);
    if ((!boundedStart || !ALNUM.test(before)) && (!boundedEnd || !ALNUM.test(after))) return true;
  }
  return false;
}

function readQuoted(pattern: string, start: number): { value: string; end: number } {
  let value = '';
  for (let i = start + 1; i < pattern.length; i++) {
    const c = pattern.charAt(i);
    if (c === '\\' && i + 1 < pattern.length) {
      value += pattern.charAt(++i);
    } else if (c === '"') {
      return { value, end: i + 1 };
    } else {
      value += c;
    }
  }
  throw new FilterPatternError(pattern, start, 'this quoted string is never closed (missing ")');
}

function readRegex(pattern: string, start: number): { regex: RegExp; end: number } {
  const close = pattern.indexOf('%', start + 1);
  if (close === -1)
    throw new FilterPatternError(pattern, start, 'this regular expression is never closed (missing %)');
  const source = pattern.slice(start + 1, close);
  if (source === '') throw new FilterPatternError(pattern, start, 'empty regular expression %%');
  try {
    return { regex: new RegExp(source), end: close + 1 };
  } catch (cause) {
    throw new FilterPatternError(
      pattern,
      start + 1,
      `invalid regular expression: ${(cause as Error).message}`,
    );
  }
}

type JsonToken =
  | { readonly kind: 'punct'; readonly value: '(' | ')' | '&&' | '||' | '}'; readonly pos: number }
  | { readonly kind: 'op'; readonly value: '=' | '!=' | '<' | '>' | '<=' | '>='; readonly pos: number }
  | { readonly kind: 'selector'; readonly path: readonly PathStep[]; readonly pos: number }
  | { readonly kind: 'string'; readonly value: string; readonly pos: number }
  | { readonly kind: 'regex'; readonly regex: RegExp; readonly pos: number }
  | { readonly kind: 'word'; readonly value: string; readonly pos: number };

type PathStep = { readonly key: string } | { readonly index: number } | { readonly any: true };

type JsonPredicate = (root: unknown) => boolean;

const WORD_CHAR = /[^\s()=!<>&|"{}]/;
const KEY_CHAR = /[^\s.[\]()=!<>&|"{}]/;
const NUMBER = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

function tokenizeJsonPattern(pattern: string, open: number): JsonToken[] {
  const tokens: JsonToken[] = [];
  let i = open + 1;
  const fail = (pos: number, reason: string): never => {
    throw new FilterPatternError(pattern, pos, reason);
  };
  while (i < pattern.length) {
    const c = pattern.charAt(i);
    const two = pattern.slice(i, i + 2);
    if (/\s/.test(c)) {
      i++;
    } else if (c === '(' || c === ')' || c === '}') {
      tokens.push({ kind: 'punct', value: c, pos: i });
      i++;
      if (c === '}') {
        const rest = pattern.slice(i);
        if (rest.trim() !== '') fail(i + rest.search(/\S/), 'unexpected text after the closing "}"');
        return tokens;
      }
    } else if (two === '&&' || two === '||') {
      tokens.push({ kind: 'punct', value: two, pos: i });
      i += 2;
    } else if (two === '!=' || two === '<=' || two === '>=') {
      tokens.push({ kind: 'op', value: two, pos: i });
      i += 2;
    } else if (c === '=' || c === '<' || c === '>') {
      tokens.push({ kind: 'op', value: c, pos: i });
      i++;
    } else if (c === '$') {
      const pos = i;
      const path: PathStep[] = [];
      i++;
      while (pattern[i] === '.' || pattern[i] === '[') {
        if (pattern[i] === '.') {
          const start = ++i;
          while (i < pattern.length && KEY_CHAR.test(pattern.charAt(i))) i++;
          if (i === start) fail(start, 'expected a field name after "."');
          path.push({ key: pattern.slice(start, i) });
        } else {
          const close = pattern.indexOf(']', i);
          if (close === -1) fail(i, 'this "[" is never closed');
          const inside = pattern.slice(i + 1, close).trim();
          if (inside === '*') path.push({ any: true });
          else if (/^\d+$/.test(inside)) path.push({ index: Number(inside) });
          else fail(i + 1, `expected an array index or * inside [], found "${inside}"`);
          i = close + 1;
        }
      }
      if (path.length === 0) fail(pos, 'a selector needs at least one field, such as $.orderId');
      tokens.push({ kind: 'selector', path, pos });
    } else if (c === '"') {
      const { value, end } = readQuoted(pattern, i);
      tokens.push({ kind: 'string', value, pos: i });
      i = end;
    } else if (c === '%') {
      const { regex, end } = readRegex(pattern, i);
      tokens.push({ kind: 'regex', regex, pos: i });
      i = end;
    } else if (WORD_CHAR.test(c)) {
      const start = i;
      while (i < pattern.length && WORD_CHAR.test(pattern.charAt(i))) i++;
      tokens.push({ kind: 'word', value: pattern.slice(start, i), pos: start });
    } else {
      fail(i, `unexpected character "${c}"`);
    }
  }
  return fail(pattern.length, 'the JSON pattern is never closed (missing "}")');
}

function compileJsonPattern(pattern: string): LogEventMatcher {
  const tokens = tokenizeJsonPattern(pattern, pattern.indexOf('{'));
  let at = 0;
  const peek = (): JsonToken | undefined => tokens[at];
  const describe = (token: JsonToken | undefined): string => {
    if (!token) return 'the end of the pattern';
    if (token.kind === 'selector') return `selector ${pattern.slice(token.pos).split(/[\s()=!<>&|]/)[0]}`;
    if (token.kind === 'regex') return 'a regular expression';
    return `"${token.value}"`;
  };
  const fail = (token: JsonToken | undefined, expected: string): never => {
    throw new FilterPatternError(
      pattern,
      token?.pos ?? pattern.length,
      `expected ${expected}, found ${describe(token)}`,
    );
  };

  const parseOr = (): JsonPredicate => {
    const parts = [parseAnd()];
    for (let t = peek(); t?.kind === 'punct' && t.value === '||'; t = peek()) {
      at++;
      parts.push(parseAnd());
    }
    return parts.length === 1 ? (parts[0] as JsonPredicate) : (root) => parts.some((p) => p(root));
  };
  const parseAnd = (): JsonPredicate => {
    const parts = [parseUnary()];
    for (let t = peek(); t?.kind === 'punct' && t.value === '&&'; t = peek()) {
      at++;
      parts.push(parseUnary());
    }
    return parts.length === 1 ? (parts[0] as JsonPredicate) : (root) => parts.every((p) => p(root));
  };
  const parseUnary = (): JsonPredicate => {
    const token = peek();
    if (token?.kind === 'punct' && token.value === '(') {
      at++;
      const inner = parseOr();
      const close = peek();
      if (!(close?.kind === 'punct' && close.value === ')')) fail(close, '")" or an operator (&&, ||)');
      at++;
      return inner;
    }
    if (token?.kind !== 'selector') return fail(token, 'a selector such as $.orderId or "("');
    at++;
    return parseCondition(token.path);
  };
  const keyword = (token: JsonToken | undefined, word: string): boolean =>
    token?.kind === 'word' && token.value.toUpperCase() === word;
  const parseCondition = (path: readonly PathStep[]): JsonPredicate => {
    const token = peek();
    if (keyword(token, 'IS')) {
      at++;
      const what = peek();
      at++;
      if (keyword(what, 'NULL')) return (root) => select(root, path).some((v) => v === null);
      if (keyword(what, 'TRUE')) return (root) => select(root, path).some((v) => v === true);
      if (keyword(what, 'FALSE')) return (root) => select(root, path).some((v) => v === false);
      return fail(what, 'NULL, TRUE or FALSE after IS');
    }
    if (keyword(token, 'NOT')) {
      at++;
      const what = peek();
      if (!keyword(what, 'EXISTS')) fail(what, 'EXISTS after NOT');
      at++;
      return (root) => select(root, path).length === 0;
    }
    if (token?.kind !== 'op') return fail(token, 'an operator (=, !=, <, >, <=, >=, IS NULL, NOT EXISTS)');
    at++;
    const valueToken = peek();
    at++;
    const op = token.value;
    if (valueToken?.kind === 'regex') {
      if (op !== '=' && op !== '!=') fail(token, '= or != before a regular expression');
      const test = (v: unknown) => isScalar(v) && valueToken.regex.test(String(v));
      return op === '='
        ? (root) => select(root, path).some(test)
        : negate((root) => select(root, path), test);
    }
    if (valueToken?.kind !== 'string' && valueToken?.kind !== 'word') {
      return fail(valueToken, `a value after "${op}"`);
    }
    const numeric = valueToken.kind === 'word' && NUMBER.test(valueToken.value);
    if (op !== '=' && op !== '!=') {
      if (!numeric) fail(valueToken, `a number after "${op}"`);
      const n = Number(valueToken.value);
      const compare = {
        '<': (a: number) => a < n,
        '>': (a: number) => a > n,
        '<=': (a: number) => a <= n,
        '>=': (a: number) => a >= n,
      }[op];
      return (root) =>
        select(root, path).some((v) => {
          const a = asNumber(v);
          return a !== undefined && compare(a);
        });
    }
    let equals: (v: unknown) => boolean;
    if (numeric) {
      const n = Number(valueToken.value);
      equals = (v) => asNumber(v) === n;
    } else {
      const glob = globToRegExp(valueToken.value);
      equals = (v) => isScalar(v) && v !== null && glob.test(String(v));
    }
    return op === '='
      ? (root) => select(root, path).some(equals)
      : negate((root) => select(root, path), equals);
  };

  const predicate = parseOr();
  const end = peek();
  if (!(end?.kind === 'punct' && end.value === '}')) fail(end, 'an operator (&&, ||) or the closing "}"');
  return (message) => {
    const json = extractJson(message);
    return json !== undefined && predicate(json);
  };
}

/** `!=`: the field exists and no value equals. */
function negate(values: (root: unknown) => unknown[], equals: (v: unknown) => boolean): JsonPredicate {
  return (root) => {
    const found = values(root);
    return found.length > 0 && !found.some(equals);
  };
}

function isScalar(value: unknown): value is string | number | boolean | null {
  return value === null || ['string', 'number', 'boolean'].includes(typeof value);
}

function asNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && NUMBER.test(value.trim())) return Number(value);
  return undefined;
}

function globToRegExp(value: string): RegExp {
  const source = value
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${source}$`, 's');
}

function select(root: unknown, path: readonly PathStep[]): unknown[] {
  let current: unknown[] = [root];
  for (const step of path) {
    const next: unknown[] = [];
    for (const value of current) {
      if ('key' in step) {
        if (
          typeof value === 'object' &&
          value !== null &&
          !Array.isArray(value) &&
          Object.hasOwn(value, step.key)
        ) {
          next.push((value as Record<string, unknown>)[step.key]);
        }
      } else if (Array.isArray(value)) {
        if ('any' in step) next.push(...value);
        else if (step.index < value.length) next.push(value[step.index]);
      }
    }
    current = next;
  }
  return current;
}

function extractJson(message: string): unknown {
  const parse = (text: string): unknown => {
    try {
      const value: unknown = JSON.parse(text);
      return typeof value === 'object' && value !== null ? value : undefined;
    } catch {
      return undefined;
    }
  };
  const whole = parse(message);
  if (whole !== undefined) return whole;
  const brace = message.indexOf('{');
  return brace > 0 ? parse(message.slice(brace)) : undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------------------------------------------

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
        const name = requireString(input, 'logGroupName');
        if (this.groups.has(name)) {
          throw new AwsError('ResourceAlreadyExistsException', 'The specified log group already exists');
        }
        this.addGroup(checkGroupName(name), Date.now());
        return {};
      }
      case 'DeleteLogGroup': {
        const group = this.group(requireString(input, 'logGroupName'));
        this.groups.delete(group.name);
        this.pending.delete(group.name);
        const file = group.file;
        if (file) this.enqueue(() => rm(file, { force: true }));
        return {};
      }
      case 'PutRetentionPolicy': {
        const group = this.group(requireString(input, 'logGroupName'));
        const days = checkRetention(optionalInteger(input, 'retentionInDays') ?? Number.NaN);
        group.retentionInDays = days;
        this.persist(group, { k: 'g', n: group.name, c: group.creationTime, r: days });
        return {};
      }
      case 'DeleteRetentionPolicy': {
        const group = this.group(requireString(input, 'logGroupName'));
        group.retentionInDays = undefined;
        this.persist(group, { k: 'g', n: group.name, c: group.creationTime, r: null });
        return {};
      }
      case 'CreateLogStream': {
        const group = this.group(requireString(input, 'logGroupName'));
        const name = checkStreamName(requireString(input, 'logStreamName'));
        if (group.streams.has(name)) {
          throw new AwsError('ResourceAlreadyExistsException', 'The specified log stream already exists');
        }
        this.addStream(group, name, Date.now());
        return {};
      }
      case 'DeleteLogStream': {
        const group = this.group(requireString(input, 'logGroupName'));
        const stream = this.stream(group, requireString(input, 'logStreamName'));
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
    const group = this.group(requireString(input, 'logGroupName'));
    const stream = this.stream(group, requireString(input, 'logStreamName'));
    const raw = input.logEvents;
    if (!Array.isArray(raw) || raw.length === 0 || raw.length > 10_000) {
      throw invalid('logEvents must be a list of 1 to 10000 {timestamp, message} events');
    }
    const events = raw.map((event: unknown, index) => {
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
    const prefix = optionalString(input, 'logGroupNamePrefix');
    const pattern = optionalString(input, 'logGroupNamePattern');
    if (prefix !== undefined && pattern !== undefined) {
      throw invalid('logGroupNamePrefix and logGroupNamePattern are mutually exclusive; give one of them');
    }
    const limit = optionalLimit(input, 50);
    const after = optionalString(input, 'nextToken');
    const names = [...this.groups.keys()]
      .filter(
        (name) =>
          (prefix === undefined || name.startsWith(prefix)) &&
          (pattern === undefined || name.toLowerCase().includes(pattern.toLowerCase())),
      )
      .sort();
    const start = after === undefined ? 0 : names.findIndex((name) => name > decodeToken(after, 'name'));
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
      ...(more && last !== undefined ? { nextToken: encodeToken({ name: last }) } : {}),
    };
  }

  private describeLogStreams(input: Record<string, unknown>): unknown {
    const group = this.group(groupNameOf(input));
    const prefix = optionalString(input, 'logStreamNamePrefix');
    const orderBy = optionalString(input, 'orderBy') ?? 'LogStreamName';
    if (orderBy !== 'LogStreamName' && orderBy !== 'LastEventTime') {
      throw invalid(`orderBy must be LogStreamName or LastEventTime; received ${JSON.stringify(orderBy)}`);
    }
    if (orderBy === 'LastEventTime' && prefix !== undefined) {
      throw invalid('Cannot order by LastEventTime with a logStreamNamePrefix.');
    }
    const descending = input.descending === true;
    const limit = optionalLimit(input, 50);
    const token = optionalString(input, 'nextToken');
    const offset = token === undefined ? 0 : decodeToken(token, 'offset');
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
      ...(offset + limit < streams.length ? { nextToken: encodeToken({ offset: offset + limit }) } : {}),
    };
  }

  private getLogEvents(input: Record<string, unknown>): unknown {
    const group = this.group(groupNameOf(input));
    const stream = this.stream(group, requireString(input, 'logStreamName'));
    const startTime = optionalInteger(input, 'startTime');
    const endTime = optionalInteger(input, 'endTime');
    const limit = optionalLimit(input, 10_000);
    const cutoff = retentionCutoff(group);
    // endTime is exclusive here (FilterLogEvents' is inclusive), as in CloudWatch.
    const events = stream.events.filter(
      (e) =>
        e.timestamp >= cutoff &&
        (startTime === undefined || e.timestamp >= startTime) &&
        (endTime === undefined || e.timestamp < endTime),
    );
    const token = optionalString(input, 'nextToken');
    let from: number;
    let to: number;
    if (token === undefined) {
      const fromHead = input.startFromHead === true;
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
    const group = this.group(groupNameOf(input));
    const names = optionalStringList(input, 'logStreamNames');
    const prefix = optionalString(input, 'logStreamNamePrefix');
    if (names !== undefined && prefix !== undefined) {
      throw invalid('logStreamNames and logStreamNamePrefix are mutually exclusive; give one of them');
    }
    const startTime = optionalInteger(input, 'startTime');
    const endTime = optionalInteger(input, 'endTime');
    const limit = optionalLimit(input, 10_000);
    let matches: LogEventMatcher;
    const pattern = optionalString(input, 'filterPattern') ?? '';
    try {
      matches = compileFilterPattern(pattern);
    } catch (cause) {
      if (cause instanceof FilterPatternError)
        throw new AwsError('InvalidParameterException', cause.message, 400, { cause });
      throw cause;
    }
    const token = optionalString(input, 'nextToken');
    const after = token === undefined ? undefined : decodeToken(token, 'after');
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
        ? { nextToken: encodeToken({ after: { timestamp: last.timestamp, seq: last.seq } }) }
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
function groupNameOf(input: Record<string, unknown>): string {
  const name = optionalString(input, 'logGroupName');
  const identifier = optionalString(input, 'logGroupIdentifier');
  if ((name === undefined) === (identifier === undefined)) {
    throw invalid('Give exactly one of logGroupName and logGroupIdentifier');
  }
  if (name !== undefined) return name;
  const arn = /^arn:aws[a-z-]*:logs:[^:]*:[^:]*:log-group:([^:]+)(?::\*)?$/.exec(identifier ?? '');
  return arn?.[1] ?? (identifier as string);
}

function requireString(input: Record<string, unknown>, key: string): string {
  const value = input[key];
  if (typeof value !== 'string' || value === '')
    throw invalid(`${key} is required (a non-empty string); received ${JSON.stringify(value)}`);
  return value;
}

function optionalString(input: Record<string, unknown>, key: string): string | undefined {
  const value = input[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw invalid(`${key} must be a string; received ${JSON.stringify(value)}`);
  return value;
}

function optionalStringList(input: Record<string, unknown>, key: string): string[] | undefined {
  const value = input[key];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.length === 0 || !value.every((v) => typeof v === 'string')) {
    throw invalid(`${key} must be a non-empty list of strings; received ${JSON.stringify(value)}`);
  }
  return value as string[];
}

function optionalInteger(input: Record<string, unknown>, key: string): number | undefined {
  const value = input[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw invalid(`${key} must be a non-negative integer; received ${JSON.stringify(value)}`);
  }
  return value;
}

function optionalLimit(input: Record<string, unknown>, max: number): number {
  const limit = optionalInteger(input, 'limit') ?? max;
  if (limit < 1 || limit > max) throw invalid(`limit must be within 1-${max}; received ${limit}`);
  return limit;
}

function encodeToken(value: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function decodeToken(token: string, key: 'name'): string;
function decodeToken(token: string, key: 'offset'): number;
function decodeToken(token: string, key: 'after'): { timestamp: number; seq: number };
function decodeToken(token: string, key: 'name' | 'offset' | 'after'): unknown {
  let value: unknown;
  try {
    value = (JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Record<string, unknown>)[key];
  } catch {
    value = undefined;
  }
  const ok =
    key === 'name'
      ? typeof value === 'string'
      : key === 'offset'
        ? Number.isInteger(value)
        : typeof value === 'object' &&
          value !== null &&
          typeof (value as { timestamp?: unknown }).timestamp === 'number' &&
          typeof (value as { seq?: unknown }).seq === 'number';
  if (!ok) throw invalid('The specified nextToken is invalid.');
  return value;
}
