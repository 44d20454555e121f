/**
 * Operation input validation for the local services: a small schema per operation, checked against the AWS SDK's
 * own input type, and one error shape for every service.
 *
 * ```ts
 * const START_EXECUTION = defineInput<StartExecutionInput>()({
 *   stateMachineArn: 'string',
 *   name: 'string?',
 *   input: 'string?',
 * });
 * const { stateMachineArn, name } = START_EXECUTION.parse(body); // string, string | undefined
 * ```
 *
 * A rule is a kind (`'string'`), optional with a `?` (`'string?'`), or an object with limits
 * (`{ type: 'integer', optional: true, min: 1, max: 50 }`, `{ type: 'string', oneOf: ['A', 'B'] }`). `null` counts
 * as absent, as AWS JSON protocols treat it. Against the SDK type, a schema may only name the operation's members,
 * with a kind their type allows, and must not make optional what AWS requires.
 *
 * A bad input is an {@link AwsError} in AWS's validation wording, naming each failing member, what it must be and
 * what it was: `1 validation error detected: Value 42 at 'name' failed to satisfy constraint: Member must be a
 * string`. Its type is the service's (`ValidationException`; CloudWatch Logs `InvalidParameterException`; SQS
 * `InvalidParameterValue`, with `MissingParameter` for an absent member).
 */
import { AwsError } from './aws-error.ts';

/** What a member may be. `map` is a JSON object; `unknown` is anything (passed through unchecked). */
export type InputKind = 'string' | 'number' | 'integer' | 'boolean' | 'string[]' | 'list' | 'map' | 'unknown';

interface KindValues {
  string: string;
  number: number;
  integer: number;
  boolean: boolean;
  'string[]': string[];
  list: unknown[];
  map: Record<string, unknown>;
  unknown: unknown;
}

/** The rule of one member, with limits. */
export interface FieldLimits<K extends InputKind = InputKind> {
  readonly type: K;
  /** @default false */
  readonly optional?: boolean;
  /** The least length (string, list) or value (number). */
  readonly min?: number;
  /** The greatest length (string, list) or value (number). */
  readonly max?: number;
  /** The values allowed (an enum). */
  readonly oneOf?: readonly (string | number)[];
}

/** The rule of one member: `'string'`, `'string?'` (optional) or {@link FieldLimits}. */
export type FieldRule<K extends InputKind = InputKind> = K | `${K}?` | FieldLimits<K>;

/** How a service reports bad input. */
export interface InputErrors {
  /** The error type, e.g. `ValidationException`. */
  readonly type: string;
  /** A service with its own error for an absent member (SQS: `MissingParameter`). */
  readonly missing?: {
    readonly type: string;
    readonly message: (field: string) => string;
    /** An empty string counts as absent for a required string member. @default false */
    readonly emptyString?: boolean;
  };
}

/** AWS's usual: `ValidationException`. */
export const VALIDATION_EXCEPTION: InputErrors = { type: 'ValidationException' };

// --- Types: what a schema parses to, and which schemas an SDK input type admits. ---

type KindOf<R> = R extends `${infer K extends InputKind}?`
  ? K
  : R extends InputKind
    ? R
    : R extends { readonly type: infer K extends InputKind }
      ? K
      : never;
type IsOptional<R> = R extends `${string}?` ? true : R extends { readonly optional: true } ? true : false;
type ValueOf<R> = R extends { readonly oneOf: readonly (infer U)[] } ? U : KindValues[KindOf<R>];

/** The parsed input of a schema: each member typed by its rule, `| undefined` when optional. */
export type ParsedInput<S> = {
  -readonly [K in keyof S]: IsOptional<S[K]> extends true ? ValueOf<S[K]> | undefined : ValueOf<S[K]>;
};

type Present<V> = Exclude<V, undefined | null>;
/** The kinds that can hold an SDK member of type `V`. */
type KindsFor<V> = unknown extends V
  ? InputKind
  :
      | (Present<V> extends string ? 'string' : never)
      | (Present<V> extends number ? 'number' | 'integer' : never)
      | (Present<V> extends boolean ? 'boolean' : never)
      | (Present<V> extends readonly string[] ? 'string[]' : never)
      | (Present<V> extends readonly unknown[] ? 'list' : Present<V> extends object ? 'map' : never)
      | 'unknown';
// biome-ignore lint/complexity/noBannedTypes: `{}` is exactly the test for an optional property.
type RequiredKeys<T> = { [K in keyof T]-?: {} extends Pick<T, K> ? never : K }[keyof T];
type RuleFor<T, K extends keyof T> =
  K extends RequiredKeys<T>
    ? KindsFor<T[K]> | (FieldLimits<KindsFor<T[K]>> & { readonly optional?: false })
    : FieldRule<KindsFor<T[K]>>;
/** The schemas the SDK input type `T` admits. */
export type SchemaFor<T, S> = { readonly [K in keyof S]: K extends keyof T ? RuleFor<T, K> : never };

/** A schema of one operation's input. */
export interface InputSchema<P> {
  /** Checks `input` and returns its members as the schema types them; throws {@link AwsError} if it is bad. */
  parse(input: Readonly<Record<string, unknown>>): P;
}

/**
 * A schema for an operation whose input is the SDK type `T` (`StartExecutionInput`, `PutLogEventsRequest`…):
 * `defineInput<T>()(fields, errors?)`. Without `T`, any member names and kinds are allowed.
 */
