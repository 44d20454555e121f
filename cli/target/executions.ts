import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  ExecutionDoesNotExist,
  type ExecutionListItem,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  ListExecutionsCommand,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import { UserError } from '../errors.ts';
import { formatShortDuration } from '../ui/format.ts';
import type { ResolvedTarget } from './target.ts';

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** Checks an order id (a ULID) and returns it upper-cased; exit 2 with what was received otherwise. */
export function parseOrderId(value: string): string {
  const id = value.trim().toUpperCase();
  if (!ULID.test(id)) {
    throw new UserError(
      `An order id is a 26-character ULID (Crockford base 32); received ${JSON.stringify(value)}. \`saga ls\` lists them.`,
    );
  }
  return id;
}

/** The ARN of the execution the outbox publisher starts for an order (execution name = order id). */
export function executionArnFor(target: ResolvedTarget, executionName: string): string {
  return `${target.outputs.StateMachineArn.replace(':stateMachine:', ':execution:')}:${executionName}`;
}

/** Checks the shape of an execution ARN; exit 2 with what was expected otherwise. */
export function checkExecutionArn(value: string): string {
  if (!/^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:execution:[^:]+:[^:]+$/.test(value)) {
    throw new UserError(
      `That is not a Step Functions execution ARN: ${JSON.stringify(value)}. ` +
        'Expected arn:aws:states:<region>:<account>:execution:<stateMachine>:<name>, or pass an order id.',
    );
  }
  return value;
}

/** Accepts an execution ARN or an order id; returns the execution ARN. */
export function toExecutionArn(target: ResolvedTarget, value: string): string {
  return value.startsWith('arn:') ? checkExecutionArn(value) : executionArnFor(target, parseOrderId(value));
}

/** Waits until an execution exists (the outbox publishes asynchronously), then returns its description. */
export async function waitForExecutionToExist(
  sfn: SFNClient,
  executionArn: string,
  options: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<DescribeExecutionCommandOutput> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    try {
      return await sfn.send(new DescribeExecutionCommand({ executionArn }));
    } catch (error) {
      if (!(error instanceof ExecutionDoesNotExist) || Date.now() > deadline || options.signal?.aborted)
        throw error;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Waits until an execution is no longer RUNNING and returns its final description. With `untilExists`, an
 * execution that does not exist yet (its order is still on its way through the outbox) counts as running.
 */
export async function waitForExecutionToEnd(
  sfn: SFNClient,
  executionArn: string,
  options: { timeoutMs?: number; signal?: AbortSignal; intervalMs?: number; untilExists?: boolean } = {},
): Promise<DescribeExecutionCommandOutput> {
  const deadline = Date.now() + (options.timeoutMs ?? 300_000);
  for (;;) {
    let d: DescribeExecutionCommandOutput | undefined;
    try {
      d = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    } catch (error) {
      if (!(options.untilExists && error instanceof ExecutionDoesNotExist)) throw error;
    }
    if (d && d.status !== 'RUNNING' && d.status !== 'PENDING_REDRIVE') return d;
    if (Date.now() > deadline) {
      const state = d ? 'still running' : 'not started';
      throw new Error(
        `Execution ${executionArn} ${state} after ${formatShortDuration(options.timeoutMs ?? 300_000)}`,
      );
    }
    if (options.signal?.aborted) {
      if (d) return d;
      options.signal.throwIfAborted();
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 250));
  }
}

/** Every execution of a state machine, newest first (all pages). */
export async function listAllExecutions(
  sfn: SFNClient,
  stateMachineArn: string,
): Promise<ExecutionListItem[]> {
  const executions: ExecutionListItem[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(new ListExecutionsCommand({ stateMachineArn, maxResults: 1000, nextToken }));
    executions.push(...(page.executions ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return executions;
}

/** An execution's whole history, oldest first (all pages). */
export async function readHistory(sfn: SFNClient, executionArn: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(
      new GetExecutionHistoryCommand({ executionArn, nextToken, maxResults: 1000 }),
    );
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
}
