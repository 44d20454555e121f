/**
 * The AWS JSON protocols (awsJson1_0 / awsJson1_1) at the edge: `X-Amz-Target: <prefix>.<Operation>` picks the
 * service, the body is the operation's input, the answer is its output as JSON or an error
 * `{"__type", "message"}` (SQS's in query-compatible form, with `x-amzn-query-error`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sqsJsonError } from '../sqs/query-protocol.ts';
import { AwsError, type ErrorAnswer, errorAnswerOf, type JsonService } from '../wire/aws-error.ts';
import { headerOf, RequestTooLargeError, readRequestBody, sendJson } from '../wire/http.ts';
import { DYNAMODB_TARGETS } from './dynamodb-proxy.ts';

/** The services spoken over a JSON protocol. */
export type JsonServiceName = 'stepfunctions' | 'logs' | 'events' | 'sqs';

/** `X-Amz-Target` prefix → service, and the JSON protocol version its SDK speaks. */
const JSON_TARGETS: Readonly<Record<string, { service: JsonServiceName; contentType: string }>> = {
  AWSStepFunctions: { service: 'stepfunctions', contentType: 'application/x-amz-json-1.0' },
  Logs_20140328: { service: 'logs', contentType: 'application/x-amz-json-1.1' },
  AWSEvents: { service: 'events', contentType: 'application/x-amz-json-1.1' },
  AmazonSQS: { service: 'sqs', contentType: 'application/x-amz-json-1.0' },
};

/** What {@link handleJsonProtocol} needs besides the request. */
export interface JsonProtocolContext {
  readonly services: Readonly<Record<JsonServiceName, JsonService>>;
  /** `X-Amz-Target` before the dot, e.g. `AWSStepFunctions`. */
  readonly prefix: string;
  /** `X-Amz-Target` after the dot, e.g. `StartExecution`. */
  readonly operation: string;
  readonly requestId: string;
  readonly maxBodyBytes: number;
  readonly log: (line: string) => void;
  /** Authorizes the operation for the request's principal (throws AccessDeniedException); absent: IAM is off. */
  readonly authorize?: (service: JsonServiceName, input: Record<string, unknown>) => void;
}

/** JSON.stringify replacer: a `Date` goes on the wire as AWS JSON protocols send timestamps, epoch seconds. */
function awsJsonDates(this: unknown, key: string, value: unknown): unknown {
  const raw = (this as Record<string, unknown>)[key];
  return raw instanceof Date ? raw.getTime() / 1000 : value;
}

/** Reads the operation's input, runs it on the service the target names and answers. */
export async function handleJsonProtocol(
  req: IncomingMessage,
  res: ServerResponse,
  context: JsonProtocolContext,
): Promise<void> {
  const { prefix, operation, requestId } = context;
  const target = JSON_TARGETS[prefix];
  const requested = headerOf(req, 'content-type');
  const contentType = requested?.startsWith('application/x-amz-json-1.')
    ? (requested.split(';')[0]?.trim() ?? '')
    : (target?.contentType ?? 'application/x-amz-json-1.0');
  const fail = (answer: ErrorAnswer): void => {
    // SQS speaks awsJson1_0 in query-compatible mode: clients also read the legacy code from a header.
    const { type, headers } =
      target?.service === 'sqs' ? sqsJsonError(answer) : { type: answer.type, headers: {} };
    sendJson(
      res,
      answer.statusCode,
      { __type: type, message: answer.message },
      contentType,
      requestId,
      headers,
    );
  };
  if (!target) {
    req.resume();
    fail({
      statusCode: 400,
      type: 'UnknownOperationException',
      message: `The local cloud does not serve X-Amz-Target '${prefix}.${operation}'. It serves ${[...Object.keys(JSON_TARGETS), ...DYNAMODB_TARGETS].join(', ')}.`,
    });
    return;
  }
  let input: Record<string, unknown>;
  try {
    const body = await readRequestBody(req, context.maxBodyBytes);
    const text = body.toString('utf8').trim();
    const parsed: unknown = text === '' ? {} : JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new Error(
        `expected a JSON object, received ${Array.isArray(parsed) ? 'an array' : typeof parsed}`,
      );
    }
    input = parsed as Record<string, unknown>;
  } catch (error) {
    if (error instanceof RequestTooLargeError) {
      fail({ statusCode: 413, type: 'RequestEntityTooLarge', message: error.message });
      return;
    }
    fail({
      statusCode: 400,
      type: 'SerializationException',
      message: `Could not parse the request body as JSON: ${error instanceof Error ? error.message : String(error)}`,
    });
    return;
  }
  try {
    context.authorize?.(target.service, input);
    const output = await context.services[target.service].handle(operation, input);
    const text = JSON.stringify(output ?? {}, awsJsonDates);
    res.writeHead(200, {
      'content-type': contentType,
      'content-length': String(Buffer.byteLength(text)),
      'x-amzn-RequestId': requestId,
    });
    res.end(text);
  } catch (error) {
    if (!(error instanceof AwsError)) {
      context.log(
        `edge: ${prefix}.${operation} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      );
    }
    fail(errorAnswerOf(error));
  }
}
