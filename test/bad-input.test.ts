/**
 * Bad input (issue "prove it under faults"), on the shared local cloud: the API refuses malformed, unsigned and
 * wrongly signed requests with a 4xx that says what was wrong and writes nothing; the CLI refuses bad arguments and
 * broken files with a clear message and the design §6 exit codes (2 usage or user error, 3 environment missing).
 * Then security checks: the synthesized template grants no `*` action and gives every asynchronous path a place
 * for its failures, and the logs of real orders carry neither card-like numbers nor the local secret key.
 */
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Sha256 } from '@aws-crypto/sha256-js';
import {
  CloudWatchLogsClient,
  DescribeLogGroupsCommand,
  FilterLogEventsCommand,
  type FilterLogEventsCommandOutput,
} from '@aws-sdk/client-cloudwatch-logs';
import {
  DynamoDBClient,
  GetItemCommand,
  ScanCommand,
  type ScanCommandOutput,
} from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { LOCAL_CREDENTIALS } from '@saga/local-cloud';
import { SignatureV4 } from '@smithy/signature-v4';
import { ulid } from 'ulid';
import { beforeAll, describe, expect, inject, test } from 'vitest';
import { executionArnFor, waitForExecutionToEnd, waitForExecutionToExist } from '../cli/target/executions.ts';
import { type ApiResponse, callApi } from '../cli/target/http.ts';
import { CDK_OUT } from '../cli/target/project.ts';
import { type ResolvedTarget, resolveTarget } from '../cli/target/target.ts';
import { type FailSpec, writeFailureFlag } from '../services/shared/failure-flags.ts';
import { type CliResult, runCli, tempProject } from './support/cli.ts';

const cwd = inject('sagaProjectDir');
const GOOD_ORDER = { customerId: 'cust-bad-input', items: [{ sku: 'ceramic-mug', qty: 1 }] };
/** A line of a stack trace (`at fn (file.ts:12:3)`): user errors are printed without one. */
const STACK_LINE = /^\s+at .+:\d+:\d+\)?$/m;

let target: ResolvedTarget;
let ddb: DynamoDBClient;

/** Rows in the Orders table (orders and outbox events): a refused request must not change it. */
async function ordersTableRows(): Promise<number> {
  let count = 0;
  let ExclusiveStartKey: ScanCommandOutput['LastEvaluatedKey'];
  do {
    const page: ScanCommandOutput = await ddb.send(
      new ScanCommand({
        TableName: target.outputs.OrdersTableName,
        Select: 'COUNT',
        ConsistentRead: true,
        ExclusiveStartKey,
      }),
    );
    count += page.Count ?? 0;
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return count;
}

async function orderRowExists(orderId: string): Promise<boolean> {
  const { Item } = await ddb.send(
    new GetItemCommand({
      TableName: target.outputs.OrdersTableName,
      Key: { pk: { S: `ORDER#${orderId}` }, sk: { S: 'ORDER' } },
      ConsistentRead: true,
    }),
  );
  return Item !== undefined;
}

interface RawResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly json: { message?: string; errors?: { path: string; message: string }[] };
}

/**
 * POST /orders with a raw body, signed with SigV4 unless `sign` is false; `credentials` signs with other keys,
 * `tamper` changes the body after signing.
 */
async function rawPost(
  body: string,
  options: {
    sign?: boolean;
    credentials?: { accessKeyId: string; secretAccessKey: string };
    tamper?: (body: string) => string;
    headers?: Record<string, string>;
  } = {},
): Promise<RawResponse> {
  const base = target.outputs.ApiUrl.endsWith('/') ? target.outputs.ApiUrl : `${target.outputs.ApiUrl}/`;
  const url = new URL('orders', base);
  let headers: Record<string, string> = {
    host: url.host,
    'content-type': 'application/json',
    ...options.headers,
  };
  if (options.sign !== false) {
    const signer = new SignatureV4({
      service: 'execute-api',
      region: target.region,
      credentials: options.credentials ?? LOCAL_CREDENTIALS,
      sha256: Sha256,
    });
    const signed = await signer.sign({
      method: 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      port: Number(url.port),
      path: url.pathname,
      query: {},
      headers,
      body,
    });
    headers = signed.headers;
  }
  const response = await fetch(url, { method: 'POST', headers, body: options.tamper?.(body) ?? body });
  const text = await response.text();
  let json: RawResponse['json'] = {};
  try {
    json = JSON.parse(text) as RawResponse['json'];
  } catch {
    json = { message: `(not JSON) ${text.slice(0, 200)}` };
  }
  return { status: response.status, headers: response.headers, json };
}

