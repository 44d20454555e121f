/** Re-running an order (its saga, its forward steps or its outbox delivery) and judging what it changed. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SFNClient } from '@aws-sdk/client-sfn';
import {
  IDEMPOTENCY_HIT_MESSAGE,
  LEDGER_HIT_MESSAGE,
  NAME_DEDUPE_MESSAGE,
} from '../../services/shared/idempotency-hit.ts';
import type { CommandContext } from '../command.ts';
import { UserError } from '../errors.ts';
import { listAllExecutions, parseOrderId } from '../target/executions.ts';
import { isRefusal, SETTLED_STATUSES } from '../target/invariants.ts';
import { LEDGER_KEYS, type Ledger, newSideEffects, readLedger } from '../target/ledger.ts';
import { readOrderLogs } from '../target/logs.ts';
import {
  type ForwardStep,
  forwardStepFunctions,
  invokeForwardSteps,
  orderRow,
  redeliverOutbox,
  type SagaInput,
  type StepAnswer,
  startReplayExecutions,
  stepPayloads,
} from '../target/rerun.ts';
import { type ResolvedTarget, resolveTarget } from '../target/target.ts';
import { buildTimeline, ORDER_SAGA } from '../timeline/index.ts';

export {
  type ForwardStep,
  forwardStepFunctions,
  NAME_DEDUPE_MESSAGE,
  type SagaInput,
  type StepAnswer,
  stepPayloads,
};

/** How `saga replay` re-runs an order. */
export type ReplayVia = 'sfn' | 'steps' | 'outbox';

/** Options of `saga replay`. */
export interface ReplayOptions {
  /** How many times to re-run. @default 1 */
  readonly times: number;
  /** How many re-runs at once. @default 1 */
  readonly concurrency: number;
  /**
   * `sfn`: new executions with the original input; `steps`: each forward step's function invoked directly with
   * its original payload and idempotency key; `outbox`: re-deliver the outbox event. @default 'sfn'
   */
  readonly via: ReplayVia;
}

/** Which of the saga's defences answered the replay, and how many times (design §6). */
export interface AnsweredBy {
  /**
   * The order row: executions that went CheckOrder → AlreadySettled or whose conditional Mark/Cancel write was
   * refused, and (via steps) steps refused because the order is not PENDING.
   */
  readonly guard: number;
  /** Task invocations Powertools answered from the Idempotency table. */
  readonly idempotencyStore: number;
  /** Steps that answered from their own side effect's record (the charge, reservations or shipment). */
  readonly ledger: number;
  /** Outbox re-deliveries Step Functions refused by execution name. */
  readonly nameDedupe: number;
}

/** The `replay` JSON contract (design §6). */
export interface ReplayResult {
  readonly orderId: string;
  readonly via: ReplayVia;
  readonly before: Ledger;
  readonly after: Ledger;
  /** Side effects the replay added that count as duplicates (see {@link duplicateSideEffects}). */
  readonly newSideEffects: number;
  /** The order's status before and after the replay. */
  readonly orderStatus: { readonly before: string; readonly after: string };
  readonly answeredBy: AnsweredBy;
  /** Task invocations answered from the Idempotency table (= `answeredBy.idempotencyStore`). */
  readonly idempotencyHits: number;
  /** Executions started by the replay (sfn), or executions named after the order afterwards (outbox). */
  readonly executions: readonly { executionArn: string; status: string }[];
  /** `--via steps`: what each invocation answered. */
  readonly steps?: readonly StepAnswer[];
  /** `DUPLICATES` when a side effect was added or a settled order's status changed. */
  readonly verdict: 'idempotent' | 'DUPLICATES';
}

// ---------------------------------------------------------------------------------------------------------------
// Judging (pure)

/**
 * The side effects a replay added that it may not add, by the order's status before it: a settled order may
 * gain none; an order being compensated (CANCELLING, COMPENSATION_FAILED) may gain the refund and releases still
 * owed, nothing forward; an unfinished PENDING order may gain the steps it had not reached, but no second row of
 * a kind it had.
 */
export function duplicateSideEffects(statusBefore: string, before: Ledger, after: Ledger): number {
  if (statusBefore === 'PENDING') {
    return LEDGER_KEYS.reduce((sum, k) => sum + (before[k] > 0 ? Math.max(0, after[k] - before[k]) : 0), 0);
  }
  if (statusBefore === 'CANCELLING' || statusBefore === 'COMPENSATION_FAILED') {
    const grew = (k: keyof Ledger) => Math.max(0, after[k] - before[k]);
    return (
      grew('charges') +
      grew('reservations') +
      grew('shipments') +
      Math.max(0, after.refunds - Math.max(before.refunds, before.charges)) +
      Math.max(0, after.releases - Math.max(before.releases, before.reservations))
    );
  }
  return newSideEffects(before, after);
}

