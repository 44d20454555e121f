import type { ListExecutionsInput, StartExecutionInput } from '@aws-sdk/client-sfn';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { AwsError } from './aws-error.ts';
import { defineInput, type InputErrors, parseInput } from './input.ts';

function errorOf(run: () => unknown): AwsError {
  try {
    run();
  } catch (error) {
    if (error instanceof AwsError) return error;
    throw error;
  }
  throw new Error('did not throw');
}

const START_EXECUTION = defineInput<StartExecutionInput>()({
  stateMachineArn: 'string',
  name: 'string?',
  input: 'string?',
});

describe('defineInput', () => {
  it('returns the members the schema names, typed by their rules; null counts as absent', () => {
    const parsed = START_EXECUTION.parse({ stateMachineArn: 'arn', name: null, other: 1 });
    expect(parsed).toEqual({ stateMachineArn: 'arn', name: undefined, input: undefined });
    expectTypeOf(parsed).toEqualTypeOf<{
      stateMachineArn: string;
      name: string | undefined;
      input: string | undefined;
    }>();
  });

  it('says which member, what it must be and what it was, in AWS wording, all failures at once', () => {
    const error = errorOf(() => START_EXECUTION.parse({ name: 42 }));
    expect(error.type).toBe('ValidationException');
    expect(error.message).toBe(
      "2 validation errors detected: Value null at 'stateMachineArn' failed to satisfy constraint: Member must not be null; " +
        "Value 42 at 'name' failed to satisfy constraint: Member must be a string",
    );
  });

  it('checks limits and enums', () => {
    const list = defineInput<ListExecutionsInput>()({
      stateMachineArn: 'string',
      statusFilter: { type: 'string', optional: true, oneOf: ['RUNNING', 'FAILED'] },
      maxResults: { type: 'integer', optional: true, min: 0, max: 1000 },
    });
    const parsed = list.parse({ stateMachineArn: 'a', statusFilter: 'RUNNING' });
    expectTypeOf(parsed.statusFilter).toEqualTypeOf<'RUNNING' | 'FAILED' | undefined>();
    expect(errorOf(() => list.parse({ stateMachineArn: 'a', statusFilter: 'NOPE' })).message).toContain(
      "Value 'NOPE' at 'statusFilter' failed to satisfy constraint: Member must satisfy enum value set: [RUNNING, FAILED]",
    );
    expect(errorOf(() => list.parse({ stateMachineArn: 'a', maxResults: 1001 })).message).toContain(
      "Value 1001 at 'maxResults' failed to satisfy constraint: Member must have value between 0 and 1000",
    );
    expect(errorOf(() => list.parse({ stateMachineArn: 'a', maxResults: 1.5 })).message).toContain(
      'Member must be an integer',
    );
    expect(parseInput({ name: 'xy' }, { name: { type: 'string', min: 2 } })).toEqual({ name: 'xy' });
    expect(errorOf(() => parseInput({ name: 'x' }, { name: { type: 'string', min: 2 } })).message).toContain(
      'Member must have length greater than or equal to 2',
    );
    expect(errorOf(() => parseInput({ tags: ['a', 1] }, { tags: 'string[]' })).message).toContain(
      `Value ["a",1] at 'tags' failed to satisfy constraint: Member must be a list of strings`,
    );
  });

  it("uses the service's error names", () => {
    const sqs: InputErrors = {
      type: 'com.amazonaws.sqs#InvalidParameterValue',
      missing: {
        type: 'com.amazonaws.sqs#MissingParameter',
        message: (field) => `The request must contain the parameter ${field}.`,
        emptyString: true,
      },
    };
    const missing = errorOf(() => parseInput({ QueueUrl: '' }, { QueueUrl: 'string' }, sqs));
    expect([missing.type, missing.message]).toEqual([
      'com.amazonaws.sqs#MissingParameter',
      'The request must contain the parameter QueueUrl.',
    ]);
    const wrong = errorOf(() => parseInput({ QueueUrl: 1 }, { QueueUrl: 'string' }, sqs));
    expect(wrong.type).toBe('com.amazonaws.sqs#InvalidParameterValue');
    const logs = errorOf(() =>
      parseInput({}, { logGroupName: 'string' }, { type: 'InvalidParameterException' }),
    );
    expect(logs.type).toBe('InvalidParameterException');
  });

  it('only admits schemas the SDK input type allows (compile-time)', () => {
    // @ts-expect-error stateMachineArn is required by AWS: it cannot be optional.
    defineInput<StartExecutionInput>()({ stateMachineArn: 'string?' });
    // @ts-expect-error name is a string, not a number.
    defineInput<StartExecutionInput>()({ stateMachineArn: 'string', name: 'integer' });
    // @ts-expect-error StartExecution has no member `nmae`.
    defineInput<StartExecutionInput>()({ stateMachineArn: 'string', nmae: 'string?' });
  });
});
