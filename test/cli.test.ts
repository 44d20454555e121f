/**
 * The saga CLI end to end (issue "saga CLI"): `order`, `watch` and `replay` run in-process against the shared local
 * cloud, and every claim they print is checked against the tables and the execution histories.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { beforeAll, describe, expect, inject, test } from 'vitest';
import { readStock, type StockLevels } from '../cli/target/invariants.ts';
import { type Ledger, readLedger } from '../cli/target/ledger.ts';
import { type ResolvedTarget, resolveTarget } from '../cli/target/target.ts';
import { type CliResult, runCli } from './support/cli.ts';
import { deleteIdempotencyRecords } from './support/saga-rows.ts';
import { warmUp } from './support/warm-up.ts';

const cwd = inject('sagaProjectDir');

/** One `watch` JSON line of kind step (design §6). */
interface StepLine {
  readonly type: 'step';
  readonly state: string;
  readonly phase: 'forward' | 'compensation' | 'final';
  readonly status: 'succeeded' | 'failed' | 'caught' | 'running';
  readonly attempts: number;
  readonly error?: string;
}

/** The last `watch` JSON line (design §6). */
interface SummaryLine {
  readonly type: 'summary';
  readonly status: string;
  readonly orderStatus: string | null;
  readonly compensatedInReverse: boolean | null;
  readonly transitions: number;
  readonly durationMs: number;
}

/** The first `order --json` line (design §6, with its type). */
interface PlacedLine {
  readonly type: 'placed';
  readonly orderId: string;
  readonly executionArn: string;
  readonly status: string;
  readonly flags: readonly string[];
}

/** The `replay --json` document (design §6). */
interface ReplayLine {
  readonly orderId: string;
  readonly via: string;
  readonly before: Ledger;
  readonly after: Ledger;
  readonly newSideEffects: number;
  readonly orderStatus: { readonly before: string; readonly after: string };
  readonly answeredBy: { guard: number; idempotencyStore: number; ledger: number; nameDedupe: number };
  readonly idempotencyHits: number;
  readonly verdict: string;
  readonly executions: readonly { executionArn: string; status: string }[];
  readonly steps?: readonly { step: string; ok: boolean; error?: string }[];
}

/** What one `saga order --json` run produced, with the ledger and stock read around it. */
interface PlacedOrder {
  readonly result: CliResult;
  readonly placed: PlacedLine;
  readonly steps: readonly StepLine[];
  readonly summary: SummaryLine;
  readonly ledger: Ledger;
  readonly stockBefore: StockLevels;
  readonly stockAfter: StockLevels;
}

function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

function timeline(lines: readonly Record<string, unknown>[]): { steps: StepLine[]; summary: SummaryLine } {
  const steps = lines.filter((l) => l.type === 'step') as unknown as StepLine[];
  const last = lines.at(-1) as unknown as SummaryLine | undefined;
  if (last?.type !== 'summary')
    throw new Error(`The last JSON line is not a summary: ${JSON.stringify(last)}`);
  return { steps, summary: last };
}

function stateIndex(steps: readonly StepLine[], state: string): number {
  const i = steps.findIndex((s) => s.state === state);
  if (i < 0) throw new Error(`No step ${state} in ${steps.map((s) => s.state).join(' → ')}`);
  return i;
}

function step(steps: readonly StepLine[], state: string): StepLine {
  return steps[stateIndex(steps, state)] as StepLine;
}

let target: ResolvedTarget;

/** `saga order --json …` with the ledger of the order and the stock read before and after. */
async function order(args: readonly string[]): Promise<PlacedOrder> {
  const stockBefore = await readStock(target);
  const result = await runCli(['order', '--json', ...args], { cwd });
  const lines = jsonLines(result.stdout);
  const placed = lines[0] as unknown as PlacedLine;
  if (result.code !== 0 || !placed?.orderId) {
    throw new Error(`saga order ${args.join(' ')} exited ${result.code}: ${result.stderr}\n${result.stdout}`);
  }
  const { steps, summary } = timeline(lines.slice(1));
  return {
    result,
    placed,
    steps,
    summary,
    ledger: await readLedger(target, placed.orderId),
    stockBefore,
    stockAfter: await readStock(target),
  };
}

