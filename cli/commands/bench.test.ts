import { describe, expect, test } from 'vitest';
import { PLAIN_STYLE } from '../ui/format.ts';
import { assignMix, parseMix, renderBench, stockShortfall } from './bench.ts';

describe('stockShortfall', () => {
  const plenty = { 'espresso-beans': 1000, 'ceramic-mug': 1000, 'paper-filters': 1000 };

  test('enough of every SKU: nothing short', () => {
    expect(stockShortfall(300, plenty)).toEqual([]);
  });

  test('names each short SKU with the units the run takes and the units left', () => {
    // 10 orders cycle through three baskets: 4× espresso-beans:1, 3× (ceramic-mug:2, paper-filters:1),
    // 3× paper-filters:3 → 4 beans, 6 mugs, 12 filters.
    expect(stockShortfall(10, { 'espresso-beans': 4, 'ceramic-mug': 5, 'paper-filters': 11 })).toEqual([
      'ceramic-mug: 6 needed, 5 in stock',
      'paper-filters: 12 needed, 11 in stock',
    ]);
  });

  test('a SKU missing from the stock counts as 0', () => {
    expect(stockShortfall(1, {})).toEqual(['espresso-beans: 1 needed, 0 in stock']);
  });
});

describe('assignMix', () => {
  test('weights become shares of the orders', () => {
    const mix = assignMix(parseMix('none=3,inventory=1'), 8);
    expect(mix.filter((e) => e.label === 'none')).toHaveLength(6);
    expect(mix.filter((e) => e.label === 'inventory')).toHaveLength(2);
  });
});

describe('renderBench', () => {
  test('durations through the one formatter, in a column or summary form', () => {
    const result = {
      orders: 60,
      concurrency: 10,
      durationMs: 74_300,
      ordersPerSecond: 60 / 74.3,
      latencyMs: { p50: 840, p95: 1_236, p99: 12_440, max: 61_000 },
      statuses: { SUCCEEDED: 48, FAILED: 12 },
      invariants: [
        {
          id: 'I1' as const,
          name: 'I1 terminal: every order settled',
          ok: true,
          detail: '60 orders',
          orders: [],
        },
        { id: 'I7' as const, name: 'I7 nothing stuck', ok: true, detail: 'none past 5m', orders: [] },
      ],
      violations: 0,
    };
    expect(renderBench(result, PLAIN_STYLE)).toEqual([
      '60 orders in 1m 14s at concurrency 10: 0.8 orders/s',
      'order → terminal state: p50 840ms · p95 1.24s · p99 12.4s · max 1m 01s',
      'executions: SUCCEEDED 48 · FAILED 12',
      '',
      '✓ I1 terminal: every order settled  60 orders',
      '✓ I7 nothing stuck                  none past 5m',
    ]);
  });
});
