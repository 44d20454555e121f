/**
 * Amazon States Language definitions as the graph reads them: a structural check (enough to draw any definition,
 * not a full validator) and short descriptions of states, Choice rules and retriers. Pure.
 */
import { formatShortDuration } from '../ui/format.ts';

/** A definition could not be read as an ASL state machine: the message says what was wrong and what was received. */
export class AslError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'AslError';
  }
}

/** The state types of ASL. */
export const STATE_TYPES = ['Task', 'Choice', 'Pass', 'Wait', 'Succeed', 'Fail', 'Parallel', 'Map'] as const;

/** One state of a definition (the fields the graph reads; the rest are kept as they are). */
export interface AslState {
  readonly Type: string;
  readonly Comment?: string;
  readonly Next?: string;
  readonly End?: boolean;
  readonly Default?: string;
  readonly Choices?: readonly AslChoiceRule[];
  readonly Catch?: readonly { readonly ErrorEquals?: readonly string[]; readonly Next: string }[];
  readonly Retry?: readonly AslRetrier[];
  readonly Resource?: string;
  readonly Branches?: readonly AslStates[];
  readonly ItemProcessor?: AslStates;
  readonly Iterator?: AslStates;
  readonly Seconds?: number | string;
  readonly SecondsPath?: string;
  readonly Timestamp?: string;
  readonly TimestampPath?: string;
  readonly Error?: string;
  readonly Cause?: string;
  readonly [key: string]: unknown;
}

/** A Choice rule: a comparison, a Not/And/Or of rules, or a JSONata `Condition`; top-level rules carry `Next`. */
export type AslChoiceRule = { readonly Next?: string; readonly [key: string]: unknown };

/** A retrier: the errors it matches and how often it retries them. */
export interface AslRetrier {
  readonly ErrorEquals?: readonly string[];
  readonly MaxAttempts?: number;
  readonly IntervalSeconds?: number;
  readonly BackoffRate?: number;
}

