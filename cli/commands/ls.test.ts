import { BatchWriteItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type ExecutionListItem, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, inject, test } from 'vitest';
import { CapturedStream, runCli, tempProject } from '../../test/support/cli.ts';
import { createTestTable, TEST_AWS, testDynamoDbClient } from '../../test/support/dynamodb.ts';
import type { StackOutputs } from '../target/context.ts';
import type { ResolvedTarget } from '../target/target.ts';
import { Output } from '../ui/output.ts';
import {
  type LsArguments,
  type LsOptions,
  latestExecutions,
  listOrders,
  nextSteps,
  type OrderList,
  orderIdOfExecutionName,
  renderOrderList,
} from './ls.ts';

describe('nextSteps', () => {
  test('COMPENSATION_FAILED orders get the next step: saga replay resumes the compensations', () => {
    const steps = nextSteps([
      { orderId: '01JD8Z6Q3M4N5P6R7S8T9V0W1X', status: 'COMPLETED' },
      { orderId: '01JD8Z6Q3M4N5P6R7S8T9V0W2Y', status: 'COMPENSATION_FAILED' },
      { orderId: '01JD8Z6Q3M4N5P6R7S8T9V0W3Z', status: 'COMPENSATION_FAILED' },
    ]);
    expect(steps).toEqual([
      '2 orders COMPENSATION_FAILED: a compensation failed for good. `saga replay 01JD8Z6Q3M4N5P6R7S8T9V0W2Y` ' +
        're-runs the saga, which resumes the compensations (clear an injected failure first: ' +
        '`saga flags clear --order 01JD8Z6Q3M4N5P6R7S8T9V0W2Y`).',
    ]);
  });

  test('nothing to say when no order needs it', () => {
    expect(nextSteps([{ orderId: '01JD8Z6Q3M4N5P6R7S8T9V0W1X', status: 'CANCELLING' }])).toEqual([]);
  });
});

describe('orderIdOfExecutionName and latestExecutions', () => {
  const id = '01JD8Z6Q3M4N5P6R7S8T9V0W1X';

  test('the order id of the first run, a replay, a chaos re-run; nothing for other names', () => {
    expect(orderIdOfExecutionName(id)).toBe(id);
    expect(orderIdOfExecutionName(`${id}-replay-mx78lnun-5`)).toBe(id);
    expect(orderIdOfExecutionName(`${id}-chaos-abc-1`)).toBe(id);
    expect(orderIdOfExecutionName(`${id}X`)).toBeUndefined();
    expect(orderIdOfExecutionName('manual-run')).toBeUndefined();
  });

  test('the latest by start time, whatever the order of the list, and the count', () => {
    const at = (s: number) => new Date(Date.UTC(2026, 11, 3, 10, 0, s));
    const found = latestExecutions([
      { name: `${id}-replay-a-1`, startDate: at(30), status: 'SUCCEEDED' } as ExecutionListItem,
      { name: id, startDate: at(0), status: 'FAILED' } as ExecutionListItem,
      { name: `${id}-replay-a-2`, startDate: at(40), status: 'RUNNING' } as ExecutionListItem,
      { name: 'other', startDate: at(50), status: 'SUCCEEDED' } as ExecutionListItem,
    ]);
    expect(found.size).toBe(1);
    expect(found.get(id)?.count).toBe(3);
    expect(found.get(id)?.latest.name).toBe(`${id}-replay-a-2`);
  });
});

