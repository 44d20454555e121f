/**
 * Amazon EventBridge for the local cloud: event buses, rules with event patterns, targets (with input / input
 * path, retries and dead-letter queues) and archives, spoken over `AWSEvents.<Operation>` (awsJson1_1).
 *
 * PutEvents answers at once and delivers in the background, as EventBridge does; `idle()` waits for delivery.
 * A target fails when the dispatcher rejects. Archives only record events; there is no replay API here.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import type {
  DescribeEventBusRequest,
  ListEventBusesRequest,
  ListRulesRequest,
  ListTargetsByRuleRequest,
  PutEventsRequest,
} from '@aws-sdk/client-eventbridge';
import { AccessDeniedError } from '../iam/authority.ts';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION, type TargetDispatcher } from '../types.ts';
import { AwsError, type JsonService } from '../wire/aws-error.ts';
import { defineInput } from '../wire/input.ts';
import { writeFileAtomic } from '../wire/persist.ts';
import { matchesEventPattern, validateEventPattern } from './pattern.ts';
import type { DeliverySource } from './targets.ts';

/** A rule target as the template declares it. */
export interface EventTargetSpec {
  readonly id: string;
  readonly arn: string;
  /** `DeadLetterConfig.Arn`: an SQS queue that gets the event once retries are exhausted. */
  readonly deadLetterArn?: string;
  /** Constant JSON text delivered instead of the event. */
  readonly input?: string;
  /** JSONPath (`$.detail`, `$.detail.items[0]`) selecting the part of the event to deliver. */
  readonly inputPath?: string;
  /** `RetryPolicy.MaximumRetryAttempts`. @default 185 (EventBridge's default) */
  readonly maximumRetryAttempts?: number;
  /** `RoleArn`: the role EventBridge assumes to deliver (Step Functions targets). @default none */
  readonly roleArn?: string;
}

/** A rule as the template declares it. */
export interface EventRuleSpec {
  readonly name: string;
  readonly arn: string;
  readonly busName: string;
  /** The event pattern (object or JSON text); absent for a rule that only has a schedule. */
  readonly eventPattern?: unknown;
  /**
   * `rate(N minute|minutes|hour|hours|day|days)`: the rule sends a Scheduled Event to its targets every period
   * (scaled by the time scale). `cron(...)` is refused (`ValidationException`): deploy lists such rules unsupported.
   */
  readonly scheduleExpression?: string;
  /** @default 'ENABLED' */
  readonly state?: 'ENABLED' | 'DISABLED';
  readonly targets: readonly EventTargetSpec[];
}

/** An archive as the template declares it. */
export interface EventArchiveSpec {
  readonly name: string;
  readonly arn: string;
  /** The bus whose events it keeps. */
  readonly sourceArn: string;
  /** Only matching events are kept. @default all */
  readonly eventPattern?: unknown;
  readonly retentionDays?: number;
}

/** Attributes EventBridge sets on a dead-letter message (SQS message attributes). */
export type DeadLetterAttributes = Record<string, { DataType: 'String'; StringValue: string }>;

/**
 * A dispatcher that can also send a dead-letter message with its attributes (RULE_ARN, TARGET_ARN,
 * ERROR_CODE, ERROR_MESSAGE, …). Without `deliverDeadLetter` the event is passed to `deliver` as is.
 * Every call names the rule it is made for (`source`): with IAM wired (events/targets.ts), the dispatcher authorizes
 * it as EventBridge and rejects with an `AccessDeniedError` when IAM denies it.
 */
export interface DeadLetterDispatcher extends TargetDispatcher {
  deliver(targetArn: string, payload: unknown, source?: DeliverySource): Promise<void>;
  deliverDeadLetter?(
    queueArn: string,
    body: string,
    attributes: DeadLetterAttributes,
    source?: DeliverySource,
  ): Promise<void>;
}

