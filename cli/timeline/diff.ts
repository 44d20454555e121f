/**
 * Two executions side by side: their timeline models aligned per state. Pure: no I/O.
 *
 * One row per state name, in order of first visit (the first execution's order; a state only the second visited
 * goes after the state it followed there). A state one execution never visited has a `null` side.
 */
import { displayWidth, formatDuration, truncate } from '../ui/format.ts';
import { GLYPHS } from './glyphs.ts';
import type { EntryStatus, Phase, TimelineEntry, TimelineModel, TimelineSummary } from './model.ts';

/** What one execution did in one state (all its visits together). */
export interface DiffCell {
  /** Times the state was entered. */
  readonly visits: number;
  /** The outcome of its last visit. */
  readonly status: EntryStatus;
  /** Attempts over all visits (Tasks: scheduled attempts; other states: 1 a visit). */
  readonly attempts: number;
  /** Time spent in the state over all visits. */
  readonly durationMs: number;
  /** Observed backoff between attempts, over all visits. */
  readonly backoffMs: number;
  /** The error that ended its last failed or caught visit, if one did. */
  readonly error?: string;
  /** The errors of its failed attempts (retried or not), in order. */
  readonly errors: readonly string[];
  /** The phase of its first visit. */
  readonly phase: Phase;
  /** What the timeline says the visit meant (the order status a check read, a settled order left alone…). */
  readonly note?: string;
}

/** A field of a {@link DiffCell} that can differ. */
export type DiffField = 'visits' | 'status' | 'attempts' | 'durationMs' | 'error' | 'errors';

/** One aligned state. */
export interface DiffRow {
  readonly state: string;
  readonly a: DiffCell | null;
  readonly b: DiffCell | null;
  /** The fields that differ (every field the present side has when one side is null). */
  readonly differs: readonly DiffField[];
}

/** The execution-level facts of one side. */
export interface DiffSummary {
  /** Where it came from: an execution ARN or a file path. */
  readonly source: string;
  readonly status: TimelineSummary['status'];
  readonly orderStatus: TimelineSummary['orderStatus'];
  readonly durationMs: number;
  readonly transitions: number;
  readonly eventCount: number;
  readonly startMs?: number;
  readonly error?: string;
  readonly failState?: string;
}

/** The `--json` document of `saga diff`. */
export interface DiffDocument {
  readonly type: 'diff';
  readonly a: DiffSummary;
  readonly b: DiffSummary;
  readonly rows: readonly DiffRow[];
  /** The first row whose visits, status or attempts differ (or that one side never visited); null when none. */
  readonly firstDivergence: string | null;
}

/**
 * Durations differ when they are apart by at least this much AND one is at least {@link DURATION_RATIO} times the
 * other: two runs of the same step never take exactly the same time.
 */
export const DURATION_MIN_DELTA_MS = 250;
export const DURATION_RATIO = 1.5;

/** Fields whose difference makes a divergence. */
const DIVERGENCE_FIELDS: readonly DiffField[] = ['visits', 'status', 'attempts'];

/** The cells of a model, per state, in order of first visit. */
export function cellsByState(model: TimelineModel): Map<string, DiffCell> {
  const visits = new Map<string, TimelineEntry[]>();
  for (const entry of model.entries) {
    const list = visits.get(entry.state);
    if (list === undefined) visits.set(entry.state, [entry]);
    else list.push(entry);
  }
  const cells = new Map<string, DiffCell>();
  for (const [state, entries] of visits) {
    const last = entries[entries.length - 1] as TimelineEntry;
    const ended = [...entries].reverse().find((e) => e.error !== undefined);
    const note = [...entries].reverse().find((e) => e.note !== undefined)?.note;
    cells.set(state, {
      visits: entries.length,
      status: last.status,
      attempts: entries.reduce((sum, e) => sum + e.attempts, 0),
      durationMs: entries.reduce((sum, e) => sum + e.durationMs, 0),
      backoffMs: entries.reduce((sum, e) => sum + e.backoffMs.reduce((s, b) => s + b, 0), 0),
      ...(ended?.error !== undefined ? { error: ended.error } : {}),
      errors: entries.flatMap((e) => e.errors.map((x) => x.error)),
      phase: (entries[0] as TimelineEntry).phase,
      ...(note !== undefined ? { note } : {}),
    });
  }
  return cells;
}

/** Whether two durations differ enough to say so. */
export function durationsDiffer(a: number, b: number): boolean {
  const low = Math.min(a, b);
  const high = Math.max(a, b);
  return high - low >= DURATION_MIN_DELTA_MS && high >= low * DURATION_RATIO;
}

