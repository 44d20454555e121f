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
 * With IAM on (the default), every request's SigV4 signature is verified against the key it names — the root
 * user's, or a role session's that a Lambda function got — and what it asks for is authorized for that principal
 * (each item of a DynamoDB transaction or batch, as IAM does) before the service sees it. With IAM off, a request
 * must still carry a signature, and DynamoDB traffic passes as a stream, untouched.
 *
 * This file is the router: it detects the protocol of a request and hands it to the module that speaks it
 * (json-protocol.ts, dynamodb-proxy.ts, lambda-invoke.ts, ../sqs/query-protocol.ts).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type HttpApiServer, type HttpApiSpec, startHttpApiServer } from '../apigateway/http-api.ts';
import type { AccessRequest } from '../iam/access.ts';
import type { IamAuthority } from '../iam/authority.ts';
import type { RequestPrincipal } from '../iam/evaluate.ts';
import { handleSqsQuery, isSqsQueryRequest } from '../sqs/query-protocol.ts';
import { type LambdaInvoker, LOCAL_ACCOUNT_ID } from '../types.ts';
import type { JsonService } from '../wire/aws-error.ts';
import {
  closeServer,
  headerOf,
  listen,
  RequestTooLargeError,
  readRequestBody,
  sendJson,
} from '../wire/http.ts';
import { type SigV4Failure, verifySigV4 } from '../wire/sigv4.ts';
import { accessOf } from './access.ts';
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
  /** Checks signatures and authorizes requests; absent (or mode `off`): signatures are only required. */
  readonly iam?: IamAuthority;
}

/** AWS's error for each way a signature fails (HTTP 403). */
const SIGNATURE_ERRORS: Readonly<Record<SigV4Failure, string>> = {
  missing: 'MissingAuthenticationTokenException',
  malformed: 'IncompleteSignatureException',
  'unknown-key': 'UnrecognizedClientException',
  'wrong-scope': 'InvalidSignatureException',
  expired: 'InvalidSignatureException',
  'payload-mismatch': 'InvalidSignatureException',
  'signature-mismatch': 'InvalidSignatureException',
};

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
  const { services, iam } = options;
  const log = options.log ?? ((line: string) => console.error(line));
  const where = { region: options.region, accountId: LOCAL_ACCOUNT_ID };
  const dynamodb = dynamoDbProxy(services.dynamodbEndpoint, where);

  /**
   * The principal whose key signed the request, its signature verified; undefined when the request was refused
   * (and answered) as AWS refuses it.
   */
  const authenticate = async (
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
  ): Promise<RequestPrincipal | undefined> => {
    const refuse = (status: number, type: string, message: string): undefined => {
      req.resume();
      sendJson(res, status, { __type: type, message }, 'application/x-amz-json-1.0', requestId, {
        'x-amzn-ErrorType': type,
      });
      return undefined;
    };
    let body: Buffer;
    try {
      body = await readRequestBody(req, MAX_BODY_BYTES);
    } catch (error) {
      if (error instanceof RequestTooLargeError) return refuse(413, 'RequestEntityTooLarge', error.message);
      throw error;
    }
    if (!headerOf(req, 'authorization')) {
      return refuse(
        403,
        'IncompleteSignatureException',
        'The local cloud verifies signatures in the Authorization header only; presigned URLs are not supported.',
      );
    }
    const verdict = verifySigV4(
      {
        method: req.method ?? 'GET',
        rawPath: (req.url ?? '/').split('?')[0] ?? '/',
        rawQueryString: (req.url ?? '').split('?')[1] ?? '',
        headers: req.headers,
        body,
      },
      { credentials: (accessKeyId) => iam?.principalForAccessKey(accessKeyId), region: options.region },
    );
    if (!verdict.ok) return refuse(403, SIGNATURE_ERRORS[verdict.reason], verdict.message);
    return iam?.principalForAccessKey(verdict.accessKeyId)?.principal;
  };
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
    const principal =
      iam !== undefined && iam.mode !== 'off' ? await authenticate(req, res, requestId) : null;
    if (principal === undefined) return; // refused, answered
    // Authorizes what a request asks for (each service's access.ts says what that is), for the signer's principal.
    const authorize =
      principal === null
        ? undefined
        : (items: readonly AccessRequest[]): void => iam?.authorizeAll(principal, items);
    const context = { requestId, maxBodyBytes: MAX_BODY_BYTES, log };
    if (target) {
      const dot = target.indexOf('.');
      const prefix = dot === -1 ? target : target.slice(0, dot);
      const operation = dot === -1 ? '' : target.slice(dot + 1);
      if (DYNAMODB_TARGETS.has(prefix)) {
        if (authorize === undefined) dynamodb.forward(req, res);
        else await dynamodb.forwardAuthorized(req, res, operation, authorize, requestId);
      } else {
        const check =
          authorize &&
          ((service: string, input: Record<string, unknown>) =>
            authorize(accessOf(service, operation, input, where)));
        await handleJsonProtocol(req, res, { ...context, services, prefix, operation, authorize: check });
      }
      return;
    }
    if (lambdaMatch?.[1]) {
      const check =
        authorize &&
        ((name: string) => authorize(accessOf('lambda', 'Invoke', { FunctionName: name }, where)));
      await handleLambdaInvoke(req, res, url, lambdaMatch[1], {
        ...context,
        lambda: services.lambda,
        authorize: check,
      });
      return;
    }
    const check =
      authorize &&
      ((action: string, input: Record<string, unknown>) => authorize(accessOf('sqs', action, input, where)));
    await handleSqsQuery(req, res, url, {
      ...context,
      sqs: services.sqs,
      endpoint: () => endpoint,
      authorize: check,
    });
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
        iam,
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
