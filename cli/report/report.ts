/**
 * `saga report`'s document: one execution as a self-contained HTML page — the header, the state machine with the
 * path the execution took, a Gantt of its state visits (attempts, backoff gaps, compensations), the steps with their
 * errors, the order's side effects and its log lines. Pure: everything comes in as data, one string goes out.
 */
import { type AslStates, buildGraph, type GraphModel, renderSvg } from '../graph/index.ts';
import { type Ledger, type LedgerRow, ledgerOf } from '../target/ledger.ts';
import {
  type AttemptError,
  briefInput,
  buildTimeline,
  executionInput,
  formatDuration,
  formatUsd,
  type HistoryEventLike,
  type TimelineEntry,
  type TimelineModel,
} from '../timeline/index.ts';
import { attemptSpans } from './attempts.ts';
import { ganttLegend, renderGantt } from './gantt.ts';
import { escapeHtml, renderPage, svgFigure } from './html.ts';

/** Which execution the report is about. */
export interface ReportHeader {
  /** The execution name. */
  readonly name?: string | undefined;
  readonly executionArn?: string | undefined;
  /** The file the history was read from (`--from-file`). */
  readonly file?: string | undefined;
  /** The local cloud's time scale (Retry/Wait delays and timeouts multiplied by it); said when it is not 1. */
  readonly timeScale?: number | undefined;
}

/** One log line of the order. */
export interface ReportLogLine {
  /** Epoch ms. */
  readonly timestamp: number;
  /** The function that wrote it (as short as the caller likes). */
  readonly functionName: string;
  readonly level: string;
  readonly message: string;
}

/** What {@link buildReport} draws. */
export interface ReportInput {
  readonly header: ReportHeader;
  /** The execution's history events (any order). */
  readonly events: readonly HistoryEventLike[];
  /** The definition the execution ran. @default the graph of the states the history saw */
  readonly definition?: AslStates | undefined;
  /** The order's side effects (counts); the section says "not read" when absent and no rows are given. */
  readonly ledger?: Ledger | undefined;
  /** The rows behind them, listed under the counts (the counts are taken from them when `ledger` is absent). */
  readonly ledgerRows?: readonly LedgerRow[] | undefined;
  /** The order's log lines; the section says "not read" when absent. */
  readonly logs?: readonly ReportLogLine[] | undefined;
  /** Why the ledger and logs are absent, said in their sections. @default "not read for this report" */
  readonly missingNote?: string | undefined;
  /** When the report was made (epoch ms), for its footer. @default not said */
  readonly generatedAtMs?: number | undefined;
}

/** A report: the page, and what it holds (for `--json` and tests). */
export interface Report {
  readonly html: string;
  readonly timeline: TimelineModel;
  readonly graph: GraphModel;
}

const e = escapeHtml;

function iso(ms: number | undefined): string {
  return ms === undefined ? '—' : new Date(ms).toISOString().replace('T', ' ').replace('Z', ' UTC');
}

function statusClass(status: string): string {
  if (status === 'SUCCEEDED' || status === 'succeeded' || status === 'COMPLETED') return 'r-ok';
  if (status === 'RUNNING' || status === 'running' || status === 'PENDING') return 'r-run';
  if (status === 'caught' || status === 'CANCELLED' || status === 'CANCELLING') return 'r-warn';
  return 'r-bad';
}

function badge(text: string): string {
  return `<span class="r-badge ${statusClass(text)}">${e(text)}</span>`;
}

