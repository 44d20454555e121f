/**
 * Runs one `saga chaos` schedule against a deployed stack: fresh order ids, their flags, the orders placed through
 * the signed API, the actions at their moments, a bounded wait until everything settled, then design §4b judged over
 * exactly those orders (the shared checker, plus what only a run can see: the status each order settled in first).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  RedriveExecutionCommand,
  type SFNClient,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { ulid } from 'ulid';
import { deleteFailureFlag, GLOBAL_SCOPE, writeFailureFlag } from '../../services/shared/failure-flags.ts';
import { UserError } from '../errors.ts';
import { executionArnFor, readHistory, waitForExecutionToEnd } from '../target/executions.ts';
import type { SagaDefinition } from '../target/expectations.ts';
import { callApi } from '../target/http.ts';
import { type InvariantFacts, judgeInvariants, readInvariantFacts, readStock } from '../target/invariants.ts';
import {
  deleteIdempotencyRecords,
  type ForwardStep,
  invokeForwardSteps,
  orderRow,
  redeliverOutbox,
  startReplayExecutions,
  takeCancelDecision,
} from '../target/rerun.ts';
import type { ResolvedTarget } from '../target/target.ts';
import { judgeRun, type OrderOutcome, type Violation } from './judge.ts';
import { type ChaosAction, type ChaosOrder, ITEM_SETS, type Moment, type Schedule } from './schedule.ts';

/** What a run needs: the stack and its clients. */
export interface RunnerContext {
  readonly target: ResolvedTarget;
  readonly ddb: DynamoDBClient;
  readonly sfn: SFNClient;
  readonly lambda: LambdaClient;
  /** The longest a run waits for its executions to end. */
  readonly settleMs: number;
  /** Aborts the waits (Ctrl-C). */
  readonly signal?: AbortSignal;
  /** Held while a GLOBAL publisher flag is set: one run at a time may own it. */
  readonly publisherLock: Lock;
  /**
   * The deployed state machine's definition: its retry counts decide what a set of flags implies (a stack deployed
   * from another checkout may differ from this one's ASL). @default the project's
   */
  readonly definition?: SagaDefinition;
  /** Called with each order id as it is minted (progress). */
  readonly onOrder?: (orderId: string) => void;
}

/** What one run found. */
export interface RunResult {
  readonly orderIds: readonly string[];
  readonly violations: readonly Violation[];
  /** Each order's main execution ARN (for the counterexample's timeline). */
  readonly executionArns: readonly string[];
  /** Redrive actions Step Functions accepted (the others met an execution that was not redrivable). */
  readonly redrives: number;
  readonly durationMs: number;
}

/** A FIFO mutex. */
export class Lock {
  #tail: Promise<void> = Promise.resolve();

  /** Runs `work` once every earlier holder is done. */
  async hold<T>(work: () => Promise<T>): Promise<T> {
    const previous = this.#tail;
    let release = () => {};
    this.#tail = new Promise((resolve) => {
      release = resolve;
    });
    await previous;
    try {
      return await work();
    } finally {
      release();
    }
  }
}

/** How a run went for one order, as the judge needs it. */
interface OrderRun {
  readonly orderId: string;
  readonly order: ChaosOrder;
  readonly mainArn: string;
  /** The status once the main execution ended (before the settled/cleared actions). */
  firstStatus?: string;
  /** The cancel decision the race took from outside: when, if it was taken. */
  decidedAt?: number;
  /** Executions that had not ended within the bound (stopped). */
  readonly unended: string[];
  /** Redrives of the main execution Step Functions accepted. */
  redrives: number;
  /** Redrives whose answer contradicted DescribeExecution's `redriveStatus` (a finding). */
  readonly redriveMismatches: string[];
}