function stockDelta(o: PlacedOrder, skus: readonly string[]): Record<string, number> {
  return Object.fromEntries(skus.map((sku) => [sku, (o.stockAfter[sku] ?? 0) - (o.stockBefore[sku] ?? 0)]));
}

let happy: PlacedOrder;
let inventoryFails: PlacedOrder;
let paymentTransient: PlacedOrder;
let shippingFails: PlacedOrder;
let crashAfterCommit: PlacedOrder;

beforeAll(async () => {
  target = await resolveTarget(cwd, {});
  await warmUp(target, 3);
  // One after the other: each order then finds warm sandboxes (see warmUp), and the stock deltas are exact.
  happy = await order([]);
  inventoryFails = await order(['--fail', 'inventory', '--items', 'pour-over-kettle:1']);
  paymentTransient = await order(['--fail', 'payment:transient:2']);
  shippingFails = await order(['--fail', 'shipping', '--items', 'burr-grinder:1']);
  crashAfterCommit = await order(['--fail', 'payment:crash-after-commit']);
});

describe('saga order', () => {
  test('a happy order: placed, followed to SUCCEEDED/COMPLETED, one charge, one reservation per item, one shipment', () => {
    const { placed, steps, summary, ledger, result } = happy;
    expect(result.code).toBe(0);
    expect(Object.keys(placed).sort()).toEqual(['executionArn', 'flags', 'orderId', 'status', 'type']);
    expect(placed.type).toBe('placed');
    expect(placed.orderId).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(placed.executionArn).toBe(
      `${target.outputs.StateMachineArn.replace(':stateMachine:', ':execution:')}:${placed.orderId}`,
    );
    expect(placed.status).toBe('PENDING');
    expect(placed.flags).toEqual([]);
    expect(steps.map((s) => s.state)).toEqual([
      'CheckOrder',
      'RouteOrder',
      'ChargePayment',
      'ReserveInventory',
      'ShipOrder',
      'MarkOrderCompleted',
      'OrderCompleted',
    ]);
    for (const state of ['ChargePayment', 'ReserveInventory', 'ShipOrder']) {
      expect(step(steps, state)).toMatchObject({ phase: 'forward', status: 'succeeded', attempts: 1 });
    }
    expect(summary).toMatchObject({ status: 'SUCCEEDED', orderStatus: 'COMPLETED' });
    // The default items: espresso-beans:1, ceramic-mug:2.
    expect(ledger).toEqual({ charges: 1, refunds: 0, reservations: 2, releases: 0, shipments: 1 });
  });

  test('--fail inventory: ReserveInventory caught, the payment refunded, the order CANCELLED, stock untouched', () => {
    const { placed, steps, summary, ledger, result } = inventoryFails;
    expect(result.code).toBe(0);
    expect(placed.flags).toEqual(['inventory:error']);
    expect(step(steps, 'ReserveInventory')).toMatchObject({
      status: 'caught',
      phase: 'forward',
      error: 'OutOfStock',
    });
    expect(step(steps, 'RefundPayment')).toMatchObject({ phase: 'compensation', status: 'succeeded' });
    expect(stateIndex(steps, 'ReserveInventory')).toBeLessThan(stateIndex(steps, 'CancelOrder'));
    expect(stateIndex(steps, 'CancelOrder')).toBeLessThan(stateIndex(steps, 'RefundPayment'));
    expect(stateIndex(steps, 'RefundPayment')).toBeLessThan(stateIndex(steps, 'MarkOrderCancelled'));
    expect(steps.some((s) => s.state === 'ShipOrder')).toBe(false);
    expect(summary).toMatchObject({ status: 'FAILED', orderStatus: 'CANCELLED', compensatedInReverse: true });
    expect(ledger).toEqual({ charges: 1, refunds: 1, reservations: 0, releases: 0, shipments: 0 });
    expect(stockDelta(inventoryFails, ['pour-over-kettle'])).toEqual({ 'pour-over-kettle': 0 });
  });

  test('--fail payment:transient:2: ChargePayment takes three attempts, then the order completes with one charge', () => {
    const { placed, steps, summary, ledger, result } = paymentTransient;
    expect(result.code).toBe(0);
    expect(placed.flags).toEqual(['payment:transient:2']);
    expect(step(steps, 'ChargePayment')).toMatchObject({ status: 'succeeded', attempts: 3 });
    expect(summary).toMatchObject({ status: 'SUCCEEDED', orderStatus: 'COMPLETED' });
    expect(ledger.charges).toBe(1);
    expect(ledger.shipments).toBe(1);
  });

  test('--fail shipping: ReleaseInventory then RefundPayment, the reverse of the completed steps; CANCELLED', () => {
    const { steps, summary, ledger, result } = shippingFails;
    expect(result.code).toBe(0);
    expect(step(steps, 'ShipOrder')).toMatchObject({ status: 'caught', error: 'ShippingUnavailable' });
    expect(step(steps, 'ReleaseInventory').phase).toBe('compensation');
    expect(step(steps, 'RefundPayment').phase).toBe('compensation');
    expect(stateIndex(steps, 'ShipOrder')).toBeLessThan(stateIndex(steps, 'ReleaseInventory'));
    expect(stateIndex(steps, 'ReleaseInventory')).toBeLessThan(stateIndex(steps, 'RefundPayment'));
    expect(summary).toMatchObject({ status: 'FAILED', orderStatus: 'CANCELLED', compensatedInReverse: true });
    expect(ledger).toEqual({ charges: 1, refunds: 1, reservations: 1, releases: 1, shipments: 0 });
    // Reserved, then released: the grinder is back on the shelf.
    expect(stockDelta(shippingFails, ['burr-grinder'])).toEqual({ 'burr-grinder': 0 });
  });

  test('--fail payment:crash-after-commit: the retry finds the committed charge; COMPLETED with one charge', () => {
    const { steps, summary, ledger, result } = crashAfterCommit;
    expect(result.code).toBe(0);
    expect(step(steps, 'ChargePayment')).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(summary).toMatchObject({ status: 'SUCCEEDED', orderStatus: 'COMPLETED' });
    expect(ledger).toEqual({ charges: 1, refunds: 0, reservations: 2, releases: 0, shipments: 1 });
  });
});

