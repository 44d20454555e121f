/**
 * Timeline model -> terminal lines and `--json` objects. Pure: no process, no console, no colour library.
 * Colours come in through a {@link TimelineStyle} (cli/ui passes chalk's functions); widths are computed on the
 * plain text first, so styling never breaks alignment.
 */
import {
  displayWidth,
  formatDuration,
  formatLocalTime,
  formatMoney,
  formatShortDuration,
  PLAIN_STYLE,
  plural,
  type Style,
  truncate,
} from '../ui/format.ts';
import { GLYPHS } from './glyphs.ts';
import type {
  EntryStatus,
  OrderStatus,
  Phase,
  TimelineEntry,
  TimelineModel,
  TimelineSummary,
} from './model.ts';

export { displayWidth, formatDuration, formatShortDuration, PLAIN_STYLE, truncate } from '../ui/format.ts';

/** The timeline's styling functions: the CLI's one {@link Style} (cli/ui passes chalk's; identity by default). */
export type TimelineStyle = Style;

/** Options of {@link renderTimeline}. */
export interface RenderTimelineOptions {
  /** Maximum display width of a line (terminal columns); no line is wider. @default 100 (minimum 24) */
  readonly width?: number;
  /** Styling functions; missing ones are identity. @default PLAIN_STYLE */
  readonly style?: Partial<TimelineStyle>;
  /** Append the footer (outcome, order status, compensation order, time, transitions and price). @default true */
  readonly footer?: boolean;
  /**
   * Pin the name column's width, for append-only output where lines already printed cannot be re-aligned when a
   * longer name appears. @default fitted to the longest name, at most 45% of the width
   */
  readonly nameWidth?: number;
  /**
   * Cut details and the footer to `width` (a terminal). False keeps whole causes (a file, a pipe): only the name
   * column keeps its width. @default true
   */
  readonly cut?: boolean;
}

/** One rendered line and what it shows, for append-only output ({@link diffForAppend}). */
export interface TimelineRow {
  /** `step:<entry key>` for a state visit, `footer:<n>` for footer lines. */
  readonly key: string;
  readonly kind: 'step' | 'footer';
  /** The line will not change any more: the visit (or, for the footer, the execution) has ended. */
  readonly final: boolean;
  /**
   * The visit has ended but its detail is still to come (a Fail state's error arrives with ExecutionFailed):
   * append-only output waits for it rather than print it twice.
   */
  readonly settling: boolean;
  /** The line, styled. */
  readonly text: string;
}

// ---------------------------------------------------------------------------------------------------------------
// Text measurement

/** Control characters (and so ANSI escapes) from error messages must not reach the terminal. */
function sanitize(text: string): string {
  return (
    text
      // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping escape sequences is the point
      .replace(/\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?/g, '')
      // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
      .replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ')
  );
}

function padStart(text: string, width: number): string {
  return ' '.repeat(Math.max(0, width - displayWidth(text))) + text;
}

// ---------------------------------------------------------------------------------------------------------------
// Formatting

/** A price in USD without float noise: $0.000125, $0.025. */
export function formatUsd(usd: number): string {
  const fixed = usd.toFixed(6).replace(/0+$/, '').replace(/\.$/, '');
  return `$${fixed === '0' ? '0' : fixed}`;
}

type StyleKey = keyof TimelineStyle;
interface Segment {
  readonly text: string;
  readonly style?: StyleKey | undefined;
}

/** Joins segments with a separator, cut to `max` columns, then styled piece by piece. */
function fitSegments(
  segments: readonly Segment[],
  max: number,
  style: TimelineStyle,
  separator = ' · ',
): string {
  let remaining = max;
  let out = '';
  segments.forEach((segment, index) => {
    if (remaining <= 0) return;
    const lead = index === 0 ? '' : separator;
    const plain = sanitize(lead + segment.text);
    const cut = truncate(plain, remaining);
    remaining -= displayWidth(cut);
    if (cut.startsWith(lead) && lead !== '') {
      out += style.dim(lead) + applyStyle(style, segment.style, cut.slice(lead.length));
    } else {
      out += style.dim(cut);
    }
  });
  return out;
}

