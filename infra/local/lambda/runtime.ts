/**
 * The local cloud's Lambda service: each function runs its CDK bundle (`<asset>/index.mjs`) in `worker_threads`
 * sandboxes, one invocation at a time per sandbox, with the environment, timeout and logs Lambda gives it.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { isAbsolute } from 'node:path';
import { Worker } from 'node:worker_threads';
import {
  type InvokeResult,
  type LambdaInvoker,
  LOCAL_ACCOUNT_ID,
  LOCAL_REGION,
  type LogSink,
} from '../types.ts';
import { AwsError } from '../wire/aws-error.ts';
import type { InvokeMessage, LambdaErrorPayload, SandboxInit, WorkerMessage } from './protocol.ts';

/** A function as the template describes it, ready to run locally. */
export interface LocalFunctionSpec {
  /** The physical function name (`Saga-ChargePaymentFunction…`). */
  readonly functionName: string;
  /** `arn:aws:lambda:us-east-1:000000000000:function:<functionName>`. */
  readonly arn: string;
  /** Absolute path of the asset folder holding `index.mjs`. */
  readonly bundleDir: string;
  /** The handler string, `index.charge`. */
  readonly handler: string;
  /** `nodejs24.x`; any `nodejs*` runtime runs on this machine's Node. */
  readonly runtime: string;
  readonly timeoutSeconds: number;
  readonly memoryMb: number;
  /** From the template, intrinsics already resolved. */
  readonly environment: Readonly<Record<string, string>>;
  /** The execution role (the template's `Role`, resolved): the identity the function's calls are made as. */
  readonly roleArn?: string;
}

/** Options of {@link LambdaRuntime}. */
export interface LambdaRuntimeOptions {
  /** Where function output goes: log group `/aws/lambda/<name>`, one stream per sandbox. */
  readonly logs: LogSink;
  /** Given to every function under its own variables: AWS_ENDPOINT_URL (the edge), AWS_REGION, credentials… */
  readonly baseEnvironment: Readonly<Record<string, string>>;
  /**
   * Variables of one function that Lambda sets and the template cannot override: the keys of a session of its
   * execution role (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), as Lambda hands them out.
   */
  readonly functionEnvironment?: (spec: LocalFunctionSpec) => Readonly<Record<string, string>>;
  /**
   * Multiplies every function timeout (0.05 turns 10 s into 500 ms), never below 100 ms. Error messages keep the
   * configured seconds, as Lambda reports them.
   * @default 1
   */
  readonly timeScale?: number;
  /**
   * Sandboxes one function may run at once; further invocations queue (Lambda would throttle).
   * @default 10
   */
  readonly maxConcurrencyPerFunction?: number;
  /**
   * A sandbox idle this long is shut down; the next invocation cold-starts.
   * @default 600000 (10 minutes)
   */
  readonly idleTimeoutMs?: number;
}

const WORKER_URL = new URL('./worker.ts', import.meta.url);
const FLUSH_MARKER = '\u0000saga-lambda-flush:';
const MIN_TIMEOUT_MS = 100;
/** Lambda limits init to 10 s; a loaded two-core machine importing the AWS SDK needs more headroom. */
const INIT_TIMEOUT_MS = 30_000;
/** Output still in flight after the result: how long to wait for it before returning anyway. */
const FLUSH_GRACE_MS = 1_000;
const DEFAULT_MAX_CONCURRENCY = 10;
const DEFAULT_IDLE_TIMEOUT_MS = 10 * 60_000;
const FUNCTION_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

type InitOutcome =
  | { readonly ok: true; readonly initDurationMs: number }
  | { readonly ok: false; readonly initDurationMs: number; readonly error: LambdaErrorPayload };

type RunOutcome =
  | {
      readonly kind: 'result';
      readonly resultJson?: string;
      readonly error?: LambdaErrorPayload;
      readonly memoryMb: number;
    }
  | { readonly kind: 'crash'; readonly error: LambdaErrorPayload }
  | { readonly kind: 'closed' };

