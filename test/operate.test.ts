/**
 * Operating the saga end to end (issue "operate and show"): `ls`, `logs`, `flags`, `doctor`, `bench` and `demo`
 * run in-process against the shared local cloud, and the invariant checker is shown to catch a planted violation.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteItemCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { readLocalCloudState, stopLocalCloud } from '@saga/local-cloud';
import { ulid } from 'ulid';
import { beforeAll, describe, expect, inject, onTestFinished, test } from 'vitest';
import { shortFunctionName } from '../cli/saga/log-tail.ts';
import {
  executionArnFor,
  listAllExecutions,
  waitForExecutionToEnd,
  waitForExecutionToExist,
} from '../cli/target/executions.ts';
import { checkInvariants, type InvariantResult, readStock } from '../cli/target/invariants.ts';
import { readLedger } from '../cli/target/ledger.ts';
import { type ResolvedTarget, resolveTarget } from '../cli/target/target.ts';
import { runCli } from './support/cli.ts';
import { spawnSaga } from './support/saga-process.ts';
import { warmUp } from './support/warm-up.ts';

const cwd = inject('sagaProjectDir');

function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** `saga order --json …`; returns the order id once its saga has ended as the injected failures imply. */
async function order(args: readonly string[]): Promise<string> {
  const result = await runCli(['order', '--json', ...args], { cwd });
  const placed = jsonLines(result.stdout)[0] as { orderId?: string } | undefined;
  if (result.code !== 0 || !placed?.orderId) {
    throw new Error(`saga order ${args.join(' ')} exited ${result.code}: ${result.stderr}\n${result.stdout}`);
  }
  return placed.orderId;
}

let target: ResolvedTarget;

let happyId: string;
let cancelledId: string;

beforeAll(async () => {
  target = await resolveTarget(cwd, {});
  // As many warm sandboxes per function as the bench keeps orders in flight.
  await warmUp(target, 4);
  [happyId, cancelledId] = await Promise.all([order([]), order(['--fail', 'inventory'])]);
});

