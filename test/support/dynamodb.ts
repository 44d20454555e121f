import { randomUUID } from 'node:crypto';
import {
  type AttributeDefinition,
  CreateTableCommand,
  DynamoDBClient,
  type KeySchemaElement,
  type StreamSpecification,
} from '@aws-sdk/client-dynamodb';
import { inject } from 'vitest';

/** The test credentials and region; DynamoDB Local runs with -sharedDb so they only need to be well-formed. */
export const TEST_AWS = {
  region: 'us-east-1',
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
};

/** A DynamoDB client for the suite's DynamoDB Local. */
export function testDynamoDbClient(): DynamoDBClient {
  return new DynamoDBClient({ ...TEST_AWS, endpoint: inject('dynamodbEndpoint') });
}

/** Points the AWS SDK of code under test (which reads env at module scope) at the suite's DynamoDB Local. */
export function useTestAwsEnv(): void {
  process.env.AWS_ENDPOINT_URL = inject('dynamodbEndpoint');
  process.env.AWS_REGION = TEST_AWS.region;
  process.env.AWS_ACCESS_KEY_ID = TEST_AWS.credentials.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = TEST_AWS.credentials.secretAccessKey;
}

/** Creates a table with a unique name (`<prefix>-<uuid>`); `pk`/`sk` string keys unless told otherwise. */
export async function createTestTable(
  client: DynamoDBClient,
  prefix: string,
  options: {
    keys?: { name: string; type: 'HASH' | 'RANGE' }[];
    stream?: StreamSpecification;
  } = {},
): Promise<string> {
  const keys = options.keys ?? [
    { name: 'pk', type: 'HASH' },
    { name: 'sk', type: 'RANGE' },
  ];
  const TableName = `${prefix}-${randomUUID().slice(0, 8)}`;
  const KeySchema: KeySchemaElement[] = keys.map((k) => ({ AttributeName: k.name, KeyType: k.type }));
  const AttributeDefinitions: AttributeDefinition[] = keys.map((k) => ({
    AttributeName: k.name,
    AttributeType: 'S',
  }));
  await client.send(
    new CreateTableCommand({
      TableName,
      KeySchema,
      AttributeDefinitions,
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: options.stream,
    }),
  );
  return TableName;
}
