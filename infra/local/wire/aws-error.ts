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