describe('listOrders against DynamoDB Local (Step Functions stubbed)', () => {
  let ddb: DynamoDBClient;
  let outputs: StackOutputs;
  const sfn = mockClient(SFNClient);
  const t0 = Date.parse('2026-12-03T10:00:00Z');
  const iso = (s: number) => new Date(t0 + s * 1000).toISOString();
  /** Orders 0..24: ids …00..…24, created a second apart; statuses in turn. */
  const STATUSES = ['COMPLETED', 'CANCELLED', 'FAILED', 'COMPENSATION_FAILED', 'PENDING'];
  const ids = Array.from({ length: 25 }, (_, i) => `01JD8Z6Q3M4N5P6R7S8T9V0W${String(i).padStart(2, '0')}`);

  beforeAll(async () => {
    ddb = testDynamoDbClient();
    const orders = await createTestTable(ddb, 'ls-orders');
    const flags = await createTestTable(ddb, 'ls-flags');
    outputs = {
      ApiUrl: 'http://127.0.0.1:1/',
      StateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:OrderSaga',
      OrdersTableName: orders,
      PaymentsTableName: 'unused',
      InventoryTableName: 'unused',
      ShipmentsTableName: 'unused',
      IdempotencyTableName: 'unused',
      FailureFlagsTableName: flags,
    };
    const rows = ids.flatMap((id, i) => [
      {
        pk: { S: `ORDER#${id}` },
        sk: { S: 'ORDER' },
        status: { S: STATUSES[i % STATUSES.length] ?? 'PENDING' },
        amount: { N: '4850' },
        currency: { S: 'EUR' },
        createdAt: { S: iso(i) },
        ...(i === 1 ? { injected: { SS: ['inventory:error'] } } : {}),
      },
      // The outbox row of the same order is not an order.
      { pk: { S: `OUTBOX#${id}` }, sk: { S: `EVENT#${i}` }, createdAt: { S: iso(i) } },
    ]);
    for (let i = 0; i < rows.length; i += 25) {
      await ddb.send(
        new BatchWriteItemCommand({
          RequestItems: { [orders]: rows.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) },
        }),
      );
    }
    await ddb.send(
      new BatchWriteItemCommand({
        RequestItems: {
          [flags]: [
            {
              PutRequest: {
                Item: {
                  pk: { S: `ORDER#${ids[24]}` },
                  sk: { S: 'payment' },
                  mode: { S: 'transient' },
                  times: { N: '2' },
                },
              },
            },
          ],
        },
      }),
    );
  });

  afterEach(() => {
    sfn.reset();
  });

  afterAll(() => {
    sfn.restore();
    ddb.destroy();
  });

  function target(): ResolvedTarget {
    const endpoint = inject('dynamodbEndpoint');
    return {
      kind: 'local',
      ...TEST_AWS,
      endpoint,
      outputs,
      clientConfig: () => ({ ...TEST_AWS, endpoint }),
    };
  }

  /** Executions newest first, as ListExecutions answers, in pages of `pageSize`. */
  function stubExecutions(executions: ExecutionListItem[], pageSize = 1000): void {
    const sorted = [...executions].sort(
      (a, b) => (b.startDate?.getTime() ?? 0) - (a.startDate?.getTime() ?? 0),
    );
    sfn.on(ListExecutionsCommand).callsFake((input: { nextToken?: string }) => {
      const from = Number(input.nextToken ?? 0);
      const page = sorted.slice(from, from + pageSize);
      return {
        executions: page,
        ...(from + pageSize < sorted.length ? { nextToken: String(from + pageSize) } : {}),
      };
    });
  }

  const execution = (name: string, startS: number, stopS: number | null, status: string) =>
    ({
      name,
      executionArn: `arn:aws:states:us-east-1:000000000000:execution:OrderSaga:${name}`,
      startDate: new Date(t0 + startS * 1000),
      ...(stopS === null ? {} : { stopDate: new Date(t0 + stopS * 1000) }),
      status,
    }) as ExecutionListItem;

  test('--limit: the newest N, and the total that matched', async () => {
    stubExecutions([]);
    const list = await listOrders(target(), { limit: 20 });
    expect(list.total).toBe(25);
    expect(list.rows.map((r) => r.orderId)).toEqual(ids.slice(5).reverse());
  });

  test('--status: only those statuses (total counts the matches only)', async () => {
    stubExecutions([]);
    const list = await listOrders(target(), { limit: 3, statuses: ['CANCELLED', 'COMPENSATION_FAILED'] });
    expect(list.total).toBe(10);
    expect(list.rows.map((r) => [r.orderId, r.status])).toEqual([
      [ids[23], 'COMPENSATION_FAILED'],
      [ids[21], 'CANCELLED'],
      [ids[18], 'COMPENSATION_FAILED'],
    ]);
  });

  test('--since: only orders created at or after it', async () => {
    stubExecutions([]);
    const list = await listOrders(target(), { limit: 20, since: t0 + 22_000 });
    expect(list.total).toBe(3);
    expect(list.rows.map((r) => r.orderId)).toEqual([ids[24], ids[23], ids[22]]);
    expect(await listOrders(target(), { limit: 20, since: t0 + 60_000 })).toEqual({ rows: [], total: 0 });
  });

  test("each row: the order's latest execution and how many it has; injected failures, else the order's flags", async () => {
    const [a, b] = [ids[24] ?? '', ids[23] ?? ''];
    stubExecutions(
      [
        execution(a, 25, 27, 'FAILED'),
        execution(`${a}-replay-x-1`, 100, 101, 'SUCCEEDED'),
        execution(`${a}-replay-x-2`, 90, 95, 'SUCCEEDED'),
        execution(b, 24, null, 'RUNNING'),
        // Older than the oldest listed order's creation, beyond the clock skew allowed for: never read.
        execution('01JD8Z6Q3M4N5P6R7S8T9V0W01', -100, -99, 'SUCCEEDED'),
        execution('01JD8Z6Q3M4N5P6R7S8T9V0W02', -150, -149, 'SUCCEEDED'),
        execution('01JD8Z6Q3M4N5P6R7S8T9V0W03', -200, -199, 'SUCCEEDED'),
        execution('01JD8Z6Q3M4N5P6R7S8T9V0W04', -250, -249, 'SUCCEEDED'),
      ],
      2,
    );
    const list = await listOrders(target(), { limit: 2 });
    expect(list.rows).toEqual([
      {
        orderId: a,
        status: 'PENDING',
        executionStatus: 'SUCCEEDED',
        executionName: `${a}-replay-x-1`,
        executions: 3,
        durationMs: 1000,
        failures: ['payment:transient:2'],
        amount: 4850,
        currency: 'EUR',
        createdAt: iso(24),
      },
      {
        orderId: b,
        status: 'COMPENSATION_FAILED',
        executionStatus: 'RUNNING',
        executionName: b,
        executions: 1,
        durationMs: null,
        failures: [],
        amount: 4850,
        currency: 'EUR',
        createdAt: iso(23),
      },
    ]);
    // Paging stopped once past the oldest listed order (less a minute of clock skew): the 4th page was not read.
    expect(sfn.commandCalls(ListExecutionsCommand).length).toBe(3);
    const injected = await listOrders(target(), { limit: 1, statuses: ['CANCELLED'], since: t0 });
    expect(injected.rows[0]).toMatchObject({ orderId: ids[21], failures: [] });
    const first = await listOrders(target(), { limit: 25 });
    expect(first.rows.find((r) => r.orderId === ids[1])).toMatchObject({ failures: ['inventory:error'] });
  });
});

