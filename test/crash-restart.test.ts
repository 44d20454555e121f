/**
 * Crash and restart (issue "prove it under faults"): a local cloud of its own, with sagas in flight and outbox
 * records half published, is killed with SIGKILL (no chance to stop cleanly) and started again on the same project
 * folder. What was committed must survive; what was running carries on after the restart, as on AWS (from the state
 * it was in; the task the kill interrupted runs again, answered idempotently) and finishes on its own without
 * repeating a step, design §4b's invariants intact; what the outbox had not published yet is published after the
 * restart (the stream mapping resumes from its checkpoint), once.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import {
  DescribeExecutionCommand,
  ExecutionDoesNotExist,
  type HistoryEvent,
  SFNClient,
} from '@aws-sdk/client-sfn';
import {
  type LocalCloudState,
  localCloudPaths,
  startLocalCloudDetached,
  stopLocalCloud,
} from '@saga/local-cloud';
import { ulid } from 'ulid';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  executionArnFor,
  listAllExecutions,
  readHistory,
  waitForExecutionToEnd,
  waitForExecutionToExist,
} from '../cli/target/executions.ts';
import { callApi } from '../cli/target/http.ts';
import { checkInvariants } from '../cli/target/invariants.ts';
import { type Ledger, readLedger } from '../cli/target/ledger.ts';
import { readOrderLogs } from '../cli/target/logs.ts';
import { CDK_OUT } from '../cli/target/project.ts';
import { type ResolvedTarget, resolveTarget } from '../cli/target/target.ts';
import { deleteFailureFlag, type FailSpec, writeFailureFlag } from '../services/shared/failure-flags.ts';
import { runCli } from './support/cli.ts';

/**
 * Lambda timeouts ×2 (10 s → 20 s): the shipping latency below must keep sagas in flight until the kill on a loaded
 * machine, and a latency has to stay under the function's timeout or the task times out instead.
 */
const TIME_SCALE = 2;
const SHIP_LATENCY_MS = 15_000;
const PUBLISHER_LATENCY_MS = 12_000;
const ITEMS = [
  { sku: 'espresso-beans', qty: 1 },
  { sku: 'ceramic-mug', qty: 2 },
];

let projectDir: string;
let target: ResolvedTarget;
let ddb: DynamoDBClient;
let sfn: SFNClient;

/** Orders that finished before the kill, with what they looked like then. */
const finished: { orderId: string; ledger: Ledger; status: string; history: HistoryEvent[] }[] = [];
/** Orders whose saga was in ShipOrder (sleeping on a latency flag) when the cloud was killed. */
const inFlight: { orderId: string; ledger: Ledger }[] = [];
/** Orders committed whose outbox record the publisher was still holding (latency flag) when the cloud was killed. */
const unpublished: string[] = [];
let killedPid: number;
let leftovers: number[];
let leftoversAliveAfterKill: boolean;
let killedAt: number;
let restarted: LocalCloudState;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function connect(): void {
  sfn = new SFNClient(target.clientConfig());
  ddb = new DynamoDBClient(target.clientConfig());
}

/** Alive and not a zombie. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/** The other members of a process group (the cloud's children: DynamoDB Local's JVM). */
function groupMembers(pgid: number): number[] {
  const ps = spawnSync('ps', ['-A', '-o', 'pid=,pgid='], { encoding: 'utf8' });
  return ps.stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number))
    .filter(([pid, group]) => group === pgid && pid !== pgid)
    .map(([pid]) => pid as number);
}

async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(250);
  }
}

async function place(orderId: string, flags: readonly FailSpec[] = []): Promise<void> {
  for (const flag of flags) {
    await writeFailureFlag(ddb, target.outputs.FailureFlagsTableName, { orderId }, flag);
  }
  const response = await callApi(target, 'POST', '/orders', {
    body: { orderId, customerId: 'cust-crash', items: ITEMS, currency: 'EUR' },
  });
  expect(response.status, response.text).toBe(202);
}

async function history(orderId: string): Promise<HistoryEvent[]> {
  return await readHistory(sfn, executionArnFor(target, orderId));
}

