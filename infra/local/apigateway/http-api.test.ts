import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import type { InvokeResult, LambdaInvoker } from '../types.ts';
import {
  formatRequestTime,
  type HttpApiRoute,
  type HttpApiServer,
  matchRoute,
  startHttpApiServer,
} from './http-api.ts';

const credentials = { accessKeyId: 'AKIDLOCALTEST', secretAccessKey: 'local-secret' };
const ORDER_FN = 'arn:aws:lambda:us-east-1:000000000000:function:OrderFunction';

const routes: HttpApiRoute[] = [
  {
    method: 'POST',
    path: '/orders',
    authorizationType: 'AWS_IAM',
    functionArn: ORDER_FN,
    payloadFormatVersion: '2.0',
  },
  {
    method: 'GET',
    path: '/orders/{id}',
    authorizationType: 'AWS_IAM',
    functionArn: ORDER_FN,
    payloadFormatVersion: '2.0',
  },
  {
    method: 'GET',
    path: '/public/{proxy+}',
    authorizationType: 'NONE',
    functionArn: 'plain',
    payloadFormatVersion: '2.0',
  },
  {
    method: 'GET',
    path: '/boom',
    authorizationType: 'NONE',
    functionArn: 'thrower',
    payloadFormatVersion: '2.0',
  },
  {
    method: 'POST',
    path: '/upload',
    authorizationType: 'NONE',
    functionArn: 'plain',
    payloadFormatVersion: '2.0',
  },
  {
    method: 'GET',
    path: '/v1/{id}',
    authorizationType: 'NONE',
    functionArn: 'v1',
    payloadFormatVersion: '1.0',
  },
];

/** The fields of a payload 2.0 event the tests read. */
interface EventV2 {
  readonly routeKey: string;
  readonly rawPath: string;
  readonly headers: Record<string, string>;
  readonly queryStringParameters?: Record<string, string>;
  readonly pathParameters?: Record<string, string>;
  readonly body?: string;
  readonly isBase64Encoded: boolean;
  readonly requestContext: { requestId: string; time: string; timeEpoch: number; authorizer?: unknown };
}

const calls: { name: string; event: Record<string, unknown> }[] = [];
const eventAt = (i: number): EventV2 => calls[i]?.event as unknown as EventV2;
const lambda: LambdaInvoker = {
  async invoke(name, payload): Promise<InvokeResult> {
    const event = payload as Record<string, unknown>;
    calls.push({ name, event });
    const base = { statusCode: 200, executedVersion: '$LATEST', requestId: 'r' };
    if (name === 'thrower') {
      return { ...base, functionError: 'Unhandled', payload: { errorType: 'Error', errorMessage: 'no' } };
    }
    if (name === 'plain') return { ...base, payload: { hello: 'world' } };
    if (name === 'v1')
      return { ...base, payload: { statusCode: 204, multiValueHeaders: { 'x-v': ['1', '2'] } } };
    return {
      ...base,
      payload: {
        statusCode: 202,
        headers: { 'Content-Type': 'application/json', 'x-order': 'yes' },
        cookies: ['a=1; Path=/', 'b=2'],
        body: JSON.stringify({ orderId: '01J', status: 'PENDING' }),
      },
    };
  },
};

let api: HttpApiServer;
beforeAll(async () => {
  api = await startHttpApiServer({
    api: { apiId: 'abc123', name: 'OrdersApi', routes },
    lambda,
    region: 'us-east-1',
    accountId: '000000000000',
    credentials,
    log: () => {},
  });
});
afterAll(async () => {
  await api?.close();
});
beforeEach(() => {
  calls.length = 0;
});

/** Signs like a client would (independent SHA-256 implementation) and sends with fetch. */
async function signedFetch(
  method: string,
  pathAndQuery: string,
  options: { body?: string; secret?: string; signingDate?: Date; headers?: Record<string, string> } = {},
): Promise<{ signedHeaders: Record<string, string>; send: (bodyOverride?: string) => Promise<Response> }> {
  const url = new URL(pathAndQuery, api.url);
  const query: Record<string, string[]> = {};
  for (const [k, v] of url.searchParams) query[k] = [...(query[k] ?? []), v];
  const signer = new SignatureV4({
    credentials: {
      accessKeyId: credentials.accessKeyId,
      secretAccessKey: options.secret ?? credentials.secretAccessKey,
    },
    region: 'us-east-1',
    service: 'execute-api',
    sha256: Sha256,
  });
  const signed = await signer.sign(
    {
      method,
      protocol: 'http:',
      hostname: url.hostname,
      port: Number(url.port),
      path: url.pathname,
      query,
      headers: { host: url.host, ...(options.headers ?? {}) },
      body: options.body,
    },
    { signingDate: options.signingDate },
  );
  const headers = signed.headers as Record<string, string>;
  return {
    signedHeaders: headers,
    send: (bodyOverride) => fetch(url, { method, headers, body: bodyOverride ?? options.body }),
  };
}

