/**
 * The record of an injected failure on the order it hit, shared by the saga's task functions and the outbox
 * publisher (which must not load the task functions' Powertools idempotency and parser to do it).
 */
import { type DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { type FailureFlag, injectedSpec } from './failure-flags.ts';
import { logger } from './logger.ts';

/**
 * Records on the ORDER row that a failure flag acted on this order's step: `ADD injected :spec` (a string set,
 * see {@link injectedSpec}), so `saga ls` shows what happened even after the flags are cleared, GLOBAL hits
 * included. No condition: it only adds to the set. A failure to record is logged, never the step's failure.
 */
export async function recordInjection(
  client: DynamoDBClient,
  ordersTable: string | undefined,
  orderId: string,
  flag: FailureFlag,
): Promise<void> {
  if (!ordersTable) return;
  try {
    await client.send(
      new UpdateItemCommand({
        TableName: ordersTable,
        Key: { pk: { S: `ORDER#${orderId}` }, sk: { S: 'ORDER' } },
        UpdateExpression: 'ADD injected :spec',
        // Never creates a bare ORDER row (a step invoked directly for an order that does not exist).
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':spec': { SS: [injectedSpec(flag)] } },
      }),
    );
  } catch (error) {
    if ((error as Error).name === 'ConditionalCheckFailedException') return;
    logger.warn('Could not record the injected failure on the order', { error, flag });
  }
}
