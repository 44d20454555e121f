import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import {
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { type App, Token } from 'aws-cdk-lib';
import { StateMachine } from 'aws-local-stepfunctions';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp, sagaStackOf } from '../infra/app.ts';
import { ORDER_SAGA_ASL_PATH, TASK_FUNCTION_TIMEOUT } from '../infra/stack.ts';
import { SERVICE_ERROR_NAMES } from '../services/shared/errors.ts';
import { createTestTable, testDynamoDbClient } from '../test/support/dynamodb.ts';

// asl-validator is CommonJS without type declarations.
const require = createRequire(import.meta.url);
const validateAsl = require('asl-validator') as (
  definition: unknown,
  options?: { checkPaths?: boolean; checkArn?: boolean },
) => { isValid: boolean; errorsText: (separator?: string) => string };

interface Retrier {
  ErrorEquals: string[];
  IntervalSeconds?: number;
  MaxAttempts?: number;
  BackoffRate?: number;
  MaxDelaySeconds?: number;
  JitterStrategy?: string;
}
interface Catcher {
  ErrorEquals: string[];
  ResultPath?: string | null;
  Next: string;
}
interface AslState {
  Type: string;
  Resource?: string;
  Parameters?: Record<string, unknown>;
  ResultSelector?: Record<string, string>;
  ResultPath?: string | null;
  TimeoutSeconds?: number;
  Retry?: Retrier[];
  Catch?: Catcher[];
  Next?: string;
  End?: boolean;
  QueryLanguage?: string;
}
interface Asl {
  StartAt: string;
  QueryLanguage?: string;
  States: Record<string, AslState>;
}

const ASL_TEXT = readFileSync(ORDER_SAGA_ASL_PATH, 'utf8');
const ASL = JSON.parse(ASL_TEXT) as Asl;

/** The forward steps, in order, with the compensation that undoes each (ShipOrder is the last step: none). */
const FORWARD: readonly { step: string; compensation?: string }[] = [
  { step: 'ChargePayment', compensation: 'RefundPayment' },
  { step: 'ReserveInventory', compensation: 'ReleaseInventory' },
  { step: 'ShipOrder' },
];
const COMPENSATIONS = new Set(FORWARD.flatMap((f) => (f.compensation === undefined ? [] : [f.compensation])));
/** The ASL placeholder `${name}` (built, so that it does not read as a mistyped template literal). */
const placeholder = (name: string): string => `$\{${name}}`;
const LAMBDA_INVOKE = 'arn:aws:states:::lambda:invoke';
const DYNAMODB_UPDATE = 'arn:aws:states:::dynamodb:updateItem';

function state(name: string): AslState {
  const s = ASL.States[name];
  if (s === undefined) throw new Error(`No state named ${name} in the ASL`);
  return s;
}

function placeholdersOf(text: string): Set<string> {
  return new Set([...text.matchAll(/\$\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1] ?? ''));
}

/** Is this an error name the ASL may match: a States.* name, a service error of the integrations, or ours. */
function isKnownErrorName(name: string): boolean {
  return (
    /^States\.[A-Za-z]+$/.test(name) ||
    /^Lambda\.[A-Za-z]+Exception$/.test(name) ||
    /^DynamoDB\.[A-Za-z]+$/.test(name) ||
    name === 'Sandbox.Timedout' ||
    name === 'IdempotencyAlreadyInProgressError' ||
    (SERVICE_ERROR_NAMES as readonly string[]).includes(name)
  );
}

