/**
 * Lambda's event source mapping for a DynamoDB stream, run against the real DynamoDB Streams API of DynamoDB
 * Local: DescribeStream → shards (parents before children), GetShardIterator, GetRecords following
 * NextShardIterator, FilterCriteria per record, batches of `batchSize` (with the batching window), the event
 * Lambda builds, retries, bisection, partial batch responses and the on-failure destination. Records of one
 * shard are handled strictly in order; the position is checkpointed to `checkpointFile`.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  DescribeStreamCommand,
  type DynamoDBStreamsClient,
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  type Shard,
  type _Record as StreamRecord,
} from '@aws-sdk/client-dynamodb-streams';
import { matchesEventPattern, validateEventPattern } from '../events/pattern.ts';
import type { AccessRequest } from '../iam/access.ts';
import { AccessDeniedError, type IamAuthority } from '../iam/authority.ts';
import type { RequestPrincipal } from '../iam/evaluate.ts';
import type { InvokeResult, LambdaInvoker, TargetDispatcher } from '../types.ts';
import { AwsError } from '../wire/aws-error.ts';
import { writeJsonAtomic } from '../wire/persist.ts';

/** Options of {@link DynamoDbStreamMapping}; the names follow CreateEventSourceMapping. */
export interface DynamoDbStreamMappingOptions {
  /** The mapping's UUID (appears in logs). */
  readonly uuid: string;
  readonly functionArn: string;
  /** The function's execution role (the one Lambda polls the stream and sends failures as). @default unknown */
  readonly functionRoleArn?: string;
  readonly invoker: LambdaInvoker;
  /** Sends on-failure records to `onFailureDestinationArn`. */
  readonly dispatcher: TargetDispatcher;
  /** The stream ARN as DynamoDB Local knows it; it is also the records' `eventSourceARN`. */
  readonly streamArn: string;
  /** A client pointed at DynamoDB Local. */
  readonly streams: DynamoDBStreamsClient;
  /** Records per invocation (after filtering). */
  readonly batchSize: number;
  /** How long to gather records before invoking with fewer than `batchSize`. @default 0 */
  readonly maximumBatchingWindowInSeconds?: number;
  /** Lambda FilterCriteria: a record is delivered when any filter's pattern matches it. */
  readonly filterCriteria?: { Filters?: { Pattern?: string }[] };
  /** Split a failing batch in two and retry each half. @default false */
  readonly bisectBatchOnFunctionError?: boolean;
  /** Retries of a failing batch before it is discarded; -1 retries until the record expires. @default -1 */
  readonly maximumRetryAttempts?: number;
  /** Records older than this are discarded instead of retried; -1 means never. @default -1 */
  readonly maximumRecordAgeInSeconds?: number;
  /** Where discarded batches are described (an SQS queue or SNS topic ARN). @default discarded silently */
  readonly onFailureDestinationArn?: string;
  /** Where to start when there is no checkpoint yet. */
  readonly startingPosition: 'TRIM_HORIZON' | 'LATEST';
  /** `['ReportBatchItemFailures']` to honour `{ batchItemFailures }` responses. */
  readonly functionResponseTypes?: string[];
  /** JSON file holding the position per shard, so a restart neither loses nor redelivers records. */
  readonly checkpointFile?: string;
  /** Idle delay between polls when the stream has nothing new. @default 200 */
  readonly pollIntervalMs?: number;
  /** The records' `awsRegion`. */
  readonly region: string;
  /** Where errors and discarded batches are reported (the local cloud log). @default ignored */
  readonly log?: (line: string) => void;
  /**
   * IAM: as Lambda does, the constructor checks that the function's role (`functionRoleArn`) may read the stream
   * and send to the on-failure destination (`InvalidParameterValueException` in enforce mode, a log line in warn
   * mode), and each send to the destination is authorized as that role. @default no checks
   */
  readonly iam?: IamAuthority;
}

/** What Lambda needs the function's role to allow on a DynamoDB stream it polls. */
export const STREAM_READ_ACTIONS = [
  'dynamodb:DescribeStream',
  'dynamodb:GetRecords',
  'dynamodb:GetShardIterator',
  'dynamodb:ListStreams',
] as const;