/** Options of {@link EventBridgeService}. */
export interface EventBridgeServiceOptions {
  /** Delivers events to target ARNs and dead-letter queues. */
  readonly dispatcher: DeadLetterDispatcher;
  /** Archives are kept under `<dataDir>/events/archives`. @default archives in memory only */
  readonly dataDir?: string;
  /** First retry delay; each retry doubles it (full jitter), up to 10 s. @default 200 */
  readonly retryBaseDelayMs?: number;
  /** Where delivery failures are reported (the local cloud log). @default ignored */
  readonly log?: (line: string) => void;
  /**
   * Multiplies schedule periods and the Lambda retry pauses of scheduled events (0.1 → `rate(1 minute)`
   * fires every 6 s). @default 1
   */
  readonly timeScale?: number;
}

/** An EventBridge event as rules and targets see it. */
export interface EventEnvelope {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': string;
  readonly source: string;
  readonly account: string;
  readonly time: string;
  readonly region: string;
  readonly resources: readonly string[];
  readonly detail: unknown;
}

interface Bus {
  readonly name: string;
  readonly arn: string;
  readonly createdAt: number;
}

interface Rule extends EventRuleSpec {
  /** The parsed event pattern; undefined for a schedule-only rule (it matches no event). */
  readonly pattern: unknown;
  /** The schedule's timer, while the rule is enabled. */
  schedule?: NodeJS.Timeout;
}

interface Archive {
  readonly name: string;
  readonly arn: string;
  readonly sourceArn: string;
  readonly eventPattern?: unknown;
  readonly retentionDays?: number;
  readonly file?: string;
  readonly events: { archivedAt: number; event: EventEnvelope }[];
}

const DEFAULT_MAXIMUM_RETRY_ATTEMPTS = 185;
const MAX_RETRY_DELAY_MS = 10_000;
/** Lambda retries a failed asynchronous invocation twice, about 1 and 2 minutes later. */
const LAMBDA_ASYNC_RETRY_DELAYS_MS = [60_000, 120_000];
/** The shortest scaled schedule period: a tiny time scale must not turn a schedule into a busy loop. */
const MIN_SCHEDULE_PERIOD_MS = 100;
const RATE_UNITS_MS: Readonly<Record<string, number>> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

/** The input of each operation, as the SDK types it. */
const INPUT = {
  PutEvents: defineInput<PutEventsRequest>()({ Entries: { type: 'list', min: 1, max: 10 } }),
  DescribeEventBus: defineInput<DescribeEventBusRequest>()({ Name: 'string?' }),
  ListEventBuses: defineInput<ListEventBusesRequest>()({ NamePrefix: 'string?' }),
  ListRules: defineInput<ListRulesRequest>()({ EventBusName: 'string?', NamePrefix: 'string?' }),
  ListTargetsByRule: defineInput<ListTargetsByRuleRequest>()({ Rule: 'string', EventBusName: 'string?' }),
};

/**
 * Parses `rate(value unit)` as EventBridge does: a positive whole value; `minute`/`hour`/`day` for 1, the
 * plural for more. Returns the period in milliseconds; throws `ValidationException` saying what is wrong.
 * `cron(...)` is recognised and refused: the local cloud does not run cron schedules.
 */
export function parseScheduleExpression(expression: string): { readonly periodMs: number } {
  if (/^cron\(.*\)$/s.test(expression.trim())) {
    throw new AwsError(
      'ValidationException',
      `The local cloud runs rate() schedules only; '${expression}' is a cron() schedule. Use rate(N minutes|hours|days) to run it locally.`,
    );
  }
  const match = /^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$/.exec(expression.trim());
  const value = Number(match?.[1]);
  const unit = match?.[2] ?? '';
  const singular = unit.replace(/s$/, '');
  if (!match || !Number.isSafeInteger(value) || value < 1 || (value === 1) !== (unit === singular)) {
    throw new AwsError(
      'ValidationException',
      `Parameter ScheduleExpression is not valid: '${expression}'. Expected rate(1 minute|hour|day) or rate(N minutes|hours|days) with N a whole number above 1.`,
    );
  }
  return { periodMs: value * (RATE_UNITS_MS[singular] ?? 0) };
}