describe('saga ls and saga logs', () => {
  test('ls --json lists the orders of this file with their status, latest execution and failures, then a summary', async () => {
    // The shared cloud holds the orders of every e2e file: a limit above them all.
    const result = await runCli(['ls', '--json', '--limit', '5000'], { cwd });
    expect(result.code, result.stderr).toBe(0);
    const lines = jsonLines(result.stdout);
    const rows = lines.filter((r) => r.type === 'order');
    expect(rows.find((r) => r.orderId === happyId)).toMatchObject({
      status: 'COMPLETED',
      executionStatus: 'SUCCEEDED',
      executionName: happyId,
      executions: 1,
      failures: [],
      currency: 'EUR',
    });
    expect(rows.find((r) => r.orderId === cancelledId)).toMatchObject({
      status: 'CANCELLED',
      executionStatus: 'FAILED',
      failures: ['inventory:error'],
    });
    // Newest first.
    const created = rows.map((r) => String(r.createdAt));
    expect(created).toEqual([...created].sort().reverse());
    // The last line: how many were shown of how many matched.
    expect(lines.at(-1)).toEqual({ type: 'summary', shown: rows.length, total: rows.length, limit: 5000 });
  });

  test('ls --status, --since, --limit: filters, "N of M orders" and how to see them all', async () => {
    const cancelled = jsonLines(
      (await runCli(['ls', '--status', 'cancelled', '--json', '--limit', '200'], { cwd })).stdout,
    );
    const rows = cancelled.filter((r) => r.type === 'order');
    expect(rows.map((r) => r.orderId)).toContain(cancelledId);
    expect(rows.every((r) => r.status === 'CANCELLED')).toBe(true);
    expect(cancelled.at(-1)).toMatchObject({ type: 'summary', total: rows.length, statuses: ['CANCELLED'] });

    const recent = await runCli(['ls', '--since', '10m', '--limit', '1'], { cwd });
    expect(recent.code, recent.stderr).toBe(0);
    const total = jsonLines((await runCli(['ls', '--since', '10m', '--json'], { cwd })).stdout).at(-1)?.total;
    expect(Number(total)).toBeGreaterThanOrEqual(2);
    const footer = recent.stdout.trimEnd().split('\n').at(-1);
    expect(footer).toMatch(
      new RegExp(`^1 of ${total} orders created since .* \\(the last 10m\\), newest first\\.`),
    );
    expect(footer).toContain(`\`saga ls --since 10m --limit ${total}\` lists them all.`);

    const none = await runCli(['ls', '--since', '2099-01-01T00:00:00Z'], { cwd });
    expect(none.code).toBe(0);
    expect(none.stdout).toContain('No orders created since 2099-01-01T00:00:00Z.');

    const bad = await runCli(['ls', '--status', 'SHIPPED'], { cwd });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('PENDING, CANCELLING, COMPLETED, CANCELLED, FAILED, COMPENSATION_FAILED');
  });

  test('ls shows the latest execution of an order that was replayed, and how many it has', async () => {
    const replayed = await runCli(['replay', happyId, '--json'], { cwd });
    expect(replayed.code, replayed.stderr).toBe(0);
    const rows = jsonLines((await runCli(['ls', '--json', '--limit', '200'], { cwd })).stdout);
    const row = rows.find((r) => r.orderId === happyId);
    expect(row).toMatchObject({ status: 'COMPLETED', executionStatus: 'SUCCEEDED', executions: 2 });
    expect(String(row?.executionName)).toMatch(new RegExp(`^${happyId}-replay-`));
    const table = await runCli(['ls', '--limit', '200'], { cwd });
    expect(table.stdout.split('\n').find((l) => l.startsWith(happyId))).toContain('SUCCEEDED (latest of 2)');
  });

  test('the ORDER row records what was injected when it acted (`injected`), whatever the flags hold now', async () => {
    const ddb = new DynamoDBClient(target.clientConfig());
    const row = async (orderId: string) =>
      (
        await ddb.send(
          new GetItemCommand({
            TableName: target.outputs.OrdersTableName,
            Key: { pk: { S: `ORDER#${orderId}` }, sk: { S: 'ORDER' } },
            ConsistentRead: true,
          }),
        )
      ).Item;
    expect((await row(cancelledId))?.injected?.SS).toEqual(['inventory:error']);
    expect((await row(happyId))?.injected).toBeUndefined();
    // `saga ls` shows what was injected even after the flags are gone.
    const cleared = await runCli(['flags', 'clear', '--order', cancelledId], { cwd });
    expect(cleared.code, cleared.stderr).toBe(0);
    const listed = jsonLines((await runCli(['ls', '--json', '--limit', '200'], { cwd })).stdout);
    expect(listed.find((r) => r.orderId === cancelledId)).toMatchObject({ failures: ['inventory:error'] });
  });

  test("logs <id> --json merges the order's lines from every function, with the Powertools fields, by time", async () => {
    const result = await runCli(['logs', happyId, '--json'], { cwd });
    expect(result.code, result.stderr).toBe(0);
    const lines = jsonLines(result.stdout) as {
      type: string;
      timestamp: number;
      functionName: string;
      level: string;
      message: string;
      service?: string;
      orderId?: string;
      requestId?: string;
      time: string;
      fields: Record<string, unknown>;
    }[];
    expect(lines.every((l) => l.type === 'log' && l.orderId === happyId)).toBe(true);
    // Powertools' own keys on their own, the rest under `fields`.
    for (const line of lines) {
      expect(line.level).toMatch(/^(DEBUG|INFO|WARN|ERROR)$/);
      expect(line.service).toEqual(expect.any(String));
      expect(line.requestId).toEqual(expect.any(String));
      expect(Date.parse(line.time)).not.toBeNaN();
      expect(line.fields).toMatchObject({ function_name: line.functionName });
      expect(line.fields).not.toHaveProperty('orderId');
      expect(line.fields).not.toHaveProperty('level');
    }
    const functions = new Set(lines.map((l) => shortFunctionName(l.functionName)));
    for (const fn of ['Order', 'OutboxPublisher', 'ChargePayment', 'ReserveInventory', 'ShipOrder']) {
      expect(functions).toContain(fn);
    }
    const times = lines.map((l) => l.timestamp);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    // The order service accepted the order before any other function ran for it.
    expect(shortFunctionName(lines[0]?.functionName ?? '')).toBe('Order');
  });

  test('logs <id> --level warn hides the lines below WARN and says how many', async () => {
    const all = jsonLines((await runCli(['logs', cancelledId, '--json'], { cwd })).stdout);
    const warn = jsonLines(
      (await runCli(['logs', cancelledId, '--json', '--level', 'warn'], { cwd })).stdout,
    );
    expect(warn.length).toBeGreaterThan(0);
    expect(warn.length).toBeLessThan(all.length);
    expect(warn.every((l) => l.level === 'WARN' || l.level === 'ERROR')).toBe(true);
    expect(warn).toEqual(all.filter((l) => l.level === 'WARN' || l.level === 'ERROR'));
    const text = await runCli(['logs', cancelledId, '--level', 'WARN'], { cwd });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout.trimEnd().split('\n').at(-1)).toBe(
      `${all.length - warn.length} of ${all.length} lines below WARN hidden.`,
    );
  });

  test('logs --follow (a real process) prints the lines of an order placed meanwhile; Ctrl-C → 130 and what goes on', async () => {
    const saga = spawnSaga(['logs', '--follow', '--json'], cwd);
    onTestFinished(() => {
      saga.child.kill('SIGKILL');
    });
    // Give the follow its first poll, so that the new order's lines come after it started.
    await new Promise((r) => setTimeout(r, 1_500));
    const orderId = await order([]);
    await saga.waitFor(new RegExp(`"message":"ship done"[^\\n]*"orderId":"${orderId}"`), 30_000);
    saga.interrupt();
    const { code } = await saga.exited;
    expect(code, saga.stderr()).toBe(130);
    const lines = jsonLines(saga.stdout());
    expect(lines.every((l) => l.type === 'log' && typeof l.orderId === 'string')).toBe(true);
    // From now on: none of the orders placed before the follow.
    expect(lines.some((l) => l.orderId === happyId || l.orderId === cancelledId)).toBe(false);
    expect(saga.stderr()).toContain('Interrupted (Ctrl-C). Stopped following the logs');
  });
});