describe('order-saga.asl.json: structure', () => {
  it('is valid Amazon States Language (asl-validator), JSONPath only', () => {
    const result = validateAsl(JSON.parse(ASL_TEXT));
    expect(result.errorsText()).toBe('');
    expect(result.isValid).toBe(true);
    expect(ASL.QueryLanguage ?? 'JSONPath').toBe('JSONPath');
    for (const s of Object.values(ASL.States)) expect(s.QueryLanguage ?? 'JSONPath').toBe('JSONPath');
    expect(ASL_TEXT).not.toContain('{%');
  });

  it('runs the forward steps in order, then marks the order COMPLETED', () => {
    const chain: string[] = [];
    for (let name: string | undefined = ASL.StartAt; name !== undefined; name = state(name).Next)
      chain.push(name);
    expect(chain).toEqual([
      'ChargePayment',
      'ReserveInventory',
      'ShipOrder',
      'MarkOrderCompleted',
      'OrderCompleted',
    ]);
    expect(state('OrderCompleted').Type).toBe('Succeed');
  });

  it('gives every Task state a Retry or a Catch, and every Lambda task both', () => {
    const tasks = Object.entries(ASL.States).filter(([, s]) => s.Type === 'Task');
    expect(tasks.length).toBeGreaterThanOrEqual(9);
    for (const [name, s] of tasks) {
      expect((s.Retry?.length ?? 0) + (s.Catch?.length ?? 0), name).toBeGreaterThan(0);
      if (s.Resource === LAMBDA_INVOKE) {
        expect(s.Retry?.length, name).toBeGreaterThan(0);
        expect(s.Catch?.length, name).toBeGreaterThan(0);
      }
    }
  });

  it('matches only error names that exist: States.*, Lambda.*, Sandbox.Timedout, DynamoDB.* or the services’', () => {
    const names = Object.values(ASL.States).flatMap((s) => [
      ...(s.Retry ?? []).flatMap((r) => r.ErrorEquals),
      ...(s.Catch ?? []).flatMap((c) => c.ErrorEquals),
    ]);
    expect(names).toContain('TransientError');
    const unknown = names.filter((n) => !isKnownErrorName(n));
    expect(unknown).toEqual([]);
    // States.ALL must be the last retrier/catcher of a state and alone in its ErrorEquals.
    for (const [name, s] of Object.entries(ASL.States)) {
      for (const list of [s.Retry ?? [], s.Catch ?? []]) {
        list.forEach((entry, i) => {
          if (entry.ErrorEquals.includes('States.ALL')) {
            expect(entry.ErrorEquals, name).toEqual(['States.ALL']);
            expect(i, name).toBe(list.length - 1);
          }
        });
      }
    }
  });

  it('retries forward steps on transient errors with capped, fully jittered exponential backoff', () => {
    for (const { step } of FORWARD) {
      const s = state(step);
      expect(s.Resource).toBe(LAMBDA_INVOKE);
      const [transient, timeout] = s.Retry ?? [];
      expect(transient).toEqual({
        ErrorEquals: [
          'TransientError',
          'IdempotencyAlreadyInProgressError',
          'Lambda.ServiceException',
          'Lambda.AWSLambdaException',
          'Lambda.SdkClientException',
          'Lambda.TooManyRequestsException',
        ],
        IntervalSeconds: 1,
        MaxAttempts: 3,
        BackoffRate: 2,
        MaxDelaySeconds: 8,
        JitterStrategy: 'FULL',
      });
      expect(timeout?.ErrorEquals).toEqual(['Sandbox.Timedout', 'States.Timeout']);
      expect(timeout?.MaxAttempts).toBe(1);
      // Above the Lambda timeout: a slow function surfaces as Sandbox.Timedout, not as a task timeout.
      expect(s.TimeoutSeconds).toBeGreaterThan(TASK_FUNCTION_TIMEOUT.toSeconds());
      expect(s.Catch?.map((c) => c.ResultPath)).toEqual(['$.error']);
    }
  });

  it('retries compensations longer than forward steps and escalates to COMPENSATION_FAILED', () => {
    const forwardAttempts = Math.max(
      ...FORWARD.flatMap(({ step }) => (state(step).Retry ?? []).map((r) => r.MaxAttempts ?? 3)),
    );
    for (const name of COMPENSATIONS) {
      const s = state(name);
      expect(s.TimeoutSeconds).toBeGreaterThan(TASK_FUNCTION_TIMEOUT.toSeconds());
      const last = s.Retry?.at(-1);
      expect(last?.ErrorEquals).toEqual(['States.ALL']);
      expect(last?.JitterStrategy).toBe('FULL');
      expect(last?.MaxDelaySeconds).toBeGreaterThan(0);
      expect(last?.MaxAttempts).toBeGreaterThan(forwardAttempts);
      expect(s.Catch?.at(-1)?.Next).toBe('MarkCompensationFailed');
      // The forward error stays in $.error for the order's failureReason.
      expect(s.Catch?.at(-1)?.ResultPath).not.toBe('$.error');
    }
    expect(state('MarkCompensationFailed').Next).toBe('CompensationFailed');
    expect(state('CompensationFailed').Type).toBe('Fail');
  });

  it('runs, from each forward step, the compensations of the completed steps in reverse order', () => {
    FORWARD.forEach(({ step }, index) => {
      const expected = FORWARD.slice(0, index)
        .flatMap((f) => (f.compensation === undefined ? [] : [f.compensation]))
        .reverse();
      const visited: string[] = [];
      let name = state(step).Catch?.at(-1)?.Next;
      while (name !== undefined && COMPENSATIONS.has(name)) {
        visited.push(name);
        name = state(name).Next;
      }
      expect(visited, `compensations after ${step} fails`).toEqual(expected);
      expect(name).toBe(index === 0 ? 'MarkOrderFailed' : 'MarkOrderCancelled');
    });
    expect(state('MarkOrderFailed').Next).toBe('PaymentFailed');
    expect(state('MarkOrderCancelled').Next).toBe('OrderCancelled');
    expect(state('PaymentFailed').Type).toBe('Fail');
    expect(state('OrderCancelled').Type).toBe('Fail');
  });

  it('updates the order row with DynamoDB tasks that retry on throttling and task failures', () => {
    const updates = Object.entries(ASL.States).filter(([, s]) => s.Resource === DYNAMODB_UPDATE);
    expect(updates.map(([n]) => n).sort()).toEqual([
      'MarkCompensationFailed',
      'MarkOrderCancelled',
      'MarkOrderCompleted',
      'MarkOrderFailed',
    ]);
    for (const [name, s] of updates) {
      expect(s.Parameters?.TableName, name).toBe(placeholder('OrdersTableName'));
      expect(s.Parameters?.Key, name).toEqual({
        pk: { 'S.$': "States.Format('ORDER#{}', $.orderId)" },
        sk: { S: 'ORDER' },
      });
      expect(s.ResultPath, name).toBeNull();
      const errors = (s.Retry ?? []).flatMap((r) => r.ErrorEquals);
      expect(errors, name).toContain('States.TaskFailed');
      expect(
        errors.some((e) => e.startsWith('DynamoDB.')),
        name,
      ).toBe(true);
    }
  });
});

