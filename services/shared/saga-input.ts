/**
 * The order saga's execution input `{orderId, customerId, items, amount, currency}`, built in one place so that
 * every starter (the outbox publisher from an outbox event's payload, the outbox sweeper from an ORDER row) sends
 * byte-identical input for the same order, and a second start can be recognised as the same one (design §4a
 * rule 7).
 */
import { InvalidInputError } from './errors.ts';
import * as z from './zod.ts';

/** One line of an order: a catalog SKU and a positive quantity. */
export interface SagaInputLine {
  readonly sku: string;
  readonly qty: number;
}

/** The saga's input, carried by the outbox event and given to the state machine execution. */
export interface SagaInput {
  readonly orderId: string;
  readonly customerId: string;
  readonly items: readonly SagaInputLine[];
  /** Minor units (cents). */
  readonly amount: number;
  readonly currency: string;
}

const SagaInputSchema = z.looseObject({
  orderId: z.string().check(z.minLength(1)),
  customerId: z.string().check(z.minLength(1)),
  items: z
    .array(z.looseObject({ sku: z.string().check(z.minLength(1)), qty: z.number() }))
    .check(z.minLength(1)),
  amount: z.number(),
  currency: z.string().check(z.minLength(1)),
});

/**
 * The saga input of an order, from anything that carries its fields (an outbox payload, an ORDER row): exactly
 * the five fields, in a fixed key order, lines reduced to `{sku, qty}`. Other attributes (status, keys,
 * timestamps) are left out.
 *
 * @param what names the source in the error message (e.g. `outbox payload OUTBOX#01J…`).
 * @throws InvalidInputError naming every missing or mistyped field.
 */
export function sagaInputOf(source: unknown, what = 'saga input source'): SagaInput {
  const parsed = z.safeParse(SagaInputSchema, source);
  if (!parsed.success) {
    throw new InvalidInputError(
      what,
      parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`),
    );
  }
  const { orderId, customerId, items, amount, currency } = parsed.data;
  return { orderId, customerId, items: items.map(({ sku, qty }) => ({ sku, qty })), amount, currency };
}

/** The JSON a starter passes to StartExecution. */
export function sagaInputJson(input: SagaInput): string {
  return JSON.stringify(sagaInputOf(input));
}

/** JSON with object keys sorted, so that two encodings of the same value compare equal. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/**
 * Whether an execution's input (the JSON string Step Functions holds) is the input we would send: the same JSON
 * value, whatever the key order or whitespace. Unparseable or missing input is never equal.
 */
export function sameSagaInput(executionInput: string | undefined, expected: SagaInput): boolean {
  if (executionInput === undefined) return false;
  try {
    return canonicalJson(JSON.parse(executionInput)) === canonicalJson(sagaInputOf(expected));
  } catch {
    return false;
  }
}