/** EventBridge buses, rules, targets and archives. */
export class EventBridgeService implements JsonService {
  readonly #dispatcher: DeadLetterDispatcher;
  readonly #archiveDir: string | undefined;
  readonly #retryBaseDelayMs: number;
  readonly #log: (line: string) => void;
  readonly #timeScale: number;
  readonly #buses = new Map<string, Bus>();
  readonly #rules = new Map<string, Map<string, Rule>>();
  readonly #archives = new Map<string, Archive>();
  readonly #pending = new Set<Promise<void>>();
  readonly #timers = new Set<{ timer: NodeJS.Timeout; wake: () => void }>();
  #archiveWrites: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(options: EventBridgeServiceOptions) {
    this.#dispatcher = options.dispatcher;
    this.#retryBaseDelayMs = options.retryBaseDelayMs ?? 200;
    this.#log = options.log ?? (() => {});
    const timeScale = options.timeScale ?? 1;
    if (!(Number.isFinite(timeScale) && timeScale > 0)) {
      throw new RangeError(
        `timeScale must be a number above 0 (1 = real time); received ${String(options.timeScale)}`,
      );
    }
    this.#timeScale = timeScale;
    if (options.dataDir !== undefined) {
      this.#archiveDir = join(options.dataDir, 'events', 'archives');
      mkdirSync(this.#archiveDir, { recursive: true });
    }
    this.createBus({ name: 'default', arn: busArn('default') });
  }