async function orderStatus(orderId: string): Promise<string | undefined> {
  const { Item } = await ddb.send(
    new GetItemCommand({
      TableName: target.outputs.OrdersTableName,
      Key: { pk: { S: `ORDER#${orderId}` }, sk: { S: 'ORDER' } },
      ConsistentRead: true,
    }),
  );
  return Item?.status?.S;
}

async function executionsNamed(names: readonly string[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>(names.map((name) => [name, 0]));
  for (const e of await listAllExecutions(sfn, target.outputs.StateMachineArn)) {
    if (e.name && counts.has(e.name)) counts.set(e.name, (counts.get(e.name) ?? 0) + 1);
  }
  return counts;
}

async function executionExists(orderId: string): Promise<boolean> {
  try {
    await sfn.send(new DescribeExecutionCommand({ executionArn: executionArnFor(target, orderId) }));
    return true;
  } catch (error) {
    if (error instanceof ExecutionDoesNotExist) return false;
    throw error;
  }
}

/** The publisher's "Failure flag active" lines for an order: the record is inside a publisher invocation. */
async function publisherPickups(orderId: string, since = 0): Promise<number> {
  const lines = await readOrderLogs(target, orderId, { startTime: since });
  return lines.filter(
    (l) =>
      l.functionName.includes('OutboxPublisher') &&
      l.message === 'Failure flag active' &&
      l.timestamp >= since,
  ).length;
}

beforeAll(async () => {
  projectDir = await mkdtemp(join(tmpdir(), 'saga-crash-'));
  const startedAt = Date.now();
  const first = await startLocalCloudDetached({ projectDir, cdkOut: CDK_OUT, timeScale: TIME_SCALE });
  target = await resolveTarget(projectDir, { target: 'local' });
  connect();

  // 1. Two orders that finish before the crash.
  const finishedIds = [ulid(), ulid()];
  await Promise.all(finishedIds.map((id) => place(id)));
  for (const orderId of finishedIds) {
    const end = await waitForExecutionToExist(sfn, executionArnFor(target, orderId)).then(() =>
      waitForExecutionToEnd(sfn, executionArnFor(target, orderId), { timeoutMs: 90_000 }),
    );
    expect(end.status).toBe('SUCCEEDED');
    finished.push({
      orderId,
      ledger: await readLedger(target, orderId, ddb),
      status: (await orderStatus(orderId)) ?? 'MISSING',
      history: await history(orderId),
    });
  }

  // 2. Two orders whose saga will sleep in ShipOrder (charged and reserved, not shipped), and, as soon as those are
  // published, two orders whose outbox record the publisher holds (it sleeps before PutEvents). Both waits below
  // then overlap, so the kill comes early in the shipping latency.
  const inFlightIds = [ulid(), ulid()];
  await Promise.all(
    inFlightIds.map((id) => place(id, [{ step: 'shipping', mode: 'latency', latencyMs: SHIP_LATENCY_MS }])),
  );
  for (const orderId of inFlightIds) {
    await waitFor(`${orderId} to be published`, 60_000, async () =>
      (await executionExists(orderId)) ? true : undefined,
    );
  }
  unpublished.push(ulid(), ulid());
  await Promise.all(
    unpublished.map((id) =>
      place(id, [{ step: 'publisher', mode: 'latency', latencyMs: PUBLISHER_LATENCY_MS }]),
    ),
  );
  for (const orderId of inFlightIds) {
    await waitFor(`${orderId} to enter ShipOrder`, 60_000, async () =>
      (await history(orderId)).some((e) => e.stateEnteredEventDetails?.name === 'ShipOrder')
        ? true
        : undefined,
    );
  }
  await waitFor('the publisher to hold an outbox record', 30_000, async () =>
    (await Promise.all(unpublished.map((id) => publisherPickups(id)))).some((n) => n > 0) ? true : undefined,
  );
  for (const orderId of unpublished) expect(await executionExists(orderId)).toBe(false);
  for (const orderId of inFlightIds) {
    const { status } = await sfn.send(
      new DescribeExecutionCommand({ executionArn: executionArnFor(target, orderId) }),
    );
    expect(status, `${orderId} finished before the kill; the shipping latency is too short`).toBe('RUNNING');
    inFlight.push({ orderId, ledger: await readLedger(target, orderId, ddb) });
  }

  // 4. SIGKILL the cloud's main process only: its DynamoDB Local child is left running, as after a real crash.
  killedPid = first.pid;
  leftovers = groupMembers(killedPid);
  killedAt = Date.now();
  process.kill(killedPid, 'SIGKILL');
  await waitFor('the killed process to die', 10_000, async () => (alive(killedPid) ? undefined : true));
  leftoversAliveAfterKill = leftovers.some(alive);

  // 5. Start again on the same project folder.
  const restartAt = Date.now();
  restarted = await startLocalCloudDetached({ projectDir, cdkOut: CDK_OUT, timeScale: TIME_SCALE });
  console.info(
    `[crash-restart] first start ${Date.parse(first.startedAt) - startedAt} ms; ` +
      `killed pid ${killedPid} with ${leftovers.length} child process(es) left running; restart (reaping them) ${Date.now() - restartAt} ms`,
  );
  target = await resolveTarget(projectDir, { target: 'local' });
  connect();
}, 420_000);

afterAll(async () => {
  if (!projectDir) return;
  await stopLocalCloud({ projectDir, removeData: true });
  await rm(projectDir, { recursive: true, force: true });
}, 60_000);

describe('SIGKILL of the local cloud, then a restart on the same project folder', () => {
  test('the restart reaps the DynamoDB Local the killed process left running and comes up as a new process', () => {
    expect(leftovers.length).toBeGreaterThan(0);
    expect(leftoversAliveAfterKill).toBe(true);
    expect(leftovers.filter(alive)).toEqual([]);
    expect(restarted.pid).not.toBe(killedPid);
    expect(alive(restarted.pid)).toBe(true);
    expect(restarted.dataDir).toBe(localCloudPaths(projectDir).dataDir);
  });

  test('committed orders, ledgers and finished histories survive', async () => {
    for (const f of finished) {
      expect(await orderStatus(f.orderId)).toBe('COMPLETED');
      expect(f.status).toBe('COMPLETED');
      expect(await readLedger(target, f.orderId, ddb)).toEqual(f.ledger);
      expect(f.ledger).toEqual({ charges: 1, refunds: 0, reservations: 2, releases: 0, shipments: 1 });
      expect(await history(f.orderId)).toEqual(f.history);
    }
    for (const f of inFlight) {
      expect(f.ledger).toEqual({ charges: 1, refunds: 0, reservations: 2, releases: 0, shipments: 0 });
      expect(await readLedger(target, f.orderId, ddb)).toEqual(f.ledger);
    }
    // Every committed order is still there, the unpublished ones included.
    for (const orderId of unpublished) expect(await orderStatus(orderId)).toBeDefined();
    // A finished order's stream record was not turned into a second execution by the restart.
    const counts = await executionsNamed(finished.map((f) => f.orderId));
    expect([...counts.values()]).toEqual([1, 1]);
  });

  test('executions in flight carry on after the restart and finish on their own, without repeating a step', async () => {
    // The operator removes the fault (the shipping latency would outlast ShipOrder's 15 s task timeout on every
    // attempt). The task the kill interrupted runs again: while the killed call's in-progress idempotency record
    // lives, ShipOrder is retried (IdempotencyAlreadyInProgressError), then it ships once.
    await Promise.all(
      inFlight.map(({ orderId }) =>
        deleteFailureFlag(ddb, target.outputs.FailureFlagsTableName, { orderId }, 'shipping'),
      ),
    );
    for (const { orderId, ledger } of inFlight) {
      const executionArn = executionArnFor(target, orderId);
      const end = await waitForExecutionToEnd(sfn, executionArn, { timeoutMs: 180_000 });
      expect(end.status, `${orderId}: ${end.error ?? ''} ${end.cause ?? ''}`).toBe('SUCCEEDED');
      expect(end.redriveCount ?? 0).toBe(0);
      expect(await orderStatus(orderId)).toBe('COMPLETED');
      expect(ledger).toEqual({ charges: 1, refunds: 0, reservations: 2, releases: 0, shipments: 0 });
      expect(await readLedger(target, orderId, ddb)).toEqual({
        charges: 1,
        refunds: 0,
        reservations: 2,
        releases: 0,
        shipments: 1,
      });
      // One history, continued: ids one after the other, no redrive, the states that had finished before the kill
      // not entered again, ShipOrder entered again after the restart.
      const events = await history(orderId);
      expect(events.map((e) => e.id)).toEqual(events.map((_, i) => i + 1));
      expect(events.filter((e) => e.type === 'ExecutionStarted')).toHaveLength(1);
      expect(events.some((e) => e.type === 'ExecutionRedriven' || e.type === 'ExecutionFailed')).toBe(false);
      const entered = events.flatMap((e) =>
        e.stateEnteredEventDetails?.name ? [e.stateEnteredEventDetails.name] : [],
      );
      for (const state of ['CheckOrder', 'ChargePayment', 'ReserveInventory']) {
        expect(
          entered.filter((name) => name === state),
          `${orderId} entered ${state}`,
        ).toHaveLength(1);
      }
      expect(entered.filter((name) => name === 'ShipOrder').length).toBeGreaterThanOrEqual(2);
      expect(entered.at(-1)).toBe('OrderCompleted');
    }

    console.info(
      `[crash-restart] the killed executions finished on their own ${Date.now() - killedAt} ms after the kill`,
    );

    // Design §4b over every order the crash touched or that finished before it.
    const results = await checkInvariants(target, [
      ...finished.map(({ orderId }) => ({ orderId, specs: [] })),
      ...inFlight.map(({ orderId }) => ({
        orderId,
        specs: [{ step: 'shipping', mode: 'latency', latencyMs: SHIP_LATENCY_MS } as const],
      })),
    ]);
    const broken = results.filter((r) => !r.ok);
    expect(broken, JSON.stringify(broken, null, 2)).toEqual([]);

    const ls = await runCli(['ls', '--json', '--limit', '50'], { cwd: projectDir });
    expect(ls.code, ls.stderr).toBe(0);
    const rows = ls.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { orderId: string; status: string; executionStatus: string | null });
    for (const { orderId } of inFlight) {
      expect(rows.find((r) => r.orderId === orderId)).toMatchObject({
        status: 'COMPLETED',
        executionStatus: 'SUCCEEDED',
      });
    }

    // Nothing left to do: a replay of one of them changes nothing.
    const again = await runCli(['replay', inFlight[0]?.orderId ?? '', '--json'], { cwd: projectDir });
    expect(again.code, again.stderr).toBe(0);
    const doc = JSON.parse(again.stdout.trim().split('\n')[0] ?? '{}');
    expect(doc).toMatchObject({
      newSideEffects: 0,
      orderStatus: { before: 'COMPLETED', after: 'COMPLETED' },
    });
    expect(doc.after).toEqual(doc.before);
  }, 300_000);

  test('outbox records the publisher had not finished are published after the restart, once each', async () => {
    const since = Date.parse(restarted.startedAt);
    for (const orderId of unpublished) {
      const end = await waitForExecutionToExist(sfn, executionArnFor(target, orderId), {
        timeoutMs: 90_000,
      }).then(() => waitForExecutionToEnd(sfn, executionArnFor(target, orderId), { timeoutMs: 90_000 }));
      expect(end.status).toBe('SUCCEEDED');
      expect(await orderStatus(orderId)).toBe('COMPLETED');
      // Delivered again by the restarted mapping: the publisher picked the record up after the restart.
      expect(await publisherPickups(orderId, since)).toBeGreaterThanOrEqual(1);
    }
    const counts = await executionsNamed(unpublished);
    expect([...counts.values()]).toEqual([1, 1]);
  });
});