/** A state machine or a Parallel branch / Map processor: `StartAt` and its `States`. */
export interface AslStates {
  readonly StartAt: string;
  readonly States: Readonly<Record<string, AslState>>;
  readonly Comment?: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length} item(s)`;
  if (isRecord(value)) {
    const keys = Object.keys(value);
    return keys.length === 0 ? 'an empty object' : `an object with keys ${keys.slice(0, 8).join(', ')}`;
  }
  return `${typeof value} ${JSON.stringify(value)?.slice(0, 60)}`;
}

function checkScope(value: unknown, where: string): AslStates {
  if (!isRecord(value))
    throw new AslError(`${where} is not an object with StartAt and States: received ${describe(value)}.`);
  if (typeof value.StartAt !== 'string') {
    throw new AslError(`${where} has no StartAt (a state name): received ${describe(value)}.`);
  }
  if (!isRecord(value.States) || Object.keys(value.States).length === 0) {
    throw new AslError(`${where} has no States object (name -> state): received ${describe(value.States)}.`);
  }
  const states = value.States;
  const name = (target: unknown, field: string, state: string): void => {
    if (typeof target !== 'string' || !(target in states)) {
      throw new AslError(
        `${where}: the ${field} of state ${JSON.stringify(state)} names no state of its scope: received ` +
          `${JSON.stringify(target)}; the states there are ${Object.keys(states).slice(0, 12).join(', ')}.`,
      );
    }
  };
  name(value.StartAt, 'StartAt', '(machine)');
  for (const [stateName, state] of Object.entries(states)) {
    if (!isRecord(state) || typeof state.Type !== 'string') {
      throw new AslError(
        `${where}: state ${JSON.stringify(stateName)} has no Type: received ${describe(state)}.`,
      );
    }
    if (!(STATE_TYPES as readonly string[]).includes(state.Type)) {
      throw new AslError(
        `${where}: state ${JSON.stringify(stateName)} has Type ${JSON.stringify(state.Type)}, which is not one of ${STATE_TYPES.join(', ')}.`,
      );
    }
    if (state.Next !== undefined) name(state.Next, 'Next', stateName);
    if (state.Default !== undefined) name(state.Default, 'Default', stateName);
    if (state.Type === 'Choice') {
      if (!Array.isArray(state.Choices)) {
        throw new AslError(
          `${where}: Choice state ${JSON.stringify(stateName)} has no Choices array: received ${describe(state.Choices)}.`,
        );
      }
      state.Choices.forEach((rule, i) => {
        name(isRecord(rule) ? rule.Next : undefined, `Choices[${i}].Next`, stateName);
      });
    }
    if (state.Catch !== undefined) {
      if (!Array.isArray(state.Catch))
        throw new AslError(`${where}: the Catch of ${JSON.stringify(stateName)} is not an array.`);
      state.Catch.forEach((catcher, i) => {
        name(isRecord(catcher) ? catcher.Next : undefined, `Catch[${i}].Next`, stateName);
      });
    }
    if (state.Retry !== undefined && !Array.isArray(state.Retry)) {
      throw new AslError(`${where}: the Retry of ${JSON.stringify(stateName)} is not an array.`);
    }
    if (state.Type === 'Parallel') {
      if (!Array.isArray(state.Branches) || state.Branches.length === 0) {
        throw new AslError(
          `${where}: Parallel state ${JSON.stringify(stateName)} has no Branches: received ${describe(state.Branches)}.`,
        );
      }
      state.Branches.forEach((branch, i) => {
        checkScope(branch, `${where} > ${stateName}.Branches[${i}]`);
      });
    }
    if (state.Type === 'Map') {
      const processor = state.ItemProcessor ?? state.Iterator;
      checkScope(processor, `${where} > ${stateName}.${state.ItemProcessor ? 'ItemProcessor' : 'Iterator'}`);
    }
  }
  return value as unknown as AslStates;
}

/**
 * Checks that a parsed JSON value is an ASL definition: StartAt and States at every level, known state types, every
 * Next/Default/Choice/Catch target a state of its scope. Accepts a `describe-state-machine` response too (its
 * `definition` is the definition as a JSON string).
 * @throws AslError saying what was wrong and what was received.
 */
export function parseDefinition(value: unknown): AslStates {
  let definition = value;
  if (isRecord(value) && typeof value.definition === 'string' && value.States === undefined) {
    try {
      definition = JSON.parse(value.definition);
    } catch (error) {
      throw new AslError(`The "definition" string is not JSON: ${(error as Error).message}.`, {
        cause: error,
      });
    }
  }
  return checkScope(definition, 'The definition');
}

/** Parses the text of a definition file. @throws AslError when it is not JSON or not ASL. */
export function parseDefinitionText(text: string): AslStates {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new AslError(
      `Not JSON (${(error as Error).message}); received ${JSON.stringify(text.slice(0, 60))}${text.length > 60 ? '…' : ''}.`,
      { cause: error },
    );
  }
  return parseDefinition(value);
}

/** A Task resource, shortened: `lambda:invoke`, `aws-sdk:dynamodb:transactWriteItems`, `lambda:<function>`. */
export function shortResource(resource: string | undefined): string | undefined {
  if (resource === undefined) return undefined;
  const integration = /^arn:[^:]*:states:[^:]*:[^:]*:(.+)$/.exec(resource);
  if (integration?.[1]?.startsWith('activity:')) return integration[1];
  if (integration && resource.includes(':states:::')) return integration[1];
  const lambda = /^arn:[^:]*:lambda:[^:]*:[^:]*:function:([^:]+)/.exec(resource);
  if (lambda) return `lambda:${lambda[1]}`;
  return resource;
}

/** One line about a state: its resource, wait, or error. */
export function stateDetail(state: AslState): string | undefined {
  switch (state.Type) {
    case 'Task':
      return shortResource(typeof state.Resource === 'string' ? state.Resource : undefined);
    case 'Wait':
      if (typeof state.Seconds === 'number') return `wait ${formatShortDuration(state.Seconds * 1000)}`;
      if (state.Seconds !== undefined) return `wait ${state.Seconds} s`;
      if (state.SecondsPath !== undefined) return `wait ${state.SecondsPath} s`;
      if (state.Timestamp !== undefined) return `until ${state.Timestamp}`;
      if (state.TimestampPath !== undefined) return `until ${state.TimestampPath}`;
      return undefined;
    case 'Fail':
      return typeof state.Error === 'string' ? `error ${state.Error}` : undefined;
    default:
      return undefined;
  }
}

const COMPARATORS: Readonly<Record<string, string>> = {
  Equals: '==',
  LessThan: '<',
  GreaterThan: '>',
  LessThanEquals: '<=',
  GreaterThanEquals: '>=',
  Matches: 'matches',
};

/** A Choice rule as a short condition: `$.status == "PENDING"`, `not $.x present`, `a and b`. */
export function describeRule(rule: Readonly<Record<string, unknown>>): string {
  if (typeof rule.Condition === 'string') return rule.Condition;
  if (isRecord(rule.Not)) return `not ${describeRule(rule.Not)}`;
  for (const op of ['And', 'Or'] as const) {
    const parts = rule[op];
    if (Array.isArray(parts)) {
      return parts
        .map((p) => (isRecord(p) ? describeRule(p) : '?'))
        .map((p) => (/ (and|or) /.test(p) ? `(${p})` : p))
        .join(` ${op.toLowerCase()} `);
    }
  }
  const variable = typeof rule.Variable === 'string' ? rule.Variable : '?';
  for (const [key, value] of Object.entries(rule)) {
    if (key === 'Variable' || key === 'Next' || key === 'Comment' || key === 'Assign' || key === 'Output')
      continue;
    if (key.startsWith('Is')) {
      const what = key.slice(2).toLowerCase();
      return value === true ? `${variable} is ${what}` : `${variable} is not ${what}`;
    }
    const m =
      /^(String|Numeric|Boolean|Timestamp)(Equals|LessThan|GreaterThan|LessThanEquals|GreaterThanEquals|Matches)(Path)?$/.exec(
        key,
      );
    if (m) {
      const shown = m[3] ? String(value) : JSON.stringify(value);
      return `${variable} ${COMPARATORS[m[2] ?? ''] ?? m[2]} ${shown}`;
    }
  }
  return `${variable} ?`;
}

/** A retrier as the graph keeps it: the errors it matches and its MaxAttempts (ASL's default 3 when absent). */
export interface RetrySummary {
  readonly errorEquals: readonly string[];
  readonly maxAttempts: number;
}

export function summarizeRetrier(retrier: AslRetrier): RetrySummary {
  return { errorEquals: retrier.ErrorEquals ?? [], maxAttempts: retrier.MaxAttempts ?? 3 };
}

/**
 * The retriers that retry, in brief: `retry States.ALL ×4, IdempotencyAlreadyInProgressError ×6` (a long
 * ErrorEquals shortened to its first error and a count). Undefined when none retries.
 */
export function describeRetry(retry: readonly RetrySummary[]): string | undefined {
  const parts = retry
    .filter((r) => r.maxAttempts > 0)
    .map((r) => {
      const [first = '?', ...rest] = r.errorEquals;
      return `${rest.length > 1 ? `${first} (+${rest.length})` : r.errorEquals.join(', ')} ×${r.maxAttempts}`;
    });
  return parts.length === 0 ? undefined : `retry ${parts.join(', ')}`;
}
