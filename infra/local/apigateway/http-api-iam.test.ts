import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterEach, describe, expect, test } from 'vitest';
import { IamAuthority, type IamMode, lambdaPermissionStatement } from '../iam/authority.ts';
import { LOCAL_ACCOUNT_ID, LOCAL_CREDENTIALS, LOCAL_REGION } from '../types.ts';
import { type HttpApiRoute, type HttpApiServer, startHttpApiServer } from './http-api.ts';

// API Gateway invokes integrations as apigateway.amazonaws.com (aws:SourceArn = the route's execute-api ARN), and
// AWS_IAM routes need the caller to be allowed execute-api:Invoke.

const API_ID = 'abc123';
const ORDER_FN = `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:function:OrderFunction`;
const EXECUTE_API = `arn:aws:execute-api:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:${API_ID}`;
const ROLE_NAME = 'ClientRole';
const ROLE = `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/${ROLE_NAME}`;

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
    path: '/health',
    authorizationType: 'NONE',
    functionArn: ORDER_FN,
    payloadFormatVersion: '2.0',
  },
];

/** The permissions CDK writes for the routes' integrations: `<apiId>/*\/*\/<route path>`. */
function permit(iam: IamAuthority, ...paths: string[]): void {
  for (const path of paths) {
    iam.putResourceStatements(ORDER_FN, `Permission${path}`, [
      lambdaPermissionStatement({
        action: 'lambda:InvokeFunction',
        principal: 'apigateway.amazonaws.com',
        functionArn: ORDER_FN,
        sourceArn: `${EXECUTE_API}/*/*/${path}`,
      }),
    ]);
  }
}

let server: HttpApiServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(mode: IamMode, setup: (iam: IamAuthority) => void = () => undefined) {
  const iamLog: string[] = [];
  const log: string[] = [];
  const invoked: string[] = [];
  const iam = new IamAuthority({
    accountId: LOCAL_ACCOUNT_ID,
    region: LOCAL_REGION,
    mode,
    log: (line) => iamLog.push(line),
    rootCredentials: LOCAL_CREDENTIALS,
  });
  iam.putRole({
    roleName: ROLE_NAME,
    roleArn: ROLE,
    inlinePolicies: [
      {
        name: 'Invoke',
        document: {
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Action: 'execute-api:Invoke', Resource: `${EXECUTE_API}/*/POST/orders` },
          ],
        },
      },
    ],
    managedPolicyArns: [],
  });
  setup(iam);
  server = await startHttpApiServer({
    api: { apiId: API_ID, name: 'OrdersApi', routes },
    lambda: {
      invoke: async (arn) => {
        invoked.push(arn);
        return { statusCode: 200, payload: { ok: true }, executedVersion: '$LATEST', requestId: 'r' };
      },
    },
    region: LOCAL_REGION,
    accountId: LOCAL_ACCOUNT_ID,
    credentials: LOCAL_CREDENTIALS,
    iam,
    log: (line) => log.push(line),
  });
  return { iam, iamLog, log, invoked, url: server.url };
}

async function call(
  url: string,
  method: string,
  path: string,
  keys?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
): Promise<Response> {
  const target = new URL(path, url);
  if (keys === undefined) return fetch(target, { method });
  const signer = new SignatureV4({
    credentials: keys,
    region: LOCAL_REGION,
    service: 'execute-api',
    sha256: Sha256,
  });
  const signed = await signer.sign({
    method,
    protocol: 'http:',
    hostname: target.hostname,
    port: Number(target.port),
    path: target.pathname,
    query: {},
    headers: { host: target.host },
  });
  return fetch(target, { method, headers: signed.headers as Record<string, string> });
}

