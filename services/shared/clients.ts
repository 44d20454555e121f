/**
 * DynamoDB clients shared by every function, created once per execution environment (module scope) so
 * connections are reused across invocations. Each client comes from its own `@aws-sdk/client-*` package; the
 * EventBridge and Step Functions clients live with the outbox publisher, the only function that needs them,
 * so the other functions do not pay for loading them at cold start.
 *
 * Region, credentials and endpoint come from the environment (`AWS_REGION`, the role, `AWS_ENDPOINT_URL` on
 * the local cloud).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** The low-level client (Powertools' persistence layer wants this one). */
export const dynamoDbClient = new DynamoDBClient({});

/** The document client over {@link dynamoDbClient}: plain JavaScript values in and out. */
export const documentClient = DynamoDBDocumentClient.from(dynamoDbClient, {
  marshallOptions: { removeUndefinedValues: true },
});
