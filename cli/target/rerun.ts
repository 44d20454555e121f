/**
 * Re-running an existing order, as `saga replay` and `saga chaos` do: new executions of its saga with the original
 * input (`--via sfn`), each forward step's function invoked directly with its original payload and key (`--via
 * steps`), the outbox event re-delivered through the stream (`--via outbox`); and two edges `saga chaos` makes
 * happen: expired idempotency records and the saga's cancel decision taken from outside.
 */
import { createHash } from 'node:crypto';
import {
  type AttributeValue,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { DescribeExecutionCommand, type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { type SagaInput, sagaInputJson, sagaInputOf } from '../../services/shared/saga-input.ts';
import { UserError } from '../errors.ts';
import { executionArnFor, readHistory, waitForExecutionToEnd } from './executions.ts';
import type { ResolvedTarget } from './target.ts';

/** A forward step of the saga, as `--via steps` invokes it. */
export type ForwardStep = 'charge' | 'reserve' | 'ship';

/** What one direct invocation of a forward step answered. */
export interface StepAnswer {
  readonly step: ForwardStep;
  readonly ok: boolean;
  /** The error name (`errorType`) of a failed invocation. */
  readonly error?: string;
  readonly message?: string;
}

/** The forward steps' functions among the stack's function names (the `FunctionNames` output). */
export function forwardStepFunctions(functionNames: string): Record<ForwardStep, string> {
  const names = functionNames
    .split(',')
    .map((n) => n.trim())
    .filter(Boolean);
  const find = (construct: string) => {
    const name = names.find((n) => n.includes(construct));
    if (name === undefined) {
      throw new UserError(
        `The stack's FunctionNames output lists no ${construct} function (received ${JSON.stringify(functionNames)}). ` +
          'Redeploy with `saga deploy`, or use --via sfn.',
      );
    }
    return name;
  };
  return {
    charge: find('ChargePayment'),
    reserve: find('ReserveInventory'),
    ship: find('ShipOrder'),
  };
}

/** The payloads the ASL builds for the forward steps, with their idempotency keys. */
export function stepPayloads(
  order: Pick<SagaInput, 'orderId' | 'amount' | 'currency' | 'items'>,
): Record<ForwardStep, Record<string, unknown>> {
  const { orderId, amount, currency, items } = order;
  return {
    charge: { orderId, amount, currency, idempotency_key: `${orderId}#charge` },
    reserve: { orderId, items, idempotency_key: `${orderId}#reserve` },
    ship: { orderId, items, idempotency_key: `${orderId}#ship` },
  };
}

/** The saga input an ORDER row carries (the input the publisher and the sweeper send). */
export function orderSagaInput(orderId: string, row: Record<string, AttributeValue>): SagaInput {
  return sagaInputOf({ ...unmarshall(row), orderId }, `order row ORDER#${orderId}`);
}

/** The order's ORDER row (strongly consistent), or undefined. */
export async function orderRow(
  target: ResolvedTarget,
  ddb: DynamoDBClient,
  orderId: string,
): Promise<Record<string, AttributeValue> | undefined> {
  const { Item } = await ddb.send(
    new GetItemCommand({
      TableName: target.outputs.OrdersTableName,
      Key: { pk: { S: `ORDER#${orderId}` }, sk: { S: 'ORDER' } },
      ConsistentRead: true,
    }),
  );
  return Item;
}

/** The saga input of the order: its first execution's, else rebuilt from the order row as the API wrote it. */
export async function originalInput(
  target: ResolvedTarget,
  sfn: SFNClient,
  orderId: string,
  row: Record<string, AttributeValue>,
): Promise<string> {
  try {
    const d = await sfn.send(
      new DescribeExecutionCommand({ executionArn: executionArnFor(target, orderId) }),
    );
    if (d.input) return d.input;
  } catch (error) {
    if ((error as Error).name !== 'ExecutionDoesNotExist') throw error;
  }
  return sagaInputJson(orderSagaInput(orderId, row));
}

/** Runs `work` over `items`, `concurrency` at a time. */
export async function pool<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  });
  await Promise.all(workers);
}