describe('API Gateway invokes integrations as apigateway.amazonaws.com', () => {
  test('enforce, with the route’s permission: the function runs', async () => {
    const t = await start('enforce', (iam) => permit(iam, 'orders', 'orders/{id}', 'health'));
    const res = await call(t.url, 'GET', '/orders/42', LOCAL_CREDENTIALS);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
    expect((await call(t.url, 'GET', '/health')).status).toBe(200);
    expect(t.invoked).toEqual([ORDER_FN, ORDER_FN]);
    expect(t.log).toEqual([]);
  });

  test('enforce, without it: 500 Internal Server Error, the function never runs, the log says why', async () => {
    const t = await start('enforce', (iam) => permit(iam, 'orders'));
    const res = await call(t.url, 'GET', '/orders/42', LOCAL_CREDENTIALS);
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ message: 'Internal Server Error' });
    expect(t.invoked).toEqual([]);
    expect(t.log).toEqual([
      `http api OrdersApi: GET /orders/{id} → ${ORDER_FN}: API Gateway may not invoke the function (500 Internal Server Error): User: apigateway.amazonaws.com is not authorized to perform: lambda:InvokeFunction on resource: ${ORDER_FN} because no resource-based policy allows the lambda:InvokeFunction action`,
    ]);
    // The route that has its permission still works.
    expect((await call(t.url, 'POST', '/orders', LOCAL_CREDENTIALS)).status).toBe(200);
  });

  test('warn: the function runs, the denial is logged once', async () => {
    const t = await start('warn');
    expect((await call(t.url, 'GET', '/health')).status).toBe(200);
    expect((await call(t.url, 'GET', '/health')).status).toBe(200);
    expect(t.invoked).toEqual([ORDER_FN, ORDER_FN]);
    expect(t.iamLog).toEqual([
      `IAM (warn) User: apigateway.amazonaws.com is not authorized to perform: lambda:InvokeFunction on resource: ${ORDER_FN} because no resource-based policy allows the lambda:InvokeFunction action`,
    ]);
  });
});

describe('AWS_IAM routes: the caller needs execute-api:Invoke', () => {
  test('a role session allowed POST /orders gets through; GET /orders/{id} is 403 with API Gateway’s message', async () => {
    const t = await start('enforce', (iam) => permit(iam, 'orders', 'orders/{id}'));
    const keys = t.iam.credentialsForRole(ROLE, 'cli');
    expect((await call(t.url, 'POST', '/orders', keys)).status).toBe(200);
    const res = await call(t.url, 'GET', '/orders/42', keys);
    expect(res.status).toBe(403);
    expect(res.headers.get('x-amzn-errortype')).toBe('AccessDeniedException');
    expect(await res.json()).toEqual({
      Message: `User: arn:aws:sts::${LOCAL_ACCOUNT_ID}:assumed-role/${ROLE_NAME}/cli is not authorized to perform: execute-api:Invoke on resource: ${EXECUTE_API}/$default/GET/orders/42`,
    });
    expect(t.invoked).toEqual([ORDER_FN]);
  });

  test('the account’s own keys may invoke anything; unknown keys are refused as before', async () => {
    const t = await start('enforce', (iam) => permit(iam, 'orders/{id}'));
    expect((await call(t.url, 'GET', '/orders/42', LOCAL_CREDENTIALS)).status).toBe(200);
    const unknown = await call(t.url, 'GET', '/orders/42', {
      accessKeyId: 'AKIAUNKNOWN',
      secretAccessKey: 'x',
    });
    expect(unknown.status).toBe(403);
    expect(unknown.headers.get('x-amzn-errortype')).toBe('UnrecognizedClientException');
  });

  test('an explicit deny says so', async () => {
    const t = await start('enforce', (iam) => {
      permit(iam, 'orders');
      iam.putPolicy(
        'NoOrders',
        {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Deny', Action: 'execute-api:Invoke', Resource: `${EXECUTE_API}/*` }],
        },
        [ROLE_NAME],
      );
    });
    const res = await call(t.url, 'POST', '/orders', t.iam.credentialsForRole(ROLE, 'cli'));
    expect(res.status).toBe(403);
    expect(((await res.json()) as { Message: string }).Message).toMatch(
      /execute-api:Invoke on resource: .* with an explicit deny$/,
    );
  });

  test('warn: the caller gets through, the denial is logged', async () => {
    const t = await start('warn', (iam) => permit(iam, 'orders/{id}'));
    const res = await call(t.url, 'GET', '/orders/42', t.iam.credentialsForRole(ROLE, 'cli'));
    expect(res.status).toBe(200);
    expect(t.iamLog).toEqual([
      `IAM (warn) User: arn:aws:sts::${LOCAL_ACCOUNT_ID}:assumed-role/${ROLE_NAME}/cli is not authorized to perform: execute-api:Invoke on resource: ${EXECUTE_API}/$default/GET/orders/42 because no identity-based policy allows the execute-api:Invoke action`,
    ]);
  });
});
