/**
 * What a followed timeline writes at each poll, for the three outputs: a live frame redrawn in place (a terminal),
 * append-only lines (a file, a pipe, CI), or `--json` documents. Pure: given the model and the log lines so far, it
 * says what to write; the caller writes it.
 */
import { displayWidth, truncate } from '../ui/format.ts';
import type { TimelineModel } from './model.ts';
import {
  nameColumnWidth,
  PLAIN_STYLE,
  type RenderTimelineOptions,
  renderTimelineRows,
  type TimelineJsonLine,
  type TimelineRow,
  type TimelineStyle,
  toJsonLines,
} from './render.ts';

/** One log line of the execution (the shape `saga logs` reads). */
export interface TimelineLogLine {
  /** Epoch ms. */
  readonly timestamp: number;
  readonly functionName: string;
  readonly level: string;
  readonly message: string;
  readonly fields?: Readonly<Record<string, unknown>> | undefined;
}

/** A `--json` document for one log line: `{"type":"log", timestamp, functionName, level, message, fields?}`. */
export interface LogJsonLine extends TimelineLogLine {
  readonly type: 'log';
}

/** Where the timeline goes. */
export type TimelineMode = 'live' | 'append' | 'json';

/** Options of {@link createTimelinePrinter}. */
export interface TimelinePrinterOptions {
  readonly mode: TimelineMode;
  /** Terminal columns. @default 100 */
  readonly width?: number;
  readonly style?: Partial<TimelineStyle>;
  /** Cut lines to `width`. @default true for `live`, false otherwise (a file keeps whole causes) */
  readonly cut?: boolean;
  /** The label of a log line's function. @default the function name */
  readonly functionLabel?: (functionName: string) => string;
  /** `json`: each step also carries its input and output. @default false */
  readonly detail?: boolean;
}

/** What to write after one poll. */
export interface TimelineWrite {
  /** `live`: the frame that replaces the one drawn before. */
  readonly frame?: readonly string[];
  /** `append`: lines to add. */
  readonly lines: readonly string[];
  /** `json`: documents to write, one per line. */
  readonly documents: readonly (TimelineJsonLine | LogJsonLine)[];
}

/** Options of {@link TimelinePrinter.update}. */
export interface UpdateOptions {
  /**
   * This is the last update (the execution ended, or a snapshot such as `--no-follow`): write everything, running
   * visits as they are, and the footer (or the summary).
   */
  readonly last: boolean;
}

/** Turns successive models (and log lines) into what to write; see {@link createTimelinePrinter}. */
export interface TimelinePrinter {
  /** `logs`: every log line so far, in arrival order (new ones appended). */
  update(model: TimelineModel, logs: readonly TimelineLogLine[], options: UpdateOptions): TimelineWrite;
}

/** Name column of append-only output: pinned at the first poll, so that later lines stay aligned with earlier ones. */
const APPEND_NAME_WIDTH = 26;

/**
 * A printer for one followed execution.
 * - `live`: one timeline, log lines under the visit they happened in, the footer always (while running it says
 *   so and gives the elapsed time).
 * - `append`: settled lines only, each once: the visits in timeline order once they (and those before them) have
 *   ended, log lines as they arrive, merged in by time; the footer once the execution has ended. The name column
 *   is pinned at the first poll.
 * - `json`: the same, as step and log documents; the summary last.
 */
