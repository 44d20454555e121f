/**
 * CloudWatch Logs filter patterns, compiled to a matcher of one log event message: pure (parse + match), no I/O.
 * The Logs service uses it for FilterLogEvents.
 */

/** A filter pattern that does not parse; `position` is the 0-based offset of the offending character. */
export class FilterPatternError extends Error {
  readonly position: number;

  constructor(pattern: string, position: number, reason: string) {
    super(`Invalid filter pattern at position ${position + 1}: ${reason}. Pattern: ${pattern}`);
    this.name = 'FilterPatternError';
    this.position = position;
  }
}

/** Tests one log event message. */
export type LogEventMatcher = (message: string) => boolean;

/**
 * Compiles a CloudWatch Logs filter pattern: empty (everything); terms (`ERROR Exception` all of them,
 * `?ERROR ?WARN` any of them, `-term` none of them, `"exact phrase"`, `%regex%`); or a JSON pattern
 * (`{ $.orderId = "01J…" }`, `!=`, `< > <= >=` on numbers, `*` wildcards in values, `&&`, `||`, parentheses,
 * `IS NULL`, `NOT EXISTS`, `IS TRUE|FALSE`, selectors `$.a.b`, `$.a[0]`, `$.a[*]`). A JSON pattern applies to the
 * message's JSON, or to the JSON that follows a text prefix (Lambda's `<time>\t<requestId>\tINFO\t{…}`).
 * Space-delimited patterns (`[a, b]`) are not supported. Throws {@link FilterPatternError}.
 */
export function compileFilterPattern(pattern: string): LogEventMatcher {
  const trimmed = pattern.trim();
  if (trimmed === '') return () => true;
  if (trimmed.startsWith('{')) return compileJsonPattern(pattern);
  if (trimmed.startsWith('[')) {
    throw new FilterPatternError(
      pattern,
      pattern.indexOf('['),
      'space-delimited patterns ([field, …]) are not supported by the local cloud; use terms or a JSON pattern',
    );
  }
  return compileTermPattern(pattern);
}

interface Term {
  readonly mode: 'all' | 'any' | 'none';
  readonly test: (message: string) => boolean;
}

function compileTermPattern(pattern: string): LogEventMatcher {
  const terms: Term[] = [];
  let i = 0;
  while (i < pattern.length) {
    if (/\s/.test(pattern.charAt(i))) {
      i++;
      continue;
    }
    let mode: Term['mode'] = 'all';
    if (pattern[i] === '?' || pattern[i] === '-') {
      mode = pattern[i] === '?' ? 'any' : 'none';
      i++;
      if (i >= pattern.length || /\s/.test(pattern.charAt(i))) {
        throw new FilterPatternError(pattern, i - 1, `expected a term right after "${pattern[i - 1]}"`);
      }
    }
    const start = i;
    if (pattern[i] === '"') {
      const { value, end } = readQuoted(pattern, i);
      i = end;
      terms.push({ mode, test: (message) => message.includes(value) });
    } else if (pattern[i] === '%') {
      const { regex, end } = readRegex(pattern, i);
      i = end;
      terms.push({ mode, test: (message) => regex.test(message) });
    } else {
      while (i < pattern.length && !/\s/.test(pattern.charAt(i))) i++;
      const word = pattern.slice(start, i);
      if (word.includes('"')) {
        throw new FilterPatternError(
          pattern,
          start + word.indexOf('"'),
          'a term with quotes must be quoted as a whole',
        );
      }
      terms.push({ mode, test: (message) => containsWord(message, word) });
    }
  }
  const all = terms.filter((t) => t.mode === 'all');
  const any = terms.filter((t) => t.mode === 'any');
  const none = terms.filter((t) => t.mode === 'none');
  return (message) =>
    all.every((t) => t.test(message)) &&
    (any.length === 0 || any.some((t) => t.test(message))) &&
    !none.some((t) => t.test(message));
}

const ALNUM = /[A-Za-z0-9]/;

