/**
 * The local cloud's one AWS endpoint: a node:http server on 127.0.0.1 that speaks the AWS wire protocols
 * the project uses, so the ordinary AWS SDK and the AWS CLI work against it with `endpoint` /
 * `--endpoint-url` / `AWS_ENDPOINT_URL`.
 *
 * - JSON protocols, routed by `X-Amz-Target`: Step Functions, CloudWatch Logs, EventBridge, SQS.
 * - DynamoDB and DynamoDB Streams: a transparent, streaming proxy to DynamoDB Local.
 * - Lambda's REST `Invoke` (`POST /2015-03-31/functions/{name}/invocations`).
 * - SQS's older query protocol (`Action=SendMessage&…`, XML answers) for the common operations.
 *
 * Signatures are not verified here (DynamoDB Local does not either), but a request must carry one.
 */
import { randomUUID } from 'node:crypto';
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import {
  closeServer,
  type HttpApiServer,
  listen,
  RequestTooLargeError,
  readRequestBody,
  startHttpApiServer,
} from '../apigateway/http-api.ts';
import { type LambdaInvoker, LOCAL_ACCOUNT_ID } from '../types.ts';
import { AwsError, type JsonService } from '../wire/aws-error.ts';

/** The services the edge routes to. */
export interface EdgeServices {
  readonly stepfunctions: JsonService;
  readonly logs: JsonService;
  readonly events: JsonService;
  readonly sqs: JsonService;
  readonly lambda: LambdaInvoker;
  /** DynamoDB Local's URL; DynamoDB and DynamoDB Streams requests are proxied there untouched. */
  readonly dynamodbEndpoint: string;
}

/** One route of an HTTP API (`AWS::ApiGatewayV2::Route` + its integration). */
export interface HttpApiRoute {
  /** `GET`, `POST`, … or `ANY`. */
  readonly method: string;
  /** `'/orders/{id}'`, `'/{proxy+}'`, or `'$default'` for the default route. */
  readonly path: string;
  readonly authorizationType: 'AWS_IAM' | 'NONE';
  readonly functionArn: string;
  readonly payloadFormatVersion: '2.0' | '1.0';
}

/** An HTTP API (`AWS::ApiGatewayV2::Api`) with its routes. */
export interface HttpApiSpec {
  readonly apiId: string;
  readonly name: string;
  readonly routes: readonly HttpApiRoute[];
}

/** A running edge. */
export interface Edge {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  /** Starts the API on its own port and returns its URL, `http://127.0.0.1:<p>/`. */
  serveHttpApi(api: HttpApiSpec, options?: { readonly port?: number }): Promise<string>;
  /** Closes the edge and every HTTP API it serves. */
  close(): Promise<void>;
}

/** Options for {@link startEdge}. */
export interface EdgeOptions {
  /** TCP port on 127.0.0.1. @default a free port chosen by the OS */
  readonly port?: number;
  readonly services: EdgeServices;
  readonly region: string;
  /** The credentials HTTP API `AWS_IAM` routes check signatures against. */
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** Where unexpected failures (500s) are reported. @default console.error */
  readonly log?: (line: string) => void;
}

/** The path the lifecycle polls to know the edge is up and whose process answers. */
export const EDGE_HEALTH_PATH = '/_saga/health';

/** The largest request body the edge reads (SQS and Lambda payloads are far smaller). */
const MAX_BODY_BYTES = 16 * 1024 * 1024;

type JsonServiceName = 'stepfunctions' | 'logs' | 'events' | 'sqs';

/** `X-Amz-Target` prefix → service, and the JSON protocol version its SDK speaks. */
const JSON_TARGETS: Readonly<Record<string, { service: JsonServiceName; contentType: string }>> = {
  AWSStepFunctions: { service: 'stepfunctions', contentType: 'application/x-amz-json-1.0' },
  Logs_20140328: { service: 'logs', contentType: 'application/x-amz-json-1.1' },
  AWSEvents: { service: 'events', contentType: 'application/x-amz-json-1.1' },
  AmazonSQS: { service: 'sqs', contentType: 'application/x-amz-json-1.0' },
};

const DYNAMODB_TARGETS = new Set(['DynamoDB_20120810', 'DynamoDBStreams_20120810']);

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

/** An error answer in the AWS JSON shape. */
interface ErrorAnswer {
  readonly statusCode: number;
  readonly type: string;
  readonly message: string;
}

