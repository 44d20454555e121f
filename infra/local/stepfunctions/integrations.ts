import { randomUUID } from 'node:crypto';
import { crc32 } from 'node:zlib';
import {
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { AwsError } from '../aws-error.ts';
import type { InvokeResult, LambdaInvoker } from '../types.ts';

/** The DynamoDB actions of the optimized integration the local cloud runs. */
export type DynamoDbAction = 'getItem' | 'putItem' | 'updateItem' | 'deleteItem';

/** What a Task state's `Resource` resolves to locally. */
export type TaskResource =
  /** `arn:aws:states:::lambda:invoke`: Task* events, output wrapped like the real integration. */
  | { readonly kind: 'lambda-invoke'; readonly resourceType: 'lambda'; readonly resource: 'invoke' }
  /** A plain Lambda function ARN (the legacy style): LambdaFunction* events, output is the payload. */
  | { readonly kind: 'lambda-function'; readonly functionArn: string }
  /** `arn:aws:states:::dynamodb:<action>`. */
  | { readonly kind: 'dynamodb'; readonly resourceType: 'dynamodb'; readonly resource: DynamoDbAction }
  /** Anything else: the execution fails with `States.Runtime` when it reaches the state. */
  | { readonly kind: 'unsupported'; readonly reason: string };

const DYNAMODB_ACTIONS: readonly string[] = ['getItem', 'putItem', 'updateItem', 'deleteItem'];
const SUPPORTED =
  'arn:aws:states:::lambda:invoke, a Lambda function ARN, arn:aws:states:::dynamodb:getItem|putItem|updateItem|deleteItem';

/** Resolves a Task `Resource` string. */
export function parseTaskResource(resource: string): TaskResource {
  if (/^arn:aws[\w-]*:lambda:[^:]+:\d{12}:function:[^:]+(:[^:]+)?$/.test(resource)) {
    return { kind: 'lambda-function', functionArn: resource };
  }
  const match = /^arn:aws[\w-]*:states:[^:]*:[^:]*:([\w-]+):(\w+)(\.\w+)?$/.exec(resource);
  const service = match?.[1];
  const action = match?.[2];
  const pattern = match?.[3];
  if (service === 'lambda' && action === 'invoke' && pattern === undefined) {
    return { kind: 'lambda-invoke', resourceType: 'lambda', resource: 'invoke' };
  }
  if (
    service === 'dynamodb' &&
    action !== undefined &&
    DYNAMODB_ACTIONS.includes(action) &&
    pattern === undefined
  ) {
    return { kind: 'dynamodb', resourceType: 'dynamodb', resource: action as DynamoDbAction };
  }
  return {
    kind: 'unsupported',
    reason: `The local cloud cannot run the Task resource '${resource}'. Supported resources: ${SUPPORTED}.`,
  };
}

/** The outcome of one task attempt: its output, or the error and cause AWS would record. */
export type TaskOutcome =
  | { readonly ok: true; readonly output: unknown }
  | { readonly ok: false; readonly error: string; readonly cause: string };

/** Failures of a task's own parameters that AWS reports as `States.Runtime` (not retryable, not catchable). */
export class TaskParametersError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TaskParametersError';
  }
}

/**
 * Runs `arn:aws:states:::lambda:invoke` with the state's effective Parameters (`FunctionName`, `Payload`,
 * optional `InvocationType`, `Qualifier`). A function error becomes the task error `errorType` with the
 * error payload's JSON as cause, as AWS reports it.
 */