describe('saga flags', () => {
  test('set --order, list, clear --order', async () => {
    const orderId = ulid();
    const set = await runCli(['flags', 'set', 'payment:transient:2', '--order', orderId, '--json'], { cwd });
    expect(set.code, set.stderr).toBe(0);
    onTestFinished(async () => {
      await runCli(['flags', 'clear', '--order', orderId], { cwd });
    });
    const listed = jsonLines((await runCli(['flags', '--json'], { cwd })).stdout);
    expect(listed.filter((f) => f.scope === `ORDER#${orderId}`)).toEqual([
      expect.objectContaining({
        type: 'flag',
        step: 'payment',
        spec: 'payment:transient:2',
        mode: 'transient',
        remaining: 2,
      }),
    ]);

    const cleared = await runCli(['flags', 'clear', '--order', orderId, '--json'], { cwd });
    expect(cleared.code, cleared.stderr).toBe(0);
    expect(jsonLines(cleared.stdout)).toEqual([{ type: 'cleared', count: 1 }]);
    const after = jsonLines((await runCli(['flags', '--json'], { cwd })).stdout);
    expect(after.filter((f) => f.scope === `ORDER#${orderId}`)).toEqual([]);
  });

  test('set --global --rate, list, clear (no GLOBAL flag is left behind)', async () => {
    const set = await runCli(['flags', 'set', 'publisher:error', '--global', '--rate', '0.5', '--json'], {
      cwd,
    });
    onTestFinished(async () => {
      await runCli(['flags', 'clear', 'publisher', '--global'], { cwd });
    });
    expect(set.code, set.stderr).toBe(0);
    const listed = jsonLines((await runCli(['flags', '--json'], { cwd })).stdout);
    expect(listed.filter((f) => f.scope === 'GLOBAL' && f.step === 'publisher')).toEqual([
      expect.objectContaining({ spec: 'publisher:error', mode: 'error', rate: 0.5 }),
    ]);

    const cleared = await runCli(['flags', 'clear', 'publisher', '--global', '--json'], { cwd });
    expect(cleared.code, cleared.stderr).toBe(0);
    expect(jsonLines(cleared.stdout)).toEqual([{ type: 'cleared', count: 1 }]);
    const after = jsonLines((await runCli(['flags', '--json'], { cwd })).stdout);
    expect(after.filter((f) => f.scope === 'GLOBAL')).toEqual([]);
  });

  test('--rate with --order is accepted and stored; a rate outside 0..1 is exit 2 and writes nothing', async () => {
    const orderId = ulid();
    const set = await runCli(
      ['flags', 'set', 'payment:transient:2', '--order', orderId, '--rate', '0.5', '--json'],
      { cwd },
    );
    onTestFinished(async () => {
      await runCli(['flags', 'clear', '--order', orderId], { cwd });
    });
    expect(set.code, set.stderr).toBe(0);
    const listed = jsonLines((await runCli(['flags', '--json'], { cwd })).stdout);
    expect(listed.filter((f) => f.scope === `ORDER#${orderId}`)).toEqual([
      expect.objectContaining({ step: 'payment', mode: 'transient', remaining: 2, rate: 0.5 }),
    ]);

    const other = ulid();
    const bad = await runCli(['flags', 'set', 'payment', '--order', other, '--rate', '1.5'], { cwd });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--rate must be between 0 and 1; received "1.5"');
    const after = jsonLines((await runCli(['flags', '--json'], { cwd })).stdout);
    expect(after.filter((f) => f.scope === `ORDER#${other}`)).toEqual([]);
  });
});

