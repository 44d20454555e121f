import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { type AslStates, parseDefinition, parseDefinitionText } from '../graph/index.ts';
import { buildTimeline, type HistoryEventLike, parseHistoryFile } from '../timeline/index.ts';
import { attemptSpans, buildGraphPage, buildReport, escapeHtml, renderPage } from './index.ts';

const path = (p: string) => fileURLToPath(new URL(`../../${p}`, import.meta.url));
const OURS = path('cli/timeline/fixtures');
const AWS = path('test/fixtures/aws-history');
const SAGA_ASL = parseDefinitionText(readFileSync(path('state-machines/order-saga.asl.json'), 'utf8'));

function history(file: string): { events: HistoryEventLike[]; definition?: AslStates } {
  const text = readFileSync(file, 'utf8');
  const carried = (JSON.parse(text) as { _definition?: unknown })._definition;
  const events = parseHistoryFile(text);
  if (carried === undefined) return { events };
  return { events, definition: parseDefinition(typeof carried === 'string' ? JSON.parse(carried) : carried) };
}

const fixtures = [
  ...readdirSync(OURS)
    .filter((f) => f.endsWith('.json'))
    .map((f) => `${OURS}/${f}`),
  ...readdirSync(AWS)
    .filter((f) => f.endsWith('.json'))
    .map((f) => `${AWS}/${f}`),
];

/**
 * Everything in the page's markup that would make a browser fetch something: URL attributes, CSS `url()` other than
 * a fragment, `@import`, and any http(s) URL in a tag other than the SVG namespace.
 */