interface PendingRun {
  readonly requestId: string;
  readonly resolve: (outcome: RunOutcome) => void;
  readonly markers: Set<'stdout' | 'stderr'>;
  result?: RunOutcome;
  grace?: NodeJS.Timeout;
}

type LogLine = (message: string) => void;

/** Lambda's log stream name: `YYYY/MM/DD/[$LATEST]<32 hex>`. */
function logStreamNameFor(id: string, now = new Date()): string {
  const date = now.toISOString().slice(0, 10).replaceAll('-', '/');
  return `${date}/[$LATEST]${id}`;
}

function errorFromWorker(error: unknown): LambdaErrorPayload {
  if (error instanceof Error) {
    return { errorType: error.name, errorMessage: error.message, trace: (error.stack ?? '').split('\n') };
  }
  return { errorType: typeof error, errorMessage: String(error), trace: [] };
}

/** One Lambda execution environment: a worker thread that has imported the bundle. */
class Sandbox {
  readonly id = randomBytes(16).toString('hex');
  readonly logStreamName: string;
  readonly ready: Promise<InitOutcome>;
  readonly log: LogLine;
  cold = true;
  dead = false;
  lastUsed = Date.now();
  private readonly worker: Worker;
  private readonly resolveReady: (outcome: InitOutcome) => void;
  private readonly spawnedAt = performance.now();
  private readonly buffers = { stdout: '', stderr: '' };
  private pending: PendingRun | undefined;