describe('AWS_IAM routes', () => {
  test('a signed POST reaches the function with the payload 2.0 event; its answer is mapped to HTTP', async () => {
    const body = JSON.stringify({ customerId: 'c-1', items: [{ sku: 'SKU-1', qty: 2 }] });
    const { send } = await signedFetch('POST', '/orders?dry=1&tag=a&tag=b', {
      body,
      headers: {
        'content-type': 'application/json',
        'X-Custom-Header': 'Value',
        cookie: 'session=abc; theme=dark',
      },
    });
    const res = await send();
    expect(res.status).toBe(202);
    expect(res.headers.get('x-order')).toBe('yes');
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2']);
    expect(res.headers.get('apigw-requestid')).toMatch(/^[A-Za-z0-9+/]{15}=$/);
    expect(await res.json()).toEqual({ orderId: '01J', status: 'PENDING' });

    expect(calls).toHaveLength(1);
    expect(calls[0]?.name).toBe(ORDER_FN);
    const event = eventAt(0);
    expect(event).toMatchObject({
      version: '2.0',
      routeKey: 'POST /orders',
      rawPath: '/orders',
      rawQueryString: 'dry=1&tag=a&tag=b',
      cookies: ['session=abc', 'theme=dark'],
      queryStringParameters: { dry: '1', tag: 'a,b' },
      body,
      isBase64Encoded: false,
    });
    expect(event.headers['x-custom-header']).toBe('Value');
    expect(event.headers['content-type']).toBe('application/json');
    expect(event.headers.cookie).toBeUndefined();
    expect(event.headers['x-forwarded-proto']).toBe('http');
    expect(event.pathParameters).toBeUndefined();
    expect(event.requestContext).toMatchObject({
      accountId: '000000000000',
      apiId: 'abc123',
      domainName: new URL(api.url).host,
      http: { method: 'POST', path: '/orders', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1' },
      routeKey: 'POST /orders',
      stage: '$default',
      authorizer: {
        iam: {
          accessKey: credentials.accessKeyId,
          accountId: '000000000000',
          userArn: 'arn:aws:iam::000000000000:user/saga-local',
        },
      },
    });
    expect(event.requestContext.requestId).toBe(res.headers.get('apigw-requestid'));
    expect(event.requestContext.time).toBe(formatRequestTime(new Date(event.requestContext.timeEpoch)));
  });

  test('path parameters are decoded; a plain object result is a 200 JSON answer', async () => {
    const { send } = await signedFetch('GET', '/orders/01J%20X');
    calls.length = 0;
    const res = await send();
    expect(res.status).toBe(202);
    const event = eventAt(0);
    expect(event.routeKey).toBe('GET /orders/{id}');
    expect(event.pathParameters).toEqual({ id: '01J X' });
    expect(event.rawPath).toBe('/orders/01J%20X');
    expect(event.body).toBeUndefined();
    expect(event.queryStringParameters).toBeUndefined();
  });

  test('an unsigned request gets 403 Forbidden and never reaches the function', async () => {
    const res = await fetch(new URL('/orders', api.url), { method: 'POST', body: '{}' });
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ message: 'Forbidden' });
    expect(calls).toHaveLength(0);
  });

  test('a request signed with the wrong secret gets 403 with AWS’s mismatch message', async () => {
    const { send } = await signedFetch('POST', '/orders', { body: '{}', secret: 'not-the-secret' });
    const res = await send();
    expect(res.status).toBe(403);
    expect(res.headers.get('x-amzn-errortype')).toBe('InvalidSignatureException');
    expect(((await res.json()) as { message: string }).message).toMatch(
      /^The request signature we calculated does not match the signature you provided/,
    );
    expect(calls).toHaveLength(0);
  });

  test('a body changed after signing is refused', async () => {
    const { send } = await signedFetch('POST', '/orders', {
      body: '{"amount":1}',
      headers: { 'content-type': 'application/json' },
    });
    const res = await send('{"amount":1000}');
    expect(res.status).toBe(403);
    expect(calls).toHaveLength(0);
  });

  test('a signature older than 15 minutes is refused', async () => {
    const { send } = await signedFetch('POST', '/orders', {
      body: '{}',
      signingDate: new Date(Date.now() - 20 * 60_000),
    });
    const res = await send();
    expect(res.status).toBe(403);
    expect(((await res.json()) as { message: string }).message).toMatch(/^Signature expired/);
    expect(calls).toHaveLength(0);
  });

  test('an unknown access key is refused', async () => {
    const { signedHeaders } = await signedFetch('POST', '/orders', { body: '{}' });
    const forged = signedHeaders.authorization?.replace(credentials.accessKeyId, 'AKIDSOMEONEELSE') ?? '';
    const res = await fetch(new URL('/orders', api.url), {
      method: 'POST',
      headers: { ...signedHeaders, authorization: forged },
      body: '{}',
    });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { message: string }).message).toBe(
      'The security token included in the request is invalid.',
    );
  });
});

