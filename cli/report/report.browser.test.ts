/**
 * The report in a real browser: Debian's chromium driven by playwright-core (no browser download), the page opened
 * from a file with the network cut off. Checks what a person sees — drawn, sized, highlighted — not only the string.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseDefinition, parseDefinitionText } from '../graph/index.ts';
import { parseHistoryFile } from '../timeline/index.ts';
import { buildReport, type ReportInput } from './index.ts';

/** Debian's package puts it here; `SAGA_CHROMIUM` points elsewhere. */
const CHROMIUM = process.env.SAGA_CHROMIUM ?? '/usr/bin/chromium';
const SCREENSHOT = '/tmp/saga-report.png';

const path = (p: string) => fileURLToPath(new URL(`../../${p}`, import.meta.url));
const PAYMENT_UNKNOWN = path('cli/timeline/fixtures/saga-v2-payment-unknown.json');
const AWS_02 = path('test/fixtures/aws-history/02-lambda-invoke-retry-then-catch.json');
const SAGA_ASL = path('state-machines/order-saga.asl.json');
const ORDER = '01JDQ3Z8K4M2N6P8R0T2V4X6Z8';

let launched: Promise<Browser> | undefined;
let dir: string | undefined;

/**
 * The browser, launched once for the file. Each test asks for it, so a missing chromium fails every test with the
 * same message (none is skipped).
 */
function browser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `No chromium at ${CHROMIUM}: the report's browser test drives Debian's chromium package. Install it with ` +
        '`apt-get install -y chromium` (.ci/run installs it), or set SAGA_CHROMIUM to a Chromium executable.',
    );
  }
  launched ??= chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return launched;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'saga-report-browser-'));
});

