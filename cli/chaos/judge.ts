/**
 * The verdict of one chaos run (pure): design §4b as the shared checker judges it (`judgeInvariants`), with what
 * only a run can see added — the status each order settled in before the later actions (the `expected` check reads
 * that one, and a settled status must not change after it), the status a COMPENSATION_FAILED order must end in once
 * a redrive or a re-run finished its compensations, executions that never ended, and redrives Step Functions
 * refused although DescribeExecution called the execution REDRIVABLE.
 */
import { expectedOutcome, type SagaDefinition } from '../target/expectations.ts';
import { type InvariantFacts, type InvariantResult, SETTLED_STATUSES } from '../target/invariants.ts';
import { type ChaosAction, type ChaosFlag, formatAction, interferes } from './schedule.ts';

/** One broken invariant in a run: which, its name, what was found, and the orders. */
export interface Violation {
  readonly id: string;
  readonly name: string;
  readonly detail: string;
  readonly orders: readonly string[];
}

/** What the run saw of one order. */
export interface OrderOutcome {
  readonly orderId: string;
  readonly flags: readonly ChaosFlag[];
  readonly actions: readonly ChaosAction[];
  /** The order's status when its first execution ended (undefined: it never did). */
  readonly firstStatus?: string | undefined;
  /** Executions of the order that had not ended within the run's bound. */
  readonly unended: readonly string[];
  /**
   * Redrives the order's main execution got that disagree with its DescribeExecution: refused although described
   * REDRIVABLE, or accepted although described NOT_REDRIVABLE. @default none
   */
  readonly redriveMismatches?: readonly string[];
}

/**
 * Whether an action finishes the compensations of a COMPENSATION_FAILED order: after its flags were cleared, a
 * redrive of its execution (restarted in `RetryReleaseInventory`/`RetryRefundPayment`) or a new execution (sent to
 * the compensations by `CheckOrder`). Either ends the order CANCELLED.
 */
export function finishesCompensations(action: ChaosAction): boolean {
  if (action.kind === 'redrive') return action.when === 'cleared';
  return action.kind === 'replay' && action.via === 'sfn' && action.when === 'cleared';
}

/**
 * The run's violations. `expected`: the status an order settled in first matches its flags, unless a second actor
 * ran while its saga did (a replay via sfn or steps, the race: the status then depends on who came first) or a rate
 * makes it a matter of chance; and an order that settled COMPENSATION_FAILED, with no second actor, ends CANCELLED
 * when an action {@link finishesCompensations} (a redrive or a replay via sfn after its flags were cleared). I5
 * also: a status settled first never changes afterwards. I7 also: every execution ended within the bound. `redrive`:
 * RedriveExecution accepts exactly the executions DescribeExecution calls REDRIVABLE.
 */
export function judgeRun(
  results: readonly InvariantResult[],
  facts: InvariantFacts,
  outcomes: readonly OrderOutcome[],
  /** The saga's ASL (its retry counts decide the expectations). @default the project's */
  definition?: SagaDefinition,
): Violation[] {
  const finalStatus = new Map(facts.orders.map((o) => [o.orderId, o.order?.status ?? 'MISSING']));
  const mismatched: string[] = [];
  const changed: string[] = [];
  for (const o of outcomes) {
    const status = o.firstStatus ?? finalStatus.get(o.orderId) ?? 'MISSING';
    const expectation = expectedOutcome(o.flags, definition);
    if (expectation.predictable && !o.actions.some(interferes) && status !== expectation.status) {
      mismatched.push(`${o.orderId}: ${status}, expected ${expectation.status}`);
    }
    const now = finalStatus.get(o.orderId) ?? 'MISSING';
    const finisher = o.actions.find(finishesCompensations);
    if (
      o.firstStatus === 'COMPENSATION_FAILED' &&
      finisher !== undefined &&
      !o.actions.some(interferes) &&
      now !== 'CANCELLED'
    ) {
      mismatched.push(`${o.orderId}: ${now} after ${formatAction(finisher)}, expected CANCELLED`);
    }
    if (o.firstStatus !== undefined && SETTLED_STATUSES.includes(o.firstStatus) && now !== o.firstStatus) {
      changed.push(`${o.orderId}: settled ${o.firstStatus}, then ${now}`);
    }
  }
  const unended = outcomes.flatMap((o) =>
    o.unended.map((name) => `${o.orderId}: execution ${name} still running`),
  );
  const redrives = outcomes.flatMap((o) => (o.redriveMismatches ?? []).map((m) => `${o.orderId}: ${m}`));
  const violations: Violation[] = [];
  const ordersOf = (lines: readonly string[]) => [...new Set(lines.map((l) => l.slice(0, 26)))];
  for (const r of results) {
    if (r.id === 'expected') {
      if (mismatched.length > 0) {
        violations.push({
          id: r.id,
          name: r.name,
          detail: mismatched.join('; '),
          orders: ordersOf(mismatched),
        });
      }
      continue;
    }
    const extra = r.id === 'I5' ? changed : r.id === 'I7' ? unended : [];
    if (r.ok && extra.length === 0) continue;
    violations.push({
      id: r.id,
      name: r.name,
      detail: [...(r.ok ? [] : [r.detail]), ...extra].join('; '),
      orders: [...new Set([...(r.ok ? [] : r.orders), ...ordersOf(extra)])],
    });
  }
  if (redrives.length > 0) {
    violations.push({
      id: 'redrive',
      name: 'redrive: RedriveExecution accepts exactly what DescribeExecution calls REDRIVABLE',
      detail: redrives.join('; '),
      orders: ordersOf(redrives),
    });
  }
  return violations;
}