describe('routing and mapping', () => {
  test('no route is 404 {"message":"Not Found"}', async () => {
    const res = await fetch(new URL('/nowhere', api.url));
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ message: 'Not Found' });
    const wrongMethod = await fetch(new URL('/orders', api.url), { method: 'DELETE' });
    expect(wrongMethod.status).toBe(404);
  });

  test('a NONE route needs no signature; a greedy path and an inferred 200 JSON answer', async () => {
    const res = await fetch(new URL('/public/a/b%2Fc', api.url));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.json()).toEqual({ hello: 'world' });
    const event = eventAt(0);
    expect(event.routeKey).toBe('GET /public/{proxy+}');
    expect(event.pathParameters).toEqual({ proxy: 'a/b/c' });
    expect(event.requestContext.authorizer).toBeUndefined();
  });

  test('a function error is 500 {"message":"Internal Server Error"}', async () => {
    const res = await fetch(new URL('/boom', api.url));
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ message: 'Internal Server Error' });
  });

  test('a binary body is base64-encoded in the event, a JSON one is not', async () => {
    const bytes = Buffer.from([0, 1, 2, 250, 251]);
    const res = await fetch(new URL('/upload', api.url), {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    expect(res.status).toBe(200);
    expect(eventAt(0)).toMatchObject({ isBase64Encoded: true, body: bytes.toString('base64') });
    await fetch(new URL('/upload', api.url), {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.api+json' },
      body: '{"a":1}',
    });
    expect(eventAt(1)).toMatchObject({ isBase64Encoded: false, body: '{"a":1}' });
  });

  test('payload format 1.0: its event and its response mapping', async () => {
    const res = await fetch(new URL('/v1/42?q=1&q=2', api.url));
    expect(res.status).toBe(204);
    expect(res.headers.get('x-v')).toBe('1, 2');
    expect(calls[0]?.event).toMatchObject({
      version: '1.0',
      resource: '/v1/{id}',
      path: '/v1/42',
      httpMethod: 'GET',
      pathParameters: { id: '42' },
      queryStringParameters: { q: '2' },
      multiValueQueryStringParameters: { q: ['1', '2'] },
      body: null,
    });
  });

  test('a body over 10 MB is 413 and never reaches the function', async () => {
    const { send } = await signedFetch('POST', '/orders', { body: 'x'.repeat(10 * 1024 * 1024 + 1) });
    const res = await send();
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ message: 'Request Entity Too Large' });
    // Chunked, with no declared length: refused once the limit is passed.
    const chunk = new Uint8Array(1024 * 1024);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 11) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const chunked = await fetch(new URL('/upload', api.url), {
      method: 'POST',
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
    expect(calls).toHaveLength(0);
  });

  test('matchRoute prefers literal over variable over greedy, a named method over ANY, then $default', () => {
    const r = (method: string, path: string): HttpApiRoute => ({
      method,
      path,
      authorizationType: 'NONE',
      functionArn: `${method} ${path}`,
      payloadFormatVersion: '2.0',
    });
    const table = [
      r('ANY', '/{proxy+}'),
      r('GET', '/orders/{id}'),
      r('GET', '/orders/latest'),
      r('ANY', '/orders/{id}'),
      r('ANY', '$default'),
    ];
    expect(matchRoute(table, 'GET', '/orders/latest')?.routeKey).toBe('GET /orders/latest');
    expect(matchRoute(table, 'GET', '/orders/7')?.routeKey).toBe('GET /orders/{id}');
    expect(matchRoute(table, 'PUT', '/orders/7')?.routeKey).toBe('ANY /orders/{id}');
    expect(matchRoute(table, 'GET', '/other/thing')).toMatchObject({
      routeKey: 'ANY /{proxy+}',
      pathParameters: { proxy: 'other/thing' },
    });
    expect(matchRoute(table, 'GET', '/')?.routeKey).toBe('$default');
    expect(matchRoute([r('GET', '/a')], 'GET', '/b')).toBeUndefined();
  });
});