function externalReferences(html: string): string[] {
  const found: string[] = [];
  for (const [tag] of html.matchAll(/<[a-z][^<>]*>/gi)) {
    const names = tag.replace(/"[^"]*"|'[^']*'/g, '""');
    for (const m of names.matchAll(/\s(?:src|href|xlink:href|action|srcset|poster|data|background)\s*=/gi))
      found.push(m[0]);
    for (const m of tag.matchAll(/https?:\/\/[^\s"'<>)]*/gi)) {
      if (m[0] !== 'http://www.w3.org/2000/svg') found.push(m[0]);
    }
  }
  for (const m of html.matchAll(/url\(\s*["']?([^)"']*)/gi)) if (!m[1]?.startsWith('#')) found.push(m[0]);
  for (const m of html.matchAll(/@import/gi)) found.push(m[0]);
  return found;
}

/** Event-handler attributes in the page's tags (`onerror=` as text is fine). */
function handlers(html: string): string[] {
  return [...html.matchAll(/<[a-z][^<>]*>/gi)]
    .map(([tag]) => tag)
    .filter((tag) => /\son[a-z]+\s*=/i.test(tag.replace(/"[^"]*"|'[^']*'/g, '""')));
}

/** The `<g class="r-row …" data-state="…">` groups of the Gantt, with their inner markup. */
function ganttRows(html: string): { state: string; markup: string }[] {
  const rows: { state: string; markup: string }[] = [];
  const re = /<g class="r-row [^"]*" data-state="([^"]*)" data-key="[^"]*">([\s\S]*?)\n<\/g>/g;
  for (const m of html.matchAll(re)) rows.push({ state: m[1] ?? '', markup: m[2] ?? '' });
  return rows;
}

describe('buildReport on every recorded history (ours and AWS)', () => {
  test.each(fixtures.map((f) => [f.split('/').slice(-2).join('/'), f]))('%s', (_name, file) => {
    const { events, definition } = history(file);
    const { html, timeline, graph } = buildReport({ header: { file }, events, definition });
    // One document, no script, nothing fetched.
    expect(html.startsWith('<!doctype html>\n<html lang="en">')).toBe(true);
    expect(html.match(/<html/g)).toHaveLength(1);
    expect(html.match(/<\/html>/g)).toHaveLength(1);
    expect(html).not.toMatch(/<script/i);
    expect(handlers(html)).toEqual([]);
    expect(externalReferences(html)).toEqual([]);
    expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;;`);
    // The graph (every state of the definition) and the Gantt (one row per visit).
    expect(html).toMatch(/<section class="r-card r-graph" id="graph">[\s\S]*?<svg [^>]*xmlns=/);
    for (const node of graph.nodes) expect(html).toContain(`data-id="${escapeHtml(node.id)}"`);
    const rows = ganttRows(html);
    expect(rows.map((r) => r.state)).toEqual(timeline.entries.map((e) => escapeHtml(e.state)));
    expect(html).toContain('<ul class="r-legend">');
    // The steps table: one row per visit.
    const steps = /<section class="r-card r-steps"[\s\S]*?<tbody>([\s\S]*?)<\/tbody>/.exec(html)?.[1] ?? '';
    expect(steps.match(/<tr /g)).toHaveLength(timeline.entries.length);
    // Attempt bars add up to the attempts of each Task visit; backoff gaps sit between them.
    for (const [i, entry] of timeline.entries.entries()) {
      const markup = rows[i]?.markup ?? '';
      if (entry.stateType !== 'Task') continue;
      expect(markup.match(/class="r-attempt-group"/g) ?? []).toHaveLength(entry.attempts);
      expect(markup.match(/class="r-backoff"/g) ?? []).toHaveLength(entry.attempts - 1);
    }
  });
});

describe('the Gantt', () => {
  test('retries: one bar per attempt, failed ones marked, the backoff gaps drawn to scale', () => {
    const { events } = history(`${OURS}/saga-payment-transient.json`);
    const { html, timeline } = buildReport({ header: {}, events, definition: SAGA_ASL });
    const charge = ganttRows(html).find((r) => r.state === 'ChargePayment')?.markup ?? '';
    const attempts = [...charge.matchAll(/data-attempt="(\d)" data-outcome="([a-z-]+)"/g)].map((m) => [
      m[1],
      m[2],
    ]);
    expect(attempts).toEqual([
      ['1', 'failed'],
      ['2', 'failed'],
      ['3', 'succeeded'],
    ]);
    expect(charge.match(/class="r-fail-mark"/g)).toHaveLength(2);
    expect(charge).toContain('ChargePayment attempt 1 of 3: failed: TransientError');
    // The gaps: 1.2 s then 2.9 s, as the model measured them, drawn with lengths in the same ratio.
    expect(timeline.entries[0]?.backoffMs).toEqual([1200, 2900]);
    const gaps = [...charge.matchAll(/<line class="r-gap" x1="([\d.]+)" y1="[\d.]+" x2="([\d.]+)"/g)].map(
      (m) => Number(m[2]) - Number(m[1]),
    );
    expect(gaps).toHaveLength(2);
    expect((gaps[1] ?? 0) / (gaps[0] ?? 1)).toBeCloseTo(2900 / 1200, 1);
    expect(charge).toContain('backoff before attempt 2: 1.20s');
    expect(charge).toContain('>2.90s</text>');
  });

  test('compensations are coloured apart from forward steps', () => {
    const { events } = history(`${OURS}/saga-compensation-fails.json`);
    const { html } = buildReport({ header: {}, events });
    const rows = ganttRows(html);
    const refund = rows.find((r) => r.state === 'RefundPayment')?.markup ?? '';
    expect(refund.match(/class="r-bar r-attempt r-compensation r-failed"/g)).toHaveLength(7);
    expect(refund.match(/class="r-backoff"/g)).toHaveLength(6);
    const charge = rows.find((r) => r.state === 'ChargePayment')?.markup ?? '';
    expect(charge).toContain('class="r-bar r-attempt r-forward"');
    // The Fail state the execution ended in: a red end mark.
    expect(rows.find((r) => r.state === 'CompensationFailed')?.markup).toContain('r-end-fail');
  });

  test('the recorded AWS retry history: 4 attempts, 3 gaps, the catch after them', () => {
    const { events, definition } = history(`${AWS}/02-lambda-invoke-retry-then-catch.json`);
    const { html } = buildReport({ header: {}, events, definition });
    const row = ganttRows(html).find((r) => r.state === 'InvokeLambdaWithRetry')?.markup ?? '';
    expect(row.match(/data-outcome="failed"/g)).toHaveLength(4);
    expect(row.match(/class="r-gap"/g)).toHaveLength(3);
    expect(row).toContain('4 attempts');
  });

  test('no timestamps: said instead of an empty chart', () => {
    const { events } = history(`${OURS}/saga-happy.json`);
    const untimed = events.map(({ timestamp: _, ...rest }) => rest);
    const { html } = buildReport({ header: {}, events: untimed });
    expect(html).toContain('The history has no timestamps');
    expect(html).not.toContain('r-gantt-svg');
  });
});

describe('attemptSpans', () => {
  test("from the history's links: each attempt's own start, end and outcome", () => {
    const { events } = history(`${OURS}/saga-payment-transient.json`);
    const { entries } = buildTimeline(events);
    const charge = entries.find((e) => e.state === 'ChargePayment');
    const spans = attemptSpans(events, entries).get(charge?.key ?? '');
    const at = (iso: string) => Date.parse(iso);
    expect(spans).toEqual([
      {
        attempt: 1,
        startMs: at('2026-11-27T10:05:00.033Z'),
        endMs: at('2026-11-27T10:05:00.118Z'),
        outcome: 'failed',
        error: 'TransientError',
        estimated: false,
      },
      {
        attempt: 2,
        startMs: at('2026-11-27T10:05:01.318Z'),
        endMs: at('2026-11-27T10:05:01.397Z'),
        outcome: 'failed',
        error: 'TransientError',
        estimated: false,
      },
      {
        attempt: 3,
        startMs: at('2026-11-27T10:05:04.297Z'),
        endMs: at('2026-11-27T10:05:04.489Z'),
        outcome: 'succeeded',
        estimated: false,
      },
    ]);
    // Visits of other states have no attempts of their own.
    const succeed = entries.find((e) => e.stateType === 'Succeed');
    expect(attemptSpans(events, entries).has(succeed?.key ?? '')).toBe(false);
  });

  test('a history without links: spread over the visit from its measured gaps, marked estimated', () => {
    const { events } = history(`${OURS}/saga-payment-transient.json`);
    const unlinked = events.map(({ previousEventId: _, ...rest }) => rest);
    const { entries } = buildTimeline(unlinked);
    const charge = entries.find((e) => e.state === 'ChargePayment');
    const spans = attemptSpans(unlinked, entries).get(charge?.key ?? '') ?? [];
    expect(spans.map((s) => [s.outcome, s.estimated])).toEqual([
      ['failed', true],
      ['failed', true],
      ['succeeded', true],
    ]);
    // The gaps between the estimated attempts are the real ones.
    expect((spans[1]?.startMs ?? 0) - (spans[0]?.endMs ?? 0)).toBeCloseTo(1200, 2);
    expect((spans[2]?.startMs ?? 0) - (spans[1]?.endMs ?? 0)).toBeCloseTo(2900, 2);
    expect(spans.at(-1)?.endMs).toBeCloseTo((charge?.startMs ?? 0) + (charge?.durationMs ?? 0), 2);
  });
});

describe('escaping: what a history says stays text', () => {
  const evil = '<script>alert("x")</script><img src=x onerror=alert(1)>';
  const { events } = history(`${OURS}/saga-payment-transient.json`);
  // The first attempt's error cause, a state name, the input and the execution's name all carry markup.
  const poisoned = events.map((event) => {
    if (event.type === 'TaskFailed')
      return {
        ...event,
        taskFailedEventDetails: { error: `Err${evil}`, cause: JSON.stringify({ errorMessage: evil }) },
      };
    if (event.type === 'ExecutionStarted')
      return { ...event, executionStartedEventDetails: { input: JSON.stringify({ note: evil }) } };
    if (event.type?.endsWith('StateEntered') && event.stateEnteredEventDetails?.name === 'ReserveInventory')
      return {
        ...event,
        stateEnteredEventDetails: { ...event.stateEnteredEventDetails, name: `Reserve${evil}` },
      };
    return event;
  }) as HistoryEventLike[];

  test('in the header, the graph, the Gantt, the steps, the ledger and the logs', () => {
    const { html } = buildReport({
      header: { name: `n${evil}`, executionArn: `arn:aws:states:eu-west-1:1:execution:M:${evil}` },
      events: poisoned,
      ledger: { charges: 1, refunds: 0, reservations: 1, releases: 0, shipments: 1 },
      logs: [{ timestamp: 1795773900100, functionName: `f${evil}`, level: `${evil}`, message: `m${evil}` }],
    });
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<img/i);
    expect(handlers(html)).toEqual([]);
    expect(externalReferences(html)).toEqual([]);
    // Still there, as text.
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    const escaped = html.match(/&lt;script&gt;/g) ?? [];
    // title, h1, ARN, input, error in the steps, state names (graph, Gantt, steps), the log line's fields.
    expect(escaped.length).toBeGreaterThanOrEqual(10);
  });

  test('renderPage and buildGraphPage escape their titles', () => {
    expect(renderPage({ title: '</title><script>x</script>', body: '' })).toContain(
      '<title>&lt;/title&gt;&lt;script&gt;x&lt;/script&gt;</title>',
    );
    const { graph } = buildReport({ header: {}, events: poisoned });
    const page = buildGraphPage(graph, `Graph · ${evil}`);
    expect(page).not.toMatch(/<script|<img/i);
    expect(page).toContain('data-id="Reserve&lt;script&gt;');
  });
});

describe('the sections', () => {
  const { events } = history(`${OURS}/saga-compensation-fails.json`);

  test('the header: execution, status, times, input, error, time scale', () => {
    const { html } = buildReport({
      header: {
        name: '01JDQ3Z8K4M2N6P8R0T2V4X6Z8',
        executionArn: 'arn:aws:states:eu-west-1:123456789012:execution:OrderSaga:01JDQ3Z8K4M2N6P8R0T2V4X6Z8',
        timeScale: 0.1,
      },
      events,
      generatedAtMs: Date.parse('2026-12-01T00:00:00Z'),
    });
    expect(html).toContain('<title>Saga report · 01JDQ3Z8K4M2N6P8R0T2V4X6Z8</title>');
    expect(html).toContain(
      '<code>arn:aws:states:eu-west-1:123456789012:execution:OrderSaga:01JDQ3Z8K4M2N6P8R0T2V4X6Z8</code>',
    );
    expect(html).toContain('<span class="r-badge r-bad">FAILED</span>');
    expect(html).toContain('<span class="r-badge r-bad">COMPENSATION_FAILED</span>');
    expect(html).toContain('2026-11-27 10:20:00.000 UTC');
    expect(html).toContain('customer cust-42 · SKU-APPLE ×2, SKU-PEAR ×1 · 25.00 EUR');
    expect(html).toContain('CompensationFailed in CompensationFailed');
    expect(html).toContain('the local cloud ran Retry/Wait delays and timeouts ×0.1');
    expect(html).toContain('incomplete: ChargePayment not undone');
    expect(html).toContain('generated 2026-12-01 00:00:00.000 UTC');
    // Identical failures of consecutive attempts, one line.
    expect(html).toContain('#1–7 <span class="r-error">RefundFailed</span>');
  });

  test('the ledger and the log lines, or why they are absent', () => {
    const start = Date.parse('2026-11-27T10:20:00.000Z');
    const { html } = buildReport({
      header: {},
      events,
      ledger: { charges: 1, refunds: 0, reservations: 1, releases: 1, shipments: 0 },
      logs: [
        { timestamp: start + 120, functionName: 'ChargePayment', level: 'INFO', message: 'charged' },
        { timestamp: start + 700, functionName: 'RefundPayment', level: 'ERROR', message: 'refund failed' },
      ],
    });
    const ledger = /<section class="r-card r-ledger"[\s\S]*?<\/section>/.exec(html)?.[0] ?? '';
    expect(ledger).toContain(
      '<tr><td>Payments</td><td>charges</td><td class="r-num">1</td><td>refunds</td><td class="r-num">0</td><td class="r-num">1</td></tr>',
    );
    expect(ledger).toContain(
      '<tr><td>Inventory</td><td>reservations</td><td class="r-num">1</td><td>releases</td><td class="r-num">1</td><td class="r-num">0</td></tr>',
    );
    const logs = /<section class="r-card r-logs"[\s\S]*?<\/section>/.exec(html)?.[0] ?? '';
    expect(logs).toContain('<span class="r-count">2</span>');
    expect(logs).toContain('<td class="r-time">10:20:00.120</td><td class="r-time">+120ms</td>');
    expect(logs).toContain('<span class="r-level r-level-error">ERROR</span>');

    const bare = buildReport({ header: {}, events, missingNote: 'not read: from a file' }).html;
    expect(bare).toContain('The ledger was not read: from a file.');
    expect(bare).toContain('The log lines were not read: from a file.');
  });

  test('the ledger rows under the counts: written time, since start, what each holds, escaped; undos marked', () => {
    const { html } = buildReport({
      header: {},
      events,
      ledgerRows: [
        { table: 'Payments', sk: 'CHARGE', at: '2026-11-27T10:20:00.250Z', detail: '25.00 EUR · ch_1' },
        { table: 'Inventory', sk: 'RESERVATION#SKU-1', at: '2026-11-27T10:20:00.400Z', detail: 'SKU-1 ×2' },
        { table: 'Payments', sk: 'REFUND', at: '2026-11-27T10:20:01.500Z', detail: '<b>25.00</b> EUR' },
        { table: 'Shipments', sk: 'SHIPMENT', detail: '' },
      ],
    });
    const ledger = /<section class="r-card r-ledger"[\s\S]*?<\/section>/.exec(html)?.[0] ?? '';
    // The counts come from the rows when no counts are given.
    expect(ledger).toContain(
      '<tr><td>Payments</td><td>charges</td><td class="r-num">1</td><td>refunds</td><td class="r-num">1</td><td class="r-num">0</td></tr>',
    );
    expect(ledger).toContain(
      '<tr><td class="r-time">10:20:00.250</td><td class="r-time">+250ms</td><td>Payments</td><td class="r-mono">CHARGE</td><td class="r-text">25.00 EUR · ch_1</td></tr>',
    );
    expect(ledger).toContain(
      '<tr class="r-undo"><td class="r-time">10:20:01.500</td><td class="r-time">+1.50s</td>',
    );
    expect(ledger).toContain('&lt;b&gt;25.00&lt;/b&gt; EUR');
    expect(ledger).not.toContain('<b>25.00</b>');
    expect(ledger).toContain('<td class="r-time"></td><td class="r-time"></td><td>Shipments</td>');
  });

  test('a wide graph gets the "actual size" switch; a small one does not', () => {
    const wide = buildReport({ header: {}, events, definition: SAGA_ASL }).html;
    expect(wide).toMatch(
      /<input type="checkbox" class="r-zoom" id="r-graph-zoom"><label class="r-zoom-label" for="r-graph-zoom">Actual size<\/label><figure class="r-figure"><svg style="--natural-width:\d+px" xmlns=/,
    );
    const small = history(`${AWS}/05-choice-then-pass.json`);
    expect(buildReport({ header: {}, ...small }).html).not.toContain('class="r-zoom"');
  });
});