  /** Creates an event bus (the `default` bus always exists). */
  createBus(spec: { name: string; arn: string }): void {
    if (!this.#buses.has(spec.name)) this.#buses.set(spec.name, { ...spec, createdAt: Date.now() });
    if (!this.#rules.has(spec.name)) this.#rules.set(spec.name, new Map());
  }

  /**
   * Creates or replaces a rule and its targets; an enabled rule with a schedule starts sending Scheduled Events.
   * Throws `InvalidEventPatternException` for a bad pattern, `ValidationException` for a bad or cron schedule
   * or a rule with neither.
   */
  putRule(spec: EventRuleSpec): void {
    const rules = this.#rules.get(spec.busName);
    if (!rules) throw busNotFound(spec.busName);
    if (spec.eventPattern === undefined && spec.scheduleExpression === undefined) {
      throw new AwsError(
        'ValidationException',
        `Rule ${spec.name}: give it an EventPattern, a ScheduleExpression, or both.`,
      );
    }
    const pattern =
      typeof spec.eventPattern === 'string' ? (JSON.parse(spec.eventPattern) as unknown) : spec.eventPattern;
    if (pattern !== undefined) validateEventPattern(pattern);
    const periodMs =
      spec.scheduleExpression === undefined
        ? undefined
        : parseScheduleExpression(spec.scheduleExpression).periodMs;
    const previous = rules.get(spec.name);
    clearInterval(previous?.schedule);
    const rule: Rule = { ...spec, pattern };
    rules.set(spec.name, rule);
    if (periodMs !== undefined && (spec.state ?? 'ENABLED') === 'ENABLED' && !this.#closed) {
      rule.schedule = setInterval(
        () => this.#fireSchedule(rule),
        Math.max(MIN_SCHEDULE_PERIOD_MS, periodMs * this.#timeScale),
      );
    }
  }

  /** Creates an archive of the events reaching `sourceArn` (a bus ARN) that match `eventPattern` (all if absent). */
  createArchive(spec: EventArchiveSpec): void {
    if (spec.eventPattern !== undefined) validateEventPattern(spec.eventPattern);
    const file = this.#archiveDir ? join(this.#archiveDir, `${spec.name}.jsonl`) : undefined;
    const events = file ? loadArchive(file, spec.retentionDays) : [];
    this.#archives.set(spec.name, { ...spec, ...(file ? { file } : {}), events });
    if (file && spec.retentionDays) {
      // Rewrite without the expired events so the file does not grow forever.
      const text = events.map((e) => `${JSON.stringify(e)}\n`).join('');
      this.#archiveWrites = this.#archiveWrites.then(() => writeFileAtomic(file, text));
    }
  }

  /** The events an archive holds, oldest first. */
  archivedEvents(name: string): readonly EventEnvelope[] {
    const archive = this.#archives.get(name);
    if (!archive) throw new AwsError('ResourceNotFoundException', `Archive ${name} does not exist.`);
    return archive.events.map((e) => e.event);
  }

  async handle(operation: string, input: Record<string, unknown>): Promise<unknown> {
    switch (operation) {
      case 'PutEvents':
        return this.#putEvents(input);
      case 'DescribeEventBus': {
        const bus = this.#bus(INPUT.DescribeEventBus.parse(input).Name ?? 'default');
        return {
          Name: bus.name,
          Arn: bus.arn,
          CreationTime: bus.createdAt / 1000,
          LastModifiedTime: bus.createdAt / 1000,
        };
      }
      case 'ListEventBuses': {
        const prefix = INPUT.ListEventBuses.parse(input).NamePrefix ?? '';
        const buses = [...this.#buses.values()].filter((b) => b.name.startsWith(prefix));
        return {
          EventBuses: buses.map((b) => ({
            Name: b.name,
            Arn: b.arn,
            CreationTime: b.createdAt / 1000,
            LastModifiedTime: b.createdAt / 1000,
          })),
        };
      }
      case 'ListRules': {
        const request = INPUT.ListRules.parse(input);
        const bus = this.#bus(request.EventBusName ?? 'default');
        const prefix = request.NamePrefix ?? '';
        const rules = [...(this.#rules.get(bus.name)?.values() ?? [])].filter((r) =>
          r.name.startsWith(prefix),
        );
        return {
          Rules: rules.map((r) => ({
            Name: r.name,
            Arn: r.arn,
            ...(r.pattern !== undefined ? { EventPattern: JSON.stringify(r.pattern) } : {}),
            ...(r.scheduleExpression !== undefined ? { ScheduleExpression: r.scheduleExpression } : {}),
            State: r.state ?? 'ENABLED',
            EventBusName: bus.name,
          })),
        };
      }
      case 'ListTargetsByRule': {
        const request = INPUT.ListTargetsByRule.parse(input);
        const bus = this.#bus(request.EventBusName ?? 'default');
        const name = request.Rule;
        const rule = this.#rules.get(bus.name)?.get(name);
        if (!rule)
          throw new AwsError(
            'ResourceNotFoundException',
            `Rule ${name} does not exist on EventBus ${bus.name}.`,
          );
        return {
          Targets: rule.targets.map((t) => ({
            Id: t.id,
            Arn: t.arn,
            ...(t.input !== undefined ? { Input: t.input } : {}),
            ...(t.inputPath !== undefined ? { InputPath: t.inputPath } : {}),
            ...(t.deadLetterArn !== undefined ? { DeadLetterConfig: { Arn: t.deadLetterArn } } : {}),
            ...(t.maximumRetryAttempts !== undefined
              ? {
                  RetryPolicy: {
                    MaximumRetryAttempts: t.maximumRetryAttempts,
                    MaximumEventAgeInSeconds: 86400,
                  },
                }
              : {}),
          })),
        };
      }
      default:
        throw new AwsError(
          'UnknownOperationException',
          `The local cloud's EventBridge does not implement ${operation}. Supported: PutEvents, DescribeEventBus, ListEventBuses, ListRules, ListTargetsByRule.`,
        );
    }
  }

  /** Resolves once every delivery started so far (including retries and dead-lettering) has finished. */
  async idle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
    await this.#archiveWrites;
  }

  /** Abandons pending retries (their events are dropped), waits for in-flight deliveries and archive writes. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const rules of this.#rules.values()) for (const rule of rules.values()) clearInterval(rule.schedule);
    for (const entry of this.#timers) {
      clearTimeout(entry.timer);
      entry.wake();
    }
    await this.idle();
  }

  // -------------------------------------------------------------------------------------------------------------

  #bus(nameOrArn: string): Bus {
    const name = nameOrArn.startsWith('arn:')
      ? nameOrArn.slice(nameOrArn.indexOf('event-bus/') + 10)
      : nameOrArn;
    const bus = this.#buses.get(name);
    if (!bus) throw busNotFound(name);
    return bus;
  }

  #putEvents(input: Record<string, unknown>): {
    FailedEntryCount: number;
    Entries: Record<string, string>[];
  } {
    const typed = INPUT.PutEvents.parse(input).Entries as Record<string, unknown>[];
    const required = ['Source', 'DetailType', 'Detail'] as const;
    if (typed.every((e) => required.some((k) => typeof e?.[k] !== 'string' || e[k] === ''))) {
      // EventBridge fails the whole request when no entry has all of Source, DetailType and Detail.
      throw new AwsError(
        'ValidationException',
        'Parameter(s) Source, DetailType and Detail are required for every entry; none of the entries has all three.',
      );
    }
    const results = typed.map((entry) => this.#putEntry(entry ?? {}));
    return { FailedEntryCount: results.filter((r) => r.ErrorCode !== undefined).length, Entries: results };
  }

  #putEntry(entry: Record<string, unknown>): Record<string, string> {
    for (const field of ['Source', 'DetailType', 'Detail'] as const) {
      if (typeof entry[field] !== 'string' || entry[field] === '') {
        return {
          ErrorCode: 'InvalidArgument',
          ErrorMessage: `Parameter ${field} is not valid. Reason: ${field} is a required argument.`,
        };
      }
    }
    let detail: unknown;
    try {
      detail = JSON.parse(entry.Detail as string);
    } catch {
      return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
    }
    if (typeof detail !== 'object' || detail === null || Array.isArray(detail)) {
      return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed: it must be a JSON object.' };
    }
    const busName =
      typeof entry.EventBusName === 'string' && entry.EventBusName !== '' ? entry.EventBusName : 'default';
    let bus: Bus;
    try {
      bus = this.#bus(busName);
    } catch (error) {
      return { ErrorCode: 'ResourceNotFoundException', ErrorMessage: (error as Error).message };
    }
    const event: EventEnvelope = {
      version: '0',
      id: randomUUID(),
      'detail-type': entry.DetailType as string,
      source: entry.Source as string,
      account: LOCAL_ACCOUNT_ID,
      time: isoSeconds(eventTime(entry.Time)),
      region: LOCAL_REGION,
      resources: Array.isArray(entry.Resources) ? (entry.Resources as string[]) : [],
      detail,
    };
    this.#route(bus, event);
    return { EventId: event.id };
  }

  #route(bus: Bus, event: EventEnvelope): void {
    for (const rule of this.#rules.get(bus.name)?.values() ?? []) {
      if ((rule.state ?? 'ENABLED') !== 'ENABLED' || rule.pattern === undefined) continue;
      if (!matchesEventPattern(rule.pattern, event)) continue;
      for (const target of rule.targets) this.#track(this.#deliver(rule, target, event));
    }
    for (const archive of this.#archives.values()) {
      if (archive.sourceArn !== bus.arn) continue;
      if (archive.eventPattern !== undefined && !matchesEventPattern(archive.eventPattern, event)) continue;
      const record = { archivedAt: Date.now(), event };
      archive.events.push(record);
      if (archive.file) {
        const file = archive.file;
        this.#archiveWrites = this.#archiveWrites.then(() => appendFile(file, `${JSON.stringify(record)}\n`));
      }
    }
  }

  #track(promise: Promise<void>): void {
    this.#pending.add(promise);
    void promise.finally(() => this.#pending.delete(promise));
  }

  /** One tick of a scheduled rule: the Scheduled Event EventBridge sends, to every target. */
  #fireSchedule(rule: Rule): void {
    if (this.#closed) return;
    const event: EventEnvelope = {
      version: '0',
      id: randomUUID(),
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      account: LOCAL_ACCOUNT_ID,
      time: isoSeconds(new Date()),
      region: LOCAL_REGION,
      resources: [rule.arn],
      detail: {},
    };
    for (const target of rule.targets) {
      this.#track(
        isLambdaArn(target.arn) ? this.#invokeAsync(rule, target, event) : this.#deliver(rule, target, event),
      );
    }
  }

  /**
   * EventBridge invokes a Lambda target asynchronously: the schedule never waits for the function, and a failed
   * invocation is Lambda's to retry (twice, about 1 and 2 minutes later, scaled), then it is dropped and logged.
   * An invocation IAM refuses never reaches Lambda: that is EventBridge's failure, and goes to the target's DLQ.
   */
  async #invokeAsync(rule: Rule, target: EventTargetSpec, event: EventEnvelope): Promise<void> {
    const payload = transform(target, event);
    let lastError: unknown;
    for (let attempt = 0; attempt <= LAMBDA_ASYNC_RETRY_DELAYS_MS.length; attempt++) {
      if (attempt > 0) {
        await this.#sleep((LAMBDA_ASYNC_RETRY_DELAYS_MS[attempt - 1] ?? 0) * this.#timeScale);
        if (this.#closed) return;
      }
      try {
        await this.#dispatcher.deliver(target.arn, payload, sourceOf(rule, target));
        return;
      } catch (error) {
        if (error instanceof AccessDeniedError) {
          await this.#failed(rule, target, event, error, 0);
          return;
        }
        lastError = error;
      }
    }
    const { message } = describeError(lastError);
    this.#log(
      `EventBridge: scheduled event ${event.id} of rule ${rule.name}: ${target.arn} failed ${LAMBDA_ASYNC_RETRY_DELAYS_MS.length + 1} times, dropped: ${message}`,
    );
  }

  async #deliver(rule: Rule, target: EventTargetSpec, event: EventEnvelope): Promise<void> {
    const payload = transform(target, event);
    const maxRetries = target.maximumRetryAttempts ?? DEFAULT_MAXIMUM_RETRY_ATTEMPTS;
    let lastError: unknown;
    for (let attempt = 0; attempt <= maxRetries; attempt++) {
      if (attempt > 0) {
        const cap = Math.min(MAX_RETRY_DELAY_MS, this.#retryBaseDelayMs * 2 ** (attempt - 1));
        await this.#sleep(cap / 2 + Math.random() * (cap / 2));
        if (this.#closed) return;
      }
      try {
        await this.#dispatcher.deliver(target.arn, payload, sourceOf(rule, target));
        return;
      } catch (error) {
        // EventBridge does not retry a target it lacks the permission to call: to the DLQ at once.
        if (error instanceof AccessDeniedError) {
          await this.#failed(rule, target, event, error, 0);
          return;
        }
        lastError = error;
      }
    }
    await this.#failed(rule, target, event, lastError, maxRetries);
  }

  /** A delivery that failed for good: logged, then sent to the target's dead-letter queue if it has one. */
  async #failed(
    rule: Rule,
    target: EventTargetSpec,
    event: EventEnvelope,
    error: unknown,
    retries: number,
  ): Promise<void> {
    const { code, message } = describeError(error);
    const denied = error instanceof AccessDeniedError;
    this.#log(
      denied
        ? `EventBridge: delivery of event ${event.id} from rule ${rule.name} to ${target.arn} failed (not retried): ${code} ${message}`
        : `EventBridge: delivery of event ${event.id} from rule ${rule.name} to ${target.arn} failed after ${retries + 1} attempts: ${code} ${message}`,
    );
    if (!target.deadLetterArn) return;
    const attributes: DeadLetterAttributes = {
      RULE_ARN: { DataType: 'String', StringValue: rule.arn },
      TARGET_ARN: { DataType: 'String', StringValue: target.arn },
      ERROR_CODE: { DataType: 'String', StringValue: code },
      ERROR_MESSAGE: { DataType: 'String', StringValue: message },
      ...(denied
        ? {}
        : {
            EXHAUSTED_RETRY_CONDITION: { DataType: 'String', StringValue: 'MaximumRetryAttempts' } as const,
          }),
      RETRY_ATTEMPTS: { DataType: 'String', StringValue: String(retries) },
    };
    // EventBridge sends to the DLQ as events.amazonaws.com for the rule: the queue's policy must allow it.
    const source: DeliverySource = { ruleArn: rule.arn };
    try {
      if (this.#dispatcher.deliverDeadLetter) {
        await this.#dispatcher.deliverDeadLetter(
          target.deadLetterArn,
          JSON.stringify(event),
          attributes,
          source,
        );
      } else {
        await this.#dispatcher.deliver(target.deadLetterArn, event, source);
      }
    } catch (dlqError) {
      this.#log(
        `EventBridge: event ${event.id} from rule ${rule.name} DROPPED: its dead-letter queue ${target.deadLetterArn} refused it (counted in InvocationsFailedToBeSentToDlq): ${describeError(dlqError).message}`,
      );
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.#timers.delete(entry);
          resolve();
        }, ms),
        wake: resolve,
      };
      this.#timers.add(entry);
    });
  }
}

