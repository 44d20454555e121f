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
 *
 * This file is the router: it detects the protocol of a request and hands it to the module that speaks it
 * (json-protocol.ts, dynamodb-proxy.ts, lambda-invoke.ts, ../sqs/query-protocol.ts).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type HttpApiServer, type HttpApiSpec, startHttpApiServer } from '../apigateway/http-api.ts';
import { handleSqsQuery, isSqsQueryRequest } from '../sqs/query-protocol.ts';
import { type LambdaInvoker, LOCAL_ACCOUNT_ID } from '../types.ts';
import type { JsonService } from '../wire/aws-error.ts';
import { closeServer, headerOf, listen, sendJson } from '../wire/http.ts';
import { DYNAMODB_TARGETS, dynamoDbProxy } from './dynamodb-proxy.ts';
import { handleJsonProtocol } from './json-protocol.ts';
import { handleLambdaInvoke, LAMBDA_INVOKE_PATH } from './lambda-invoke.ts';

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

/** Whether the request carries a signature (header or presigned query), as AWS requires. */
function hasAuthentication(req: IncomingMessage, url: URL): boolean {
  return Boolean(headerOf(req, 'authorization')) || url.searchParams.has('X-Amz-Signature');
}

/** Starts the edge on 127.0.0.1; resolves once it listens. */
export async function startEdge(options: EdgeOptions): Promise<Edge> {
  const { services } = options;
  const log = options.log ?? ((line: string) => console.error(line));
  const dynamodb = dynamoDbProxy(services.dynamodbEndpoint);
  const apis: HttpApiServer[] = [];
  let endpoint = '';

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestId = randomUUID();
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = (req.method ?? 'GET').toUpperCase();
    if (url.pathname === EDGE_HEALTH_PATH) {
      req.resume();
      sendJson(res, 200, { status: 'ok', pid: process.pid, endpoint }, 'application/json', requestId);
      return;
    }
    // Protocol detection: X-Amz-Target (JSON protocols, DynamoDB), Lambda's REST path, SQS's query protocol.
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
    const context = { requestId, maxBodyBytes: MAX_BODY_BYTES, log };
    if (target) {
      const dot = target.indexOf('.');
      const prefix = dot === -1 ? target : target.slice(0, dot);
      const operation = dot === -1 ? '' : target.slice(dot + 1);
      if (DYNAMODB_TARGETS.has(prefix)) dynamodb.forward(req, res);
      else await handleJsonProtocol(req, res, { ...context, services, prefix, operation });
      return;
    }
    if (lambdaMatch?.[1]) {
      await handleLambdaInvoke(req, res, url, lambdaMatch[1], { ...context, lambda: services.lambda });
      return;
    }
    await handleSqsQuery(req, res, url, { ...context, sqs: services.sqs, endpoint: () => endpoint });
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
      dynamodb.close();
    },
  };
}