function applyStyle(style: TimelineStyle, key: StyleKey | undefined, text: string): string {
  return key === undefined || text === '' ? text : style[key](text);
}

/** The glyph of a visit and its style. */
function glyphOf(entry: TimelineEntry): { glyph: string; style: StyleKey } {
  switch (entry.status) {
    case 'running':
      return { glyph: GLYPHS.running, style: 'accent' };
    case 'failed':
      return { glyph: GLYPHS.failed, style: 'fail' };
    case 'caught':
      return { glyph: GLYPHS.caught, style: 'warn' };
    default:
      if (entry.phase === 'compensation') return { glyph: GLYPHS.compensated, style: 'accent' };
      if (entry.attempts > 1) return { glyph: GLYPHS.retried, style: 'warn' };
      return { glyph: GLYPHS.succeeded, style: 'ok' };
  }
}

function labelOf(entry: TimelineEntry): string {
  const name = sanitize(entry.state);
  if (entry.iteration !== undefined) return `[${entry.iteration}] ${name}`;
  if (entry.branch !== undefined) return `(${entry.branch + 1}) ${name}`;
  return name;
}

/** Distinct error names of a visit's failed attempts: "TransientError ×2, States.Timeout". */
function errorTally(entry: TimelineEntry): string {
  const counts = new Map<string, number>();
  for (const failure of entry.errors) counts.set(failure.error, (counts.get(failure.error) ?? 0) + 1);
  return [...counts].map(([name, count]) => (count > 1 ? `${name} ×${count}` : name)).join(', ');
}

/**
 * The detail of a visit at a level of compaction: 0 full; 1 backoff gaps as first…last; 2 without "undoes X"
 * (the ↩ and indentation already say it); 3 without the gaps. The error and its cause are kept longest.
 */
function detailSegments(entry: TimelineEntry, level: number): Segment[] {
  const segments: Segment[] = [];
  if (entry.compensates !== undefined && level < 2)
    segments.push({ text: `undoes ${entry.compensates}`, style: 'accent' });
  if (entry.note !== undefined) segments.push({ text: entry.note, style: 'dim' });
  if (entry.stateType === 'Map' && entry.items !== undefined)
    segments.push({ text: `${entry.items} items`, style: 'dim' });
  if (entry.stateType === 'Parallel' && entry.items !== undefined) {
    segments.push({ text: `${entry.items} branches`, style: 'dim' });
  }
  if (entry.attempts > 1) {
    const gaps = entry.backoffMs.map(formatShortDuration);
    const shown =
      gaps.length === 0 || level >= 3
        ? ''
        : level >= 1 && gaps.length > 2
          ? `, backoff ${gaps[0]}…${gaps.at(-1)}`
          : `, backoff ${gaps.join(' ')}`;
    segments.push({ text: `${entry.attempts} attempts${shown}`, style: 'warn' });
  }
  if (entry.status === 'running') {
    const last = entry.errors.at(-1);
    if (entry.retrying && last !== undefined)
      segments.push({ text: `retrying after ${last.error}`, style: 'warn' });
    else segments.push({ text: 'running', style: 'accent' });
  }
  if (entry.aborted) segments.push({ text: 'aborted', style: 'warn' });
  if ((entry.status === 'failed' || entry.status === 'caught') && entry.error !== undefined) {
    const cause = entry.cause === undefined ? '' : `: ${entry.cause}`;
    segments.push({ text: `${entry.error}${cause}`, style: 'fail' });
  } else if (entry.status === 'succeeded' && entry.errors.length > 0) {
    segments.push({ text: `after ${errorTally(entry)}`, style: 'dim' });
  }
  return segments;
}

/**
 * The fullest detail that fits in `width`, else the most compact one, cut. The last segment (the error and its
 * cause, when there is one) is elastic: a level fits when it leaves that segment at least 32 columns.
 */
function fitDetail(entry: TimelineEntry, width: number, style: TimelineStyle): string {
  const widthOf = (segment: Segment, index: number) =>
    displayWidth(sanitize(segment.text)) + (index === 0 ? 0 : 3);
  const fits = (segments: readonly Segment[]) => {
    const widths = segments.map(widthOf);
    const last = widths.pop() ?? 0;
    const fixed = widths.reduce((sum, w) => sum + w, 0);
    const elastic = segments.at(-1)?.style === 'fail' ? Math.min(last, 32) : last;
    return fixed + elastic <= width;
  };
  let segments: Segment[] = [];
  for (let level = 0; level <= 3; level += 1) {
    segments = detailSegments(entry, level);
    if (fits(segments)) break;
  }
  return fitSegments(segments, width, style);
}

