import { randomUUID } from 'node:crypto';
import { crc32 } from 'node:zlib';
import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  DeleteItemCommand,
  type DynamoDBClient,
  DynamoDBServiceException,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  TransactGetItemsCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { dynamoDbAccess } from '../dynamodb/access.ts';
import type { AccessRequest } from '../iam/access.ts';
import { AccessDeniedError } from '../iam/authority.ts';
import type { InvokeResult, LambdaInvoker } from '../types.ts';
import { AwsError } from '../wire/aws-error.ts';

/** The DynamoDB actions of the optimized integration the local cloud runs. */
export type DynamoDbAction = 'getItem' | 'putItem' | 'updateItem' | 'deleteItem';

/** The DynamoDB actions of the AWS SDK integration (`arn:aws:states:::aws-sdk:dynamodb:<action>`) the local cloud runs. */
export type AwsSdkDynamoDbAction =
  | DynamoDbAction
  | 'transactWriteItems'
  | 'transactGetItems'
  | 'query'
  | 'scan'
  | 'batchGetItem'
  | 'batchWriteItem';

/** What a Task state's `Resource` resolves to locally. */
export type TaskResource =
  /** `arn:aws:states:::lambda:invoke`: Task* events, output wrapped like the real integration. */
  | { readonly kind: 'lambda-invoke'; readonly resourceType: 'lambda'; readonly resource: 'invoke' }
  /** A plain Lambda function ARN (the legacy style): LambdaFunction* events, output is the payload. */
  | { readonly kind: 'lambda-function'; readonly functionArn: string }
  /** `arn:aws:states:::dynamodb:<action>`. */
  | { readonly kind: 'dynamodb'; readonly resourceType: 'dynamodb'; readonly resource: DynamoDbAction }
  /** `arn:aws:states:::aws-sdk:dynamodb:<action>`: the raw API response, errors named `DynamoDb.<Exception>`. */
  | {
      readonly kind: 'aws-sdk-dynamodb';
      readonly resourceType: 'aws-sdk:dynamodb';
      readonly resource: AwsSdkDynamoDbAction;
    }
  /** Anything else: the execution fails with `States.Runtime` when it reaches the state. */
  | { readonly kind: 'unsupported'; readonly reason: string };

const DYNAMODB_ACTIONS: readonly string[] = ['getItem', 'putItem', 'updateItem', 'deleteItem'];
const AWS_SDK_DYNAMODB_ACTIONS: readonly string[] = [
  ...DYNAMODB_ACTIONS,
  'transactWriteItems',
  'transactGetItems',
  'query',
  'scan',
  'batchGetItem',
  'batchWriteItem',
];
const SUPPORTED =
  'arn:aws:states:::lambda:invoke, a Lambda function ARN, ' +
  `arn:aws:states:::dynamodb:${DYNAMODB_ACTIONS.join('|')}, ` +
  `arn:aws:states:::aws-sdk:dynamodb:${AWS_SDK_DYNAMODB_ACTIONS.join('|')} (no .sync or .waitForTaskToken)`;