function expectUserError(result: CliResult, code: number, ...patterns: RegExp[]): void {
  expect(result.code, `stdout: ${result.stdout}\nstderr: ${result.stderr}`).toBe(code);
  for (const pattern of patterns) expect(result.stderr).toMatch(pattern);
  expect(result.stderr).not.toMatch(STACK_LINE);
  expect(result.stderr).not.toMatch(/this is a bug/);
  expect(result.stdout).toBe('');
}

beforeAll(async () => {
  target = await resolveTarget(cwd, {});
  ddb = new DynamoDBClient(target.clientConfig());
});

describe('POST /orders refuses bad input with a 4xx, a clear message and nothing written', () => {
  test('missing fields, wrong types, zero/negative/fractional quantities, unknown SKUs: 400 naming each field', async () => {
    const rowsBefore = await ordersTableRows();
    const cases: { body: Record<string, unknown>; errors: { path: string; message: RegExp }[] }[] = [
      {
        body: {},
        errors: [
          { path: 'customerId', message: /expected a customer id string, received undefined/ },
          { path: 'items', message: /expected an array of \{sku, qty\}, received undefined/ },
        ],
      },
      {
        body: { customerId: 42, items: 'two mugs' },
        errors: [
          { path: 'customerId', message: /received 42/ },
          { path: 'items', message: /received "two mugs"/ },
        ],
      },
      {
        body: { ...GOOD_ORDER, items: [{ sku: 'ceramic-mug', qty: -3 }] },
        errors: [{ path: 'items[0].qty', message: /must be at least 1, received -3/ }],
      },
      {
        body: { ...GOOD_ORDER, items: [{ sku: 'ceramic-mug', qty: 0 }] },
        errors: [{ path: 'items[0].qty', message: /must be at least 1, received 0/ }],
      },
      {
        body: { ...GOOD_ORDER, items: [{ sku: 'ceramic-mug', qty: 1.5 }] },
        errors: [{ path: 'items[0].qty', message: /whole number.*1\.5/ }],
      },
      {
        body: { ...GOOD_ORDER, items: [{ sku: 'ceramic-mug', qty: '2' }] },
        errors: [{ path: 'items[0].qty', message: /received "2"/ }],
      },
      {
        body: { ...GOOD_ORDER, items: [{ sku: 'unicorn-saddle', qty: 1 }] },
        errors: [{ path: 'items[0].sku', message: /unknown SKU "unicorn-saddle".*espresso-beans/ }],
      },
      { body: { ...GOOD_ORDER, items: [] }, errors: [{ path: 'items', message: /at least one item/ }] },
      {
        body: { ...GOOD_ORDER, currency: 'DOGE' },
        errors: [{ path: 'currency', message: /EUR, USD, GBP.*"DOGE"/ }],
      },
      {
        body: { ...GOOD_ORDER, orderId: 'order-1' },
        errors: [{ path: 'orderId', message: /ULID.*"order-1"/ }],
      },
    ];
    const ids = cases.map(() => ulid());
    // One at a time: a single warm sandbox answers them all, so no cold start can turn a 400 into a timeout.
    const responses: ApiResponse[] = [];
    for (const [i, c] of cases.entries()) {
      const body = 'orderId' in c.body ? c.body : { orderId: ids[i], ...c.body };
      responses.push(await callApi(target, 'POST', '/orders', { body }));
    }
    for (const [i, c] of cases.entries()) {
      const response = responses[i];
      const body = response?.body as { message: string; errors: { path: string; message: string }[] };
      expect(response?.status, response?.text).toBe(400);
      expect(body.message).toMatch(/^Invalid order request: /);
      for (const expected of c.errors) {
        const found = body.errors.find((e) => e.path === expected.path);
        expect(found?.message, `${expected.path} in ${response?.text}`).toMatch(expected.message);
      }
    }
    for (const id of ids) expect(await orderRowExists(id)).toBe(false);
    expect(await ordersTableRows()).toBe(rowsBefore);
  });

  test('non-JSON, an empty body, a body over the function limit, one over the API limit: 400/413', async () => {
    const rowsBefore = await ordersTableRows();
    const notJson = await rawPost("{customerId: 'c1', items: [");
    expect(notJson.status).toBe(400);
    expect(notJson.json.message).toMatch(/not valid JSON.*send a JSON object like/);

    const empty = await rawPost('');
    expect(empty.status).toBe(400);
    expect(empty.json.message).toMatch(/body is empty/);

    const orderId = ulid();
    const padded = JSON.stringify({ orderId, ...GOOD_ORDER, note: 'x'.repeat(100_000) });
    const large = await rawPost(padded);
    expect(large.status).toBe(400);
    expect(large.json.message).toMatch(/Request body is \d+ bytes; the limit is 65536 bytes/);

    const huge = await rawPost(JSON.stringify({ ...GOOD_ORDER, note: 'x'.repeat(11 * 1024 * 1024) }));
    expect(huge.status).toBe(413);
    expect(huge.json.message).toBe('Request Entity Too Large');

    expect(await orderRowExists(orderId)).toBe(false);
    expect(await ordersTableRows()).toBe(rowsBefore);
  });

  test('unsigned, wrongly signed, tampered and unknown-key requests: 403 and nothing written', async () => {
    const rowsBefore = await ordersTableRows();
    const body = () => JSON.stringify({ orderId: ulid(), ...GOOD_ORDER });

    const unsigned = await rawPost(body(), { sign: false });
    expect(unsigned.status).toBe(403);
    expect(unsigned.json.message).toBe('Forbidden');
    expect(unsigned.headers.get('x-amzn-errortype')).toBe('ForbiddenException');

    const wrongSecret = await rawPost(body(), {
      credentials: { accessKeyId: LOCAL_CREDENTIALS.accessKeyId, secretAccessKey: 'not-the-secret' },
    });
    expect(wrongSecret.status).toBe(403);
    expect(wrongSecret.headers.get('x-amzn-errortype')).toBe('InvalidSignatureException');
    expect(wrongSecret.json.message).toMatch(/signature/i);

    // Signed correctly, then the body is changed in transit: the payload hash no longer matches.
    const tampered = await rawPost(body(), { tamper: (b) => b.replace('"qty":1', '"qty":9') });
    expect(tampered.status).toBe(403);
    expect(tampered.headers.get('x-amzn-errortype')).toBe('InvalidSignatureException');

    const unknownKey = await rawPost(body(), {
      credentials: { accessKeyId: 'AKIAUNKNOWN000000000', secretAccessKey: 'whatever' },
    });
    expect(unknownKey.status).toBe(403);
    expect(unknownKey.headers.get('x-amzn-errortype')).toBe('UnrecognizedClientException');
    expect(unknownKey.json.message).toMatch(/security token|access key/i);

    expect(await ordersTableRows()).toBe(rowsBefore);
  });

  test('a malformed Idempotency-Key, a malformed order id in GET, an unknown order id: 400/404', async () => {
    const rowsBefore = await ordersTableRows();
    const badKey = await rawPost(JSON.stringify({ orderId: ulid(), ...GOOD_ORDER }), {
      headers: { 'idempotency-key': 'two words' },
    });
    expect(badKey.status).toBe(400);
    expect(badKey.json.message).toMatch(
      /Idempotency-Key must be 1 to 255 visible ASCII characters.*"two words"/,
    );

    const badId = await callApi(target, 'GET', '/orders/not-an-order');
    expect(badId.status).toBe(400);
    expect((badId.body as { message: string }).message).toMatch(/ULID.*"not-an-order"/);

    const unknownId = ulid();
    const unknown = await callApi(target, 'GET', `/orders/${unknownId}`);
    expect(unknown.status).toBe(404);
    expect((unknown.body as { message: string }).message).toBe(`No order ${unknownId}`);
    expect(await ordersTableRows()).toBe(rowsBefore);
  });
});