const OUTCOME_STYLE: Record<TimelineSummary['status'], { glyph: string; style: StyleKey }> = {
  RUNNING: { glyph: '…', style: 'accent' },
  SUCCEEDED: { glyph: '✓', style: 'ok' },
  FAILED: { glyph: '✗', style: 'fail' },
  TIMED_OUT: { glyph: '✗', style: 'fail' },
  ABORTED: { glyph: '✗', style: 'warn' },
};

const ORDER_STYLE: Record<OrderStatus, StyleKey> = {
  COMPLETED: 'ok',
  CANCELLED: 'warn',
  FAILED: 'fail',
  COMPENSATION_FAILED: 'fail',
  CANCELLING: 'warn',
  PENDING: 'accent',
};

/** Greedy word-wrap of footer facts: as many per line as fit in `width`. */
function wrapFacts(facts: readonly Segment[], width: number, style: TimelineStyle, room = width): string[] {
  const lines: Segment[][] = [];
  let current: Segment[] = [];
  let used = 0;
  for (const fact of facts) {
    const w = displayWidth(fact.text) + (current.length > 0 ? 3 : 0);
    if (current.length > 0 && used + w > width) {
      lines.push(current);
      current = [];
      used = 0;
    }
    current.push(fact);
    used += current.length > 1 ? w : displayWidth(fact.text);
  }
  if (current.length > 0) lines.push(current);
  return lines.map((line) => fitSegments(line, room, style));
}

function footerLines(
  summary: TimelineSummary,
  width: number,
  ruleWidth: number,
  style: TimelineStyle,
  cut: boolean,
): string[] {
  const room = cut ? width : Number.POSITIVE_INFINITY;
  const lines = [style.dim('─'.repeat(Math.min(width, Math.max(ruleWidth, 24))))];
  const outcome = OUTCOME_STYLE[summary.status];
  const outcomeSegments: Segment[] = [
    { text: `${outcome.glyph} ${summary.status.replace('_', ' ')}`, style: outcome.style },
  ];
  if (summary.error !== undefined) {
    const cause = summary.cause === undefined ? '' : `: ${summary.cause}`;
    outcomeSegments.push({ text: `${summary.error}${cause}`, style: 'fail' });
  } else if (summary.failState !== undefined) {
    outcomeSegments.push({ text: `Fail state ${summary.failState}`, style: 'fail' });
  }
  lines.push(fitSegments(outcomeSegments, room, style, '  '));

  const facts: Segment[] = [];
  if (summary.orderStatus !== null)
    facts.push({ text: `order ${summary.orderStatus}`, style: ORDER_STYLE[summary.orderStatus] });
  if (summary.compensatedInReverse === true) facts.push({ text: 'compensated in reverse ✓', style: 'ok' });
  else if (summary.compensatedInReverse === false) {
    const missing =
      summary.uncompensated.length > 0
        ? ` (${summary.uncompensated.join(', ')} not undone)`
        : ' (out of order)';
    facts.push({ text: `compensated in reverse ✗${missing}`, style: 'fail' });
  } else if (summary.status === 'RUNNING' && summary.uncompensated.length > 0) {
    facts.push({ text: `compensating (${summary.uncompensated.join(', ')} to undo)`, style: 'accent' });
  } else if (summary.orderStatus !== null && summary.status !== 'RUNNING') {
    // While it runs, a compensation may still come: say nothing rather than "no compensation".
    facts.push({ text: 'no compensation', style: 'dim' });
  }
  facts.push({
    text: `${summary.status === 'RUNNING' ? 'elapsed' : 'total'} ${formatDuration(summary.durationMs)}`,
  });
  facts.push({ text: `${plural(summary.transitions, 'transition')} ≈ ${formatUsd(summary.priceUsd)}` });
  facts.push({ text: plural(summary.eventCount, 'event'), style: 'dim' });
  if (summary.redrives > 0) facts.push({ text: `redriven ×${summary.redrives}`, style: 'warn' });
  lines.push(...wrapFacts(facts, width, style, room));
  return lines;
}