/** An unquoted term matches a whole word: not inside a longer run of letters and digits (AUTHORIZED ≠ UNAUTHORIZED). */
function containsWord(message: string, word: string): boolean {
  const boundedStart = ALNUM.test(word.charAt(0));
  const boundedEnd = ALNUM.test(word.charAt(word.length - 1));
  for (let at = message.indexOf(word); at !== -1; at = message.indexOf(word, at + 1)) {
    const before = message.charAt(at - 1);
    const after = message.charAt(at + word.length);
    if ((!boundedStart || !ALNUM.test(before)) && (!boundedEnd || !ALNUM.test(after))) return true;
  }
  return false;
}

function readQuoted(pattern: string, start: number): { value: string; end: number } {
  let value = '';
  for (let i = start + 1; i < pattern.length; i++) {
    const c = pattern.charAt(i);
    if (c === '\\' && i + 1 < pattern.length) {
      value += pattern.charAt(++i);
    } else if (c === '"') {
      return { value, end: i + 1 };
    } else {
      value += c;
    }
  }
  throw new FilterPatternError(pattern, start, 'this quoted string is never closed (missing ")');
}

function readRegex(pattern: string, start: number): { regex: RegExp; end: number } {
  const close = pattern.indexOf('%', start + 1);
  if (close === -1)
    throw new FilterPatternError(pattern, start, 'this regular expression is never closed (missing %)');
  const source = pattern.slice(start + 1, close);
  if (source === '') throw new FilterPatternError(pattern, start, 'empty regular expression %%');
  try {
    return { regex: new RegExp(source), end: close + 1 };
  } catch (cause) {
    throw new FilterPatternError(
      pattern,
      start + 1,
      `invalid regular expression: ${(cause as Error).message}`,
    );
  }
}

type JsonToken =
  | { readonly kind: 'punct'; readonly value: '(' | ')' | '&&' | '||' | '}'; readonly pos: number }
  | { readonly kind: 'op'; readonly value: '=' | '!=' | '<' | '>' | '<=' | '>='; readonly pos: number }
  | { readonly kind: 'selector'; readonly path: readonly PathStep[]; readonly pos: number }
  | { readonly kind: 'string'; readonly value: string; readonly pos: number }
  | { readonly kind: 'regex'; readonly regex: RegExp; readonly pos: number }
  | { readonly kind: 'word'; readonly value: string; readonly pos: number };

type PathStep = { readonly key: string } | { readonly index: number } | { readonly any: true };

type JsonPredicate = (root: unknown) => boolean;