function headerSection(input: ReportInput, timeline: TimelineModel, graph: GraphModel): string {
  const { header } = input;
  const { summary } = timeline;
  const name = header.name ?? header.executionArn?.split(':').at(-1) ?? header.file ?? 'execution';
  const facts: [string, string][] = [];
  if (header.executionArn) facts.push(['Execution ARN', `<code>${e(header.executionArn)}</code>`]);
  if (header.file) facts.push(['History file', `<code>${e(header.file)}</code>`]);
  facts.push(['Status', badge(summary.status)]);
  if (summary.orderStatus !== null) facts.push(['Order status', badge(summary.orderStatus)]);
  facts.push(['Started', `<span class="r-mono">${e(iso(summary.startMs))}</span>`]);
  facts.push([
    summary.status === 'RUNNING' ? 'Running for' : 'Stopped',
    summary.status === 'RUNNING'
      ? e(formatDuration(summary.durationMs))
      : `<span class="r-mono">${e(iso(summary.endMs))}</span> · ${e(formatDuration(summary.durationMs))}`,
  ]);
  const brief = briefInput(executionInput(input.events));
  if (brief !== undefined) facts.push(['Input', e(brief.length > 400 ? `${brief.slice(0, 399)}…` : brief)]);
  if (summary.error !== undefined || summary.failState !== undefined) {
    const where = summary.failState ? ` in ${summary.failState}` : '';
    facts.push([
      'Error',
      `<span class="r-error">${e(`${summary.error ?? 'failed'}${where}`)}</span>${summary.cause ? `: ${e(summary.cause)}` : ''}`,
    ]);
  }
  facts.push([
    'Transitions',
    `${summary.transitions} · ${e(formatUsd(summary.priceUsd))} at list price${summary.redrives > 0 ? ` · redriven ${summary.redrives}×` : ''}`,
  ]);
  if (summary.compensatedInReverse !== null) {
    facts.push([
      'Compensations',
      summary.compensatedInReverse
        ? 'ran in reverse order, every completed step undone'
        : `<span class="r-error">incomplete${summary.uncompensated.length > 0 ? `: ${e(summary.uncompensated.join(', '))} not undone` : ''}</span>`,
    ]);
  }
  if (header.timeScale !== undefined && header.timeScale !== 1) {
    facts.push([
      'Time scale',
      `${e(String(header.timeScale))} — the local cloud ran Retry/Wait delays and timeouts ×${e(String(header.timeScale))}, so backoffs here are shorter than the definition says`,
    ]);
  }
  if (summary.accessDenied) {
    facts.push([
      'Access denied',
      `<span class="r-error">${e(summary.accessDenied.state)}: ${e(summary.accessDenied.message)}</span>`,
    ]);
  }
  const warnings = graph.warnings.map((w) => `<p class="r-warning">${e(w)}</p>`).join('');
  return (
    '<header class="r-card r-header">' +
    `<h1>Saga report · ${e(name)}</h1>` +
    `<p class="r-sub">${e(graph.comment ?? 'Step Functions execution')}</p>` +
    `<dl class="r-facts">${facts.map(([k, v]) => `<dt>${e(k)}</dt><dd>${v}</dd>`).join('')}</dl>` +
    warnings +
    '</header>'
  );
}

function graphSection(graph: GraphModel): string {
  return (
    '<section class="r-card r-graph" id="graph">' +
    '<h2>Path through the state machine</h2>' +
    `${svgFigure(renderSvg(graph), 'r-graph-zoom')}` +
    '<p class="r-note">Green: the states entered and the transitions walked (×N: walked N times); amber: retried; orange: failed and caught; red: failed; blue: compensation; grey: not visited. Dashed edges are Catch routes.</p>' +
    '</section>'
  );
}

function ganttSection(timeline: TimelineModel, events: readonly HistoryEventLike[]): string {
  const svg = renderGantt(timeline, attemptSpans(events, timeline.entries));
  return (
    '<section class="r-card r-gantt" id="gantt">' +
    `<h2>Timeline<span class="r-count">${timeline.entries.length} state visit${timeline.entries.length === 1 ? '' : 's'}</span></h2>` +
    (svg === undefined
      ? '<p class="r-empty">The history has no timestamps: nothing to place on a time axis.</p>'
      : `<div class="r-scroll">${svg}</div>${ganttLegend()}<p class="r-note">One row per state visit; a Task's attempts are separate bars, the dashed line between two of them the backoff before the retry. Hover a bar for its error and duration.</p>`) +
    '</section>'
  );
}

/** Consecutive attempts that failed alike, as one line each. */
function sameErrorRuns(
  errors: readonly AttemptError[],
): { first: number; last: number; error: string; message: string | undefined }[] {
  const runs: { first: number; last: number; error: string; message: string | undefined }[] = [];
  for (const a of errors) {
    const run = runs.at(-1);
    if (run && run.error === a.error && run.message === a.message && run.last === a.attempt - 1)
      run.last = a.attempt;
    else runs.push({ first: a.attempt, last: a.attempt, error: a.error, message: a.message });
  }
  return runs;
}

