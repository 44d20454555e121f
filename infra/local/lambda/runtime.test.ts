import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseFailSpec, writeFailureFlag } from '../../../services/shared/failure-flags.ts';
import { placeTestOrder } from '../../../services/shared/testing.ts';
import { createTestTable, TEST_AWS, testDynamoDbClient } from '../../../test/support/dynamodb.ts';
import { LogsService } from '../logs/service.ts';
import type { InvokeResult } from '../types.ts';
import { AwsError } from '../wire/aws-error.ts';
import { LambdaRuntime, type LocalFunctionSpec } from './runtime.ts';

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** The test function, bundled by esbuild like CDK's NodejsFunction: ESM, @aws-sdk/* left to the runtime. */
const HANDLER_SOURCE = `
import { threadId } from 'node:worker_threads';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const sandboxId = threadId + '-' + Math.random().toString(36).slice(2);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

class PaymentDeclined extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PaymentDeclined';
  }
}

interface Event { action: string; orderId?: string; ms?: number; dir?: string; count?: number; code?: number }

interface Context { awsRequestId: string; getRemainingTimeInMillis(): number; [field: string]: unknown }

export const handler = async (event: Event, context: Context) => {
  switch (event.action) {
    case 'log':
      console.log('processing order', event.orderId);
      // What Powertools Logger does: one JSON document per line, straight to stdout.
      process.stdout.write(JSON.stringify({ level: 'INFO', message: 'order accepted', orderId: event.orderId }) + '\\n');
      console.error('a warning\\nacross two lines');
      return { ok: true, orderId: event.orderId };
    case 'env':
      return {
        env: {
          AWS_LAMBDA_FUNCTION_NAME: process.env.AWS_LAMBDA_FUNCTION_NAME,
          AWS_LAMBDA_FUNCTION_VERSION: process.env.AWS_LAMBDA_FUNCTION_VERSION,
          AWS_LAMBDA_FUNCTION_MEMORY_SIZE: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
          AWS_LAMBDA_LOG_GROUP_NAME: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
          AWS_EXECUTION_ENV: process.env.AWS_EXECUTION_ENV,
          _HANDLER: process.env._HANDLER,
          LAMBDA_TASK_ROOT: process.env.LAMBDA_TASK_ROOT,
          TZ: process.env.TZ,
          AWS_XRAY_CONTEXT_MISSING: process.env.AWS_XRAY_CONTEXT_MISSING,
          AWS_REGION: process.env.AWS_REGION,
          AWS_ENDPOINT_URL: process.env.AWS_ENDPOINT_URL,
          GREETING: process.env.GREETING ?? null,
          ONLY_A: process.env.ONLY_A ?? null,
        },
        logStreamFromEnv: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
        traceId: process.env._X_AMZN_TRACE_ID,
        context: {
          awsRequestId: context.awsRequestId,
          functionName: context.functionName,
          functionVersion: context.functionVersion,
          invokedFunctionArn: context.invokedFunctionArn,
          memoryLimitInMB: context.memoryLimitInMB,
          logGroupName: context.logGroupName,
          logStreamName: context.logStreamName,
          callbackWaitsForEmptyEventLoop: context.callbackWaitsForEmptyEventLoop,
        },
      };
    case 'leak':
      process.env.GREETING = 'changed by the handler';
      return null;
    case 'throw':
      throw new PaymentDeclined('card declined for ' + event.orderId);
    case 'sleep':
      await sleep(event.ms ?? 0);
      return { slept: event.ms };
    case 'remaining':
      return { remaining: context.getRemainingTimeInMillis() };
    case 'overlap': {
      const start = Date.now();
      await sleep(event.ms ?? 0);
      return { sandboxId, start, end: Date.now() };
    }
    case 'sandbox':
      return { sandboxId };
    case 'barrier': {
      // Arrive, then wait for the others: only invocations running at the same time all get through.
      const dir = event.dir ?? '';
      writeFileSync(join(dir, context.awsRequestId), '');
      while (readdirSync(dir).length < (event.count ?? 1)) {
        if (context.getRemainingTimeInMillis() < 100) return { sandboxId, sawAll: false };
        await sleep(10);
      }
      return { sandboxId, sawAll: true };
    }
    case 'ddb': {
      const { DynamoDBClient, PutItemCommand, GetItemCommand } = await import('@aws-sdk/client-dynamodb');
      const ddb = new DynamoDBClient({});
      const Key = { pk: { S: 'ORDER#' + event.orderId }, sk: { S: 'ORDER' } };
      await ddb.send(new PutItemCommand({
        TableName: process.env.TABLE_NAME,
        Item: { ...Key, writtenBy: { S: process.env.AWS_LAMBDA_FUNCTION_NAME ?? '?' } },
      }));
      const got = await ddb.send(new GetItemCommand({ TableName: process.env.TABLE_NAME, Key, ConsistentRead: true }));
      return { writtenBy: got.Item?.writtenBy?.S };
    }
    case 'exit':
      console.log('exiting', event.code ?? 3);
      process.exit(event.code ?? 3);
  }
  return 'unknown action';
};

export const other = async () => 'the other export';
`;

