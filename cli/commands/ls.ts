import { type AttributeValue, DynamoDBClient, QueryCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { type ExecutionListItem, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import type { CommandContext } from '../command.ts';
import type { ArgsOf, lsCommand, OptionsOf } from '../definitions.ts';
import { ISO_TIME, type OrderStatus } from '../saga/order-filters.ts';
import { type ResolvedTarget, resolveTarget } from '../target/target.ts';
import { formatDuration, formatMoney, plural } from '../ui/format.ts';
import type { Output } from '../ui/output.ts';

/** Options of `saga ls`. */
export interface LsOptions {
  /** How many orders, newest first. @default 20 */
  readonly limit: number;
  /** Only orders whose ORDER row has one of these statuses. @default every status */
  readonly statuses?: readonly OrderStatus[];
  /** Only orders created at or after this instant (epoch ms). @default any time */
  readonly since?: number;
}

/** One row of `saga ls` (`--json`: one line each, `"type":"order"`). */
export interface OrderListing {
  readonly orderId: string;
  readonly status: string;
  /** The status of the order's latest execution (by start time), null when none was started. */
  readonly executionStatus: string | null;
  /** The latest execution's name: the order id, or `<orderId>-replay-…` / `<orderId>-chaos-…` for re-runs. */
  readonly executionName: string | null;
  /** How many executions the order has (the first, replays, re-runs). */
  readonly executions: number;
  /** The latest execution's duration; null while it runs or when there is none. */
  readonly durationMs: number | null;
  readonly failures: readonly string[];
  readonly amount: number;
  readonly currency: string;
  readonly createdAt: string;
}

/** What `saga ls` found: the rows shown and how many orders matched in all. */
export interface OrderList {
  readonly rows: readonly OrderListing[];
  /** Orders that match the filters (`rows` holds the newest `limit` of them). */
  readonly total: number;
}

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** The order id of an execution name: `<orderId>` or `<orderId>-<anything>` (replays, chaos re-runs). */
export function orderIdOfExecutionName(name: string): string | undefined {
  const id = name.slice(0, 26);
  return ULID.test(id) && (name.length === 26 || name[26] === '-') ? id : undefined;
}

/** Per order: its latest execution (by start time) and how many it has. */
export function latestExecutions(
  executions: readonly ExecutionListItem[],
): Map<string, { latest: ExecutionListItem; count: number }> {
  const byOrder = new Map<string, { latest: ExecutionListItem; count: number }>();
  for (const execution of executions) {
    const orderId = orderIdOfExecutionName(execution.name ?? '');
    if (orderId === undefined) continue;
    const seen = byOrder.get(orderId);
    const started = execution.startDate?.getTime() ?? 0;
    if (!seen) byOrder.set(orderId, { latest: execution, count: 1 });
    else {
      seen.count += 1;
      if (started > (seen.latest.startDate?.getTime() ?? 0)) seen.latest = execution;
    }
  }
  return byOrder;
}

/** Executions start after their order is written; this much clock skew between the two is tolerated. */
const CLOCK_SKEW_MS = 60_000;

type Item = Record<string, AttributeValue>;

/**
 * `saga ls`: the orders that match, newest first, the newest `limit` of them with their latest execution (status,
 * duration, how many executions) and the failures injected.
 */
export async function listOrders(target: ResolvedTarget, options: LsOptions): Promise<OrderList> {
  const ddb = new DynamoDBClient(target.clientConfig());
  const sfn = new SFNClient(target.clientConfig());
  const filters = ['sk = :order'];
  const values: Item = { ':order': { S: 'ORDER' } };
  const names: Record<string, string> = {};
  if (options.statuses && options.statuses.length > 0) {
    names['#status'] = 'status';
    const keys = options.statuses.map((status, i) => {
      values[`:s${i}`] = { S: status };
      return `:s${i}`;
    });
    filters.push(`#status IN (${keys.join(', ')})`);
  }
  if (options.since !== undefined) {
    values[':since'] = { S: new Date(options.since).toISOString() };
    filters.push('createdAt >= :since');
  }
  const orders: Item[] = [];
  let start: Item | undefined;
  do {
    const page = await ddb.send(
      new ScanCommand({
        TableName: target.outputs.OrdersTableName,
        FilterExpression: filters.join(' AND '),
        ExpressionAttributeValues: values,
        ...(Object.keys(names).length > 0 ? { ExpressionAttributeNames: names } : {}),
        ExclusiveStartKey: start,
      }),
    );
    orders.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  orders.sort((a, b) => (b.createdAt?.S ?? '').localeCompare(a.createdAt?.S ?? ''));
  const recent = orders.slice(0, options.limit);
  if (recent.length === 0) return { rows: [], total: orders.length };

  // Every execution of a listed order started after the oldest of them was created: page newest first until past it.
  const wanted = new Set(recent.map((item) => (item.pk?.S ?? '').replace(/^ORDER#/, '')));
  const oldest = Date.parse(recent.at(-1)?.createdAt?.S ?? '') - CLOCK_SKEW_MS;
  const executions: ExecutionListItem[] = [];
  let token: string | undefined;
  do {
    const page = await sfn.send(
      new ListExecutionsCommand({
        stateMachineArn: target.outputs.StateMachineArn,
        maxResults: 1000,
        nextToken: token,
      }),
    );
    for (const e of page.executions ?? []) {
      const orderId = orderIdOfExecutionName(e.name ?? '');
      if (orderId !== undefined && wanted.has(orderId)) executions.push(e);
    }
    token = page.nextToken;
    const last = page.executions?.at(-1)?.startDate?.getTime();
    if (last !== undefined && Number.isFinite(oldest) && last < oldest) break;
  } while (token);
  const latest = latestExecutions(executions);

  const rows = await Promise.all(
    recent.map(async (item): Promise<OrderListing> => {
      const orderId = (item.pk?.S ?? '').replace(/^ORDER#/, '');
      // What the saga's steps recorded on the order when a flag acted (GLOBAL hits included); until one acts, the
      // order's own flags as they are set now.
      const injected = [...(item.injected?.SS ?? [])].sort();
      const failures =
        injected.length > 0
          ? injected
          : (
              (
                await ddb.send(
                  new QueryCommand({
                    TableName: target.outputs.FailureFlagsTableName,
                    KeyConditionExpression: 'pk = :pk',
                    ExpressionAttributeValues: { ':pk': { S: `ORDER#${orderId}` } },
                  }),
                )
              ).Items ?? []
            ).map(describeFlag);
      const execution = latest.get(orderId);
      const run = execution?.latest;
      return {
        orderId,
        status: item.status?.S ?? 'UNKNOWN',
        executionStatus: run?.status ?? null,
        executionName: run?.name ?? null,
        executions: execution?.count ?? 0,
        durationMs: run?.startDate && run.stopDate ? run.stopDate.getTime() - run.startDate.getTime() : null,
        failures,
        amount: Number(item.amount?.N ?? 0),
        currency: item.currency?.S ?? '',
        createdAt: item.createdAt?.S ?? '',
      };
    }),
  );
  return { rows, total: orders.length };
}

function describeFlag(flag: Item): string {
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

/** The options as the user typed them (for the footer's "how to see more"). */
export interface LsArguments {
  readonly limit: number;
  readonly status?: string;
  readonly since?: string;
}

/** The filters in words: `with status CANCELLED, created since 2026-12-03T10:00:00.000Z (the last 10m)`; '' if none. */
function describeFilters(options: LsOptions, args: LsArguments): string {
  const parts: string[] = [];
  if (options.statuses?.length) parts.push(`with status ${options.statuses.join(' or ')}`);
  if (options.since !== undefined) {
    const relative = args.since !== undefined && !ISO_TIME.test(args.since.trim());
    parts.push(
      `created since ${new Date(options.since).toISOString().replace(/\.\d{3}Z$/, 'Z')}${relative ? ` (the last ${args.since?.trim()})` : ''}`,
    );
  }
  return parts.join(', ');
}

/** The `saga ls` command that lists every matching order: the same filters, a --limit that fits them all. */
function commandForAll(options: LsOptions, args: LsArguments, total: number): string {
  return [
    'saga ls',
    ...(options.statuses?.length ? [`--status ${options.statuses.join(',')}`] : []),
    ...(args.since !== undefined ? [`--since ${args.since.trim()}`] : []),
    `--limit ${total}`,
  ].join(' ');
}

/** Writes the listing: JSON lines (one per order, then the summary) or the table and its footer. */
export function renderOrderList(out: Output, list: OrderList, options: LsOptions, args: LsArguments): void {
  const { rows, total } = list;
  const filters = describeFilters(options, args);
  // Under --json one line per order, then the summary; for people the table, then its footer.
  for (const row of rows) out.data({ type: 'order', ...row });
  const summary = {
    type: 'summary',
    shown: rows.length,
    total,
    limit: options.limit,
    ...(options.statuses?.length ? { statuses: options.statuses } : {}),
    ...(options.since !== undefined ? { since: new Date(options.since).toISOString() } : {}),
  };
  out.result(summary, (style) => {
    if (rows.length === 0) {
      return filters === ''
        ? `No orders yet. Place one with ${style.accent('saga order')}.`
        : `No orders ${filters}. ${style.accent('saga ls')} without filters lists every order.`;
    }
    const colour = (status: string) =>
      status === 'COMPLETED' || status === 'SUCCEEDED'
        ? style.ok(status)
        : status === 'PENDING' || status === 'RUNNING'
          ? style.accent(status)
          : status === 'CANCELLED' || status === 'CANCELLING'
            ? style.warn(status)
            : style.fail(status);
    // On a terminal the table fits its width: the failures, then the creation time, are cut first.
    const table = out.tableLines(
      [
        ['order', 'status', 'execution', 'duration', 'failure injected', 'amount', 'created'],
        ...rows.map((r) => [
          r.orderId,
          colour(r.status),
          r.executionStatus
            ? `${colour(r.executionStatus)}${r.executions > 1 ? style.dim(` (latest of ${r.executions})`) : ''}`
            : style.dim('none'),
          r.durationMs === null ? style.dim('—') : formatDuration(r.durationMs),
          r.failures.join(', ') || style.dim('—'),
          formatMoney(r.amount, r.currency),
          r.createdAt.replace('T', ' ').slice(0, 19),
        ]),
      ],
      { shrink: [4, 6] },
    );
    const matching = filters === '' ? '' : ` ${filters}`;
    return [
      ...table,
      style.dim(
        rows.length < total
          ? `${rows.length} of ${plural(total, 'order')}${matching}, newest first. ` +
              `\`${commandForAll(options, args, total)}\` lists them all.`
          : `${plural(total, 'order')}${matching}.`,
      ),
      ...nextSteps(rows).map((step) => style.warn(step)),
    ];
  });
}

export default async function action(
  ctx: CommandContext,
  _args: ArgsOf<typeof lsCommand>,
  options: OptionsOf<typeof lsCommand>,
): Promise<number> {
  const args: LsArguments = {
    limit: options.limit,
    ...(options.since !== undefined ? { since: options.since.text } : {}),
  };
  // The filters were read with the command line (cli/definitions.ts): a typo is exit 2 whether or not a cloud runs.
  const lsOptions: LsOptions = {
    limit: args.limit,
    ...(options.status !== undefined ? { statuses: options.status } : {}),
    ...(options.since !== undefined ? { since: options.since.at } : {}),
  };
  const target = await resolveTarget(ctx.projectDir, ctx.globals, ctx.env);
  renderOrderList(ctx.out, await listOrders(target, lsOptions), lsOptions, args);
  return 0;
}