function stepRow(entry: TimelineEntry): string {
  const classes = [`r-${entry.phase}`, `r-${entry.status}`].join(' ');
  const where =
    entry.iteration !== undefined
      ? ` (item ${entry.iteration})`
      : entry.branch !== undefined
        ? ` (branch ${entry.branch + 1})`
        : '';
  const errors =
    entry.errors.length > 0
      ? sameErrorRuns(entry.errors)
          .map(
            ({ first, last, error, message }) =>
              `<div>${first === last ? `#${first}` : `#${first}–${last}`} <span class="r-error">${e(error)}</span>${message ? ` — ${e(message)}` : ''}</div>`,
          )
          .join('')
      : entry.error
        ? `<div><span class="r-error">${e(entry.error)}</span>${entry.cause ? ` — ${e(entry.cause)}` : ''}</div>`
        : '';
  const notes = [
    entry.compensates ? `undoes ${entry.compensates}` : '',
    entry.note ?? '',
    entry.aborted ? 'cut short' : '',
  ].filter(Boolean);
  return (
    `<tr class="${classes}">` +
    `<td style="padding-left:${10 + entry.depth * 16}px">${e(entry.state)}${e(where)}<div class="r-note" style="margin:0">${e(entry.stateType)}${entry.resource ? ` · ${e(entry.resource)}` : ''}</div></td>` +
    `<td class="r-nowrap">${e(entry.phase)}</td>` +
    `<td>${badge(entry.status)}</td>` +
    `<td class="r-num">${entry.attempts}</td>` +
    `<td class="r-num">${e(formatDuration(entry.durationMs))}</td>` +
    `<td class="r-time r-wrap">${e(entry.backoffMs.map(formatDuration).join(', '))}</td>` +
    `<td class="r-text">${errors}${notes.length > 0 ? `<div class="r-note" style="margin:0">${e(notes.join(' · '))}</div>` : ''}</td>` +
    '</tr>'
  );
}

function stepsSection(timeline: TimelineModel): string {
  return (
    '<section class="r-card r-steps" id="steps">' +
    '<h2>Steps</h2>' +
    '<div class="r-scroll"><table><thead><tr><th>State</th><th>Phase</th><th>Status</th><th class="r-num">Attempts</th><th class="r-num">Duration</th><th>Backoffs</th><th class="r-wide">Errors and notes</th></tr></thead><tbody>' +
    timeline.entries.map(stepRow).join('') +
    '</tbody></table></div></section>'
  );
}

function ledgerSection(
  ledger: Ledger | undefined,
  rows: readonly LedgerRow[] | undefined,
  startMs: number | undefined,
  missing: string,
): string {
  const counts = ledger ?? (rows === undefined ? undefined : ledgerOf(rows));
  const body =
    counts === undefined
      ? `<p class="r-empty">${e(`The ledger was ${missing}.`)}</p>`
      : '<div class="r-scroll"><table><thead><tr><th>Table</th><th>Done</th><th class="r-num">Rows</th><th>Undone</th><th class="r-num">Rows</th><th class="r-num">Outstanding</th></tr></thead><tbody>' +
        [
          ['Payments', 'charges', counts.charges, 'refunds', counts.refunds],
          ['Inventory', 'reservations', counts.reservations, 'releases', counts.releases],
          ['Shipments', 'shipments', counts.shipments, '—', 0],
        ]
          .map(
            ([table, done, n, undone, m]) =>
              `<tr><td>${e(String(table))}</td><td>${e(String(done))}</td><td class="r-num">${n}</td><td>${e(String(undone))}</td><td class="r-num">${undone === '—' ? '' : m}</td><td class="r-num">${Math.max(0, Number(n) - Number(m))}</td></tr>`,
          )
          .join('') +
        '</tbody></table></div><p class="r-note">Rows the order left in the Payments, Inventory and Shipments tables (each side effect is written once, whatever the retries).</p>' +
        (rows === undefined || rows.length === 0 ? '' : ledgerRowsTable(rows, startMs));
  return `<section class="r-card r-ledger" id="ledger"><h2>Side effects</h2>${body}</section>`;
}

/** Each ledger row, in the order it was written, with its time relative to the execution's start. */
function ledgerRowsTable(rows: readonly LedgerRow[], startMs: number | undefined): string {
  const lines = rows
    .map((row) => {
      const at = row.at === undefined ? undefined : Date.parse(row.at);
      const time = at === undefined || Number.isNaN(at) ? '' : new Date(at).toISOString().slice(11, 23);
      const offset =
        at === undefined || Number.isNaN(at) || startMs === undefined
          ? ''
          : `${at >= startMs ? '+' : '−'}${formatDuration(Math.abs(at - startMs))}`;
      const undo = row.sk === 'REFUND' || row.sk.startsWith('RELEASE#');
      return (
        `<tr${undo ? ' class="r-undo"' : ''}><td class="r-time">${e(time)}</td><td class="r-time">${e(offset)}</td>` +
        `<td>${e(row.table)}</td><td class="r-mono">${e(row.sk)}</td><td class="r-text">${e(row.detail)}</td></tr>`
      );
    })
    .join('');
  return (
    '<div class="r-scroll"><table class="r-ledger-rows"><thead><tr><th>Written (UTC)</th><th>Since start</th><th>Table</th>' +
    `<th>Row</th><th>Holds</th></tr></thead><tbody>${lines}</tbody></table></div>`
  );
}