describe('saga doctor', () => {
  test('reports the running local cloud as ok and exits 0', async () => {
    const result = await runCli(['doctor', '--json'], { cwd });
    expect(result.code, result.stdout).toBe(0);
    const checks = jsonLines(result.stdout);
    expect(checks.find((c) => c.name === 'Local cloud')).toMatchObject({ status: 'ok' });
    expect(String(checks.find((c) => c.name === 'Local cloud')?.detail)).toContain(target.endpoint ?? '');
    expect(checks.some((c) => c.status === 'fail')).toBe(false);
  });
});

describe('saga bench and the invariants', () => {
  test('12 orders with a failure mix: every invariant holds and the statuses match the mix', async () => {
    const result = await runCli(
      [
        'bench',
        '--orders',
        '12',
        '--concurrency',
        '4',
        '--mix',
        'none=2,inventory=1,payment:transient:2=1',
        '--json',
      ],
      { cwd },
    );
    expect(result.code, `${result.stderr}\n${result.stdout}`).toBe(0);
    const bench = jsonLines(result.stdout).find((l) => l.type === 'bench') as {
      orders: number;
      statuses: Record<string, number>;
      invariants: InvariantResult[];
      violations: number;
    };
    expect(bench.orders).toBe(12);
    expect(bench.invariants.map((i) => i.id)).toEqual(['expected', 'I1', 'I2', 'I3', 'I4', 'I5', 'I6', 'I7']);
    expect(bench.invariants.filter((i) => !i.ok)).toEqual([]);
    expect(bench.violations).toBe(0);
    // none and payment:transient:2 complete (SUCCEEDED), inventory is compensated (execution FAILED): 9 + 3.
    expect(bench.statuses).toEqual({ SUCCEEDED: 9, FAILED: 3 });
  });

  test('more orders than the stock can serve: exit 2 naming the short SKUs, and no order placed', async () => {
    const sfn = new SFNClient(target.clientConfig());
    const before = await listAllExecutions(sfn, target.outputs.StateMachineArn);
    const result = await runCli(['bench', '--orders', '100000', '--json'], { cwd });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /Not enough stock for 100000 orders \(espresso-beans: 33334 needed, \d+ in stock;/,
    );
    expect(result.stderr).toContain('saga destroy --yes && saga deploy');
    expect(await listAllExecutions(sfn, target.outputs.StateMachineArn)).toHaveLength(before.length);
  });

  test('a planted extra REFUND row and a planted RESERVATION row break the right invariants', async () => {
    const ddb = new DynamoDBClient(target.clientConfig());
    const sfn = new SFNClient(target.clientConfig());
    const items = [{ sku: 'paper-filters', qty: 1 }];
    const stockBefore = await readStock(target, ddb);
    const orderId = await order(['--items', 'paper-filters:1', '--no-watch']);
    const arn = executionArnFor(target, orderId);
    await waitForExecutionToExist(sfn, arn);
    expect((await waitForExecutionToEnd(sfn, arn)).status).toBe('SUCCEEDED');
    const placed = [{ orderId, specs: [], items }];
    expect((await checkInvariants(target, placed, stockBefore)).filter((i) => !i.ok)).toEqual([]);

    const refund = {
      TableName: target.outputs.PaymentsTableName,
      Item: {
        pk: { S: `ORDER#${orderId}` },
        sk: { S: 'REFUND' },
        amount: { N: '650' },
        chargeId: { S: 'planted' },
      },
    };
    await ddb.send(new PutItemCommand(refund));
    onTestFinished(async () => {
      await ddb.send(
        new DeleteItemCommand({
          TableName: refund.TableName,
          Key: { pk: refund.Item.pk, sk: refund.Item.sk },
        }),
      );
    });
    const afterRefund = await checkInvariants(target, placed, stockBefore);
    const broken = afterRefund.filter((i) => !i.ok);
    expect(broken.map((i) => i.id)).toEqual(['I2']);
    expect(broken[0]?.orders).toEqual([orderId]);
    expect(broken[0]?.detail).toBe(`${orderId}: COMPLETED: charged 650 − refunded 650 ≠ 650`);

    const reservation = {
      TableName: target.outputs.InventoryTableName,
      Item: { pk: { S: `ORDER#${orderId}` }, sk: { S: 'RESERVATION#pour-over-kettle' }, qty: { N: '1' } },
    };
    await ddb.send(new PutItemCommand(reservation));
    onTestFinished(async () => {
      await ddb.send(
        new DeleteItemCommand({
          TableName: reservation.TableName,
          Key: { pk: reservation.Item.pk, sk: reservation.Item.sk },
        }),
      );
    });
    const afterReservation = await checkInvariants(target, placed, stockBefore);
    // The REFUND row is still there: I2 stays broken, and the reservation breaks I3, for the order and the SKU.
    expect(afterReservation.filter((i) => !i.ok).map((i) => i.id)).toEqual(['I2', 'I3']);
    const stock = afterReservation.find((i) => i.id === 'I3');
    expect(stock?.orders).toEqual([orderId]);
    expect(stock?.detail).toContain(`${orderId}: COMPLETED: pour-over-kettle net reserved 1 ≠ 0`);
    expect(stock?.detail).toContain('SKU pour-over-kettle: stock fell by 0, reservations − releases = 1');
  });
});