async function bundle(outdir: string, contents: string): Promise<void> {
  await build({
    stdin: { contents, loader: 'ts', resolveDir: outdir, sourcefile: 'handler.ts' },
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    outfile: join(outdir, 'index.mjs'),
    external: ['@aws-sdk/*'],
    logLevel: 'silent',
  });
}

function spec(
  bundleDir: string,
  functionName: string,
  overrides: Partial<LocalFunctionSpec> = {},
): LocalFunctionSpec {
  return {
    functionName,
    arn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    bundleDir,
    handler: 'index.handler',
    runtime: 'nodejs24.x',
    timeoutSeconds: 30,
    memoryMb: 256,
    environment: {},
    ...overrides,
  };
}

function payloadOf<T>(result: InvokeResult): T {
  expect(result.functionError, JSON.stringify(result.payload)).toBeUndefined();
  return result.payload as T;
}

interface FilteredEvent {
  message: string;
  logStreamName: string;
  timestamp: number;
}

describe('LambdaRuntime', () => {
  let bundleDir: string;
  let outsideDir: string;
  let dataDir: string;
  let logs: LogsService;
  let runtime: LambdaRuntime;
  let tableName: string;
  const timeScale = 0.05; // fnTimeout's 10 s becomes 500 ms

  beforeAll(async () => {
    // Like cdk.out: under the project root, so the bundle's @aws-sdk/* imports resolve from its node_modules.
    const cache = join(projectRoot, 'node_modules', '.cache');
    await mkdir(cache, { recursive: true });
    bundleDir = await mkdtemp(join(cache, 'saga-lambda-test-'));
    outsideDir = await mkdtemp(join(tmpdir(), 'saga-lambda-outside-'));
    dataDir = await mkdtemp(join(tmpdir(), 'saga-lambda-logs-'));
    await bundle(bundleDir, HANDLER_SOURCE);
    await bundle(
      outsideDir,
      `import { DynamoDBClient } from '@aws-sdk/client-dynamodb';\nexport const handler = async () => typeof DynamoDBClient;`,
    );
    tableName = await createTestTable(testDynamoDbClient(), 'lambda-runtime');
    logs = new LogsService({ dataDir });
    runtime = new LambdaRuntime({
      logs,
      timeScale,
      baseEnvironment: {
        AWS_ENDPOINT_URL: inject('dynamodbEndpoint'),
        AWS_REGION: TEST_AWS.region,
        AWS_ACCESS_KEY_ID: TEST_AWS.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: TEST_AWS.credentials.secretAccessKey,
        GREETING: 'from the base environment',
      },
    });
    runtime.register(
      spec(bundleDir, 'fnA', {
        timeoutSeconds: 200,
        environment: { GREETING: 'hello from A', ONLY_A: '1', TABLE_NAME: tableName },
      }),
    );
    runtime.register(
      spec(bundleDir, 'fnB', { timeoutSeconds: 200, environment: { GREETING: 'hello from B' } }),
    );
    runtime.register(spec(bundleDir, 'fnTimeout', { timeoutSeconds: 10 }));
    runtime.register(spec(bundleDir, 'fnOther', { handler: 'index.other' }));
    runtime.register(spec(bundleDir, 'fnMissing', { handler: 'index.nothingHere' }));
    runtime.register(spec(outsideDir, 'fnOutside'));
  });

  afterAll(async () => {
    await runtime?.close();
    await logs?.close();
    await Promise.all(
      [bundleDir, outsideDir, dataDir].map((dir) => dir && rm(dir, { recursive: true, force: true })),
    );
  });

  async function logEvents(functionName: string, filterPattern = ''): Promise<FilteredEvent[]> {
    const out = (await logs.handle('FilterLogEvents', {
      logGroupName: `/aws/lambda/${functionName}`,
      filterPattern,
    })) as {
      events: FilteredEvent[];
    };
    return out.events;
  }

  it('runs the handler with the template environment over the base one plus what Lambda sets', async () => {
    const result = await runtime.invoke('fnA', { action: 'env' });
    const out = payloadOf<{
      env: Record<string, string | null>;
      logStreamFromEnv: string;
      traceId: string;
      context: Record<string, unknown>;
    }>(result);

    expect(result).toMatchObject({ statusCode: 200, executedVersion: '$LATEST' });
    expect(out.env).toEqual({
      AWS_LAMBDA_FUNCTION_NAME: 'fnA',
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
      AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/fnA',
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
      _HANDLER: 'index.handler',
      LAMBDA_TASK_ROOT: bundleDir,
      TZ: ':UTC',
      AWS_XRAY_CONTEXT_MISSING: 'LOG_ERROR',
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL: inject('dynamodbEndpoint'),
      GREETING: 'hello from A',
      ONLY_A: '1',
    });
    expect(out.logStreamFromEnv).toMatch(/^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][0-9a-f]{32}$/);
    expect(out.traceId).toMatch(/^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0/);
    expect(out.context).toEqual({
      awsRequestId: result.requestId,
      functionName: 'fnA',
      functionVersion: '$LATEST',
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:fnA',
      memoryLimitInMB: '256',
      logGroupName: '/aws/lambda/fnA',
      logStreamName: out.logStreamFromEnv,
      callbackWaitsForEmptyEventLoop: true,
    });
  });

  it('isolates the environment of each function (and of the test process)', async () => {
    await runtime.invoke('fnB', { action: 'leak' });
    const [a, b] = await Promise.all([
      runtime.invoke('fnA', { action: 'env' }),
      runtime.invoke('fnB', { action: 'env' }),
    ]);
    type Env = { env: Record<string, string | null> };
    expect(payloadOf<Env>(a).env).toMatchObject({
      AWS_LAMBDA_FUNCTION_NAME: 'fnA',
      GREETING: 'hello from A',
      ONLY_A: '1',
    });
    expect(payloadOf<Env>(b).env).toMatchObject({
      AWS_LAMBDA_FUNCTION_NAME: 'fnB',
      GREETING: 'changed by the handler', // the same warm sandbox: its own env, changed by its own code
      ONLY_A: null,
    });
    expect(process.env.GREETING).toBeUndefined();
    expect(process.env.AWS_LAMBDA_FUNCTION_NAME).toBeUndefined();
  });

  it('resolves the export named in the handler string, and reports a missing one as Lambda does', async () => {
    expect(payloadOf<string>(await runtime.invoke('fnOther', {}))).toBe('the other export');
    const missing = await runtime.invoke('fnMissing', {});
    expect(missing.functionError).toBe('Unhandled');
    expect(missing.payload).toMatchObject({
      errorType: 'Runtime.HandlerNotFound',
      errorMessage: 'index.nothingHere is undefined or not exported',
    });
  });

  it('returns a thrown error as { errorType: name, errorMessage, trace } with functionError Unhandled', async () => {
    const result = await runtime.invoke('fnA', { action: 'throw', orderId: 'ORD-9' });
    expect(result.statusCode).toBe(200);
    expect(result.functionError).toBe('Unhandled');
    const error = result.payload as { errorType: string; errorMessage: string; trace: string[] };
    expect(error.errorType).toBe('PaymentDeclined');
    expect(error.errorMessage).toBe('card declined for ORD-9');
    expect(error.trace[0]).toBe('PaymentDeclined: card declined for ORD-9');
    expect(error.trace.length).toBeGreaterThan(1);
    const logged = await logEvents('fnA', `"${result.requestId}" "Invoke Error"`);
    expect(logged.map((e) => e.message)).toEqual([
      expect.stringMatching(/\tERROR\tInvoke Error \t\{"errorType":"PaymentDeclined"/),
    ]);
    // The sandbox survives a handled error.
    expect(
      payloadOf<{ ok: boolean }>(await runtime.invoke('fnA', { action: 'log', orderId: 'after-error' })).ok,
    ).toBe(true);
  });

  it('times out at the scaled deadline with Sandbox.Timedout, then cold-starts a fresh sandbox', async () => {
    const before = payloadOf<{ sandboxId: string }>(await runtime.invoke('fnTimeout', { action: 'sandbox' }));
    const remaining = payloadOf<{ remaining: number }>(
      await runtime.invoke('fnTimeout', { action: 'remaining' }),
    ).remaining;
    expect(remaining).toBeGreaterThan(0);
    expect(remaining).toBeLessThanOrEqual(10_000 * timeScale);

    const started = Date.now();
    const result = await runtime.invoke('fnTimeout', { action: 'sleep', ms: 60_000 });
    const elapsed = Date.now() - started;
    expect(result.functionError).toBe('Unhandled');
    expect(result.payload).toEqual({
      errorType: 'Sandbox.Timedout',
      errorMessage: `RequestId: ${result.requestId} Error: Task timed out after 10.00 seconds`,
    });
    expect(elapsed).toBeGreaterThanOrEqual(10_000 * timeScale - 5);
    expect(elapsed).toBeLessThan(10_000); // the configured, unscaled timeout

    const after = payloadOf<{ sandboxId: string }>(await runtime.invoke('fnTimeout', { action: 'sandbox' }));
    expect(after.sandboxId).not.toBe(before.sandboxId);
    const lines = (await logEvents('fnTimeout', `"${result.requestId}"`)).map((e) => e.message);
    expect(lines).toEqual([
      `START RequestId: ${result.requestId} Version: $LATEST`,
      expect.stringMatching(new RegExp(`Z ${result.requestId} Task timed out after 10.00 seconds$`)),
      `END RequestId: ${result.requestId}`,
      expect.stringMatching(/^REPORT RequestId: .*\tStatus: timeout\t$/),
    ]);
  });

  it('runs concurrent invocations of one function in parallel, in separate sandboxes', async () => {
    const dir = await mkdtemp(join(dataDir, 'barrier-'));
    const results = await Promise.all(
      [1, 2, 3].map(() => runtime.invoke('fnB', { action: 'barrier', dir, count: 3 })),
    );
    const runs = results.map((r) => payloadOf<{ sandboxId: string; sawAll: boolean }>(r));
    expect(runs.map((r) => r.sawAll)).toEqual([true, true, true]);
    expect(new Set(runs.map((r) => r.sandboxId)).size).toBe(3);
  });

  it('writes output, START/END/REPORT to /aws/lambda/<name> before returning, one event per line', async () => {
    const result = await runtime.invoke('fnA', { action: 'log', orderId: 'ORD-42' });
    expect(payloadOf<{ orderId: string }>(result).orderId).toBe('ORD-42');

    const events = await logEvents('fnA', `"${result.requestId}" -"RequestId:"`);
    const all = (await logEvents('fnA')).filter(
      (e) => e.message.includes(result.requestId) || e.message.includes('ORD-42'),
    );
    const id = result.requestId;
    expect(all.map((e) => e.message)).toEqual([
      `START RequestId: ${id} Version: $LATEST`,
      expect.stringMatching(
        new RegExp(`^\\d{4}-\\d{2}-\\d{2}T[\\d:.]+Z\\t${id}\\tINFO\\tprocessing order ORD-42$`),
      ),
      JSON.stringify({ level: 'INFO', message: 'order accepted', orderId: 'ORD-42' }),
      expect.stringMatching(new RegExp(`\\t${id}\\tERROR\\ta warning\\nacross two lines$`)),
      `END RequestId: ${id}`,
      expect.stringMatching(
        new RegExp(
          `^REPORT RequestId: ${id}\\tDuration: \\d+\\.\\d{2} ms\\tBilled Duration: \\d+ ms\\tMemory Size: 256 MB\\tMax Memory Used: \\d+ MB\\t`,
        ),
      ),
    ]);
    expect(events).toHaveLength(2); // the two console lines carry the request id
    expect(new Set(all.map((e) => e.logStreamName)).size).toBe(1);
    expect(all[0]?.logStreamName).toMatch(/^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][0-9a-f]{32}$/);

    const byOrder = await logEvents('fnA', '{ $.orderId = "ORD-42" }');
    expect(byOrder.map((e) => e.message)).toEqual([
      JSON.stringify({ level: 'INFO', message: 'order accepted', orderId: 'ORD-42' }),
    ]);

    // A cold start's first REPORT carries its Init Duration.
    expect((await logEvents('fnA', '"Init Duration"')).length).toBeGreaterThanOrEqual(1);

    await logs.close();
    const reopened = new LogsService({ dataDir });
    const persisted = (await reopened.handle('FilterLogEvents', {
      logGroupName: '/aws/lambda/fnA',
      filterPattern: '{ $.orderId = "ORD-42" }',
    })) as { events: FilteredEvent[] };
    expect(persisted.events.map((e) => [e.message, e.logStreamName])).toEqual(
      byOrder.map((e) => [e.message, e.logStreamName]),
    );
  });

  it('calls DynamoDB Local through AWS_ENDPOINT_URL with the SDK resolved from the project node_modules', async () => {
    const out = payloadOf<{ writtenBy: string }>(
      await runtime.invoke('fnA', { action: 'ddb', orderId: 'ORD-DDB' }),
    );
    expect(out.writtenBy).toBe('fnA');
    const item = await testDynamoDbClient().send(
      new GetItemCommand({ TableName: tableName, Key: { pk: { S: 'ORDER#ORD-DDB' }, sk: { S: 'ORDER' } } }),
    );
    expect(item.Item?.writtenBy?.S).toBe('fnA');
  });

  it('reports a bundle outside the project, where @aws-sdk/* cannot resolve, as Runtime.ImportModuleError', async () => {
    const result = await runtime.invoke('fnOutside', {});
    expect(result.functionError).toBe('Unhandled');
    expect(result.payload).toMatchObject({
      errorType: 'Runtime.ImportModuleError',
      errorMessage: expect.stringContaining('@aws-sdk/client-dynamodb'),
    });
  });

  it('reports a sandbox that exits as Runtime.ExitError and replaces it: the next invocation is a cold start', async () => {
    // A function of its own: one sandbox, so that the next invocation has no other warm one to go to.
    runtime.register(spec(bundleDir, 'fnExit'));
    const before = payloadOf<{ sandboxId: string }>(await runtime.invoke('fnExit', { action: 'sandbox' }));
    const result = await runtime.invoke('fnExit', { action: 'exit', code: 1 });
    expect(result.functionError).toBe('Unhandled');
    expect(result.payload).toEqual({
      errorType: 'Runtime.ExitError',
      errorMessage: `RequestId: ${result.requestId} Error: Runtime exited with error: exit status 1`,
    });
    expect((await runtime.invoke('fnExit', { action: 'exit', code: 3 })).payload).toMatchObject({
      errorMessage: expect.stringMatching(/Error: Runtime exited with error: exit status 3$/),
    });
    const next = await runtime.invoke('fnExit', { action: 'sandbox' });
    expect(payloadOf<{ sandboxId: string }>(next).sandboxId).not.toBe(before.sandboxId);
    const lines = (await logEvents('fnExit', `"${result.requestId}"`)).map((e) => e.message);
    expect(lines).toEqual([
      `START RequestId: ${result.requestId} Version: $LATEST`,
      expect.stringMatching(new RegExp(`\\t${result.requestId}\\tINFO\\texiting 1$`)),
      `END RequestId: ${result.requestId}`,
      expect.stringMatching(/\tStatus: error\tError Type: Runtime\.ExitError\t$/),
    ]);
    // A fresh sandbox: its first REPORT carries an Init Duration.
    const report = (await logEvents('fnExit', `"REPORT RequestId: ${next.requestId}"`)).map((e) => e.message);
    expect(report).toEqual([expect.stringMatching(/\tInit Duration: \d+\.\d{2} ms\t/)]);
  });

  it('invokes by name, name:$LATEST, ARN and qualified ARN; anything else is ResourceNotFoundException', async () => {
    const arn = 'arn:aws:lambda:us-east-1:000000000000:function:fnOther';
    for (const id of ['fnOther', 'fnOther:$LATEST', arn, `${arn}:$LATEST`, '000000000000:function:fnOther']) {
      expect(payloadOf<string>(await runtime.invoke(id, {}))).toBe('the other export');
    }
    const qualified = payloadOf<{ context: { invokedFunctionArn: string } }>(
      await runtime.invoke('arn:aws:lambda:us-east-1:000000000000:function:fnA:$LATEST', { action: 'env' }),
    );
    expect(qualified.context.invokedFunctionArn).toBe(
      'arn:aws:lambda:us-east-1:000000000000:function:fnA:$LATEST',
    );

    for (const [id, arnInMessage] of [
      ['nope', 'arn:aws:lambda:us-east-1:000000000000:function:nope'],
      ['fnOther:prod', `${arn}:prod`],
      ['arn:aws:lambda:eu-west-1:000000000000:function:fnOther', arn],
    ] as const) {
      const error = await runtime.invoke(id, {}).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(AwsError);
      expect(error).toMatchObject({
        type: 'ResourceNotFoundException',
        statusCode: 404,
        message: `Function not found: ${arnInMessage}`,
      });
    }
  });

  it('rejects an invalid function spec with a message naming each problem', () => {
    expect(() =>
      runtime.register(spec('relative/dir', 'bad name', { timeoutSeconds: 0, handler: 'index' })),
    ).toThrowError(
      /functionName must be .*bundleDir must be an absolute path.*handler must look like.*timeoutSeconds/,
    );
  });
});

