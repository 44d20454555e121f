/**
 * Amazon SQS (standard queues) for the local cloud, spoken over the JSON protocol (`AmazonSQS.<Operation>`,
 * awsJson1_0). Queues and their messages live in memory and are written to `dataDir/sqs/queues.json` after
 * every change, so dead-letter queues keep their messages across restarts.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type {
  ChangeMessageVisibilityRequest,
  CreateQueueRequest,
  DeleteMessageRequest,
  GetQueueAttributesRequest,
  GetQueueUrlRequest,
  ListQueuesRequest,
  PurgeQueueRequest,
  ReceiveMessageRequest,
  SendMessageRequest,
} from '@aws-sdk/client-sqs';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from '../types.ts';
import { AwsError, type JsonService } from '../wire/aws-error.ts';
import { defineInput, type InputErrors } from '../wire/input.ts';
import { offsetPageToken, pageOffset } from '../wire/paging.ts';
import { writeFileAtomic } from '../wire/persist.ts';

/** A message attribute as SQS takes it (`DataType` String, Number or Binary, optionally with a custom suffix). */
export interface SqsMessageAttribute {
  readonly DataType: string;
  readonly StringValue?: string;
  /** Base64 in the JSON protocol. */
  readonly BinaryValue?: string;
}

interface StoredMessage {
  messageId: string;
  body: string;
  md5OfBody: string;
  messageAttributes?: Record<string, SqsMessageAttribute>;
  md5OfMessageAttributes?: string;
  sentTimestamp: number;
  /** Epoch ms from which the message can be received (delay or visibility timeout). */
  visibleAt: number;
  receiveCount: number;
  firstReceiveTimestamp?: number;
  /** The nonce of the latest receipt handle; older handles still delete, as SQS allows. */
  receipt?: string;
}

interface StoredQueue {
  name: string;
  arn: string;
  attributes: Record<string, string>;
  createdTimestamp: number;
  lastModifiedTimestamp: number;
  messages: StoredMessage[];
}

/** Options of {@link SqsService}. */
export interface SqsServiceOptions {
  /** Where queues are persisted (`<dataDir>/sqs/queues.json`). @default in memory only */
  readonly dataDir?: string;
  /** The queue URL prefix, e.g. `http://127.0.0.1:4566/000000000000`; read on every use (the edge port comes late). */
  readonly queueUrlBase: () => string;
}

const DEFAULT_ATTRIBUTES: Readonly<Record<string, string>> = {
  DelaySeconds: '0',
  MaximumMessageSize: '262144',
  MessageRetentionPeriod: '345600',
  ReceiveMessageWaitTimeSeconds: '0',
  VisibilityTimeout: '30',
  SqsManagedSseEnabled: 'true',
};

const SETTABLE_ATTRIBUTES = new Set([
  ...Object.keys(DEFAULT_ATTRIBUTES),
  'Policy',
  'RedrivePolicy',
  'RedriveAllowPolicy',
  'KmsMasterKeyId',
  'KmsDataKeyReusePeriodSeconds',
]);

/** The error shapes this SQS answers (their legacy query codes: see query-protocol.ts). */
type SqsErrorShape =
  | 'QueueDoesNotExist'
  | 'QueueNameExists'
  | 'ReceiptHandleIsInvalid'
  | 'InvalidAttributeName'
  | 'InvalidParameterValue'
  | 'MissingParameter'
  | 'UnsupportedOperation'
  | 'InvalidMessageContents';

function sqsError(shape: SqsErrorShape, message: string): AwsError {
  return new AwsError(`com.amazonaws.sqs#${shape}`, message, 400);
}

/** SQS's own errors for bad input: `MissingParameter` (an empty string is missing too), `InvalidParameterValue`. */
const INPUT_ERRORS: InputErrors = {
  type: 'com.amazonaws.sqs#InvalidParameterValue',
  missing: {
    type: 'com.amazonaws.sqs#MissingParameter',
    message: (field) => `The request must contain the parameter ${field}.`,
    emptyString: true,
  },
};