/** A DynamoDB stream record as Lambda puts it in `event.Records`. */
export interface LambdaDynamoDbRecord {
  readonly eventID: string;
  readonly eventName: string;
  readonly eventVersion: string;
  readonly eventSource: 'aws:dynamodb';
  readonly awsRegion: string;
  readonly dynamodb: {
    readonly ApproximateCreationDateTime: number;
    readonly Keys: Record<string, unknown>;
    readonly NewImage?: Record<string, unknown>;
    readonly OldImage?: Record<string, unknown>;
    readonly SequenceNumber: string;
    readonly SizeBytes: number;
    readonly StreamViewType: string;
  };
  readonly eventSourceARN: string;
  readonly userIdentity?: { readonly type: string; readonly principalId: string };
}

/** Raised by `drain()` when the mapping is stopped or a poll fails before the stream was drained. */
export class StreamDrainError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'StreamDrainError';
  }
}

interface ShardCheckpoint {
  /** Every record up to and including this one has been handled. */
  sequenceNumber?: string;
  /** The shard is closed and every record in it has been handled. */
  finished?: boolean;
}

interface Checkpoints {
  streamArn: string;
  /** LATEST was resolved to positions already (so a restart does not skip records written while down). */
  initialized: boolean;
  shards: Record<string, ShardCheckpoint>;
}

interface Buffered {
  readonly record: LambdaDynamoDbRecord;
  readonly matches: boolean;
  readonly fetchedAt: number;
}

type Outcome =
  | { readonly kind: 'success' }
  | { readonly kind: 'partial'; readonly failedIndex: number; readonly result: InvokeResult }
  | { readonly kind: 'error'; readonly result?: InvokeResult; readonly error?: unknown };

const SHARD_REFRESH_MS = 10_000;
const MAX_RETRY_DELAY_MS = 5_000;