export async function invokeLambdaIntegration(
  lambda: LambdaInvoker,
  parameters: unknown,
): Promise<TaskOutcome> {
  if (parameters === null || typeof parameters !== 'object' || Array.isArray(parameters)) {
    throw new TaskParametersError(
      `lambda:invoke needs Parameters with FunctionName and Payload; received ${JSON.stringify(parameters)}.`,
    );
  }
  const params = parameters as Record<string, unknown>;
  const functionName = params.FunctionName;
  if (typeof functionName !== 'string' || functionName === '') {
    throw new TaskParametersError(
      `lambda:invoke needs a FunctionName string in Parameters; received ${JSON.stringify(functionName)}.`,
    );
  }
  const target =
    typeof params.Qualifier === 'string' && !functionName.startsWith('arn:')
      ? `${functionName}:${params.Qualifier}`
      : functionName;
  const payload = params.Payload ?? {};
  if (params.InvocationType === 'Event') {
    // Asynchronous invocation: Lambda accepts it (202) and the state does not wait for the function.
    void lambda.invoke(target, payload).catch(() => undefined);
    return {
      ok: true,
      output: { Payload: '', SdkHttpMetadata: httpMetadata(202, '', 'application/json'), StatusCode: 202 },
    };
  }
  const called = await callLambda(lambda, target, payload);
  if (!called.ok) return called;
  const result = called.result;
  if (result.functionError !== undefined) return functionErrorOutcome(result);
  const body = JSON.stringify(result.payload ?? null);
  const metadata = httpMetadata(200, body, 'application/json', {
    'X-Amz-Executed-Version': result.executedVersion,
    'x-amzn-Remapped-Content-Length': '0',
    'x-amzn-RequestId': result.requestId,
    'X-Amzn-Trace-Id': `root=1-${Math.floor(Date.now() / 1000).toString(16)}-${randomUUID().replaceAll('-', '').slice(0, 24)};sampled=0`,
  });
  return {
    ok: true,
    output: {
      ExecutedVersion: result.executedVersion,
      Payload: result.payload ?? null,
      SdkHttpMetadata: metadata,
      SdkResponseMetadata: { RequestId: result.requestId },
      StatusCode: result.statusCode,
    },
  };
}

/** Runs a Task whose Resource is a plain Lambda function ARN: the output is the function's return value. */
export async function invokeLambdaFunction(
  lambda: LambdaInvoker,
  functionArn: string,
  input: unknown,
): Promise<TaskOutcome> {
  const called = await callLambda(lambda, functionArn, input);
  if (!called.ok) return called;
  if (called.result.functionError !== undefined) return functionErrorOutcome(called.result);
  return { ok: true, output: called.result.payload ?? null };
}

async function callLambda(
  lambda: LambdaInvoker,
  target: string,
  payload: unknown,
): Promise<{ ok: true; result: InvokeResult } | { ok: false; error: string; cause: string }> {
  try {
    return { ok: true, result: await lambda.invoke(target, payload) };
  } catch (error) {
    // The Lambda service refused the call (unknown function, throttled…): AWS names it Lambda.<ErrorCode>.
    const type = error instanceof AwsError ? error.type : 'ServiceException';
    const status = error instanceof AwsError ? error.statusCode : 500;
    const message = error instanceof Error ? error.message : String(error);
    return { ok: false, error: `Lambda.${type}`, cause: serviceCause(message, 'AWSLambda', status, type) };
  }
}

function functionErrorOutcome(result: InvokeResult): TaskOutcome {
  const payload = result.payload;
  const errorType =
    payload !== null &&
    typeof payload === 'object' &&
    typeof (payload as Record<string, unknown>).errorType === 'string'
      ? ((payload as Record<string, unknown>).errorType as string)
      : 'Lambda.Unknown';
  return {
    ok: false,
    error: errorType,
    cause: typeof payload === 'string' ? payload : JSON.stringify(payload ?? null),
  };
}

// The exceptions the DynamoDB model declares keep their own name; anything else (ValidationException…)
// reaches Step Functions as the SDK's base class, DynamoDB.AmazonDynamoDBException.
const MODELED_DYNAMODB_ERRORS = new Set([
  'ConditionalCheckFailedException',
  'InternalServerErrorException',
  'ItemCollectionSizeLimitExceededException',
  'LimitExceededException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'ResourceInUseException',
  'ResourceNotFoundException',
  'ThrottlingException',
  'TransactionCanceledException',
  'TransactionConflictException',
  'TransactionInProgressException',
  'ReplicatedWriteConflictException',
]);