/** The input of each operation, as the SDK types it (value ranges are checked by the operations, in SQS's words). */
const INPUT = {
  CreateQueue: defineInput<CreateQueueRequest>()({ QueueName: 'string', Attributes: 'map?' }, INPUT_ERRORS),
  GetQueueUrl: defineInput<GetQueueUrlRequest>()({ QueueName: 'string' }, INPUT_ERRORS),
  GetQueueAttributes: defineInput<GetQueueAttributesRequest>()(
    { QueueUrl: 'string', AttributeNames: 'string[]?' },
    INPUT_ERRORS,
  ),
  ListQueues: defineInput<ListQueuesRequest>()(
    { QueueNamePrefix: 'string?', NextToken: 'string?', MaxResults: 'integer?' },
    INPUT_ERRORS,
  ),
  SendMessage: defineInput<SendMessageRequest>()(
    { QueueUrl: 'string', MessageBody: 'string', DelaySeconds: 'integer?', MessageAttributes: 'map?' },
    INPUT_ERRORS,
  ),
  ReceiveMessage: defineInput<ReceiveMessageRequest>()(
    {
      QueueUrl: 'string',
      AttributeNames: 'string[]?',
      MessageSystemAttributeNames: 'string[]?',
      MessageAttributeNames: 'string[]?',
      MaxNumberOfMessages: 'integer?',
      VisibilityTimeout: 'integer?',
      WaitTimeSeconds: 'integer?',
    },
    INPUT_ERRORS,
  ),
  DeleteMessage: defineInput<DeleteMessageRequest>()(
    { QueueUrl: 'string', ReceiptHandle: 'string' },
    INPUT_ERRORS,
  ),
  ChangeMessageVisibility: defineInput<ChangeMessageVisibilityRequest>()(
    { QueueUrl: 'string', ReceiptHandle: 'string', VisibilityTimeout: 'integer' },
    INPUT_ERRORS,
  ),
  PurgeQueue: defineInput<PurgeQueueRequest>()({ QueueUrl: 'string' }, INPUT_ERRORS),
};

const VISIBILITY_SWEEP_MS = 50;

/** In-memory SQS standard queues, persisted to `dataDir/sqs`. */
export class SqsService implements JsonService {
  readonly #queues = new Map<string, StoredQueue>();
  readonly #file: string | undefined;
  readonly #queueUrlBase: () => string;
  #writing: Promise<void> | undefined;
  #dirty = false;
  #closed = false;
  readonly #waiters = new Set<() => void>();

  constructor(options: SqsServiceOptions) {
    this.#queueUrlBase = options.queueUrlBase;
    if (options.dataDir !== undefined) {
      const dir = join(options.dataDir, 'sqs');
      mkdirSync(dir, { recursive: true });
      this.#file = join(dir, 'queues.json');
      this.#load();
    }
  }