  constructor(
    spec: LocalFunctionSpec,
    baseEnvironment: Readonly<Record<string, string>>,
    logs: LogSink,
    reserved: Readonly<Record<string, string>> = {},
  ) {
    this.logStreamName = logStreamNameFor(this.id);
    const logGroupName = `/aws/lambda/${spec.functionName}`;
    this.log = (message) => logs.put(logGroupName, this.logStreamName, [{ timestamp: Date.now(), message }]);
    const { promise, resolve } = Promise.withResolvers<InitOutcome>();
    this.ready = promise;
    this.resolveReady = resolve;
    const region = baseEnvironment.AWS_REGION ?? LOCAL_REGION;
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      LANG: 'en_US.UTF-8',
      ...baseEnvironment,
      ...spec.environment,
      // What Lambda itself sets; reserved, so the template cannot override it.
      ...reserved,
      AWS_REGION: region,
      AWS_DEFAULT_REGION: region,
      AWS_LAMBDA_FUNCTION_NAME: spec.functionName,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(spec.memoryMb),
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_LOG_GROUP_NAME: logGroupName,
      AWS_LAMBDA_LOG_STREAM_NAME: this.logStreamName,
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      AWS_EXECUTION_ENV: `AWS_Lambda_${spec.runtime}`,
      AWS_XRAY_CONTEXT_MISSING: 'LOG_ERROR',
      LAMBDA_TASK_ROOT: spec.bundleDir,
      _HANDLER: spec.handler,
      TZ: ':UTC',
    };
    const init: SandboxInit = {
      functionName: spec.functionName,
      bundleDir: spec.bundleDir,
      handler: spec.handler,
      runtime: spec.runtime,
      memoryMb: spec.memoryMb,
      logGroupName,
      logStreamName: this.logStreamName,
      flushMarker: FLUSH_MARKER,
    };
    this.log(
      `INIT_START Runtime Version: ${spec.runtime.replace(/\.x$/, '')}.local\tRuntime Version ARN: local`,
    );
    // execArgv: the parent's flags (a test runner's loaders, say) are not the function's.
    // Reading a worker's stdout keeps the event loop alive: an owner must call LambdaRuntime#close().
    this.worker = new Worker(WORKER_URL, { env, workerData: init, stdout: true, stderr: true, execArgv: [] });
    for (const name of ['stdout', 'stderr'] as const) {
      const stream = this.worker[name];
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => this.onOutput(name, chunk));
    }
    this.worker.on('message', (message: WorkerMessage) => this.onMessage(message));
    this.worker.on('error', (error) => this.onCrash(errorFromWorker(error)));
    this.worker.on('exit', (code) =>
      this.onCrash({
        errorType: 'Runtime.ExitError',
        errorMessage: `RequestId: ${this.pending?.requestId ?? 'init'} Error: Runtime exited with error: exit status ${code}`,
      }),
    );
    const initTimer = setTimeout(() => {
      this.resolveReady({
        ok: false,
        initDurationMs: INIT_TIMEOUT_MS,
        error: {
          errorType: 'Sandbox.Timedout',
          errorMessage: `INIT timed out after ${INIT_TIMEOUT_MS / 1000} seconds`,
        },
      });
    }, INIT_TIMEOUT_MS);
    initTimer.unref();
    void this.ready.then(() => clearTimeout(initTimer));
  }

  /** Runs one invocation; the caller enforces the timeout. */
  run(message: InvokeMessage): Promise<RunOutcome> {
    const { promise, resolve } = Promise.withResolvers<RunOutcome>();
    if (this.dead) {
      resolve({ kind: 'crash', error: { errorType: 'Runtime.ExitError', errorMessage: 'Sandbox is gone' } });
      return promise;
    }
    this.pending = { requestId: message.requestId, resolve, markers: new Set() };
    this.worker.postMessage(message);
    return promise;
  }

  /** Terminates the worker; a run in progress resolves as `closed` unless `abandon` dropped it first. */
  async kill(options: { abandon?: boolean } = {}): Promise<void> {
    const pending = this.pending;
    this.pending = undefined;
    this.dead = true;
    if (pending && !options.abandon) this.settle(pending, { kind: 'closed' });
    this.flushPartialLines();
    await this.worker.terminate();
  }

  private onMessage(message: WorkerMessage): void {
    switch (message.type) {
      case 'ready':
        this.resolveReady({ ok: true, initDurationMs: message.initDurationMs });
        return;
      case 'init-error':
        this.resolveReady({ ok: false, initDurationMs: message.initDurationMs, error: message.error });
        return;
      case 'result': {
        const pending = this.pending;
        if (!pending || pending.requestId !== message.requestId) return;
        pending.result = {
          kind: 'result',
          resultJson: message.resultJson,
          error: message.error,
          memoryMb: message.maxMemoryUsedMb,
        };
        this.tryFinish(pending);
        if (this.pending === pending) {
          pending.grace = setTimeout(() => this.finish(pending), FLUSH_GRACE_MS);
        }
        return;
      }
    }
  }

  private onCrash(error: LambdaErrorPayload): void {
    if (this.dead && !this.pending) return;
    this.dead = true;
    this.flushPartialLines();
    this.resolveReady({ ok: false, initDurationMs: performance.now() - this.spawnedAt, error });
    const pending = this.pending;
    this.pending = undefined;
    if (pending) this.settle(pending, { kind: 'crash', error });
  }

  /** Splits output into log events (one per line) and spots the end-of-invocation markers. */
  private onOutput(stream: 'stdout' | 'stderr', chunk: string): void {
    let buffer = this.buffers[stream] + chunk;
    for (;;) {
      const marker = buffer.indexOf(FLUSH_MARKER);
      const newline = buffer.indexOf('\n');
      if (marker !== -1 && (newline === -1 || marker < newline)) {
        const end = buffer.indexOf('\u0000', marker + FLUSH_MARKER.length);
        if (end === -1) break;
        this.emitLine(buffer.slice(0, marker));
        const requestId = buffer.slice(marker + FLUSH_MARKER.length, end);
        buffer = buffer.slice(end + 1);
        this.onMarker(stream, requestId);
        continue;
      }
      if (newline === -1) break;
      this.emitLine(buffer.slice(0, newline));
      buffer = buffer.slice(newline + 1);
    }
    this.buffers[stream] = buffer;
  }

  private onMarker(stream: 'stdout' | 'stderr', requestId: string): void {
    const pending = this.pending;
    if (!pending || pending.requestId !== requestId) return;
    pending.markers.add(stream);
    this.tryFinish(pending);
  }

  private emitLine(line: string): void {
    // Lambda's console turns a message's newlines into \r to keep it one event; CloudWatch shows newlines.
    const message = line.replace(/\r$/, '').replaceAll('\r', '\n');
    if (message.length > 0) this.log(message);
  }

  private flushPartialLines(): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      this.emitLine(this.buffers[stream]);
      this.buffers[stream] = '';
    }
  }

  private tryFinish(pending: PendingRun): void {
    if (pending.result && pending.markers.size === 2) this.finish(pending);
  }

  private finish(pending: PendingRun): void {
    if (this.pending !== pending || !pending.result) return;
    this.pending = undefined;
    this.settle(pending, pending.result);
  }

  private settle(pending: PendingRun, outcome: RunOutcome): void {
    clearTimeout(pending.grace);
    this.lastUsed = Date.now();
    pending.resolve(outcome);
  }
}