/** One event source mapping: a DynamoDB stream feeding one function. */
export class DynamoDbStreamMapping {
  readonly #options: DynamoDbStreamMappingOptions;
  readonly #patterns: readonly unknown[];
  readonly #reportItemFailures: boolean;
  readonly #pollIntervalMs: number;
  readonly #log: (line: string) => void;
  #checkpoints: Checkpoints;
  #dirty = false;
  #shards: Shard[] = [];
  #shardsListedAt = 0;
  readonly #iterators = new Map<string, string>();
  readonly #exhausted = new Set<string>();
  readonly #buffers = new Map<string, Buffered[]>();
  #running = false;
  #stopping = false;
  #loop: Promise<void> | undefined;
  #cycleLock: Promise<unknown> = Promise.resolve();
  #cyclesStarted = 0;
  readonly #sleepers = new Map<() => void, 'idle' | 'retry'>();
  readonly #drainWaiters = new Set<{
    fromCycle: number;
    resolve: () => void;
    reject: (error: Error) => void;
  }>();

  constructor(options: DynamoDbStreamMappingOptions) {
    if (!Number.isInteger(options.batchSize) || options.batchSize < 1 || options.batchSize > 10_000) {
      throw new AwsError(
        'InvalidParameterValueException',
        `BatchSize must be an integer from 1 to 10000 for a DynamoDB stream, received ${options.batchSize}.`,
      );
    }
    this.#options = options;
    this.#patterns = parseFilters(options.filterCriteria);
    this.#reportItemFailures = options.functionResponseTypes?.includes('ReportBatchItemFailures') ?? false;
    this.#pollIntervalMs = options.pollIntervalMs ?? 200;
    this.#log = options.log ?? (() => {});
    this.#checkRoleAtCreation();
    this.#checkpoints = loadCheckpoints(options.checkpointFile, options.streamArn);
  }

  /** The function's role, as Lambda uses it for the mapping (a session named after the function). */
  #rolePrincipal(): RequestPrincipal | undefined {
    const { iam, functionRoleArn, functionArn } = this.#options;
    if (iam === undefined || functionRoleArn === undefined) return undefined;
    const functionName = /:function:([^:]+)/.exec(functionArn)?.[1] ?? functionArn;
    return iam.sessionPrincipal(functionRoleArn, functionName);
  }

  /**
   * CreateEventSourceMapping's checks of the function's role: it must read the stream, and send to the on-failure
   * destination. AWS refuses the mapping otherwise (`InvalidParameterValueException`); warn mode logs instead.
   */
  #checkRoleAtCreation(): void {
    const iam = this.#options.iam;
    const principal = this.#rolePrincipal();
    if (iam === undefined || principal === undefined || iam.mode === 'off') return;
    const allowed = (requests: readonly AccessRequest[]) =>
      requests.every((request) => iam.decide({ principal, ...request }).decision === 'allow');
    const refusals: string[] = [];
    const streamArn = this.#options.streamArn;
    if (!allowed(STREAM_READ_ACTIONS.map((action) => ({ action, resource: streamArn })))) {
      refusals.push(
        `Cannot access stream ${streamArn}. Please ensure the role can perform the GetRecords, GetShardIterator, DescribeStream, and ListStreams Actions on your stream in IAM.`,
      );
    }
    const destination = this.#options.onFailureDestinationArn;
    const send = destination === undefined ? undefined : destinationAccess(destination);
    if (send !== undefined && !allowed([send.request])) {
      refusals.push(
        `The provided execution role does not have permissions to call ${send.operation} on ${send.service}`,
      );
    }
    for (const refusal of refusals) {
      if (iam.mode === 'enforce') throw new AwsError('InvalidParameterValueException', refusal);
      this.#log(
        `IAM (warn) event source mapping ${this.#options.uuid} (${principal.arn}): InvalidParameterValueException: ${refusal}`,
      );
    }
  }

  /** Starts polling in the background (idempotent). */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#stopping = false;
    this.#loop = this.#run();
  }

  /** Stops polling after the batch in flight; positions are saved. Records not yet handled are kept for later. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#running = false;
    for (const wake of this.#sleepers.keys()) wake();
    await this.#loop;
    this.#loop = undefined;
    await this.#cycleLock.catch(() => {});
    await this.#saveCheckpoints();
    for (const waiter of this.#drainWaiters) {
      waiter.reject(
        new StreamDrainError(
          `Event source mapping ${this.#options.uuid} was stopped before the stream was drained.`,
        ),
      );
    }
    this.#drainWaiters.clear();
    this.#stopping = false;
  }

  /**
   * Resolves once every record in the stream now has been handled (delivered, filtered out or discarded).
   * Works whether or not the mapping was started. Never resolves while a batch is retried forever
   * (maximumRetryAttempts -1 with a function that keeps failing), exactly as the shard stays blocked on AWS.
   */
  async drain(): Promise<void> {
    if (!this.#running) {
      for (;;) {
        const { fetched, quiet } = await this.#exclusiveCycle();
        if (quiet) return;
        if (fetched === 0) await this.#sleep(this.#pollIntervalMs, 'idle');
      }
    }
    await new Promise<void>((resolve, reject) => {
      this.#drainWaiters.add({ fromCycle: this.#cyclesStarted + 1, resolve, reject });
      for (const [wake, kind] of this.#sleepers) if (kind === 'idle') wake();
    });
  }

  // -------------------------------------------------------------------------------------------------------------
  // Polling loop

  async #run(): Promise<void> {
    while (this.#running) {
      let fetched = 0;
      try {
        ({ fetched } = await this.#exclusiveCycle());
      } catch (error) {
        this.#log(
          `Event source mapping ${this.#options.uuid}: polling ${this.#options.streamArn} failed: ${message(error)}`,
        );
        for (const waiter of this.#drainWaiters) {
          waiter.reject(
            new StreamDrainError(`Polling the stream failed: ${message(error)}`, { cause: error }),
          );
        }
        this.#drainWaiters.clear();
        await this.#sleep(Math.max(this.#pollIntervalMs, 1000), 'idle');
        continue;
      }
      // Nothing new: wait (a batching window in progress is re-checked at this pace too).
      if (fetched === 0) await this.#sleep(this.#pollIntervalMs, 'idle');
    }
  }

  /** Runs one cycle, never two at once: the records read, and whether nothing was left to handle. */
  #exclusiveCycle(): Promise<{ fetched: number; quiet: boolean }> {
    const next = this.#cycleLock.catch(() => {}).then(() => this.#cycle());
    this.#cycleLock = next;
    return next;
  }

  async #cycle(): Promise<{ fetched: number; quiet: boolean }> {
    const cycle = ++this.#cyclesStarted;
    let fetched = 0;
    const shards = await this.#listShards();
    if (!this.#checkpoints.initialized) await this.#initialize(shards);
    for (const shard of this.#eligible(shards)) {
      if (this.#stopping) break;
      fetched += await this.#pollShard(shard.ShardId as string);
    }
    await this.#saveCheckpoints();
    const quiet = fetched === 0 && [...this.#buffers.values()].every((b) => b.length === 0);
    if (quiet) {
      for (const waiter of this.#drainWaiters) {
        if (cycle >= waiter.fromCycle) {
          waiter.resolve();
          this.#drainWaiters.delete(waiter);
        }
      }
    }
    return { fetched, quiet };
  }

  async #listShards(): Promise<Shard[]> {
    // Shards change rarely (a closed shard gets children); re-list periodically and when one finishes.
    if (this.#shards.length > 0 && Date.now() - this.#shardsListedAt < SHARD_REFRESH_MS) return this.#shards;
    const shards: Shard[] = [];
    let exclusiveStartShardId: string | undefined;
    do {
      const page = await this.#options.streams.send(
        new DescribeStreamCommand({
          StreamArn: this.#options.streamArn,
          ExclusiveStartShardId: exclusiveStartShardId,
        }),
      );
      shards.push(...(page.StreamDescription?.Shards ?? []));
      exclusiveStartShardId = page.StreamDescription?.LastEvaluatedShardId;
    } while (exclusiveStartShardId);
    this.#shards = shards;
    this.#shardsListedAt = Date.now();
    return shards;
  }

  /** Shards not finished whose parent (if still listed) is finished: a child waits for its parent, as Lambda does. */
  #eligible(shards: readonly Shard[]): Shard[] {
    const listed = new Set(shards.map((s) => s.ShardId));
    return shards.filter((shard) => {
      const id = shard.ShardId as string;
      if (this.#checkpoints.shards[id]?.finished) return false;
      const parent = shard.ParentShardId;
      return !parent || !listed.has(parent) || this.#checkpoints.shards[parent]?.finished === true;
    });
  }

  /** Resolves the starting position once: LATEST becomes "after the last record now in each shard". */
  async #initialize(shards: readonly Shard[]): Promise<void> {
    if (this.#options.startingPosition === 'LATEST') {
      for (const shard of shards) {
        const id = shard.ShardId as string;
        let iterator: string | undefined = await this.#iterator(id, 'TRIM_HORIZON');
        let last: string | undefined;
        while (iterator) {
          const page = await this.#options.streams.send(
            new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }),
          );
          const records = page.Records ?? [];
          last = records.at(-1)?.dynamodb?.SequenceNumber ?? last;
          iterator = page.NextShardIterator;
          if (records.length === 0) break;
        }
        const closedAndRead = iterator === undefined;
        this.#checkpoints.shards[id] = {
          ...(last ? { sequenceNumber: last } : {}),
          ...(closedAndRead ? { finished: true } : {}),
        };
      }
    }
    this.#checkpoints.initialized = true;
    this.#dirty = true;
  }

  async #iterator(
    shardId: string,
    type: 'TRIM_HORIZON' | 'AFTER_SEQUENCE_NUMBER',
    sequenceNumber?: string,
  ): Promise<string | undefined> {
    const response = await this.#options.streams.send(
      new GetShardIteratorCommand({
        StreamArn: this.#options.streamArn,
        ShardId: shardId,
        ShardIteratorType: type,
        ...(sequenceNumber ? { SequenceNumber: sequenceNumber } : {}),
      }),
    );
    return response.ShardIterator;
  }

  async #acquireIterator(shardId: string): Promise<string | undefined> {
    const sequenceNumber = this.#checkpoints.shards[shardId]?.sequenceNumber;
    if (!sequenceNumber) return this.#iterator(shardId, 'TRIM_HORIZON');
    try {
      return await this.#iterator(shardId, 'AFTER_SEQUENCE_NUMBER', sequenceNumber);
    } catch (error) {
      // The checkpoint fell out of the 24-hour retention: continue with the oldest record still there.
      if (errorName(error) === 'TrimmedDataAccessException') return this.#iterator(shardId, 'TRIM_HORIZON');
      throw error;
    }
  }

  /** Reads more of one shard if needed and handles every batch that is ready; returns the records read. */
  async #pollShard(shardId: string): Promise<number> {
    const buffer = this.#buffers.get(shardId) ?? [];
    this.#buffers.set(shardId, buffer);
    let fetched = 0;
    if (!this.#exhausted.has(shardId) && countMatching(buffer) < this.#options.batchSize) {
      fetched = await this.#fetch(shardId, buffer);
    }
    this.#skipFiltered(shardId, buffer);
    while (buffer.length > 0 && !this.#stopping) {
      const matching = countMatching(buffer);
      const windowMs = (this.#options.maximumBatchingWindowInSeconds ?? 0) * 1000;
      const first = buffer[0] as Buffered;
      const ready =
        matching >= this.#options.batchSize ||
        windowMs === 0 ||
        Date.now() - first.fetchedAt >= windowMs ||
        this.#exhausted.has(shardId);
      if (!ready) break;
      let end = 0;
      const batch: LambdaDynamoDbRecord[] = [];
      for (; end < buffer.length && batch.length < this.#options.batchSize; end++) {
        const item = buffer[end] as Buffered;
        if (item.matches) batch.push(item.record);
      }
      const handled = await this.#handleBatch(shardId, batch, 0);
      if (!handled) return fetched;
      // Filtered records inside (or trailing) the batch's range were consumed with it.
      this.#checkpoint(shardId, (buffer[end - 1] as Buffered).record.dynamodb.SequenceNumber);
      buffer.splice(0, end);
      this.#skipFiltered(shardId, buffer);
    }
    if (buffer.length === 0 && this.#exhausted.has(shardId)) {
      this.#checkpoints.shards[shardId] = { ...this.#checkpoints.shards[shardId], finished: true };
      this.#exhausted.delete(shardId);
      this.#dirty = true;
      this.#shardsListedAt = 0; // a closed shard may have children to pick up
    }
    return fetched;
  }

  async #fetch(shardId: string, buffer: Buffered[]): Promise<number> {
    let iterator = this.#iterators.get(shardId) ?? (await this.#acquireIterator(shardId));
    if (!iterator) {
      this.#exhausted.add(shardId);
      return 0;
    }
    let page: GetRecordsCommandOutput;
    try {
      page = await this.#options.streams.send(
        new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }),
      );
    } catch (error) {
      const name = errorName(error);
      if (name === 'ExpiredIteratorException' || name === 'TrimmedDataAccessException') {
        // Start over from the checkpoint (or beyond the trimmed part) next cycle; records in the buffer stay.
        this.#iterators.delete(shardId);
        buffer.length = 0;
        return 0;
      }
      throw error;
    }
    const now = Date.now();
    for (const raw of page.Records ?? []) {
      const record = toLambdaRecord(raw, this.#options.region, this.#options.streamArn);
      buffer.push({ record, matches: this.#matches(record), fetchedAt: now });
    }
    iterator = page.NextShardIterator;
    if (iterator) this.#iterators.set(shardId, iterator);
    else {
      this.#iterators.delete(shardId);
      this.#exhausted.add(shardId);
    }
    return page.Records?.length ?? 0;
  }

  #matches(record: LambdaDynamoDbRecord): boolean {
    return (
      this.#patterns.length === 0 || this.#patterns.some((pattern) => matchesEventPattern(pattern, record))
    );
  }

  /** Records the filter drops are never delivered, and the position moves past them (as Lambda does). */
  #skipFiltered(shardId: string, buffer: Buffered[]): void {
    while (buffer.length > 0 && !(buffer[0] as Buffered).matches) {
      this.#checkpoint(shardId, (buffer.shift() as Buffered).record.dynamodb.SequenceNumber);
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Invocation, retries, bisection, on-failure

  /** Delivers a batch until it succeeds or is discarded; false when stopped first (the batch stays unhandled). */
  async #handleBatch(
    shardId: string,
    records: readonly LambdaDynamoDbRecord[],
    retriesUsed: number,
  ): Promise<boolean> {
    let current = records;
    let retries = retriesUsed;
    let invocations = 0;
    const maxRetries = this.#options.maximumRetryAttempts ?? -1;
    const maxAge = this.#options.maximumRecordAgeInSeconds ?? -1;
    for (;;) {
      if (this.#stopping) return false;
      const outcome = await this.#invoke(current);
      invocations += 1;
      if (outcome.kind === 'success') {
        this.#checkpoint(shardId, lastSequence(current));
        return true;
      }
      if (outcome.kind === 'partial') {
        if (outcome.failedIndex > 0) {
          this.#checkpoint(
            shardId,
            (current[outcome.failedIndex - 1] as LambdaDynamoDbRecord).dynamodb.SequenceNumber,
          );
          current = current.slice(outcome.failedIndex);
        }
      } else if (this.#options.bisectBatchOnFunctionError && current.length > 1) {
        // Splitting does not consume a retry; each half carries the retries used so far.
        const half = Math.ceil(current.length / 2);
        if (!(await this.#handleBatch(shardId, current.slice(0, half), retries))) return false;
        return this.#handleBatch(shardId, current.slice(half), retries);
      }
      const tooOld = maxAge >= 0 && Date.now() / 1000 - oldestCreation(current) > maxAge;
      if (tooOld || (maxRetries >= 0 && retries >= maxRetries)) {
        await this.#discard(
          shardId,
          current,
          tooOld ? 'RecordAgeExceeded' : 'RetryAttemptsExhausted',
          invocations,
          outcome,
        );
        this.#checkpoint(shardId, lastSequence(current));
        return true;
      }
      retries += 1;
      await this.#sleep(Math.min(MAX_RETRY_DELAY_MS, this.#pollIntervalMs * 2 ** (retries - 1)), 'retry');
    }
  }

  async #invoke(records: readonly LambdaDynamoDbRecord[]): Promise<Outcome> {
    let result: InvokeResult;
    try {
      result = await this.#options.invoker.invoke(this.#options.functionArn, { Records: records });
    } catch (error) {
      this.#log(
        `Event source mapping ${this.#options.uuid}: invoking ${this.#options.functionArn} failed: ${message(error)}`,
      );
      return { kind: 'error', error };
    }
    if (result.functionError) return { kind: 'error', result };
    if (!this.#reportItemFailures) return { kind: 'success' };
    let payload = result.payload;
    if (typeof payload === 'string') {
      try {
        payload = JSON.parse(payload) as unknown;
      } catch {
        return { kind: 'success' };
      }
    }
    if (payload === null || payload === undefined || typeof payload !== 'object') return { kind: 'success' };
    const failures = (payload as { batchItemFailures?: unknown }).batchItemFailures;
    if (failures === null || failures === undefined) return { kind: 'success' };
    if (!Array.isArray(failures)) return { kind: 'error', result };
    if (failures.length === 0) return { kind: 'success' };
    let failedIndex = Number.POSITIVE_INFINITY;
    for (const failure of failures) {
      const id = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
      const index =
        typeof id === 'string' && id !== '' ? records.findIndex((r) => r.dynamodb.SequenceNumber === id) : -1;
      // An empty, null or unknown identifier makes the whole batch a failure.
      if (index === -1) return { kind: 'error', result };
      failedIndex = Math.min(failedIndex, index);
    }
    return { kind: 'partial', failedIndex, result };
  }

  async #discard(
    shardId: string,
    records: readonly LambdaDynamoDbRecord[],
    condition: 'RetryAttemptsExhausted' | 'RecordAgeExceeded',
    invocations: number,
    outcome: Outcome,
  ): Promise<void> {
    const first = records[0] as LambdaDynamoDbRecord;
    const last = records.at(-1) as LambdaDynamoDbRecord;
    this.#log(
      `Event source mapping ${this.#options.uuid}: discarding ${records.length} record(s) ${first.dynamodb.SequenceNumber}..${last.dynamodb.SequenceNumber} of ${shardId} (${condition}).`,
    );
    const destination = this.#options.onFailureDestinationArn;
    if (!destination) return;
    // Lambda sends to the destination as the function's role: a denial loses the record (nothing to retry).
    const principal = this.#rolePrincipal();
    const send = destinationAccess(destination);
    if (principal !== undefined && send !== undefined) {
      try {
        this.#options.iam?.authorize({ principal, ...send.request });
      } catch (error) {
        if (!(error instanceof AccessDeniedError)) throw error;
        this.#log(
          `Event source mapping ${this.#options.uuid}: could not send the record of ${records.length} discarded record(s) to the on-failure destination ${destination}: ${error.type}: ${error.message}`,
        );
        return;
      }
    }
    const result = outcome.kind === 'success' ? undefined : outcome.result;
    const error = outcome.kind === 'error' ? outcome.error : undefined;
    const responseContext: Record<string, unknown> = {
      statusCode: result?.statusCode ?? (error instanceof AwsError ? error.statusCode : 500),
      executedVersion: result?.executedVersion ?? '$LATEST',
    };
    if (result?.functionError) responseContext.functionError = result.functionError;
    const record = {
      requestContext: {
        requestId: result?.requestId ?? randomUUID(),
        functionArn: this.#options.functionArn,
        condition,
        approximateInvokeCount: invocations,
      },
      responseContext,
      version: '1.0',
      timestamp: new Date().toISOString(),
      DDBStreamBatchInfo: {
        shardId,
        startSequenceNumber: first.dynamodb.SequenceNumber,
        endSequenceNumber: last.dynamodb.SequenceNumber,
        approximateArrivalOfFirstRecord: isoSeconds(first.dynamodb.ApproximateCreationDateTime),
        approximateArrivalOfLastRecord: isoSeconds(last.dynamodb.ApproximateCreationDateTime),
        batchSize: records.length,
        streamArn: this.#options.streamArn,
      },
    };
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#options.dispatcher.deliver(destination, record);
        return;
      } catch (deliveryError) {
        if (attempt >= 3) {
          this.#log(
            `Event source mapping ${this.#options.uuid}: the on-failure destination ${destination} refused the record: ${message(deliveryError)}`,
          );
          return;
        }
        await this.#sleep(this.#pollIntervalMs, 'retry');
      }
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Checkpoints and timing

  #checkpoint(shardId: string, sequenceNumber: string): void {
    this.#checkpoints.shards[shardId] = { ...this.#checkpoints.shards[shardId], sequenceNumber };
    this.#dirty = true;
  }

  async #saveCheckpoints(): Promise<void> {
    const file = this.#options.checkpointFile;
    if (!file || !this.#dirty) return;
    this.#dirty = false;
    await writeJsonAtomic(file, this.#checkpoints, { mkdir: true, pretty: true });
  }

  /** Sleeps; `stop()` wakes every sleeper, `drain()` only idle ones (retry backoff keeps its pace). */
  #sleep(ms: number, kind: 'idle' | 'retry'): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#sleepers.set(wake, kind);
    });
  }
}