/** `DUPLICATES` when a side effect was added or a settled status changed (design §6). */
export function verdictOf(
  orderStatus: { readonly before: string; readonly after: string },
  added: number,
): 'idempotent' | 'DUPLICATES' {
  const settledChanged =
    SETTLED_STATUSES.includes(orderStatus.before) && orderStatus.after !== orderStatus.before;
  return added > 0 || settledChanged ? 'DUPLICATES' : 'idempotent';
}

/** One state visit of a replayed execution (what the guard count needs). */
export interface ReplayedVisit {
  readonly state: string;
  readonly status: string;
  readonly error?: string | undefined;
}

/** Whether the order row's guard answered an execution: it ended AlreadySettled, or a conditional write was refused. */
export function guardAnswered(visits: readonly ReplayedVisit[]): boolean {
  return visits.some(
    (v) =>
      (v.state === 'AlreadySettled' && v.status === 'succeeded') ||
      (Object.hasOwn(ORDER_SAGA.statusWrites, v.state) && v.status === 'caught' && isRefusal(v.error)),
  );
}

/** What the replay observed, for {@link countAnsweredBy}. */
export interface ReplayObservations {
  /** Visits of each execution the replay started (sfn). */
  readonly executions: readonly (readonly ReplayedVisit[])[];
  /** Answers of the direct invocations (steps). */
  readonly steps: readonly StepAnswer[];
  /** Log lines of the replay's time window: Powertools hits, ledger answers, publisher name dedupes. */
  readonly logs: {
    readonly idempotencyHits: number;
    readonly ledgerHits: number;
    readonly nameDedupes: number;
  };
  /** The ledger before the replay. */
  readonly before: Ledger;
  /** Side effects the replay added (any kind). */
  readonly added: number;
}

/**
 * Counts which layer answered (design §6). guard: executions {@link guardAnswered}, plus direct invocations
 * refused with `OrderNotPending` that the step's own record does not explain. idempotencyStore: Powertools hit
 * log lines. ledger: the steps' "answered from the ledger" log lines, plus `OrderNotPending` answers that the
 * record explains (a refunded charge, released stock), plus successful direct invocations that no log line
 * accounts for and that added nothing (inferred: the record answered). nameDedupe: the publisher's "saga already
 * started" log lines.
 */
export function countAnsweredBy(seen: ReplayObservations): AnsweredBy {
  const refused = seen.steps.filter((s) => !s.ok && s.error === 'OrderNotPending');
  const undone = (s: StepAnswer) =>
    (s.step === 'charge' && seen.before.refunds > 0) || (s.step === 'reserve' && seen.before.releases > 0);
  const ok = seen.steps.filter((s) => s.ok).length;
  const unexplained =
    seen.added === 0 ? Math.max(0, ok - seen.logs.idempotencyHits - seen.logs.ledgerHits) : 0;
  return {
    guard: seen.executions.filter(guardAnswered).length + refused.filter((s) => !undone(s)).length,
    idempotencyStore: seen.logs.idempotencyHits,
    ledger: seen.logs.ledgerHits + refused.filter(undone).length + unexplained,
    nameDedupe: seen.logs.nameDedupes,
  };
}

const LAYER_NAMES: Readonly<Record<keyof AnsweredBy, string>> = {
  guard: "the saga's guard (the order row)",
  idempotencyStore: 'the idempotency store',
  ledger: "the side effects' own records",
  nameDedupe: 'the execution-name dedupe',
};

/** One line saying which layer answered the replay. */
export function answeredLine(answeredBy: AnsweredBy): string {
  const layers = (Object.keys(LAYER_NAMES) as (keyof AnsweredBy)[]).filter((k) => answeredBy[k] > 0);
  const counts = `guard ${answeredBy.guard} · idempotency store ${answeredBy.idempotencyStore} · ledger ${answeredBy.ledger} · name dedupe ${answeredBy.nameDedupe}`;
  if (layers.length === 0) return `Answered by no layer: the replay ran the saga's steps (${counts}).`;
  return `Answered by ${layers.map((k) => LAYER_NAMES[k]).join(', then ')} (${counts}).`;
}

// ---------------------------------------------------------------------------------------------------------------
// Running

