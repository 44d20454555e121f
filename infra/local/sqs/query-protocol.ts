/**
 * SQS on the wire beside its JSON protocol: the older query protocol (`Action=SendMessage&…`, flattened
 * parameters in, XML out) that older SDKs and tools still send, and the legacy query error codes SQS's
 * awsJson1_0 answers carry in `x-amzn-query-error` (query-compatible mode). The edge routes here; the
 * operations themselves are the {@link JsonService}'s.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AwsError, type ErrorAnswer, errorAnswerOf, type JsonService } from '../wire/aws-error.ts';
import { headerOf, readRequestBody } from '../wire/http.ts';

/**
 * SQS's JSON error names → the legacy query codes SQS sends in `x-amzn-query-error` (the SDK and botocore
 * read that header for SQS); names not listed use the same code.
 */
const SQS_QUERY_CODES: Readonly<Record<string, string>> = {
  QueueDoesNotExist: 'AWS.SimpleQueueService.NonExistentQueue',
  QueueNameExists: 'QueueAlreadyExists',
  PurgeQueueInProgress: 'AWS.SimpleQueueService.PurgeQueueInProgress',
  QueueDeletedRecently: 'AWS.SimpleQueueService.QueueDeletedRecently',
  MessageNotInflight: 'AWS.SimpleQueueService.MessageNotInflight',
  BatchEntryIdsNotDistinct: 'AWS.SimpleQueueService.BatchEntryIdsNotDistinct',
  BatchRequestTooLong: 'AWS.SimpleQueueService.BatchRequestTooLong',
  EmptyBatchRequest: 'AWS.SimpleQueueService.EmptyBatchRequest',
  InvalidBatchEntryId: 'AWS.SimpleQueueService.InvalidBatchEntryId',
  TooManyEntriesInBatchRequest: 'AWS.SimpleQueueService.TooManyEntriesInBatchRequest',
  UnsupportedOperation: 'AWS.SimpleQueueService.UnsupportedOperation',
};
const SQS_JSON_NAMES: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(SQS_QUERY_CODES).map(([name, code]) => [code, name]),
);

/** An error name as SQS's JSON protocol spells it (a legacy query code becomes its JSON name). */
function jsonNameOf(type: string): string {
  const name = type.slice(type.lastIndexOf('#') + 1);
  return SQS_JSON_NAMES[name] ?? name;
}

/**
 * The `x-amzn-query-error` value SQS sends with an error: `<legacy code>;Sender|Receiver`
 * (`com.amazonaws.sqs#QueueDoesNotExist` → `AWS.SimpleQueueService.NonExistentQueue;Sender`).
 */
export function sqsQueryErrorHeader(type: string, statusCode = 400): string {
  const name = jsonNameOf(type);
  return `${SQS_QUERY_CODES[name] ?? name};${statusCode >= 500 ? 'Receiver' : 'Sender'}`;
}

/** An SQS error answer of the JSON protocol: its namespaced `__type` and the query-compatible header. */
export function sqsJsonError(answer: ErrorAnswer): { type: string; headers: Record<string, string> } {
  return {
    type: `com.amazonaws.sqs#${jsonNameOf(answer.type)}`,
    headers: { 'x-amzn-query-error': sqsQueryErrorHeader(answer.type, answer.statusCode) },
  };
}

// --- The query protocol (Action=…&…, XML answers). ---

const SQS_XMLNS = 'http://queue.amazonaws.com/doc/2012-11-05/';
const SQS_QUERY_ACTIONS = new Set([
  'CreateQueue',
  'GetQueueUrl',
  'GetQueueAttributes',
  'ListQueues',
  'SendMessage',
  'ReceiveMessage',
  'DeleteMessage',
  'PurgeQueue',
]);
const SQS_NUMERIC_PARAMS = new Set([
  'DelaySeconds',
  'MaxNumberOfMessages',
  'VisibilityTimeout',
  'WaitTimeSeconds',
  'MaxResults',
]);

