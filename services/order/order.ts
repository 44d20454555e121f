/**
 * The order service's domain: validate and price an order request, and write the order together with its
 * outbox event in one DynamoDB transaction (the transactional outbox). Pure functions except `placeOrder` and
 * `getOrder`, which take their client and table as arguments.
 */
import { createHash } from 'node:crypto';
import { parse } from '@aws-lambda-powertools/parser';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { CATALOG, findCatalogItem } from '../shared/catalog.ts';
import type { SagaInput } from '../shared/saga-input.ts';
import { ulid } from '../shared/ulid.ts';
import * as z from '../shared/zod.ts';

/** Currencies an order may be placed in. */
export const CURRENCIES = ['EUR', 'USD', 'GBP'] as const;
/** One of {@link CURRENCIES}. */
export type Currency = (typeof CURRENCIES)[number];
/** At most this many lines per order (reserving takes two transaction items per line; DynamoDB allows 100). */
export const MAX_ITEMS = 25;
/** At most this many units per line. */
export const MAX_QTY = 1000;
/** Outbox rows expire (DynamoDB TTL) after this long: the stream has delivered them by then. */
export const OUTBOX_TTL_SECONDS = 7 * 24 * 60 * 60;

/** A canonical ULID: 26 upper-case Crockford base32 characters, the first at most '7'. */
export const ULID_PATTERN = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * The order id of a POST that carries an `Idempotency-Key` and no orderId (design §4a rule 8): the first 128
 * bits of SHA-256 over the caller and the key, written as a ULID (26 Crockford base32 characters, the first
 * 0–7). The same caller and key always give the same id, so a retry after a crash that followed the commit
 * finds the order instead of placing a second one; another caller's key never lands on it.
 *
 * Its "timestamp" characters are hash bits, not a time: nothing reads the time out of an order id.
 */
export function deriveOrderId(caller: string, idempotencyKey: string): string {
  // A JSON array keeps caller and key apart whatever characters they hold (no separator to forge).
  const digest = createHash('sha256')
    .update(JSON.stringify(['saga.order-id.v1', caller, idempotencyKey]))
    .digest();
  let value = BigInt(`0x${digest.subarray(0, 16).toString('hex')}`);
  let id = '';
  // 26 × 5 = 130 bits: the top character holds the 3 highest bits, hence 0–7.
  for (let i = 0; i < 26; i++) {
    id = CROCKFORD.charAt(Number(value & 31n)) + id;
    value >>= 5n;
  }
  return id;
}

const describe = (value: unknown): string => {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
};

/** A zod string that must be a ULID. */
export const UlidSchema = z
  .string({ error: (issue) => `expected a ULID string, received ${describe(issue.input)}` })
  .check(
    z.regex(ULID_PATTERN, {
      error: (issue) =>
        `must be a ULID (26 upper-case Crockford base32 characters, e.g. 01JDQ3V5G8M2W4X6Y8Z0A2B4C6), received ${describe(issue.input)}`,
    }),
  );

const OrderLineSchema = z.strictObject({
  sku: z.string({ error: (issue) => `expected a SKU string, received ${describe(issue.input)}` }).check(
    z.minLength(1, { error: 'must not be empty' }),
    z.maxLength(64, { error: 'must be at most 64 characters' }),
    z.refine((sku) => findCatalogItem(sku) !== undefined, {
      error: (issue) =>
        `unknown SKU ${describe(issue.input)}; the catalog has ${CATALOG.map((item) => item.sku).join(', ')}`,
    }),
  ),
  qty: z
    .int({ error: (issue) => `expected a whole number of units, received ${describe(issue.input)}` })
    .check(
      z.minimum(1, { error: (issue) => `must be at least 1, received ${describe(issue.input)}` }),
      z.maximum(MAX_QTY, {
        error: (issue) => `must be at most ${MAX_QTY}, received ${describe(issue.input)}`,
      }),
    ),
});

/** The body of `POST /orders`. */
export const OrderRequestSchema = z
  .strictObject({
    orderId: z.optional(UlidSchema),
    customerId: z
      .string({ error: (issue) => `expected a customer id string, received ${describe(issue.input)}` })
      .check(
        z.trim(),
        z.minLength(1, { error: 'must not be empty' }),
        z.maxLength(128, { error: 'must be at most 128 characters' }),
      ),
    items: z
      .array(OrderLineSchema, {
        error: (issue) => `expected an array of {sku, qty}, received ${describe(issue.input)}`,
      })
      .check(
        z.minLength(1, { error: 'an order needs at least one item' }),
        z.maxLength(MAX_ITEMS, {
          error: (issue) =>
            `an order has at most ${MAX_ITEMS} lines, received ${Array.isArray(issue.input) ? issue.input.length : '?'}`,
        }),
      ),
    currency: z._default(
      z.enum(CURRENCIES, {
        error: (issue) => `must be one of ${CURRENCIES.join(', ')}, received ${describe(issue.input)}`,
      }),
      'EUR',
    ),
  })
  .check(
    z.superRefine((order, ctx) => {
      const seen = new Map<string, number>();
      order.items.forEach((line, index) => {
        const first = seen.get(line.sku);
        if (first !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['items', index, 'sku'],
            message: `SKU '${line.sku}' is already on line ${first}; put the total qty on one line`,
          });
        } else {
          seen.set(line.sku, index);
        }
      });
    }),
  );

