/**
 * Races made to happen, not hoped for (design §4a rule 2), on a local cloud of its own at real time (time scale
 * 1: 10 s Lambda timeouts, so a step can be held for seconds without timing out). The order row serializes the
 * commit points: a forward side effect commits only while the order is PENDING, and the decision to compensate is
 * one transaction (PENDING → CANCELLING, and no shipment). Execution A is held inside ShipOrder (a latency flag,
 * read before its commit), and the decision is taken with the very transaction the saga's CancelOrder state runs —
 * as a second execution whose shipping failed would. (A second execution cannot take it itself while A holds the
 * shipment's idempotency key: Powertools answers it IdempotencyAlreadyInProgressError until A is done — the first
 * layer serializes them; the decision is what remains when that layer is gone, e.g. after the record expired.)
 * - decided while A sleeps: A's late commit is refused; CANCELLED, nothing shipped, refunded, stock back;
 * - decided right after A's commit: the decision is refused; COMPLETED, shipped once, nothing refunded;
 * - two executions of one order at once, no fault: one charge, one reservation, one shipment, COMPLETED.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  GetExecutionHistoryCommand,
  type HistoryEvent,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { startLocalCloudDetached, stopLocalCloud } from '@saga/local-cloud';
import { ulid } from 'ulid';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { executionArnFor, waitForExecutionToEnd, waitForExecutionToExist } from '../cli/target/executions.ts';
import { callApi } from '../cli/target/http.ts';
import { readStock } from '../cli/target/invariants.ts';
import { CDK_OUT } from '../cli/target/project.ts';
import { takeCancelDecision } from '../cli/target/rerun.ts';
import { type ResolvedTarget, resolveTarget } from '../cli/target/target.ts';
import { findCatalogItem } from '../services/shared/catalog.ts';
import { parseFailSpec, writeFailureFlag } from '../services/shared/failure-flags.ts';
import { orderRows, type Row } from './support/saga-rows.ts';

const ITEMS = [{ sku: 'paper-filters', qty: 2 }];
const AMOUNT = 2 * (findCatalogItem('paper-filters')?.priceCents ?? Number.NaN);
/** How long execution A sleeps in ShipOrder before its commit: well under the 10 s Lambda timeout. */
const HOLD_MS = 4000;

let projectDir = '';
let target: ResolvedTarget;
let ddb: DynamoDBClient;
let sfn: SFNClient;

beforeAll(async () => {
  projectDir = await mkdtemp(join(tmpdir(), 'saga-races-'));
  await startLocalCloudDetached({ projectDir, cdkOut: CDK_OUT, timeScale: 1 });
  target = await resolveTarget(projectDir, { target: 'local' });
  ddb = new DynamoDBClient(target.clientConfig());
  sfn = new SFNClient(target.clientConfig());
}, 180_000);

afterAll(async () => {
  if (!projectDir) return;
  await stopLocalCloud({ projectDir, removeData: true });
  await rm(projectDir, { recursive: true, force: true });
}, 60_000);

const rowsOf = (table: string, orderId: string): Promise<Row[]> => orderRows(ddb, table, orderId);

async function history(executionArn: string): Promise<HistoryEvent[]> {
  const { events = [] } = await sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000 }));
  return events;
}

async function place(orderId: string): Promise<string> {
  const placed = await callApi(target, 'POST', '/orders', {
    body: { orderId, customerId: 'c-races', items: ITEMS, currency: 'EUR' },
  });
  expect(placed.status, placed.text).toBe(202);
  const arn = executionArnFor(target, orderId);
  await waitForExecutionToExist(sfn, arn, { timeoutMs: 60_000 });
  return arn;
}

/** A second execution of the order, with the input the outbox gave the first one. */
async function startSecond(orderId: string, name: string): Promise<string> {
  const input = JSON.stringify({
    orderId,
    customerId: 'c-races',
    items: ITEMS,
    amount: AMOUNT,
    currency: 'EUR',
  });
  const started = await sfn.send(
    new StartExecutionCommand({ stateMachineArn: target.outputs.StateMachineArn, name, input }),
  );
  return started.executionArn ?? '';
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The saga's cancel decision (state CancelOrder's transaction): PENDING → CANCELLING, only if nothing was shipped. */
const decideToCancel = (orderId: string) => takeCancelDecision(target, ddb, orderId);

/** Places an order whose ShipOrder sleeps HOLD_MS before its commit, and waits until it is in there. */
async function placeHeldInShipOrder(orderId: string): Promise<string> {
  await writeFailureFlag(
    ddb,
    target.outputs.FailureFlagsTableName,
    { orderId },
    parseFailSpec(`shipping:latency:${HOLD_MS}`),
  );
  const arn = await place(orderId);
  await waitUntil('execution A runs ShipOrder', async () =>
    (await history(arn)).some((e) => e.stateEnteredEventDetails?.name === 'ShipOrder'),
  );
  return arn;
}