const WORD_CHAR = /[^\s()=!<>&|"{}]/;
const KEY_CHAR = /[^\s.[\]()=!<>&|"{}]/;
const NUMBER = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

function tokenizeJsonPattern(pattern: string, open: number): JsonToken[] {
  const tokens: JsonToken[] = [];
  let i = open + 1;
  const fail = (pos: number, reason: string): never => {
    throw new FilterPatternError(pattern, pos, reason);
  };
  while (i < pattern.length) {
    const c = pattern.charAt(i);
    const two = pattern.slice(i, i + 2);
    if (/\s/.test(c)) {
      i++;
    } else if (c === '(' || c === ')' || c === '}') {
      tokens.push({ kind: 'punct', value: c, pos: i });
      i++;
      if (c === '}') {
        const rest = pattern.slice(i);
        if (rest.trim() !== '') fail(i + rest.search(/\S/), 'unexpected text after the closing "}"');
        return tokens;
      }
    } else if (two === '&&' || two === '||') {
      tokens.push({ kind: 'punct', value: two, pos: i });
      i += 2;
    } else if (two === '!=' || two === '<=' || two === '>=') {
      tokens.push({ kind: 'op', value: two, pos: i });
      i += 2;
    } else if (c === '=' || c === '<' || c === '>') {
      tokens.push({ kind: 'op', value: c, pos: i });
      i++;
    } else if (c === '$') {
      const pos = i;
      const path: PathStep[] = [];
      i++;
      while (pattern[i] === '.' || pattern[i] === '[') {
        if (pattern[i] === '.') {
          const start = ++i;
          while (i < pattern.length && KEY_CHAR.test(pattern.charAt(i))) i++;
          if (i === start) fail(start, 'expected a field name after "."');
          path.push({ key: pattern.slice(start, i) });
        } else {
          const close = pattern.indexOf(']', i);
          if (close === -1) fail(i, 'this "[" is never closed');
          const inside = pattern.slice(i + 1, close).trim();
          if (inside === '*') path.push({ any: true });
          else if (/^\d+$/.test(inside)) path.push({ index: Number(inside) });
          else fail(i + 1, `expected an array index or * inside [], found "${inside}"`);
          i = close + 1;
        }
      }
      if (path.length === 0) fail(pos, 'a selector needs at least one field, such as $.orderId');
      tokens.push({ kind: 'selector', path, pos });
    } else if (c === '"') {
      const { value, end } = readQuoted(pattern, i);
      tokens.push({ kind: 'string', value, pos: i });
      i = end;
    } else if (c === '%') {
      const { regex, end } = readRegex(pattern, i);
      tokens.push({ kind: 'regex', regex, pos: i });
      i = end;
    } else if (WORD_CHAR.test(c)) {
      const start = i;
      while (i < pattern.length && WORD_CHAR.test(pattern.charAt(i))) i++;
      tokens.push({ kind: 'word', value: pattern.slice(start, i), pos: start });
    } else {
      fail(i, `unexpected character "${c}"`);
    }
  }
  return fail(pattern.length, 'the JSON pattern is never closed (missing "}")');
}

function compileJsonPattern(pattern: string): LogEventMatcher {
  const tokens = tokenizeJsonPattern(pattern, pattern.indexOf('{'));
  let at = 0;
  const peek = (): JsonToken | undefined => tokens[at];
  const describe = (token: JsonToken | undefined): string => {
    if (!token) return 'the end of the pattern';
    if (token.kind === 'selector') return `selector ${pattern.slice(token.pos).split(/[\s()=!<>&|]/)[0]}`;
    if (token.kind === 'regex') return 'a regular expression';
    return `"${token.value}"`;
  };
  const fail = (token: JsonToken | undefined, expected: string): never => {
    throw new FilterPatternError(
      pattern,
      token?.pos ?? pattern.length,
      `expected ${expected}, found ${describe(token)}`,
    );
  };

  const parseOr = (): JsonPredicate => {
    const parts = [parseAnd()];
    for (let t = peek(); t?.kind === 'punct' && t.value === '||'; t = peek()) {
      at++;
      parts.push(parseAnd());
    }
    return parts.length === 1 ? (parts[0] as JsonPredicate) : (root) => parts.some((p) => p(root));
  };
  const parseAnd = (): JsonPredicate => {
    const parts = [parseUnary()];
    for (let t = peek(); t?.kind === 'punct' && t.value === '&&'; t = peek()) {
      at++;
      parts.push(parseUnary());
    }
    return parts.length === 1 ? (parts[0] as JsonPredicate) : (root) => parts.every((p) => p(root));
  };
  const parseUnary = (): JsonPredicate => {
    const token = peek();
    if (token?.kind === 'punct' && token.value === '(') {
      at++;
      const inner = parseOr();
      const close = peek();
      if (!(close?.kind === 'punct' && close.value === ')')) fail(close, '")" or an operator (&&, ||)');
      at++;
      return inner;
    }
    if (token?.kind !== 'selector') return fail(token, 'a selector such as $.orderId or "("');
    at++;
    return parseCondition(token.path);
  };
  const keyword = (token: JsonToken | undefined, word: string): boolean =>
    token?.kind === 'word' && token.value.toUpperCase() === word;
  const parseCondition = (path: readonly PathStep[]): JsonPredicate => {
    const token = peek();
    if (keyword(token, 'IS')) {
      at++;
      const what = peek();
      at++;
      if (keyword(what, 'NULL')) return (root) => select(root, path).some((v) => v === null);
      if (keyword(what, 'TRUE')) return (root) => select(root, path).some((v) => v === true);
      if (keyword(what, 'FALSE')) return (root) => select(root, path).some((v) => v === false);
      return fail(what, 'NULL, TRUE or FALSE after IS');
    }
    if (keyword(token, 'NOT')) {
      at++;
      const what = peek();
      if (!keyword(what, 'EXISTS')) fail(what, 'EXISTS after NOT');
      at++;
      return (root) => select(root, path).length === 0;
    }
    if (token?.kind !== 'op') return fail(token, 'an operator (=, !=, <, >, <=, >=, IS NULL, NOT EXISTS)');
    at++;
    const valueToken = peek();
    at++;
    const op = token.value;
    if (valueToken?.kind === 'regex') {
      if (op !== '=' && op !== '!=') fail(token, '= or != before a regular expression');
      const test = (v: unknown) => isScalar(v) && valueToken.regex.test(String(v));
      return op === '='
        ? (root) => select(root, path).some(test)
        : negate((root) => select(root, path), test);
    }
    if (valueToken?.kind !== 'string' && valueToken?.kind !== 'word') {
      return fail(valueToken, `a value after "${op}"`);
    }
    const numeric = valueToken.kind === 'word' && NUMBER.test(valueToken.value);
    if (op !== '=' && op !== '!=') {
      if (!numeric) fail(valueToken, `a number after "${op}"`);
      const n = Number(valueToken.value);
      const compare = {
        '<': (a: number) => a < n,
        '>': (a: number) => a > n,
        '<=': (a: number) => a <= n,
        '>=': (a: number) => a >= n,
      }[op];
      return (root) =>
        select(root, path).some((v) => {
          const a = asNumber(v);
          return a !== undefined && compare(a);
        });
    }
    let equals: (v: unknown) => boolean;
    if (numeric) {
      const n = Number(valueToken.value);
      equals = (v) => asNumber(v) === n;
    } else {
      const glob = globToRegExp(valueToken.value);
      equals = (v) => isScalar(v) && v !== null && glob.test(String(v));
    }
    return op === '='
      ? (root) => select(root, path).some(equals)
      : negate((root) => select(root, path), equals);
  };

  const predicate = parseOr();
  const end = peek();
  if (!(end?.kind === 'punct' && end.value === '}')) fail(end, 'an operator (&&, ||) or the closing "}"');
  return (message) => {
    const json = extractJson(message);
    return json !== undefined && predicate(json);
  };
}

/** `!=`: the field exists and no value equals. */
function negate(values: (root: unknown) => unknown[], equals: (v: unknown) => boolean): JsonPredicate {
  return (root) => {
    const found = values(root);
    return found.length > 0 && !found.some(equals);
  };
}

function isScalar(value: unknown): value is string | number | boolean | null {
  return value === null || ['string', 'number', 'boolean'].includes(typeof value);
}

function asNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && NUMBER.test(value.trim())) return Number(value);
  return undefined;
}

function globToRegExp(value: string): RegExp {
  const source = value
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${source}$`, 's');
}

function select(root: unknown, path: readonly PathStep[]): unknown[] {
  let current: unknown[] = [root];
  for (const step of path) {
    const next: unknown[] = [];
    for (const value of current) {
      if ('key' in step) {
        if (
          typeof value === 'object' &&
          value !== null &&
          !Array.isArray(value) &&
          Object.hasOwn(value, step.key)
        ) {
          next.push((value as Record<string, unknown>)[step.key]);
        }
      } else if (Array.isArray(value)) {
        if ('any' in step) next.push(...value);
        else if (step.index < value.length) next.push(value[step.index]);
      }
    }
    current = next;
  }
  return current;
}

function extractJson(message: string): unknown {
  const parse = (text: string): unknown => {
    try {
      const value: unknown = JSON.parse(text);
      return typeof value === 'object' && value !== null ? value : undefined;
    } catch {
      return undefined;
    }
  };
  const whole = parse(message);
  if (whole !== undefined) return whole;
  const brace = message.indexOf('{');
  return brace > 0 ? parse(message.slice(brace)) : undefined;
}