/** A valid order request (currency defaulted). */
export type OrderRequest = z.output<typeof OrderRequestSchema>;

/** One line of an order: a catalog SKU and a positive quantity. */
export interface OrderLine {
  readonly sku: string;
  readonly qty: number;
}

/** One problem with a request, at a field path such as `items[0].qty`. */
export interface FieldIssue {
  readonly path: string;
  readonly message: string;
}

/** The outcome of {@link validateOrderRequest}. */
export type ValidationResult =
  | { readonly ok: true; readonly request: OrderRequest }
  | { readonly ok: false; readonly issues: readonly FieldIssue[] };

type IssuePath = readonly (PropertyKey | { readonly key: PropertyKey })[] | undefined;

/** `['items', 0, 'qty']` → `items[0].qty`; the request itself → `(body)`. */
export function formatIssuePath(path: IssuePath): string {
  let out = '';
  for (const segment of path ?? []) {
    const key = typeof segment === 'object' && segment !== null ? segment.key : segment;
    out += typeof key === 'number' ? `[${key}]` : `${out === '' ? '' : '.'}${String(key)}`;
  }
  return out === '' ? '(body)' : out;
}

/**
 * Validates an already JSON-decoded request body with the Powertools parser and {@link OrderRequestSchema}
 * (unknown SKUs and repeated SKUs included), returning every problem with its field path.
 */
export function validateOrderRequest(body: unknown): ValidationResult {
  const result = parse(body, undefined, OrderRequestSchema, true);
  if (result.success) return { ok: true, request: result.data };
  const issues = result.error.cause;
  if (!Array.isArray(issues))
    return { ok: false, issues: [{ path: '(body)', message: result.error.message }] };
  return {
    ok: false,
    issues: (issues as readonly { message: string; path?: IssuePath }[]).map((issue) => ({
      path: formatIssuePath(issue.path),
      message: issue.message,
    })),
  };
}

/** Σ priceCents × qty over the lines, from the catalog (the client never sets prices). */
export function priceOrder(items: readonly OrderLine[]): number {
  let amount = 0;
  for (const line of items) {
    const item = findCatalogItem(line.sku);
    if (!item)
      throw new Error(`priceOrder: SKU '${line.sku}' is not in the catalog (validate the order first)`);
    amount += item.priceCents * line.qty;
  }
  return amount;
}

/** The saga's input, carried by the outbox event and given to the state machine execution. */
export type { SagaInput };

/** What {@link buildPlaceOrderTransaction} writes. */
export interface PlaceOrderWrite {
  readonly table: string;
  readonly input: SagaInput;
  readonly eventId: string;
  readonly now: Date;
}

/**
 * The single TransactWriteItems that places an order: the `ORDER#<id>`/`ORDER` row (only if no order has that
 * id) and the `OUTBOX#<id>`/`EVENT#<eventId>` row the stream turns into an `OrderPlaced` event.
 */
