/**
 * The local API Gateway HTTP API: one node:http server per API, route matching as API Gateway does it
 * (`/orders/{id}`, `{proxy+}`, `ANY`, `$default`), SigV4 checks on `AWS_IAM` routes, the Lambda proxy
 * integration event (payload format 2.0, and 1.0) and the mapping of the function's answer back to HTTP.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { AccessDeniedError, type IamAuthority } from '../iam/authority.ts';
import type { RequestPrincipal } from '../iam/evaluate.ts';
import { functionArnOf } from '../lambda/access.ts';
import type { InvokeResult, LambdaInvoker } from '../types.ts';
import { closeServer, listen, RequestTooLargeError, readRequestBody } from '../wire/http.ts';
import { verifySigV4 } from '../wire/sigv4.ts';

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

/** API Gateway's payload limit for HTTP APIs. */
export const HTTP_API_MAX_BODY_BYTES = 10 * 1024 * 1024;

/** Options for {@link startHttpApiServer}. */
export interface HttpApiServerOptions {
  /** The API: its id, name and routes. */
  readonly api: HttpApiSpec;
  /** Runs the routes' functions. */
  readonly lambda: LambdaInvoker;
  readonly region: string;
  readonly accountId: string;
  /** The only credentials `AWS_IAM` routes accept (without `iam`; with it, the keys the authority knows). */
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /**
   * IAM: `AWS_IAM` routes accept the keys the authority knows (the account's, role sessions') and require the
   * caller to be allowed `execute-api:Invoke` on the route's ARN (else 403); every integration call is authorized
   * as `apigateway.amazonaws.com` against the function's resource policy (else 500). @default no checks
   */
  readonly iam?: IamAuthority;
  /** TCP port on 127.0.0.1. @default a free port chosen by the OS */
  readonly port?: number;
  /** Where unexpected failures are reported. @default console.error */
  readonly log?: (line: string) => void;
}

/** A running HTTP API. */
export interface HttpApiServer {
  /** `http://127.0.0.1:<port>/`, as API Gateway's `ApiEndpoint` plus a slash (the `$default` stage URL). */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** The route a request matched. */
export interface RouteMatch {
  readonly route: HttpApiRoute;
  /** `'POST /orders'`, `'ANY /{proxy+}'` or `'$default'`. */
  readonly routeKey: string;
  /** Decoded values of the route's `{name}` / `{name+}` variables. */
  readonly pathParameters: Readonly<Record<string, string>>;
}

type Segment = { kind: 'literal'; value: string } | { kind: 'variable'; name: string; greedy: boolean };

function parseRoutePath(path: string): Segment[] {
  return path
    .split('/')
    .slice(1)
    .map((part): Segment => {
      const variable = /^\{([^{}+]+)(\+)?\}$/.exec(part);
      if (variable?.[1]) return { kind: 'variable', name: variable[1], greedy: variable[2] === '+' };
      return { kind: 'literal', value: part };
    });
}

function isDefaultRoute(route: HttpApiRoute): boolean {
  return route.path === '$default';
}

/** The route key API Gateway reports for a route. */
export function routeKeyOf(route: HttpApiRoute): string {
  return isDefaultRoute(route) ? '$default' : `${route.method.toUpperCase()} ${route.path}`;
}

/**
 * Picks the most specific route for a request, as API Gateway: literal segments beat variables (left
 * to right), variables beat a greedy `{proxy+}`, a named method beats `ANY`, and `$default` comes last.
 */
export function matchRoute(
  routes: readonly HttpApiRoute[],
  method: string,
  rawPath: string,
): RouteMatch | undefined {
  const requestSegments = rawPath.split('/').slice(1);
  let best: { match: RouteMatch; score: number[] } | undefined;
  let fallback: RouteMatch | undefined;
  for (const route of routes) {
    if (isDefaultRoute(route)) {
      fallback ??= { route, routeKey: '$default', pathParameters: {} };
      continue;
    }
    const routeMethod = route.method.toUpperCase();
    if (routeMethod !== 'ANY' && routeMethod !== method.toUpperCase()) continue;
    const matched = matchSegments(parseRoutePath(route.path), requestSegments);
    if (!matched) continue;
    const score = [...matched.score, routeMethod === 'ANY' ? 0 : 1];
    if (!best || compareScores(score, best.score) > 0) {
      best = { match: { route, routeKey: routeKeyOf(route), pathParameters: matched.parameters }, score };
    }
  }
  return best?.match ?? fallback;
}

function matchSegments(
  segments: Segment[],
  request: string[],
): { parameters: Record<string, string>; score: number[] } | undefined {
  const parameters: Record<string, string> = {};
  // Per segment: 2 literal, 1 variable, 0 greedy; compared left to right.
  const score: number[] = [];
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] as Segment;
    if (segment.kind === 'variable' && segment.greedy) {
      const rest = request.slice(i);
      if (i !== segments.length - 1 || rest.length === 0 || rest.every((s) => s === '')) return undefined;
      parameters[segment.name] = rest.map(safeDecode).join('/');
      return { parameters, score: [0, ...score, 0] };
    }
    const part = request[i];
    if (part === undefined) return undefined;
    if (segment.kind === 'literal') {
      if (safeDecode(part) !== segment.value) return undefined;
      score.push(2);
    } else {
      if (part === '') return undefined;
      parameters[segment.name] = safeDecode(part);
      score.push(1);
    }
  }
  if (request.length !== segments.length) return undefined;
  // Leading 1: a route without a greedy variable always wins over one with.
  return { parameters, score: [1, ...score] };
}

