/**
 * Failure injection: flags in the FailureFlags table make a saga step fail in a chosen way, so the saga's
 * retries, compensations and idempotency can be watched at work. Shared by the functions (which read and act
 * on flags) and the CLI (which parses what users type and writes flags).
 *
 * Table layout: pk `ORDER#<orderId>` (one order) or `GLOBAL` (every order), sk = step; attributes `mode`,
 * `times`/`remaining` (absent on an unlimited flag), `latencyMs`, `rate`, `ttl` (epoch seconds).
 */
import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  PutCommand,
  ScanCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import {
  OutOfStock,
  PaymentDeclined,
  RefundFailed,
  ReleaseFailed,
  ShippingUnavailable,
  ThrottlingException,
  TransientError,
} from './errors.ts';

/** The steps a flag can target; `publisher` is the outbox publisher. */
export const STEPS = ['payment', 'inventory', 'shipping', 'refund', 'release', 'publisher'] as const;
/** One of {@link STEPS}. */
export type FailureStep = (typeof STEPS)[number];

/** How a flagged step fails. */
export const MODES = [
  'error',
  'transient',
  'timeout',
  'crash-after-commit',
  'latency',
  'die-after-commit',
  'timeout-after-commit',
  'throttle',
] as const;
/** One of {@link MODES}. */
export type FailureMode = (typeof MODES)[number];

/** The pk of flags that apply to every order. */
export const GLOBAL_SCOPE = 'GLOBAL';

/** Which orders a flag applies to: one order, or all of them. */
export type FlagScope = typeof GLOBAL_SCOPE | { readonly orderId: string };

/**
 * `transient` or `throttle` without a count fails this many times — unless the flag has a rate: then it is an
 * ongoing fault that hits that share of invocations for as long as it lives (`flags set publisher:transient
 * --global --rate 0.3`).
 */
export const DEFAULT_TRANSIENT_TIMES = 1;

/** Modes that commit the side effect first and then lose the answer, once. */
export const AFTER_COMMIT_MODES: readonly FailureMode[] = [
  'crash-after-commit',
  'die-after-commit',
  'timeout-after-commit',
];

/** Modes that take a count `N` (`transient:N`, `throttle:N`). */
const COUNTED_MODES: readonly FailureMode[] = ['transient', 'throttle'];
/** `latency` without a duration sleeps this long. */
export const DEFAULT_LATENCY_MS = 1000;
/** Flags expire after a day unless told otherwise (DynamoDB TTL on `ttl`; readers also ignore expired ones). */
export const DEFAULT_FLAG_TTL_SECONDS = 24 * 60 * 60;

const MAX_TRANSIENT_TIMES = 100;
const MAX_LATENCY_MS = 15 * 60 * 1000;
const SPEC_HELP =
  `valid steps: ${STEPS.join(', ')}; valid modes: error, transient[:N], throttle[:N], timeout, ` +
  'crash-after-commit, die-after-commit, timeout-after-commit, latency[:MS]. Examples: payment, ' +
  'payment:transient:2, inventory:die-after-commit, shipping:latency:500';

/** A parsed failure spec (`step[:mode[:arg]]`). */
export interface FailSpec {
  /** The step that fails. */
  readonly step: FailureStep;
  /** How it fails. */
  readonly mode: FailureMode;
  /**
   * `transient`/`throttle`: how many invocations fail before it succeeds, when given (`transient:N`); absent: once,
   * or without end for a flag with a rate (see {@link DEFAULT_TRANSIENT_TIMES}). After-commit modes: always 1.
   */
  readonly times?: number;
  /** `latency`: how long the step sleeps before its side effect. */
  readonly latencyMs?: number;
}

/** A failure spec or flag the user typed that cannot be understood. */
export class FailSpecError extends Error {
  /** What was received, as typed. */
  readonly received: string;

  constructor(received: string, problem: string, options?: ErrorOptions) {
    super(`Invalid failure spec '${received}': ${problem}. ${SPEC_HELP}`, options);
    this.name = 'FailSpecError';
    this.received = received;
  }
}