/** Whether a request (without `X-Amz-Target`) speaks the query protocol: an `Action` or a form-encoded POST. */
export function isSqsQueryRequest(req: IncomingMessage, url: URL): boolean {
  if (url.searchParams.has('Action')) return true;
  const contentType = headerOf(req, 'content-type') ?? '';
  return (
    (req.method ?? '').toUpperCase() === 'POST' && contentType.startsWith('application/x-www-form-urlencoded')
  );
}

/** Turns flattened query parameters (`Attribute.1.Name=…`) into the JSON protocol's input. */
export function sqsQueryToJson(params: URLSearchParams): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  const attributes = new Map<string, { name?: string; value?: string }>();
  const messageAttributes = new Map<string, { name?: string; value: Record<string, string> }>();
  const tags = new Map<string, { key?: string; value?: string }>();
  const lists: Record<string, string[]> = {};
  for (const [key, value] of params) {
    if (key === 'Action' || key === 'Version' || key.startsWith('X-Amz-')) continue;
    let m = /^Attribute\.(\d+)\.(Name|Value)$/.exec(key);
    if (m?.[1]) {
      const entry = attributes.get(m[1]) ?? {};
      if (m[2] === 'Name') entry.name = value;
      else entry.value = value;
      attributes.set(m[1], entry);
      continue;
    }
    m = /^MessageAttribute\.(\d+)\.(Name|Value\.(DataType|StringValue|BinaryValue))$/.exec(key);
    if (m?.[1]) {
      const entry = messageAttributes.get(m[1]) ?? { value: {} };
      if (m[2] === 'Name') entry.name = value;
      else if (m[3]) entry.value[m[3]] = value;
      messageAttributes.set(m[1], entry);
      continue;
    }
    m = /^Tag\.(\d+)\.(Key|Value)$/.exec(key);
    if (m?.[1]) {
      const entry = tags.get(m[1]) ?? {};
      if (m[2] === 'Key') entry.key = value;
      else entry.value = value;
      tags.set(m[1], entry);
      continue;
    }
    m = /^(AttributeName|MessageAttributeName|MessageSystemAttributeName)\.\d+$/.exec(key);
    if (m?.[1]) {
      const listKey = `${m[1]}s`;
      lists[listKey] ??= [];
      lists[listKey].push(value);
      continue;
    }
    input[key] = SQS_NUMERIC_PARAMS.has(key) ? Number(value) : value;
  }
  if (attributes.size > 0) {
    input.Attributes = Object.fromEntries(
      [...attributes.values()].filter((a) => a.name !== undefined).map((a) => [a.name, a.value ?? '']),
    );
  }
  if (messageAttributes.size > 0) {
    input.MessageAttributes = Object.fromEntries(
      [...messageAttributes.values()].filter((a) => a.name !== undefined).map((a) => [a.name, a.value]),
    );
  }
  if (tags.size > 0) {
    input.tags = Object.fromEntries(
      [...tags.values()].filter((t) => t.key !== undefined).map((t) => [t.key, t.value ?? '']),
    );
  }
  Object.assign(input, lists);
  return input;
}