describe('order-saga.asl.json: substitutions', () => {
  let app: App;
  beforeAll(() => {
    // Constructing the stack without bundling: only the wiring is checked here (stack.test.ts bundles).
    app = buildApp({
      nag: false,
      context: { 'aws:cdk:bundling-stacks': [] },
      outdir: '/tmp/saga-asl-test.out',
    });
  });

  it('fills every placeholder of the ASL, and the stack passes no substitution the ASL does not use', () => {
    const stack = sagaStackOf(app);
    expect(new Set(Object.keys(stack.definitionSubstitutions))).toEqual(placeholdersOf(ASL_TEXT));
    expect(placeholdersOf(ASL_TEXT)).toEqual(
      new Set([
        'ChargePaymentFunctionArn',
        'RefundPaymentFunctionArn',
        'ReserveInventoryFunctionArn',
        'ReleaseInventoryFunctionArn',
        'ShipOrderFunctionArn',
        'OrdersTableName',
      ]),
    );
  });

  it('maps each function placeholder to the matching function and the table placeholder to Orders', () => {
    const stack = sagaStackOf(app);
    for (const [placeholder, value] of Object.entries(stack.definitionSubstitutions)) {
      expect(Token.isUnresolved(value), placeholder).toBe(true);
      const resolved = JSON.stringify(stack.resolve(value));
      if (placeholder === 'OrdersTableName') {
        expect(resolved).toBe(
          JSON.stringify({ Ref: stack.getLogicalId(stack.ordersTable.node.defaultChild as never) }),
        );
      } else {
        const fnId = placeholder.replace(/Arn$/, '');
        const fn = stack.functions[fnId];
        expect(fn, placeholder).toBeDefined();
        expect(resolved).toBe(JSON.stringify(stack.resolve(fn?.functionArn)));
      }
    }
  });
});

