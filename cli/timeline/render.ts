/**
 * Timeline model -> terminal lines and `--json` objects. Pure: no process, no console, no colour library.
 * Colours come in through a {@link TimelineStyle} (cli/ui passes chalk's functions); widths are computed on the
 * plain text first, so styling never breaks alignment.
 */
import type {
  EntryStatus,
  OrderStatus,
  Phase,
  TimelineEntry,
  TimelineModel,
  TimelineSummary,
} from './model.ts';

/** Styling functions: each wraps a piece of text (e.g. in ANSI colour codes). Identity by default. */
export interface TimelineStyle {
  /** Success: ✓, SUCCEEDED. */
  readonly ok: (text: string) => string;
  /** Failure: ✗, error names, FAILED. */
  readonly fail: (text: string) => string;
  /** Attention: retries, caught errors, aborted. */
  readonly warn: (text: string) => string;
  /** Secondary text: durations, separators, details. */
  readonly dim: (text: string) => string;
  /** Emphasis: state names of forward steps, the outcome. */
  readonly bold: (text: string) => string;
  /** Compensations and running states. */
  readonly accent: (text: string) => string;
}

const identity = (text: string) => text;

/** No styling: plain text. */
export const PLAIN_STYLE: TimelineStyle = {
  ok: identity,
  fail: identity,
  warn: identity,
  dim: identity,
  bold: identity,
  accent: identity,
};

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

function charWidth(char: string): number {
  const code = char.codePointAt(0) ?? 0;
  // Fast path: printable Latin, no combining marks.
  if (code >= 0x20 && code < 0x300) return 1;
  const zeroWidth =
    /\p{Mark}/u.test(char) ||
    (code >= 0x200b && code <= 0x200f) ||
    code === 0x2060 ||
    (code >= 0xfe00 && code <= 0xfe0f);
  if (zeroWidth) return 0;
  if (/\p{Emoji_Presentation}/u.test(char)) return 2;
  const wide =
    (code >= 0x1100 && code <= 0x115f) ||
    (code >= 0x2e80 && code <= 0xa4cf && code !== 0x303f) ||
    (code >= 0xac00 && code <= 0xd7a3) ||
    (code >= 0xf900 && code <= 0xfaff) ||
    (code >= 0xfe30 && code <= 0xfe4f) ||
    (code >= 0xff00 && code <= 0xff60) ||
    (code >= 0xffe0 && code <= 0xffe6) ||
    (code >= 0x20000 && code <= 0x3fffd);
  return wide ? 2 : 1;
}

/** Terminal columns a plain (unstyled) string takes: wide CJK and emoji count 2, combining marks 0. */
export function displayWidth(text: string): number {
  let width = 0;
  for (const char of text) width += charWidth(char);
  return width;
}

/** Cuts a plain string to at most `max` columns, ending in `…` when it had to cut. */
export function truncate(text: string, max: number): string {
  if (max <= 0) return '';
  if (displayWidth(text) <= max) return text;
  let out = '';
  let width = 0;
  for (const char of text) {
    const w = charWidth(char);
    if (width + w > max - 1) break;
    out += char;
    width += w;
  }
  return `${out}…`;
}

function padStart(text: string, width: number): string {
  return ' '.repeat(Math.max(0, width - displayWidth(text))) + text;
}

// ---------------------------------------------------------------------------------------------------------------
// Formatting