describe('LambdaRuntime pool bounds and shutdown', () => {
  let bundleDir: string;
  let runtime: LambdaRuntime;
  const logs = new LogsService({});

  beforeAll(async () => {
    const cache = join(projectRoot, 'node_modules', '.cache');
    await mkdir(cache, { recursive: true });
    bundleDir = await mkdtemp(join(cache, 'saga-lambda-test-'));
    await bundle(bundleDir, HANDLER_SOURCE);
    runtime = new LambdaRuntime({ logs, baseEnvironment: {}, maxConcurrencyPerFunction: 2 });
    runtime.register(spec(bundleDir, 'fnBounded'));
  });

  afterAll(async () => {
    await runtime.close();
    await rm(bundleDir, { recursive: true, force: true });
  });

  it('queues invocations beyond the bound and reuses warm sandboxes', async () => {
    const results = await Promise.all(
      [1, 2, 3, 4].map(() => runtime.invoke('fnBounded', { action: 'overlap', ms: 150 })),
    );
    const ids = results.map((r) => payloadOf<{ sandboxId: string }>(r).sandboxId);
    expect(new Set(ids).size).toBe(2);
    expect(runtime.list().map((s) => s.functionName)).toEqual(['fnBounded']);
  });

  it('close() fails invocations still running with ServiceException', async () => {
    const running = runtime.invoke('fnBounded', { action: 'sleep', ms: 30_000 }).then(
      () => undefined,
      (error: unknown) => error,
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    await runtime.close();
    expect(await running).toMatchObject({ type: 'ServiceException' });
    await expect(runtime.invoke('fnBounded', {})).rejects.toMatchObject({ type: 'ServiceException' });
  });
});

describe('a real saga bundle (services/payment, bundled as the CDK stack bundles it)', () => {
  let bundleDir: string;
  let runtime: LambdaRuntime;
  let flagsTable: string;
  let paymentsTable: string;
  let ordersTable: string;
  const logs = new LogsService({});

  beforeAll(async () => {
    const cache = join(projectRoot, 'node_modules', '.cache');
    await mkdir(cache, { recursive: true });
    bundleDir = await mkdtemp(join(cache, 'saga-lambda-payment-'));
    await build({
      entryPoints: [join(projectRoot, 'services/payment/handler.ts')],
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node24',
      mainFields: ['module', 'main'],
      external: ['@aws-sdk/*'],
      banner: {
        js: "import { createRequire as __sagaCreateRequire } from 'node:module'; const require = __sagaCreateRequire(import.meta.url);",
      },
      outfile: join(bundleDir, 'index.mjs'),
      logLevel: 'silent',
    });
    const ddb = testDynamoDbClient();
    const [payments, orders, idempotency, flags] = await Promise.all([
      createTestTable(ddb, 'Payments'),
      createTestTable(ddb, 'Orders'),
      createTestTable(ddb, 'Idempotency', { keys: [{ name: 'id', type: 'HASH' }] }),
      createTestTable(ddb, 'FailureFlags'),
    ]);
    flagsTable = flags;
    paymentsTable = payments;
    ordersTable = orders;
    runtime = new LambdaRuntime({
      logs,
      timeScale: 0.05,
      baseEnvironment: {
        AWS_ENDPOINT_URL: inject('dynamodbEndpoint'),
        AWS_REGION: TEST_AWS.region,
        AWS_ACCESS_KEY_ID: TEST_AWS.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: TEST_AWS.credentials.secretAccessKey,
      },
    });
    const environment = {
      POWERTOOLS_SERVICE_NAME: 'payment',
      POWERTOOLS_LOG_LEVEL: 'INFO',
      PAYMENTS_TABLE: payments,
      ORDERS_TABLE: orders,
      IDEMPOTENCY_TABLE: idempotency,
      FAILURE_FLAGS_TABLE: flags,
    };
    // A cold sandbox's first AWS calls are slow on a busy machine: 300 s scale to 15 s; the 10 s one to 500 ms.
    runtime.register(
      spec(bundleDir, 'Saga-ChargePayment', { handler: 'index.charge', timeoutSeconds: 300, environment }),
    );
    runtime.register(
      spec(bundleDir, 'Saga-ChargePaymentShort', {
        handler: 'index.charge',
        timeoutSeconds: 10,
        environment,
      }),
    );
  });

  afterAll(async () => {
    await runtime?.close();
    await rm(bundleDir, { recursive: true, force: true });
  });

  /** A PENDING order: the payment step commits only while the order row says so. */
  const pendingOrder = (): Promise<string> => placeTestOrder(testDynamoDbClient(), ordersTable);

  const chargeInput = (orderId: string) => ({
    orderId,
    amount: 4200,
    currency: 'EUR',
    idempotency_key: `${orderId}#charge`,
  });

  it('charges once, replays idempotently, and its Powertools JSON lines are found by orderId', async () => {
    const orderId = await pendingOrder();
    const first = payloadOf<{ chargeId: string; amount: number }>(
      await runtime.invoke('Saga-ChargePayment', chargeInput(orderId)),
    );
    const again = payloadOf<{ chargeId: string }>(
      await runtime.invoke('Saga-ChargePayment', chargeInput(orderId)),
    );
    expect(first).toMatchObject({ amount: 4200, currency: 'EUR' });
    expect(again.chargeId).toBe(first.chargeId);

    const found = (await logs.handle('FilterLogEvents', {
      logGroupName: '/aws/lambda/Saga-ChargePayment',
      filterPattern: `{ $.orderId = "${orderId}" && $.service = "payment" }`,
    })) as { events: FilteredEvent[] };
    expect(found.events.length).toBeGreaterThanOrEqual(2);
    for (const event of found.events) {
      expect(JSON.parse(event.message)).toMatchObject({ orderId, function_name: 'Saga-ChargePayment' });
    }
  });

  it('surfaces failure flags as Step Functions sees them: PaymentDeclined, and Sandbox.Timedout', async () => {
    const declinedOrder = await pendingOrder();
    await writeFailureFlag(
      testDynamoDbClient(),
      flagsTable,
      { orderId: declinedOrder },
      parseFailSpec('payment:error'),
    );
    const declined = await runtime.invoke('Saga-ChargePayment', chargeInput(declinedOrder));
    expect(declined.functionError).toBe('Unhandled');
    expect(declined.payload).toMatchObject({ errorType: 'PaymentDeclined' });

    const slowOrder = await pendingOrder();
    await writeFailureFlag(
      testDynamoDbClient(),
      flagsTable,
      { orderId: slowOrder },
      parseFailSpec('payment:timeout'),
    );
    const timedOut = await runtime.invoke('Saga-ChargePaymentShort', chargeInput(slowOrder));
    expect(timedOut.payload).toEqual({
      errorType: 'Sandbox.Timedout',
      errorMessage: `RequestId: ${timedOut.requestId} Error: Task timed out after 10.00 seconds`,
    });
  });
  it('die-after-commit: the charge commits, the sandbox exits (Runtime.ExitError, exit status 1), the next call cold-starts', async () => {
    const orderId = await pendingOrder();
    await writeFailureFlag(
      testDynamoDbClient(),
      flagsTable,
      { orderId },
      parseFailSpec('payment:die-after-commit'),
    );
    const died = await runtime.invoke('Saga-ChargePayment', chargeInput(orderId));
    expect(died.functionError).toBe('Unhandled');
    expect(died.payload).toEqual({
      errorType: 'Runtime.ExitError',
      errorMessage: `RequestId: ${died.requestId} Error: Runtime exited with error: exit status 1`,
    });
    const { Item } = await testDynamoDbClient().send(
      new GetItemCommand({
        TableName: paymentsTable,
        Key: { pk: { S: `ORDER#${orderId}` }, sk: { S: 'CHARGE' } },
        ConsistentRead: true,
      }),
    );
    expect(Item?.amount?.N).toBe('4200');
    const next = await runtime.invoke('Saga-ChargePayment', chargeInput(`${orderId}-next`));
    const { events } = (await logs.handle('FilterLogEvents', {
      logGroupName: '/aws/lambda/Saga-ChargePayment',
      filterPattern: `"REPORT RequestId: ${next.requestId}"`,
    })) as { events: FilteredEvent[] };
    expect(events.map((e) => e.message)).toEqual([expect.stringMatching(/\tInit Duration: \d+\.\d{2} ms\t/)]);
  });
});