// ---- Behaviour: the definition run by aws-local-stepfunctions, order row updates on DynamoDB Local ----------

type Step = 'ChargePayment' | 'RefundPayment' | 'ReserveInventory' | 'ReleaseInventory' | 'ShipOrder';
type StepBehaviour = (payload: Record<string, unknown>, attempt: number) => unknown;

class NamedError extends Error {
  constructor(name: string, message = name) {
    super(message);
    this.name = name;
  }
}

const OK: Record<Step, StepBehaviour> = {
  ChargePayment: (p) => ({ chargeId: `ch_${String(p.orderId)}`, amount: p.amount, currency: p.currency }),
  RefundPayment: (p) => ({ refundId: `re_${String(p.orderId)}`, amount: p.amount, refunded: true }),
  ReserveInventory: (p) => ({ reservations: p.items }),
  ReleaseInventory: (p) => ({ released: p.items }),
  ShipOrder: () => ({ trackingId: 'TRK1', carrier: 'saga-post' }),
};

interface SagaRun {
  readonly ok: boolean;
  readonly output?: unknown;
  readonly error?: string;
  /** Each state entered, in order. */
  readonly entered: readonly string[];
  /** Each Lambda invocation: state name and payload. */
  readonly calls: readonly { state: Step; payload: Record<string, unknown> }[];
  readonly retries: Readonly<Record<string, number>>;
  readonly order: Record<string, unknown> | undefined;
}