/**
 * Runs `arn:aws:states:::dynamodb:<action>` with the state's effective Parameters (the API request:
 * TableName, Key/Item, expressions…). Output: the API response plus `SdkHttpMetadata` and
 * `SdkResponseMetadata`; errors named `DynamoDB.<Exception>` with AWS's cause text.
 */
export async function runDynamoDbIntegration(
  client: DynamoDBClient,
  action: DynamoDbAction,
  parameters: unknown,
): Promise<TaskOutcome> {
  if (parameters === null || typeof parameters !== 'object' || Array.isArray(parameters)) {
    throw new TaskParametersError(
      `dynamodb:${action} needs Parameters with the API request (TableName, Key…); received ${JSON.stringify(parameters)}.`,
    );
  }
  // biome-ignore lint/suspicious/noExplicitAny: the Parameters are the API request as the caller wrote it; DynamoDB validates it.
  const input = parameters as any;
  try {
    const response =
      action === 'getItem'
        ? await client.send(new GetItemCommand(input))
        : action === 'putItem'
          ? await client.send(new PutItemCommand(input))
          : action === 'updateItem'
            ? await client.send(new UpdateItemCommand(input))
            : await client.send(new DeleteItemCommand(input));
    const { $metadata, ...rest } = response;
    const body: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(rest)) if (value !== undefined) body[key] = value;
    const requestId = $metadata.requestId ?? randomUUID();
    const text = JSON.stringify(body);
    return {
      ok: true,
      output: {
        ...body,
        SdkHttpMetadata: httpMetadata(200, text, 'application/x-amz-json-1.0', {
          Server: 'Server',
          'x-amz-crc32': String(crc32(text)),
          'x-amzn-RequestId': requestId,
        }),
        SdkResponseMetadata: { RequestId: requestId },
      },
    };
  } catch (error) {
    const sdkError = error as {
      name?: string;
      message?: string;
      $metadata?: { httpStatusCode?: number; requestId?: string };
    };
    const code = sdkError.name ?? 'UnknownError';
    const status = sdkError.$metadata?.httpStatusCode;
    if (status === undefined) {
      return { ok: false, error: 'DynamoDB.SdkClientException', cause: sdkError.message ?? String(error) };
    }
    const name = MODELED_DYNAMODB_ERRORS.has(code) ? code : 'AmazonDynamoDBException';
    return {
      ok: false,
      error: `DynamoDB.${name}`,
      cause: serviceCause(
        sdkError.message ?? code,
        'AmazonDynamoDBv2',
        status,
        code,
        sdkError.$metadata?.requestId,
      ),
    };
  }
}

/** The cause text AWS writes for a service error: `<message> (Service: …; Status Code: …; Error Code: …; …)`. */
function serviceCause(
  message: string,
  service: string,
  status: number,
  code: string,
  requestId?: string,
): string {
  return `${message} (Service: ${service}; Status Code: ${status}; Error Code: ${code}; Request ID: ${requestId ?? randomUUID()}; Proxy: null)`;
}

function httpMetadata(
  status: number,
  body: string,
  contentType: string,
  extra: Record<string, string> = {},
): Record<string, unknown> {
  const headers: Record<string, string> = {
    Connection: 'keep-alive',
    'Content-Length': String(Buffer.byteLength(body)),
    'Content-Type': contentType,
    Date: new Date().toUTCString(),
    ...extra,
  };
  const all: Record<string, string[]> = {};
  for (const [key, value] of Object.entries(headers)) all[key] = [value];
  return { AllHttpHeaders: all, HttpHeaders: headers, HttpStatusCode: status };
}