describe('renderOrderList', () => {
  const row = (i: number, status = 'COMPLETED') => ({
    orderId: `01JD8Z6Q3M4N5P6R7S8T9V0W${String(i).padStart(2, '0')}`,
    status,
    executionStatus: 'SUCCEEDED',
    executionName: `01JD8Z6Q3M4N5P6R7S8T9V0W${String(i).padStart(2, '0')}`,
    executions: 1,
    durationMs: 2020,
    failures: [],
    amount: 4850,
    currency: 'EUR',
    createdAt: '2026-12-03T10:00:00.000Z',
  });

  async function render(list: OrderList, options: LsOptions, args: LsArguments, json = false) {
    const stdout = new CapturedStream();
    const stderr = new CapturedStream();
    const out = await Output.create({ stdout, stderr, json, color: false, interactive: false });
    renderOrderList(out, list, options, args);
    return stdout.text();
  }

  test('more match than shown: "2 of 57 orders", and the command that lists them all, filters kept', async () => {
    const text = await render(
      { rows: [row(1, 'CANCELLED'), { ...row(2, 'CANCELLED'), executions: 3 }], total: 57 },
      { limit: 2, statuses: ['CANCELLED'], since: Date.parse('2026-12-03T09:55:00Z') },
      { limit: 2, status: 'cancelled', since: '5m' },
    );
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^order\s+status\s+execution\s+duration/);
    expect(lines[2]).toContain('SUCCEEDED (latest of 3)');
    expect(lines[1]).not.toContain('latest of');
    expect(lines.at(-1)).toBe(
      '2 of 57 orders with status CANCELLED, created since 2026-12-03T09:55:00Z (the last 5m), newest ' +
        'first. `saga ls --status CANCELLED --since 5m --limit 57` lists them all.',
    );
  });

  test('all shown: the count only', async () => {
    const text = await render({ rows: [row(1)], total: 1 }, { limit: 20 }, { limit: 20 });
    expect(text.trimEnd().split('\n').at(-1)).toBe('1 order.');
  });

  test('nothing matches the filters: says so and how to see every order', async () => {
    const text = await render(
      { rows: [], total: 0 },
      { limit: 20, statuses: ['FAILED'] },
      { limit: 20, status: 'FAILED' },
    );
    expect(text).toBe('No orders with status FAILED. saga ls without filters lists every order.\n');
    expect(await render({ rows: [], total: 0 }, { limit: 20 }, { limit: 20 })).toContain('No orders yet');
  });

  test('--json: one "order" line per row (the old fields kept), then the summary with shown and total', async () => {
    const text = await render(
      { rows: [row(1), row(2)], total: 5 },
      { limit: 2, statuses: ['COMPLETED'], since: Date.parse('2026-12-03T09:00:00Z') },
      { limit: 2, status: 'COMPLETED', since: '2026-12-03T09:00:00Z' },
      true,
    );
    const lines = text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toEqual({ type: 'order', ...row(1) });
    expect(lines.at(-1)).toEqual({
      type: 'summary',
      shown: 2,
      total: 5,
      limit: 2,
      statuses: ['COMPLETED'],
      since: '2026-12-03T09:00:00.000Z',
    });
  });
});

