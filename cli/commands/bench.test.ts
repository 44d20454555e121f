import { describe, expect, test } from 'vitest';
import { assignMix, parseMix, stockShortfall } from './bench.ts';

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
