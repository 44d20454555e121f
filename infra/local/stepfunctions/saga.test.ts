import { readFileSync } from 'node:fs';
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestTable, testDynamoDbClient } from '../../../test/support/dynamodb.ts';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from '../types.ts';
import type { LocalHistoryEvent } from './history.ts';
import { retryDelayMs } from './retry.ts';
import { StepFunctionsService } from './service.ts';
import { namedError, statesEntered, TestFunctions } from './testing.ts';

// The project's own saga definition, run with in-test functions standing in for the five Lambdas and real
// DynamoDB Local Orders, Payments and Shipments tables for its dynamodb and aws-sdk:dynamodb states.

const TIME_SCALE = 0.02;
const dynamodb = testDynamoDbClient();
/** Per order id, what each step should do. */
const behaviour = new Map<
  string,
  { charge?: string[]; reserve?: string[]; ship?: string[]; refund?: string[] }
>();

function step(kind: 'charge' | 'reserve' | 'ship' | 'refund', payload: unknown): void {
  const { orderId } = payload as { orderId: string };
  const next = behaviour.get(orderId)?.[kind]?.shift();
  if (next !== undefined) throw namedError(next, `${kind} failed for ${orderId} (${next})`);
}

const functions = new TestFunctions({
  charge: (p) => {
    step('charge', p);
    const { orderId, amount, currency } = p as { orderId: string; amount: number; currency: string };
    return { chargeId: `ch_${orderId}`, amount, currency };
  },
  reserve: (p) => {
    step('reserve', p);
    return { reservations: (p as { items: unknown }).items };
  },
  ship: (p) => {
    step('ship', p);
    return { trackingId: 'TRK1', carrier: 'local' };
  },
  refund: (p) => {
    step('refund', p);
    return { refundId: 'rf_1', amount: (p as { amount: number }).amount, refunded: true };
  },
  release: (p) => ({ released: (p as { items: unknown }).items }),
});

const service = new StepFunctionsService({
  lambda: functions,
  dynamodb,
  timeScale: TIME_SCALE,
  accountId: LOCAL_ACCOUNT_ID,
  region: LOCAL_REGION,
});
const machineArn = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:stateMachine:OrderSaga`;
let ordersTable = '';
let paymentsTable = '';
let shipmentsTable = '';

beforeAll(async () => {
  [ordersTable, paymentsTable, shipmentsTable] = await Promise.all([
    createTestTable(dynamodb, 'sfn-orders'),
    createTestTable(dynamodb, 'sfn-payments'),
    createTestTable(dynamodb, 'sfn-shipments'),
  ]);
  const substitutions: Record<string, string> = {
    ChargePaymentFunctionArn: TestFunctions.arn('charge'),
    ReserveInventoryFunctionArn: TestFunctions.arn('reserve'),
    ShipOrderFunctionArn: TestFunctions.arn('ship'),
    RefundPaymentFunctionArn: TestFunctions.arn('refund'),
    ReleaseInventoryFunctionArn: TestFunctions.arn('release'),
    OrdersTableName: ordersTable,
    PaymentsTableName: paymentsTable,
    ShipmentsTableName: shipmentsTable,
  };
  const template = readFileSync(
    new URL('../../../state-machines/order-saga.asl.json', import.meta.url),
    'utf8',
  );
  const definition = template.replaceAll(/\$\{(\w+)\}/g, (_, name: string) => {
    const value = substitutions[name];
    if (value === undefined) throw new Error(`No substitution for \${${name}} in order-saga.asl.json`);
    return value;
  });
  service.createStateMachine({
    name: 'OrderSaga',
    arn: machineArn,
    definition,
    roleArn: `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/OrderSagaRole`,
    type: 'STANDARD',
  });
});
afterAll(() => service.close());

async function placeAndRun(
  orderId: string,
  plan: { charge?: string[]; reserve?: string[]; ship?: string[]; refund?: string[] } = {},
  options: { replay?: boolean } = {},
): Promise<{ status?: string; error?: string; events: LocalHistoryEvent[] }> {
  behaviour.set(orderId, plan);
  if (!options.replay)
    await dynamodb.send(
      new PutItemCommand({
        TableName: ordersTable,
        Item: { pk: { S: `ORDER#${orderId}` }, sk: { S: 'ORDER' }, status: { S: 'PENDING' } },
      }),
    );
  const input = {
    orderId,
    customerId: 'c1',
    items: [{ sku: 'SKU-1', qty: 2 }],
    amount: 2500,
    currency: 'EUR',
  };
  const { executionArn } = (await service.handle('StartExecution', {
    stateMachineArn: machineArn,
    name: options.replay ? `${orderId}-replay` : orderId,
    input: JSON.stringify(input),
  })) as { executionArn: string };
  const described = await service.waitForExecution(executionArn, { timeoutMs: 20_000 });
  return {
    status: described.status,
    error: described.error,
    events: [...service.getExecutionHistory(executionArn)],
  };
}