interface Waiter {
  resolve(sandbox: Sandbox): void;
  reject(error: Error): void;
}

/** The sandboxes of one function: warm ones reused, new ones spawned up to a bound, the rest queued. */
class FunctionPool {
  readonly spec: LocalFunctionSpec;
  private readonly sandboxes = new Set<Sandbox>();
  private readonly idle: Sandbox[] = [];
  private readonly waiters: Waiter[] = [];
  private readonly spawn: () => Sandbox;
  private readonly maxConcurrency: number;
  private retired = false;

  constructor(spec: LocalFunctionSpec, spawn: () => Sandbox, maxConcurrency: number) {
    this.spec = spec;
    this.spawn = spawn;
    this.maxConcurrency = maxConcurrency;
  }

  acquire(): Promise<Sandbox> {
    const warm = this.idle.pop();
    if (warm) return Promise.resolve(warm);
    if (this.sandboxes.size < this.maxConcurrency) return Promise.resolve(this.add());
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  release(sandbox: Sandbox): void {
    if (sandbox.dead) {
      this.sandboxes.delete(sandbox);
      this.waiters.shift()?.resolve(this.add());
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter) {
      waiter.resolve(sandbox);
    } else if (this.retired) {
      this.sandboxes.delete(sandbox);
      void sandbox.kill();
    } else {
      this.idle.push(sandbox);
    }
  }

  /** Stops taking new work (a re-registered function): idle sandboxes go now, busy ones when done. */
  retire(): void {
    this.retired = true;
    for (const sandbox of this.idle.splice(0)) {
      this.sandboxes.delete(sandbox);
      void sandbox.kill();
    }
  }

  reapIdle(idleTimeoutMs: number): void {
    const cutoff = Date.now() - idleTimeoutMs;
    for (const sandbox of this.idle.filter((s) => s.lastUsed < cutoff)) {
      this.idle.splice(this.idle.indexOf(sandbox), 1);
      this.sandboxes.delete(sandbox);
      void sandbox.kill();
    }
  }

  async close(): Promise<void> {
    this.retired = true;
    const error = new AwsError(
      'ServiceException',
      `The local Lambda runtime shut down; ${this.spec.functionName} did not run.`,
      500,
    );
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
    this.idle.length = 0;
    const all = [...this.sandboxes];
    this.sandboxes.clear();
    await Promise.all(all.map((sandbox) => sandbox.kill()));
  }

  private add(): Sandbox {
    const sandbox = this.spawn();
    this.sandboxes.add(sandbox);
    return sandbox;
  }
}

/**
 * Runs registered functions like Lambda's Invoke API (RequestResponse): fresh worker per cold start, warm reuse,
 * the configured timeout (scaled) enforced by terminating the sandbox, output and START/END/REPORT lines written
 * to CloudWatch Logs.
 */
export class LambdaRuntime implements LambdaInvoker {
  private readonly logs: LogSink;
  private readonly baseEnvironment: Readonly<Record<string, string>>;
  private readonly functionEnvironment: (spec: LocalFunctionSpec) => Readonly<Record<string, string>>;
  private readonly timeScale: number;
  private readonly maxConcurrency: number;
  private readonly pools = new Map<string, FunctionPool>();
  private readonly retiredPools = new Set<FunctionPool>();
  private readonly reaper: NodeJS.Timeout;
  private closed = false;