describe('order-saga.asl.json: behaviour (aws-local-stepfunctions + DynamoDB Local)', () => {
  const ddb = testDynamoDbClient();
  let table = '';
  let definition: Asl;

  beforeAll(async () => {
    table = await createTestTable(ddb, 'saga-asl-orders');
    const text = ASL_TEXT.replace(
      /\$\{([A-Za-z]+)FunctionArn\}/g,
      'arn:aws:lambda:us-east-1:000000000000:function:$1',
    ).replaceAll(placeholder('OrdersTableName'), table);
    definition = JSON.parse(text) as Asl;
  });

  async function run(
    orderId: string,
    behaviour: Partial<Record<Step, StepBehaviour>> = {},
  ): Promise<SagaRun> {
    await ddb.send(
      new PutItemCommand({
        TableName: table,
        Item: { pk: { S: `ORDER#${orderId}` }, sk: { S: 'ORDER' }, status: { S: 'PENDING' } },
      }),
    );
    const calls: { state: Step; payload: Record<string, unknown> }[] = [];
    const attempts: Partial<Record<Step, number>> = {};
    const lambda = (step: Step) => async (input: unknown) => {
      const payload = (input as { Payload: Record<string, unknown> }).Payload;
      calls.push({ state: step, payload });
      attempts[step] = (attempts[step] ?? 0) + 1;
      return { StatusCode: 200, Payload: await (behaviour[step] ?? OK[step])(payload, attempts[step]) };
    };
    const update = async (input: unknown) => {
      await ddb.send(new UpdateItemCommand(input as UpdateItemCommandInput));
      return {};
    };
    const machine = new StateMachine(definition as never, { validationOptions: { checkArn: true } });
    const stateNames = Object.keys(definition.States);
    const execution = machine.run(
      { orderId, customerId: 'c-1', items: [{ sku: 'ceramic-mug', qty: 2 }], amount: 2400, currency: 'EUR' },
      {
        // aws-local-stepfunctions has no $$.State: a getter gives each read of EnteredTime the current time.
        context: {
          State: {
            get EnteredTime() {
              return new Date().toISOString();
            },
          },
        } as never,
        overrides: {
          taskResourceLocalHandlers: {
            ChargePayment: lambda('ChargePayment'),
            RefundPayment: lambda('RefundPayment'),
            ReserveInventory: lambda('ReserveInventory'),
            ReleaseInventory: lambda('ReleaseInventory'),
            ShipOrder: lambda('ShipOrder'),
            MarkOrderCompleted: update,
            MarkOrderFailed: update,
            MarkOrderCancelled: update,
            MarkCompensationFailed: update,
          } as never,
          retryIntervalOverrides: Object.fromEntries(stateNames.map((n) => [n, 0])),
        },
      },
    );
    const entered: string[] = [];
    const retries: Record<string, number> = {};
    const logs = (async () => {
      for await (const event of execution.eventLogs) {
        if (!('state' in event)) continue;
        if (event.type === 'StateEntered') entered.push(event.state.name);
        if (event.type === 'StateRetried') retries[event.state.name] = (retries[event.state.name] ?? 0) + 1;
      }
    })();
    let result: Pick<SagaRun, 'ok' | 'output' | 'error'>;
    try {
      result = { ok: true, output: await execution.result };
    } catch (error) {
      result = { ok: false, error: (error as Error).message };
    }
    await logs;
    const { Item } = await ddb.send(
      new GetItemCommand({ TableName: table, Key: { pk: { S: `ORDER#${orderId}` }, sk: { S: 'ORDER' } } }),
    );
    const order = Item && Object.fromEntries(Object.entries(Item).map(([k, v]) => [k, v.S ?? v.N]));
    return { ...result, entered, calls, retries, order };
  }

  it('completes: passes the documented payloads and idempotency keys, keeps results, marks COMPLETED', async () => {
    const r = await run('o-happy');
    expect(r.ok).toBe(true);
    expect(r.calls.map((c) => c.state)).toEqual(['ChargePayment', 'ReserveInventory', 'ShipOrder']);
    expect(r.calls[0]?.payload).toEqual({
      orderId: 'o-happy',
      amount: 2400,
      currency: 'EUR',
      idempotency_key: 'o-happy#charge',
    });
    expect(r.calls[1]?.payload).toEqual({
      orderId: 'o-happy',
      items: [{ sku: 'ceramic-mug', qty: 2 }],
      idempotency_key: 'o-happy#reserve',
    });
    expect(r.calls[2]?.payload.idempotency_key).toBe('o-happy#ship');
    expect(r.output).toMatchObject({
      orderId: 'o-happy',
      payment: { chargeId: 'ch_o-happy', amount: 2400, currency: 'EUR' },
      inventory: { reservations: [{ sku: 'ceramic-mug', qty: 2 }] },
      shipping: { trackingId: 'TRK1', carrier: 'saga-post' },
    });
    expect(r.order?.status).toBe('COMPLETED');
    expect(Number.isNaN(Date.parse(String(r.order?.updatedAt)))).toBe(false);
  });

  it('retries transient and in-progress errors, then carries on', async () => {
    const r = await run('o-transient', {
      ChargePayment: (p, n) => {
        if (n <= 2) throw new NamedError('TransientError');
        return OK.ChargePayment(p, n);
      },
      ReserveInventory: (p, n) => {
        if (n === 1) throw new NamedError('IdempotencyAlreadyInProgressError');
        return OK.ReserveInventory(p, n);
      },
    });
    expect(r.ok).toBe(true);
    expect(r.retries).toEqual({ ChargePayment: 2, ReserveInventory: 1 });
    expect(r.order?.status).toBe('COMPLETED');
  });

  it('gives up after 3 retries of a transient error and routes it like a business error', async () => {
    const r = await run('o-transient-forever', {
      ChargePayment: () => {
        throw new NamedError('TransientError');
      },
    });
    expect(r.ok).toBe(false);
    expect(r.calls.filter((c) => c.state === 'ChargePayment')).toHaveLength(4);
    expect(r.order?.status).toBe('FAILED');
  });

  it('retries a Lambda timeout once, then catches it', async () => {
    const r = await run('o-timeout', {
      ShipOrder: () => {
        throw new NamedError('Sandbox.Timedout', 'Task timed out after 10.00 seconds');
      },
    });
    expect(r.retries.ShipOrder).toBe(1);
    expect(r.order?.status).toBe('CANCELLED');
  });

  it('payment declined: marks the order FAILED, runs no compensation', async () => {
    const r = await run('o-declined', {
      ChargePayment: () => {
        throw new NamedError('PaymentDeclined', 'card declined');
      },
    });
    expect(r.ok).toBe(false);
    expect(r.error).toContain('nothing needed undoing');
    expect(r.entered).toEqual(['ChargePayment', 'MarkOrderFailed', 'PaymentFailed']);
    expect(r.retries).toEqual({});
    expect(r.order).toMatchObject({ status: 'FAILED', failureReason: 'PaymentDeclined' });
  });

  it('out of stock: refunds the payment, marks the order CANCELLED', async () => {
    const r = await run('o-oos', {
      ReserveInventory: (p) => {
        throw new NamedError(
          'OutOfStock',
          `Out of stock: sku '${String((p.items as { sku: string }[])[0]?.sku)}'`,
        );
      },
    });
    expect(r.entered).toEqual([
      'ChargePayment',
      'ReserveInventory',
      'RefundPayment',
      'MarkOrderCancelled',
      'OrderCancelled',
    ]);
    expect(r.calls.at(-1)?.payload).toEqual({
      orderId: 'o-oos',
      amount: 2400,
      currency: 'EUR',
      idempotency_key: 'o-oos#refund',
    });
    expect(r.order).toMatchObject({ status: 'CANCELLED', failureReason: 'OutOfStock' });
  });

  it('shipping unavailable: releases the stock, then refunds (reverse order), marks CANCELLED', async () => {
    const r = await run('o-noship', {
      ShipOrder: () => {
        throw new NamedError('ShippingUnavailable');
      },
    });
    expect(r.calls.map((c) => c.state)).toEqual([
      'ChargePayment',
      'ReserveInventory',
      'ShipOrder',
      'ReleaseInventory',
      'RefundPayment',
    ]);
    expect(r.calls[3]?.payload.idempotency_key).toBe('o-noship#release');
    expect(r.order).toMatchObject({ status: 'CANCELLED', failureReason: 'ShippingUnavailable' });
  });

  it('a compensation that keeps failing is retried, then the order is COMPENSATION_FAILED', async () => {
    const r = await run('o-refund-broken', {
      ReserveInventory: () => {
        throw new NamedError('OutOfStock');
      },
      RefundPayment: () => {
        throw new NamedError('RefundFailed');
      },
    });
    expect(r.ok).toBe(false);
    const maxAttempts = state('RefundPayment').Retry?.at(-1)?.MaxAttempts ?? 0;
    expect(r.calls.filter((c) => c.state === 'RefundPayment')).toHaveLength(maxAttempts + 1);
    expect(r.entered.slice(-2)).toEqual(['MarkCompensationFailed', 'CompensationFailed']);
    expect(r.order).toMatchObject({
      status: 'COMPENSATION_FAILED',
      failureReason: 'OutOfStock',
      compensationError: 'RefundFailed',
    });
  });

  it('a compensation that recovers after retries still ends CANCELLED', async () => {
    const r = await run('o-release-flaky', {
      ShipOrder: () => {
        throw new NamedError('ShippingUnavailable');
      },
      ReleaseInventory: (p, n) => {
        if (n <= 2) throw new NamedError('TransientError');
        return OK.ReleaseInventory(p, n);
      },
    });
    expect(r.retries.ReleaseInventory).toBe(2);
    expect(r.order?.status).toBe('CANCELLED');
  });
});
