/**
 * An error the local cloud answers in the AWS JSON wire shape: `{"__type": type, "message": message}`
 * with the HTTP status AWS uses (400 for client faults, 500 for service faults).
 */
export class AwsError extends Error {
  readonly type: string;
  readonly statusCode: number;

  constructor(type: string, message: string, statusCode = 400, options?: ErrorOptions) {
    super(message, options);
    this.name = 'AwsError';
    this.type = type;
    this.statusCode = statusCode;
  }
}

/**
 * A service of the local cloud spoken over an AWS JSON protocol (`X-Amz-Target: <prefix>.<Operation>`).
 * `handle` gets the parsed request body and returns the response body; it throws {@link AwsError}
 * for AWS-style errors. An unknown operation throws `AwsError('UnknownOperationException', …)`.
 */
export interface JsonService {
  handle(operation: string, input: Record<string, unknown>): Promise<unknown>;
}

/** What an error becomes on the wire: the HTTP status, the error name, the message. */
export interface ErrorAnswer {
  readonly statusCode: number;
  readonly type: string;
  readonly message: string;
}

/**
 * The wire answer for an error a service threw: an {@link AwsError} as it says (a Smithy-namespaced type such as
 * `com.amazonaws.sqs#QueueDoesNotExist` loses its namespace), anything else `500 InternalFailure`.
 */
export function errorAnswerOf(error: unknown): ErrorAnswer {
  if (error instanceof AwsError) {
    const type = error.type.slice(error.type.lastIndexOf('#') + 1);
    return { statusCode: error.statusCode, type, message: error.message };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { statusCode: 500, type: 'InternalFailure', message };
}