/** The call Lambda makes to an on-failure destination (an SQS queue or SNS topic), and how AWS names it. */
function destinationAccess(
  arn: string,
): { request: AccessRequest; operation: string; service: string } | undefined {
  if (arn.startsWith('arn:aws:sqs:')) {
    return {
      request: { action: 'sqs:SendMessage', resource: arn },
      operation: 'SendMessage',
      service: 'SQS',
    };
  }
  if (arn.startsWith('arn:aws:sns:')) {
    return { request: { action: 'sns:Publish', resource: arn }, operation: 'Publish', service: 'SNS' };
  }
  return undefined;
}

function parseFilters(criteria: DynamoDbStreamMappingOptions['filterCriteria']): unknown[] {
  const patterns: unknown[] = [];
  for (const filter of criteria?.Filters ?? []) {
    if (filter.Pattern === undefined || filter.Pattern === '') continue;
    try {
      const pattern = JSON.parse(filter.Pattern) as unknown;
      validateEventPattern(pattern);
      patterns.push(pattern);
    } catch (error) {
      throw new AwsError(
        'InvalidParameterValueException',
        `Invalid filter pattern definition: ${message(error)} Received: ${filter.Pattern}`,
        400,
        { cause: error },
      );
    }
  }
  return patterns;
}

function loadCheckpoints(file: string | undefined, streamArn: string): Checkpoints {
  const fresh: Checkpoints = { streamArn, initialized: false, shards: {} };
  if (!file) return fresh;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return fresh;
  }
  try {
    const stored = JSON.parse(text) as Checkpoints;
    // A different stream (the table was recreated) starts from its own starting position.
    return stored.streamArn === streamArn ? stored : fresh;
  } catch (error) {
    throw new AwsError(
      'InvalidParameterValueException',
      `The checkpoint file ${file} is not valid JSON; delete it to start from the mapping's starting position.`,
      400,
      { cause: error },
    );
  }
}