describe('saga replay', () => {
  const replay = async (orderId: string, extra: readonly string[] = []) => {
    const result = await runCli(['replay', orderId, '--json', ...extra], { cwd });
    return { result, doc: jsonLines(result.stdout)[0] as unknown as ReplayLine };
  };

  test('a replay of every settled order is answered by the guard: AlreadySettled, nothing ran, nothing changed', async () => {
    // `replay` counts an order's log lines from a second before it starts: the last order's own saga (its ledger
    // answer after the crash) must be older than that.
    await new Promise((r) => setTimeout(r, 1100));
    // The three re-runs of the happy order get the three warm sandboxes per function to themselves.
    const happyTimes3 = await replay(happy.placed.orderId, ['--times', '3', '--concurrency', '3']);
    const others = await Promise.all([
      replay(inventoryFails.placed.orderId),
      replay(paymentTransient.placed.orderId),
      replay(shippingFails.placed.orderId),
      replay(crashAfterCommit.placed.orderId),
    ]);
    const settled = ['COMPLETED', 'CANCELLED', 'COMPLETED', 'CANCELLED', 'COMPLETED'];
    for (const [i, { result, doc }] of [happyTimes3, ...others].entries()) {
      expect(result.code, result.stderr).toBe(0);
      expect(doc.via).toBe('sfn');
      expect(doc.newSideEffects).toBe(0);
      expect(doc.verdict).toBe('idempotent');
      expect(doc.after).toEqual(doc.before);
      expect(doc.orderStatus).toEqual({ before: settled[i], after: settled[i] });
      // AlreadySettled is a Succeed state: even a CANCELLED order's replay SUCCEEDS, having done nothing.
      expect(doc.executions.every((e) => e.status === 'SUCCEEDED')).toBe(true);
      expect(doc.answeredBy, `replay ${i} of ${doc.orderId}`).toEqual({
        guard: doc.executions.length,
        idempotencyStore: 0,
        ledger: 0,
        nameDedupe: 0,
      });
    }
    expect(happyTimes3.doc.orderId).toBe(happy.placed.orderId);
    expect(happyTimes3.doc.before).toEqual(happy.ledger);
    expect(happyTimes3.doc.executions).toHaveLength(3);
    // One replayed execution's history, read through `watch`: the order row was read, and no step ran.
    const arn = happyTimes3.doc.executions[0]?.executionArn ?? '';
    const watched = await runCli(['watch', arn, '--no-follow', '--json'], { cwd });
    expect(watched.code, watched.stderr).toBe(0);
    const { steps, summary } = timeline(jsonLines(watched.stdout));
    expect(steps.map((s) => s.state)).toEqual(['CheckOrder', 'RouteOrder', 'AlreadySettled']);
    expect(summary).toMatchObject({ status: 'SUCCEEDED', orderStatus: 'COMPLETED' });
    // The ledgers did not move either, read independently of the CLI.
    expect(await readLedger(target, happy.placed.orderId)).toEqual(happy.ledger);
    expect(await readLedger(target, inventoryFails.placed.orderId)).toEqual(inventoryFails.ledger);
    expect(await readLedger(target, shippingFails.placed.orderId)).toEqual(shippingFails.ledger);
  });

  test('--via steps: each forward step answered from the idempotency store; once the records expired, from the ledger', async () => {
    const { orderId } = happy.placed;
    const expectAnswered = (doc: ReplayLine) => {
      expect(doc.via).toBe('steps');
      expect(doc.steps).toEqual([
        { step: 'charge', ok: true },
        { step: 'reserve', ok: true },
        { step: 'ship', ok: true },
      ]);
      expect(doc.newSideEffects).toBe(0);
      expect(doc.verdict).toBe('idempotent');
      expect(doc.before).toEqual(happy.ledger);
      expect(doc.after).toEqual(happy.ledger);
      expect(doc.orderStatus).toEqual({ before: 'COMPLETED', after: 'COMPLETED' });
      expect(doc.executions).toEqual([]);
    };

    const fromStore = await replay(orderId, ['--via', 'steps']);
    expect(fromStore.result.code, fromStore.result.stderr).toBe(0);
    expectAnswered(fromStore.doc);
    expect(fromStore.doc.answeredBy).toEqual({ guard: 0, idempotencyStore: 3, ledger: 0, nameDedupe: 0 });
    expect(fromStore.doc.idempotencyHits).toBe(3);

    // What their TTL does an hour after they were written: the charge, reserve and ship records go.
    const ddb = new DynamoDBClient(target.clientConfig());
    const expired = await deleteIdempotencyRecords(ddb, target.outputs.IdempotencyTableName, orderId);
    expect(expired).toHaveLength(3);
    // `replay` counts log lines from a second before it starts: keep the first replay's lines out of the second's.
    await new Promise((r) => setTimeout(r, 1100));

    const fromLedger = await replay(orderId, ['--via', 'steps']);
    expect(fromLedger.result.code, fromLedger.result.stderr).toBe(0);
    expectAnswered(fromLedger.doc);
    expect(fromLedger.doc.answeredBy).toEqual({ guard: 0, idempotencyStore: 0, ledger: 3, nameDedupe: 0 });
    expect(await readLedger(target, orderId)).toEqual(happy.ledger);
  });

  test('--via outbox: the re-delivered event is deduped by execution name, one execution named after the order', async () => {
    const { orderId } = paymentTransient.placed;
    const result = await runCli(['replay', orderId, '--via', 'outbox', '--json'], { cwd });
    expect(result.code, result.stderr).toBe(0);
    const doc = jsonLines(result.stdout)[0] as unknown as ReplayLine;
    expect(doc.newSideEffects).toBe(0);
    expect(doc.answeredBy).toEqual({ guard: 0, idempotencyStore: 0, ledger: 0, nameDedupe: 1 });
    const sfn = new SFNClient(target.clientConfig());
    const { executions = [] } = await sfn.send(
      new ListExecutionsCommand({ stateMachineArn: target.outputs.StateMachineArn, maxResults: 1000 }),
    );
    expect(executions.filter((e) => e.name === orderId)).toHaveLength(1);
  });
});