export function buildPlaceOrderTransaction(write: PlaceOrderWrite): TransactWriteCommandInput {
  const { table, input, eventId, now } = write;
  const at = now.toISOString();
  return {
    TransactItems: [
      {
        Put: {
          TableName: table,
          Item: {
            pk: `ORDER#${input.orderId}`,
            sk: 'ORDER',
            orderId: input.orderId,
            status: 'PENDING',
            customerId: input.customerId,
            items: input.items.map(({ sku, qty }) => ({ sku, qty })),
            amount: input.amount,
            currency: input.currency,
            createdAt: at,
            updatedAt: at,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      {
        Put: {
          TableName: table,
          Item: {
            pk: `OUTBOX#${input.orderId}`,
            sk: `EVENT#${eventId}`,
            eventId,
            eventType: 'OrderPlaced',
            orderId: input.orderId,
            payload: input,
            createdAt: at,
            ttl: Math.floor(now.getTime() / 1000) + OUTBOX_TTL_SECONDS,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
    ],
  };
}

/** The request fields that must match for a repeated POST to be the same order. */
export const COMPARED_FIELDS = ['customerId', 'items', 'currency'] as const;
/** One of {@link COMPARED_FIELDS}. */
export type ComparedField = (typeof COMPARED_FIELDS)[number];

/** An order with this id exists already with a different request; nothing was written. */
export class OrderAlreadyExistsError extends Error {
  readonly orderId: string;
  /** The fields whose values differ from the existing order's. */
  readonly differences: readonly ComparedField[];

  constructor(orderId: string, differences: readonly ComparedField[], options?: ErrorOptions) {
    super(
      `Order ${orderId} already exists with a different ${differences.join(', ')}; nothing was written. ` +
        `Resend the original request to get that order, place a new order with another orderId (or ` +
        `Idempotency-Key), or read it with GET /orders/${orderId}`,
      options,
    );
    this.name = 'OrderAlreadyExistsError';
    this.orderId = orderId;
    this.differences = differences;
  }
}

/** Lines sorted by SKU, as `{sku, qty}` only: two orders with the same lines in another order are the same. */
function normalisedLines(items: unknown): string {
  if (!Array.isArray(items)) return JSON.stringify(items ?? null);
  const lines = items.map((line: { sku?: unknown; qty?: unknown }) => ({ sku: line?.sku, qty: line?.qty }));
  lines.sort((a, b) => (String(a.sku) < String(b.sku) ? -1 : String(a.sku) > String(b.sku) ? 1 : 0));
  return JSON.stringify(lines);
}

/**
 * The fields of a request that differ from an existing order row (customerId, items as a set of lines,
 * currency); empty when the request repeats the order.
 */
export function orderDifferences(
  existing: Readonly<Record<string, unknown>>,
  request: Pick<OrderRequest, ComparedField>,
): ComparedField[] {
  const differences: ComparedField[] = [];
  if (existing.customerId !== request.customerId) differences.push('customerId');
  if (normalisedLines(existing.items) !== normalisedLines(request.items)) differences.push('items');
  if (existing.currency !== request.currency) differences.push('currency');
  return differences;
}

/** Where orders live. */
export interface OrderStore {
  readonly client: DynamoDBDocumentClient;
  readonly table: string;
}

/** The answer to a POST: the order placed now, or the existing order the request repeats. */
export interface PlacedOrder {
  readonly orderId: string;
  /** `PENDING` for a new order; the existing order's current status for a repeat. */
  readonly status: string;
  /** True when the order existed already (a repeated POST with the same request): nothing was written. */
  readonly existed: boolean;
}

/**
 * Prices and places a validated order: one transaction writes the order and its outbox event, or nothing. When
 * an order with that id exists already, a request with the same customerId, items and currency answers it
 * (`existed: true`, its current status); see {@link orderDifferences}.
 *
 * @throws OrderAlreadyExistsError when the orderId is taken by an order with a different request.
 */
export async function placeOrder(
  store: OrderStore,
  request: OrderRequest,
  now: Date = new Date(),
): Promise<PlacedOrder> {
  const input: SagaInput = {
    orderId: request.orderId ?? ulid(),
    customerId: request.customerId,
    items: request.items.map(({ sku, qty }) => ({ sku, qty })),
    amount: priceOrder(request.items),
    currency: request.currency,
  };
  try {
    await store.client.send(
      new TransactWriteCommand(
        buildPlaceOrderTransaction({ table: store.table, input, eventId: ulid(), now }),
      ),
    );
  } catch (error) {
    if (
      error instanceof TransactionCanceledException &&
      error.CancellationReasons?.[0]?.Code === 'ConditionalCheckFailed'
    ) {
      return existingOrder(store, input.orderId, request, error);
    }
    throw error;
  }
  return { orderId: input.orderId, status: 'PENDING', existed: false };
}

/** The answer for an order id that is taken: the order itself when the request repeats it, else a conflict. */
async function existingOrder(
  store: OrderStore,
  orderId: string,
  request: OrderRequest,
  cause: unknown,
): Promise<PlacedOrder> {
  const existing = await getOrder(store, orderId);
  if (!existing) {
    // Nothing deletes orders, so this is a bug or a manual delete; a retry would place the order afresh.
    throw new Error(`Order ${orderId}: the write was refused as a duplicate, but no order row is there`, {
      cause,
    });
  }
  const differences = orderDifferences(existing, request);
  if (differences.length > 0) throw new OrderAlreadyExistsError(orderId, differences, { cause });
  return { orderId, status: existing.status, existed: true };
}

/** An order as `GET /orders/{id}` returns it: the stored row without its keys. */
export type OrderView = Record<string, unknown> & { readonly orderId: string; readonly status: string };

/** Reads an order, or undefined when there is none. */
export async function getOrder(store: OrderStore, orderId: string): Promise<OrderView | undefined> {
  const { Item } = await store.client.send(
    new GetCommand({
      TableName: store.table,
      Key: { pk: `ORDER#${orderId}`, sk: 'ORDER' },
      ConsistentRead: true,
    }),
  );
  if (!Item) return undefined;
  const { pk: _pk, sk: _sk, ...rest } = Item;
  return { ...rest, orderId, status: String(rest.status) };
}
