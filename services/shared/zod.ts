/**
 * The zod the services validate with: zod 4's tree-shakable `zod/mini` API (a Lambda bundle keeps only the schemas
 * and checks it uses; the chainable classic API drags all of zod in), with the English messages classic zod
 * installs by default, so that an issue reads `Invalid input: expected string, received number`, not `Invalid input`.
 * Import it as a namespace: `import * as z from '../shared/zod.ts'`.
 *
 * The messages come from {@link englishIssueMessage}, zod's English locale (`zod/locales` `en`) cut down to the
 * issues these schemas can raise (types, sizes, string prefixes and patterns, enums, unknown keys): the full
 * locale also names some forty string formats (email, UUID, IPv6, …) that no service validates, and costs a
 * Lambda bundle 2.7 KB. Its test holds it to zod's own locale, message for message.
 */
import { config, type core } from 'zod/mini';

const SIZE_UNITS: Readonly<Record<string, string>> = {
  string: 'characters',
  file: 'bytes',
  array: 'items',
  set: 'items',
  map: 'entries',
};

/** zod's `util.parsedType` (its `util` namespace, once imported, keeps all of it in the bundle). */
function parsedType(data: unknown): string {
  if (typeof data === 'number') return Number.isNaN(data) ? 'nan' : 'number';
  if (typeof data !== 'object') return typeof data;
  if (data === null) return 'null';
  if (Array.isArray(data)) return 'array';
  const ctor = (data as { constructor?: { name?: unknown } }).constructor;
  // As zod: a non-plain object is named after its constructor, whatever that name is.
  return Object.getPrototypeOf(data) !== Object.prototype && 'constructor' in data && ctor
    ? `${ctor.name}`
    : 'object';
}

/** zod's `util.stringifyPrimitive`. */
const primitive = (value: unknown): string =>
  typeof value === 'bigint' ? `${value}n` : typeof value === 'string' ? `"${value}"` : `${value}`;

const typeName = (type: string, input?: unknown): string =>
  type === 'number' && typeof input === 'number' && !Number.isFinite(input)
    ? String(input)
    : type === 'nan'
      ? 'NaN'
      : type;

/**
 * The message zod's English locale gives an issue of the kinds the services' schemas raise; for a string format
 * other than a prefix, suffix, substring or pattern it says `Invalid <format>` (zod: `Invalid email address`).
 */
export function englishIssueMessage(issue: core.$ZodRawIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return `Invalid input: expected ${typeName(issue.expected)}, received ${typeName(parsedType(issue.input), issue.input)}`;
    case 'invalid_value':
      return issue.values.length === 1
        ? `Invalid input: expected ${primitive(issue.values[0])}`
        : `Invalid option: expected one of ${issue.values.map(primitive).join('|')}`;
    case 'too_big':
    case 'too_small': {
      const big = issue.code === 'too_big';
      const adj = issue.exact ? 'exactly ' : issue.inclusive ? (big ? '<=' : '>=') : big ? '<' : '>';
      const origin = big ? (issue.origin ?? 'value') : issue.origin;
      const unit = SIZE_UNITS[issue.origin];
      const limit = (big ? issue.maximum : issue.minimum).toString();
      return `Too ${big ? 'big' : 'small'}: expected ${origin} to ${unit ? `have ${adj}${limit} ${unit}` : `be ${adj}${limit}`}`;
    }
    case 'invalid_format':
      switch (issue.format) {
        case 'starts_with':
          return `Invalid string: must start with "${issue.prefix}"`;
        case 'ends_with':
          return `Invalid string: must end with "${issue.suffix}"`;
        case 'includes':
          return `Invalid string: must include "${issue.includes}"`;
        case 'regex':
          return `Invalid string: must match pattern ${issue.pattern}`;
        default:
          return `Invalid ${issue.format}`;
      }
    case 'not_multiple_of':
      return `Invalid number: must be a multiple of ${issue.divisor}`;
    case 'unrecognized_keys':
      return `Unrecognized key${issue.keys.length > 1 ? 's' : ''}: ${issue.keys.map(primitive).join(', ')}`;
    case 'invalid_key':
      return `Invalid key in ${issue.origin}`;
    case 'invalid_element':
      return `Invalid value in ${issue.origin}`;
    default:
      return 'Invalid input';
  }
}

// Only when no locale was chosen yet: an explicit `config(...)` elsewhere wins, as it does with classic zod.
if (!config().localeError) config({ localeError: englishIssueMessage });

export * from 'zod/mini';