describe('saga watch', () => {
  test('--no-follow of a finished order reproduces the summary the order command printed', async () => {
    const result = await runCli(['watch', inventoryFails.placed.orderId, '--no-follow', '--json'], { cwd });
    expect(result.code, result.stderr).toBe(0);
    const { steps, summary } = timeline(jsonLines(result.stdout));
    expect(summary).toEqual(inventoryFails.summary);
    expect(steps).toEqual(inventoryFails.steps);
  });

  test('an execution ARN works as well as an order id', async () => {
    const result = await runCli(['watch', happy.placed.executionArn, '--no-follow', '--json'], { cwd });
    expect(result.code, result.stderr).toBe(0);
    const { summary } = timeline(jsonLines(result.stdout));
    expect(summary).toEqual(happy.summary);
  });
});

describe('issue 13: what order and watch print', () => {
  const SAGA_STATES = [
    'CheckOrder',
    'ChargePayment',
    'ReserveInventory',
    'ReleaseInventory',
    'RefundPayment',
  ];
  /** The visit lines of a state (glyph, then the name), not the log lines naming its function. */
  const visitLines = (stdout: string, state: string) =>
    stdout.split('\n').filter((line) => new RegExp(`^ *[^ ]+ ${state} `).test(line));

  test('order --logs, piped: one timeline with the header, log lines in it, settled lines only', async () => {
    const result = await runCli(['order', '--fail', 'inventory', '--logs'], { cwd });
    expect(result.code, result.stderr).toBe(0);
    const { stdout } = result;
    for (const state of SAGA_STATES) expect(visitLines(stdout, state), state).toHaveLength(1);
    expect(stdout.match(/compensated in reverse/g)).toHaveLength(1);
    expect(stdout).not.toMatch(/ running$/m);
    // Log lines come before the footer, among the visits, not after a second copy of the timeline.
    const rule = stdout.split('\n').findIndex((line) => /^─+$/.test(line));
    const firstLog = stdout.split('\n').findIndex((line) => /^ {6}\S+ +(INFO|WARN|ERROR) /.test(line));
    expect(firstLog).toBeGreaterThan(0);
    expect(firstLog).toBeLessThan(rule);
    // The header: the execution ARN, the start time, the input in brief, the local time scale.
    expect(stdout).toMatch(/^ {2}arn:aws:states:us-east-1:\d{12}:execution:/m);
    expect(stdout).toMatch(/^[0-9A-Z]{26} {2}started \d{4}-\d\d-\d\d \d\d:\d\d:\d\d/m);
    expect(stdout).toMatch(
      /^ {2}input: customer cust-demo · espresso-beans ×1, ceramic-mug ×2 · \d+\.\d\d EUR$/m,
    );
    expect(stdout).toMatch(/^ {2}local time scale [\d.]+: Retry backoffs/m);
  });

  test('order --json --logs: {"type":"log"} lines among the step lines, the summary last', async () => {
    const result = await runCli(['order', '--json', '--logs'], { cwd });
    expect(result.code, result.stderr).toBe(0);
    const lines = jsonLines(result.stdout);
    expect(lines[0]?.type).toBe('placed');
    const logs = lines.filter((line) => line.type === 'log');
    expect(logs.length).toBeGreaterThan(2);
    expect(logs[0]).toMatchObject({ level: expect.any(String), message: expect.any(String) });
    const firstStep = lines.findIndex((line) => line.type === 'step');
    expect(lines.findIndex((line) => line.type === 'log')).toBeLessThan(lines.length - 2);
    expect(firstStep).toBeGreaterThan(0);
    const steps = lines.filter((line) => line.type === 'step').map((line) => line.state);
    expect(new Set(steps).size).toBe(steps.length);
    expect(lines.at(-1)?.type).toBe('summary');
  });

  test('watch of a replay execution name, as the picker lists it', async () => {
    const replayed = await runCli(['replay', happy.placed.orderId, '--json'], { cwd });
    expect(replayed.code, replayed.stderr).toBe(0);
    const doc = jsonLines(replayed.stdout)[0] as unknown as ReplayLine;
    const name = doc.executions[0]?.executionArn.split(':').at(-1) ?? '';
    expect(name).toMatch(/^[0-9A-Z]{26}-replay-/);
    const result = await runCli(['watch', name, '--no-follow'], { cwd });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^${name} {2}started `));
    expect(result.stdout).toContain('already settled, nothing ran');
  });

  test('--no-follow on a running execution: every visit so far and a footer saying it still runs', async () => {
    const placed = await runCli(['order', '--fail', 'shipping:latency:3000', '--no-watch', '--json'], {
      cwd,
    });
    expect(placed.code, placed.stderr).toBe(0);
    const orderId = String(jsonLines(placed.stdout)[0]?.orderId);
    // Until ShipOrder is on its way (payment and inventory done).
    let text = '';
    for (let i = 0; i < 50 && !/ShipOrder/.test(text); i += 1) {
      await new Promise((r) => setTimeout(r, 100));
      text = (await runCli(['watch', orderId, '--no-follow'], { cwd })).stdout;
    }
    for (const state of ['CheckOrder', 'ChargePayment', 'ReserveInventory', 'ShipOrder']) {
      expect(visitLines(text, state), `${state} in\n${text}`).toHaveLength(1);
    }
    expect(text).toMatch(/^… RUNNING/m);
    expect(text).toMatch(/elapsed \d/);
    expect(text).toContain(`Still running: \`saga watch ${orderId}\``);
    const json = jsonLines((await runCli(['watch', orderId, '--no-follow', '--json'], { cwd })).stdout);
    const steps = json.filter((line) => line.type === 'step');
    expect(steps.map((line) => line.state)).toEqual(
      expect.arrayContaining(['CheckOrder', 'ChargePayment', 'ReserveInventory', 'ShipOrder']),
    );
    expect(json.at(-1)).toMatchObject({ type: 'summary', status: 'RUNNING' });
  });
});

describe('bad arguments with a running cloud', () => {
  test('order --fail payment:nope is a usage error (exit 2) naming the valid modes', async () => {
    const result = await runCli(['order', '--fail', 'payment:nope', '--no-watch'], { cwd });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/nope/);
    expect(result.stderr).toMatch(/transient/);
    expect(result.stdout).toBe('');
  });

  test('watch of a valid ULID with no execution: a clear message, exit 2, no stack', async () => {
    const result = await runCli(['watch', '01ARZ3NDEKTSV4RRFFQ69G5FAV', '--no-follow'], { cwd });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/01ARZ3NDEKTSV4RRFFQ69G5FAV/);
    expect(result.stderr).toMatch(/saga ls/);
    expect(result.stderr).not.toMatch(/\bat .*\.ts:\d+/);
  });

  test('replay of an unknown order: exit 2 naming the order', async () => {
    const result = await runCli(['replay', '01ARZ3NDEKTSV4RRFFQ69G5FAV'], { cwd });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/01ARZ3NDEKTSV4RRFFQ69G5FAV/);
  });
});