/** Runs one schedule and judges it. */
export async function runSchedule(ctx: RunnerContext, schedule: Schedule): Promise<RunResult> {
  const started = Date.now();
  await assertStock(ctx.target, ctx.ddb);
  const work = async () => {
    if (schedule.publisher) {
      await writeFailureFlag(
        ctx.ddb,
        ctx.target.outputs.FailureFlagsTableName,
        GLOBAL_SCOPE,
        schedule.publisher,
      );
    }
    try {
      return await Promise.all(schedule.orders.map((order, i) => runOrder(ctx, order, i)));
    } finally {
      if (schedule.publisher) {
        await deleteFailureFlag(ctx.ddb, ctx.target.outputs.FailureFlagsTableName, GLOBAL_SCOPE, 'publisher');
      }
    }
  };
  const runs = schedule.publisher ? await ctx.publisherLock.hold(work) : await work();
  const facts = await readInvariantFacts(
    ctx.target,
    runs.map((r) => ({ orderId: r.orderId, specs: r.order.flags })),
    { ddb: ctx.ddb, sfn: ctx.sfn },
  );
  const outcomes: OrderOutcome[] = runs.map((r) => ({
    orderId: r.orderId,
    flags: r.order.flags,
    actions: r.order.actions,
    firstStatus: r.firstStatus,
    unended: r.unended,
    redriveMismatches: r.redriveMismatches,
  }));
  const violations = judgeRun(
    judgeInvariants(withDecisions(facts, runs), {
      stuckAfterMs: ctx.settleMs,
      ...(ctx.definition ? { definition: ctx.definition } : {}),
    }),
    facts,
    outcomes,
    ctx.definition,
  );
  return {
    orderIds: runs.map((r) => r.orderId),
    violations,
    executionArns: runs.map((r) => r.mainArn),
    redrives: runs.reduce((n, r) => n + r.redrives, 0),
    durationMs: Date.now() - started,
  };
}

/**
 * The race's cancel decision as the execution it stands for would record it (a CancelOrder visit), so that I5 reads
 * the order's status path in full.
 */
function withDecisions(facts: InvariantFacts, runs: readonly OrderRun[]): InvariantFacts {
  return {
    ...facts,
    orders: facts.orders.map((o) => {
      const decidedAt = runs.find((r) => r.orderId === o.orderId)?.decidedAt;
      if (decidedAt === undefined) return o;
      return {
        ...o,
        executions: [
          ...o.executions,
          {
            name: `${o.orderId}-chaos-decision`,
            status: 'SUCCEEDED',
            visits: [{ state: 'CancelOrder', status: 'succeeded' as const, endMs: decidedAt, attempts: 1 }],
          },
        ],
      };
    }),
  };
}

