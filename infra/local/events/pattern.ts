/**
 * EventBridge event patterns (content filtering), as EventBridge rules and Lambda `FilterCriteria` apply them.
 *
 * Semantics follow AWS's documentation and its open-source matcher (aws/event-ruler): the event is seen as
 * leaf values at dotted paths; a pattern key with an array matches when ANY of its conditions matches ANY leaf
 * value at that path (arrays in the event contribute every element); keys are ANDed; `$or` takes sub-patterns.
 * A missing field matches only `{"exists": false}`; `anything-but` needs the field to be present.
 */
import { BlockList, isIP } from 'node:net';
import { AwsError } from '../wire/aws-error.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type PatternObject = Record<string, unknown>;
type Scalar = null | boolean | number | string;

const MATCH_OPERATORS = new Set([
  'prefix',
  'suffix',
  'equals-ignore-case',
  'anything-but',
  'numeric',
  'exists',
  'wildcard',
  'cidr',
]);
const NUMERIC_OPERATORS = new Set(['<', '<=', '=', '>', '>=']);

/**
 * Whether `event` matches the EventBridge `pattern` (an object, or its JSON text). Supports exact strings,
 * numbers (compared numerically), booleans and null; `prefix`, `suffix` (both also with `equals-ignore-case`);
 * `equals-ignore-case`; `anything-but` (values, lists, `prefix`, `suffix`, `equals-ignore-case`, `wildcard`);
 * `exists`; `numeric` ranges; `wildcard`; `cidr`; `$or`; nested objects; arrays on the event side.
 * Throws `AwsError('InvalidEventPatternException')` for a pattern that EventBridge would reject.
 */
export function matchesEventPattern(pattern: unknown, event: unknown): boolean {
  const compiled = parsePattern(pattern);
  validateObject(compiled, '');
  return matchObject(compiled, event);
}

/**
 * Checks a pattern the way PutRule does. Throws `AwsError('InvalidEventPatternException', …)` naming the
 * offending path, what was found there, and what is allowed.
 */
export function validateEventPattern(pattern: unknown): void {
  validateObject(parsePattern(pattern), '');
}

