import { randomUUID } from 'node:crypto';
import type { InvokeResult, LambdaInvoker } from '../types.ts';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from '../types.ts';
import { AwsError } from '../wire/aws-error.ts';
import type { LocalHistoryEvent } from './history.ts';

/** A function the test runs as a local Lambda: its return value is the payload, a throw a function error. */
export type TestFunction = (payload: unknown) => unknown;

/**
 * A {@link LambdaInvoker} over plain in-test functions, answering like Lambda's Invoke API: a throw becomes
 * `functionError: 'Unhandled'` with `{errorType, errorMessage, trace}`; an unknown name
 * `ResourceNotFoundException`. Records every call.
 */
export class TestFunctions implements LambdaInvoker {
  readonly calls: { name: string; payload: unknown; at: number }[] = [];
  readonly #functions: Map<string, TestFunction>;

  constructor(functions: Record<string, TestFunction>) {
    this.#functions = new Map(Object.entries(functions));
  }

  /** The ARN of one of the functions. */
  static arn(name: string): string {
    return `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:function:${name}`;
  }

  async invoke(functionNameOrArn: string, payload: unknown): Promise<InvokeResult> {
    const name = functionNameOrArn.split(':function:').at(-1)?.split(':')[0] ?? functionNameOrArn;
    const fn = this.#functions.get(name);
    if (fn === undefined) {
      throw new AwsError('ResourceNotFoundException', `Function not found: ${TestFunctions.arn(name)}`, 404);
    }
    this.calls.push({ name, payload, at: performance.now() });
    const base = { statusCode: 200, executedVersion: '$LATEST', requestId: randomUUID() };
    try {
      return { ...base, payload: (await fn(payload)) ?? null };
    } catch (error) {
      const e = error as Error;
      return {
        ...base,
        functionError: 'Unhandled',
        payload: { errorType: e.name, errorMessage: e.message, trace: String(e.stack).split('\n') },
      };
    }
  }
}

/** An error with a chosen `name`, as the saga's handlers throw them. */
export function namedError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

/** Event types of a history, in order. */
export function eventTypes(events: readonly { type?: string }[]): string[] {
  return events.map((event) => String(event.type));
}

/** The states entered, in order (names from `stateEnteredEventDetails`). */
export function statesEntered(events: readonly LocalHistoryEvent[]): string[] {
  return events.flatMap((event) =>
    event.stateEnteredEventDetails?.name ? [event.stateEnteredEventDetails.name] : [],
  );
}

/**
 * The comparable skeleton of a history: per event its type, id, previousEventId and the name and keys of
 * its details object.
 */
export function historyShape(events: readonly Record<string, unknown>[]): string[] {
  return events.map((event) => {
    const detailKeys = Object.keys(event).filter((key) => key.endsWith('EventDetails'));
    const details = detailKeys
      .map(
        (key) =>
          `${key}{${Object.keys(event[key] as object)
            .sort()
            .join(',')}}`,
      )
      .join(' ');
    return `${String(event.id)}<-${String(event.previousEventId)} ${String(event.type)} ${details}`.trim();
  });
}