async function runOrder(ctx: RunnerContext, order: ChaosOrder, index: number): Promise<OrderRun> {
  const { target, ddb } = ctx;
  const orderId = ulid();
  ctx.onOrder?.(orderId);
  const run: OrderRun = {
    orderId,
    order,
    mainArn: executionArnFor(target, orderId),
    unended: [],
    redrives: 0,
    redriveMismatches: [],
  };
  const flagsTable = target.outputs.FailureFlagsTableName;
  await Promise.all(order.flags.map((flag) => writeFailureFlag(ddb, flagsTable, { orderId }, flag)));
  const body = {
    orderId,
    customerId: `chaos-${index}`,
    items: ITEM_SETS[order.items] ?? ITEM_SETS[0],
    currency: 'EUR',
  };
  // A client retries a 5xx (a cold start that outlived the scaled timeout) with the same order id: the API answers
  // the order if the first try committed (design §4a rule 8).
  for (let attempt = 1; ; attempt++) {
    const placed = await callApi(target, 'POST', '/orders', { body });
    if (placed.status === 202) break;
    if (placed.status < 500 || attempt === 4) {
      throw new Error(`POST /orders answered ${placed.status} (attempt ${attempt}): ${placed.text}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250 * attempt));
  }
  const at = (moment: Moment) => order.actions.filter((a) => a.kind !== 'race' && a.when === moment);

  // While running: everything at once, alongside the saga the outbox starts.
  await Promise.all([
    waitToEnd(ctx, run, run.mainArn, { untilExists: true }).then(async () => {
      run.firstStatus = (await orderRow(target, ddb, orderId))?.status?.S ?? 'MISSING';
    }),
    ...at('running').map((action) => act(ctx, run, action)),
    ...order.actions.filter((a) => a.kind === 'race').map(() => race(ctx, run)),
  ]);
  for (const action of at('settled')) await act(ctx, run, action);
  if (at('cleared').length > 0) {
    await Promise.all(order.flags.map((flag) => deleteFailureFlag(ddb, flagsTable, { orderId }, flag.step)));
    for (const action of at('cleared')) await act(ctx, run, action);
  }
  return run;
}

/** Waits for an execution to end within the bound; one that does not is stopped and recorded. */
async function waitToEnd(
  ctx: RunnerContext,
  run: OrderRun,
  arn: string,
  options: { readonly untilExists?: boolean; readonly timeoutMs?: number } = {},
): Promise<void> {
  try {
    await waitForExecutionToEnd(ctx.sfn, arn, {
      timeoutMs: options.timeoutMs ?? ctx.settleMs,
      intervalMs: ctx.target.kind === 'local' ? 100 : 1000,
      untilExists: options.untilExists ?? false,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
  } catch (error) {
    if (ctx.signal?.aborted) throw error;
    run.unended.push(arn.split(':').at(-1) ?? arn);
    await ctx.sfn
      .send(
        new StopExecutionCommand({
          executionArn: arn,
          error: 'Chaos.Unended',
          cause: 'saga chaos: past the bound',
        }),
      )
      .catch(() => {});
  }
}

let replayCounter = 0;

async function act(ctx: RunnerContext, run: OrderRun, action: ChaosAction): Promise<void> {
  const { target, ddb, sfn, lambda } = ctx;
  const { orderId } = run;
  if (action.kind === 'expire') {
    await deleteIdempotencyRecords(ddb, target.outputs.IdempotencyTableName, orderId);
    return;
  }
  if (action.kind === 'redrive') {
    await redrive(ctx, run);
    return;
  }
  if (action.kind !== 'replay') return;
  // A replay while running may come before the order row is there (the API answers first): wait for it.
  let row = await orderRow(target, ddb, orderId);
  for (let i = 0; !row && i < 50; i++) {
    await sleep(100);
    row = await orderRow(target, ddb, orderId);
  }
  if (!row) throw new Error(`Order ${orderId} has no ORDER row after it was placed`);
  switch (action.via) {
    case 'sfn': {
      const stamp = `${Date.now().toString(36)}${(replayCounter++).toString(36)}`;
      const names = Array.from({ length: action.k }, (_, i) => `${orderId}-chaos-${stamp}-${i + 1}`);
      // startReplayExecutions waits for each itself; a bound keeps a run from hanging on one that never ends.
      await startReplayExecutions(target, sfn, orderId, row, names, {
        concurrency: action.k,
        timeoutMs: ctx.settleMs,
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      }).catch(async (error: unknown) => {
        if (ctx.signal?.aborted || !String(error).includes('still running')) throw error;
        // Past the bound: the ones still running are stopped and recorded (no second wait).
        for (const name of names) await waitToEnd(ctx, run, executionArnFor(target, name), { timeoutMs: 0 });
      });
      return;
    }
    case 'steps': {
      // A re-delivered task invocation repeats one the saga made: while the saga runs, only the steps it has
      // entered (invoking ShipOrder before the charge would be a new request, not a replay).
      const steps = action.when === 'running' ? await forwardProgress(ctx, run) : undefined;
      await invokeForwardSteps(target, lambda, orderId, row, {
        times: action.k,
        concurrency: action.k,
        ...(steps ? { steps } : {}),
      });
      return;
    }
    case 'outbox':
      await redeliverOutbox(target, ddb, orderId, action.k);
      // Give the stream and the publisher time to (not) start a second execution before the facts are read.
      await sleep(target.kind === 'local' ? 1500 : 10_000);
      return;
  }
}

/**
 * The redrive action: RedriveExecution of the order's main execution, as `saga redrive` does it, then its end
 * awaited. DescribeExecution says first whether Step Functions should accept it (`redriveStatus`): a REDRIVABLE
 * execution it refuses, or a NOT_REDRIVABLE one it accepts, is recorded as a finding; ExecutionNotRedrivable for one
 * described NOT_REDRIVABLE (one that succeeded) is the answer expected, and nothing more happens.
 */
async function redrive(ctx: RunnerContext, run: OrderRun): Promise<void> {
  let described: DescribeExecutionCommandOutput;
  try {
    described = await ctx.sfn.send(new DescribeExecutionCommand({ executionArn: run.mainArn }));
  } catch (error) {
    // Never started within the bound (I7 reports it): nothing to redrive.
    if ((error as Error).name === 'ExecutionDoesNotExist') return;
    throw error;
  }
  const redrivable = described.redriveStatus === 'REDRIVABLE';
  const said = redrivable
    ? `DescribeExecution: ${described.status}, REDRIVABLE`
    : `DescribeExecution: ${described.status}, ${described.redriveStatus ?? 'no redriveStatus'}` +
      (described.redriveStatusReason ? ` (${described.redriveStatusReason})` : '');
  try {
    await ctx.sfn.send(new RedriveExecutionCommand({ executionArn: run.mainArn }));
  } catch (error) {
    if ((error as Error).name !== 'ExecutionNotRedrivable') throw error;
    if (redrivable) {
      run.redriveMismatches.push(
        `RedriveExecution refused its execution (${said}): ${(error as Error).message}`,
      );
    }
    return;
  }
  run.redrives++;
  if (!redrivable) run.redriveMismatches.push(`RedriveExecution accepted its execution (${said})`);
  await waitToEnd(ctx, run, run.mainArn);
}

/** The forward steps' Task states, in the saga's order. */
const FORWARD_STATES: Readonly<Record<ForwardStep, string>> = {
  charge: 'ChargePayment',
  reserve: 'ReserveInventory',
  ship: 'ShipOrder',
};

/**
 * Watches the order's first execution until it enters `ShipOrder`, decides to compensate or ends; returns the
 * forward steps it entered by then.
 */
async function forwardProgress(ctx: RunnerContext, run: OrderRun): Promise<ForwardStep[]> {
  const deadline = Date.now() + ctx.settleMs;
  for (;;) {
    let events: Awaited<ReturnType<typeof readHistory>> = [];
    try {
      events = await readHistory(ctx.sfn, run.mainArn);
    } catch (error) {
      if ((error as Error).name !== 'ExecutionDoesNotExist') throw error;
    }
    const entered = new Set(events.flatMap((e) => e.stateEnteredEventDetails?.name ?? []));
    const stopped =
      entered.has(FORWARD_STATES.ship) ||
      entered.has('CancelOrder') ||
      events.some(
        (e) =>
          e.type === 'ExecutionSucceeded' || e.type === 'ExecutionFailed' || e.type === 'ExecutionAborted',
      );
    if (stopped || Date.now() > deadline) {
      return (Object.keys(FORWARD_STATES) as ForwardStep[]).filter((step) =>
        entered.has(FORWARD_STATES[step]),
      );
    }
    await sleep(50);
  }
}

/** The late-commit race: once ShipOrder runs (held by its latency flag), take the cancel decision. */
async function race(ctx: RunnerContext, run: OrderRun): Promise<void> {
  // A saga that never reaches ShipOrder (a payment or inventory failure) leaves no race to make.
  if (!(await forwardProgress(ctx, run)).includes('ship')) return;
  const decision = await takeCancelDecision(ctx.target, ctx.ddb, run.orderId);
  if (decision === 'decided') run.decidedAt = Date.now();
}

/**
 * Refuses to run when the SKUs schedules order run low (under `floor` units): a sold-out order cancels where the
 * checker expects it to complete, a false alarm. Checked before every run, so a long exploration stops cleanly.
 */
export async function assertStock(target: ResolvedTarget, ddb: DynamoDBClient, floor = 40): Promise<void> {
  const stock = await readStock(target, ddb);
  const skus = new Set(ITEM_SETS.flat().map((l) => l.sku));
  const low = [...skus]
    .filter((sku) => (stock[sku] ?? 0) < floor)
    .map((sku) => `${sku}: ${stock[sku] ?? 0} left`);
  if (low.length > 0) {
    throw new UserError(
      `Too little stock left for chaos runs (${low.join('; ')}): sold-out orders would cancel where the checker ` +
        'expects them to complete. Reset the local stack with `saga destroy --yes && saga deploy`.',
    );
  }
}