/** At most this many log lines are written (the first ones, then a note). */
const MAX_LOG_LINES = 2000;

function logsSection(
  logs: readonly ReportLogLine[] | undefined,
  startMs: number | undefined,
  missing: string,
): string {
  if (logs === undefined) {
    return `<section class="r-card r-logs" id="logs"><h2>Log lines</h2><p class="r-empty">${e(`The log lines were ${missing}.`)}</p></section>`;
  }
  const shown = logs.slice(0, MAX_LOG_LINES);
  const rows = shown
    .map((line) => {
      const level = line.level.toLowerCase();
      const offset =
        startMs === undefined
          ? ''
          : `${line.timestamp >= startMs ? '+' : '−'}${formatDuration(Math.abs(line.timestamp - startMs))}`;
      return (
        `<tr><td class="r-time">${e(new Date(line.timestamp).toISOString().slice(11, 23))}</td><td class="r-time">${e(offset)}</td>` +
        `<td>${e(line.functionName)}</td><td><span class="r-level r-level-${e(level.replace(/[^a-z]/g, ''))}">${e(line.level.toUpperCase())}</span></td>` +
        `<td class="r-text">${e(line.message)}</td></tr>`
      );
    })
    .join('');
  return (
    `<section class="r-card r-logs" id="logs"><h2>Log lines<span class="r-count">${logs.length}</span></h2>` +
    (logs.length === 0
      ? '<p class="r-empty">No log line names this order.</p>'
      : `<div class="r-scroll"><table><thead><tr><th>Time (UTC)</th><th>Since start</th><th>Function</th><th>Level</th><th>Message</th></tr></thead><tbody>${rows}</tbody></table></div>` +
        (logs.length > shown.length
          ? `<p class="r-note">The first ${shown.length} of ${logs.length} lines; \`saga logs\` prints them all.</p>`
          : '')) +
    '</section>'
  );
}

/** The report of one execution. */
export function buildReport(input: ReportInput): Report {
  const timeline = buildTimeline(input.events);
  const graph = buildGraph(input.definition, input.events);
  const missing = input.missingNote ?? 'not read for this report';
  const name =
    input.header.name ?? input.header.executionArn?.split(':').at(-1) ?? input.header.file ?? 'execution';
  const body = [
    headerSection(input, timeline, graph),
    graphSection(graph),
    ganttSection(timeline, input.events),
    stepsSection(timeline),
    ledgerSection(input.ledger, input.ledgerRows, timeline.summary.startMs, missing),
    logsSection(input.logs, timeline.summary.startMs, missing),
    `<footer>saga report${input.generatedAtMs === undefined ? '' : ` · generated ${e(iso(input.generatedAtMs))}`} · one self-contained file: no script, no network</footer>`,
  ].join('\n');
  return { html: renderPage({ title: `Saga report · ${name}`, body }), timeline, graph };
}

/** The graph alone as a page (`saga graph --format html`). */
export function buildGraphPage(graph: GraphModel, title?: string): string {
  const heading = title ?? graph.comment ?? 'State machine';
  const status = graph.execution ? ` ${badge(graph.execution.status)}` : '';
  const body =
    `<header class="r-card"><h1>${e(heading)}${status}</h1>` +
    `${graph.warnings.map((w) => `<p class="r-warning">${e(w)}</p>`).join('')}</header>` +
    `<section class="r-card r-graph" id="graph"><h2>${graph.execution ? 'Path through the state machine' : 'State machine'}</h2>${svgFigure(renderSvg(graph), 'r-graph-zoom')}` +
    (graph.execution
      ? '<p class="r-note">Green: the states entered and the transitions walked (×N: walked N times); amber: retried; orange: failed and caught; red: failed; blue: compensation; grey: not visited. Dashed edges are Catch routes.</p>'
      : '') +
    '</section>';
  return renderPage({ title: heading, body });
}