export function defineInput<T = Record<string, unknown>>() {
  return <const S extends SchemaFor<T, S>>(
    fields: S,
    errors: InputErrors = VALIDATION_EXCEPTION,
  ): InputSchema<ParsedInput<S>> => compile(fields as Readonly<Record<string, FieldRule>>, errors);
}

/** One-off: parses `input` with `fields` (no SDK type check). */
export function parseInput<const S extends Readonly<Record<string, FieldRule>>>(
  input: Readonly<Record<string, unknown>>,
  fields: S,
  errors: InputErrors = VALIDATION_EXCEPTION,
): ParsedInput<S> {
  return compile<ParsedInput<S>>(fields, errors).parse(input);
}

// --- Checking. ---

interface Rule extends FieldLimits {
  readonly optional: boolean;
}

interface Violation {
  readonly field: string;
  readonly value: unknown;
  /** What the member must do, after "Member must ". */
  readonly expected: string;
  readonly missing: boolean;
}

function compile<P>(fields: Readonly<Record<string, FieldRule>>, errors: InputErrors): InputSchema<P> {
  const rules = Object.entries(fields).map(([field, rule]) => [field, normalize(rule)] as const);
  return { parse: (input) => parseWith(input, rules, errors) as P };
}

function normalize(rule: FieldRule): Rule {
  if (typeof rule === 'string') {
    return rule.endsWith('?')
      ? { type: rule.slice(0, -1) as InputKind, optional: true }
      : { type: rule as InputKind, optional: false };
  }
  return { ...rule, optional: rule.optional ?? false };
}

const KIND_CHECKS: Readonly<Record<InputKind, { test: (value: unknown) => boolean; expected: string }>> = {
  string: { test: (v) => typeof v === 'string', expected: 'be a string' },
  number: { test: (v) => typeof v === 'number' && Number.isFinite(v), expected: 'be a number' },
  integer: { test: (v) => Number.isInteger(v), expected: 'be an integer' },
  boolean: { test: (v) => typeof v === 'boolean', expected: 'be a boolean' },
  'string[]': {
    test: (v) => Array.isArray(v) && v.every((item) => typeof item === 'string'),
    expected: 'be a list of strings',
  },
  list: { test: (v) => Array.isArray(v), expected: 'be a list' },
  map: {
    test: (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
    expected: 'be a map (a JSON object)',
  },
  unknown: { test: () => true, expected: 'be present' },
};

function check(field: string, value: unknown, rule: Rule, errors: InputErrors): Violation | undefined {
  const absent =
    value === undefined ||
    value === null ||
    (!rule.optional && value === '' && rule.type === 'string' && errors.missing?.emptyString === true);
  if (absent) {
    return rule.optional ? undefined : { field, value, expected: 'not be null', missing: true };
  }
  const kind = KIND_CHECKS[rule.type];
  if (!kind.test(value)) return { field, value, expected: kind.expected, missing: false };
  if (rule.oneOf !== undefined && !rule.oneOf.includes(value as string | number)) {
    return { field, value, expected: `satisfy enum value set: [${rule.oneOf.join(', ')}]`, missing: false };
  }
  const size =
    typeof value === 'number'
      ? value
      : typeof value === 'string' || Array.isArray(value)
        ? value.length
        : undefined;
  if (size === undefined || (rule.min === undefined && rule.max === undefined)) return undefined;
  if ((rule.min === undefined || size >= rule.min) && (rule.max === undefined || size <= rule.max))
    return undefined;
  const what = typeof value === 'number' ? 'value' : 'length';
  const expected =
    rule.min !== undefined && rule.max !== undefined
      ? `have ${what} between ${rule.min} and ${rule.max}`
      : rule.min !== undefined
        ? `have ${what} greater than or equal to ${rule.min}`
        : `have ${what} less than or equal to ${rule.max}`;
  return { field, value, expected, missing: false };
}

function parseWith(
  input: Readonly<Record<string, unknown>>,
  rules: readonly (readonly [string, Rule])[],
  errors: InputErrors,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const violations: Violation[] = [];
  for (const [field, rule] of rules) {
    const value = input[field];
    const violation = check(field, value, rule, errors);
    if (violation) violations.push(violation);
    else out[field] = value === null ? undefined : value;
  }
  if (violations.length === 0) return out;
  const missing = violations.find((v) => v.missing);
  if (missing && errors.missing)
    throw new AwsError(errors.missing.type, errors.missing.message(missing.field));
  throw new AwsError(errors.type, validationMessage(violations));
}

/** AWS's wording: `2 validation errors detected: Value … at 'a' failed to satisfy constraint: Member must …; …`. */
function validationMessage(violations: readonly Violation[]): string {
  const n = violations.length;
  const each = violations.map(
    (v) => `Value ${show(v.value)} at '${v.field}' failed to satisfy constraint: Member must ${v.expected}`,
  );
  return `${n} validation error${n === 1 ? '' : 's'} detected: ${each.join('; ')}`;
}

const SHOWN_CHARS = 100;

/** The value received, as the message shows it: `null`, `'text'`, `42`, `{"a":1}` (long ones cut). */
function show(value: unknown): string {
  if (value === undefined || value === null) return 'null';
  let text: string;
  if (typeof value === 'string') text = `'${value}'`;
  else if (typeof value === 'number' || typeof value === 'boolean') text = String(value);
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = String(value);
    }
  }
  return text.length > SHOWN_CHARS ? `${text.slice(0, SHOWN_CHARS)}…` : text;
}
