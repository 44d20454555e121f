/**
 * One Lambda sandbox: the entry of a `worker_threads` Worker started by runtime.ts. It imports the function's
 * bundle once (the init phase, a cold start), then runs one invocation at a time as the Node.js Lambda runtime
 * does: a JSON-decoded event, a Lambda `context`, console output in Lambda's text format, and errors reported
 * as `{ errorType, errorMessage, trace }`.
 */
import { existsSync } from 'node:fs';
import { enableCompileCache, setSourceMapsSupport } from 'node:module';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { format, types } from 'node:util';
import { getHeapStatistics } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import type { InvokeMessage, LambdaErrorPayload, SandboxInit, WorkerMessage } from './protocol.ts';

type Handler = (
  event: unknown,
  context: LambdaContext,
  callback?: (error: unknown, result?: unknown) => void,
) => unknown;

/** The Lambda context object a handler receives (the fields of `aws-lambda`'s `Context` the runtime sets). */
interface LambdaContext {
  callbackWaitsForEmptyEventLoop: boolean;
  readonly functionName: string;
  readonly functionVersion: string;
  readonly invokedFunctionArn: string;
  readonly memoryLimitInMB: string;
  readonly awsRequestId: string;
  readonly logGroupName: string;
  readonly logStreamName: string;
  getRemainingTimeInMillis(): number;
}

/** An error of the runtime itself (bad handler string, missing module), named as Lambda names them. */
class RuntimeError extends Error {
  constructor(name: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = name;
  }
}

const port = parentPort;
if (!port)
  throw new Error('infra/local/lambda/worker.ts is a worker_threads entry; start it with new Worker(...)');
const init = workerData as SandboxInit;
// V8's compiled code for the bundle and the AWS SDK, kept on disk and shared by every sandbox (Node's cache
// folder under the OS temp dir): a cold start then skips recompiling them. Lambda has no such cache;
// it only makes the local cold start a little cheaper (init alone ~140 → ~120 ms here), not different.
enableCompileCache();
const MiB = 1024 * 1024;
let currentRequestId: string | undefined;
let peakMemoryMb = 0;

function post(message: WorkerMessage): void {
  port?.postMessage(message);
}

/** Lambda's Node.js runtime prefixes each console line with time, request id and level, one line per call. */
function patchConsole(): void {
  const levels = {
    log: 'INFO',
    info: 'INFO',
    warn: 'WARN',
    error: 'ERROR',
    debug: 'DEBUG',
    trace: 'TRACE',
  } as const;
  for (const [method, level] of Object.entries(levels)) {
    const write = (...args: unknown[]): void => {
      // A multi-line message stays one log event: Lambda swaps newlines for carriage returns on stdout.
      const message = format(...args).replaceAll('\n', '\r');
      process.stdout.write(
        `${new Date().toISOString()}\t${currentRequestId ?? 'undefined'}\t${level}\t${message}\n`,
      );
    };
    Object.defineProperty(console, method, { value: write, configurable: true, writable: true });
  }
}

/** `errorType`/`errorMessage`/`trace`, exactly as the Node.js runtime's `toRapidResponse`. */
function toLambdaError(error: unknown): LambdaErrorPayload {
  if (types.isNativeError(error) || isErrorLike(error)) {
    return { errorType: error.name, errorMessage: error.message, trace: (error.stack ?? '').split('\n') };
  }
  return { errorType: typeof error, errorMessage: String(error), trace: [] };
}

function isErrorLike(value: unknown): value is Error {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { name?: unknown }).name === 'string' &&
    typeof (value as { message?: unknown }).message === 'string'
  );
}

/** Finds the handler as the runtime does: `dir/module.export.path` → `<bundleDir>/dir/module(.js|.mjs|.cjs)`. */
async function loadHandler(bundleDir: string, handlerString: string): Promise<Handler> {
  const slash = handlerString.lastIndexOf('/');
  const dir = handlerString.slice(0, slash + 1);
  const [moduleName, ...exportPath] = handlerString.slice(slash + 1).split('.');
  if (!moduleName || exportPath.length === 0) {
    throw new RuntimeError(
      'Runtime.MalformedHandlerName',
      `Bad handler ${handlerString}: expected '<module>.<export>', for example 'index.handler'`,
    );
  }
  const base = resolve(bundleDir, dir, moduleName);
  const file = ['.js', '.mjs', '.cjs'].map((ext) => base + ext).find((candidate) => existsSync(candidate));
  if (!file) {
    throw new RuntimeError(
      'Runtime.ImportModuleError',
      `Error: Cannot find module '${join(dir, moduleName)}' (looked for ${base}.js, .mjs, .cjs)`,
    );
  }
  let module: unknown;
  try {
    module = await import(pathToFileURL(file).href);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new RuntimeError('Runtime.ImportModuleError', `Error: ${(error as Error).message}`, {
        cause: error,
      });
    }
    if (error instanceof SyntaxError) {
      throw new RuntimeError('Runtime.UserCodeSyntaxError', `SyntaxError: ${error.message}`, {
        cause: error,
      });
    }
    throw error;
  }
  let value: unknown = module;
  for (const key of exportPath) {
    value = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
  }
  if (value === undefined) {
    throw new RuntimeError('Runtime.HandlerNotFound', `${handlerString} is undefined or not exported`);
  }
  if (typeof value !== 'function') {
    throw new RuntimeError('Runtime.HandlerNotFound', `${handlerString} is not a function`);
  }
  return value as Handler;
}