function differingFields(a: DiffCell | null, b: DiffCell | null): DiffField[] {
  if (a === null || b === null) {
    const present = (a ?? b) as DiffCell;
    const fields: DiffField[] = ['visits', 'status', 'attempts', 'durationMs'];
    if (present.error !== undefined) fields.push('error');
    if (present.errors.length > 0) fields.push('errors');
    return fields;
  }
  const fields: DiffField[] = [];
  if (a.visits !== b.visits) fields.push('visits');
  if (a.status !== b.status) fields.push('status');
  if (a.attempts !== b.attempts) fields.push('attempts');
  if (durationsDiffer(a.durationMs, b.durationMs)) fields.push('durationMs');
  if (a.error !== b.error) fields.push('error');
  if (a.errors.join('\n') !== b.errors.join('\n')) fields.push('errors');
  return fields;
}

/** The states of both, in order of first visit: a's order, each state only b visited after its predecessor in b. */
export function alignStates(a: readonly string[], b: readonly string[]): string[] {
  const order = [...a];
  const known = new Set(a);
  let previous: string | undefined;
  for (const state of b) {
    if (!known.has(state)) {
      const at = previous === undefined ? 0 : order.indexOf(previous) + 1;
      order.splice(at, 0, state);
      known.add(state);
    }
    previous = state;
  }
  return order;
}

/** Compares two timelines state by state. */
export function diffTimelines(
  a: TimelineModel,
  b: TimelineModel,
): Pick<DiffDocument, 'rows' | 'firstDivergence'> {
  const cellsA = cellsByState(a);
  const cellsB = cellsByState(b);
  const rows = alignStates([...cellsA.keys()], [...cellsB.keys()]).map((state): DiffRow => {
    const cellA = cellsA.get(state) ?? null;
    const cellB = cellsB.get(state) ?? null;
    return { state, a: cellA, b: cellB, differs: differingFields(cellA, cellB) };
  });
  const first = rows.find((row) => row.differs.some((f) => DIVERGENCE_FIELDS.includes(f)));
  return { rows, firstDivergence: first?.state ?? null };
}

/** The execution-level facts of one side. */
export function diffSummary(source: string, summary: TimelineSummary): DiffSummary {
  return {
    source,
    status: summary.status,
    orderStatus: summary.orderStatus,
    durationMs: summary.durationMs,
    transitions: summary.transitions,
    eventCount: summary.eventCount,
    ...(summary.startMs !== undefined ? { startMs: summary.startMs } : {}),
    ...(summary.error !== undefined ? { error: summary.error } : {}),
    ...(summary.failState !== undefined ? { failState: summary.failState } : {}),
  };
}

/** The whole `saga diff` document. */
export function buildDiff(
  a: { readonly source: string; readonly model: TimelineModel },
  b: { readonly source: string; readonly model: TimelineModel },
): DiffDocument {
  return {
    type: 'diff',
    a: diffSummary(a.source, a.model.summary),
    b: diffSummary(b.source, b.model.summary),
    ...diffTimelines(a.model, b.model),
  };
}

/** The timeline glyph of a cell (as `saga watch` draws the visit). */
export function cellGlyph(cell: DiffCell): string {
  if (cell.status === 'running') return GLYPHS.running;
  if (cell.status === 'failed') return GLYPHS.failed;
  if (cell.status === 'caught') return GLYPHS.caught;
  if (cell.phase === 'compensation') return GLYPHS.compensated;
  return cell.attempts > cell.visits ? GLYPHS.retried : GLYPHS.succeeded;
}

/** Colour functions the text rendering uses (identity when colour is off). */
export interface DiffStyle {
  readonly warn: (s: string) => string;
  readonly dim: (s: string) => string;
  readonly bold: (s: string) => string;
}

/** Options of {@link renderDiff}. */
export interface RenderDiffOptions {
  /** Terminal columns to fit; undefined: nothing is cut. */
  readonly width?: number;
  readonly style: DiffStyle;
}

/** The mark after a differing value (visible without colour too). */
export const DIFF_MARK = '*';
/** The mark before the row of the first divergence. */
export const DIVERGENCE_MARK = '▶';

const GAP = '  ';
const SEPARATOR = '│';
const MIN_CUT = 6;

function cellTexts(cell: DiffCell | null, compact: boolean): string[] {
  if (cell === null) return ['—', '', '', '', ''];
  const errors = cell.error ?? (cell.errors.length > 0 ? `retried ${cell.errors.join(', ')}` : '');
  return [
    compact ? cellGlyph(cell) : `${cellGlyph(cell)} ${cell.status}`,
    `${cell.visits}×`,
    `${cell.attempts}`,
    formatDuration(cell.durationMs),
    cell.note === undefined ? errors : errors === '' ? cell.note : `${errors} · ${cell.note}`,
  ];
}

/** Which field each column of a side shows. */
const SIDE_FIELDS: readonly (readonly DiffField[])[] = [
  ['status'],
  ['visits'],
  ['attempts'],
  ['durationMs'],
  ['error', 'errors'],
];

function headline(label: string, s: DiffSummary): string {
  const parts = [
    s.status,
    s.orderStatus === null ? undefined : `order ${s.orderStatus}`,
    formatDuration(s.durationMs),
  ];
  if (s.error !== undefined) parts.push(s.error);
  return `${label}  ${s.source}  ${parts.filter((p) => p !== undefined).join(' · ')}`;
}

