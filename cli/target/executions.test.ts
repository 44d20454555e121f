import { describe, expect, test } from 'vitest';
import { UserError } from '../errors.ts';
import type { StackOutputs } from './context.ts';
import { executionArnFor, parseOrderId, toExecutionArn } from './executions.ts';
import type { ResolvedTarget } from './target.ts';

const STATE_MACHINE = 'arn:aws:states:us-east-1:000000000000:stateMachine:Saga-OrderSagaF61556E2-ABC123';
const ORDER_ID = '01JD8Z6Q3M4N5P6R7S8T9V0W1X';

function target(stateMachineArn = STATE_MACHINE): ResolvedTarget {
  const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
  const outputs: StackOutputs = {
    ApiUrl: 'http://127.0.0.1:1/',
    StateMachineArn: stateMachineArn,
    OrdersTableName: 'Orders',
    PaymentsTableName: 'Payments',
    InventoryTableName: 'Inventory',
    ShipmentsTableName: 'Shipments',
    IdempotencyTableName: 'Idempotency',
    FailureFlagsTableName: 'FailureFlags',
  };
  return {
    kind: 'local',
    region: 'us-east-1',
    outputs,
    credentials,
    clientConfig: () => ({ region: 'us-east-1', credentials }),
  };
}

describe('parseOrderId', () => {
  test('a ULID is accepted, trimmed and upper-cased', () => {
    expect(parseOrderId(` ${ORDER_ID.toLowerCase()} `)).toBe(ORDER_ID);
  });

  test.each([
    'not-a-ulid',
    '',
    ORDER_ID.slice(1),
    `${ORDER_ID}0`,
    '01JD8Z6Q3M4N5P6R7S8T9V0W1I',
    '01JD8Z6Q3M4N5P6R7S8T9V0W1U',
  ])('%j → UserError naming what was received', (value) => {
    expect(() => parseOrderId(value)).toThrowError(UserError);
    expect(() => parseOrderId(value)).toThrowError(`received ${JSON.stringify(value)}`);
  });
});

describe('executionArnFor / toExecutionArn', () => {
  test('an order id becomes the execution of the saga named after it', () => {
    const arn = `arn:aws:states:us-east-1:000000000000:execution:Saga-OrderSagaF61556E2-ABC123:${ORDER_ID}`;
    expect(executionArnFor(target(), ORDER_ID)).toBe(arn);
    expect(toExecutionArn(target(), ORDER_ID.toLowerCase())).toBe(arn);
  });

  test('an execution ARN is taken as it is, from any partition and account', () => {
    const arn = 'arn:aws-cn:states:cn-north-1:123456789012:execution:OtherMachine:run-7';
    expect(toExecutionArn(target(), arn)).toBe(arn);
  });

  test.each([
    'arn:aws:bad',
    'arn:aws:states:us-east-1:123456789012:stateMachine:OrderSaga',
    'arn:aws:lambda:us-east-1:123456789012:execution:OrderSaga:x',
    'arn:aws:states:us-east-1:1234:execution:OrderSaga:x',
  ])('%j → UserError explaining the expected shape', (arn) => {
    expect(() => toExecutionArn(target(), arn)).toThrowError(UserError);
    expect(() => toExecutionArn(target(), arn)).toThrowError(
      `That is not a Step Functions execution ARN: ${JSON.stringify(arn)}. Expected arn:aws:states:<region>:<account>:execution:<stateMachine>:<name>`,
    );
  });

  test('a value that is neither is checked as an order id', () => {
    expect(() => toExecutionArn(target(), 'xyz')).toThrowError('An order id is a 26-character ULID');
  });
});
