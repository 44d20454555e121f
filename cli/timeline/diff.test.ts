import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { alignStates, buildDiff, diffTimelines, durationsDiffer, renderDiff } from './diff.ts';
import { parseHistoryFile } from './history.ts';
import { buildTimeline, type TimelineModel } from './model.ts';

const model = (p: string): TimelineModel =>
  buildTimeline(
    parseHistoryFile(readFileSync(fileURLToPath(new URL(`../../${p}`, import.meta.url)), 'utf8')),
  );
const saga = (name: string) => model(`cli/timeline/fixtures/${name}.json`);
const aws = (name: string) => model(`test/fixtures/aws-history/${name}.json`);
const plain = { warn: (s: string) => s, dim: (s: string) => s, bold: (s: string) => s };

describe('diffTimelines on the saga fixtures', () => {
  test('happy vs shipping-fails: the first divergence is ShipOrder', () => {
    const d = diffTimelines(saga('saga-happy'), saga('saga-shipping-fails'));
    expect(d.firstDivergence).toBe('ShipOrder');
    const ship = d.rows.find((r) => r.state === 'ShipOrder');
    expect(ship?.a?.status).toBe('succeeded');
    expect(ship?.b).toMatchObject({ status: 'caught', error: 'ShippingUnavailable' });
    expect(ship?.differs).toEqual(expect.arrayContaining(['status', 'error']));
    expect(d.rows.slice(0, 2).map((r) => r.differs)).toEqual([[], []]);
    // States only one side visited: a blank side.
    expect(d.rows.find((r) => r.state === 'RefundPayment')?.a).toBeNull();
    expect(d.rows.find((r) => r.state === 'OrderCompleted')?.b).toBeNull();
  });

  test('payment-transient vs happy: ChargePayment attempts differ', () => {
    const d = diffTimelines(saga('saga-payment-transient'), saga('saga-happy'));
    expect(d.firstDivergence).toBe('ChargePayment');
    const charge = d.rows[0];
    expect(charge?.state).toBe('ChargePayment');
    expect(charge?.a?.attempts).toBe(3);
    expect(charge?.b?.attempts).toBe(1);
    expect(charge?.differs).toContain('attempts');
    expect(charge?.differs).not.toContain('status');
    expect(charge?.a?.errors).toEqual(['TransientError', 'TransientError']);
  });

  test('identical histories: no divergence, no differing cell', () => {
    const d = diffTimelines(saga('saga-happy'), saga('saga-happy'));
    expect(d.firstDivergence).toBeNull();
    expect(d.rows.every((r) => r.differs.length === 0)).toBe(true);
  });
});

describe('diffTimelines on recorded AWS histories', () => {
  test('two of them: rows align by state, each state once', () => {
    const d = diffTimelines(aws('02-lambda-invoke-retry-then-catch'), aws('01-lambda-invoke-success'));
    const states = d.rows.map((r) => r.state);
    expect(new Set(states).size).toBe(states.length);
    for (const row of d.rows) {
      if (row.a !== null && row.b !== null) expect(row.state).toBeTruthy();
    }
    expect(d.rows.find((r) => r.state === 'InvokeLambdaWithRetry')).toMatchObject({
      a: { attempts: 4, status: 'caught', error: 'Exception' },
    });
    expect(d.firstDivergence).not.toBeNull();
  });

  test('two sharing states: the shared ones sit on one row', () => {
    const a = aws('02-lambda-invoke-retry-then-catch');
    const d = diffTimelines(a, aws('08-lambda-invoke-timeout-catch'));
    for (const row of d.rows) {
      const inA = a.entries.some((e) => e.state === row.state);
      expect(row.a !== null).toBe(inA);
    }
  });

  test.each([
    '01-lambda-invoke-success',
    '02-lambda-invoke-retry-then-catch',
    '05-choice-then-pass',
    '07-task-choice-fail-state',
    '08-lambda-invoke-timeout-catch',
  ])('%s diffed with itself: no differing cell', (name) => {
    const d = diffTimelines(aws(name), aws(name));
    expect(d.firstDivergence).toBeNull();
    expect(d.rows.length).toBeGreaterThan(0);
    expect(d.rows.flatMap((r) => r.differs)).toEqual([]);
  });
});

describe('helpers', () => {
  test('alignStates: a-only and b-only states in order of first visit', () => {
    expect(alignStates(['S', 'X', 'E'], ['S', 'Y', 'Z', 'E'])).toEqual(['S', 'Y', 'Z', 'X', 'E']);
    expect(alignStates(['A'], ['B', 'A'])).toEqual(['B', 'A']);
  });

  test('durationsDiffer ignores jitter', () => {
    expect(durationsDiffer(217, 230)).toBe(false);
    expect(durationsDiffer(217, 4470)).toBe(true);
  });
});

describe('renderDiff', () => {
  test('marks the first divergence and differing cells, fits the width', () => {
    const doc = buildDiff(
      { source: 'happy.json', model: saga('saga-happy') },
      { source: 'shipping.json', model: saga('saga-shipping-fails') },
    );
    const lines = renderDiff(doc, { style: plain, width: 80 });
    expect(lines.find((l) => l.startsWith('▶'))).toMatch(/ShipOrder/);
    expect(lines.join('\n')).toContain('↷*');
    expect(lines.join('\n')).toContain('First divergence: ShipOrder');
    for (const line of lines.slice(3, -2)) expect([...line].length).toBeLessThanOrEqual(80);
  });
});