async function orderRow(orderId: string): Promise<Record<string, string | undefined>> {
  const { Item } = await dynamodb.send(
    new GetItemCommand({
      TableName: ordersTable,
      Key: { pk: { S: `ORDER#${orderId}` }, sk: { S: 'ORDER' } },
    }),
  );
  return {
    status: Item?.status?.S,
    updatedAt: Item?.updatedAt?.S,
    failureReason: Item?.failureReason?.S,
    compensationError: Item?.compensationError?.S,
  };
}

describe('the order saga', () => {
  test('happy path: every step once, order COMPLETED through the dynamodb:updateItem integration', async () => {
    const { status, events } = await placeAndRun('01HAPPY');
    expect(status).toBe('SUCCEEDED');
    expect(statesEntered(events)).toEqual([
      'CheckOrder',
      'RouteOrder',
      'ChargePayment',
      'ReserveInventory',
      'ShipOrder',
      'MarkOrderCompleted',
      'OrderCompleted',
    ]);
    const calls = functions.calls.filter(
      (call) => (call.payload as { orderId: string }).orderId === '01HAPPY',
    );
    expect(calls.map((call) => call.name)).toEqual(['charge', 'reserve', 'ship']);
    expect(calls[0]?.payload).toEqual({
      orderId: '01HAPPY',
      amount: 2500,
      currency: 'EUR',
      idempotency_key: '01HAPPY#charge',
    });
    const row = await orderRow('01HAPPY');
    expect(row.status).toBe('COMPLETED');
    // $$.State.EnteredTime: the time MarkOrderCompleted was entered, as an ISO timestamp.
    const entered = events.find((e) => e.stateEnteredEventDetails?.name === 'MarkOrderCompleted');
    expect(Math.abs(Date.parse(String(row.updatedAt)) - Number(entered?.timestamp.getTime()))).toBeLessThan(
      50,
    );
    expect(events.at(-1)?.type).toBe('ExecutionSucceeded');
  });

  test('a transient error is retried in one state visit, with gaps within the scaled FULL-jitter backoff', async () => {
    const { status, events } = await placeAndRun('01TRANSIENT', {
      charge: ['TransientError', 'TransientError'],
    });
    expect(status).toBe('SUCCEEDED');
    const entered = events.findIndex((e) => e.stateEnteredEventDetails?.name === 'ChargePayment');
    const exited = events.findIndex((e) => e.stateExitedEventDetails?.name === 'ChargePayment');
    const visit = events.slice(entered + 1, exited);
    expect(visit.map((e) => e.type)).toEqual([
      'TaskScheduled',
      'TaskStarted',
      'TaskFailed',
      'TaskScheduled',
      'TaskStarted',
      'TaskFailed',
      'TaskScheduled',
      'TaskStarted',
      'TaskSucceeded',
    ]);
    expect(visit[2]?.taskFailedEventDetails?.error).toBe('TransientError');
    // Retrier: IntervalSeconds 1, BackoffRate 2, FULL jitter → the n-th pause is in [0, 2^n s) × timeScale.
    const gaps = visit
      .flatMap((event, i) => (event.type === 'TaskFailed' ? [[event, visit[i + 1]] as const] : []))
      .map(([failed, next]) => Number(next?.timestamp.getTime()) - failed.timestamp.getTime());
    expect(gaps).toHaveLength(2);
    const slack = 40; // event loop and recording overhead on a shared 2-core machine
    gaps.forEach((gap, n) => {
      expect(gap).toBeGreaterThanOrEqual(0);
      expect(gap).toBeLessThan(1000 * 2 ** n * TIME_SCALE + slack);
    });
  });

  test('retry pauses without jitter follow IntervalSeconds × BackoffRate^n, scaled', async () => {
    const arn = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:stateMachine:NoJitter`;
    service.createStateMachine({
      name: 'NoJitter',
      arn,
      roleArn: 'arn:aws:iam::000000000000:role/r',
      type: 'STANDARD',
      definition: JSON.stringify({
        StartAt: 'Charge',
        States: {
          Charge: {
            Type: 'Task',
            Resource: 'arn:aws:states:::lambda:invoke',
            Parameters: { FunctionName: TestFunctions.arn('charge'), 'Payload.$': '$' },
            Retry: [
              {
                ErrorEquals: ['TransientError'],
                IntervalSeconds: 3,
                BackoffRate: 2,
                MaxAttempts: 3,
                MaxDelaySeconds: 10,
              },
            ],
            End: true,
          },
        },
      }),
    });
    behaviour.set('01NOJITTER', { charge: ['TransientError', 'TransientError', 'TransientError'] });
    const { executionArn } = (await service.handle('StartExecution', {
      stateMachineArn: arn,
      input: JSON.stringify({ orderId: '01NOJITTER', amount: 1, currency: 'EUR' }),
    })) as { executionArn: string };
    await service.waitForExecution(executionArn, { timeoutMs: 20_000 });
    const events = service.getExecutionHistory(executionArn);
    const gaps = events.flatMap((event, i) =>
      event.type === 'TaskFailed' && events[i + 1]?.type === 'TaskScheduled'
        ? [Number(events[i + 1]?.timestamp.getTime()) - event.timestamp.getTime()]
        : [],
    );
    // 3 s, 6 s, then 12 s capped at 10 s; × 0.02 → 60, 120, 200 ms.
    const expected = [60, 120, 200];
    expect(gaps).toHaveLength(3);
    gaps.forEach((gap, i) => {
      expect(gap).toBeGreaterThanOrEqual((expected[i] ?? 0) - 2);
      expect(gap).toBeLessThan((expected[i] ?? 0) + 60);
    });
  });

  test('retryDelayMs: AWS backoff, cap and FULL jitter bounds', () => {
    const retrier = {
      ErrorEquals: ['X'],
      IntervalSeconds: 1,
      BackoffRate: 2,
      MaxDelaySeconds: 8,
      JitterStrategy: 'FULL' as const,
    };
    expect(retryDelayMs(retrier, 0, 1, () => 0.5)).toBe(500);
    expect(retryDelayMs(retrier, 2, 1, () => 0.5)).toBe(2000);
    expect(retryDelayMs(retrier, 5, 1, () => 0.999)).toBeCloseTo(7992);
    expect(retryDelayMs({ ...retrier, JitterStrategy: 'NONE' }, 1, 0.1)).toBeCloseTo(200);
    expect(retryDelayMs({ ErrorEquals: ['X'] }, 0, 1)).toBe(1000);
  });

  test('a business error after two steps is caught: compensations run in reverse, order CANCELLED', async () => {
    const { status, error, events } = await placeAndRun('01SHIPFAIL', { ship: ['ShippingUnavailable'] });
    expect(status).toBe('FAILED');
    expect(error).toBe('OrderCancelled');
    expect(statesEntered(events)).toEqual([
      'CheckOrder',
      'RouteOrder',
      'ChargePayment',
      'ReserveInventory',
      'ShipOrder',
      'CancelOrder',
      'ReleaseInventory',
      'RefundPayment',
      'CompensationsDone',
      'MarkOrderCancelled',
      'OrderCancelled',
    ]);
    const shipExit = events.find((e) => e.stateExitedEventDetails?.name === 'ShipOrder');
    expect(JSON.parse(String(shipExit?.stateExitedEventDetails?.output)).error.Error).toBe(
      'ShippingUnavailable',
    );
    const failed = events.at(-1);
    expect(failed?.type).toBe('ExecutionFailed');
    expect(failed?.executionFailedEventDetails?.error).toBe('OrderCancelled');
    expect(failed?.executionFailedEventDetails?.cause).toMatch(/compensated/);
    expect(events.at(-2)?.type).toBe('FailStateEntered');
    expect(await orderRow('01SHIPFAIL')).toMatchObject({
      status: 'CANCELLED',
      failureReason: 'ShippingUnavailable',
    });
  });

  test('a payment error goes to MarkOrderFailed and PaymentFailed, nothing to undo', async () => {
    const { status, error, events } = await placeAndRun('01PAYFAIL', { charge: ['PaymentDeclined'] });
    expect(status).toBe('FAILED');
    expect(error).toBe('PaymentFailed');
    expect(statesEntered(events)).toEqual([
      'CheckOrder',
      'RouteOrder',
      'ChargePayment',
      'MarkOrderFailed',
      'PaymentFailed',
    ]);
    expect(await orderRow('01PAYFAIL')).toMatchObject({ status: 'FAILED', failureReason: 'PaymentDeclined' });
  });

  test('a replay of a settled order ends in AlreadySettled without running any step', async () => {
    await placeAndRun('01REPLAY');
    const calls = functions.calls.length;
    const { status, events } = await placeAndRun('01REPLAY', {}, { replay: true });
    expect(status).toBe('SUCCEEDED');
    expect(statesEntered(events)).toEqual(['CheckOrder', 'RouteOrder', 'AlreadySettled']);
    expect(functions.calls.length).toBe(calls);
    expect((await orderRow('01REPLAY')).status).toBe('COMPLETED');
  });

  test('a refund that keeps failing leaves COMPENSATION_FAILED naming it (JSON); a re-run resumes and cancels', async () => {
    // 1 + 6 retries in RefundPayment, then once more in RetryRefundPayment after the order is marked.
    const refundFailures = Array.from({ length: 8 }, () => 'TransientError');
    const { status, error, events } = await placeAndRun('01COMPFAIL', {
      reserve: ['OutOfStock'],
      refund: refundFailures,
    });
    expect(status).toBe('FAILED');
    expect(error).toBe('TransientError');
    expect(statesEntered(events).slice(-6)).toEqual([
      'ReleaseInventory',
      'RefundPayment',
      'CompensationsDone',
      'MarkCompensationFailed',
      'RetryCompensations',
      'RetryRefundPayment',
    ]);
    const row = await orderRow('01COMPFAIL');
    expect(row.status).toBe('COMPENSATION_FAILED');
    // States.JsonToString of a Catch's {Error, Cause}, whose Cause is itself JSON text: valid JSON, as on AWS.
    expect(JSON.parse(String(row.compensationError))).toEqual({
      refund: { Error: 'TransientError', Cause: expect.stringContaining('"errorType":"TransientError"') },
    });

    const resumed = await placeAndRun('01COMPFAIL', {}, { replay: true });
    expect(resumed.error).toBe('OrderCancelled');
    expect(statesEntered(resumed.events)).toEqual([
      'CheckOrder',
      'RouteOrder',
      'ReleaseInventory',
      'RefundPayment',
      'CompensationsDone',
      'MarkOrderCancelled',
      'OrderCancelled',
    ]);
    expect((await orderRow('01COMPFAIL')).status).toBe('CANCELLED');
  });
  test('a COMPENSATION_FAILED execution redriven once the refund works again: RetryRefundPayment, CANCELLED', async () => {
    const refundFailures = Array.from({ length: 8 }, () => 'TransientError');
    const first = await placeAndRun('01COMPREDRIVE', { reserve: ['OutOfStock'], refund: refundFailures });
    expect(first.status).toBe('FAILED');
    expect((await orderRow('01COMPREDRIVE')).status).toBe('COMPENSATION_FAILED');
    const refundsBefore = functions.calls.filter((c) => c.name === 'refund').length;

    // The plan's eight failures are spent: the next refund succeeds.
    const executionArn = `${machineArn.replace(':stateMachine:', ':execution:')}:01COMPREDRIVE`;
    await service.handle('RedriveExecution', { executionArn });
    const described = await service.waitForExecution(executionArn, { timeoutMs: 20_000 });
    expect(described.status).toBe('FAILED');
    expect(described.error).toBe('OrderCancelled');
    const events = [...service.getExecutionHistory(executionArn)];
    const redriven = events.findIndex((e) => e.type === 'ExecutionRedriven');
    expect(redriven).toBeGreaterThan(0);
    expect(statesEntered(events.slice(redriven))).toEqual([
      'RetryRefundPayment',
      'MarkOrderCancelled',
      'OrderCancelled',
    ]);
    expect(functions.calls.filter((c) => c.name === 'refund').length).toBe(refundsBefore + 1);
    const row = await orderRow('01COMPREDRIVE');
    expect(row.status).toBe('CANCELLED');
    expect(row.compensationError).toBeUndefined();
  });
});
