import {
  type ExecutionListItem,
  ExecutionNotRedrivable,
  RedriveExecutionCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import type { CommandContext } from '../command.ts';
import type { ArgsOf, redriveCommand } from '../definitions.ts';
import { CheckFailedError, UserError } from '../errors.ts';
import { followExecution, parseExecutionArgument } from '../saga/follow.ts';
import { executionArnFor, listAllExecutions } from '../target/executions.ts';
import { resolveTarget } from '../target/target.ts';
import type { TimelineSummary } from '../timeline/index.ts';

/** The statuses RedriveExecution accepts (a Standard execution, within 14 days of its end). */
const REDRIVABLE = new Set(['FAILED', 'TIMED_OUT', 'ABORTED']);

/**
 * The execution of an order to redrive: its most recent FAILED, TIMED_OUT or ABORTED execution (the outbox's, named
 * after the order, or a `saga replay` one, `<orderId>-replay-…`). None: exit 2 saying what its executions did.
 */
export function latestRedrivable(
  orderId: string,
  executions: readonly ExecutionListItem[],
): ExecutionListItem {
  const own = executions
    .filter((e) => e.name === orderId || e.name?.startsWith(`${orderId}-`))
    .sort((a, b) => (b.startDate?.getTime() ?? 0) - (a.startDate?.getTime() ?? 0));
  const failed = own.find((e) => REDRIVABLE.has(e.status ?? ''));
  if (failed !== undefined) return failed;
  if (own.length === 0) {
    throw new UserError(
      `No saga execution of order ${orderId}: \`saga ls\` lists the orders (a freshly placed one starts its saga a ` +
        'moment later).',
    );
  }
  const latest = own[0];
  throw new UserError(
    `Nothing to redrive for order ${orderId}: no execution of it FAILED, TIMED_OUT or ABORTED ` +
      `(the latest, ${latest?.name}, is ${latest?.status}). ` +
      (latest?.status === 'RUNNING'
        ? `\`saga watch ${orderId}\` follows it.`
        : `\`saga watch ${orderId}\` shows how it ended; \`saga replay ${orderId}\` re-runs the saga.`),
  );
}

/** What to do when AWS refuses the redrive (`ExecutionNotRedrivable`), by its reason. */
export function notRedrivableAdvice(reason: string, name: string, orderId: string): string {
  if (/RUNNING/.test(reason)) return `It is still running: \`saga watch ${name}\` follows it.`;
  if (/SUCCEEDED/.test(reason))
    return `It succeeded: there is nothing to redo (\`saga watch ${name}\` shows it).`;
  return (
    `Redrive cannot restart it; \`saga replay ${orderId}\` starts a new execution of the saga with the order's ` +
    'original input instead.'
  );
}

/**
 * `saga redrive <arn|orderId>`: RedriveExecution on the order's latest failed execution (or the execution named),
 * then follows it like `saga watch`. Returns the final summary; throws UserError (exit 2) when it cannot be redriven,
 * CheckFailedError (exit 1) when the redriven execution does not succeed.
 */
export async function redrive(ctx: CommandContext, argument: string): Promise<TimelineSummary> {
  const named = parseExecutionArgument(argument);
  const target = await resolveTarget(ctx.projectDir, ctx.globals, ctx.env);
  const sfn = new SFNClient(target.clientConfig());
  let executionArn: string;
  if ('arn' in named) {
    executionArn = named.arn;
  } else if (/^[0-9A-HJKMNP-TV-Z]{26}$/.test(named.name)) {
    const executions = await listAllExecutions(sfn, target.outputs.StateMachineArn);
    const chosen = latestRedrivable(named.name, executions);
    executionArn = chosen.executionArn ?? executionArnFor(target, chosen.name ?? named.name);
  } else {
    executionArn = executionArnFor(target, named.name);
  }
  const name = executionArn.split(':').at(-1) ?? executionArn;
  const orderId = name.slice(0, 26);
  const { out } = ctx;
  let redriveDate: Date | undefined;
  try {
    ({ redriveDate } = await sfn.send(new RedriveExecutionCommand({ executionArn })));
  } catch (error) {
    if (error instanceof ExecutionNotRedrivable) {
      throw new UserError(
        `Execution ${name} cannot be redriven: ${error.message}. ${notRedrivableAdvice(error.message, name, orderId)}`,
        { cause: error },
      );
    }
    if ((error as Error).name === 'ExecutionDoesNotExist') {
      throw new UserError(
        `No saga execution ${executionArn}. \`saga ls\` lists the orders; \`saga watch\` picks from the recent ` +
          'executions.',
        { cause: error },
      );
    }
    throw error;
  }
  out.result(
    { type: 'redriven', executionArn, redriveDate: redriveDate?.toISOString() },
    (style) => `${style.ok('✓')} Redrove ${style.bold(name)}: it restarts from the state that failed.`,
  );
  const summary = await followExecution(ctx, executionArn, { target });
  // A saga that ends in one of its own Fail states (OrderCancelled, PaymentFailed) ended as it chose: the order
  // is settled, and a redrive would only fail there again.
  const chosenEnd = summary.status === 'FAILED' && summary.failState !== undefined;
  if (summary.status !== 'SUCCEEDED' && summary.status !== 'RUNNING' && !chosenEnd) {
    throw new CheckFailedError(
      `The redriven execution ${name} ended ${summary.status}` +
        (summary.orderStatus ? ` (order ${summary.orderStatus})` : '') +
        (summary.error ? `: ${summary.error}` : '') +
        '. Fix what made that state fail, then `saga redrive` it again.',
    );
  }
  return summary;
}

export default async function action(
  ctx: CommandContext,
  [argument]: ArgsOf<typeof redriveCommand>,
): Promise<number> {
  await redrive(ctx, argument);
  return 0;
}
