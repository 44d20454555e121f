/**
 * Messages between the Lambda runtime (main thread) and a sandbox worker (worker.ts). Types only: the worker
 * imports this file with `import type`, so it costs nothing at run time.
 */

/** Passed as `workerData` when a sandbox worker starts. */
export interface SandboxInit {
  readonly functionName: string;
  /** Absolute folder holding the bundle (`index.mjs`). */
  readonly bundleDir: string;
  /** The handler string, `index.charge`. */
  readonly handler: string;
  /** `nodejs24.x`, … */
  readonly runtime: string;
  readonly memoryMb: number;
  readonly logGroupName: string;
  readonly logStreamName: string;
  /** Written to stdout and stderr after each invocation, followed by the request id and `\u0000`. */
  readonly flushMarker: string;
}

/** An error as the Node.js Lambda runtime reports it. */
export interface LambdaErrorPayload {
  readonly errorType: string;
  readonly errorMessage: string;
  readonly trace?: readonly string[];
}

/** Main thread → worker: run one invocation. */
export interface InvokeMessage {
  readonly type: 'invoke';
  readonly requestId: string;
  /** The event, JSON-encoded (Lambda hands the function a JSON-decoded copy, never the caller's object). */
  readonly eventJson: string;
  /** Epoch milliseconds at which the (scaled) timeout strikes. */
  readonly deadline: number;
  readonly invokedFunctionArn: string;
  /** The X-Ray trace header Lambda puts in `_X_AMZN_TRACE_ID`. */
  readonly traceId: string;
}

/** Worker → main thread. */
export type WorkerMessage =
  | { readonly type: 'ready'; readonly initDurationMs: number }
  | { readonly type: 'init-error'; readonly error: LambdaErrorPayload; readonly initDurationMs: number }
  | {
      readonly type: 'result';
      readonly requestId: string;
      /** The handler's result, JSON-encoded; absent when the handler failed. */
      readonly resultJson?: string;
      readonly error?: LambdaErrorPayload;
      /** Peak heap of the worker's isolate, in MB (the REPORT line's "Max Memory Used"). */
      readonly maxMemoryUsedMb: number;
    };
