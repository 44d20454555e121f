import type { CommandContext } from '../command.ts';
import type { ArgsOf, LogLevel, logsCommand, OptionsOf } from '../definitions.ts';
import { noteForInterrupt, UserError } from '../errors.ts';
import { createLogTail, type LogTailOptions, shortFunctionName } from '../saga/log-tail.ts';
import { parseOrderId } from '../target/executions.ts';
import { functionLogGroups, type OrderLogLine, readOrderLogs } from '../target/logs.ts';
import { type ResolvedTarget, resolveTarget } from '../target/target.ts';
import type { Output } from '../ui/output.ts';

/** `saga logs <orderId>`: the order's log lines from every function, merged by time. */
export async function orderLogs(ctx: CommandContext, orderId: string): Promise<OrderLogLine[]> {
  const id = parseOrderId(orderId);
  const target = await resolveTarget(ctx.projectDir, ctx.globals, ctx.env);
  return await readOrderLogs(target, id);
}

/**
 * The order id that stands for every order: `{ $.orderId = "*" }` is CloudWatch Logs' test that a JSON line has an
 * `orderId` at all (what CDK's `FilterPattern.exists` writes), so the tail reads every line that names an order.
 */
const EVERY_ORDER = '*';

/** The rank of a level as Powertools (and Lambda's text format) write it; undefined when it is not one. */
export function levelRank(level: string | null | undefined): number | undefined {
  switch (level?.toUpperCase()) {
    case 'TRACE':
      return 0;
    case 'DEBUG':
      return 1;
    case 'INFO':
      return 2;
    case 'WARN':
    case 'WARNING':
      return 3;
    case 'ERROR':
      return 4;
    case 'CRITICAL':
    case 'FATAL':
      return 5;
    default:
      return undefined;
  }
}

/** Whether a line is shown at `--level min`: at or above it, or of a level that cannot be read. */
export function shownAtLevel(record: Pick<LogRecord, 'level'>, min: LogLevel | undefined): boolean {
  if (min === undefined) return true;
  const rank = levelRank(record.level);
  return rank === undefined || rank >= (levelRank(min) ?? 0);
}

/** One log line as `saga logs --json` writes it: a Powertools JSON line's structured fields, the rest in `fields`. */
export interface LogRecord {
  readonly type: 'log';
  /** When CloudWatch Logs received the line, epoch ms (the order of the merge). */
  readonly timestamp: number;
  /** The log group's function. */
  readonly functionName: string;
  /** `DEBUG`, `INFO`, `WARN`, `ERROR`, … as the line says; null when the line has no level that can be read. */
  readonly level: string | null;
  readonly message: string;
  /** The time the logger wrote (Powertools' `timestamp`), ISO 8601; the event's time when the line has none. */
  readonly time: string;
  /** Powertools' `service` (POWERTOOLS_SERVICE_NAME). */
  readonly service?: string;
  /** Correlation ids: the order, the Lambda request, the X-Ray trace, Powertools' correlation id. */
  readonly orderId?: string;
  readonly requestId?: string;
  readonly xrayTraceId?: string;
  readonly correlationId?: string;
  /** Every other key of the JSON line (cold_start, function_arn, error, the keys the code added, …). */
  readonly fields: Record<string, unknown>;
  /** The line as written, when it is not a JSON object. */
  readonly raw?: string;
}

/** Powertools' keys that a {@link LogRecord} carries on its own (renamed), not in `fields`. */
const STRUCTURED: Readonly<Record<string, keyof LogRecord>> = {
  level: 'level',
  message: 'message',
  timestamp: 'time',
  service: 'service',
  orderId: 'orderId',
  function_request_id: 'requestId',
  xray_trace_id: 'xrayTraceId',
  correlation_id: 'correlationId',
};