  constructor(options: LambdaRuntimeOptions) {
    const timeScale = options.timeScale ?? 1;
    if (!(Number.isFinite(timeScale) && timeScale > 0)) {
      throw new RangeError(
        `timeScale must be a number above 0 (1 = real time); received ${String(options.timeScale)}`,
      );
    }
    const maxConcurrency = options.maxConcurrencyPerFunction ?? DEFAULT_MAX_CONCURRENCY;
    if (!(Number.isInteger(maxConcurrency) && maxConcurrency >= 1)) {
      throw new RangeError(
        `maxConcurrencyPerFunction must be an integer ≥ 1; received ${String(maxConcurrency)}`,
      );
    }
    this.logs = options.logs;
    this.baseEnvironment = { ...options.baseEnvironment };
    this.functionEnvironment = options.functionEnvironment ?? (() => ({}));
    this.timeScale = timeScale;
    this.maxConcurrency = maxConcurrency;
    const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.reaper = setInterval(
      () => {
        for (const pool of this.pools.values()) pool.reapIdle(idleTimeoutMs);
      },
      Math.min(60_000, Math.max(1_000, idleTimeoutMs / 2)),
    );
    this.reaper.unref();
  }

  /** Adds a function, or replaces one of the same name (its warm sandboxes are retired). */
  register(spec: LocalFunctionSpec): void {
    validateSpec(spec);
    const frozen: LocalFunctionSpec = { ...spec, environment: { ...spec.environment } };
    const reserved = this.functionEnvironment(frozen);
    const previous = this.pools.get(spec.functionName);
    if (previous) {
      previous.retire();
      this.retiredPools.add(previous);
    }
    this.pools.set(
      spec.functionName,
      new FunctionPool(
        frozen,
        () => new Sandbox(frozen, this.baseEnvironment, this.logs, reserved),
        this.maxConcurrency,
      ),
    );
  }

  list(): readonly LocalFunctionSpec[] {
    return [...this.pools.values()].map((pool) => pool.spec);
  }

  /**
   * Invokes synchronously. A handler error or a timeout is a result (`functionError: 'Unhandled'`), not a throw;
   * an unknown function throws `AwsError('ResourceNotFoundException', …, 404)`.
   */
  async invoke(functionNameOrArn: string, payload: unknown): Promise<InvokeResult> {
    if (this.closed) {
      throw new AwsError(
        'ServiceException',
        'The local Lambda runtime is closed; start the local cloud again.',
        500,
      );
    }
    const { pool, invokedArn } = this.resolve(functionNameOrArn);
    let eventJson: string;
    try {
      eventJson = JSON.stringify(payload === undefined ? {} : payload);
    } catch (cause) {
      throw new AwsError(
        'InvalidRequestContentException',
        `Could not serialize the payload as JSON: ${String(cause)}`,
        400,
        {
          cause,
        },
      );
    }
    const requestId = randomUUID();
    const sandbox = await pool.acquire();
    try {
      return await this.runIn(pool.spec, sandbox, requestId, eventJson, invokedArn);
    } finally {
      pool.release(sandbox);
    }
  }