describe('the CLI refuses bad arguments and broken files: a clear message, the design §6 exit code', () => {
  test('unknown commands and options, bad option values: exit 2 with commander’s message and a hint', async () => {
    const rowsBefore = await ordersTableRows();
    expectUserError(await runCli(['order', '--bogus'], { cwd }), 2, /unknown option '--bogus'/, /--help/);
    expectUserError(await runCli(['frobnicate'], { cwd }), 2, /unknown command 'frobnicate'/);
    expectUserError(
      await runCli(['--target', 'mars', 'ls'], { cwd }),
      2,
      /argument 'mars' is invalid.*local, aws/,
    );
    expectUserError(
      await runCli(['replay', '01ARZ3NDEKTSV4RRFFQ69G5FAV', '--times', '0'], { cwd }),
      2,
      /--times must be a whole number ≥ 1; received "0"/,
    );
    expectUserError(
      await runCli(['flags', 'set', 'payment', '--global', '--rate', '1.5'], { cwd }),
      2,
      /--rate must be between 0 and 1; received "1.5"/,
    );
    expect(await ordersTableRows()).toBe(rowsBefore);
  });

  test('malformed --fail and --items: exit 2 naming what was received and what is valid; no order placed', async () => {
    const rowsBefore = await ordersTableRows();
    const cases: [string[], RegExp[]][] = [
      [
        ['--fail', 'payment:transient:abc'],
        [/'payment:transient:abc'/, /N must be a positive whole number/],
      ],
      [['--fail', 'payment:transient:0'], [/N must be between 1 and 100, got 0/]],
      [
        ['--fail', 'teleport'],
        [/unknown step 'teleport'/, /valid steps: payment, inventory/],
      ],
      [
        ['--fail', 'payment:explode'],
        [/unknown mode 'explode'/, /crash-after-commit/],
      ],
      [['--fail', 'payment:latency:fast'], [/MS must be a positive whole number, got 'fast'/]],
      [['--fail', 'payment', '--fail', 'payment:transient:2'], [/names step payment twice/]],
      [
        ['--items', 'unicorn:1'],
        [/Unknown sku "unicorn"/, /Known skus: espresso-beans/],
      ],
      [['--items', 'ceramic-mug:0'], [/"ceramic-mug:0" is not sku:qty with a whole quantity ≥ 1/]],
    ];
    for (const [args, patterns] of cases) {
      expectUserError(await runCli(['order', '--no-watch', ...args], { cwd }), 2, ...patterns);
    }
    expect(await ordersTableRows()).toBe(rowsBefore);
  });

  test('unknown or malformed order ids and execution ARNs: exit 2 naming the value and where to find good ones', async () => {
    const unknown = '01ARZ3NDEKTSV4RRFFQ69G5FAV';
    expectUserError(
      await runCli(['replay', unknown], { cwd }),
      2,
      new RegExp(`No order ${unknown}`),
      /saga ls/,
    );
    expectUserError(
      await runCli(['replay', unknown, '--via', 'outbox'], { cwd }),
      2,
      new RegExp(`No order ${unknown}`),
    );
    expectUserError(
      await runCli(['replay', 'order-42'], { cwd }),
      2,
      /26-character ULID.*received "order-42"/,
      /saga ls/,
    );
    expectUserError(await runCli(['watch', unknown, '--no-follow'], { cwd }), 2, new RegExp(unknown));
    expectUserError(await runCli(['logs', 'not-an-id'], { cwd }), 2, /ULID.*"not-an-id"/);
    expectUserError(
      await runCli(['watch', 'arn:aws:states:us-east-1:123:execution:x', '--no-follow'], { cwd }),
      2,
      /not a Step Functions execution ARN: "arn:aws:states:us-east-1:123:execution:x"/,
      /arn:aws:states:<region>:<account>:execution:<stateMachine>:<name>/,
    );
    expectUserError(
      await runCli(['watch', 'arn:aws:lambda:us-east-1:000000000000:function:Nope', '--no-follow'], { cwd }),
      2,
      /not a Step Functions execution ARN/,
    );
  });

  test('a corrupt .saga/context.json: exit 3 saying how to fix it; no cloud: exit 3', async () => {
    const dir = await tempProject();
    expectUserError(await runCli(['ls'], { cwd: dir }), 3, /local cloud is not running/, /saga deploy/);
    await mkdir(join(dir, '.saga'), { recursive: true });
    const context = join(dir, '.saga', 'context.json');
    await writeFile(context, '{"target": "local", ');
    expectUserError(
      await runCli(['ls'], { cwd: dir }),
      3,
      /context\.json is not valid JSON/,
      /Delete it \(`rm .*context\.json`\) and run `saga deploy` again, or pass --target local\|aws/,
    );
    await writeFile(context, '{"target": "mars"}');
    expectUserError(await runCli(['ls'], { cwd: dir }), 3, /does not name a target \("target" is "mars"/);
    // An explicit --target does not need the file, so the broken file is no obstacle to the fix it suggests.
    expectUserError(await runCli(['ls', '--target', 'local'], { cwd: dir }), 3, /local cloud is not running/);
  });

  test('a history file that is not JSON, not a history, or missing: exit 2 saying how to save a good one', async () => {
    const dir = await tempProject();
    const file = join(dir, 'history.json');
    await writeFile(file, 'garbage, not JSON');
    expectUserError(
      await runCli(['watch', '--from-file', file], { cwd: dir }),
      2,
      /history file is not JSON/,
      /aws stepfunctions get-execution-history/,
    );
    await writeFile(file, '{"executions": []}');
    expectUserError(
      await runCli(['watch', '--from-file', file], { cwd: dir }),
      2,
      /not a Step Functions execution history/,
    );
    await writeFile(file, '{"events": []}');
    expectUserError(await runCli(['watch', '--from-file', file], { cwd: dir }), 2, /holds no history events/);
    expectUserError(
      await runCli(['watch', '--from-file', join(dir, 'missing.json')], { cwd: dir }),
      2,
      /Cannot read the history file .*missing\.json/,
    );
  });
});

/** A CloudFormation template, as much of it as the checks read. */
interface Template {
  readonly Resources: Record<
    string,
    { readonly Type: string; readonly Properties?: Record<string, unknown> }
  >;
}

/** Every IAM statement anywhere in a resource's properties (policies, roles, queue policies). */
function statementsOf(value: unknown): Record<string, unknown>[] {
  if (Array.isArray(value)) return value.flatMap(statementsOf);
  if (typeof value !== 'object' || value === null) return [];
  const record = value as Record<string, unknown>;
  const own = Array.isArray(record.Statement) ? (record.Statement as Record<string, unknown>[]) : [];
  return [...own, ...Object.values(record).flatMap(statementsOf)];
}

/** The logical id a `{Fn::GetAtt: [id, attr]}` or `{Ref: id}` points at. */
function referencedId(value: unknown): string | undefined {
  const record = value as { 'Fn::GetAtt'?: [string, string]; Ref?: string } | undefined;
  return record?.['Fn::GetAtt']?.[0] ?? record?.Ref;
}

describe('security checks', () => {
  const template = JSON.parse(readFileSync(join(CDK_OUT, 'Saga.template.json'), 'utf8')) as Template;
  const resources = Object.entries(template.Resources);

  test('no IAM statement allows a `*` action or a whole service, and no role has an admin policy', () => {
    const statements = resources.flatMap(([id, r]) =>
      statementsOf(r.Properties).map((statement) => ({ id, statement })),
    );
    expect(statements.length).toBeGreaterThan(10);
    const allows = statements.filter(({ statement }) => statement.Effect === 'Allow');
    const wildcard = allows.filter(({ statement }) =>
      [statement.Action ?? []].flat().some((action) => action === '*' || /:\*$/.test(String(action))),
    );
    expect(wildcard).toEqual([]);
    expect(allows.filter(({ statement }) => statement.NotAction !== undefined)).toEqual([]);
    const managed = resources.flatMap(([, r]) => [r.Properties?.ManagedPolicyArns ?? []].flat());
    expect(JSON.stringify(managed)).not.toMatch(/AdministratorAccess|PowerUserAccess|FullAccess/);
  });

  test('every asynchronous path has somewhere for its failures to go', () => {
    const queues = new Set(resources.filter(([, r]) => r.Type === 'AWS::SQS::Queue').map(([id]) => id));
    const mappings = resources.filter(([, r]) => r.Type === 'AWS::Lambda::EventSourceMapping');
    expect(mappings.length).toBeGreaterThan(0);
    for (const [id, mapping] of mappings) {
      const destination = (mapping.Properties?.DestinationConfig as { OnFailure?: { Destination?: unknown } })
        ?.OnFailure?.Destination;
      expect(queues.has(referencedId(destination) ?? ''), `${id} on-failure destination`).toBe(true);
      expect(mapping.Properties?.MaximumRetryAttempts, `${id} retries are bounded`).toEqual(
        expect.any(Number),
      );
    }
    const rules = resources.filter(([, r]) => r.Type === 'AWS::Events::Rule');
    expect(rules.length).toBeGreaterThan(0);
    for (const [id, rule] of rules) {
      const targets = (rule.Properties?.Targets ?? []) as {
        Id: string;
        DeadLetterConfig?: { Arn?: unknown };
      }[];
      expect(targets.length).toBeGreaterThan(0);
      for (const t of targets) {
        expect(
          queues.has(referencedId(t.DeadLetterConfig?.Arn) ?? ''),
          `${id}/${t.Id} dead-letter queue`,
        ).toBe(true);
      }
    }
    // Nothing invokes a function asynchronously without a failure destination either.
    const asyncConfigs = resources.filter(([, r]) => r.Type === 'AWS::Lambda::EventInvokeConfig');
    for (const [id, config] of asyncConfigs) {
      expect(JSON.stringify(config.Properties?.DestinationConfig ?? {}), id).toMatch(/OnFailure/);
    }
  });

  test('the logs of real orders hold no card-like number and not the local secret key', async () => {
    const startTime = Date.now() - 1_000;
    const sfn = new SFNClient(target.clientConfig());
    const orders: FailSpec[][] = [
      [],
      [{ step: 'inventory', mode: 'error' }],
      [{ step: 'payment', mode: 'transient', times: 1 }],
    ];
    const ids = await Promise.all(
      orders.map(async (flags) => {
        const orderId = ulid();
        for (const flag of flags) {
          await writeFailureFlag(ddb, target.outputs.FailureFlagsTableName, { orderId }, flag);
        }
        // A customer id that looks like a card number would be the client's doing; this one is a normal id.
        const response = await callApi(target, 'POST', '/orders', { body: { orderId, ...GOOD_ORDER } });
        expect(response.status, response.text).toBe(202);
        const arn = executionArnFor(target, orderId);
        await waitForExecutionToExist(sfn, arn);
        await waitForExecutionToEnd(sfn, arn, { timeoutMs: 120_000 });
        return orderId;
      }),
    );
    const logs = new CloudWatchLogsClient(target.clientConfig());
    const { logGroups = [] } = await logs.send(new DescribeLogGroupsCommand({}));
    const messages: string[] = [];
    for (const { logGroupName } of logGroups) {
      let nextToken: string | undefined;
      do {
        const page: FilterLogEventsCommandOutput = await logs.send(
          new FilterLogEventsCommand({ logGroupName, startTime, nextToken }),
        );
        for (const event of page.events ?? []) messages.push(event.message ?? '');
        nextToken = page.nextToken;
      } while (nextToken);
    }
    // The scan saw these orders' lines: the order function's, the saga functions', the publisher's.
    for (const orderId of ids) {
      expect(messages.filter((m) => m.includes(orderId)).length).toBeGreaterThan(5);
    }
    // A run of 13–19 digits standing on its own (not inside a hex id such as an X-Ray trace id) looks like a PAN.
    const cardLike = messages.filter((m) => /(?<![0-9A-Za-z])\d{13,19}(?![0-9A-Za-z])/.test(m));
    expect(cardLike).toEqual([]);
    expect(messages.filter((m) => m.includes(LOCAL_CREDENTIALS.secretAccessKey))).toEqual([]);
  });
});
