/**
 * `saga redrive` end to end on the shared local cloud: an order whose saga was stopped in a step (ABORTED) is
 * redriven once the cause is gone; Step Functions restarts it at that step (RedriveExecution), the execution
 * succeeds, the order completes with one side effect per step, and the invariants hold. A succeeded execution is
 * not redrivable: exit 2 with AWS's reason.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeExecutionCommand, SFNClient, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { ulid } from 'ulid';
import { beforeAll, describe, expect, inject, test } from 'vitest';
import { executionArnFor, readHistory, waitForExecutionToExist } from '../cli/target/executions.ts';
import { callApi } from '../cli/target/http.ts';
import { checkInvariants } from '../cli/target/invariants.ts';
import { type ResolvedTarget, resolveTarget } from '../cli/target/target.ts';
import { parseFailSpec, writeFailureFlag } from '../services/shared/failure-flags.ts';
import { runCli } from './support/cli.ts';
import { orderRows } from './support/saga-rows.ts';

let cwd: string;
let target: ResolvedTarget;
let ddb: DynamoDBClient;
let sfn: SFNClient;

beforeAll(async () => {
  cwd = inject('sagaProjectDir');
  target = await resolveTarget(cwd, {});
  ddb = new DynamoDBClient(target.clientConfig());
  sfn = new SFNClient(target.clientConfig());
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `check` returns something defined. */
async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('saga redrive', () => {
  let orderId = '';
  let arn = '';

  test('an execution stopped in a step restarts there once the cause is gone, and the order completes', async () => {
    orderId = ulid();
    arn = executionArnFor(target, orderId);
    // The shipping step is slow (2 s, under the function's scaled timeout): the saga is stopped while it runs.
    await writeFailureFlag(
      ddb,
      target.outputs.FailureFlagsTableName,
      { orderId },
      parseFailSpec('shipping:latency:2000'),
    );
    const placed = await callApi(target, 'POST', '/orders', {
      body: { orderId, customerId: 'c-redrive', items: [{ sku: 'espresso-beans', qty: 1 }], currency: 'EUR' },
    });
    expect(placed.status, placed.text).toBe(202);
    await waitForExecutionToExist(sfn, arn, { timeoutMs: 60_000 });
    await until('ShipOrder to start', async () => {
      const events = await readHistory(sfn, arn);
      const entered = events.findIndex((e) => e.stateEnteredEventDetails?.name === 'ShipOrder');
      return entered >= 0 && events.slice(entered).some((e) => e.type === 'TaskStarted') ? true : undefined;
    });
    await sfn.send(
      new StopExecutionCommand({ executionArn: arn, error: 'Operator', cause: 'shipping hangs' }),
    );
    expect((await sfn.send(new DescribeExecutionCommand({ executionArn: arn }))).status).toBe('ABORTED');

    // The cause goes away; the stopped invocation finishes in the background (its shipment is recorded once).
    const cleared = await runCli(['flags', 'clear', '--order', orderId], { cwd });
    expect(cleared.code, cleared.stderr).toBe(0);
    await until('the stopped shipping invocation to commit', async () =>
      (await orderRows(ddb, target.outputs.ShipmentsTableName, orderId)).length > 0 ? true : undefined,
    );

    const redriven = await runCli(['redrive', orderId], { cwd });
    expect(redriven.code, redriven.stdout + redriven.stderr).toBe(0);
    expect(redriven.stdout).toContain(`Redrove ${orderId}`);
    expect(redriven.stdout).toContain('redriven ×1');

    const described = await sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
    expect(described).toMatchObject({
      status: 'SUCCEEDED',
      redriveCount: 1,
      redriveStatus: 'NOT_REDRIVABLE',
      redriveStatusReason: 'Execution is SUCCEEDED and cannot be redriven',
    });
    expect(described.redriveDate).toBeInstanceOf(Date);
    const history = await readHistory(sfn, arn);
    const types = history.map((e) => e.type);
    const redrive = types.indexOf('ExecutionRedriven');
    expect(types.indexOf('ExecutionAborted')).toBe(redrive - 1);
    expect(history[redrive]?.executionRedrivenEventDetails).toEqual({ redriveCount: 1 });
    // Restarted at the step it was stopped in; the steps before it are not run again.
    const after = history.slice(redrive + 1).flatMap((e) => e.stateEnteredEventDetails?.name ?? []);
    expect(after).toEqual(['ShipOrder', 'MarkOrderCompleted', 'OrderCompleted']);

    const orders = await orderRows(ddb, target.outputs.OrdersTableName, orderId);
    expect(orders.find((r) => r.sk?.S === 'ORDER')?.status?.S).toBe('COMPLETED');
    expect(await orderRows(ddb, target.outputs.ShipmentsTableName, orderId)).toHaveLength(1);
    const invariants = await checkInvariants(target, [{ orderId, specs: [] }]);
    expect(invariants.filter((i) => !i.ok)).toEqual([]);
  });

  test('a succeeded execution is not redrivable: exit 2 with AWS reason and what to do', async () => {
    const byOrder = await runCli(['redrive', orderId], { cwd });
    expect(byOrder.code).toBe(2);
    expect(byOrder.stderr).toContain('Nothing to redrive');
    const byArn = await runCli(['redrive', arn], { cwd });
    expect(byArn.code).toBe(2);
    expect(byArn.stderr).toContain('Execution is SUCCEEDED and cannot be redriven');
    expect(byArn.stderr).toContain('nothing to redo');
  });
});

