/** What IAM checks for a Step Functions request arriving at the edge: `states:<Operation>` on the ARN it names. */
import type { AccessRequest } from '../iam/access.ts';

/** The access a `AWSStepFunctions.<operation>` request asks for. */
export function stepFunctionsAccess(operation: string, input: Record<string, unknown>): AccessRequest[] {
  const arn = input.executionArn ?? input.stateMachineArn ?? input.mapRunArn ?? input.activityArn;
  return [{ action: `states:${operation}`, resource: typeof arn === 'string' ? arn : '*' }];
}