  /** Creates (or keeps) a queue from the template; returns its URL and ARN. */
  createQueue(spec: { name: string; arn: string; attributes?: Record<string, string> }): {
    url: string;
    arn: string;
  } {
    const existing = this.#queues.get(spec.name);
    const now = Date.now();
    if (existing) {
      // A redeploy updates attributes but keeps the messages, as CloudFormation updates a queue in place.
      Object.assign(existing.attributes, this.#checkAttributes(spec.attributes ?? {}));
      existing.arn = spec.arn;
      existing.lastModifiedTimestamp = now;
    } else {
      if (spec.name.endsWith('.fifo')) {
        throw sqsError(
          'UnsupportedOperation',
          `Queue ${spec.name}: FIFO queues are not supported by the local cloud.`,
        );
      }
      this.#queues.set(spec.name, {
        name: spec.name,
        arn: spec.arn,
        attributes: { ...DEFAULT_ATTRIBUTES, ...this.#checkAttributes(spec.attributes ?? {}) },
        createdTimestamp: now,
        lastModifiedTimestamp: now,
        messages: [],
      });
    }
    this.#changed();
    return { url: this.#url(spec.name), arn: spec.arn };
  }

  /** Enqueues a message on a queue named by ARN, URL or name (used by the target dispatcher). */
  send(queueArnOrUrl: string, body: string, messageAttributes?: Record<string, unknown>): void {
    const queue = this.#queue(queueArnOrUrl);
    this.#enqueue(queue, body, messageAttributes, undefined);
  }

  async handle(operation: string, input: Record<string, unknown>): Promise<unknown> {
    switch (operation) {
      case 'CreateQueue':
        return this.#createQueueOperation(input);
      case 'GetQueueUrl': {
        const name = INPUT.GetQueueUrl.parse(input).QueueName;
        const queue = this.#queues.get(name);
        if (!queue) throw sqsError('QueueDoesNotExist', 'The specified queue does not exist.');
        return { QueueUrl: this.#url(queue.name) };
      }
      case 'GetQueueAttributes':
        return this.#getQueueAttributes(input);
      case 'ListQueues':
        return this.#listQueues(input);
      case 'SendMessage':
        return this.#sendMessage(input);
      case 'ReceiveMessage':
        return this.#receiveMessage(input);
      case 'DeleteMessage':
        return this.#deleteMessage(INPUT.DeleteMessage.parse(input));
      case 'ChangeMessageVisibility':
        return this.#changeVisibility(INPUT.ChangeMessageVisibility.parse(input));
      case 'PurgeQueue': {
        const queue = this.#queue(INPUT.PurgeQueue.parse(input).QueueUrl);
        queue.messages = [];
        this.#changed();
        return {};
      }
      default:
        throw new AwsError(
          'UnknownOperationException',
          `The local cloud's SQS does not implement ${operation}. Supported: CreateQueue, GetQueueUrl, GetQueueAttributes, ListQueues, SendMessage, ReceiveMessage, DeleteMessage, ChangeMessageVisibility, PurgeQueue.`,
        );
    }
  }

  /** Stops long polls and writes pending changes. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const wake of this.#waiters) wake();
    this.#changed();
    await this.#writing;
  }

  // -------------------------------------------------------------------------------------------------------------

  #url(name: string): string {
    return `${this.#queueUrlBase().replace(/\/+$/, '')}/${name}`;
  }

  /** Resolves a queue by URL (any host: the edge port may change between runs), ARN or bare name. */
  #queue(reference: string): StoredQueue {
    let name = reference;
    if (reference.startsWith('arn:')) {
      const found = [...this.#queues.values()].find((q) => q.arn === reference);
      if (found) return found;
      name = reference.slice(reference.lastIndexOf(':') + 1);
    } else if (reference.includes('/')) {
      name = reference.replace(/\/+$/, '').slice(reference.replace(/\/+$/, '').lastIndexOf('/') + 1);
    }
    const queue = this.#queues.get(name);
    if (!queue) throw sqsError('QueueDoesNotExist', 'The specified queue does not exist.');
    return queue;
  }

  #checkAttributes(attributes: Record<string, unknown>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [key, value] of Object.entries(attributes)) {
      if (!SETTABLE_ATTRIBUTES.has(key)) {
        throw sqsError('InvalidAttributeName', `Unknown Attribute ${key}.`);
      }
      const text = String(value);
      if (key === 'VisibilityTimeout' || key === 'DelaySeconds' || key === 'ReceiveMessageWaitTimeSeconds') {
        const max = key === 'VisibilityTimeout' ? 43200 : key === 'DelaySeconds' ? 900 : 20;
        const n = Number(text);
        if (!Number.isInteger(n) || n < 0 || n > max) {
          throw sqsError(
            'InvalidParameterValue',
            `Invalid value for the parameter ${key}: ${text}. Use 0..${max}.`,
          );
        }
      }
      if (key === 'RedrivePolicy' && !isRedrivePolicy(text)) {
        throw sqsError(
          'InvalidParameterValue',
          `Value ${text} for parameter RedrivePolicy is invalid. Reason: it must be JSON with deadLetterTargetArn and maxReceiveCount >= 1.`,
        );
      }
      out[key] = text;
    }
    return out;
  }

