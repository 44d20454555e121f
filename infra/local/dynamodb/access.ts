/**
 * What IAM checks for a DynamoDB or DynamoDB Streams request: the actions and resources of each item, as AWS
 * authorizes them. A transaction is authorized item by item (`Put` → `dynamodb:PutItem` on its table,
 * `ConditionCheck` → `dynamodb:ConditionCheckItem`, …) with `dynamodb:EnclosingOperation` in the context; a
 * batch needs `dynamodb:BatchWriteItem` / `dynamodb:BatchGetItem` on each table it names; an index query is
 * authorized on the index's ARN. (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html,
 * https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazondynamodb.html)
 */
import type { AccessRequest } from '../iam/access.ts';

/** The ARN of a table, or of one of its indexes. */
export function tableArn(region: string, accountId: string, table: string, index?: string): string {
  const arn = `arn:aws:dynamodb:${region}:${accountId}:table/${table}`;
  return index === undefined ? arn : `${arn}/index/${index}`;
}

const TRANSACT_WRITE_ACTIONS: Readonly<Record<string, string>> = {
  Put: 'dynamodb:PutItem',
  Update: 'dynamodb:UpdateItem',
  Delete: 'dynamodb:DeleteItem',
  ConditionCheck: 'dynamodb:ConditionCheckItem',
};

/**
 * The access a DynamoDB (`DynamoDB_20120810.<operation>`) or DynamoDB Streams (`DynamoDBStreams_20120810.<operation>`)
 * request asks for. Malformed input yields what can be read (DynamoDB Local then answers the validation error).
 */
export function dynamoDbAccess(
  operation: string,
  input: Record<string, unknown>,
  where: { readonly region: string; readonly accountId: string },
): AccessRequest[] {
  const table = (name: unknown, index?: unknown): string =>
    tableArn(
      where.region,
      where.accountId,
      String(name),
      typeof index === 'string' && index !== '' ? index : undefined,
    );
  switch (operation) {
    case 'TransactWriteItems':
      return items(input.TransactItems).flatMap((item) =>
        Object.entries(item)
          .filter(([kind]) => kind in TRANSACT_WRITE_ACTIONS)
          .map(([kind, body]) => ({
            action: TRANSACT_WRITE_ACTIONS[kind] as string,
            resource: table(record(body).TableName),
            context: { 'dynamodb:EnclosingOperation': 'TransactWriteItems' },
          })),
      );
    case 'TransactGetItems':
      return items(input.TransactItems).map((item) => ({
        action: 'dynamodb:GetItem',
        resource: table(record(item.Get).TableName),
        context: { 'dynamodb:EnclosingOperation': 'TransactGetItems' },
      }));
    case 'BatchWriteItem':
    case 'BatchGetItem':
      return Object.keys(record(input.RequestItems)).map((name) => ({
        action: `dynamodb:${operation}`,
        resource: table(name),
      }));
    case 'ListTables':
    case 'DescribeLimits':
    case 'DescribeEndpoints':
    case 'ListStreams':
      return [{ action: `dynamodb:${operation}`, resource: '*' }];
    case 'DescribeStream':
    case 'GetShardIterator':
      return [{ action: `dynamodb:${operation}`, resource: String(input.StreamArn) }];
    case 'GetRecords':
      // The shard iterator names its stream: `<streamArn>|…` in DynamoDB Local's format, opaque on AWS.
      return [{ action: 'dynamodb:GetRecords', resource: streamOfIterator(input.ShardIterator) }];
    case 'Query':
    case 'Scan':
      return [{ action: `dynamodb:${operation}`, resource: table(input.TableName, input.IndexName) }];
    default:
      // GetItem, PutItem, UpdateItem, DeleteItem, DescribeTable, CreateTable, UpdateTimeToLive, …
      return [{ action: `dynamodb:${operation}`, resource: table(input.TableName) }];
  }
}

function items(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? value.map(record) : [];
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
}

function streamOfIterator(iterator: unknown): string {
  const text = typeof iterator === 'string' ? iterator : '';
  const arn = /arn:aws:dynamodb:[^|]+\/stream\/[^|]+/.exec(text)?.[0];
  return arn ?? '*';
}
