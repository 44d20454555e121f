/**
 * The shape every saga task handler shares: validate the task payload, log with the order id, and run the
 * action's domain function wrapped with Powertools `makeIdempotent` (key `idempotency_key`). The step's failure
 * flag is read only when the domain function reaches its dependency (`hooks.before`): a completed key answers
 * from the Idempotency table, and a committed side effect from the step's own ledger, without consulting flags
 * (flags model the dependency).
 */
import { makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { parse } from '@aws-lambda-powertools/parser';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import { InvalidInputError } from './errors.ts';
import {
  type FailureFlag,
  type FailureStep,
  type InjectionContext,
  injectAfterCommit,
  injectBefore,
  readFailureFlag,
} from './failure-flags.ts';
import type { FailureHooks } from './hooks.ts';
import { idempotencyOptions } from './idempotency.ts';
import { LEDGER_HIT_MESSAGE } from './idempotency-hit.ts';
import { recordInjection } from './injection-record.ts';
import { beginInvocation, logger } from './logger.ts';
import type * as z from './zod.ts';

/** Every saga task payload carries the order id and the idempotency key the state machine derived. */
export interface SagaTaskInput {
  readonly orderId: string;
  readonly idempotency_key: string;
}

/** One saga action. */
export interface SagaActionDefinition<I extends SagaTaskInput, R> {
  /** The action, for logs and errors (`charge`). */
  readonly action: string;
  /** The failure-flag step it answers to. */
  readonly step: FailureStep;
  /** The task payload's schema. */
  readonly schema: z.ZodMiniType<I>;
  /** Idempotency record prefix, fixed per action (`payment.charge`). */
  readonly keyPrefix: string;
  /** What a repeated key must carry unchanged (`[amount, currency]`, `items`). */
  readonly payloadValidationJmesPath: string;
  /** The domain function. */
  readonly run: (input: I, hooks: FailureHooks) => Promise<R>;
}

/** What every action handler needs from its environment. */
export interface SagaActionEnvironment {
  readonly client: DynamoDBClient;
  readonly idempotencyTable: string;
  readonly failureFlagsTable: string;
  /** Where an injected failure is recorded on the ORDER row (`injected`). @default process.env.ORDERS_TABLE */
  readonly ordersTable?: string;
}

/** Validates a task payload or throws {@link InvalidInputError} listing every problem. */
export function parseTaskInput<I>(action: string, schema: z.ZodMiniType<I>, event: unknown): I {
  const result = parse(event, undefined, schema, true);
  if (result.success) return result.data;
  const issues = Array.isArray(result.error.cause)
    ? (result.error.cause as { message: string; path?: readonly unknown[] }[]).map(
        (issue) => `${(issue.path ?? []).map(String).join('.') || '(payload)'}: ${issue.message}`,
      )
    : [result.error.message];
  throw new InvalidInputError(`${action} task payload ${JSON.stringify(event)?.slice(0, 300)}`, issues);
}

/** Builds the Lambda handler of a saga action. */
export function sagaActionHandler<I extends SagaTaskInput, R>(
  definition: SagaActionDefinition<I, R>,
  environment: SagaActionEnvironment,
): (event: unknown, context: Context) => Promise<R> {
  const options = idempotencyOptions({
    tableName: environment.idempotencyTable,
    client: environment.client,
    payloadValidationJmesPath: definition.payloadValidationJmesPath,
    keyPrefix: definition.keyPrefix,
  });

  const runWithFlags = async (input: I, context: Context): Promise<R> => {
    const injection: InjectionContext = {
      client: environment.client,
      table: environment.failureFlagsTable,
      lambdaContext: context,
      onInject: (acting) =>
        recordInjection(
          environment.client,
          environment.ordersTable ?? process.env.ORDERS_TABLE,
          input.orderId,
          acting,
        ),
    };
    let flag: Promise<FailureFlag | undefined> | undefined;
    const readFlag = (): Promise<FailureFlag | undefined> => {
      flag ??= readFailureFlag(
        environment.client,
        environment.failureFlagsTable,
        input.orderId,
        definition.step,
      ).then((found) => {
        if (found) logger.info('Failure flag active', { flag: found });
        return found;
      });
      return flag;
    };
    return definition.run(input, {
      before: async () => injectBefore(await readFlag(), injection),
      afterCommit: async () => injectAfterCommit(await readFlag(), injection),
      answeredFromLedger: (detail) =>
        logger.info(LEDGER_HIT_MESSAGE, { action: definition.action, ...detail }),
    });
  };
  const idempotent = makeIdempotent(runWithFlags, options);

  return async (event: unknown, context: Context): Promise<R> => {
    beginInvocation(context);
    const input = parseTaskInput(definition.action, definition.schema, event);
    beginInvocation(context, input.orderId);
    options.config.registerLambdaContext(context);
    try {
      const result = await idempotent(input, context);
      logger.info(`${definition.action} done`, { result });
      return result;
    } catch (error) {
      logger.warn(`${definition.action} failed`, { error });
      throw error;
    }
  };
}