describe('saga ls (the command line)', () => {
  test('--status with an unknown status: exit 2 naming the valid ones, before looking for the stack', async () => {
    const cwd = await tempProject();
    const result = await runCli(['ls', '--status', 'DONE'], { cwd });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Unknown order status "DONE" in --status');
    expect(result.stderr).toContain('PENDING, CANCELLING, COMPLETED, CANCELLED, FAILED, COMPENSATION_FAILED');
  });

  test('--since with a bad value: exit 2 with what was received and the accepted forms (also under --json)', async () => {
    const cwd = await tempProject();
    const result = await runCli(['ls', '--since', 'last tuesday', '--json'], { cwd });
    expect(result.code).toBe(2);
    const error = JSON.parse(result.stderr.trim()) as { type: string; message: string };
    expect(error.type).toBe('error');
    expect(error.message).toContain('received "last tuesday"');
    expect(error.message).toContain('10m, 2h, 1d');
  });

  test('good filters go on to the stack (exit 3 here: no local cloud)', async () => {
    const cwd = await tempProject();
    const result = await runCli(['ls', '--status', 'cancelled', '--since', '5m', '--limit', '2'], { cwd });
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/local cloud is not running/);
  });

  test('--help names the filters and the statuses', async () => {
    const cwd = await tempProject();
    const result = await runCli(['ls', '--help'], { cwd });
    expect(result.stdout).toContain('--status <statuses>');
    expect(result.stdout).toContain('COMPENSATION_FAILED');
    expect(result.stdout).toContain('--since <when>');
    expect(result.stdout).toContain('$ saga ls --since 10m --limit 50');
  });
});