/** One execution a re-run started, once it ended. */
export interface ReplayedExecution {
  readonly executionArn: string;
  readonly status: string;
  readonly history: Awaited<ReturnType<typeof readHistory>>;
}

/**
 * `--via sfn`: starts one execution per name with the order's original input, `concurrency` at a time, waits for
 * each to end and reads its history. `onEnded` is called as each one ends.
 */
export async function startReplayExecutions(
  target: ResolvedTarget,
  sfn: SFNClient,
  orderId: string,
  row: Record<string, AttributeValue>,
  names: readonly string[],
  options: {
    readonly concurrency: number;
    readonly signal?: AbortSignal;
    readonly timeoutMs?: number;
    readonly onEnded?: (done: number) => void;
  },
): Promise<ReplayedExecution[]> {
  const input = await originalInput(target, sfn, orderId, row);
  const executions: ReplayedExecution[] = [];
  await pool(names, options.concurrency, async (name) => {
    const { executionArn = '' } = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: target.outputs.StateMachineArn, name, input }),
    );
    const end = await waitForExecutionToEnd(sfn, executionArn, {
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      intervalMs: target.kind === 'local' ? 100 : 1000,
    });
    executions.push({
      executionArn,
      status: end.status ?? 'UNKNOWN',
      history: await readHistory(sfn, executionArn),
    });
    options.onEnded?.(executions.length);
  });
  return executions;
}

/** Invokes one forward step's function directly and reads its answer. */
export async function invokeStep(
  lambda: LambdaClient,
  functionName: string,
  step: ForwardStep,
  payload: Record<string, unknown>,
): Promise<StepAnswer> {
  const response = await lambda.send(
    new InvokeCommand({
      FunctionName: functionName,
      Payload: new TextEncoder().encode(JSON.stringify(payload)),
    }),
  );
  if (response.FunctionError === undefined) return { step, ok: true };
  let body: { errorType?: string; errorMessage?: string } = {};
  try {
    body = JSON.parse(new TextDecoder().decode(response.Payload ?? new Uint8Array())) as typeof body;
  } catch {
    // not JSON: the error has no name to report
  }
  return {
    step,
    ok: false,
    error: body.errorType ?? response.FunctionError,
    ...(body.errorMessage === undefined ? {} : { message: body.errorMessage }),
  };
}

/**
 * `--via steps`: `times` rounds, `concurrency` at a time, each invoking charge, reserve and ship (or `steps` of
 * them) in the saga's order with their original payloads and keys, as a re-run would reach them.
 */
export async function invokeForwardSteps(
  target: ResolvedTarget,
  lambda: LambdaClient,
  orderId: string,
  row: Record<string, AttributeValue>,
  options: {
    readonly times: number;
    readonly concurrency: number;
    readonly onRound?: (done: number) => void;
    /** Only these steps (in the saga's order). @default all three */
    readonly steps?: readonly ForwardStep[];
  },
): Promise<StepAnswer[]> {
  const functions = forwardStepFunctions(target.outputs.FunctionNames ?? '');
  const payloads = stepPayloads(orderSagaInput(orderId, row));
  const steps: StepAnswer[] = [];
  let done = 0;
  await pool(
    Array.from({ length: options.times }, (_, i) => i),
    options.concurrency,
    async () => {
      for (const step of (['charge', 'reserve', 'ship'] as const).filter(
        (s) => options.steps === undefined || options.steps.includes(s),
      )) {
        steps.push(await invokeStep(lambda, functions[step], step, payloads[step]));
      }
      options.onRound?.(++done);
    },
  );
  return steps;
}

/**
 * `--via outbox`: re-delivers the order's outbox event through the real pipeline, `times` times: the OUTBOX row is
 * written again (delete + put of the same item), so the stream carries a new INSERT, the event source mapping
 * invokes the publisher, and Step Functions' execution-name dedupe must keep it to one execution.
 */