describe('saga demo', () => {
  test('--json: every chapter ends as its story says; each replay is answered by the layer it names', async () => {
    const result = await runCli(['demo', '--json'], { cwd });
    expect(result.code, `${result.stderr}\n${result.stdout}`).toBe(0);
    const demo = jsonLines(result.stdout).find((l) => l.type === 'demo') as {
      chapters: { title: string; orderId: string; orderStatus: string; ok: boolean }[];
      replay: {
        orderId: string;
        runs: {
          via: string;
          times: number;
          expired: number;
          layer: string;
          answeredBy: Record<string, number>;
          newSideEffects: number;
          orderStatus: { before: string; after: string };
          ok: boolean;
        }[];
        newSideEffects: number;
        verdict: string;
      };
    };
    expect(demo.chapters.map((c) => c.orderStatus)).toEqual([
      'COMPLETED',
      'CANCELLED',
      'COMPLETED',
      'COMPLETED',
    ]);
    expect(demo.chapters.every((c) => c.ok)).toBe(true);
    const happyId = demo.chapters[0]?.orderId;
    expect(demo.replay).toMatchObject({ orderId: happyId, newSideEffects: 0, verdict: 'idempotent' });
    expect(
      demo.replay.runs.map(({ via, times, expired, layer, ok }) => ({ via, times, expired, layer, ok })),
    ).toEqual([
      { via: 'sfn', times: 3, expired: 0, layer: 'guard', ok: true },
      { via: 'steps', times: 1, expired: 0, layer: 'idempotencyStore', ok: true },
      { via: 'steps', times: 1, expired: 3, layer: 'ledger', ok: true },
    ]);
    expect(demo.replay.runs.map((r) => r.answeredBy)).toEqual([
      { guard: 3, idempotencyStore: 0, ledger: 0, nameDedupe: 0 },
      { guard: 0, idempotencyStore: 3, ledger: 0, nameDedupe: 0 },
      { guard: 0, idempotencyStore: 0, ledger: 3, nameDedupe: 0 },
    ]);
    for (const run of demo.replay.runs) {
      expect(run.newSideEffects).toBe(0);
      expect(run.orderStatus).toEqual({ before: 'COMPLETED', after: 'COMPLETED' });
    }
    // Read independently of the demo: the happy order still has one charge, two reservations, one shipment.
    expect(await readLedger(target, happyId ?? '')).toEqual({
      charges: 1,
      refunds: 0,
      reservations: 2,
      releases: 0,
      shipments: 1,
    });
  });
});