// ---------------------------------------------------------------------------------------------------------------
// Public rendering

/**
 * Renders the timeline as rows: one per state visit (glyph, state, duration right-aligned, detail), then the
 * footer. Compensations are indented and marked ↩; inner Map/Parallel states are indented under their parent and
 * labelled `[iteration]` / `(branch)`. No row is wider than `width` columns.
 */
export function renderTimelineRows(model: TimelineModel, options: RenderTimelineOptions = {}): TimelineRow[] {
  const width = Math.max(24, Math.floor(options.width ?? 100));
  const style: TimelineStyle = { ...PLAIN_STYLE, ...options.style };

  const cells = model.entries.map((entry) => {
    const indent = indentOf(entry);
    const glyph = glyphOf(entry);
    const duration = entry.startMs === undefined ? '' : formatDuration(entry.durationMs);
    return { entry, indent, glyph, label: labelOf(entry), duration };
  });
  // At least 6 columns ("59.9s", "2m 05s"), so the column stays put while an execution is followed.
  const durationWidth = Math.max(6, ...cells.map((cell) => displayWidth(cell.duration)));
  const widest = options.nameWidth ?? nameColumnWidth(model);
  // The name column never takes more than ~45% of the line, so details stay readable.
  const nameWidth = Math.max(8, Math.min(widest, Math.floor(width * 0.45), width - durationWidth - 2));
  const cut = options.cut !== false;
  const detailWidth = cut ? width - nameWidth - 2 - durationWidth - 2 : Number.POSITIVE_INFINITY;

  const rows: TimelineRow[] = cells.map(({ entry, indent, glyph, label, duration }) => {
    const room = nameWidth - displayWidth(indent) - 2;
    const name = truncate(label, Math.max(1, room));
    const nameStyle: StyleKey | undefined =
      entry.phase === 'compensation'
        ? 'accent'
        : entry.status === 'failed'
          ? 'fail'
          : entry.depth === 0
            ? 'bold'
            : undefined;
    const nameCell = `${indent}${style[glyph.style](glyph.glyph)} ${applyStyle(style, nameStyle, name)}`;
    const pad = ' '.repeat(Math.max(0, nameWidth - displayWidth(`${indent}${glyph.glyph} ${name}`)));
    const detail = detailWidth >= 6 ? fitDetail(entry, detailWidth, style) : '';
    const text = `${nameCell}${pad}  ${style.dim(padStart(duration, durationWidth))}${detail === '' ? '' : `  ${detail}`}`;
    const settling = entry.stateType === 'Fail' && model.summary.status === 'RUNNING';
    return {
      key: `step:${entry.key}`,
      kind: 'step',
      final: entry.status !== 'running' && !settling,
      settling,
      text,
    };
  });

  if (options.footer !== false) {
    const ruleWidth = nameWidth + 2 + durationWidth;
    footerLines(model.summary, width, ruleWidth, style, cut).forEach((text, index) => {
      rows.push({
        key: `footer:${index}`,
        kind: 'footer',
        final: model.summary.status !== 'RUNNING',
        settling: false,
        text,
      });
    });
  }
  return rows;
}

/** The width the name column needs for every visit of `model` (indent, glyph and label). */
export function nameColumnWidth(model: TimelineModel): number {
  return Math.max(
    0,
    ...model.entries.map((entry) => displayWidth(indentOf(entry)) + 2 + displayWidth(labelOf(entry))),
  );
}

function indentOf(entry: TimelineEntry): string {
  return '  '.repeat(entry.depth + (entry.phase === 'compensation' ? 1 : 0));
}

/** What the header of a timeline says about the execution (every field optional: a saved file may lack some). */
export interface ExecutionHeader {
  /** The execution name. */
  readonly name?: string | undefined;
  readonly executionArn?: string | undefined;
  /** The file the history was read from, for `--from-file`. */
  readonly file?: string | undefined;
  /** Start time, epoch ms. */
  readonly startMs?: number | undefined;
  /** The execution input, as recorded (a JSON string) or parsed. */
  readonly input?: unknown;
  /**
   * The local cloud's time scale (Retry and Wait delays and Lambda timeouts are multiplied by it); said when it is
   * not 1, so that "backoff 64ms" is not read as the real Retry.
   */
  readonly timeScale?: number | undefined;
}

