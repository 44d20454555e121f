/**
 * Lambda's REST `Invoke` at the edge (`POST /2015-03-31/functions/{name}/invocations`, restJson1):
 * `RequestResponse`, `Event` (accepted, run in the background) and `DryRun`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LambdaInvoker } from '../types.ts';
import { AwsError, errorAnswerOf } from '../wire/aws-error.ts';
import { headerOf, RequestTooLargeError, readRequestBody, sendJson } from '../wire/http.ts';

/** The Invoke path; the first group is the function name (URL-encoded, maybe with `:qualifier`). */
export const LAMBDA_INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations\/?$/;

/** What {@link handleLambdaInvoke} needs besides the request. */
export interface LambdaInvokeContext {
  readonly lambda: LambdaInvoker;
  readonly requestId: string;
  readonly maxBodyBytes: number;
  readonly log: (line: string) => void;
  /** Authorizes `lambda:InvokeFunction` on the function for the request's principal; absent: IAM is off. */
  readonly authorize?: (functionName: string) => void;
}

/** Answers one Invoke of the function `rawName` (as it appears in the path). */
export async function handleLambdaInvoke(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  rawName: string,
  context: LambdaInvokeContext,
): Promise<void> {
  const { lambda, requestId, log } = context;
  const fail = (statusCode: number, type: string, message: string): void => {
    // Lambda is restJson1: the error name travels in x-amzn-ErrorType.
    sendJson(
      res,
      statusCode,
      { Type: statusCode >= 500 ? 'Service' : 'User', Message: message, message },
      'application/json',
      requestId,
      { 'x-amzn-ErrorType': type },
    );
  };
  let name = decodeURIComponent(rawName);
  const qualifier = url.searchParams.get('Qualifier');
  name = name.replace(/:\$LATEST$/, '');
  if (qualifier && qualifier !== '$LATEST') name = `${name}:${qualifier}`;
  const invocationType = headerOf(req, 'x-amz-invocation-type') ?? 'RequestResponse';
  let payload: unknown;
  try {
    const body = (await readRequestBody(req, context.maxBodyBytes)).toString('utf8').trim();
    payload = body === '' ? {} : JSON.parse(body);
  } catch (error) {
    if (error instanceof RequestTooLargeError) {
      fail(413, 'RequestTooLargeException', error.message);
      return;
    }
    fail(400, 'InvalidRequestContentException', `Could not parse request body into json: ${String(error)}`);
    return;
  }
  try {
    context.authorize?.(name);
  } catch (error) {
    const answer = errorAnswerOf(error);
    fail(answer.statusCode, answer.type, answer.message);
    return;
  }
  if (invocationType === 'DryRun') {
    res.writeHead(204, { 'x-amzn-RequestId': requestId });
    res.end();
    return;
  }
  if (invocationType === 'Event') {
    // Asynchronous invocation: accepted now, run in the background, failures only logged.
    lambda.invoke(name, payload).catch((error: unknown) => {
      log(`edge: async invoke of ${name} failed: ${error instanceof Error ? error.message : String(error)}`);
    });
    res.writeHead(202, { 'x-amzn-RequestId': requestId, 'content-length': '0' });
    res.end();
    return;
  }
  if (invocationType !== 'RequestResponse') {
    fail(
      400,
      'InvalidParameterValueException',
      `Unsupported X-Amz-Invocation-Type '${invocationType}': use RequestResponse, Event or DryRun.`,
    );
    return;
  }
  try {
    const result = await lambda.invoke(name, payload);
    const text = result.payload === undefined ? 'null' : JSON.stringify(result.payload);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(text)),
      'x-amzn-RequestId': result.requestId || requestId,
      'X-Amz-Executed-Version': result.executedVersion || '$LATEST',
    };
    if (result.functionError) headers['X-Amz-Function-Error'] = result.functionError;
    res.writeHead(result.statusCode || 200, headers);
    res.end(text);
  } catch (error) {
    const answer = errorAnswerOf(error);
    if (!(error instanceof AwsError)) log(`edge: invoke of ${name} failed: ${answer.message}`);
    fail(answer.statusCode, answer.statusCode === 500 ? 'ServiceException' : answer.type, answer.message);
  }
}
