/**
 * The outbox sweeper: invoked every minute by an EventBridge schedule. Starts the saga of every order still
 * `PENDING` after `SWEEP_AFTER_SECONDS` that has no execution (the outbox publisher gave up on its stream
 * record), logs what it started, and fails the invocation when an order could not be checked or started (the
 * next sweep tries it again).
 */
import { SFNClient } from '@aws-sdk/client-sfn';
import type { Context, ScheduledEvent } from 'aws-lambda';
import { documentClient } from '../shared/clients.ts';
import { requireEnv } from '../shared/env.ts';
import { beginInvocation, logger } from '../shared/logger.ts';
import { DEFAULT_SWEEP_AFTER_SECONDS, type SweeperDeps, type SweepResult, sweep } from './sweeper.ts';

/** `SWEEP_AFTER_SECONDS` as a whole number of seconds ≥ 0, or the default when unset. */
export function parseSweepAfterSeconds(value: string | undefined): number {
  if (value === undefined || value.trim() === '') return DEFAULT_SWEEP_AFTER_SECONDS;
  const seconds = Number(value);
  if (!Number.isInteger(seconds) || seconds < 0) {
    throw new Error(
      `SWEEP_AFTER_SECONDS must be a whole number of seconds ≥ 0, received ${JSON.stringify(value)}; ` +
        `set it on the function or leave it unset for ${DEFAULT_SWEEP_AFTER_SECONDS}`,
    );
  }
  return seconds;
}

const env = requireEnv('ORDERS_TABLE', 'STATE_MACHINE_ARN');
const sweepAfterSeconds = parseSweepAfterSeconds(process.env.SWEEP_AFTER_SECONDS);
const deps: SweeperDeps = {
  client: documentClient,
  ordersTable: env.ORDERS_TABLE,
  sfn: new SFNClient({}),
  stateMachineArn: env.STATE_MACHINE_ARN,
};

/** Some orders could not be checked or started; the next sweep tries them again. */
export class SweepFailedError extends Error {
  readonly orderIds: readonly string[];

  constructor(failed: SweepResult['failed']) {
    super(
      `The sweep could not start or check ${failed.length} order(s): ` +
        failed.map(({ orderId, error }) => `${orderId} (${error.name}: ${error.message})`).join('; '),
    );
    this.name = 'SweepFailedError';
    this.orderIds = failed.map(({ orderId }) => orderId);
  }
}

/** What the handler returns: the sweep's counts and the orders it started. */
export interface SweepSummary {
  readonly sweepAfterSeconds: number;
  /** Stale PENDING orders found. */
  readonly found: number;
  /** Of those, the ones this sweep checked. */
  readonly candidates: number;
  readonly started: readonly string[];
  readonly hadExecution: number;
  readonly more: boolean;
}

/** The scheduled handler. */
export const handler = async (_event: ScheduledEvent, context: Context): Promise<SweepSummary> => {
  beginInvocation(context);
  const result = await sweep(deps, { sweepAfterSeconds });
  for (const { orderId, executionArn } of result.started) {
    logger.info('Sweeper started the saga of a stale PENDING order', { orderId, executionArn });
  }
  for (const { orderId, error } of result.failed) {
    logger.error('Sweeper could not check or start the saga of a stale PENDING order', { orderId, error });
  }
  const summary: SweepSummary = {
    sweepAfterSeconds,
    found: result.found,
    candidates: result.candidates,
    started: result.started.map(({ orderId }) => orderId),
    hadExecution: result.hadExecution.length,
    more: result.more,
  };
  if (result.more) {
    logger.warn('More stale PENDING orders than one sweep handles; the next sweeps pick from the rest', {
      ...summary,
    });
  }
  logger.info('Sweep done', { ...summary, failed: result.failed.length });
  if (result.failed.length > 0) throw new SweepFailedError(result.failed);
  return summary;
};