function compareScores(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? -1) - (b[i] ?? -1);
    if (d !== 0) return d;
  }
  return 0;
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** What the request looked like, as the integration event needs it. */
export interface HttpApiRequest {
  readonly method: string;
  readonly rawPath: string;
  readonly rawQueryString: string;
  /** Header name (lower-case) → all its values, in order. */
  readonly headers: Readonly<Record<string, readonly string[]>>;
  readonly body: Buffer;
  readonly sourceIp: string;
  readonly requestId: string;
  readonly time: Date;
}

/** Context shared by every event of one API. */
export interface HttpApiEventContext {
  readonly apiId: string;
  readonly accountId: string;
  /** Set for `AWS_IAM` routes: the caller's access key. */
  readonly iamAccessKey?: string;
}

const TEXT_CONTENT_TYPE =
  /^(text\/|application\/(json|xml|javascript|x-javascript|ecmascript)\b)|[+/](json|xml)\b/i;

/** Whether API Gateway hands a body with this content type to the function as text (else base64). */
export function isTextContentType(contentType: string | undefined): boolean {
  return contentType !== undefined && TEXT_CONTENT_TYPE.test(contentType.trim());
}

/** API Gateway's `requestContext.time`, e.g. `12/Mar/2020:19:03:58 +0000`. */
export function formatRequestTime(date: Date): string {
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const pad = (n: number) => String(n).padStart(2, '0');
  return (
    `${pad(date.getUTCDate())}/${months[date.getUTCMonth()]}/${date.getUTCFullYear()}:` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`
  );
}

function queryParameters(rawQueryString: string): Map<string, string[]> {
  const params = new Map<string, string[]>();
  for (const [key, value] of new URLSearchParams(rawQueryString)) {
    const list = params.get(key);
    if (list) list.push(value);
    else params.set(key, [value]);
  }
  return params;
}

function iamAuthorizer(context: HttpApiEventContext): Record<string, unknown> | undefined {
  if (context.iamAccessKey === undefined) return undefined;
  const userId = 'AIDASAGALOCALUSER0000';
  return {
    iam: {
      accessKey: context.iamAccessKey,
      accountId: context.accountId,
      callerId: userId,
      cognitoIdentity: null,
      principalOrgId: null,
      userArn: `arn:aws:iam::${context.accountId}:user/saga-local`,
      userId,
    },
  };
}

function bodyFields(request: HttpApiRequest): { body?: string; isBase64Encoded: boolean } {
  if (request.body.length === 0) return { isBase64Encoded: false };
  const contentType = request.headers['content-type']?.[0];
  return isTextContentType(contentType)
    ? { body: request.body.toString('utf8'), isBase64Encoded: false }
    : { body: request.body.toString('base64'), isBase64Encoded: true };
}

/** Builds the Lambda proxy integration event, payload format 2.0, as API Gateway sends it. */
export function buildEventV2(
  request: HttpApiRequest,
  match: RouteMatch,
  context: HttpApiEventContext,
): Record<string, unknown> {
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  for (const [name, values] of Object.entries(request.headers)) {
    // Cookies travel in their own field in 2.0.
    if (name === 'cookie') {
      for (const value of values)
        cookies.push(
          ...value
            .split(';')
            .map((c) => c.trim())
            .filter(Boolean),
        );
      continue;
    }
    headers[name] = values.join(',');
  }
  const query = queryParameters(request.rawQueryString);
  const domainName = headers.host ?? '127.0.0.1';
  const authorizer = iamAuthorizer(context);
  const event: Record<string, unknown> = {
    version: '2.0',
    routeKey: match.routeKey,
    rawPath: request.rawPath,
    rawQueryString: request.rawQueryString,
  };
  if (cookies.length > 0) event.cookies = cookies;
  event.headers = headers;
  if (query.size > 0) {
    event.queryStringParameters = Object.fromEntries([...query].map(([k, v]) => [k, v.join(',')]));
  }
  event.requestContext = {
    accountId: context.accountId,
    apiId: context.apiId,
    ...(authorizer ? { authorizer } : {}),
    domainName,
    domainPrefix: context.apiId,
    http: {
      method: request.method,
      path: request.rawPath,
      protocol: 'HTTP/1.1',
      sourceIp: request.sourceIp,
      userAgent: headers['user-agent'] ?? '',
    },
    requestId: request.requestId,
    routeKey: match.routeKey,
    stage: '$default',
    time: formatRequestTime(request.time),
    timeEpoch: request.time.getTime(),
  };
  if (Object.keys(match.pathParameters).length > 0) event.pathParameters = { ...match.pathParameters };
  const body = bodyFields(request);
  if (body.body !== undefined) event.body = body.body;
  event.isBase64Encoded = body.isBase64Encoded;
  return event;
}

/** Builds the Lambda proxy integration event, payload format 1.0 (REST API style), as API Gateway sends it. */
export function buildEventV1(
  request: HttpApiRequest,
  match: RouteMatch,
  context: HttpApiEventContext,
): Record<string, unknown> {
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (const [name, values] of Object.entries(request.headers)) {
    headers[name] = values[values.length - 1] ?? '';
    multiValueHeaders[name] = [...values];
  }
  const query = queryParameters(request.rawQueryString);
  const authorizer = iamAuthorizer(context);
  const resourcePath = isDefaultRoute(match.route) ? '$default' : match.route.path;
  const body = bodyFields(request);
  return {
    version: '1.0',
    resource: resourcePath,
    path: request.rawPath,
    httpMethod: request.method,
    headers,
    multiValueHeaders,
    queryStringParameters:
      query.size > 0 ? Object.fromEntries([...query].map(([k, v]) => [k, v[v.length - 1] ?? ''])) : null,
    multiValueQueryStringParameters: query.size > 0 ? Object.fromEntries(query) : null,
    requestContext: {
      accountId: context.accountId,
      apiId: context.apiId,
      ...(authorizer ? { authorizer } : {}),
      domainName: headers.host ?? '127.0.0.1',
      domainPrefix: context.apiId,
      extendedRequestId: request.requestId,
      httpMethod: request.method,
      identity: {
        accessKey: context.iamAccessKey ?? null,
        accountId: context.iamAccessKey ? context.accountId : null,
        caller: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: request.sourceIp,
        user: null,
        userAgent: headers['user-agent'] ?? '',
        userArn: context.iamAccessKey ? `arn:aws:iam::${context.accountId}:user/saga-local` : null,
      },
      path: request.rawPath,
      protocol: 'HTTP/1.1',
      requestId: request.requestId,
      requestTime: formatRequestTime(request.time),
      requestTimeEpoch: request.time.getTime(),
      resourceId: match.routeKey,
      resourcePath,
      stage: '$default',
    },
    pathParameters: Object.keys(match.pathParameters).length > 0 ? { ...match.pathParameters } : null,
    stageVariables: null,
    body: body.body ?? null,
    isBase64Encoded: body.isBase64Encoded,
  };
}

/** The HTTP answer API Gateway makes of a function's result. */
export interface HttpApiResponse {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string | string[]>>;
  readonly body: Buffer;
}

const INTERNAL_SERVER_ERROR: HttpApiResponse = jsonResponse(500, { message: 'Internal Server Error' });

function jsonResponse(
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): HttpApiResponse {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', ...headers },
    body: Buffer.from(JSON.stringify(body)),
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function validStatus(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 100 && value <= 599;
}

function responseBody(body: unknown, isBase64Encoded: unknown): Buffer {
  if (body === undefined || body === null) return Buffer.alloc(0);
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return isBase64Encoded === true ? Buffer.from(text, 'base64') : Buffer.from(text, 'utf8');
}

function stringHeaders(value: unknown): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  if (!isRecord(value)) return headers;
  for (const [name, v] of Object.entries(value)) {
    if (v !== undefined && v !== null) headers[name.toLowerCase()] = String(v);
  }
  return headers;
}

/**
 * Maps a function's answer to HTTP as API Gateway does for payload format 2.0: a result with a
 * `statusCode` is taken as `{statusCode, headers, cookies, body, isBase64Encoded}`; any other result is
 * the body of a `200` JSON answer; a function error is `500 {"message":"Internal Server Error"}`.
 */
export function mapResultV2(result: InvokeResult): HttpApiResponse {
  if (result.functionError) return INTERNAL_SERVER_ERROR;
  const payload = result.payload;
  if (isRecord(payload) && 'statusCode' in payload) {
    if (!validStatus(payload.statusCode)) return INTERNAL_SERVER_ERROR;
    const headers = stringHeaders(payload.headers);
    if (Array.isArray(payload.cookies) && payload.cookies.length > 0) {
      headers['set-cookie'] = payload.cookies.map(String);
    }
    const body = responseBody(payload.body, payload.isBase64Encoded);
    if (body.length > 0 && headers['content-type'] === undefined)
      headers['content-type'] = 'text/plain; charset=utf-8';
    return { statusCode: payload.statusCode, headers, body };
  }
  const body = typeof payload === 'string' ? payload : JSON.stringify(payload ?? null);
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    body: Buffer.from(body, 'utf8'),
  };
}

/** Maps a function's answer for payload format 1.0: a `statusCode` is required, else `500`. */
export function mapResultV1(result: InvokeResult): HttpApiResponse {
  if (result.functionError) return INTERNAL_SERVER_ERROR;
  const payload = result.payload;
  if (!isRecord(payload) || !validStatus(payload.statusCode)) return INTERNAL_SERVER_ERROR;
  const headers = stringHeaders(payload.headers);
  if (isRecord(payload.multiValueHeaders)) {
    for (const [name, values] of Object.entries(payload.multiValueHeaders)) {
      if (Array.isArray(values)) headers[name.toLowerCase()] = values.map(String);
    }
  }
  return {
    statusCode: payload.statusCode,
    headers,
    body: responseBody(payload.body, payload.isBase64Encoded),
  };
}

/** The stage every served API has: `$default`, auto-deployed (the event's `requestContext.stage`). */
const STAGE = '$default';

/**
 * `arn:aws:execute-api:<region>:<account>:<apiId>/<stage>/<METHOD>/<path>`: the ARN IAM checks `execute-api:Invoke`
 * on (with the request's path), and the `aws:SourceArn` API Gateway invokes an integration with (with the route's
 * path: `orders/{id}`, which the source ARN of the permission CDK writes, `<apiId>/<any stage>/<any method>/orders/{id}`,
 * matches).
 */
export function executeApiArn(
  where: { readonly region: string; readonly accountId: string; readonly apiId: string },
  method: string,
  path: string,
): string {
  return `arn:aws:execute-api:${where.region}:${where.accountId}:${where.apiId}/${STAGE}/${method}/${path.replace(/^\//, '')}`;
}

/** API Gateway's answer to a caller IAM does not allow `execute-api:Invoke` (HTTP 403). */
function invokeDenied(error: AccessDeniedError): HttpApiResponse {
  const { principal, action, resource } = error.request;
  const explicit = error.result.decision === 'explicit-deny' ? ' with an explicit deny' : '';
  return jsonResponse(
    403,
    {
      Message: `User: ${principal.arn} is not authorized to perform: ${action} on resource: ${resource}${explicit}`,
    },
    { 'x-amzn-errortype': 'AccessDeniedException' },
  );
}

/** Runs an IAM check: the denial, or undefined when IAM allows it (or only warns). */
function denialOf(check: () => void): AccessDeniedError | undefined {
  try {
    check();
    return undefined;
  } catch (error) {
    if (error instanceof AccessDeniedError) return error;
    throw error;
  }
}

/** API Gateway's request ids look like `JKJaXmPLvHcESHA=`. */
function newRequestId(): string {
  return randomBytes(11).toString('base64');
}

function send(res: ServerResponse, response: HttpApiResponse, requestId: string): void {
  res.writeHead(response.statusCode, {
    ...response.headers,
    'content-length': String(response.body.length),
    'apigw-requestid': requestId,
  });
  res.end(response.body);
}

function sourceIpOf(req: IncomingMessage): string {
  return (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
}

/** Starts one HTTP API on its own port; resolves once it listens. */
export async function startHttpApiServer(options: HttpApiServerOptions): Promise<HttpApiServer> {
  const log = options.log ?? ((line: string) => console.error(line));
  const iam = options.iam;
  const where = { region: options.region, accountId: options.accountId, apiId: options.api.apiId };
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestId = newRequestId();
    const time = new Date();
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const rawPath = q === -1 ? url : url.slice(0, q);
    const rawQueryString = q === -1 ? '' : url.slice(q + 1);
    const method = (req.method ?? 'GET').toUpperCase();

    const match = matchRoute(options.api.routes, method, rawPath);
    if (!match) {
      req.resume();
      send(res, jsonResponse(404, { message: 'Not Found' }), requestId);
      return;
    }
    const declared = Number(req.headers['content-length']);
    let body: Buffer;
    try {
      // A declared size over the limit is refused before reading, as API Gateway does.
      if (Number.isFinite(declared) && declared > HTTP_API_MAX_BODY_BYTES) {
        // Nothing is kept, but the upload is drained before the answer: closing the socket under a client that is
        // still sending makes it fail with EPIPE instead of reading the 413.
        await new Promise<void>((resolve) => {
          req.once('end', resolve);
          req.once('error', () => resolve());
          req.resume();
        });
        throw new RequestTooLargeError(HTTP_API_MAX_BODY_BYTES, declared);
      }
      body = await readRequestBody(req, HTTP_API_MAX_BODY_BYTES);
    } catch (error) {
      if (error instanceof RequestTooLargeError) {
        send(
          res,
          jsonResponse(413, { message: 'Request Entity Too Large' }, { connection: 'close' }),
          requestId,
        );
        return;
      }
      throw error;
    }

    let iamAccessKey: string | undefined;
    if (match.route.authorizationType === 'AWS_IAM') {
      const verdict = verifySigV4(
        { method, rawPath, rawQueryString, headers: req.headers, body },
        {
          credentials:
            iam === undefined ? options.credentials : (accessKeyId) => iam.principalForAccessKey(accessKeyId),
          region: options.region,
          service: 'execute-api',
        },
      );
      if (!verdict.ok) {
        const forbidden =
          verdict.reason === 'missing'
            ? jsonResponse(403, { message: 'Forbidden' }, { 'x-amzn-errortype': 'ForbiddenException' })
            : jsonResponse(
                403,
                { message: verdict.message },
                {
                  'x-amzn-errortype':
                    verdict.reason === 'unknown-key'
                      ? 'UnrecognizedClientException'
                      : 'InvalidSignatureException',
                },
              );
        send(res, forbidden, requestId);
        return;
      }
      iamAccessKey = verdict.accessKeyId;
      const caller: RequestPrincipal | undefined = iam?.principalForAccessKey(verdict.accessKeyId)?.principal;
      if (iam !== undefined && caller !== undefined) {
        const denied = denialOf(() =>
          iam.authorize({
            principal: caller,
            action: 'execute-api:Invoke',
            resource: executeApiArn(where, method, rawPath),
          }),
        );
        if (denied !== undefined) {
          send(res, invokeDenied(denied), requestId);
          return;
        }
      }
    }

    const sourceIp = sourceIpOf(req);
    const headers: Record<string, string[]> = {};
    for (const [name, values] of Object.entries(req.headersDistinct)) {
      if (values) headers[name] = values;
    }
    // Headers API Gateway adds in front of the integration.
    headers['x-forwarded-for'] = [sourceIp];
    headers['x-forwarded-port'] = [String(req.socket.localPort ?? '')];
    headers['x-forwarded-proto'] = ['http'];
    headers['x-amzn-trace-id'] ??= [
      `Root=1-${Math.floor(time.getTime() / 1000).toString(16)}-${randomUUID().replace(/-/g, '').slice(0, 24)}`,
    ];
    const request: HttpApiRequest = {
      method,
      rawPath,
      rawQueryString,
      headers,
      body,
      sourceIp,
      requestId,
      time,
    };
    const context: HttpApiEventContext = {
      apiId: options.api.apiId,
      accountId: options.accountId,
      iamAccessKey,
    };
    const v2 = match.route.payloadFormatVersion !== '1.0';
    const event = v2 ? buildEventV2(request, match, context) : buildEventV1(request, match, context);
    if (iam !== undefined) {
      // API Gateway invokes the function as itself: the function's resource policy (its Lambda permissions) decides.
      const routePath = match.routeKey === '$default' ? '$default' : match.route.path;
      const denied = denialOf(() =>
        iam.authorize({
          principal: iam.servicePrincipal('apigateway.amazonaws.com'),
          action: 'lambda:InvokeFunction',
          resource: functionArnOf(match.route.functionArn, options.region, options.accountId),
          context: {
            'aws:SourceArn': executeApiArn(where, method, routePath),
            'aws:SourceAccount': options.accountId,
          },
        }),
      );
      if (denied !== undefined) {
        log(
          `http api ${options.api.name}: ${match.routeKey} → ${match.route.functionArn}: API Gateway may not invoke the function (500 Internal Server Error): ${denied.message}`,
        );
        send(res, INTERNAL_SERVER_ERROR, requestId);
        return;
      }
    }
    let result: InvokeResult;
    try {
      result = await options.lambda.invoke(match.route.functionArn, event);
    } catch (error) {
      log(
        `http api ${options.api.name}: ${match.routeKey} → ${match.route.functionArn} failed: ${describe(error)}`,
      );
      send(res, INTERNAL_SERVER_ERROR, requestId);
      return;
    }
    send(res, v2 ? mapResultV2(result) : mapResultV1(result), requestId);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      log(`http api ${options.api.name}: ${req.method} ${req.url} failed: ${describe(error)}`);
      if (!res.headersSent) send(res, INTERNAL_SERVER_ERROR, newRequestId());
      else res.destroy();
    });
  });
  const port = await listen(server, options.port ?? 0);
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    close: () => closeServer(server),
  };
}

function describe(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}