function invalid(reason: string, path: string): AwsError {
  const where = path === '' ? '' : ` at "${path}"`;
  return new AwsError(
    'InvalidEventPatternException',
    `Event pattern is not valid. Reason: ${reason}${where}.`,
  );
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parsePattern(pattern: unknown): PatternObject {
  let value = pattern;
  if (typeof pattern === 'string') {
    try {
      value = JSON.parse(pattern) as Json;
    } catch (error) {
      throw new AwsError(
        'InvalidEventPatternException',
        `Event pattern is not valid. Reason: it is not valid JSON (${(error as Error).message}). Received: ${describe(pattern)}.`,
        400,
        { cause: error },
      );
    }
  }
  if (!isPlainObject(value)) {
    throw invalid(
      `the pattern must be a JSON object such as {"source": ["my.app"]}, received ${describe(value)}`,
      '',
    );
  }
  return value;
}

// ---------------------------------------------------------------------------------------------------------------
// Validation

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function validateObject(pattern: PatternObject, path: string): void {
  const keys = Object.keys(pattern);
  if (keys.length === 0) throw invalid('an empty object matches nothing; name at least one field', path);
  for (const key of keys) {
    const value = pattern[key];
    const here = join(path, key);
    if (key === '$or') {
      if (!Array.isArray(value) || value.length < 2 || !value.every(isPlainObject)) {
        throw invalid(
          `"$or" must be an array of at least two pattern objects, received ${describe(value)}`,
          here,
        );
      }
      for (const sub of value) validateObject(sub, path);
    } else if (Array.isArray(value)) {
      if (value.length === 0)
        throw invalid('empty arrays are not allowed; list at least one value to match', here);
      for (const condition of value) validateCondition(condition, here);
    } else if (isPlainObject(value)) {
      validateObject(value, here);
    } else {
      throw invalid(
        `a field must hold an array of values to match (e.g. ["value"]) or a nested object, received ${describe(value)}`,
        here,
      );
    }
  }
}

function validateCondition(condition: unknown, path: string): void {
  if (condition === null || ['string', 'number', 'boolean'].includes(typeof condition)) return;
  if (Array.isArray(condition))
    throw invalid(`nested arrays are not allowed, received ${describe(condition)}`, path);
  if (!isPlainObject(condition)) throw invalid(`unsupported value ${describe(condition)}`, path);
  const keys = Object.keys(condition);
  if (keys.length !== 1) {
    throw invalid(`a match expression must have exactly one operator, received ${describe(condition)}`, path);
  }
  const operator = keys[0] as string;
  const operand = condition[operator];
  switch (operator) {
    case 'prefix':
    case 'suffix':
      if (typeof operand === 'string') return;
      if (
        isPlainObject(operand) &&
        Object.keys(operand).length === 1 &&
        typeof operand['equals-ignore-case'] === 'string'
      )
        return;
      throw invalid(
        `"${operator}" takes a string or {"equals-ignore-case": "..."}, received ${describe(operand)}`,
        path,
      );
    case 'equals-ignore-case':
      if (typeof operand === 'string') return;
      throw invalid(`"equals-ignore-case" takes a string, received ${describe(operand)}`, path);
    case 'exists':
      if (typeof operand === 'boolean') return;
      throw invalid(`"exists" takes true or false, received ${describe(operand)}`, path);
    case 'wildcard':
      if (typeof operand !== 'string')
        throw invalid(`"wildcard" takes a string, received ${describe(operand)}`, path);
      checkWildcard(operand, path);
      return;
    case 'cidr':
      if (typeof operand !== 'string' || parseCidr(operand) === undefined) {
        throw invalid(
          `"cidr" takes an IPv4 or IPv6 block such as "10.0.0.0/24", received ${describe(operand)}`,
          path,
        );
      }
      return;
    case 'numeric':
      validateNumeric(operand, path);
      return;
    case 'anything-but':
      validateAnythingBut(operand, path);
      return;
    default:
      throw invalid(
        `unrecognized match type "${operator}"; use one of ${[...MATCH_OPERATORS].join(', ')} or a plain value`,
        path,
      );
  }
}

function validateAnythingBut(operand: unknown, path: string): void {
  if (typeof operand === 'string' || typeof operand === 'number') return;
  if (Array.isArray(operand)) {
    const allStrings = operand.every((v) => typeof v === 'string');
    const allNumbers = operand.every((v) => typeof v === 'number');
    if (operand.length > 0 && (allStrings || allNumbers)) return;
    throw invalid(
      `"anything-but" takes a non-empty list of only strings or only numbers, received ${describe(operand)}`,
      path,
    );
  }
  if (isPlainObject(operand) && Object.keys(operand).length === 1) {
    const [key] = Object.keys(operand) as [string];
    const inner = operand[key];
    const stringOrList =
      typeof inner === 'string' ||
      (Array.isArray(inner) && inner.length > 0 && inner.every((v) => typeof v === 'string'));
    if ((key === 'prefix' || key === 'suffix') && typeof inner === 'string') return;
    if ((key === 'equals-ignore-case' || key === 'wildcard') && stringOrList) {
      if (key === 'wildcard') for (const w of [inner].flat() as string[]) checkWildcard(w, path);
      return;
    }
  }
  throw invalid(
    `"anything-but" takes a value, a list, or one of {"prefix"|"suffix": "..."}, {"equals-ignore-case"|"wildcard": "..." | [...]}, received ${describe(operand)}`,
    path,
  );
}

function validateNumeric(operand: unknown, path: string): void {
  const fail = (why: string) =>
    invalid(`"numeric" ${why}, e.g. [">", 0, "<=", 5] or ["=", 3]; received ${describe(operand)}`, path);
  if (!Array.isArray(operand) || operand.length === 0 || operand.length % 2 !== 0 || operand.length > 4) {
    throw fail('takes one or two operator/number pairs');
  }
  let lower: number | undefined;
  let upper: number | undefined;
  for (let i = 0; i < operand.length; i += 2) {
    const op = operand[i];
    const value = operand[i + 1];
    if (typeof op !== 'string' || !NUMERIC_OPERATORS.has(op))
      throw fail(`has unknown operator ${describe(op)}`);
    if (typeof value !== 'number' || !Number.isFinite(value)) throw fail(`needs a number after "${op}"`);
    if (op === '=') {
      if (operand.length !== 2) throw fail('cannot combine "=" with another operator');
    } else if (op.startsWith('>')) {
      if (lower !== undefined) throw fail('has two lower bounds');
      lower = value;
    } else {
      if (upper !== undefined) throw fail('has two upper bounds');
      upper = value;
    }
  }
  if (lower !== undefined && upper !== undefined && lower >= upper)
    throw fail('has a lower bound not below its upper bound');
}

function checkWildcard(pattern: string, path: string): void {
  let previousStar = false;
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '\\') {
      const next = pattern[i + 1];
      if (next !== '*' && next !== '\\') {
        throw invalid(`"wildcard" allows only \\* and \\\\ as escapes, received ${describe(pattern)}`, path);
      }
      i++;
      previousStar = false;
    } else if (ch === '*') {
      if (previousStar) {
        throw invalid(
          `"wildcard" does not allow consecutive "*" characters, received ${describe(pattern)}`,
          path,
        );
      }
      previousStar = true;
    } else {
      previousStar = false;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Matching

function matchObject(pattern: PatternObject, event: unknown): boolean {
  for (const [key, value] of Object.entries(pattern)) {
    if (key === '$or') {
      if (!(value as PatternObject[]).some((sub) => matchObject(sub, event))) return false;
      continue;
    }
    const field = isPlainObject(event) && Object.hasOwn(event, key) ? event[key] : undefined;
    if (Array.isArray(value)) {
      if (!matchLeaf(value, leafValues(field))) return false;
    } else if (!matchNested(value as PatternObject, field)) {
      return false;
    }
  }
  return true;
}

function matchNested(pattern: PatternObject, field: unknown): boolean {
  if (Array.isArray(field)) {
    // An array of objects matches when one element satisfies the whole sub-pattern (same-element semantics).
    const objects = field.flat(Number.POSITIVE_INFINITY).filter(isPlainObject);
    if (objects.length > 0) return objects.some((element) => matchObject(pattern, element));
    return matchObject(pattern, undefined);
  }
  return matchObject(pattern, isPlainObject(field) ? field : undefined);
}

/** Leaf values at a path: a scalar is one value, an array contributes its scalar elements, an object none. */
function leafValues(field: unknown): Scalar[] {
  if (field === undefined) return [];
  if (Array.isArray(field)) {
    return field
      .flat(Number.POSITIVE_INFINITY)
      .filter((v): v is Scalar => v === null || typeof v !== 'object');
  }
  if (typeof field === 'object' && field !== null) return [];
  return [field as Scalar];
}

function matchLeaf(conditions: readonly unknown[], values: readonly Scalar[]): boolean {
  return conditions.some((condition) => matchCondition(condition, values));
}

/** Strict equality: numbers compare by value (300 equals 3.0e2), a string never equals a number. */
function sameValue(a: Scalar, b: unknown): boolean {
  return a === b;
}

function matchCondition(condition: unknown, values: readonly Scalar[]): boolean {
  if (!isPlainObject(condition)) return values.some((v) => sameValue(v, condition));
  const [operator] = Object.keys(condition) as [string];
  const operand = condition[operator];
  const strings = values.filter((v): v is string => typeof v === 'string');
  switch (operator) {
    case 'exists':
      return operand === true ? values.length > 0 : values.length === 0;
    case 'prefix':
      return strings.some((v) => affixMatches(v, operand, 'prefix'));
    case 'suffix':
      return strings.some((v) => affixMatches(v, operand, 'suffix'));
    case 'equals-ignore-case':
      return strings.some((v) => foldCase(v) === foldCase(operand as string));
    case 'wildcard':
      return strings.some((v) => wildcardRegExp(operand as string).test(v));
    case 'numeric':
      return values.some((v) => typeof v === 'number' && inNumericRange(v, operand as (string | number)[]));
    case 'cidr': {
      const block = parseCidr(operand as string);
      return strings.some((v) => block?.matches(v) === true);
    }
    case 'anything-but':
      return values.some((v) => anythingButMatches(v, operand));
    default:
      return false;
  }
}

function foldCase(value: string): string {
  return value.toLowerCase();
}

function affixMatches(value: string, operand: unknown, kind: 'prefix' | 'suffix'): boolean {
  const ignoreCase = isPlainObject(operand);
  const affix = ignoreCase ? (operand['equals-ignore-case'] as string) : (operand as string);
  const subject = ignoreCase ? foldCase(value) : value;
  const wanted = ignoreCase ? foldCase(affix) : affix;
  return kind === 'prefix' ? subject.startsWith(wanted) : subject.endsWith(wanted);
}

function anythingButMatches(value: Scalar, operand: unknown): boolean {
  if (Array.isArray(operand)) return !operand.some((excluded) => sameValue(value, excluded));
  if (!isPlainObject(operand)) return !sameValue(value, operand);
  const [key] = Object.keys(operand) as [string];
  const inner = operand[key];
  // Non-string values (numbers, booleans, null) are never excluded by a string-shaped anything-but.
  if (typeof value !== 'string') return true;
  switch (key) {
    case 'prefix':
      return !value.startsWith(inner as string);
    case 'suffix':
      return !value.endsWith(inner as string);
    case 'equals-ignore-case':
      return !([inner].flat() as string[]).some((s) => foldCase(s) === foldCase(value));
    case 'wildcard':
      return !([inner].flat() as string[]).some((w) => wildcardRegExp(w).test(value));
    default:
      return false;
  }
}

function inNumericRange(value: number, spec: readonly (string | number)[]): boolean {
  for (let i = 0; i < spec.length; i += 2) {
    const bound = spec[i + 1] as number;
    switch (spec[i]) {
      case '=':
        if (value !== bound) return false;
        break;
      case '<':
        if (!(value < bound)) return false;
        break;
      case '<=':
        if (!(value <= bound)) return false;
        break;
      case '>':
        if (!(value > bound)) return false;
        break;
      case '>=':
        if (!(value >= bound)) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

const wildcardCache = new Map<string, RegExp>();

function wildcardRegExp(pattern: string): RegExp {
  const cached = wildcardCache.get(pattern);
  if (cached) return cached;
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] as string;
    if (ch === '\\') {
      source += escapeRegExp(pattern[i + 1] ?? '\\');
      i++;
    } else if (ch === '*') {
      source += '.*';
    } else {
      source += escapeRegExp(ch);
    }
  }
  const compiled = new RegExp(`^${source}$`, 's');
  wildcardCache.set(pattern, compiled);
  return compiled;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function parseCidr(text: string): { matches(address: string): boolean } | undefined {
  const slash = text.indexOf('/');
  const address = slash === -1 ? text : text.slice(0, slash);
  const family = isIP(address);
  if (family === 0) return undefined;
  const maxPrefix = family === 4 ? 32 : 128;
  const prefix = slash === -1 ? maxPrefix : Number(text.slice(slash + 1));
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > maxPrefix) return undefined;
  const type = family === 4 ? 'ipv4' : 'ipv6';
  const list = new BlockList();
  list.addSubnet(address, prefix, type);
  return { matches: (candidate) => isIP(candidate) === family && list.check(candidate, type) };
}