function isStep(value: string): value is FailureStep {
  return (STEPS as readonly string[]).includes(value);
}

function isMode(value: string): value is FailureMode {
  return (MODES as readonly string[]).includes(value);
}

function parsePositiveInt(spec: string, what: string, raw: string, max: number): number {
  if (!/^\d+$/.test(raw))
    throw new FailSpecError(spec, `${what} must be a positive whole number, got '${raw}'`);
  const value = Number(raw);
  if (value < 1 || value > max)
    throw new FailSpecError(spec, `${what} must be between 1 and ${max}, got ${value}`);
  return value;
}

/**
 * Parses a failure spec as users type it: `payment` (= `payment:error`), `payment:error`,
 * `payment:transient[:N]` and `payment:throttle[:N]` (`times` only when N is given), `payment:timeout`,
 * `payment:crash-after-commit`, `payment:die-after-commit`, `payment:timeout-after-commit`,
 * `payment:latency[:MS]` (MS defaults to 1000). Case and surrounding spaces are ignored.
 *
 * @throws FailSpecError naming what was received and the valid steps and modes.
 */
export function parseFailSpec(spec: string): FailSpec {
  const parts = spec.trim().toLowerCase().split(':');
  const [step = '', mode = 'error', arg, ...extra] = parts;
  if (step === '') throw new FailSpecError(spec, 'no step given');
  if (!isStep(step)) throw new FailSpecError(spec, `unknown step '${step}'`);
  if (!isMode(mode)) throw new FailSpecError(spec, `unknown mode '${mode}'`);
  if (extra.length > 0) throw new FailSpecError(spec, `too many ':' parts (${parts.length}, at most 3)`);
  switch (mode) {
    case 'transient':
    case 'throttle':
      return arg === undefined
        ? { step, mode }
        : { step, mode, times: parsePositiveInt(spec, 'N', arg, MAX_TRANSIENT_TIMES) };
    case 'latency':
      return {
        step,
        mode,
        latencyMs: arg === undefined ? DEFAULT_LATENCY_MS : parsePositiveInt(spec, 'MS', arg, MAX_LATENCY_MS),
      };
    case 'crash-after-commit':
    case 'die-after-commit':
    case 'timeout-after-commit':
      if (arg !== undefined) throw new FailSpecError(spec, `mode '${mode}' takes no argument, got '${arg}'`);
      return { step, mode, times: 1 };
    default:
      if (arg !== undefined) throw new FailSpecError(spec, `mode '${mode}' takes no argument, got '${arg}'`);
      return { step, mode };
  }
}

/**
 * The canonical spec string of a parsed spec (`payment:transient:2`, `publisher:transient` without a count);
 * `parseFailSpec` reads it back.
 */
export function formatFailSpec(spec: FailSpec): string {
  if (COUNTED_MODES.includes(spec.mode)) {
    return spec.times === undefined ? `${spec.step}:${spec.mode}` : `${spec.step}:${spec.mode}:${spec.times}`;
  }
  if (spec.mode === 'latency') return `${spec.step}:latency:${spec.latencyMs ?? DEFAULT_LATENCY_MS}`;
  return `${spec.step}:${spec.mode}`;
}

/** What {@link writeFailureFlag} stores: a spec plus a rate and a lifetime. */
export interface FailureFlagInput extends FailSpec {
  /** The share of invocations (0..1) the flag hits. @default 1 (every invocation) */
  readonly rate?: number;
  /** Seconds until the flag expires. @default DEFAULT_FLAG_TTL_SECONDS */
  readonly ttlSeconds?: number;
}

/** A flag as stored in the FailureFlags table. */
export interface FailureFlag {
  /** `ORDER#<orderId>` or `GLOBAL`. */
  readonly pk: string;
  /** The step (the table's sk). */
  readonly sk: FailureStep;
  readonly mode: FailureMode;
  /** Invocations to fail, as set (transient, throttle, the after-commit modes); absent: no end (a rate flag). */
  readonly times?: number;
  /** Invocations still to fail; decremented atomically by each one that fails. Absent with `times`. */
  readonly remaining?: number;
  readonly latencyMs?: number;
  /** The share of invocations hit (absent: every one). */
  readonly rate?: number;
  /** Expiry, epoch seconds. */
  readonly ttl: number;
}

