/**
 * A Gantt chart of an execution's state visits as inline SVG: one row per visit on one time axis; a Task's attempts
 * as separate bars with the backoff between them drawn (and measured) as a dashed gap; forward steps and
 * compensations in different colours; failed attempts hatched red and crossed. Pure; styled by the report page's
 * stylesheet (classes `r-…`), with native `<title>` tooltips (no script).
 */
import { formatDuration, type TimelineEntry, type TimelineModel } from '../timeline/index.ts';
import type { AttemptSpan } from './attempts.ts';
import { escapeHtml } from './html.ts';

const WIDTH = 1120;
const ROW = 30;
const BAR = 14;
const AXIS = 30;
const PAD_RIGHT = 64;
const CHAR = 7; // 12.5 px system font, on average
const INDENT = 14;
const MIN_BAR = 3;

/** A round step for about `count` ticks over `span` ms. */
function tickStep(span: number, count: number): number {
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(Math.max(raw, 1)));
  for (const m of [1, 2, 5, 10]) if (m * power >= raw) return m * power;
  return 10 * power;
}

function f(n: number): string {
  return String(Math.round(n * 10) / 10);
}

/** The name a row shows: the state, and where it sits in a Map or Parallel. */
function rowLabel(entry: TimelineEntry): { name: string; meta: string } {
  const where =
    entry.iteration !== undefined
      ? `item ${entry.iteration}`
      : entry.branch !== undefined
        ? `branch ${entry.branch + 1}`
        : '';
  const meta = [where, entry.attempts > 1 ? `${entry.attempts} attempts` : ''].filter(Boolean).join(' · ');
  return { name: entry.state, meta };
}

function outcomeWords(span: AttemptSpan): string {
  switch (span.outcome) {
    case 'succeeded':
      return 'succeeded';
    case 'failed':
      return `failed${span.error ? `: ${span.error}` : ''}`;
    case 'timed-out':
      return `timed out${span.error && span.error !== 'States.Timeout' ? `: ${span.error}` : ''}`;
    default:
      return 'no outcome yet';
  }
}

/** The legend of {@link renderGantt} (HTML, swatches drawn with the chart's own classes). */
export function ganttLegend(): string {
  const swatch = (inner: string) =>
    `<svg width="30" height="14" viewBox="0 0 30 14" aria-hidden="true">${inner}</svg>`;
  const items: [string, string][] = [
    [swatch('<rect class="r-bar r-forward" x="1" y="1" width="28" height="12" rx="2"/>'), 'forward step'],
    [
      swatch('<rect class="r-bar r-compensation" x="1" y="1" width="28" height="12" rx="2"/>'),
      'compensation',
    ],
    [swatch('<rect class="r-bar r-final" x="1" y="1" width="28" height="12" rx="2"/>'), 'final state'],
    [
      swatch(
        '<rect class="r-bar r-forward" x="1" y="1" width="22" height="12" rx="2"/><rect class="r-fail-mark" x="1" y="1" width="22" height="12" rx="2"/><path class="r-x" d="M24,3 l5,5 m0,-5 l-5,5"/>',
      ),
      'failed attempt',
    ],
    [swatch('<line class="r-gap" x1="1" y1="7" x2="29" y2="7"/>'), 'backoff before a retry'],
    [
      swatch('<rect class="r-bar r-forward r-running" x="1" y="1" width="28" height="12" rx="2"/>'),
      'running',
    ],
    [swatch('<rect class="r-bar r-aborted" x="1" y="1" width="28" height="12" rx="2"/>'), 'cut short'],
    [
      swatch(
        '<path class="r-end-ok" d="M8,1 l6,6 l-6,6 l-6,-6 z"/><path class="r-end-fail" d="M22,1 l6,6 l-6,6 l-6,-6 z"/>',
      ),
      'Succeed / Fail state',
    ],
  ];
  return `<ul class="r-legend">${items.map(([s, text]) => `<li>${s}<span>${escapeHtml(text)}</span></li>`).join('')}</ul>`;
}

/**
 * The Gantt as an `<svg>` element, or undefined when the history has no timestamps (nothing to place on an axis).
 */