function xmlEscape(value: string): string {
  return value.replace(/[<>&'"\r]/g, (c) =>
    c === '<'
      ? '&lt;'
      : c === '>'
        ? '&gt;'
        : c === '&'
          ? '&amp;'
          : c === "'"
            ? '&apos;'
            : c === '"'
              ? '&quot;'
              : '&#xD;',
  );
}

/** Serialises a JSON protocol result the way the query protocol lays it out (flattened lists and maps). */
export function sqsJsonToXml(value: unknown): string {
  if (typeof value !== 'object' || value === null) return xmlEscape(String(value ?? ''));
  let xml = '';
  for (const [key, v] of Object.entries(value)) {
    if (v === undefined || v === null) continue;
    if (key === 'Attributes' && typeof v === 'object' && !Array.isArray(v)) {
      for (const [name, attr] of Object.entries(v)) {
        xml += `<Attribute><Name>${xmlEscape(name)}</Name><Value>${xmlEscape(String(attr))}</Value></Attribute>`;
      }
    } else if (key === 'MessageAttributes' && typeof v === 'object' && !Array.isArray(v)) {
      for (const [name, attr] of Object.entries(v)) {
        xml += `<MessageAttribute><Name>${xmlEscape(name)}</Name><Value>${sqsJsonToXml(attr)}</Value></MessageAttribute>`;
      }
    } else if (Array.isArray(v)) {
      // Flattened lists: QueueUrls → <QueueUrl>…, Messages → <Message>…
      const member = key.endsWith('s') ? key.slice(0, -1) : key;
      for (const item of v) xml += `<${member}>${sqsJsonToXml(item)}</${member}>`;
    } else {
      xml += `<${key}>${sqsJsonToXml(v)}</${key}>`;
    }
  }
  return xml;
}

/** What {@link handleSqsQuery} needs besides the request. */
export interface SqsQueryContext {
  readonly sqs: JsonService;
  /** The edge's URL (read late: a queue addressed by path gets it as its queue URL prefix). */
  readonly endpoint: () => string;
  readonly requestId: string;
  /** The largest body read. */
  readonly maxBodyBytes: number;
  readonly log: (line: string) => void;
  /** Authorizes the action for the request's principal (throws AccessDeniedException); absent: IAM is off. */
  readonly authorize?: (action: string, input: Record<string, unknown>) => void;
}

/** Answers one query-protocol request: parameters → the JSON service's operation → XML. */
export async function handleSqsQuery(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  context: SqsQueryContext,
): Promise<void> {
  const { requestId } = context;
  const sendXml = (statusCode: number, xml: string): void => {
    const text = `<?xml version="1.0"?>${xml}`;
    res.writeHead(statusCode, {
      'content-type': 'text/xml',
      'content-length': String(Buffer.byteLength(text)),
      'x-amzn-RequestId': requestId,
    });
    res.end(text);
  };
  const fail = (answer: ErrorAnswer): void => {
    const code = SQS_QUERY_CODES[answer.type] ?? answer.type;
    sendXml(
      answer.statusCode,
      `<ErrorResponse xmlns="${SQS_XMLNS}"><Error><Type>${answer.statusCode >= 500 ? 'Receiver' : 'Sender'}</Type>` +
        `<Code>${xmlEscape(code)}</Code><Message>${xmlEscape(answer.message)}</Message><Detail/></Error>` +
        `<RequestId>${requestId}</RequestId></ErrorResponse>`,
    );
  };
  let params: URLSearchParams;
  try {
    params = new URLSearchParams(url.search);
    if ((req.method ?? '').toUpperCase() === 'POST') {
      const body = await readRequestBody(req, context.maxBodyBytes);
      for (const [k, v] of new URLSearchParams(body.toString('utf8'))) params.append(k, v);
    } else {
      req.resume();
    }
  } catch (error) {
    fail({ statusCode: 400, type: 'MalformedQueryString', message: String(error) });
    return;
  }
  const action = params.get('Action') ?? '';
  if (!SQS_QUERY_ACTIONS.has(action)) {
    fail({
      statusCode: 400,
      type: 'InvalidAction',
      message: `The local cloud serves the SQS query protocol for ${[...SQS_QUERY_ACTIONS].join(', ')}, not '${action}'. Clients that speak the JSON protocol (X-Amz-Target: AmazonSQS.*; AWS SDK v3, AWS CLI) reach every operation.`,
    });
    return;
  }
  const input = sqsQueryToJson(params);
  // The query protocol may address the queue by the request path (its queue URL).
  if (input.QueueUrl === undefined && /^\/\d{12}\/[^/]+$/.test(url.pathname)) {
    input.QueueUrl = `${context.endpoint()}${url.pathname}`;
  }
  try {
    context.authorize?.(action, input);
    const output = await context.sqs.handle(action, input);
    sendXml(
      200,
      `<${action}Response xmlns="${SQS_XMLNS}"><${action}Result>${sqsJsonToXml(output ?? {})}</${action}Result>` +
        `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`,
    );
  } catch (error) {
    if (!(error instanceof AwsError)) context.log(`edge: SQS ${action} failed: ${String(error)}`);
    const answer = errorAnswerOf(error);
    fail({ ...answer, type: SQS_JSON_NAMES[answer.type] ?? answer.type });
  }
}