/**
 * The header above a timeline: the execution (name, start time, ARN), its input in brief, and the local time scale
 * when it is not 1; then an empty line. Cut to `width` unless `cut` is false.
 */
export function renderHeader(
  header: ExecutionHeader,
  options: Pick<RenderTimelineOptions, 'width' | 'style' | 'cut'> = {},
): string[] {
  const width = options.cut === false ? Number.POSITIVE_INFINITY : Math.max(24, options.width ?? 100);
  const style: TimelineStyle = { ...PLAIN_STYLE, ...options.style };
  const cutToWidth = (text: string) => truncate(sanitize(text), width);
  const title = header.name ?? (header.file === undefined ? undefined : `history file ${header.file}`);
  const started = header.startMs === undefined ? undefined : `started ${formatLocalTime(header.startMs)}`;
  const lines: string[] = [];
  if (title !== undefined || started !== undefined) {
    const first = cutToWidth([title, started].filter((part) => part !== undefined).join('  '));
    lines.push(
      title === undefined
        ? style.dim(first)
        : style.bold(first.slice(0, title.length)) + style.dim(first.slice(title.length)),
    );
  }
  if (header.executionArn !== undefined) lines.push(style.dim(cutToWidth(`  ${header.executionArn}`)));
  const input = briefInput(header.input);
  if (input !== undefined) lines.push(style.dim(cutToWidth(`  input: ${input}`)));
  if (header.timeScale !== undefined && header.timeScale !== 1) {
    const factor =
      header.timeScale < 1
        ? `${formatFactor(1 / header.timeScale)}× faster`
        : `${formatFactor(header.timeScale)}× slower`;
    lines.push(
      style.warn(
        cutToWidth(
          `  local time scale ${header.timeScale}: Retry backoffs, Wait states and Lambda timeouts run ${factor} ` +
            'than on AWS (durations below are as observed)',
        ),
      ),
    );
  }
  if (lines.length > 0) lines.push('');
  return lines;
}

function formatFactor(factor: number): string {
  return String(Number(factor.toPrecision(3)));
}

/**
 * An execution input in brief: the order saga's `{orderId, customerId, items, amount, currency}` as
 * "customer c · sku ×qty, … · 12.50 EUR"; any other input as compact JSON. Undefined when there is none.
 */
export function briefInput(input: unknown): string | undefined {
  let value: unknown = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch {
      return input.replace(/\s+/g, ' ').trim() || undefined;
    }
  }
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'object' && !Array.isArray(value)) {
    const order = value as { customerId?: unknown; items?: unknown; amount?: unknown; currency?: unknown };
    const items = Array.isArray(order.items) ? order.items : undefined;
    if (typeof order.customerId === 'string' && items !== undefined && typeof order.amount === 'number') {
      const lines = items.map((item) => {
        const { sku, qty } = (item ?? {}) as { sku?: unknown; qty?: unknown };
        return `${String(sku)} ×${String(qty)}`;
      });
      const currency = typeof order.currency === 'string' ? order.currency : undefined;
      return `customer ${order.customerId} · ${lines.join(', ')} · ${formatMoney(order.amount, currency)}`;
    }
  }
  return JSON.stringify(value);
}

/** Renders the timeline as lines; see {@link renderTimelineRows}. */
export function renderTimeline(model: TimelineModel, options: RenderTimelineOptions = {}): string[] {
  return renderTimelineRows(model, options).map((row) => row.text);
}

/**
 * For append-only output (no TTY, CI logs): the lines of `next` not printed yet, given the rows rendered last
 * time. Only settled lines are printed, each once: a visit when it has ended (a settling one once its detail has
 * arrived), the footer when the execution has ended. A running visit is never printed (it would stay behind as a
 * stale "running" line).
 */