/** The record Lambda builds from a DynamoDB Streams record (attribute values in DynamoDB JSON, binary as base64). */
export function toLambdaRecord(raw: StreamRecord, region: string, streamArn: string): LambdaDynamoDbRecord {
  const ddb = raw.dynamodb ?? {};
  const created = ddb.ApproximateCreationDateTime;
  const dynamodb: Record<string, unknown> = {
    ApproximateCreationDateTime:
      created instanceof Date ? Math.floor(created.getTime() / 1000) : Number(created ?? 0),
    Keys: toJsonImage(ddb.Keys),
  };
  if (ddb.NewImage) dynamodb.NewImage = toJsonImage(ddb.NewImage);
  if (ddb.OldImage) dynamodb.OldImage = toJsonImage(ddb.OldImage);
  dynamodb.SequenceNumber = ddb.SequenceNumber ?? '';
  dynamodb.SizeBytes = ddb.SizeBytes ?? 0;
  dynamodb.StreamViewType = ddb.StreamViewType ?? '';
  const record: Record<string, unknown> = {
    eventID: raw.eventID ?? '',
    eventName: raw.eventName ?? '',
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: region,
    dynamodb,
    eventSourceARN: streamArn,
  };
  if (raw.userIdentity?.Type && raw.userIdentity.PrincipalId) {
    record.userIdentity = { type: raw.userIdentity.Type, principalId: raw.userIdentity.PrincipalId };
  }
  return record as unknown as LambdaDynamoDbRecord;
}

function toJsonImage(image: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(image ?? {})) out[name] = toJsonValue(value);
  return out;
}

function toJsonValue(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [type, inner] of Object.entries(value as Record<string, unknown>)) {
    if (inner === undefined || type === '$unknown') continue;
    if (type === 'B') out.B = Buffer.from(inner as Uint8Array).toString('base64');
    else if (type === 'BS') out.BS = (inner as Uint8Array[]).map((b) => Buffer.from(b).toString('base64'));
    else if (type === 'M') out.M = toJsonImage(inner as Record<string, unknown>);
    else if (type === 'L') out.L = (inner as unknown[]).map(toJsonValue);
    else out[type] = inner;
  }
  return out;
}

function countMatching(buffer: readonly Buffered[]): number {
  let n = 0;
  for (const item of buffer) if (item.matches) n++;
  return n;
}

function lastSequence(records: readonly LambdaDynamoDbRecord[]): string {
  return (records.at(-1) as LambdaDynamoDbRecord).dynamodb.SequenceNumber;
}

function oldestCreation(records: readonly LambdaDynamoDbRecord[]): number {
  return Math.min(...records.map((r) => r.dynamodb.ApproximateCreationDateTime));
}

function isoSeconds(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : '';
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
