import { expect, test } from 'vitest';
import { CATALOG, findCatalogItem } from './catalog.ts';

test('the catalog has 5 or 6 distinct kebab-case SKUs with positive prices and stock', () => {
  expect(CATALOG.length).toBeGreaterThanOrEqual(5);
  expect(CATALOG.length).toBeLessThanOrEqual(6);
  expect(new Set(CATALOG.map((item) => item.sku)).size).toBe(CATALOG.length);
  for (const item of CATALOG) {
    expect(item.sku).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
    expect(Number.isInteger(item.priceCents) && item.priceCents > 0).toBe(true);
    expect(Number.isInteger(item.initialStock) && item.initialStock > 0).toBe(true);
    expect(findCatalogItem(item.sku)).toBe(item);
  }
  expect(findCatalogItem('tea-leaves')).toBeUndefined();
});