/** Lambda's text format around a console line: `<time>\t<requestId>\t<LEVEL>\t<message>`. */
const LAMBDA_TEXT = /^(\S+)\t(\S+)\t(TRACE|DEBUG|INFO|WARN|ERROR|FATAL)\t([\s\S]*)$/;

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** A log line read into its structured fields (a Powertools JSON line, Lambda's text format, or plain text). */
export function toLogRecord(line: OrderLogLine): LogRecord {
  const base = { type: 'log' as const, timestamp: line.timestamp, functionName: line.functionName };
  const eventTime = new Date(line.timestamp).toISOString();
  let json = line.fields;
  let raw: string | undefined;
  let textLevel: string | undefined;
  let requestId: string | undefined;
  if (json === undefined) {
    raw = line.message;
    const text = LAMBDA_TEXT.exec(line.message);
    if (text) {
      requestId = text[2];
      textLevel = text[3];
      json = parseObject((text[4] ?? '').trim());
      if (json === undefined) {
        return {
          ...base,
          level: textLevel ?? null,
          message: (text[4] ?? '').trimEnd(),
          time: eventTime,
          requestId,
          fields: {},
          raw,
        };
      }
    } else {
      return { ...base, level: null, message: line.message, time: eventTime, fields: {}, raw };
    }
  }
  const fields: Record<string, unknown> = {};
  const known: Record<string, string> = {};
  for (const [key, value] of Object.entries(json)) {
    const as = STRUCTURED[key];
    if (as !== undefined && (typeof value === 'string' || typeof value === 'number'))
      known[as] = String(value);
    else fields[key] = value;
  }
  const level = known.level ?? textLevel;
  const rid = known.requestId ?? requestId;
  return {
    ...base,
    level: level !== undefined && levelRank(level) !== undefined ? level.toUpperCase() : (level ?? null),
    message: known.message ?? line.message,
    time: known.time ?? eventTime,
    ...(known.service !== undefined ? { service: known.service } : {}),
    ...(known.orderId !== undefined ? { orderId: known.orderId } : {}),
    ...(rid !== undefined ? { requestId: rid } : {}),
    ...(known.xrayTraceId !== undefined ? { xrayTraceId: known.xrayTraceId } : {}),
    ...(known.correlationId !== undefined ? { correlationId: known.correlationId } : {}),
    fields,
    ...(raw !== undefined ? { raw } : {}),
  };
}

/** `Name: message` of the error a Powertools line carries (`logger.warn('…', error)`), if any. */
function errorOf(fields: Record<string, unknown>): string | undefined {
  const error = fields.error as { name?: unknown; message?: unknown } | undefined;
  if (typeof error !== 'object' || error === null || typeof error.name !== 'string') return undefined;
  return typeof error.message === 'string' && error.message !== ''
    ? `${error.name}: ${error.message}`
    : error.name;
}

/** Writes log records for people: time, function, (order,) level, message. */
export function createLinePrinter(
  out: Output,
  options: { functionWidth: number; withOrder: boolean },
): (record: LogRecord) => void {
  return (record) => {
    const levelText = (record.level ?? '—').padEnd(5);
    const rank = levelRank(record.level);
    const level =
      rank === undefined
        ? out.style.dim(levelText)
        : rank >= 4
          ? out.style.fail(levelText)
          : rank === 3
            ? out.style.warn(levelText)
            : out.style.dim(levelText);
    const order = options.withOrder ? ` ${out.style.dim((record.orderId ?? '').padEnd(26))}` : '';
    const fn = shortFunctionName(record.functionName).padEnd(options.functionWidth);
    const error = errorOf(record.fields);
    out.line(
      `${out.style.dim(new Date(record.timestamp).toISOString().slice(11, 23))} ${out.style.accent(fn)}${order} ${level} ${record.message}${error ? out.style.dim(` (${error})`) : ''}`,
    );
  };
}

/** Options of `saga logs`, as parsed. */
export interface LogsOptions {
  /** Only this order's lines; every order's (lines that carry an orderId) when undefined (with --follow only). */
  readonly orderId?: string;
  readonly follow: boolean;
  readonly level?: LogLevel;
}

/** Reads the command line of `saga logs` (`--level` is read by its definition): exit 2 for a bad id, or no id without --follow. */
export function parseLogsOptions(
  [rawId]: readonly (string | undefined)[],
  options: { readonly follow?: boolean; readonly level?: LogLevel },
): LogsOptions {
  const follow = options.follow === true;
  if (rawId === undefined && !follow) {
    throw new UserError(
      'Say which order: `saga logs <orderId>` (`saga ls` lists them), or `saga logs --follow` to follow the lines ' +
        'of every order as they arrive.',
    );
  }
  return {
    ...(rawId !== undefined ? { orderId: parseOrderId(rawId) } : {}),
    follow,
    ...(options.level !== undefined ? { level: options.level } : {}),
  };
}

/** How long `--follow` waits between polls (the tail itself keeps to the FilterLogEvents quota). */
const FOLLOW_INTERVAL_MS = 500;

export default async function action(
  ctx: CommandContext,
  args: ArgsOf<typeof logsCommand>,
  rawOptions: OptionsOf<typeof logsCommand>,
): Promise<number> {
  const options = parseLogsOptions(args, rawOptions);
  const target = await resolveTarget(ctx.projectDir, ctx.globals, ctx.env);
  const { out } = ctx;
  const functionWidth = Math.max(
    5,
    ...functionLogGroups(target).map((g) => shortFunctionName(g.functionName).length),
  );
  const print = createLinePrinter(out, { functionWidth, withOrder: options.orderId === undefined });
  const emit = (record: LogRecord) => {
    out.data(record);
    print(record);
  };
  if (options.follow) return await follow(ctx, target, options, emit);

  const orderId = options.orderId ?? '';
  const records = (await readOrderLogs(target, orderId)).map(toLogRecord);
  const shown = records.filter((r) => shownAtLevel(r, options.level));
  for (const record of shown) emit(record);
  if (records.length === 0) {
    out.line(
      `No log lines carry orderId ${orderId} (yet). Check the id with ${out.style.accent('saga ls')}.`,
    );
  } else if (shown.length === 0) {
    out.line(
      `None of the order's ${records.length} log lines is at ${options.level?.toUpperCase()} or above ` +
        `(${out.style.accent(`saga logs ${orderId}`)} shows them all).`,
    );
  } else if (shown.length < records.length) {
    out.line(
      out.style.dim(
        `${records.length - shown.length} of ${records.length} lines below ${options.level?.toUpperCase()} hidden.`,
      ),
    );
  }
  return 0;
}

/** `--follow`: prints lines as they arrive until Ctrl-C (then `run` says what goes on and exits 130). */
export async function follow(
  ctx: CommandContext,
  target: ResolvedTarget,
  options: LogsOptions,
  emit: (record: LogRecord) => void,
  tailOptions: Pick<LogTailOptions, 'minIntervalMs'> = {},
): Promise<number> {
  const { out, signal } = ctx;
  const { orderId } = options;
  noteForInterrupt(
    signal,
    orderId === undefined
      ? 'Stopped following the logs; the stack goes on in the cloud. `saga ls` lists the orders, ' +
          '`saga logs <orderId>` reads the lines of one.'
      : `Stopped following the logs; the order's saga (if still running) goes on in the cloud. ` +
          `\`saga logs ${orderId}\` reads its lines again, \`saga watch ${orderId}\` follows its timeline.`,
  );
  // One order: its lines so far, then the new ones. Every order: from now on (the history of all of them is `saga ls`).
  const tail = createLogTail(
    target,
    orderId ?? EVERY_ORDER,
    orderId === undefined ? { startTime: Date.now() } : {},
  );
  if (out.interactive) {
    const what = orderId === undefined ? 'every order' : `order ${orderId}`;
    const level = options.level ? ` at ${options.level.toUpperCase()} or above` : '';
    out.line(out.style.dim(`Following the log lines of ${what}${level} (Ctrl-C to stop)…`));
  }
  while (!signal.aborted) {
    for (const line of await tail.poll()) {
      const record = toLogRecord(line);
      if (shownAtLevel(record, options.level)) emit(record);
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(
        done,
        Math.min(FOLLOW_INTERVAL_MS, tailOptions.minIntervalMs ?? FOLLOW_INTERVAL_MS),
      );
      signal.addEventListener('abort', done, { once: true });
      function done() {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
    });
  }
  return 130;
}