/** On whose behalf a target's delivery is made: the rule, and the target's role if it has one. */
function sourceOf(rule: Rule, target: EventTargetSpec): DeliverySource {
  return target.roleArn === undefined
    ? { ruleArn: rule.arn }
    : { ruleArn: rule.arn, roleArn: target.roleArn };
}

function isLambdaArn(arn: string): boolean {
  return /^arn:aws[\w-]*:lambda:/.test(arn);
}

function busArn(name: string): string {
  return `arn:aws:events:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:event-bus/${name}`;
}

function busNotFound(name: string): AwsError {
  return new AwsError('ResourceNotFoundException', `Event bus ${name} does not exist.`);
}

function eventTime(time: unknown): Date {
  if (typeof time === 'number') return new Date(time * 1000);
  if (typeof time === 'string' && !Number.isNaN(Date.parse(time))) return new Date(time);
  return new Date();
}

function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function describeError(error: unknown): { code: string; message: string } {
  if (error instanceof AccessDeniedError) return { code: 'NO_PERMISSIONS', message: error.message };
  if (error instanceof AwsError) {
    const type = error.type.slice(error.type.indexOf('#') + 1);
    if (/NotFound|DoesNotExist/.test(type)) return { code: 'RESOURCE_NOT_FOUND', message: error.message };
    if (/Throttl|TooManyRequests/.test(type)) return { code: 'THROTTLING', message: error.message };
    return { code: 'SDK_CLIENT_ERROR', message: `${type}: ${error.message}` };
  }
  if (error instanceof Error) return { code: 'SDK_CLIENT_ERROR', message: `${error.name}: ${error.message}` };
  return { code: 'SDK_CLIENT_ERROR', message: String(error) };
}