/** Waits until no execution of the saga runs (what an interrupted command left in flight has settled). */
async function settled(): Promise<void> {
  const sfn = new SFNClient(target.clientConfig());
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    const running = (await listAllExecutions(sfn, target.outputs.StateMachineArn)).filter(
      (e) => e.status === 'RUNNING',
    );
    if (running.length === 0) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error('executions still running 90 s after the interrupted command');
}

describe('Ctrl-C (SIGINT to a real saga process): exit 130 at once, saying what goes on without it', () => {
  test('bench: stops placing orders, exit 130, names the orders placed and `saga ls`', async () => {
    const saga = spawnSaga(['bench', '--orders', '40', '--concurrency', '2'], cwd);
    onTestFinished(() => {
      saga.child.kill('SIGKILL');
    });
    await saga.waitFor(/Placing 40 orders/);
    await new Promise((r) => setTimeout(r, 1_500));
    const sent = Date.now();
    saga.interrupt();
    const { code, at } = await saga.exited;
    expect(code, saga.stderr()).toBe(130);
    expect(at - sent).toBeLessThan(3_000);
    const placed = Number(/The (\d+) order\(s\) placed so far go on in the cloud/.exec(saga.stderr())?.[1]);
    expect(placed).toBeGreaterThan(0);
    expect(placed).toBeLessThan(40);
    expect(saga.stderr()).toContain('Interrupted (Ctrl-C).');
    expect(saga.stderr()).toContain('`saga ls` lists them');
    expect(saga.stdout()).not.toContain('orders/s');
    await settled();
  });

  test('demo: exit 130 during the first chapter, naming the order and `saga watch <id>`', async () => {
    const saga = spawnSaga(['demo'], cwd);
    onTestFinished(() => {
      saga.child.kill('SIGKILL');
    });
    const [, orderId] = await saga.waitFor(/order ([0-9A-HJKMNP-TV-Z]{26})/);
    saga.interrupt();
    const { code } = await saga.exited;
    expect(code, saga.stderr()).toBe(130);
    expect(saga.stderr()).toContain(`\`saga watch ${orderId}\` follows it`);
    expect(saga.stdout()).not.toContain('2. Inventory fails');
    await settled();
  });

  test.each([
    ['SIGINT to the process', false],
    ['Ctrl-C typed on a real terminal (pty), under its spinner', true],
  ])(
    'deploy, %s: exit 130 while the local cloud starts, saying it goes on starting and how to stop it',
    async (_how, pty) => {
      const project = await mkdtemp(join(tmpdir(), 'saga-deploy-int-'));
      onTestFinished(async () => {
        await stopLocalCloud({ projectDir: project, removeData: true });
        await rm(project, { recursive: true, force: true });
      });
      const saga = spawnSaga(['deploy'], project, { pty });
      onTestFinished(() => {
        saga.child.kill('SIGKILL');
      });
      await saga.waitFor(/Starting the local cloud/);
      const sent = Date.now();
      saga.interrupt();
      const { code, at } = await saga.exited;
      const output = saga.stdout() + saga.stderr(); // one stream on a terminal
      expect(code, output).toBe(130);
      expect(at - sent).toBeLessThan(3_000);
      expect(output).toContain('Interrupted (Ctrl-C). The local cloud goes on starting in the background');
      expect(output).toContain('`saga destroy` stops it');
      expect(output).not.toContain('Local cloud up');
    },
  );
});