  /**
   * Terminates every sandbox; invocations still running reject with `ServiceException`. Required: a sandbox's
   * captured stdout keeps the event loop alive until then.
   */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.reaper);
    const pools = [...this.pools.values(), ...this.retiredPools];
    this.pools.clear();
    this.retiredPools.clear();
    await Promise.all(pools.map((pool) => pool.close()));
  }

  private scaledTimeoutMs(spec: LocalFunctionSpec): number {
    return Math.max(MIN_TIMEOUT_MS, spec.timeoutSeconds * 1000 * this.timeScale);
  }

  private async runIn(
    spec: LocalFunctionSpec,
    sandbox: Sandbox,
    requestId: string,
    eventJson: string,
    invokedFunctionArn: string,
  ): Promise<InvokeResult> {
    const log = sandbox.log;
    const cold = sandbox.cold;
    const init = await sandbox.ready;
    if (!init.ok) {
      await sandbox.kill();
      log(
        `INIT_REPORT Init Duration: ${init.initDurationMs.toFixed(2)} ms\tPhase: init\tStatus: error\tError Type: ${init.error.errorType}`,
      );
      log(`START RequestId: ${requestId} Version: $LATEST`);
      log(`END RequestId: ${requestId}`);
      log(
        report(
          requestId,
          0,
          spec.memoryMb,
          0,
          undefined,
          `Status: error\tError Type: ${init.error.errorType}`,
        ),
      );
      return failure(requestId, init.error);
    }
    sandbox.cold = false;
    const timeoutMs = this.scaledTimeoutMs(spec);
    log(`START RequestId: ${requestId} Version: $LATEST`);
    const started = performance.now();
    const run = sandbox.run({
      type: 'invoke',
      requestId,
      eventJson,
      deadline: Date.now() + timeoutMs,
      invokedFunctionArn,
      traceId: traceHeader(),
    });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const outcome = await Promise.race([run, timedOut]);
    clearTimeout(timer);
    const durationMs = performance.now() - started;
    const initDurationMs = cold ? init.initDurationMs : undefined;
    if (outcome === 'timeout') {
      await sandbox.kill({ abandon: true });
      const message = `Task timed out after ${spec.timeoutSeconds.toFixed(2)} seconds`;
      log(`${new Date().toISOString()} ${requestId} ${message}`);
      log(`END RequestId: ${requestId}`);
      log(report(requestId, durationMs, spec.memoryMb, undefined, initDurationMs, 'Status: timeout'));
      return failure(requestId, {
        errorType: 'Sandbox.Timedout',
        errorMessage: `RequestId: ${requestId} Error: ${message}`,
      });
    }
    if (outcome.kind === 'closed') {
      throw new AwsError(
        'ServiceException',
        `The local Lambda runtime shut down while ${spec.functionName} was running.`,
        500,
      );
    }
    if (outcome.kind === 'crash') {
      await sandbox.kill();
      log(`END RequestId: ${requestId}`);
      log(
        report(
          requestId,
          durationMs,
          spec.memoryMb,
          undefined,
          initDurationMs,
          `Status: error\tError Type: ${outcome.error.errorType}`,
        ),
      );
      return failure(requestId, outcome.error);
    }
    log(`END RequestId: ${requestId}`);
    log(report(requestId, durationMs, spec.memoryMb, outcome.memoryMb, initDurationMs));
    if (outcome.error) return failure(requestId, outcome.error);
    return {
      statusCode: 200,
      payload: JSON.parse(outcome.resultJson ?? 'null') as unknown,
      executedVersion: '$LATEST',
      requestId,
    };
  }

  /** Name, `name:$LATEST`, ARN, qualified ARN or partial ARN (`<account>:function:<name>`) → the function. */
  private resolve(functionNameOrArn: string): { pool: FunctionPool; invokedArn: string } {
    const match =
      /^(?:arn:aws[a-z-]*:lambda:(?<region>[a-z0-9-]+):)?(?:(?<account>\d{12}):function:)?(?<name>[^:]+)(?::(?<qualifier>[^:]+))?$/.exec(
        functionNameOrArn,
      );
    const name = match?.groups?.name ?? functionNameOrArn;
    const qualifier = match?.groups?.qualifier;
    const pool = this.pools.get(name);
    const baseArn = pool?.spec.arn ?? `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:function:${name}`;
    const invokedArn = qualifier === undefined ? baseArn : `${baseArn}:${qualifier}`;
    const region = match?.groups?.region;
    const account = match?.groups?.account;
    const sameHome =
      pool !== undefined &&
      (region === undefined || pool.spec.arn.split(':')[3] === region) &&
      (account === undefined || pool.spec.arn.split(':')[4] === account);
    if (!match || !pool || !sameHome || (qualifier !== undefined && qualifier !== '$LATEST')) {
      // Only $LATEST exists locally: versions and aliases are not published.
      throw new AwsError('ResourceNotFoundException', `Function not found: ${invokedArn}`, 404);
    }
    return { pool, invokedArn };
  }
}