afterAll(async () => {
  await (await launched)?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Opened {
  readonly page: Page;
  /** Console errors and uncaught page errors. */
  readonly errors: string[];
  /** Requests for anything but the file itself (each refused). */
  readonly blocked: string[];
  /** Requests that failed (the refused ones included). */
  readonly failed: string[];
}

/** Writes the page to a file and opens it offline: every request that is not for a file is aborted. */
async function open(name: string, html: string): Promise<Opened> {
  const file = join(dir ?? tmpdir(), name);
  await writeFile(file, html, 'utf8');
  const context = await (await browser()).newContext({
    viewport: { width: 1280, height: 900 },
    offline: true,
  });
  const page = await context.newPage();
  const errors: string[] = [];
  const blocked: string[] = [];
  const failed: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('requestfailed', (request) => failed.push(request.url()));
  await context.route('**', async (route) => {
    const url = route.request().url();
    if (url.startsWith('file:')) await route.continue();
    else {
      blocked.push(url);
      await route.abort();
    }
  });
  await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
  return { page, errors, blocked, failed };
}

async function size(page: Page, selector: string): Promise<{ width: number; height: number }> {
  const box = await page.locator(selector).first().boundingBox();
  return { width: box?.width ?? 0, height: box?.height ?? 0 };
}

/** In the page: an element's computed value of a CSS property (the project's types have no DOM library). */
function computed(element: unknown, property: string): string {
  const view = globalThis as unknown as {
    getComputedStyle(e: unknown): { getPropertyValue(p: string): string };
  };
  return view.getComputedStyle(element).getPropertyValue(property);
}

function history(file: string): Pick<ReportInput, 'events' | 'definition'> {
  const text = readFileSync(file, 'utf8');
  const carried = (JSON.parse(text) as { _definition?: unknown })._definition;
  return {
    events: parseHistoryFile(text),
    definition:
      carried === undefined
        ? undefined
        : parseDefinition(typeof carried === 'string' ? JSON.parse(carried) : carried),
  };
}

describe('the report in Debian chromium, offline', () => {
  test('an order whose payment was retried, then compensated: graph, Gantt, steps, ledger and logs; a screenshot', async () => {
    const { events } = history(PAYMENT_UNKNOWN);
    const START = Date.parse(String(events[0]?.timestamp));
    const report = buildReport({
      header: {
        name: ORDER,
        executionArn: `arn:aws:states:eu-west-1:123456789012:execution:OrderSaga:${ORDER}`,
        timeScale: 0.1,
      },
      events,
      definition: parseDefinitionText(readFileSync(SAGA_ASL, 'utf8')),
      ledger: { charges: 1, refunds: 1, reservations: 0, releases: 0, shipments: 0 },
      logs: [
        {
          timestamp: START + 110,
          functionName: 'ChargePayment',
          level: 'WARN',
          message: 'charge attempt crashed (Runtime.ExitError), retried',
        },
        // What a log line says is text, even when it looks like markup.
        {
          timestamp: START + 1390,
          functionName: 'ChargePayment',
          level: 'ERROR',
          message: '<script>window.__pwned = 1</script><img src="https://example.com/x.png">',
        },
        {
          timestamp: START + 10_100,
          functionName: 'RefundPayment',
          level: 'INFO',
          message: 'refunded 25.00 EUR',
        },
      ],
      generatedAtMs: START + 60_000,
    });
    const { page, errors, blocked, failed } = await open('payment-unknown.html', report.html);

    expect(errors).toEqual([]);
    expect(blocked).toEqual([]);
    expect(failed).toEqual([]);
    expect(await page.title()).toBe(`Saga report · ${ORDER}`);

    // The graph: drawn and sized; the path's states highlighted, the others not.
    const graph = await size(page, 'section.r-graph figure svg');
    expect(graph.width).toBeGreaterThan(600);
    expect(graph.height).toBeGreaterThan(300);
    const stroke = (id: string) =>
      page.locator(`section.r-graph g.node[data-id="${id}"] > rect`).evaluate(computed, 'stroke');
    const path = report.graph.execution?.path ?? [];
    expect(path).toEqual(
      expect.arrayContaining(['CheckOrder', 'ChargePayment', 'CancelOrder', 'RefundPayment']),
    );
    for (const id of path) {
      await expect
        .poll(() => page.locator(`section.r-graph g.node[data-id="${id}"]`).getAttribute('class'))
        .toContain('visited');
      expect(await stroke(id)).not.toBe('rgb(176, 190, 197)');
    }
    expect(await stroke('CheckOrder')).toBe('rgb(46, 125, 50)'); // succeeded: green
    expect(await stroke('ChargePayment')).toBe('rgb(239, 108, 0)'); // failed, caught: orange
    expect(await stroke('RefundPayment')).toBe('rgb(21, 101, 192)'); // compensation: blue
    expect(await stroke('ShipOrder')).toBe('rgb(176, 190, 197)'); // not visited: grey
    expect(
      await page.locator('section.r-graph g.edge.visited path').first().evaluate(computed, 'stroke'),
    ).toBe('rgb(46, 125, 50)');

    // The Gantt: drawn and sized, one row per visit, ChargePayment's five attempts with the gaps between them.
    const gantt = await size(page, 'section.r-gantt svg.r-gantt-svg');
    expect(gantt.width).toBeGreaterThan(600);
    expect(gantt.height).toBeGreaterThan(100);
    expect(await page.locator('section.r-gantt g.r-row').count()).toBe(report.timeline.entries.length);
    const charge = page.locator('section.r-gantt g.r-row[data-state="ChargePayment"]');
    expect(await charge.locator('g.r-attempt-group').count()).toBe(5);
    for (const attempt of [1, 2, 3, 4, 5]) {
      const bar = await charge
        .locator(`g.r-attempt-group[data-attempt="${attempt}"] rect.r-bar`)
        .boundingBox();
      expect(bar?.width ?? 0).toBeGreaterThan(0);
      expect(bar?.height ?? 0).toBeGreaterThan(8);
    }
    const first = await charge.locator('g.r-attempt-group[data-attempt="1"] rect.r-bar').boundingBox();
    const second = await charge.locator('g.r-attempt-group[data-attempt="2"] rect.r-bar').boundingBox();
    const gap = await charge.locator('g.r-backoff[data-after-attempt="1"] line.r-gap').boundingBox();
    // The retry starts after a visible gap, and the dashed line spans it.
    expect((second?.x ?? 0) - ((first?.x ?? 0) + (first?.width ?? 0))).toBeGreaterThan(10);
    expect(gap?.width ?? 0).toBeGreaterThan(10);
    expect(await charge.locator('g.r-attempt-group[data-outcome="failed"] rect.r-fail-mark').count()).toBe(5);
    expect(await charge.locator('line.r-gap').count()).toBe(4);
    // Compensations in their own colour.
    expect(
      await page
        .locator('section.r-gantt g.r-row[data-state="RefundPayment"] rect.r-bar')
        .evaluate(computed, 'fill'),
    ).toBe('rgb(92, 156, 230)');
    expect(await charge.locator('rect.r-bar').first().evaluate(computed, 'fill')).toBe('rgb(102, 187, 106)');
    expect(await page.locator('section.r-gantt ul.r-legend li').count()).toBeGreaterThanOrEqual(6);

    // Steps, ledger and logs: present, filled, the markup in a log line shown as text and not run.
    expect(await page.locator('section.r-steps tbody tr').count()).toBe(report.timeline.entries.length);
    await expect
      .poll(() => page.locator('section.r-ledger tbody tr').allInnerTexts())
      .toEqual([
        'Payments\tcharges\t1\trefunds\t1\t0',
        'Inventory\treservations\t0\treleases\t0\t0',
        'Shipments\tshipments\t0\t—\t\t0',
      ]);
    expect(await page.locator('section.r-logs tbody tr').count()).toBe(3);
    expect(await page.getByText('<script>window.__pwned = 1</script>', { exact: false }).isVisible()).toBe(
      true,
    );
    expect(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(await page.locator('img').count()).toBe(0);

    // The whole page for a person to look at.
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(existsSync(SCREENSHOT)).toBe(true);

    // The wide graph fits the page; "Actual size" (a checkbox, no script) shows it at its own size.
    const natural = Number(await page.locator('section.r-graph figure svg').getAttribute('width'));
    expect(graph.width).toBeLessThan(natural);
    await page.locator('label.r-zoom-label').click();
    expect((await size(page, 'section.r-graph figure svg')).width).toBeCloseTo(natural, 0);
    expect(errors).toEqual([]);
    await page.context().close();
  });

  test('a recorded AWS history: four attempts of the retried task, each bar drawn', async () => {
    const report = buildReport({ header: { file: AWS_02 }, ...history(AWS_02) });
    const { page, errors, blocked, failed } = await open('aws-02.html', report.html);
    expect([...errors, ...blocked, ...failed]).toEqual([]);
    expect((await size(page, 'section.r-graph figure svg')).width).toBeGreaterThan(100);
    expect((await size(page, 'section.r-gantt svg.r-gantt-svg')).width).toBeGreaterThan(600);
    const row = page.locator('section.r-gantt g.r-row[data-state="InvokeLambdaWithRetry"]');
    const bars = row.locator('g.r-attempt-group rect.r-bar');
    expect(await bars.count()).toBe(4);
    for (const box of await Promise.all((await bars.all()).map((b) => b.boundingBox()))) {
      expect(box?.width ?? 0).toBeGreaterThan(0);
    }
    expect(await row.locator('line.r-gap').count()).toBe(3);
    // The path: the task, then the Pass state its Catch led to.
    for (const id of report.graph.execution?.path ?? []) {
      expect(await page.locator(`section.r-graph g.node.visited[data-id="${id}"]`).count()).toBe(1);
    }
    expect(await page.locator('section.r-ledger').textContent()).toContain('The ledger was not read');
    expect(await page.locator('section.r-logs').textContent()).toContain('The log lines were not read');
    await page.context().close();
  });
});
