/**
 * Contracts between the parts of the local cloud (infra/local). Each part implements one of these;
 * `cloud.ts` wires them together from the synthesized template.
 */

/** Account, region and credentials the local cloud answers to. */
export const LOCAL_ACCOUNT_ID = '000000000000';
export const LOCAL_REGION = 'us-east-1';
export const LOCAL_CREDENTIALS = {
  accessKeyId: 'AKIASAGALOCAL0000000',
  secretAccessKey: 'saga-local-secret-do-not-use-on-aws',
} as const;

/** What a Lambda invocation returns, as the Lambda Invoke API does (RequestResponse). */
export interface InvokeResult {
  /** Always 200 for a function that ran (even if it threw), as Lambda's Invoke API. */
  readonly statusCode: number;
  /** The handler's return value, or for a function error `{ errorType, errorMessage, trace }`. */
  readonly payload: unknown;
  /** `'Unhandled'` when the function threw or timed out (the `X-Amz-Function-Error` header). */
  readonly functionError?: 'Unhandled';
  readonly executedVersion: string;
  readonly requestId: string;
}

/** Invokes a local function by name or ARN. Throws `AwsError('ResourceNotFoundException', …)` if unknown. */
export interface LambdaInvoker {
  invoke(functionNameOrArn: string, payload: unknown): Promise<InvokeResult>;
}

/** Appends log lines to a log group, as CloudWatch Logs keeps them. */
export interface LogSink {
  put(
    logGroupName: string,
    logStreamName: string,
    events: readonly { timestamp: number; message: string }[],
  ): void;
}

/** Delivers an event or message to a target ARN (Lambda, SQS, Step Functions, CloudWatch log group). */
export interface TargetDispatcher {
  deliver(targetArn: string, payload: unknown): Promise<void>;
}
