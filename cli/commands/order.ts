import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { listFailureFlags } from '../../services/shared/failure-flags.ts';
import type { CommandContext } from '../command.ts';
import type { ArgsOf, OptionsOf, orderCommand } from '../definitions.ts';
import { CheckFailedError, noteForInterrupt } from '../errors.ts';
import {
  DEFAULT_ITEMS,
  effectiveFlags,
  type PlacedOrder,
  type PlaceOrderOptions,
  parseFailSpecs,
  parseItems,
  placeOrder,
} from '../saga/orders.ts';
import { type Expectation, expectedOutcome } from '../target/expectations.ts';
import { resolveTarget } from '../target/target.ts';

/** Options of `saga order`. */
export interface OrderOptions extends PlaceOrderOptions {
  /** Follow the execution with the live timeline. @default true */
  readonly watch: boolean;
  /** Also show the order's log lines (with watch). @default false */
  readonly logs: boolean;
  /** `--json`: each step also carries its input and output. @default false */
  readonly detail?: boolean;
}

/** The first `order --json` line (design §6, with its `type`). */
export function placedLine(placed: PlacedOrder): { readonly type: 'placed' } & PlacedOrder {
  return { type: 'placed', ...placed };
}

export default async function action(
  ctx: CommandContext,
  _args: ArgsOf<typeof orderCommand>,
  options: OptionsOf<typeof orderCommand>,
): Promise<number> {
  const orderOptions: OrderOptions = options;
  // Usage errors first (exit 2 without a stack), then one look-up of the stack for placing and following.
  const specs = parseFailSpecs(orderOptions.fail);
  parseItems(orderOptions.items ?? DEFAULT_ITEMS);
  const target = await resolveTarget(ctx.projectDir, ctx.globals, ctx.env);
  const placed = await placeOrder(ctx, orderOptions, target);
  const { out } = ctx;
  noteForInterrupt(
    ctx.signal,
    `The order ${placed.orderId} is placed and its saga goes on; \`saga watch ${placed.orderId}\` follows it.`,
  );
  // The first `--json` line: `"type":"placed"` tells it from the step, log and summary lines that follow.
  out.result(
    placedLine(placed),
    (style) =>
      `${style.ok('✓')} Order ${style.bold(placed.orderId)} placed (${placed.status})` +
      (placed.flags.length > 0 ? ` with failures injected: ${placed.flags.join(', ')}` : ''),
  );
  if (!orderOptions.watch) {
    out.line(out.style.dim(`Follow it with: saga watch ${placed.orderId}`));
    return 0;
  }
  const { followExecution } = await import('../saga/follow.ts');
  const summary = await followExecution(ctx, placed.executionArn, {
    logs: orderOptions.logs,
    detail: orderOptions.detail,
    waitForStart: true,
    target,
  });
  const ddb = new DynamoDBClient(target.clientConfig());
  const flags = effectiveFlags(specs, await listFailureFlags(ddb, target.outputs.FailureFlagsTableName));
  checkOutcome(
    summary.orderStatus,
    expectedOutcome(flags),
    (note) => out.line(out.style.dim(note)),
    summary.accessDenied,
  );
  return 0;
}

/**
 * Compares the status the saga ended in with what the injected failures imply: a mismatch is a failed check
 * (exit 1); an outcome left to chance (a flag rate below 1) is said, not judged.
 */
export function checkOutcome(
  orderStatus: string | null,
  expectation: Expectation,
  say: (note: string) => void,
  accessDenied?: { readonly state: string; readonly message: string },
): void {
  if (!expectation.predictable) {
    say(`The outcome was not predictable (${expectation.reason}): ${expectation.possible.join(' or ')}.`);
    return;
  }
  if (orderStatus && orderStatus !== expectation.status) {
    throw new CheckFailedError(
      `The saga ended with order status ${orderStatus}, but the injected failures imply ${expectation.status}.` +
        (accessDenied
          ? ` IAM denied ${accessDenied.state} a call (${accessDenied.message}): the deployed template does ` +
            'not grant what that step needs; compare it with the synthesized one (infra/stack.ts), or redeploy ' +
            'with `saga deploy --iam warn` to see every denial without failing on it.'
          : ''),
    );
  }
}