describe('saga redrive of a COMPENSATION_FAILED order', () => {
  test('a refund that failed for good, then the flag cleared: the redrive finishes it, the order ends CANCELLED', async () => {
    const orderId = ulid();
    const arn = executionArnFor(target, orderId);
    for (const spec of ['shipping:error', 'refund:error'])
      await writeFailureFlag(ddb, target.outputs.FailureFlagsTableName, { orderId }, parseFailSpec(spec));
    const placed = await callApi(target, 'POST', '/orders', {
      body: { orderId, customerId: 'c-redrive', items: [{ sku: 'espresso-beans', qty: 1 }], currency: 'EUR' },
    });
    expect(placed.status, placed.text).toBe(202);
    await waitForExecutionToExist(sfn, arn, { timeoutMs: 60_000 });
    const failed = await until(
      'the saga to fail',
      async () => {
        const d = await sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
        return d.status === 'RUNNING' ? undefined : d;
      },
      120_000,
    );
    // It ends in the refund's second pass (a Task, not a Fail state): the state a redrive restarts from.
    expect(failed).toMatchObject({ status: 'FAILED', error: 'RefundFailed', redriveStatus: 'REDRIVABLE' });
    const order = async () =>
      (await orderRows(ddb, target.outputs.OrdersTableName, orderId)).find((r) => r.sk?.S === 'ORDER');
    expect((await order())?.status?.S).toBe('COMPENSATION_FAILED');

    // The timeline says what to do next.
    const watched = await runCli(['watch', orderId, '--no-follow'], { cwd });
    expect(watched.stdout).toContain(`saga flags clear --order ${orderId}`);
    expect(watched.stdout).toContain(`saga redrive ${orderId}`);

    const cleared = await runCli(['flags', 'clear', '--order', orderId], { cwd });
    expect(cleared.code, cleared.stderr).toBe(0);
    const redriven = await runCli(['redrive', orderId], { cwd });
    expect(redriven.code, redriven.stdout + redriven.stderr).toBe(0);
    expect(redriven.stdout).toContain('redriven ×1');

    const described = await sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
    // The saga's own end for a cancelled order is its OrderCancelled Fail state.
    expect(described).toMatchObject({ status: 'FAILED', error: 'OrderCancelled', redriveCount: 1 });
    const history = await readHistory(sfn, arn);
    const types = history.map((e) => e.type);
    const redrive = types.indexOf('ExecutionRedriven');
    expect(types[redrive - 1]).toBe('ExecutionFailed');
    expect(history[redrive]?.executionRedrivenEventDetails).toEqual({ redriveCount: 1 });
    const after = history.slice(redrive + 1).flatMap((e) => e.stateEnteredEventDetails?.name ?? []);
    expect(after).toEqual(['RetryRefundPayment', 'MarkOrderCancelled', 'OrderCancelled']);

    const row = await order();
    expect(row?.status?.S).toBe('CANCELLED');
    expect(row?.compensationError).toBeUndefined();
    const payments = await orderRows(ddb, target.outputs.PaymentsTableName, orderId);
    expect(payments.map((r) => r.sk?.S).sort()).toEqual(['CHARGE', 'REFUND']);
    // The flag left on the order is the shipping failure: §4b holds for a CANCELLED order.
    const invariants = await checkInvariants(target, [{ orderId, specs: [parseFailSpec('shipping:error')] }]);
    expect(invariants.filter((i) => !i.ok)).toEqual([]);
  });
});