async function ledgerOf(orderId: string) {
  const [orders, payments, inventory, shipments] = await Promise.all([
    rowsOf(target.outputs.OrdersTableName, orderId),
    rowsOf(target.outputs.PaymentsTableName, orderId),
    rowsOf(target.outputs.InventoryTableName, orderId),
    rowsOf(target.outputs.ShipmentsTableName, orderId),
  ]);
  return {
    status: orders.find((r) => r.sk?.S === 'ORDER')?.status?.S,
    payments: payments.map((r) => r.sk?.S).sort(),
    refunded: payments.find((r) => r.sk?.S === 'REFUND')?.amount?.N,
    inventory: inventory.map((r) => r.sk?.S).sort(),
    shipments: shipments.length,
  };
}

test('a late commit after the cancel decision is refused: CANCELLED, nothing shipped, refunded, stock back', async () => {
  const orderId = ulid();
  const stockBefore = await readStock(target);
  const a = await placeHeldInShipOrder(orderId);
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(await decideToCancel(orderId)).toBe('decided');
  const end = await waitForExecutionToEnd(sfn, a, { timeoutMs: 90_000 });
  expect(end.status).toBe('FAILED');
  expect(await ledgerOf(orderId)).toEqual({
    status: 'CANCELLED',
    payments: ['CHARGE', 'REFUND'],
    refunded: String(AMOUNT),
    inventory: ['RELEASE#paper-filters', 'RESERVATION#paper-filters'],
    shipments: 0,
  });
  expect(await readStock(target)).toEqual(stockBefore);
  // A's commit was refused by the order guard; A went back to CheckOrder and ran the compensations.
  const events = await history(a);
  const failed = events.flatMap((e) => (e.type === 'TaskFailed' ? [e.taskFailedEventDetails?.error] : []));
  expect(failed).toEqual(['OrderNotPending']);
  const entered = events.flatMap((e) =>
    e.stateEnteredEventDetails ? [e.stateEnteredEventDetails.name] : [],
  );
  expect(entered.slice(entered.indexOf('ShipOrder'))).toEqual([
    'ShipOrder',
    'CheckOrder',
    'RouteOrder',
    'ReleaseInventory',
    'RefundPayment',
    'CompensationsDone',
    'MarkOrderCancelled',
    'OrderCancelled',
  ]);
}, 150_000);

test('a cancel decision right after the shipment committed is refused: COMPLETED, shipped once', async () => {
  const orderId = ulid();
  const a = await placeHeldInShipOrder(orderId);
  await waitUntil(
    'the shipment is committed',
    async () => (await rowsOf(target.outputs.ShipmentsTableName, orderId)).length > 0,
    HOLD_MS + 10_000,
  );
  expect(await decideToCancel(orderId)).toBe('refused');
  const end = await waitForExecutionToEnd(sfn, a, { timeoutMs: 90_000 });
  expect(end.status).toBe('SUCCEEDED');
  expect(await ledgerOf(orderId)).toEqual({
    status: 'COMPLETED',
    payments: ['CHARGE'],
    refunded: undefined,
    inventory: ['RESERVATION#paper-filters'],
    shipments: 1,
  });
}, 150_000);

test('two executions of one order at once: one charge, one reservation, one shipment, COMPLETED', async () => {
  const orderId = ulid();
  const a = await place(orderId);
  const b = await startSecond(orderId, `${orderId}-twin`);
  const ends = await Promise.all([
    waitForExecutionToEnd(sfn, a, { timeoutMs: 90_000 }),
    waitForExecutionToEnd(sfn, b, { timeoutMs: 90_000 }),
  ]);
  expect(ends.map((e) => e.status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
  const [orders, payments, inventory, shipments] = await Promise.all([
    rowsOf(target.outputs.OrdersTableName, orderId),
    rowsOf(target.outputs.PaymentsTableName, orderId),
    rowsOf(target.outputs.InventoryTableName, orderId),
    rowsOf(target.outputs.ShipmentsTableName, orderId),
  ]);
  expect(orders.find((r) => r.sk?.S === 'ORDER')?.status?.S).toBe('COMPLETED');
  expect(payments.map((r) => r.sk?.S)).toEqual(['CHARGE']);
  expect(inventory.map((r) => r.sk?.S)).toEqual(['RESERVATION#paper-filters']);
  expect(shipments).toHaveLength(1);
}, 150_000);