  #createQueueOperation(input: Record<string, unknown>): { QueueUrl: string } {
    const request = INPUT.CreateQueue.parse(input);
    const name = request.QueueName;
    if (!/^[A-Za-z0-9_-]{1,80}(\.fifo)?$/.test(name)) {
      throw sqsError(
        'InvalidParameterValue',
        `Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length. Received: ${name}`,
      );
    }
    const attributes = this.#checkAttributes(request.Attributes ?? {});
    const existing = this.#queues.get(name);
    if (existing) {
      const differs = Object.entries(attributes).some(([k, v]) => existing.attributes[k] !== v);
      if (differs) {
        throw sqsError(
          'QueueNameExists',
          `A queue already exists with the same name and a different value for attributes.`,
        );
      }
      return { QueueUrl: this.#url(name) };
    }
    const { url } = this.createQueue({
      name,
      arn: `arn:aws:sqs:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:${name}`,
      attributes,
    });
    return { QueueUrl: url };
  }

  #getQueueAttributes(input: Record<string, unknown>): { Attributes: Record<string, string> } {
    const request = INPUT.GetQueueAttributes.parse(input);
    const queue = this.#queue(request.QueueUrl);
    const now = Date.now();
    const all: Record<string, string> = {
      ...queue.attributes,
      QueueArn: queue.arn,
      ApproximateNumberOfMessages: String(queue.messages.filter((m) => m.visibleAt <= now).length),
      ApproximateNumberOfMessagesNotVisible: String(
        queue.messages.filter((m) => m.visibleAt > now && m.receiveCount > 0).length,
      ),
      ApproximateNumberOfMessagesDelayed: String(
        queue.messages.filter((m) => m.visibleAt > now && m.receiveCount === 0).length,
      ),
      CreatedTimestamp: String(Math.floor(queue.createdTimestamp / 1000)),
      LastModifiedTimestamp: String(Math.floor(queue.lastModifiedTimestamp / 1000)),
    };
    const names = request.AttributeNames ?? [];
    if (names.length === 0) return { Attributes: {} };
    if (names.includes('All')) return { Attributes: all };
    const picked: Record<string, string> = {};
    for (const name of names) {
      if (!(name in all) && !SETTABLE_ATTRIBUTES.has(name)) {
        throw sqsError('InvalidAttributeName', `Unknown Attribute ${name}.`);
      }
      const value = all[name];
      if (value !== undefined) picked[name] = value;
    }
    return { Attributes: picked };
  }

  #listQueues(input: Record<string, unknown>): { QueueUrls?: string[]; NextToken?: string } {
    const request = INPUT.ListQueues.parse(input);
    const prefix = request.QueueNamePrefix ?? '';
    const names = [...this.#queues.keys()].filter((n) => n.startsWith(prefix)).sort();
    const max = request.MaxResults ?? 1000;
    const start = pageOffset(request.NextToken, () =>
      sqsError('InvalidParameterValue', 'Invalid NextToken value.'),
    );
    const page = names.slice(start, start + max);
    const result: { QueueUrls?: string[]; NextToken?: string } = {};
    if (page.length > 0) result.QueueUrls = page.map((n) => this.#url(n));
    if (request.MaxResults !== undefined && start + max < names.length) {
      result.NextToken = offsetPageToken(start + max);
    }
    return result;
  }

  #sendMessage(input: Record<string, unknown>): Record<string, string> {
    const request = INPUT.SendMessage.parse(input);
    const queue = this.#queue(request.QueueUrl);
    const delay = request.DelaySeconds;
    if (delay !== undefined && (!Number.isInteger(delay) || delay < 0 || delay > 900)) {
      throw sqsError(
        'InvalidParameterValue',
        `Value ${delay} for parameter DelaySeconds is invalid. Use 0..900.`,
      );
    }
    const message = this.#enqueue(queue, request.MessageBody, request.MessageAttributes, delay);
    const out: Record<string, string> = { MessageId: message.messageId, MD5OfMessageBody: message.md5OfBody };
    if (message.md5OfMessageAttributes) out.MD5OfMessageAttributes = message.md5OfMessageAttributes;
    return out;
  }

  #enqueue(
    queue: StoredQueue,
    body: string,
    rawAttributes: Record<string, unknown> | undefined,
    delaySeconds: number | undefined,
  ): StoredMessage {
    const maxSize = Number(queue.attributes.MaximumMessageSize ?? DEFAULT_ATTRIBUTES.MaximumMessageSize);
    if (Buffer.byteLength(body) > maxSize) {
      throw sqsError(
        'InvalidParameterValue',
        `One or more parameters are invalid. Reason: Message must be shorter than ${maxSize} bytes.`,
      );
    }
    const attributes =
      rawAttributes && Object.keys(rawAttributes).length > 0
        ? checkMessageAttributes(rawAttributes)
        : undefined;
    const now = Date.now();
    const delay = delaySeconds ?? Number(queue.attributes.DelaySeconds ?? 0);
    const message: StoredMessage = {
      messageId: randomUUID(),
      body,
      md5OfBody: md5Hex(body),
      sentTimestamp: now,
      visibleAt: now + delay * 1000,
      receiveCount: 0,
    };
    if (attributes) {
      message.messageAttributes = attributes;
      message.md5OfMessageAttributes = md5OfMessageAttributes(attributes);
    }
    queue.messages.push(message);
    this.#changed();
    for (const wake of this.#waiters) wake();
    return message;
  }

  async #receiveMessage(input: Record<string, unknown>): Promise<{ Messages?: unknown[] }> {
    const request = INPUT.ReceiveMessage.parse(input);
    const queue = this.#queue(request.QueueUrl);
    const max = request.MaxNumberOfMessages ?? 1;
    if (!Number.isInteger(max) || max < 1 || max > 10) {
      throw sqsError(
        'InvalidParameterValue',
        `Value ${max} for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.`,
      );
    }
    const visibility = request.VisibilityTimeout ?? Number(queue.attributes.VisibilityTimeout);
    const wait = request.WaitTimeSeconds ?? Number(queue.attributes.ReceiveMessageWaitTimeSeconds);
    if (!Number.isInteger(wait) || wait < 0 || wait > 20) {
      throw sqsError(
        'InvalidParameterValue',
        `Value ${wait} for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.`,
      );
    }
    const deadline = Date.now() + wait * 1000;
    let taken = this.#take(queue, max, visibility);
    while (taken.length === 0 && Date.now() < deadline && !this.#closed) {
      await this.#waitForChange(Math.min(VISIBILITY_SWEEP_MS * 4, deadline - Date.now()));
      taken = this.#take(queue, max, visibility);
    }
    if (taken.length === 0) return {};
    const systemNames = [...(request.AttributeNames ?? []), ...(request.MessageSystemAttributeNames ?? [])];
    const attributeNames = request.MessageAttributeNames ?? [];
    return {
      Messages: taken.map(({ message, handle }) => {
        const out: Record<string, unknown> = {
          MessageId: message.messageId,
          ReceiptHandle: handle,
          MD5OfBody: message.md5OfBody,
          Body: message.body,
        };
        const system = systemAttributes(message, systemNames);
        if (system) out.Attributes = system;
        const selected = selectMessageAttributes(message.messageAttributes, attributeNames);
        if (selected) {
          out.MessageAttributes = selected;
          out.MD5OfMessageAttributes = md5OfMessageAttributes(selected);
        }
        return out;
      }),
    };
  }

  #take(
    queue: StoredQueue,
    max: number,
    visibilitySeconds: number,
  ): { message: StoredMessage; handle: string }[] {
    const now = Date.now();
    this.#expire(queue, now);
    const out: { message: StoredMessage; handle: string }[] = [];
    for (const message of [...queue.messages]) {
      if (out.length >= max) break;
      if (message.visibleAt > now) continue;
      if (this.#redriveIfExhausted(queue, message)) continue;
      message.receiveCount += 1;
      message.firstReceiveTimestamp ??= now;
      message.visibleAt = now + visibilitySeconds * 1000;
      message.receipt = randomBytes(12).toString('hex');
      out.push({ message, handle: encodeHandle(queue.name, message.messageId, message.receipt) });
    }
    if (out.length > 0) this.#changed();
    return out;
  }

  /** Moves a message to the dead-letter queue once it was received maxReceiveCount times (RedrivePolicy). */
  #redriveIfExhausted(queue: StoredQueue, message: StoredMessage): boolean {
    const policyText = queue.attributes.RedrivePolicy;
    if (!policyText) return false;
    const policy = JSON.parse(policyText) as {
      deadLetterTargetArn: string;
      maxReceiveCount: number | string;
    };
    if (message.receiveCount < Number(policy.maxReceiveCount)) return false;
    const target = [...this.#queues.values()].find((q) => q.arn === policy.deadLetterTargetArn);
    if (!target) return false;
    queue.messages = queue.messages.filter((m) => m !== message);
    target.messages.push({ ...message, visibleAt: Date.now() });
    this.#changed();
    return true;
  }

  #expire(queue: StoredQueue, now: number): void {
    const retentionMs = Number(queue.attributes.MessageRetentionPeriod ?? 345600) * 1000;
    const before = queue.messages.length;
    queue.messages = queue.messages.filter((m) => now - m.sentTimestamp < retentionMs);
    if (queue.messages.length !== before) this.#changed();
  }

  /** The queue and the decoded receipt handle a DeleteMessage or ChangeMessageVisibility names. */
  #receipt(input: { readonly QueueUrl: string; readonly ReceiptHandle: string }) {
    const queue = this.#queue(input.QueueUrl);
    const handle = decodeHandle(input.ReceiptHandle);
    if (!handle || handle.queue !== queue.name) {
      throw sqsError(
        'ReceiptHandleIsInvalid',
        `The input receipt handle "${input.ReceiptHandle}" is not a valid receipt handle.`,
      );
    }
    return { queue, handle };
  }

  #deleteMessage(input: {
    readonly QueueUrl: string;
    readonly ReceiptHandle: string;
  }): Record<string, never> {
    const { queue, handle } = this.#receipt(input);
    const before = queue.messages.length;
    // Deleting an already deleted message succeeds, as in SQS.
    queue.messages = queue.messages.filter((m) => m.messageId !== handle.messageId);
    if (queue.messages.length !== before) this.#changed();
    return {};
  }

  #changeVisibility(input: {
    readonly QueueUrl: string;
    readonly ReceiptHandle: string;
    readonly VisibilityTimeout: number;
  }): Record<string, never> {
    const { queue, handle } = this.#receipt(input);
    const timeout = input.VisibilityTimeout;
    if (!Number.isInteger(timeout) || timeout < 0 || timeout > 43200) {
      throw sqsError(
        'InvalidParameterValue',
        `Value ${String(input.VisibilityTimeout)} for parameter VisibilityTimeout is invalid. Use 0..43200.`,
      );
    }
    const message = queue.messages.find(
      (m) => m.messageId === handle.messageId && m.receipt === handle.nonce,
    );
    if (!message) {
      throw sqsError(
        'ReceiptHandleIsInvalid',
        'The receipt handle has expired or the message was received again since.',
      );
    }
    message.visibleAt = Date.now() + timeout * 1000;
    this.#changed();
    return {};
  }

  #waitForChange(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(ms, 1));
      this.#waiters.add(done);
    });
  }

  #load(): void {
    if (!this.#file) return;
    let text: string;
    try {
      text = readFileSync(this.#file, 'utf8');
    } catch {
      return; // first start
    }
    try {
      const stored = JSON.parse(text) as { queues: StoredQueue[] };
      for (const queue of stored.queues) this.#queues.set(queue.name, queue);
    } catch (error) {
      throw new SqsStateError(
        `The local SQS state in ${this.#file} is not valid JSON. Delete the file (its queues and messages are lost) or restore it.`,
        { cause: error },
      );
    }
  }

  #changed(): void {
    if (!this.#file) return;
    this.#dirty = true;
    this.#writing ??= this.#flush().finally(() => {
      this.#writing = undefined;
    });
  }

  async #flush(): Promise<void> {
    const file = this.#file as string;
    while (this.#dirty) {
      this.#dirty = false;
      await writeFileAtomic(file, JSON.stringify({ queues: [...this.#queues.values()] }));
    }
  }
}

/** The persisted SQS state cannot be read. */
export class SqsStateError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'SqsStateError';
  }
}