/** Async handlers everywhere; callback handlers only on runtimes before nodejs24.x, which dropped them. */
function callHandler(handler: Handler, event: unknown, context: LambdaContext): Promise<unknown> {
  const acceptsCallback = handler.length >= 3 && init.runtime !== 'nodejs24.x';
  if (!acceptsCallback) return Promise.resolve().then(() => handler(event, context));
  return new Promise((resolvePromise, rejectPromise) => {
    const callback = (error: unknown, result?: unknown): void => {
      if (error !== null && error !== undefined) rejectPromise(error);
      else resolvePromise(result);
    };
    try {
      const returned = handler(event, context, callback);
      if (returned && typeof (returned as Promise<unknown>).then === 'function') {
        (returned as Promise<unknown>).then(resolvePromise, rejectPromise);
      }
    } catch (error) {
      rejectPromise(error);
    }
  });
}

/** Waits until the main thread holds everything written so far, then marks the end of this invocation's output. */
function flushOutput(requestId: string): Promise<unknown> {
  const marker = `${init.flushMarker}${requestId}\u0000`;
  return Promise.all(
    [process.stdout, process.stderr].map(
      (stream) => new Promise<void>((done) => stream.write(marker, () => done())),
    ),
  );
}

function sampleMemory(): number {
  const heap = getHeapStatistics();
  peakMemoryMb = Math.max(peakMemoryMb, Math.ceil((heap.total_heap_size + heap.external_memory) / MiB));
  return peakMemoryMb;
}

async function invoke(message: InvokeMessage, handler: Handler): Promise<void> {
  currentRequestId = message.requestId;
  process.env._X_AMZN_TRACE_ID = message.traceId;
  const context: LambdaContext = {
    callbackWaitsForEmptyEventLoop: true,
    functionName: init.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: message.invokedFunctionArn,
    memoryLimitInMB: String(init.memoryMb),
    awsRequestId: message.requestId,
    logGroupName: init.logGroupName,
    logStreamName: init.logStreamName,
    getRemainingTimeInMillis: () => Math.max(0, message.deadline - Date.now()),
  };
  let resultJson: string | undefined;
  let error: LambdaErrorPayload | undefined;
  try {
    const result = await callHandler(handler, JSON.parse(message.eventJson), context);
    try {
      resultJson = JSON.stringify(result) ?? 'null';
    } catch (cause) {
      throw new RuntimeError('Runtime.MarshalError', `Unable to stringify response body: ${String(cause)}`, {
        cause,
      });
    }
  } catch (thrown) {
    error = toLambdaError(thrown);
    const { trace, ...rest } = error;
    console.error('Invoke Error', `\t${JSON.stringify({ ...rest, stack: trace })}`);
  }
  await flushOutput(message.requestId);
  currentRequestId = undefined;
  post({ type: 'result', requestId: message.requestId, resultJson, error, maxMemoryUsedMb: sampleMemory() });
}

async function main(): Promise<void> {
  patchConsole();
  // CDK's NodejsFunction sets NODE_OPTIONS=--enable-source-maps when it bundles source maps.
  if (process.env.NODE_OPTIONS?.includes('--enable-source-maps')) setSourceMapsSupport(true);
  const started = performance.now();
  let handler: Handler;
  try {
    handler = await loadHandler(init.bundleDir, init.handler);
  } catch (thrown) {
    const error = toLambdaError(thrown);
    const { trace, ...rest } = error;
    console.error('Uncaught Exception', `\t${JSON.stringify({ ...rest, stack: trace })}`);
    await flushOutput('init');
    post({ type: 'init-error', error, initDurationMs: performance.now() - started });
    return;
  }
  sampleMemory();
  port?.on('message', (message: InvokeMessage) => {
    void invoke(message, handler);
  });
  post({ type: 'ready', initDurationMs: performance.now() - started });
}

await main();