/** A duration for people: 840ms, 1.24s, 12.4s, 2m 05s, 1h 02m. */
export function formatDuration(ms: number): string {
  const value = Math.max(0, Math.round(ms));
  if (value < 1000) return `${value}ms`;
  if (value < 10_000) return `${(value / 1000).toFixed(2)}s`;
  if (value < 60_000) return `${(value / 1000).toFixed(1)}s`;
  const seconds = Math.floor(value / 1000);
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h ${String(Math.floor(seconds / 60) % 60).padStart(2, '0')}m`;
}

/** A backoff gap, short: 640ms, 1.2s, 19s. */
function formatGap(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  return `${(ms / 1000).toFixed(1).replace(/\.0$/, '')}s`;
}

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
      return { glyph: '…', style: 'accent' };
    case 'failed':
      return { glyph: '✗', style: 'fail' };
    case 'caught':
      return { glyph: '↺', style: 'warn' };
    default:
      if (entry.attempts > 1) return { glyph: '↺', style: 'warn' };
      if (entry.phase === 'compensation') return { glyph: '↩', style: 'accent' };
      return { glyph: '✓', style: 'ok' };
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
    const gaps = entry.backoffMs.map(formatGap);
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
function wrapFacts(facts: readonly Segment[], width: number, style: TimelineStyle): string[] {
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
  return lines.map((line) => fitSegments(line, width, style));
}

function footerLines(
  summary: TimelineSummary,
  width: number,
  ruleWidth: number,
  style: TimelineStyle,
): string[] {
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
  lines.push(fitSegments(outcomeSegments, width, style, '  '));

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
  } else if (summary.orderStatus !== null) facts.push({ text: 'no compensation', style: 'dim' });
  facts.push({
    text: `${summary.status === 'RUNNING' ? 'elapsed' : 'total'} ${formatDuration(summary.durationMs)}`,
  });
  facts.push({ text: `${summary.transitions} transitions ≈ ${formatUsd(summary.priceUsd)}` });
  facts.push({ text: `${summary.eventCount} events`, style: 'dim' });
  if (summary.redrives > 0) facts.push({ text: `redriven ×${summary.redrives}`, style: 'warn' });
  lines.push(...wrapFacts(facts, width, style));
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
    const indent = '  '.repeat(entry.depth + (entry.phase === 'compensation' ? 1 : 0));
    const glyph = glyphOf(entry);
    const duration = entry.startMs === undefined ? '' : formatDuration(entry.durationMs);
    return { entry, indent, glyph, label: labelOf(entry), duration };
  });
  // At least 6 columns ("59.9s", "2m 05s"), so the column stays put while an execution is followed.
  const durationWidth = Math.max(6, ...cells.map((cell) => displayWidth(cell.duration)));
  const widest =
    options.nameWidth ??
    Math.max(0, ...cells.map((cell) => displayWidth(cell.indent) + 2 + displayWidth(cell.label)));
  // The name column never takes more than ~45% of the line, so details stay readable.
  const nameWidth = Math.max(8, Math.min(widest, Math.floor(width * 0.45), width - durationWidth - 2));
  const detailWidth = width - nameWidth - 2 - durationWidth - 2;

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
    footerLines(model.summary, width, ruleWidth, style).forEach((text, index) => {
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

/** Renders the timeline as lines; see {@link renderTimelineRows}. */
export function renderTimeline(model: TimelineModel, options: RenderTimelineOptions = {}): string[] {
  return renderTimelineRows(model, options).map((row) => row.text);
}

/**
 * For append-only output (no TTY, CI logs): the lines of `next` not printed yet, given the rows rendered last
 * time. A visit is printed when it first appears and once more when it reaches a terminal status (a settling one
 * only once settled); the footer is printed once, when the execution has ended.
 */
export function diffForAppend(previous: readonly TimelineRow[], next: readonly TimelineRow[]): string[] {
  const before = new Map(previous.map((row) => [row.key, row]));
  const lines: string[] = [];
  for (const row of next) {
    const earlier = before.get(row.key);
    if (row.kind === 'footer') {
      if (row.final && earlier?.final !== true) lines.push(row.text);
    } else if (row.settling) {
      // printed once its detail has arrived
    } else if (earlier === undefined || earlier.settling || (!earlier.final && row.final)) {
      lines.push(row.text);
    }
  }
  return lines;
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

/** The design §6 `watch --json` objects: one per visit, then the summary. Serialise each as one line. */
export function toJsonLines(model: TimelineModel): TimelineJsonLine[] {
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
      ...optional('error', entry.error),
      ...optional('cause', entry.cause),
      ...optional('backoffMs', entry.backoffMs.length > 0 ? entry.backoffMs : undefined),
      ...optional('compensates', entry.compensates),
      ...optional('note', entry.note),
      ...optional('parent', entry.parent?.state),
      ...optional('iteration', entry.iteration),
      ...optional('branch', entry.branch),
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