export function diffForAppend(previous: readonly TimelineRow[], next: readonly TimelineRow[]): string[] {
  const before = new Map(previous.map((row) => [row.key, row]));
  return next.filter((row) => row.final && before.get(row.key)?.final !== true).map((row) => row.text);
}

/**
 * For a TTY: the text that replaces the previously drawn frame of `previousLineCount` lines with `lines` (cursor
 * up, clear to the end of the screen, the new lines). Write it as is; pure, so it can be tested.
 */
export function redrawFrame(previousLineCount: number, lines: readonly string[]): string {
  const up = previousLineCount > 0 ? `\u001b[${previousLineCount}F` : '';
  return `${up}\u001b[0J${lines.map((line) => `${line}\n`).join('')}`;
}

/** A `--json` line for one visit (design §6). */
export interface StepJsonLine {
  readonly type: 'step';
  readonly state: string;
  readonly phase: Phase;
  readonly status: EntryStatus;
  readonly attempts: number;
  readonly durationMs: number;
  /** When the state was entered (ISO 8601), if the history has timestamps. */
  readonly startedAt?: string;
  /** When it was left (or failed); absent while it runs. */
  readonly endedAt?: string;
  readonly error?: string;
  /** The cause as a message (Lambda's `errorMessage`), not the raw JSON. */
  readonly cause?: string;
  /** Observed gaps between attempts, when retried. */
  readonly backoffMs?: readonly number[];
  /** The forward state a compensation undoes. */
  readonly compensates?: string;
  /** What the visit means for the saga (a check's read, the decision to compensate, a settled order). */
  readonly note?: string;
  /** Enclosing Map/Parallel state of an inner state. */
  readonly parent?: string;
  readonly iteration?: number;
  readonly branch?: number;
  /** With `--detail`: the state's input and output, parsed (the history's JSON text). */
  readonly input?: unknown;
  readonly output?: unknown;
}

/** The last `--json` line (design §6). */
export interface SummaryJsonLine {
  readonly type: 'summary';
  readonly status: TimelineSummary['status'];
  readonly orderStatus: OrderStatus | null;
  readonly compensatedInReverse: boolean | null;
  readonly transitions: number;
  readonly durationMs: number;
  readonly error?: string;
  readonly cause?: string;
  readonly priceUsd: number;
}

export type TimelineJsonLine = StepJsonLine | SummaryJsonLine;

/** A history's JSON text, parsed (text that is not JSON stays text). */
function parsed(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function iso(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : new Date(ms).toISOString();
}

/** The design §6 `watch --json` objects: one per visit, then the summary. Serialise each as one line. */
export function toJsonLines(
  model: TimelineModel,
  options: { readonly detail?: boolean } = {},
): TimelineJsonLine[] {
  const optional = <K extends string, V>(key: K, value: V | undefined) =>
    (value === undefined ? {} : { [key]: value }) as Partial<Record<K, V>>;
  const steps = model.entries.map(
    (entry): StepJsonLine => ({
      type: 'step',
      state: entry.state,
      phase: entry.phase,
      status: entry.status,
      attempts: entry.attempts,
      durationMs: entry.durationMs,
      ...optional('startedAt', iso(entry.startMs)),
      ...optional('endedAt', iso(entry.endMs)),
      ...optional('error', entry.error),
      ...optional('cause', entry.cause),
      ...optional('backoffMs', entry.backoffMs.length > 0 ? entry.backoffMs : undefined),
      ...optional('compensates', entry.compensates),
      ...optional('note', entry.note),
      ...optional('parent', entry.parent?.state),
      ...optional('iteration', entry.iteration),
      ...optional('branch', entry.branch),
      ...(options.detail
        ? { ...optional('input', parsed(entry.input)), ...optional('output', parsed(entry.output)) }
        : {}),
    }),
  );
  const { summary } = model;
  const last: SummaryJsonLine = {
    type: 'summary',
    status: summary.status,
    orderStatus: summary.orderStatus,
    compensatedInReverse: summary.compensatedInReverse,
    transitions: summary.transitions,
    durationMs: summary.durationMs,
    ...optional('error', summary.error),
    ...optional('cause', summary.cause),
    priceUsd: summary.priceUsd,
  };
  return [...steps, last];
}

export { GLYPHS, TIMELINE_LEGEND } from './glyphs.ts';