/** The FailureFlags pk of a scope. */
export function flagScopeKey(scope: FlagScope): string {
  return scope === GLOBAL_SCOPE ? GLOBAL_SCOPE : `ORDER#${scope.orderId}`;
}

const documentClients = new WeakMap<DynamoDBClient, DynamoDBDocumentClient>();

function documentClientFor(client: DynamoDBClient): DynamoDBDocumentClient {
  let doc = documentClients.get(client);
  if (!doc) {
    doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
    documentClients.set(client, doc);
  }
  return doc;
}

/**
 * Writes (replaces) the flag for `flag.step` in a scope and returns what was stored.
 *
 * @throws FailSpecError when the rate is outside 0..1.
 */
export async function writeFailureFlag(
  client: DynamoDBClient,
  table: string,
  scope: FlagScope,
  flag: FailureFlagInput,
): Promise<FailureFlag> {
  if (flag.rate !== undefined && !(flag.rate >= 0 && flag.rate <= 1)) {
    throw new FailSpecError(formatFailSpec(flag), `rate must be between 0 and 1, got ${flag.rate}`);
  }
  // A counted mode without a count: once, or — with a rate — without end (an ongoing share of failures).
  const times = AFTER_COMMIT_MODES.includes(flag.mode)
    ? 1
    : COUNTED_MODES.includes(flag.mode)
      ? (flag.times ?? (flag.rate === undefined ? DEFAULT_TRANSIENT_TIMES : undefined))
      : undefined;
  const item: FailureFlag = {
    pk: flagScopeKey(scope),
    sk: flag.step,
    mode: flag.mode,
    ...(times === undefined ? {} : { times, remaining: times }),
    ...(flag.mode === 'latency' ? { latencyMs: flag.latencyMs ?? DEFAULT_LATENCY_MS } : {}),
    ...(flag.rate === undefined ? {} : { rate: flag.rate }),
    ttl: Math.floor(Date.now() / 1000) + (flag.ttlSeconds ?? DEFAULT_FLAG_TTL_SECONDS),
  };
  await documentClientFor(client).send(new PutCommand({ TableName: table, Item: item }));
  return item;
}

/** Deletes the flag for a step in a scope (no error when there is none). */
export async function deleteFailureFlag(
  client: DynamoDBClient,
  table: string,
  scope: FlagScope,
  step: FailureStep,
): Promise<void> {
  await documentClientFor(client).send(
    new DeleteCommand({ TableName: table, Key: { pk: flagScopeKey(scope), sk: step } }),
  );
}

/** Every unexpired flag in the table (a scan: the table holds a handful of rows). */
export async function listFailureFlags(client: DynamoDBClient, table: string): Promise<FailureFlag[]> {
  const now = Math.floor(Date.now() / 1000);
  const flags: FailureFlag[] = [];
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await documentClientFor(client).send(
      new ScanCommand({ TableName: table, ExclusiveStartKey }),
    );
    for (const item of page.Items ?? []) {
      const flag = item as FailureFlag;
      if (flag.ttl > now) flags.push(flag);
    }
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return flags;
}

/** Knobs for {@link readFailureFlag}, for tests. */
export interface ReadFailureFlagOptions {
  /** Draws the number compared with a GLOBAL flag's rate. @default Math.random */
  readonly random?: () => number;
}

/**
 * The flag that applies to this order's step: the order's own flag first (it shadows a GLOBAL one, even when
 * exhausted or missed by its rate), then the GLOBAL flag. A flag with a `rate` hits only that share of
 * invocations. Expired flags are ignored.
 */