export function renderGantt(
  model: TimelineModel,
  spans: ReadonlyMap<string, readonly AttemptSpan[]>,
): string | undefined {
  const { entries, summary } = model;
  const timed = entries.filter((e) => e.startMs !== undefined);
  if (timed.length === 0 || summary.startMs === undefined) return undefined;
  const t0 = Math.min(summary.startMs, ...timed.map((e) => e.startMs ?? summary.startMs ?? 0));
  const endOf = (e: TimelineEntry) => e.endMs ?? (e.startMs ?? t0) + e.durationMs;
  const t1 = Math.max(summary.endMs ?? summary.startMs + summary.durationMs, ...timed.map(endOf));
  const span = Math.max(1, t1 - t0);

  const labelChars = Math.max(
    ...timed.map((e) => {
      const { name, meta } = rowLabel(e);
      return e.depth * 2 + Math.max(name.length, meta.length * 0.85);
    }),
  );
  const labelWidth = Math.round(Math.min(300, Math.max(150, labelChars * CHAR + 24)));
  const chartLeft = labelWidth + 8;
  const chartWidth = WIDTH - chartLeft - PAD_RIGHT;
  const x = (t: number) => chartLeft + ((t - t0) / span) * chartWidth;
  const height = AXIS + timed.length * ROW + 10;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="r-gantt-svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" role="img" aria-label="Gantt chart of the state visits">`,
  );
  out.push(
    '<defs><pattern id="r-hatch" width="5" height="5" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="5" height="5" fill="#ffffff" fill-opacity=".25"/><rect width="2.2" height="5" fill="#c62828"/></pattern></defs>',
  );

  // Zebra rows first, then the axis over them.
  timed.forEach((_, i) => {
    if (i % 2 === 0) {
      out.push(`<rect class="r-row-bg" x="0" y="${AXIS + i * ROW}" width="${WIDTH}" height="${ROW}"/>`);
    }
  });
  const step = tickStep(span, 8);
  out.push('<g class="r-axis">');
  for (let t = 0; t <= span + 0.5; t += step) {
    const tx = x(t0 + t);
    out.push(
      `<line x1="${f(tx)}" y1="${AXIS - 6}" x2="${f(tx)}" y2="${height - 6}"/>` +
        `<text x="${f(tx)}" y="${AXIS - 11}" text-anchor="middle">${escapeHtml(t === 0 ? '0' : `+${formatDuration(t)}`)}</text>`,
    );
  }
  out.push('</g>');

  timed.forEach((entry, i) => {
    const top = AXIS + i * ROW;
    const mid = top + ROW / 2;
    const barTop = mid - BAR / 2;
    const { name, meta } = rowLabel(entry);
    const classes = [
      'r-row',
      `r-${entry.phase}`,
      `r-status-${entry.status}`,
      entry.aborted ? 'r-was-aborted' : '',
    ].filter(Boolean);
    out.push(
      `<g class="${classes.join(' ')}" data-state="${escapeHtml(entry.state)}" data-key="${escapeHtml(entry.key)}">`,
    );
    const start = entry.startMs ?? t0;
    const end = endOf(entry);
    const visitTitle = [
      `${entry.state} (${entry.stateType}, ${entry.phase}${entry.compensates ? `, undoes ${entry.compensates}` : ''})`,
      `${entry.status}${entry.aborted ? ', cut short' : ''} after ${formatDuration(entry.durationMs)}, at +${formatDuration(start - t0)}`,
      entry.error ? `error ${entry.error}${entry.cause ? `: ${entry.cause}` : ''}` : '',
      entry.note ?? '',
    ]
      .filter(Boolean)
      .join('\n');
    out.push(`<title>${escapeHtml(visitTitle)}</title>`);
    const labelX = 8 + entry.depth * INDENT;
    out.push(
      `<text class="r-row-label${entry.depth > 0 ? ' r-inner' : ''}" x="${labelX}" y="${f(meta ? mid - 2 : mid + 4)}">${escapeHtml(name)}</text>`,
    );
    if (meta)
      out.push(`<text class="r-row-meta" x="${labelX}" y="${f(mid + 11)}">${escapeHtml(meta)}</text>`);

    const phaseClass = entry.aborted ? 'r-aborted' : `r-${entry.phase}`;

    const barAt = (from: number, to: number) => {
      const bx = x(from);
      const bw = Math.max(MIN_BAR, x(to) - bx);
      return { bx, bw };
    };

    const attempts = spans.get(entry.key);
    if (entry.stateType === 'Succeed' || entry.stateType === 'Fail') {
      const cx = x(start);
      out.push(
        `<path class="r-bar r-final-mark ${entry.stateType === 'Fail' ? 'r-end-fail' : 'r-end-ok'}" d="M${f(cx)},${f(barTop)} l7,7 l-7,7 l-7,-7 z"><title>${escapeHtml(visitTitle)}</title></path>`,
      );
    } else if (attempts !== undefined && attempts.length > 0) {
      attempts.forEach((a, n) => {
        const { bx, bw } = barAt(a.startMs, a.endMs);
        const failed = a.outcome === 'failed' || a.outcome === 'timed-out';
        const title = `${entry.state} attempt ${a.attempt} of ${attempts.length}: ${outcomeWords(a)}, ${formatDuration(a.endMs - a.startMs)}${a.estimated ? ' (placed by estimate: the history does not link its events)' : ''}`;
        const cls = [
          'r-bar',
          'r-attempt',
          phaseClass,
          a.outcome === 'running' ? 'r-running' : '',
          failed ? 'r-failed' : '',
        ]
          .filter(Boolean)
          .join(' ');
        out.push(
          `<g class="r-attempt-group" data-attempt="${a.attempt}" data-outcome="${a.outcome}"><title>${escapeHtml(title)}</title>` +
            `<rect class="${cls}" x="${f(bx)}" y="${f(barTop)}" width="${f(bw)}" height="${BAR}" rx="2"/>` +
            (failed
              ? `<rect class="r-fail-mark" x="${f(bx)}" y="${f(barTop)}" width="${f(bw)}" height="${BAR}" rx="2"/>` +
                `<path class="r-x" d="M${f(bx + bw + 2)},${f(barTop - 3)} l5,5 m0,-5 l-5,5"/>`
              : '') +
            '</g>',
        );
        const next = attempts[n + 1];
        if (next !== undefined) {
          const gx1 = bx + bw;
          const gx2 = x(next.startMs);
          const gap = Math.max(0, next.startMs - a.endMs);
          const label = formatDuration(gap);
          out.push(
            `<g class="r-backoff" data-after-attempt="${a.attempt}"><title>${escapeHtml(`backoff before attempt ${next.attempt}: ${label}`)}</title>` +
              `<line class="r-gap" x1="${f(gx1)}" y1="${f(mid)}" x2="${f(Math.max(gx1, gx2))}" y2="${f(mid)}"/>` +
              (gx2 - gx1 > label.length * 6 + 18
                ? `<text class="r-gap-label" x="${f((gx1 + 9 + gx2) / 2)}" y="${f(barTop - 2)}" text-anchor="middle">${escapeHtml(label)}</text>`
                : '') +
              '</g>',
          );
        }
      });
    } else {
      const { bx, bw } = barAt(start, end);
      const failed = entry.status === 'failed' || entry.status === 'caught';
      const cls = [
        'r-bar',
        'r-visit',
        phaseClass,
        entry.status === 'running' ? 'r-running' : '',
        failed && !entry.aborted ? 'r-failed' : '',
      ]
        .filter(Boolean)
        .join(' ');
      out.push(
        `<g class="r-visit-group"><title>${escapeHtml(visitTitle)}</title><rect class="${cls}" x="${f(bx)}" y="${f(barTop)}" width="${f(bw)}" height="${BAR}" rx="2"/>` +
          (failed && !entry.aborted
            ? `<rect class="r-fail-mark" x="${f(bx)}" y="${f(barTop)}" width="${f(bw)}" height="${BAR}" rx="2"/>`
            : '') +
          '</g>',
      );
    }
    // The visit's duration after its last bar (or before its first when the row ends at the right edge).
    const label = formatDuration(entry.durationMs);
    const after = Math.max(x(end), x(start) + MIN_BAR) + 10;
    const fits = after + label.length * 6.5 < WIDTH - 4;
    out.push(
      `<text class="r-duration" x="${f(fits ? after : x(start) - 6)}" y="${f(mid + 4)}"${fits ? '' : ' text-anchor="end"'}>${escapeHtml(label)}</text>`,
    );
    out.push('</g>');
  });
  out.push('</svg>');
  return out.join('\n');
}
