/**
 * What a request arriving at the edge asks IAM for, by service: each service's own `access.ts` knows its
 * operations' actions and resources. Adding a service to the edge adds its line here.
 */
import { dynamoDbAccess } from '../dynamodb/access.ts';
import { eventsAccess } from '../events/access.ts';
import type { AccessRequest } from '../iam/access.ts';
import { invokeAccess } from '../lambda/access.ts';
import { logsAccess } from '../logs/access.ts';
import { sqsAccess } from '../sqs/access.ts';
import { stepFunctionsAccess } from '../stepfunctions/access.ts';

/** Where the request is served: its region and account (resources are named in ARNs of these). */
export interface Where {
  readonly region: string;
  readonly accountId: string;
}

/** The access a request of `service` (`stepfunctions`, `logs`, `events`, `sqs`, `lambda`, `dynamodb`) asks for. */
export function accessOf(
  service: string,
  operation: string,
  input: Record<string, unknown>,
  where: Where,
): AccessRequest[] {
  switch (service) {
    case 'stepfunctions':
      return stepFunctionsAccess(operation, input);
    case 'logs':
      return logsAccess(operation, input, where);
    case 'events':
      return eventsAccess(operation, input, where);
    case 'sqs':
      return sqsAccess(operation, input, where);
    case 'lambda':
      return invokeAccess(String(input.FunctionName), where);
    case 'dynamodb':
      return dynamoDbAccess(operation, input, where);
    default:
      return [{ action: `${service}:${operation}`, resource: '*' }];
  }
}