export async function readFailureFlag(
  client: DynamoDBClient,
  table: string,
  orderId: string,
  step: FailureStep,
  options: ReadFailureFlagOptions = {},
): Promise<FailureFlag | undefined> {
  const now = Math.floor(Date.now() / 1000);
  const ownKey = flagScopeKey({ orderId });
  // Both candidates in one request: every saga step reads its flags, so this is on the hot path.
  const found = await getItems(documentClientFor(client), table, [
    { pk: ownKey, sk: step },
    { pk: GLOBAL_SCOPE, sk: step },
  ]);
  const live = (pk: string): FailureFlag | undefined => {
    const flag = found.find((item) => item.pk === pk) as FailureFlag | undefined;
    return flag && flag.ttl > now ? flag : undefined;
  };
  const flag = live(ownKey) ?? live(GLOBAL_SCOPE);
  if (!flag) return undefined;
  const random = options.random ?? Math.random;
  if (flag.rate !== undefined && random() >= flag.rate) return undefined;
  return flag;
}

/** Strongly consistent BatchGetItem of a few keys of one table, following UnprocessedKeys until none are left. */
async function getItems(
  doc: DynamoDBDocumentClient,
  table: string,
  keys: Record<string, unknown>[],
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let pending: Record<string, unknown>[] = keys;
  for (let attempt = 0; pending.length > 0; attempt++) {
    if (attempt > 0) await realSleep(Math.min(1000, 25 * 2 ** attempt));
    const { Responses, UnprocessedKeys } = await doc.send(
      new BatchGetCommand({ RequestItems: { [table]: { Keys: pending, ConsistentRead: true } } }),
    );
    items.push(...(Responses?.[table] ?? []));
    pending = UnprocessedKeys?.[table]?.Keys ?? [];
  }
  return items;
}

/** What the injection helpers need besides the flag. */
export interface InjectionContext {
  readonly client: DynamoDBClient;
  /** The FailureFlags table (to decrement `remaining`). */
  readonly table: string;
  /** The Lambda context: `timeout` sleeps past its remaining time. */
  readonly lambdaContext: { getRemainingTimeInMillis(): number };
  /** @default a real timer */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Ends the sandbox (`die-after-commit`). @default process.exit */
  readonly exit?: (code: number) => never;
  /**
   * Called when a flag acts on this invocation, before it does (before the throw, the sleep or the exit): the saga
   * steps record the spec on the order (see {@link injectedSpec}). Not called for a flag that has run out.
   */
  readonly onInject?: (flag: FailureFlag) => Promise<void>;
}

/**
 * How an injection is recorded on the order (the ORDER row's string set `injected`): the flag's spec
 * (`shipping:error`, `payment:transient:2`), prefixed `GLOBAL ` for a GLOBAL flag (`GLOBAL publisher:transient`).
 */
export function injectedSpec(flag: Pick<FailureFlag, 'pk' | 'sk' | 'mode' | 'times' | 'latencyMs'>): string {
  const spec = formatFailSpec({
    step: flag.sk,
    mode: flag.mode,
    times: flag.times,
    latencyMs: flag.latencyMs,
  });
  return flag.pk === GLOBAL_SCOPE ? `${GLOBAL_SCOPE} ${spec}` : spec;
}

const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The business error a step's `error` mode throws (the publisher has none: it fails transiently). */
export function injectedError(step: FailureStep, flag: Pick<FailureFlag, 'pk'>): Error {
  const why = `injected by failure flag ${flag.pk}/${step}`;
  switch (step) {
    case 'payment':
      return new PaymentDeclined(`Payment declined (${why})`);
    case 'inventory':
      return new OutOfStock({ sku: '*', available: 0, requested: 0 }, `Out of stock (${why})`);
    case 'shipping':
      return new ShippingUnavailable(`Shipping unavailable (${why})`);
    case 'refund':
      return new RefundFailed(`Refund failed (${why})`);
    case 'release':
      return new ReleaseFailed(`Stock release failed (${why})`);
    case 'publisher':
      return new TransientError(`Outbox publishing failed (${why})`);
  }
}

/**
 * Takes one from the flag's `remaining` if any is left; true when this invocation should fail. A flag without a
 * count (`times` absent: a rate flag without N) never runs out.
 */
