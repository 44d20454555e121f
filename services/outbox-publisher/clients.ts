/**
 * The outbox publisher's EventBridge and Step Functions clients, created once per execution environment. They
 * live here rather than in services/shared/clients.ts so the other functions do not load them at cold start.
 */
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SFNClient } from '@aws-sdk/client-sfn';

/** EventBridge (PutEvents). */
export const eventBridgeClient = new EventBridgeClient({});

/** Step Functions (StartExecution, DescribeExecution). */
export const sfnClient = new SFNClient({});