export function createTimelinePrinter(options: TimelinePrinterOptions): TimelinePrinter {
  const style: TimelineStyle = { ...PLAIN_STYLE, ...options.style };
  const width = Math.max(24, Math.floor(options.width ?? 100));
  const cut = options.cut ?? options.mode === 'live';
  const label = options.functionLabel ?? ((name: string) => name);
  const printedSteps = new Set<string>();
  let printedLogs = 0;
  let printedFooter = false;
  let nameWidth: number | undefined;

  const logLine = (log: TimelineLogLine): string => {
    const level = log.level.padEnd(5);
    const name = label(log.functionName).padEnd(16);
    const head = `      ${name} ${level} `;
    const message = cut ? truncate(log.message, Math.max(8, width - displayWidth(head))) : log.message;
    const levelStyle = log.level === 'ERROR' ? style.fail : log.level === 'WARN' ? style.warn : style.dim;
    return `      ${style.dim(name)} ${levelStyle(level)} ${style.dim(message)}`;
  };

  return {
    update(model, logs, { last }) {
      if (options.mode === 'live') {
        const rows = renderTimelineRows(model, { width, style, cut: true });
        return { frame: interleave(model, rows, logs, logLine), lines: [], documents: [] };
      }
      // Pinned at the first poll unless that poll is also the last (a snapshot fits every name).
      nameWidth ??= last ? undefined : Math.max(APPEND_NAME_WIDTH, nameColumnWidth(model));
      const renderOptions: RenderTimelineOptions = {
        width,
        style,
        cut,
        ...(nameWidth === undefined ? {} : { nameWidth }),
      };
      const rows = renderTimelineRows(model, renderOptions);
      const json = options.mode === 'json' ? toJsonLines(model, { detail: options.detail }) : [];
      type Item = { at: number; line: string; document: TimelineJsonLine | LogJsonLine };
      // Visits in timeline order, each once, as far as every visit before it has ended (all on the last update).
      const steps: Item[] = [];
      for (const [i, entry] of model.entries.entries()) {
        const row = rows[i];
        const key = `step:${entry.key}`;
        if (row === undefined || printedSteps.has(key)) continue;
        if (!(row.final || last)) break;
        printedSteps.add(key);
        const at = entry.endMs ?? entry.startMs ?? Number.POSITIVE_INFINITY;
        steps.push({ at, line: row.text, document: json[i] as TimelineJsonLine });
      }
      const fresh = logs
        .slice(printedLogs)
        .toSorted((a, b) => a.timestamp - b.timestamp)
        .map((log): Item => ({ at: log.timestamp, line: logLine(log), document: { type: 'log', ...log } }));
      printedLogs = logs.length;
      // Log lines merged in by time; a line logged by the time a visit ended goes before the visit's line.
      const items: Item[] = [];
      while (steps.length > 0 || fresh.length > 0) {
        const log = fresh[0];
        const step = steps[0];
        items.push(
          (step === undefined || (log !== undefined && log.at <= step.at)
            ? fresh.shift()
            : steps.shift()) as Item,
        );
      }
      const ended = model.summary.status !== 'RUNNING';
      const writeFooter = (ended || last) && !printedFooter;
      if (writeFooter) printedFooter = true;
      if (options.mode === 'json') {
        const summary = json.at(-1);
        const documents = items.map((item) => item.document);
        return { lines: [], documents: writeFooter && summary ? [...documents, summary] : documents };
      }
      const footer = writeFooter ? rows.filter((row) => row.kind === 'footer').map((row) => row.text) : [];
      return { lines: [...items.map((item) => item.line), ...footer], documents: [] };
    },
  };
}

/** The timeline with each log line under the visit it happened in (the first one that had not ended by then). */
function interleave(
  model: TimelineModel,
  rows: readonly TimelineRow[],
  logs: readonly TimelineLogLine[],
  logLine: (log: TimelineLogLine) => string,
): string[] {
  const pending = [...logs].sort((a, b) => a.timestamp - b.timestamp);
  const steps = rows.filter((row) => row.kind === 'step');
  const lines: string[] = [];
  model.entries.forEach((entry, i) => {
    lines.push(steps[i]?.text ?? '');
    const end = entry.endMs ?? Number.POSITIVE_INFINITY;
    while (pending.length > 0 && (pending[0]?.timestamp ?? 0) <= end) {
      lines.push(logLine(pending.shift() as TimelineLogLine));
    }
  });
  lines.push(...pending.map(logLine));
  lines.push(...rows.filter((row) => row.kind === 'footer').map((row) => row.text));
  return lines;
}