async function takeOne(flag: FailureFlag, ctx: InjectionContext): Promise<boolean> {
  if (flag.times === undefined && flag.remaining === undefined) return true;
  try {
    await documentClientFor(ctx.client).send(
      new UpdateCommand({
        TableName: ctx.table,
        Key: { pk: flag.pk, sk: flag.sk },
        UpdateExpression: 'SET remaining = remaining - :one',
        ConditionExpression: 'remaining > :zero',
        ExpressionAttributeValues: { ':one': 1, ':zero': 0 },
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}

/**
 * Acts on a flag before the step's side effect: `error` throws the step's business error, `transient` throws
 * {@link TransientError} while `remaining` lasts, `timeout` sleeps past the Lambda's own timeout (so the
 * runtime stops it; if nothing does, it then fails transiently), `latency` sleeps `latencyMs`.
 * `crash-after-commit` does nothing here (see {@link injectAfterCommit}).
 */
export async function injectBefore(flag: FailureFlag | undefined, ctx: InjectionContext): Promise<void> {
  if (!flag) return;
  const sleep = ctx.sleep ?? realSleep;
  const acting = async () => ctx.onInject?.(flag);
  switch (flag.mode) {
    case 'error':
      await acting();
      throw injectedError(flag.sk, flag);
    case 'transient':
      if (await takeOne(flag, ctx)) {
        await acting();
        throw new TransientError(`Transient failure injected by failure flag ${flag.pk}/${flag.sk}`);
      }
      return;
    case 'throttle':
      if (await takeOne(flag, ctx)) {
        await acting();
        throw new ThrottlingException(`Rate exceeded (injected by failure flag ${flag.pk}/${flag.sk})`);
      }
      return;
    case 'timeout':
      await acting();
      return outliveTimeout(flag, ctx);
    case 'latency':
      await acting();
      await sleep(flag.latencyMs ?? DEFAULT_LATENCY_MS);
      return;
    default:
      // The after-commit modes act in injectAfterCommit.
      return;
  }
}

/** Sleeps past the function's timeout, so that the runtime stops the invocation (`Sandbox.Timedout`). */
async function outliveTimeout(flag: FailureFlag, ctx: InjectionContext): Promise<never> {
  // A context without a clock (not Lambda's) gets Lambda's longest timeout, 15 minutes.
  const remaining =
    typeof ctx.lambdaContext.getRemainingTimeInMillis === 'function'
      ? ctx.lambdaContext.getRemainingTimeInMillis()
      : 15 * 60 * 1000;
  const ms = remaining + 1000;
  await (ctx.sleep ?? realSleep)(ms);
  throw new TransientError(
    `Still running ${ms} ms later, past the function timeout (failure flag ${flag.pk}/${flag.sk}, mode ` +
      `${flag.mode}): the runtime should have stopped it`,
  );
}

/**
 * Acts on a flag after the step's side effect committed, once (`remaining` 1), so that the answer is lost and a
 * retry must find the committed side effect rather than repeat it: `crash-after-commit` throws
 * `TransientError('crashed after commit')`; `die-after-commit` ends the sandbox's process (Lambda reports
 * `Runtime.ExitError`); `timeout-after-commit` sleeps past the function timeout (`Sandbox.Timedout`). Other
 * modes do nothing here.
 */
export async function injectAfterCommit(flag: FailureFlag | undefined, ctx: InjectionContext): Promise<void> {
  if (flag === undefined || !AFTER_COMMIT_MODES.includes(flag.mode)) return;
  if (!(await takeOne(flag, ctx))) return;
  await ctx.onInject?.(flag);
  switch (flag.mode) {
    case 'crash-after-commit':
      throw new TransientError(`crashed after commit (failure flag ${flag.pk}/${flag.sk})`);
    case 'die-after-commit':
      (ctx.exit ?? ((code: number) => process.exit(code)))(1);
      break;
    case 'timeout-after-commit':
      await outliveTimeout(flag, ctx);
  }
}