/** `saga replay <orderId>`: re-runs the order and proves that no new side effect and no status change appeared. */
export async function replay(
  ctx: CommandContext,
  orderIdArg: string,
  options: ReplayOptions,
): Promise<ReplayResult> {
  const orderId = parseOrderId(orderIdArg);
  const target = await resolveTarget(ctx.projectDir, ctx.globals, ctx.env);
  const ddb = new DynamoDBClient(target.clientConfig());
  const sfn = new SFNClient(target.clientConfig());
  const row = await orderRow(target, ddb, orderId);
  if (!row) {
    throw new UserError(
      `No order ${orderId} in ${target.outputs.OrdersTableName}. \`saga ls\` lists the orders.`,
    );
  }
  const functions =
    options.via === 'steps' ? forwardStepFunctions(target.outputs.FunctionNames ?? '') : undefined;

  const before = await readLedger(target, orderId, ddb);
  const startedAt = Date.now();
  const progress = await ctx.out.progress(`Replaying order ${orderId} ×${options.times} via ${options.via}`);
  const executions: { executionArn: string; status: string }[] = [];
  const visits: ReplayedVisit[][] = [];
  const steps: StepAnswer[] = [];
  try {
    if (options.via === 'sfn') {
      const stamp = Date.now().toString(36);
      const names = Array.from({ length: options.times }, (_, i) => `${orderId}-replay-${stamp}-${i + 1}`);
      const ended = await startReplayExecutions(target, sfn, orderId, row, names, {
        concurrency: options.concurrency,
        signal: ctx.signal,
        onEnded: (done) =>
          progress.update(`Replaying order ${orderId}: ${done}/${options.times} executions finished`),
      });
      for (const e of ended) {
        executions.push({ executionArn: e.executionArn, status: e.status });
        visits.push([...buildTimeline(e.history).entries]);
      }
    } else if (options.via === 'steps' && functions) {
      const lambda = new LambdaClient(target.clientConfig());
      steps.push(
        ...(await invokeForwardSteps(target, lambda, orderId, row, {
          times: options.times,
          concurrency: options.concurrency,
          onRound: (done) =>
            progress.update(`Replaying order ${orderId}: ${done}/${options.times} rounds of steps`),
        })),
      );
    } else {
      await redeliverOutbox(target, ddb, orderId, options.times);
      // Give the stream, the publisher and Step Functions time to (not) start a second execution.
      await new Promise((r) => setTimeout(r, target.kind === 'local' ? 3000 : 15_000));
      for (const e of await listAllExecutions(sfn, target.outputs.StateMachineArn)) {
        if (e.name === orderId)
          executions.push({ executionArn: e.executionArn ?? '', status: e.status ?? '' });
      }
    }
  } finally {
    progress.stop();
  }
  const after = await readLedger(target, orderId, ddb);
  const statusAfter = (await orderRow(target, ddb, orderId))?.status?.S ?? 'UNKNOWN';
  const logs = await countLogLines(target, orderId, startedAt, options.via === 'outbox' ? options.times : 0);
  const orderStatus = { before: row.status?.S ?? 'UNKNOWN', after: statusAfter };
  const added = duplicateSideEffects(orderStatus.before, before, after);
  const answeredBy = countAnsweredBy({
    executions: visits,
    steps,
    logs,
    before,
    added: newSideEffects(before, after),
  });
  return {
    orderId,
    via: options.via,
    before,
    after,
    newSideEffects: added,
    orderStatus,
    answeredBy,
    idempotencyHits: answeredBy.idempotencyStore,
    executions,
    ...(options.via === 'steps' ? { steps } : {}),
    verdict: verdictOf(orderStatus, added),
  };
}

/**
 * Counts the replay's log lines (from `startedAt`): Powertools hits, ledger answers, and the publisher's name
 * dedupes; waits (a while) for `dedupes` of those, since the publisher's lines arrive after the stream delivers.
 */
async function countLogLines(
  target: ResolvedTarget,
  orderId: string,
  startedAt: number,
  dedupes: number,
): Promise<ReplayObservations['logs']> {
  const deadline = Date.now() + (dedupes > 0 ? (target.kind === 'local' ? 10_000 : 60_000) : 0);
  for (;;) {
    // Only lines written since the replay started: the order's own saga may have logged a moment before.
    const lines = (await readOrderLogs(target, orderId, { startTime: startedAt })).filter(
      (l) => l.timestamp >= startedAt,
    );
    const count = (message: string) => lines.filter((l) => l.message === message).length;
    const logs = {
      idempotencyHits: count(IDEMPOTENCY_HIT_MESSAGE),
      ledgerHits: count(LEDGER_HIT_MESSAGE),
      nameDedupes: count(NAME_DEDUPE_MESSAGE),
    };
    if (logs.nameDedupes >= dedupes || Date.now() > deadline) return logs;
    await new Promise((r) => setTimeout(r, 500));
  }
}
