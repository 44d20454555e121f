import {
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
} from '@aws-sdk/client-dynamodb';
import { ListExecutionsCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { IDEMPOTENCY_HIT_MESSAGE } from '../../services/shared/idempotency-hit.ts';
import type { CommandContext } from '../command.ts';
import { UserError } from '../errors.ts';
import {
  executionArnFor,
  parseOrderId,
  waitForExecutionToEnd,
  waitForExecutionToExist,
} from '../target/executions.ts';
import { LEDGER_KEYS, type Ledger, newSideEffects, readLedger } from '../target/ledger.ts';
import { readOrderLogs } from '../target/logs.ts';
import { type ResolvedTarget, resolveTarget } from '../target/target.ts';

/** Options of `saga replay`. */
export interface ReplayOptions {
  /** How many times to re-run the saga. @default 1 */
  readonly times: number;
  /** How many re-runs at once. @default 1 */
  readonly concurrency: number;
  /** `sfn`: new executions with the original input; `outbox`: re-deliver the outbox event. @default 'sfn' */
  readonly via: 'sfn' | 'outbox';
}

/** The `replay` JSON contract (design §6). */
export interface ReplayResult {
  readonly orderId: string;
  readonly via: 'sfn' | 'outbox';
  readonly before: Ledger;
  readonly after: Ledger;
  /**
   * Side effects the replay added that count as duplicates: any new row for an order whose saga had finished; for an
   * order still PENDING (its execution died, e.g. with a restarted local cloud), only rows of a kind it had already.
   */
  readonly newSideEffects: number;
  /** The order's status before and after the replay (`PENDING` before: the replay finishes an unfinished saga). */
  readonly orderStatus: { readonly before: string; readonly after: string };
  readonly idempotencyHits: number;
  /** Executions started by the replay (sfn), or executions that exist for the order afterwards (outbox). */
  readonly executions: readonly { executionArn: string; status: string }[];
  readonly verdict: 'idempotent' | 'DUPLICATES';
}

async function pool<T>(
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

async function originalInput(target: ResolvedTarget, sfn: SFNClient, orderId: string): Promise<string> {
  const d = await waitForExecutionToExist(sfn, executionArnFor(target, orderId), { timeoutMs: 0 }).catch(
    () => undefined,
  );
  if (d?.input) return d.input;
  throw new UserError(
    `Order ${orderId} has no saga execution to replay (no execution named ${orderId} on ${target.outputs.StateMachineArn}). ` +
      'Check the id with `saga ls`, or use --via outbox to re-deliver its outbox event.',
  );
}

/** `saga replay <orderId>`: re-runs the order's saga and proves that no new side effect appeared. */
export async function replay(
  ctx: CommandContext,
  orderIdArg: string,
  options: ReplayOptions,
): Promise<ReplayResult> {
  const orderId = parseOrderId(orderIdArg);
  const target = await resolveTarget(ctx.projectDir, ctx.globals, ctx.env);
  const ddb = new DynamoDBClient(target.clientConfig());
  const sfn = new SFNClient(target.clientConfig());
  const order = await ddb.send(
    new GetItemCommand({
      TableName: target.outputs.OrdersTableName,
      Key: { pk: { S: `ORDER#${orderId}` }, sk: { S: 'ORDER' } },
      ConsistentRead: true,
    }),
  );
  if (!order.Item)
    throw new UserError(
      `No order ${orderId} in ${target.outputs.OrdersTableName}. \`saga ls\` lists the orders.`,
    );

  const before = await readLedger(target, orderId, ddb);
  const startedAt = Date.now();
  const progress = await ctx.out.progress(`Replaying order ${orderId} ×${options.times} via ${options.via}`);
  const executions: { executionArn: string; status: string }[] = [];
  try {
    if (options.via === 'sfn') {
      const input = await originalInput(target, sfn, orderId);
      const stamp = Date.now().toString(36);
      const names = Array.from({ length: options.times }, (_, i) => `${orderId}-replay-${stamp}-${i + 1}`);
      let done = 0;
      await pool(names, options.concurrency, async (name) => {
        const { executionArn } = await sfn.send(
          new StartExecutionCommand({ stateMachineArn: target.outputs.StateMachineArn, name, input }),
        );
        const end = await waitForExecutionToEnd(sfn, executionArn as string, { signal: ctx.signal });
        executions.push({ executionArn: executionArn as string, status: end.status ?? 'UNKNOWN' });
        progress.update(`Replaying order ${orderId}: ${++done}/${options.times} executions finished`);
      });
    } else {
      await redeliverOutbox(target, ddb, orderId, options);
      // Give the stream, the publisher and Step Functions time to (not) start a second execution.
      await new Promise((r) => setTimeout(r, target.kind === 'local' ? 3000 : 15_000));
      const list = await sfn.send(
        new ListExecutionsCommand({ stateMachineArn: target.outputs.StateMachineArn, maxResults: 1000 }),
      );
      for (const e of list.executions ?? []) {
        if (e.name === orderId)
          executions.push({ executionArn: e.executionArn ?? '', status: e.status ?? '' });
      }
    }
  } finally {
    progress.stop();
  }
  const after = await readLedger(target, orderId, ddb);
  const statusAfter = await orderStatusOf(target, ddb, orderId);
  const hits = (await readOrderLogs(target, orderId, { startTime: startedAt - 1000 })).filter(
    (l) => l.message === IDEMPOTENCY_HIT_MESSAGE && l.timestamp >= startedAt - 1000,
  ).length;
  const statusBefore = order.Item.status?.S ?? 'UNKNOWN';
  // A saga that never finished may gain the steps it had not reached; a step it had reached must not run twice.
  const added =
    statusBefore === 'PENDING' ? repeatedSideEffects(before, after) : newSideEffects(before, after);
  return {
    orderId,
    via: options.via,
    before,
    after,
    newSideEffects: added,
    orderStatus: { before: statusBefore, after: statusAfter },
    idempotencyHits: hits,
    executions,
    verdict: added === 0 ? 'idempotent' : 'DUPLICATES',
  };
}

/** New rows only of the kinds the order already had: the duplicates a replay of an unfinished saga may not add. */
function repeatedSideEffects(before: Ledger, after: Ledger): number {
  return LEDGER_KEYS.reduce((sum, k) => sum + (before[k] > 0 ? Math.max(0, after[k] - before[k]) : 0), 0);
}

async function orderStatusOf(target: ResolvedTarget, ddb: DynamoDBClient, orderId: string): Promise<string> {
  const { Item } = await ddb.send(
    new GetItemCommand({
      TableName: target.outputs.OrdersTableName,
      Key: { pk: { S: `ORDER#${orderId}` }, sk: { S: 'ORDER' } },
      ConsistentRead: true,
    }),
  );
  return Item?.status?.S ?? 'UNKNOWN';
}

/**
 * Re-delivers the order's outbox event through the real pipeline: the OUTBOX row is written again (delete + put of
 * the same item), so the stream carries a new INSERT, the event source mapping invokes the publisher, and Step
 * Functions' execution-name dedupe must keep it to one execution.
 */
async function redeliverOutbox(
  target: ResolvedTarget,
  ddb: DynamoDBClient,
  orderId: string,
  options: ReplayOptions,
): Promise<void> {
  const rows = await ddb.send(
    new QueryCommand({
      TableName: target.outputs.OrdersTableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': { S: `OUTBOX#${orderId}` } },
      ConsistentRead: true,
    }),
  );
  const item = rows.Items?.[0];
  if (!item) {
    throw new UserError(
      `Order ${orderId} has no outbox row left to re-deliver (outbox rows expire after their ttl).`,
    );
  }
  for (let i = 0; i < options.times; i++) {
    await ddb.send(
      new DeleteItemCommand({
        TableName: target.outputs.OrdersTableName,
        Key: { pk: item.pk as never, sk: item.sk as never },
      }),
    );
    await ddb.send(new PutItemCommand({ TableName: target.outputs.OrdersTableName, Item: item }));
  }
}

export default async function action(
  ctx: CommandContext,
  args: readonly unknown[],
  options: Record<string, unknown>,
): Promise<number> {
  const via = (options.via as string | undefined) ?? 'sfn';
  const result = await replay(ctx, String(args[0]), {
    times: (options.times as number | undefined) ?? 1,
    concurrency: (options.concurrency as number | undefined) ?? 1,
    via: via as 'sfn' | 'outbox',
  });
  const { out } = ctx;
  out.data(result);
  out.line();
  out.table([
    ['side effect', 'before', 'after', 'new'],
    ...LEDGER_KEYS.map((k) => {
      const delta = result.after[k] - result.before[k];
      return [
        k,
        String(result.before[k]),
        String(result.after[k]),
        delta > 0 ? out.style.fail(`+${delta}`) : out.style.ok('0'),
      ];
    }),
  ]);
  out.line();
  if (result.via === 'sfn') {
    const statuses = result.executions.map((e) => e.status).join(', ');
    out.line(`Re-ran the saga ${result.executions.length}× under new execution names (${statuses}).`);
    out.line(`Idempotency hits (tasks answered from the Powertools store): ${result.idempotencyHits}`);
  } else {
    out.line(
      `Re-delivered the outbox event; executions named ${result.orderId}: ${result.executions.length} ` +
        `(${result.executions.length === 1 ? out.style.ok('deduped by execution name') : out.style.fail('not deduped')}).`,
    );
  }
  if (result.orderStatus.before === 'PENDING' && result.orderStatus.after !== 'PENDING') {
    out.line(
      `The order's saga had not finished (PENDING); the replay finished it: ${result.orderStatus.after}.`,
    );
  }
  out.line(
    result.verdict === 'idempotent'
      ? `${out.style.ok('✓ idempotent')}: nothing was charged, reserved, released, refunded or shipped twice.`
      : `${out.style.fail('✗ DUPLICATES')}: ${result.newSideEffects} new side effect(s).`,
  );
  const outboxDuplicated = result.via === 'outbox' && result.executions.length !== 1;
  return result.verdict === 'idempotent' && !outboxDuplicated ? 0 : 1;
}