describe('saga deploy on a running cloud, and a port in use (a separate project and cloud)', () => {
  test('same settings → "already running", nothing restarted; new --time-scale → restarted, saying what changed', async () => {
    const project = await mkdtemp(join(tmpdir(), 'saga-deploy-again-'));
    onTestFinished(async () => {
      await stopLocalCloud({ projectDir: project, removeData: true });
      await rm(project, { recursive: true, force: true });
    });
    const first = await runCli(['deploy', '--json'], { cwd: project });
    expect(first.code, first.stderr).toBe(0);
    const started = JSON.parse(first.stdout) as { action: string; endpoint: string; timeScale: number };
    expect(started).toMatchObject({ action: 'started', timeScale: 0.1 });
    const pid = (await readLocalCloudState(project))?.pid;

    const again = await runCli(['deploy'], { cwd: project });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(
      `The local cloud is already running with these settings at ${started.endpoint} (time scale 0.1`,
    );
    expect(again.stdout).toContain('nothing was restarted');
    expect(again.stdout).not.toContain('Starting the local cloud');
    expect((await readLocalCloudState(project))?.pid).toBe(pid);

    const port = Number(new URL(started.endpoint).port);
    const rescaled = await runCli(['deploy', '--time-scale', '1', '--edge-port', String(port)], {
      cwd: project,
    });
    expect(rescaled.code, rescaled.stderr).toBe(0);
    expect(rescaled.stdout).toContain('Restarting the local cloud: time scale 0.1 → 1');
    expect(rescaled.stdout).not.toContain('edge port');
    const state = await readLocalCloudState(project);
    expect(state?.pid).not.toBe(pid);
    expect(state?.timeScale).toBe(1);
  });

  test('--edge-port on a port another program holds → exit 3, a plain message, no stack, no old log', async () => {
    const project = await mkdtemp(join(tmpdir(), 'saga-deploy-port-'));
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    onTestFinished(async () => {
      server.close();
      await stopLocalCloud({ projectDir: project, removeData: true });
      await rm(project, { recursive: true, force: true });
    });
    const port = (server.address() as { port: number }).port;
    const result = await runCli(['deploy', '--edge-port', String(port)], { cwd: project });
    expect(result.code, result.stderr).toBe(3);
    expect(result.stderr).toContain(`could not listen on port ${port}: another program uses it`);
    expect(result.stderr).toContain('Pass another --edge-port, or leave it out to use a free port');
    expect(result.stderr).not.toContain('Unexpected error');
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(result.stderr).not.toContain('Last lines of');
  });
});
