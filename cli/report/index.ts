/** `saga report`: one execution as a self-contained HTML page (graph, Gantt, steps, ledger, logs). Pure. */
export { type AttemptOutcome, type AttemptSpan, attemptSpans } from './attempts.ts';
export { ganttLegend, renderGantt } from './gantt.ts';
export { CONTENT_SECURITY_POLICY, escapeHtml, type PageOptions, renderPage, svgFigure } from './html.ts';
export {
  buildGraphPage,
  buildReport,
  type Report,
  type ReportHeader,
  type ReportInput,
  type ReportLogLine,
} from './report.ts';