/** Applies `Input` (constant JSON) or `InputPath` (JSONPath into the event); otherwise the event itself. */
function transform(target: EventTargetSpec, event: EventEnvelope): unknown {
  if (target.input !== undefined) {
    try {
      return JSON.parse(target.input) as unknown;
    } catch {
      return target.input;
    }
  }
  if (target.inputPath !== undefined) return selectPath(event, target.inputPath);
  return event;
}

/** A JSONPath subset: `$`, `.name`, `['name']`, `[index]`. */
export function selectPath(value: unknown, path: string): unknown {
  if (!path.startsWith('$')) {
    throw new AwsError(
      'ValidationException',
      `InputPath must start with "$", received ${JSON.stringify(path)}.`,
    );
  }
  const steps = [...path.slice(1).matchAll(/\.([^.[\]]+)|\['([^']*)'\]|\[(\d+)\]/g)];
  let current: unknown = value;
  for (const [, dotted, quoted, index] of steps) {
    if (current === null || typeof current !== 'object') return undefined;
    const key = dotted ?? quoted ?? Number(index);
    current = (current as Record<string | number, unknown>)[key];
  }
  return current;
}

function loadArchive(
  file: string,
  retentionDays: number | undefined,
): { archivedAt: number; event: EventEnvelope }[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const oldest = retentionDays ? Date.now() - retentionDays * 86_400_000 : 0;
  const out: { archivedAt: number; event: EventEnvelope }[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const record = JSON.parse(line) as { archivedAt: number; event: EventEnvelope };
      if (record.archivedAt >= oldest) out.push(record);
    } catch {
      // A torn last line from a crash: skip it rather than refuse to start.
    }
  }
  return out;
}
