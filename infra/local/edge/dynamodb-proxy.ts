/**
 * DynamoDB and DynamoDB Streams at the edge: a transparent, streaming proxy to DynamoDB Local (requests and
 * answers pass untouched but for the `host` header and hop-by-hop headers).
 */
import { randomUUID } from 'node:crypto';
import { Agent, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { sendJson } from '../wire/http.ts';

/** The `X-Amz-Target` prefixes proxied to DynamoDB Local. */
export const DYNAMODB_TARGETS: ReadonlySet<string> = new Set([
  'DynamoDB_20120810',
  'DynamoDBStreams_20120810',
]);

/** A proxy to one DynamoDB Local. */
export interface DynamoDbProxy {
  forward(req: IncomingMessage, res: ServerResponse): void;
  /** Drops the kept-alive upstream connections. */
  close(): void;
}

/** A proxy to DynamoDB Local at `endpoint` (`http://127.0.0.1:<port>`). */
export function dynamoDbProxy(endpoint: string): DynamoDbProxy {
  const dynamodb = new URL(endpoint);
  const agent = new Agent({ keepAlive: true });
  const forward = (req: IncomingMessage, res: ServerResponse): void => {
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
    req.pipe(upstream);
  };
  return { forward, close: () => agent.destroy() };
}
