import { DynamoDBClient, QueryCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { type ExecutionListItem, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import type { CommandContext } from '../command.ts';
import { resolveTarget } from '../target/target.ts';
import { formatDuration } from '../ui/format.ts';

/** Options of `saga ls`. */
export interface LsOptions {
  /** How many orders, newest first. @default 20 */
  readonly limit: number;
}

/** One row of `saga ls`. */
export interface OrderListing {
  readonly orderId: string;
  readonly status: string;
  readonly executionStatus: string | null;
  readonly durationMs: number | null;
  readonly failures: readonly string[];
  readonly amount: number;
  readonly currency: string;
  readonly createdAt: string;
}

/** `saga ls`: recent orders with their status, execution status, duration and injected failures. */
export async function listOrders(ctx: CommandContext, options: LsOptions): Promise<OrderListing[]> {
  const target = await resolveTarget(ctx.projectDir, ctx.globals, ctx.env);
  const ddb = new DynamoDBClient(target.clientConfig());
  const sfn = new SFNClient(target.clientConfig());
  const orders: Record<string, { S?: string; N?: string; SS?: string[] }>[] = [];
  let start: Record<string, import('@aws-sdk/client-dynamodb').AttributeValue> | undefined;
  do {
    const page = await ddb.send(
      new ScanCommand({
        TableName: target.outputs.OrdersTableName,
        FilterExpression: 'sk = :order',
        ExpressionAttributeValues: { ':order': { S: 'ORDER' } },
        ExclusiveStartKey: start,
      }),
    );
    orders.push(...((page.Items ?? []) as Record<string, { S?: string; N?: string; SS?: string[] }>[]));
    start = page.LastEvaluatedKey;
  } while (start);
  orders.sort((a, b) => (b.createdAt?.S ?? '').localeCompare(a.createdAt?.S ?? ''));
  const recent = orders.slice(0, options.limit);

  const executions = new Map<string, ExecutionListItem>();
  let token: string | undefined;
  // Newest first: stop paging once every listed order has been seen or we went past the oldest one.
  const oldest = recent.at(-1)?.createdAt?.S ?? '';
  do {
    const page = await sfn.send(
      new ListExecutionsCommand({
        stateMachineArn: target.outputs.StateMachineArn,
        maxResults: 100,
        nextToken: token,
      }),
    );
    for (const e of page.executions ?? []) if (e.name && !executions.has(e.name)) executions.set(e.name, e);
    token = page.nextToken;
    const last = page.executions?.at(-1)?.startDate;
    if (last && last.toISOString() < oldest) break;
  } while (token);

  const rows = await Promise.all(
    recent.map(async (item): Promise<OrderListing> => {
      const orderId = (item.pk?.S ?? '').replace(/^ORDER#/, '');
      // What the saga's steps recorded on the order when a flag acted (GLOBAL hits included); until one acts, the
      // order's own flags as they are set now.
      const injected = [...(item.injected?.SS ?? [])].sort();
      const flags = await ddb.send(
        new QueryCommand({
          TableName: target.outputs.FailureFlagsTableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': { S: `ORDER#${orderId}` } },
        }),
      );
      const execution = executions.get(orderId);
      return {
        orderId,
        status: item.status?.S ?? 'UNKNOWN',
        executionStatus: execution?.status ?? null,
        durationMs:
          execution?.startDate && execution.stopDate
            ? execution.stopDate.getTime() - execution.startDate.getTime()
            : null,
        failures:
          injected.length > 0
            ? injected
            : (flags.Items ?? []).map((f) => describeFlag(f as Record<string, { S?: string; N?: string }>)),
        amount: Number(item.amount?.N ?? 0),
        currency: item.currency?.S ?? '',
        createdAt: item.createdAt?.S ?? '',
      };
    }),
  );
  return rows;
}

function describeFlag(flag: Record<string, { S?: string; N?: string }>): string {
  const mode = flag.mode?.S ?? '?';
  const step = flag.sk?.S ?? '?';
  const times = flag.times?.N;
  const latency = flag.latencyMs?.N;
  const rate = flag.rate?.N;
  const counted = (mode === 'transient' || mode === 'throttle') && times ? `:${times}` : '';
  return `${step}:${mode}${counted}${mode === 'latency' && latency ? `:${latency}` : ''}${rate ? ` @${rate}` : ''}`;
}

/**
 * What to do next about the listed orders that need it: a COMPENSATION_FAILED order is resumed by a re-run of its
 * saga (`saga replay`), once what made the compensation fail is cleared.
 */
export function nextSteps(rows: readonly Pick<OrderListing, 'orderId' | 'status'>[]): string[] {
  const failed = rows.filter((r) => r.status === 'COMPENSATION_FAILED');
  if (failed.length === 0) return [];
  const first = failed[0]?.orderId ?? '<orderId>';
  return [
    `${failed.length} order${failed.length === 1 ? '' : 's'} COMPENSATION_FAILED: a compensation failed for good. ` +
      `\`saga replay ${first}\` re-runs the saga, which resumes the compensations ` +
      `(clear an injected failure first: \`saga flags clear --order ${first}\`).`,
  ];
}

export default async function action(
  ctx: CommandContext,
  _args: readonly unknown[],
  options: Record<string, unknown>,
): Promise<number> {
  const rows = await listOrders(ctx, { limit: (options.limit as number | undefined) ?? 20 });
  const { out } = ctx;
  for (const row of rows) out.data(row);
  if (rows.length === 0) {
    out.line(`No orders yet. Place one with ${out.style.accent('saga order')}.`);
    return 0;
  }
  const colour = (status: string) =>
    status === 'COMPLETED' || status === 'SUCCEEDED'
      ? out.style.ok(status)
      : status === 'PENDING' || status === 'RUNNING'
        ? out.style.accent(status)
        : status === 'CANCELLED' || status === 'CANCELLING'
          ? out.style.warn(status)
          : out.style.fail(status);
  // On a terminal the table fits its width: the failures, then the creation time, are cut first.
  out.table(
    [
      ['order', 'status', 'execution', 'duration', 'failure injected', 'amount', 'created'],
      ...rows.map((r) => [
        r.orderId,
        colour(r.status),
        r.executionStatus ? colour(r.executionStatus) : out.style.dim('none'),
        r.durationMs === null ? out.style.dim('—') : formatDuration(r.durationMs),
        r.failures.join(', ') || out.style.dim('—'),
        `${(r.amount / 100).toFixed(2)} ${r.currency}`,
        r.createdAt.replace('T', ' ').slice(0, 19),
      ]),
    ],
    { shrink: [4, 6] },
  );
  for (const step of nextSteps(rows)) out.line(out.style.warn(step));
  return 0;
}
