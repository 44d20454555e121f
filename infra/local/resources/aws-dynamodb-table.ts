/** AWS::DynamoDB::Table → a table in DynamoDB Local (kept, data and all, when it exists). */
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceNotFoundException,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { TemplateResolutionError } from '../cloudformation/model.ts';
import type { ResourceProvider } from './provider.ts';

export const dynamodbTable: ResourceProvider = {
  type: 'AWS::DynamoDB::Table',
  name: { property: 'TableName', limit: 255 },
  attributes: {
    Arn: (c) => `arn:aws:dynamodb:${c.region}:${c.accountId}:table/${c.physicalName()}`,
    StreamArn: (c) => {
      throw new TemplateResolutionError(
        `${c.logicalId}.StreamArn is only known once the table exists in DynamoDB Local ` +
          '(is StreamSpecification set, and does the reference come after the table?).',
      );
    },
  },
  async deploy(ctx) {
    await ctx.parts.dynamodbReady;
    const name = ctx.stack.physicalName(ctx.logicalId);
    const { created, streamArn } = await ensureTable(ctx.parts.dynamodb, name, ctx.properties());
    if (streamArn) ctx.stack.setAttribute(ctx.logicalId, 'StreamArn', streamArn);
    return { status: created ? 'created' : 'existing', physicalId: name };
  },
};

/** Creates the table unless it exists (then it is kept, data and all); returns its stream ARN. */
async function ensureTable(
  client: DynamoDBClient,
  name: string,
  p: Record<string, unknown>,
): Promise<{ created: boolean; streamArn?: string }> {
  const existing = await describeTable(client, name);
  if (existing) {
    await ensureTimeToLive(client, name, p);
    return { created: false, streamArn: existing.LatestStreamArn };
  }
  const billing = String(p.BillingMode ?? 'PROVISIONED');
  const throughput = (value: unknown): CreateTableCommandInput['ProvisionedThroughput'] =>
    billing === 'PAY_PER_REQUEST'
      ? undefined
      : ((value as CreateTableCommandInput['ProvisionedThroughput']) ?? {
          ReadCapacityUnits: 5,
          WriteCapacityUnits: 5,
        });
  const stream = p.StreamSpecification as { StreamViewType?: string } | undefined;
  const input = {
    TableName: name,
    AttributeDefinitions: p.AttributeDefinitions,
    KeySchema: p.KeySchema,
    BillingMode: billing,
    ProvisionedThroughput: throughput(p.ProvisionedThroughput),
    GlobalSecondaryIndexes: (p.GlobalSecondaryIndexes as Record<string, unknown>[] | undefined)?.map(
      (index) => ({
        IndexName: index.IndexName,
        KeySchema: index.KeySchema,
        Projection: index.Projection,
        ProvisionedThroughput: throughput(index.ProvisionedThroughput),
      }),
    ),
    LocalSecondaryIndexes: (p.LocalSecondaryIndexes as Record<string, unknown>[] | undefined)?.map(
      (index) => ({
        IndexName: index.IndexName,
        KeySchema: index.KeySchema,
        Projection: index.Projection,
      }),
    ),
    StreamSpecification: stream?.StreamViewType
      ? { StreamEnabled: true, StreamViewType: stream.StreamViewType }
      : undefined,
  } as CreateTableCommandInput;
  try {
    const out = await client.send(new CreateTableCommand(input));
    await ensureTimeToLive(client, name, p);
    return { created: true, streamArn: out.TableDescription?.LatestStreamArn };
  } catch (error) {
    // Another start raced us to it: keep theirs.
    if (error instanceof Error && error.name === 'ResourceInUseException') {
      const table = await describeTable(client, name);
      return { created: false, streamArn: table?.LatestStreamArn };
    }
    throw error;
  }
}

async function describeTable(client: DynamoDBClient, name: string) {
  try {
    return (await client.send(new DescribeTableCommand({ TableName: name }))).Table;
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return undefined;
    throw error;
  }
}

async function ensureTimeToLive(
  client: DynamoDBClient,
  name: string,
  p: Record<string, unknown>,
): Promise<void> {
  const ttl = p.TimeToLiveSpecification as { AttributeName?: string; Enabled?: boolean } | undefined;
  if (!ttl?.AttributeName || ttl.Enabled === false) return;
  try {
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: name,
        TimeToLiveSpecification: { AttributeName: ttl.AttributeName, Enabled: true },
      }),
    );
  } catch (error) {
    // Already enabled on an existing table.
    if (!(error instanceof Error && /already enabled/i.test(error.message))) throw error;
  }
}