function isRedrivePolicy(text: string): boolean {
  try {
    const policy = JSON.parse(text) as { deadLetterTargetArn?: unknown; maxReceiveCount?: unknown } | null;
    return typeof policy?.deadLetterTargetArn === 'string' && Number(policy.maxReceiveCount) >= 1;
  } catch {
    return false;
  }
}

function md5Hex(text: string | Buffer): string {
  return createHash('md5').update(text).digest('hex');
}

function encodeHandle(queue: string, messageId: string, nonce: string): string {
  return Buffer.from(JSON.stringify([queue, messageId, nonce])).toString('base64');
}

function decodeHandle(handle: string): { queue: string; messageId: string; nonce: string } | undefined {
  try {
    const parsed = JSON.parse(Buffer.from(handle, 'base64').toString('utf8')) as unknown;
    if (Array.isArray(parsed) && parsed.length === 3 && parsed.every((p) => typeof p === 'string')) {
      const [queue, messageId, nonce] = parsed as [string, string, string];
      return { queue, messageId, nonce };
    }
  } catch {
    // not ours
  }
  return undefined;
}

function checkMessageAttributes(raw: Record<string, unknown>): Record<string, SqsMessageAttribute> {
  const out: Record<string, SqsMessageAttribute> = {};
  for (const [name, value] of Object.entries(raw)) {
    const attribute = value as Partial<SqsMessageAttribute> | null;
    const type = attribute?.DataType;
    if (typeof type !== 'string' || !/^(String|Number|Binary)(\..+)?$/.test(type)) {
      throw sqsError(
        'InvalidParameterValue',
        `The message attribute '${name}' has an invalid DataType ${JSON.stringify(type)}. Use String, Number or Binary (optionally with a .suffix).`,
      );
    }
    const isBinary = type.startsWith('Binary');
    const present = isBinary ? attribute?.BinaryValue : attribute?.StringValue;
    if (typeof present !== 'string') {
      throw sqsError(
        'InvalidParameterValue',
        `The message attribute '${name}' must contain a non-empty ${isBinary ? 'BinaryValue' : 'StringValue'}.`,
      );
    }
    out[name] = isBinary
      ? { DataType: type, BinaryValue: present }
      : { DataType: type, StringValue: present };
  }
  return out;
}