/**
 * The text rendering: a headline per side, then one row per state, the two sides next to each other
 * (status, visits, attempts, duration, errors), each differing value marked with {@link DIFF_MARK} (and coloured),
 * the first divergence with {@link DIVERGENCE_MARK}; then what the first divergence was.
 */
export function renderDiff(doc: DiffDocument, options: RenderDiffOptions): string[] {
  const { style, width } = options;
  const header = ['', 'state', 'A', '×', 'att', 'time', 'error', SEPARATOR, 'B', '×', 'att', 'time', 'error'];
  const makeBody = (compact: boolean) =>
    doc.rows.map((row) => {
      const mark = (cell: DiffCell | null, texts: string[]) =>
        texts.map((text, i) =>
          cell !== null && (SIDE_FIELDS[i] ?? []).some((f) => row.differs.includes(f)) && text !== ''
            ? `${text}${DIFF_MARK}`
            : text,
        );
      return [
        row.state === doc.firstDivergence ? DIVERGENCE_MARK : '',
        row.state,
        ...mark(row.a, cellTexts(row.a, compact)),
        SEPARATOR,
        ...mark(row.b, cellTexts(row.b, compact)),
      ];
    });
  const measure = (rows: string[][]) =>
    header.map((h, i) => Math.max(displayWidth(h), ...rows.map((r) => displayWidth(r[i] ?? ''))));
  const sum = (ws: number[]) => ws.reduce((s, w) => s + w, 0) + GAP.length * (ws.length - 1);
  const full = makeBody(false);
  // Too narrow for the status words with whole state names and the errors at their minimum: glyphs only.
  const compact =
    width !== undefined &&
    sum(measure(full).map((w, i) => (i === 6 || i === 12 ? Math.min(w, MIN_CUT) : w))) > width;
  const body = compact ? makeBody(true) : full;
  const widths = measure(body);
  if (width !== undefined) {
    // Cut the error columns first (widest first), then the state column.
    const total = () => widths.reduce((s, w) => s + w, 0) + GAP.length * (widths.length - 1);
    for (const group of [[6, 12], [1]]) {
      for (let over = total() - width; over > 0; over = total() - width) {
        const widest = group
          .filter((i) => (widths[i] ?? 0) > MIN_CUT)
          .sort((x, y) => (widths[y] ?? 0) - (widths[x] ?? 0))[0];
        if (widest === undefined) break;
        widths[widest] = (widths[widest] ?? 0) - 1;
      }
    }
  }
  const line = (cells: readonly string[], rowIndex: number | undefined) =>
    cells
      .map((text, i) => {
        const w = widths[i] ?? 0;
        const fitted = truncate(text, w);
        const padded =
          i === cells.length - 1 ? fitted : fitted + ' '.repeat(Math.max(0, w - displayWidth(fitted)));
        if (rowIndex === undefined) return padded;
        const row = doc.rows[rowIndex] as DiffRow;
        if (i === 0 && text !== '') return style.warn(padded);
        if (text.endsWith(DIFF_MARK) && fitted === text) return style.warn(padded);
        if (i === 7) return style.dim(padded);
        if (i === 1 && row.differs.length > 0) return style.bold(padded);
        return padded;
      })
      .join(GAP)
      .trimEnd();
  const lines = [headline('A', doc.a), headline('B', doc.b), ''];
  lines.push(style.bold(line(header, undefined)));
  body.forEach((cells, r) => {
    lines.push(line(cells, r));
  });
  lines.push('');
  if (doc.firstDivergence === null) {
    lines.push('No divergence: the same states, visits, statuses and attempts.');
  } else {
    const row = doc.rows.find((r) => r.state === doc.firstDivergence) as DiffRow;
    lines.push(style.warn(`${DIVERGENCE_MARK} First divergence: ${row.state} — ${divergenceText(row)}.`));
  }
  const differing = doc.rows.filter((r) => r.differs.length > 0).length;
  lines.push(
    style.dim(
      `${differing} of ${doc.rows.length} states differ (${DIFF_MARK} marks a differing value; durations differ when ` +
        `apart by ≥ ${formatDuration(DURATION_MIN_DELTA_MS)} and ×${DURATION_RATIO}).`,
    ),
  );
  return lines;
}

/** What differs in a row, in words. */
export function divergenceText(row: DiffRow): string {
  if (row.a === null) return 'only B visited it';
  if (row.b === null) return 'only A visited it';
  const { a, b } = row;
  const parts: string[] = [];
  if (row.differs.includes('status'))
    parts.push(
      `A ${a.status}${a.error ? ` (${a.error})` : ''}, B ${b.status}${b.error ? ` (${b.error})` : ''}`,
    );
  if (row.differs.includes('visits')) parts.push(`visited ${a.visits}× vs ${b.visits}×`);
  if (row.differs.includes('attempts')) parts.push(`${a.attempts} vs ${b.attempts} attempts`);
  return parts.join('; ');
}
