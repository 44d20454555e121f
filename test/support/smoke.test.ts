import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { expect, test } from 'vitest';
import { createTestTable, testDynamoDbClient } from './dynamodb.ts';

test('the suite DynamoDB Local answers and creates tables', async () => {
  const client = testDynamoDbClient();
  const name = await createTestTable(client, 'smoke');
  const { TableNames } = await client.send(new ListTablesCommand({}));
  expect(TableNames).toContain(name);
});