/** MD5 of message attributes as SQS computes it: sorted names, each field length-prefixed, transport byte. */
function md5OfMessageAttributes(attributes: Record<string, SqsMessageAttribute>): string {
  const parts: Buffer[] = [];
  const lengthPrefixed = (bytes: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    parts.push(length, bytes);
  };
  for (const name of Object.keys(attributes).sort()) {
    const attribute = attributes[name] as SqsMessageAttribute;
    lengthPrefixed(Buffer.from(name, 'utf8'));
    lengthPrefixed(Buffer.from(attribute.DataType, 'utf8'));
    if (attribute.BinaryValue !== undefined) {
      parts.push(Buffer.from([2]));
      lengthPrefixed(Buffer.from(attribute.BinaryValue, 'base64'));
    } else {
      parts.push(Buffer.from([1]));
      lengthPrefixed(Buffer.from(attribute.StringValue ?? '', 'utf8'));
    }
  }
  return md5Hex(Buffer.concat(parts));
}

function systemAttributes(
  message: StoredMessage,
  names: readonly string[],
): Record<string, string> | undefined {
  if (names.length === 0) return undefined;
  const all: Record<string, string> = {
    SenderId: LOCAL_ACCOUNT_ID,
    SentTimestamp: String(message.sentTimestamp),
    ApproximateReceiveCount: String(message.receiveCount),
    ApproximateFirstReceiveTimestamp: String(message.firstReceiveTimestamp ?? message.sentTimestamp),
  };
  if (names.includes('All')) return all;
  const picked: Record<string, string> = {};
  for (const name of names) {
    const value = all[name];
    if (value !== undefined) picked[name] = value;
  }
  return Object.keys(picked).length > 0 ? picked : undefined;
}

function selectMessageAttributes(
  attributes: Record<string, SqsMessageAttribute> | undefined,
  names: readonly string[],
): Record<string, SqsMessageAttribute> | undefined {
  if (!attributes || names.length === 0) return undefined;
  const picked: Record<string, SqsMessageAttribute> = {};
  for (const [name, value] of Object.entries(attributes)) {
    const wanted = names.some(
      (n) => n === 'All' || n === '.*' || n === name || (n.endsWith('.*') && name.startsWith(n.slice(0, -1))),
    );
    if (wanted) picked[name] = value;
  }
  return Object.keys(picked).length > 0 ? picked : undefined;
}
