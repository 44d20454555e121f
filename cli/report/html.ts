/**
 * The page shell of the HTML documents saga writes (`saga report`, `saga graph --format html`): one self-contained
 * file — inline CSS, inline SVG, no script, no font, no URL of any kind — and the escaping every text taken from a
 * history goes through. Pure.
 */

/** Text (or an attribute value) made safe for HTML: `<script>` in an error cause stays text. */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/**
 * What the page may load: nothing but its own inline styles (and `data:` images). A page that tried to reach the
 * network, or to run a script someone slipped into a history, is refused by the browser itself.
 */
export const CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

const MONO = 'ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace';

/** The page's stylesheet. Class names start with `r-`: the graph's SVG brings its own (global) style rules. */
const PAGE_CSS = `
:root{color-scheme:light}
*{box-sizing:border-box}
body{margin:0;background:#f4f6f8;color:#1f2933;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans","DejaVu Sans",sans-serif}
.r-main{max-width:1200px;margin:0 auto;padding:28px 28px 56px}
.r-card{background:#fff;border:1px solid #e1e6eb;border-radius:10px;padding:18px 22px;margin-top:20px;box-shadow:0 1px 2px rgba(16,24,40,.05)}
h1{font-size:22px;line-height:1.3;margin:0 0 4px;font-weight:650;word-break:break-all}
h2{font-size:17px;margin:0 0 12px;font-weight:650}
h2 .r-count{font-weight:400;color:#52606d;font-size:14px;margin-left:6px}
.r-sub{color:#52606d;margin:0 0 14px;font-size:14px;word-break:break-all}
.r-mono,code{font-family:${MONO};font-size:13px}
.r-facts{display:grid;grid-template-columns:max-content 1fr;gap:5px 18px;margin:0}
.r-facts dt{color:#52606d}
.r-facts dd{margin:0;word-break:break-word}
.r-badge{white-space:nowrap;display:inline-block;padding:1px 10px;border-radius:999px;font-size:13px;font-weight:600;letter-spacing:.02em;vertical-align:2px;border:1px solid}
.r-badge.r-ok{background:#e8f5e9;color:#1b5e20;border-color:#a5d6a7}
.r-badge.r-bad{background:#ffebee;color:#b71c1c;border-color:#ef9a9a}
.r-badge.r-warn{background:#fff3e0;color:#e65100;border-color:#ffcc80}
.r-badge.r-run{background:#e3f2fd;color:#0d47a1;border-color:#90caf9}
.r-note{color:#52606d;font-size:13px;margin:10px 0 0}
.r-warning{color:#8a4b00;background:#fff8e1;border:1px solid #ffe082;border-radius:6px;padding:6px 10px;margin:8px 0 0;font-size:14px}
.r-error{color:#b71c1c}
.r-scroll{overflow-x:auto}
.r-figure{margin:0;overflow:auto;text-align:center}
.r-figure svg{width:100%;max-width:var(--natural-width);height:auto}
.r-zoom{position:absolute;opacity:0;pointer-events:none}
.r-zoom-label{float:right;margin-top:-40px;font-size:13px;color:#1f2933;border:1px solid #cbd2d9;border-radius:6px;padding:2px 10px;cursor:pointer;user-select:none;background:#fff}
.r-zoom-label::before{content:"⤢ "}
.r-zoom:checked+.r-zoom-label{background:#e3f2fd;border-color:#90caf9}
.r-zoom:checked+.r-zoom-label::before{content:"✓ "}
.r-zoom:focus-visible+.r-zoom-label{outline:2px solid #1565c0;outline-offset:2px}
.r-zoom:checked~.r-figure{max-height:85vh}
.r-zoom:checked~.r-figure svg{width:var(--natural-width);max-width:none}
.r-gantt svg{display:block;max-width:100%;height:auto}
table{border-collapse:collapse;width:100%;font-size:13.5px}
th,td{text-align:left;padding:5px 10px;border-bottom:1px solid #edf0f3;vertical-align:top}
td.r-text{overflow-wrap:anywhere;min-width:240px}
td.r-nowrap{white-space:nowrap}
th{background:#f5f7f9;color:#3e4c59;font-weight:600;white-space:nowrap}
td.r-num,th.r-num{text-align:right;font-variant-numeric:tabular-nums}
td.r-time{font-family:${MONO};font-size:12.5px;white-space:nowrap;color:#3e4c59}
td.r-wrap{white-space:normal;max-width:160px}
th.r-wide{min-width:320px}
tr.r-compensation td:first-child{box-shadow:inset 3px 0 #1565c0}
tr.r-undo td:first-child{box-shadow:inset 3px 0 #1565c0}
table.r-ledger-rows{margin-top:12px}
tr.r-failed td,tr.r-caught td{background:#fffafa}
.r-level{font-family:${MONO};font-size:12px;font-weight:600}
.r-level-error,.r-level-critical{color:#b71c1c}
.r-level-warn,.r-level-warning{color:#a15c00}
.r-level-debug{color:#7b8794}
.r-legend{display:flex;flex-wrap:wrap;gap:6px 20px;margin:12px 0 0;padding:0;list-style:none;font-size:13px;color:#3e4c59}
.r-legend li{display:flex;align-items:center;gap:7px}
.r-legend svg{flex:none}
.r-empty{color:#7b8794;font-style:italic;margin:0}
.r-gantt .r-row-label{font-size:12.5px;fill:#1f2933}
.r-gantt .r-row-label.r-inner{fill:#3e4c59}
.r-gantt .r-row-meta{font-size:11px;fill:#7b8794}
.r-gantt .r-row-bg{fill:#f7f9fb}
.r-gantt .r-axis line{stroke:#e4e7eb}
.r-gantt .r-axis text{font-size:11px;fill:#616e7c}
.r-gantt .r-duration{font-size:11px;fill:#52606d}
.r-gantt .r-gap-label{font-size:10.5px;fill:#8a4b00}
.r-bar{stroke-width:1}
.r-bar.r-forward{fill:#66bb6a;stroke:#2e7d32}
.r-bar.r-compensation{fill:#5c9ce6;stroke:#1565c0}
.r-bar.r-final{fill:#9aa5b1;stroke:#616e7c}
.r-bar.r-running{fill-opacity:.45;stroke-dasharray:3 2}
.r-bar.r-aborted{fill:#cbd2d9;stroke:#9aa5b1}
.r-fail-mark{fill:url(#r-hatch);stroke:#c62828;stroke-width:1.5}
.r-x{stroke:#c62828;stroke-width:2;stroke-linecap:round}
.r-gap{stroke:#d9822b;stroke-width:1.5;stroke-dasharray:4 3}
.r-end-ok{fill:#2e7d32}
.r-end-fail{fill:#c62828}
footer{color:#7b8794;font-size:12.5px;margin-top:22px;text-align:center}
@media print{body{background:#fff}.r-card{box-shadow:none;break-inside:avoid}}
`;