/** Resolves a Task `Resource` string. */
export function parseTaskResource(resource: string): TaskResource {
  if (/^arn:aws[\w-]*:lambda:[^:]+:\d{12}:function:[^:]+(:[^:]+)?$/.test(resource)) {
    return { kind: 'lambda-function', functionArn: resource };
  }
  const sdk = /^arn:aws[\w-]*:states:[^:]*:[^:]*:aws-sdk:(\w+):(\w+)(\.\w+)?$/.exec(resource);
  if (
    sdk?.[1] === 'dynamodb' &&
    sdk[2] !== undefined &&
    AWS_SDK_DYNAMODB_ACTIONS.includes(sdk[2]) &&
    sdk[3] === undefined
  ) {
    return {
      kind: 'aws-sdk-dynamodb',
      resourceType: 'aws-sdk:dynamodb',
      resource: sdk[2] as AwsSdkDynamoDbAction,
    };
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

/**
 * IAM for a task's calls: they are made as the state machine's role, and checked before they are sent (a denied
 * call never reaches the service). Absent: no checks.
 */
export interface TaskAccess {
  readonly region: string;
  readonly accountId: string;
  /** Returns if IAM allows every request; throws an `AccessDeniedError` (iam/authority.ts) otherwise. */
  authorize(requests: readonly AccessRequest[]): void;
}

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
  access?: TaskAccess,
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
  const qualifier = typeof params.Qualifier === 'string' ? params.Qualifier : undefined;
  const denied = lambdaDenial(access, functionName, qualifier);
  if (denied !== undefined) return denied;
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
  access?: TaskAccess,
): Promise<TaskOutcome> {
  const denied = lambdaDenial(access, functionArn, undefined);
  if (denied !== undefined) return denied;
  const called = await callLambda(lambda, functionArn, input);
  if (!called.ok) return called;
  if (called.result.functionError !== undefined) return functionErrorOutcome(called.result);
  return { ok: true, output: called.result.payload ?? null };
}

/**
 * The outcome of a call IAM refuses `lambda:InvokeFunction` (on the function's ARN, qualified when a qualifier is
 * used): as Lambda answers Step Functions, `Lambda.AWSLambdaException` with a 403 `AccessDeniedException` cause.
 * Undefined when the call may go ahead.
 */
function lambdaDenial(
  access: TaskAccess | undefined,
  functionName: string,
  qualifier: string | undefined,
): TaskOutcome | undefined {
  if (access === undefined) return undefined;
  const resource = qualifiedFunctionArn(functionName, qualifier, access);
  const denied = denial(access, [{ action: 'lambda:InvokeFunction', resource }]);
  if (denied === undefined) return undefined;
  return {
    ok: false,
    error: 'Lambda.AWSLambdaException',
    cause: serviceCause(denied.message, 'AWSLambda', 403, 'AccessDeniedException'),
  };
}

/** A function's ARN from a name, `name:qualifier`, partial ARN (`<acct>:function:<name>`) or ARN, plus a qualifier. */
function qualifiedFunctionArn(
  functionName: string,
  qualifier: string | undefined,
  where: { readonly region: string; readonly accountId: string },
): string {
  const arn = functionName.startsWith('arn:')
    ? functionName
    : /^\d{12}:function:/.test(functionName)
      ? `arn:aws:lambda:${where.region}:${functionName}`
      : `arn:aws:lambda:${where.region}:${where.accountId}:function:${functionName}`;
  // arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]
  return qualifier !== undefined && arn.split(':').length === 7 ? `${arn}:${qualifier}` : arn;
}

/** The denial IAM answers for the requests, or undefined when it allows them (or warns). */
function denial(
  access: TaskAccess | undefined,
  requests: readonly AccessRequest[],
): AccessDeniedError | undefined {
  if (access === undefined || requests.length === 0) return undefined;
  try {
    access.authorize(requests);
    return undefined;
  } catch (error) {
    if (error instanceof AccessDeniedError) return error;
    throw error;
  }
}

/** What IAM checks for a DynamoDB call of a task: each item, as DynamoDB authorizes the API request. */
function dynamoDbDenial(
  access: TaskAccess | undefined,
  action: AwsSdkDynamoDbAction,
  parameters: object,
): AccessDeniedError | undefined {
  if (access === undefined) return undefined;
  const operation = `${action.charAt(0).toUpperCase()}${action.slice(1)}`;
  return denial(access, dynamoDbAccess(operation, parameters as Record<string, unknown>, access));
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
  access?: TaskAccess,
): Promise<TaskOutcome> {
  if (parameters === null || typeof parameters !== 'object' || Array.isArray(parameters)) {
    throw new TaskParametersError(
      `dynamodb:${action} needs Parameters with the API request (TableName, Key…); received ${JSON.stringify(parameters)}.`,
    );
  }
  const denied = dynamoDbDenial(access, action, parameters);
  if (denied !== undefined) {
    // AccessDeniedException is not one the DynamoDB model declares: the SDK's base class.
    return {
      ok: false,
      error: 'DynamoDB.AmazonDynamoDBException',
      cause: serviceCause(denied.message, 'AmazonDynamoDBv2', 400, 'AccessDeniedException'),
    };
  }
  try {
    const response = await sendDynamoDb(client, action, parameters);
    const { $metadata, ...rest } = response;
    const body = wireShape(rest) as Record<string, unknown>;
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

/**
 * Runs `arn:aws:states:::aws-sdk:dynamodb:<action>` with the state's effective Parameters (the API request in
 * PascalCase, as written in ASL). As the AWS SDK integration does: the output is the API response alone (no
 * SdkHttpMetadata), errors are named `DynamoDb.<Exception>` (`DynamoDb.DynamoDbException` for one the DynamoDB
 * model does not declare) with the Java SDK's cause text `<message> (Service: DynamoDb, Status Code: …, Request ID: …)`.
 */
export async function runAwsSdkDynamoDb(
  client: DynamoDBClient,
  action: AwsSdkDynamoDbAction,
  parameters: unknown,
  access?: TaskAccess,
): Promise<TaskOutcome> {
  if (parameters === null || typeof parameters !== 'object' || Array.isArray(parameters)) {
    throw new TaskParametersError(
      `aws-sdk:dynamodb:${action} needs Parameters with the API request (TableName, Key, TransactItems…); received ${JSON.stringify(parameters)}.`,
    );
  }
  const denied = dynamoDbDenial(access, action, parameters);
  if (denied !== undefined) {
    return {
      ok: false,
      error: 'DynamoDb.DynamoDbException',
      cause: `${denied.message} (Service: DynamoDb, Status Code: 400, Request ID: ${randomUUID()})`,
    };
  }
  try {
    const { $metadata: _metadata, ...response } = await sendDynamoDb(client, action, parameters);
    return { ok: true, output: wireShape(response) };
  } catch (error) {
    const sdkError = error as {
      name?: string;
      message?: string;
      $metadata?: { httpStatusCode?: number; requestId?: string };
    };
    const status = sdkError.$metadata?.httpStatusCode;
    if (!(error instanceof DynamoDBServiceException) || status === undefined) {
      return { ok: false, error: 'DynamoDb.SdkClientException', cause: sdkError.message ?? String(error) };
    }
    // The SDK builds a subclass for the exceptions the DynamoDB model declares and the base class for the
    // rest (ValidationException…), as the Java SDK Step Functions uses does (its class names end in Exception).
    const modeled = error.constructor !== DynamoDBServiceException;
    const name = modeled ? error.name.replace(/(?<!Exception)$/, 'Exception') : 'DynamoDbException';
    return {
      ok: false,
      error: `DynamoDb.${name}`,
      cause: `${error.message} (Service: DynamoDb, Status Code: ${status}, Request ID: ${error.$metadata.requestId ?? randomUUID()})`,
    };
  }
}

/** Sends one DynamoDB API request given as its wire JSON (binary attribute values as base64 strings). */
async function sendDynamoDb(
  client: DynamoDBClient,
  action: AwsSdkDynamoDbAction,
  parameters: object,
): Promise<{ readonly $metadata: { readonly requestId?: string } }> {
  // biome-ignore lint/suspicious/noExplicitAny: the Parameters are the API request as the caller wrote it; DynamoDB validates it.
  const input = sdkShape(parameters) as any;
  switch (action) {
    case 'getItem':
      return client.send(new GetItemCommand(input));
    case 'putItem':
      return client.send(new PutItemCommand(input));
    case 'updateItem':
      return client.send(new UpdateItemCommand(input));
    case 'deleteItem':
      return client.send(new DeleteItemCommand(input));
    case 'transactWriteItems':
      return client.send(new TransactWriteItemsCommand(input));
    case 'transactGetItems':
      return client.send(new TransactGetItemsCommand(input));
    case 'query':
      return client.send(new QueryCommand(input));
    case 'scan':
      return client.send(new ScanCommand(input));
    case 'batchGetItem':
      return client.send(new BatchGetItemCommand(input));
    case 'batchWriteItem':
      return client.send(new BatchWriteItemCommand(input));
  }
}

/**
 * The request as the SDK takes it: ASL carries binary attribute values (`{"B": "<base64>"}`, `{"BS": [...]}`)
 * as base64 text, the SDK wants bytes (it would otherwise encode the text a second time).
 */
function sdkShape(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sdkShape);
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value);
  const [only] = entries;
  if (entries.length === 1 && only !== undefined) {
    const [key, inner] = only;
    if (key === 'B' && typeof inner === 'string') return { B: Buffer.from(inner, 'base64') };
    if (key === 'BS' && Array.isArray(inner) && inner.every((v) => typeof v === 'string')) {
      return { BS: inner.map((v: string) => Buffer.from(v, 'base64')) };
    }
  }
  return Object.fromEntries(entries.map(([key, inner]) => [key, sdkShape(inner)]));
}

/** The response as it travels on the wire: bytes back to base64 text, absent fields left out. */
function wireShape(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (Array.isArray(value)) return value.map(wireShape);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) if (inner !== undefined) out[key] = wireShape(inner);
  return out;
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
