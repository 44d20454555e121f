/** One product the shop sells. */
export interface CatalogItem {
  /** Stable id, lowercase kebab-case; the Inventory table keys stock by it (`SKU#<sku>`). */
  readonly sku: string;
  /** Display name. */
  readonly name: string;
  /** Unit price in minor units (cents), the same number whatever the order's currency. */
  readonly priceCents: number;
  /** Units in stock when the stack is deployed (infra seeds `SKU#<sku>`/`STOCK` with it). */
  readonly initialStock: number;
}

/** The catalog: prices for the order service and seed stock for the Inventory table. */
export const CATALOG: readonly CatalogItem[] = Object.freeze([
  { sku: 'espresso-beans', name: 'Espresso beans, 1 kg', priceCents: 2450, initialStock: 500 },
  { sku: 'pour-over-kettle', name: 'Gooseneck pour-over kettle', priceCents: 5900, initialStock: 60 },
  { sku: 'ceramic-mug', name: 'Ceramic mug, 350 ml', priceCents: 1200, initialStock: 300 },
  { sku: 'burr-grinder', name: 'Conical burr grinder', priceCents: 12900, initialStock: 25 },
  { sku: 'paper-filters', name: 'Paper filters, 100 pack', priceCents: 650, initialStock: 1000 },
  { sku: 'milk-frother', name: 'Handheld milk frother', priceCents: 2900, initialStock: 3 },
]);

const BY_SKU: ReadonlyMap<string, CatalogItem> = new Map(CATALOG.map((item) => [item.sku, item]));

/** The catalog entry for a SKU, or undefined when the shop does not sell it. */
export function findCatalogItem(sku: string): CatalogItem | undefined {
  return BY_SKU.get(sku);
}