/** Graphs wider than this get an "actual size" switch (the page's content is about this wide). */
const FIT_WIDTH = 1140;

/**
 * An SVG document as a figure: shrunk to the page's width (never enlarged) so the whole of it shows, with an
 * "actual size" switch (a checkbox and CSS, no script) when shrinking made it smaller than it is.
 */
export function svgFigure(svg: string, id: string): string {
  const width = Number(/^<svg[^>]*?\swidth="(\d+(?:\.\d+)?)"/.exec(svg)?.[1]);
  if (!Number.isFinite(width) || width <= 0) return `<figure class="r-figure">${svg}</figure>`;
  const sized = svg.replace(/^<svg /, `<svg style="--natural-width:${width}px" `);
  const zoom =
    width > FIT_WIDTH
      ? `<input type="checkbox" class="r-zoom" id="${escapeHtml(id)}"><label class="r-zoom-label" for="${escapeHtml(id)}">Actual size</label>`
      : '';
  return `${zoom}<figure class="r-figure">${sized}</figure>`;
}

/** Options of {@link renderPage}. */
export interface PageOptions {
  /** The document title (plain text; escaped here). */
  readonly title: string;
  /** The body's HTML (already escaped by the caller). */
  readonly body: string;
}

/** A complete, self-contained HTML document. */
export function renderPage(options: PageOptions): string {
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${escapeHtml(CONTENT_SECURITY_POLICY)}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="color-scheme" content="light">',
    `<title>${escapeHtml(options.title)}</title>`,
    `<style>${PAGE_CSS.trim()}</style>`,
    '</head>',
    '<body>',
    `<main class="r-main">${options.body}</main>`,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