function errorAnswer(error: unknown): ErrorAnswer {
  if (error instanceof AwsError) {
    // Services may name errors with their Smithy namespace (`com.amazonaws.sqs#QueueDoesNotExist`).
    const type = error.type.slice(error.type.lastIndexOf('#') + 1);
    return { statusCode: error.statusCode, type, message: error.message };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { statusCode: 500, type: 'InternalFailure', message };
}

const readBody = (req: IncomingMessage): Promise<Buffer> => readRequestBody(req, MAX_BODY_BYTES);

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function sendJson(
  res: ServerResponse,
  statusCode: number,
  body: unknown,
  contentType: string,
  requestId: string,
  extraHeaders: Record<string, string> = {},
): void {
  const text = JSON.stringify(body ?? {});
  res.writeHead(statusCode, {
    'content-type': contentType,
    'content-length': String(Buffer.byteLength(text)),
    'x-amzn-RequestId': requestId,
    ...extraHeaders,
  });
  res.end(text);
}

/** JSON.stringify replacer: a `Date` goes on the wire as AWS JSON protocols send timestamps, epoch seconds. */
function awsJsonDates(this: unknown, key: string, value: unknown): unknown {
  const raw = (this as Record<string, unknown>)[key];
  return raw instanceof Date ? raw.getTime() / 1000 : value;
}

/** Whether the request carries a signature (header or presigned query), as AWS requires. */
function hasAuthentication(req: IncomingMessage, url: URL): boolean {
  return Boolean(headerOf(req, 'authorization')) || url.searchParams.has('X-Amz-Signature');
}

const LAMBDA_INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations\/?$/;

/** Starts the edge on 127.0.0.1; resolves once it listens. */
export async function startEdge(options: EdgeOptions): Promise<Edge> {
  const { services } = options;
  const log = options.log ?? ((line: string) => console.error(line));
  const dynamodb = new URL(services.dynamodbEndpoint);
  const proxyAgent = new Agent({ keepAlive: true });
  const apis: HttpApiServer[] = [];
  let endpoint = '';

  const handleJson = async (
    req: IncomingMessage,
    res: ServerResponse,
    prefix: string,
    operation: string,
    requestId: string,
  ): Promise<void> => {
    const target = JSON_TARGETS[prefix];
    const requested = headerOf(req, 'content-type');
    const contentType = requested?.startsWith('application/x-amz-json-1.')
      ? (requested.split(';')[0]?.trim() ?? '')
      : (target?.contentType ?? 'application/x-amz-json-1.0');
    const isSqs = target?.service === 'sqs';
    const fail = (answer: ErrorAnswer): void => {
      const headers: Record<string, string> = {};
      let type = answer.type;
      if (isSqs) {
        // SQS speaks awsJson1_0 in query-compatible mode: clients also read the legacy code from this header.
        type = SQS_JSON_NAMES[type] ?? type;
        const code = SQS_QUERY_CODES[type] ?? type;
        headers['x-amzn-query-error'] = `${code};${answer.statusCode >= 500 ? 'Receiver' : 'Sender'}`;
      }
      const wireType = isSqs ? `com.amazonaws.sqs#${type}` : type;
      sendJson(
        res,
        answer.statusCode,
        { __type: wireType, message: answer.message },
        contentType,
        requestId,
        headers,
      );
    };
    if (!target) {
      req.resume();
      fail({
        statusCode: 400,
        type: 'UnknownOperationException',
        message: `The local cloud does not serve X-Amz-Target '${prefix}.${operation}'. It serves ${[...Object.keys(JSON_TARGETS), ...DYNAMODB_TARGETS].join(', ')}.`,
      });
      return;
    }
    let input: Record<string, unknown>;
    try {
      const body = await readBody(req);
      const text = body.toString('utf8').trim();
      const parsed: unknown = text === '' ? {} : JSON.parse(text);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        throw new Error(
          `expected a JSON object, received ${Array.isArray(parsed) ? 'an array' : typeof parsed}`,
        );
      }
      input = parsed as Record<string, unknown>;
    } catch (error) {
      if (error instanceof RequestTooLargeError) {
        fail({ statusCode: 413, type: 'RequestEntityTooLarge', message: error.message });
        return;
      }
      fail({
        statusCode: 400,
        type: 'SerializationException',
        message: `Could not parse the request body as JSON: ${error instanceof Error ? error.message : String(error)}`,
      });
      return;
    }
    try {
      const output = await services[target.service].handle(operation, input);
      const text = JSON.stringify(output ?? {}, awsJsonDates);
      res.writeHead(200, {
        'content-type': contentType,
        'content-length': String(Buffer.byteLength(text)),
        'x-amzn-RequestId': requestId,
      });
      res.end(text);
    } catch (error) {
      const answer = errorAnswer(error);
      if (!(error instanceof AwsError)) {
        log(
          `edge: ${prefix}.${operation} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
        );
      }
      fail(answer);
    }
  };

  const proxyDynamoDb = (req: IncomingMessage, res: ServerResponse): void => {
    const headers = { ...req.headers, host: dynamodb.host };
    const upstream = httpRequest(
      {
        protocol: dynamodb.protocol,
        hostname: dynamodb.hostname,
        port: dynamodb.port,
        method: req.method,
        path: req.url,
        headers,
        agent: proxyAgent,
      },
      (answer) => {
        const out: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(answer.headers)) {
          // Hop-by-hop headers belong to each connection, not to the answer.
          if (value === undefined || ['connection', 'keep-alive', 'transfer-encoding'].includes(name))
            continue;
          out[name] = value;
        }
        res.writeHead(answer.statusCode ?? 502, answer.statusMessage, out);
        answer.pipe(res);
        answer.on('error', () => res.destroy());
      },
    );
    upstream.on('error', (error) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      sendJson(
        res,
        500,
        {
          __type: 'InternalFailure',
          message: `DynamoDB Local at ${services.dynamodbEndpoint} did not answer: ${error.message}`,
        },
        'application/x-amz-json-1.0',
        randomUUID(),
      );
    });
    req.pipe(upstream);
  };

  const handleLambdaInvoke = async (
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    rawName: string,
    requestId: string,
  ): Promise<void> => {
    const fail = (statusCode: number, type: string, message: string): void => {
      // Lambda is restJson1: the error name travels in x-amzn-ErrorType.
      sendJson(
        res,
        statusCode,
        { Type: statusCode >= 500 ? 'Service' : 'User', Message: message, message },
        'application/json',
        requestId,
        { 'x-amzn-ErrorType': type },
      );
    };
    let name = decodeURIComponent(rawName);
    const qualifier = url.searchParams.get('Qualifier');
    name = name.replace(/:\$LATEST$/, '');
    if (qualifier && qualifier !== '$LATEST') name = `${name}:${qualifier}`;
    const invocationType = headerOf(req, 'x-amz-invocation-type') ?? 'RequestResponse';
    let payload: unknown;
    try {
      const body = (await readBody(req)).toString('utf8').trim();
      payload = body === '' ? {} : JSON.parse(body);
    } catch (error) {
      if (error instanceof RequestTooLargeError) {
        fail(413, 'RequestTooLargeException', error.message);
        return;
      }
      fail(400, 'InvalidRequestContentException', `Could not parse request body into json: ${String(error)}`);
      return;
    }
    if (invocationType === 'DryRun') {
      res.writeHead(204, { 'x-amzn-RequestId': requestId });
      res.end();
      return;
    }
    if (invocationType === 'Event') {
      // Asynchronous invocation: accepted now, run in the background, failures only logged.
      services.lambda.invoke(name, payload).catch((error: unknown) => {
        log(
          `edge: async invoke of ${name} failed: ${error instanceof Error ? error.message : String(error)}`,
        );
      });
      res.writeHead(202, { 'x-amzn-RequestId': requestId, 'content-length': '0' });
      res.end();
      return;
    }
    if (invocationType !== 'RequestResponse') {
      fail(
        400,
        'InvalidParameterValueException',
        `Unsupported X-Amz-Invocation-Type '${invocationType}': use RequestResponse, Event or DryRun.`,
      );
      return;
    }
    try {
      const result = await services.lambda.invoke(name, payload);
      const text = result.payload === undefined ? 'null' : JSON.stringify(result.payload);
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(text)),
        'x-amzn-RequestId': result.requestId || requestId,
        'X-Amz-Executed-Version': result.executedVersion || '$LATEST',
      };
      if (result.functionError) headers['X-Amz-Function-Error'] = result.functionError;
      res.writeHead(result.statusCode || 200, headers);
      res.end(text);
    } catch (error) {
      const answer = errorAnswer(error);
      if (!(error instanceof AwsError)) log(`edge: invoke of ${name} failed: ${answer.message}`);
      fail(answer.statusCode, answer.statusCode === 500 ? 'ServiceException' : answer.type, answer.message);
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestId = randomUUID();
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = (req.method ?? 'GET').toUpperCase();
    if (url.pathname === EDGE_HEALTH_PATH) {
      req.resume();
      sendJson(res, 200, { status: 'ok', pid: process.pid, endpoint }, 'application/json', requestId);
      return;
    }
    const target = headerOf(req, 'x-amz-target');
    const lambdaMatch = method === 'POST' ? LAMBDA_INVOKE_PATH.exec(url.pathname) : null;
    const queryAction = !target && !lambdaMatch && isSqsQueryRequest(req, url);
    if (!target && !lambdaMatch && !queryAction) {
      req.resume();
      sendJson(
        res,
        404,
        {
          __type: 'NotFoundException',
          message: `The local cloud edge has nothing at ${method} ${url.pathname}. It serves AWS JSON protocols (X-Amz-Target), Lambda Invoke (POST /2015-03-31/functions/{name}/invocations) and SQS.`,
        },
        'application/json',
        requestId,
      );
      return;
    }
    if (!hasAuthentication(req, url)) {
      req.resume();
      sendJson(
        res,
        403,
        { __type: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' },
        'application/x-amz-json-1.0',
        requestId,
        { 'x-amzn-ErrorType': 'MissingAuthenticationTokenException' },
      );
      return;
    }
    if (target) {
      const dot = target.indexOf('.');
      const prefix = dot === -1 ? target : target.slice(0, dot);
      const operation = dot === -1 ? '' : target.slice(dot + 1);
      if (DYNAMODB_TARGETS.has(prefix)) {
        proxyDynamoDb(req, res);
        return;
      }
      await handleJson(req, res, prefix, operation, requestId);
      return;
    }
    if (lambdaMatch?.[1]) {
      await handleLambdaInvoke(req, res, url, lambdaMatch[1], requestId);
      return;
    }
    await handleSqsQuery(req, res, url, services.sqs, () => endpoint, requestId, log);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      log(
        `edge: ${req.method} ${req.url} failed: ${error instanceof Error ? (error.stack ?? message) : message}`,
      );
      if (res.headersSent) {
        res.destroy();
        return;
      }
      sendJson(res, 500, { __type: 'InternalFailure', message }, 'application/x-amz-json-1.0', randomUUID());
    });
  });
  // Keep-alive sockets from SDK clients should outlive their idle gaps between calls.
  server.keepAliveTimeout = 65_000;
  const port = await listen(server, options.port ?? 0);
  endpoint = `http://127.0.0.1:${port}`;

  return {
    endpoint,
    async serveHttpApi(api: HttpApiSpec, apiOptions: { readonly port?: number } = {}): Promise<string> {
      const served = await startHttpApiServer({
        api,
        lambda: services.lambda,
        region: options.region,
        accountId: LOCAL_ACCOUNT_ID,
        credentials: options.credentials,
        port: apiOptions.port,
        log,
      });
      apis.push(served);
      return served.url;
    },
    async close(): Promise<void> {
      await Promise.all([closeServer(server), ...apis.map((api) => api.close())]);
      proxyAgent.destroy();
    },
  };
}

// --- SQS query protocol (Action=…&…, XML answers): the form older SDKs and tools still send. ---

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

function isSqsQueryRequest(req: IncomingMessage, url: URL): boolean {
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

async function handleSqsQuery(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  sqs: JsonService,
  endpoint: () => string,
  requestId: string,
  log: (line: string) => void,
): Promise<void> {
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
      for (const [k, v] of new URLSearchParams((await readBody(req)).toString('utf8'))) params.append(k, v);
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
    input.QueueUrl = `${endpoint()}${url.pathname}`;
  }
  try {
    const output = await sqs.handle(action, input);
    sendXml(
      200,
      `<${action}Response xmlns="${SQS_XMLNS}"><${action}Result>${sqsJsonToXml(output ?? {})}</${action}Result>` +
        `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`,
    );
  } catch (error) {
    if (!(error instanceof AwsError)) log(`edge: SQS ${action} failed: ${String(error)}`);
    const answer = errorAnswer(error);
    fail({ ...answer, type: SQS_JSON_NAMES[answer.type] ?? answer.type });
  }
}