export async function redeliverOutbox(
  target: ResolvedTarget,
  ddb: DynamoDBClient,
  orderId: string,
  times: number,
): Promise<void> {
  const outboxRow = async () =>
    (
      await ddb.send(
        new QueryCommand({
          TableName: target.outputs.OrdersTableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': { S: `OUTBOX#${orderId}` } },
          ConsistentRead: true,
        }),
      )
    ).Items?.[0];
  // A concurrent re-delivery of the same order deletes the row for a moment before it puts it back.
  let item = await outboxRow();
  for (let attempt = 1; !item && attempt <= 10; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
    item = await outboxRow();
  }
  if (!item) {
    throw new UserError(
      `Order ${orderId} has no outbox row left to re-deliver (outbox rows expire after their ttl). ` +
        'Use --via sfn or --via steps instead.',
    );
  }
  for (let i = 0; i < times; i++) {
    await ddb.send(
      new DeleteItemCommand({
        TableName: target.outputs.OrdersTableName,
        Key: { pk: item.pk as AttributeValue, sk: item.sk as AttributeValue },
      }),
    );
    await ddb.send(new PutItemCommand({ TableName: target.outputs.OrdersTableName, Item: item }));
  }
}

/** The `idempotency_key` suffixes the state machine derives per Task (`<orderId>#charge`, …). */
export const IDEMPOTENCY_ACTIONS = ['charge', 'reserve', 'ship', 'release', 'refund'] as const;

/**
 * The hash part of a Powertools idempotency record id (`<keyPrefix>#<hash>`): the base64 md5 digest of the JSON of
 * what `eventKeyJmesPath` selected, here the key string (Powertools `getHashedIdempotencyKey`).
 */
export function idempotencyKeyHash(key: string): string {
  return createHash('md5').update(JSON.stringify(key)).digest('base64');
}

/**
 * Deletes every Idempotency record of the order's saga tasks, as if their TTL had expired (a Scan: the ids are
 * `<function>#<hash of the key>`). Returns the ids deleted.
 */
export async function deleteIdempotencyRecords(
  ddb: DynamoDBClient,
  table: string,
  orderId: string,
): Promise<string[]> {
  const suffixes = IDEMPOTENCY_ACTIONS.map((action) => `#${idempotencyKeyHash(`${orderId}#${action}`)}`);
  const ids: string[] = [];
  let ExclusiveStartKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await ddb.send(
      new ScanCommand({
        TableName: table,
        ProjectionExpression: 'id',
        ConsistentRead: true,
        ExclusiveStartKey,
      }),
    );
    for (const item of page.Items ?? []) {
      const id = item.id?.S;
      if (id !== undefined && suffixes.some((suffix) => id.endsWith(suffix))) ids.push(id);
    }
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  await Promise.all(
    ids.map((id) => ddb.send(new DeleteItemCommand({ TableName: table, Key: { id: { S: id } } }))),
  );
  return ids;
}

/**
 * The saga's cancel decision (its CancelOrder state's transaction), taken from outside as another execution whose
 * step failed would take it: PENDING → CANCELLING, only if nothing was shipped. `refused` when the order was not
 * PENDING or a shipment exists.
 */
export async function takeCancelDecision(
  target: ResolvedTarget,
  ddb: DynamoDBClient,
  orderId: string,
  reason = 'ShippingUnavailable',
): Promise<'decided' | 'refused'> {
  const key = { pk: { S: `ORDER#${orderId}` } };
  try {
    await ddb.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          {
            Update: {
              TableName: target.outputs.OrdersTableName,
              Key: { ...key, sk: { S: 'ORDER' } },
              UpdateExpression: 'SET #status = :cancelling, failureReason = :reason, updatedAt = :now',
              ConditionExpression: '#status = :pending',
              ExpressionAttributeNames: { '#status': 'status' },
              ExpressionAttributeValues: {
                ':cancelling': { S: 'CANCELLING' },
                ':pending': { S: 'PENDING' },
                ':reason': { S: reason },
                ':now': { S: new Date().toISOString() },
              },
            },
          },
          {
            ConditionCheck: {
              TableName: target.outputs.ShipmentsTableName,
              Key: { ...key, sk: { S: 'SHIPMENT' } },
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
        ],
      }),
    );
    return 'decided';
  } catch (error) {
    if ((error as Error).name === 'TransactionCanceledException') return 'refused';
    throw error;
  }
}

export type { SagaInput };
