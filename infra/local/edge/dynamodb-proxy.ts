/**
 * DynamoDB and DynamoDB Streams at the edge: a transparent, streaming proxy to DynamoDB Local (requests and
 * answers pass untouched but for the `host` header and hop-by-hop headers).
 */
import { randomUUID } from 'node:crypto';
import { Agent, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { dynamoDbAccess } from '../dynamodb/access.ts';
import type { AccessRequest } from '../iam/access.ts';
import { AwsError } from '../wire/aws-error.ts';
import { readRequestBody, sendJson } from '../wire/http.ts';

/** The `X-Amz-Target` prefixes proxied to DynamoDB Local. */
export const DYNAMODB_TARGETS: ReadonlySet<string> = new Set([
  'DynamoDB_20120810',
  'DynamoDBStreams_20120810',
]);

/** DynamoDB's own request limit (a 400 KB item, 100 items in a transaction, 4 MB in all, in JSON). */
const MAX_DYNAMODB_BODY_BYTES = 16 * 1024 * 1024;

/** A proxy to one DynamoDB Local. */
export interface DynamoDbProxy {
  /** Streams the request to DynamoDB Local and its answer back. */
  forward(req: IncomingMessage, res: ServerResponse, body?: Buffer): void;
  /**
   * Reads the request, authorizes each item of it (a transaction's items one by one, as IAM does) and forwards
   * it; a denial is answered as DynamoDB answers it (`AccessDeniedException`, HTTP 400).
   */
  forwardAuthorized(
    req: IncomingMessage,
    res: ServerResponse,
    operation: string,
    authorize: (items: readonly AccessRequest[]) => void,
    requestId: string,
  ): Promise<void>;
  /** Drops the kept-alive upstream connections. */
  close(): void;
}

/** A proxy to DynamoDB Local at `endpoint` (`http://127.0.0.1:<port>`). */
export function dynamoDbProxy(
  endpoint: string,
  where: { readonly region: string; readonly accountId: string },
): DynamoDbProxy {
  const dynamodb = new URL(endpoint);
  const agent = new Agent({ keepAlive: true });
  const forward = (req: IncomingMessage, res: ServerResponse, body?: Buffer): void => {
    const headers = { ...req.headers, host: dynamodb.host };
    const upstream = httpRequest(
      {
        protocol: dynamodb.protocol,
        hostname: dynamodb.hostname,
        port: dynamodb.port,
        method: req.method,
        path: req.url,
        headers,
        agent,
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
          message: `DynamoDB Local at ${endpoint} did not answer: ${error.message}`,
        },
        'application/x-amz-json-1.0',
        randomUUID(),
      );
    });
    if (body === undefined) req.pipe(upstream);
    else upstream.end(body);
  };
  const forwardAuthorized = async (
    req: IncomingMessage,
    res: ServerResponse,
    operation: string,
    authorize: (items: readonly AccessRequest[]) => void,
    requestId: string,
  ): Promise<void> => {
    const body = await readRequestBody(req, MAX_DYNAMODB_BODY_BYTES);
    let input: Record<string, unknown> = {};
    try {
      input = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    } catch {
      // Not JSON: DynamoDB Local answers the SerializationException; nothing to authorize yet.
      forward(req, res, body);
      return;
    }
    try {
      authorize(dynamoDbAccess(operation, input ?? {}, where));
    } catch (error) {
      if (!(error instanceof AwsError)) throw error;
      sendJson(
        res,
        error.statusCode,
        { __type: `com.amazon.coral.service#${error.type}`, Message: error.message },
        'application/x-amz-json-1.0',
        requestId,
      );
      return;
    }
    forward(req, res, body);
  };
  return { forward, forwardAuthorized, close: () => agent.destroy() };
}