function validateSpec(spec: LocalFunctionSpec): void {
  const problems: string[] = [];
  if (!FUNCTION_NAME.test(spec.functionName)) {
    problems.push(
      `functionName must be 1-64 letters, digits, '-' or '_' (received ${JSON.stringify(spec.functionName)})`,
    );
  }
  if (
    !/^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[^:]+$/.test(spec.arn) ||
    !spec.arn.endsWith(`:${spec.functionName}`)
  ) {
    problems.push(
      `arn must be the unqualified function ARN ending in :${spec.functionName} (received ${JSON.stringify(spec.arn)})`,
    );
  }
  if (!isAbsolute(spec.bundleDir)) {
    problems.push(`bundleDir must be an absolute path (received ${JSON.stringify(spec.bundleDir)})`);
  }
  if (!/^[^.]+\..+$/.test(spec.handler.slice(spec.handler.lastIndexOf('/') + 1))) {
    problems.push(`handler must look like 'index.handler' (received ${JSON.stringify(spec.handler)})`);
  }
  if (!spec.runtime.startsWith('nodejs')) {
    problems.push(
      `runtime must be a Node.js runtime such as nodejs24.x (received ${JSON.stringify(spec.runtime)})`,
    );
  }
  if (!(Number.isFinite(spec.timeoutSeconds) && spec.timeoutSeconds > 0 && spec.timeoutSeconds <= 900)) {
    problems.push(`timeoutSeconds must be within 1-900 (received ${String(spec.timeoutSeconds)})`);
  }
  if (!(Number.isInteger(spec.memoryMb) && spec.memoryMb >= 128 && spec.memoryMb <= 10_240)) {
    problems.push(`memoryMb must be an integer within 128-10240 (received ${String(spec.memoryMb)})`);
  }
  for (const [key, value] of Object.entries(spec.environment)) {
    if (typeof value !== 'string')
      problems.push(`environment.${key} must be a string (received ${typeof value})`);
  }
  if (problems.length > 0) {
    throw new AwsError(
      'InvalidParameterValueException',
      `Cannot register function ${JSON.stringify(spec.functionName)}: ${problems.join('; ')}`,
    );
  }
}

function failure(requestId: string, error: LambdaErrorPayload): InvokeResult {
  return {
    statusCode: 200,
    payload: error,
    functionError: 'Unhandled',
    executedVersion: '$LATEST',
    requestId,
  };
}

/** Lambda's REPORT line (tab-separated, trailing tab included). */
function report(
  requestId: string,
  durationMs: number,
  memoryMb: number,
  maxMemoryUsedMb: number | undefined,
  initDurationMs: number | undefined,
  status?: string,
): string {
  const parts = [
    `REPORT RequestId: ${requestId}`,
    `Duration: ${durationMs.toFixed(2)} ms`,
    `Billed Duration: ${Math.ceil(durationMs)} ms`,
    `Memory Size: ${memoryMb} MB`,
    `Max Memory Used: ${maxMemoryUsedMb ?? '-'} MB`,
  ];
  if (initDurationMs !== undefined) parts.push(`Init Duration: ${initDurationMs.toFixed(2)} ms`);
  if (status) parts.push(status);
  return `${parts.join('\t')}\t`;
}

/** An X-Ray trace header as Lambda puts in `_X_AMZN_TRACE_ID` (not sampled: nothing collects traces locally). */
function traceHeader(): string {
  const epoch = Math.floor(Date.now() / 1000).toString(16);
  return `Root=1-${epoch}-${randomBytes(12).toString('hex')};Parent=${randomBytes(8).toString('hex')};Sampled=0;Lineage=1:${randomBytes(4).toString('hex')}:0`;
}
