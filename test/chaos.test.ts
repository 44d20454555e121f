/**
 * `saga chaos` end to end on the shared local cloud: a fixed seed explores for 45 s on the fixed saga and finds
 * nothing (the CI budget of issue 11); then the settled-order replay bug is put back into the running state machine
 * (UpdateStateMachine, cli/chaos/bugs.ts) and `saga chaos` must find it, shrink it, and print how to replay it — a
 * checker that cannot fail proves nothing. The definition is restored afterwards, whatever happens.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeExecutionCommand, DescribeStateMachineCommand, SFNClient } from '@aws-sdk/client-sfn';
import { beforeAll, describe, expect, inject, test } from 'vitest';
import { putBugBack } from '../cli/chaos/bugs.ts';
import { executionArnFor } from '../cli/target/executions.ts';
import { orderRow } from '../cli/target/rerun.ts';
import { type ResolvedTarget, resolveTarget } from '../cli/target/target.ts';
import { runCli } from './support/cli.ts';

interface Summary {
  readonly type: 'summary';
  readonly runs: number;
  readonly orders: number;
  readonly violations: number;
  readonly seed: number;
  readonly schedulesPerMinute: number;
  readonly counterexample?: {
    readonly seed: number;
    readonly path: string;
    readonly schedule: { readonly orders: readonly { readonly actions?: readonly string[] }[] };
    readonly violations: readonly {
      readonly id: string;
      readonly detail: string;
      readonly orders: readonly string[];
    }[];
    readonly replay: readonly string[];
  };
}

interface RunDoc {
  readonly type: 'run';
  readonly schedule: { readonly orders: readonly { readonly actions?: readonly string[] }[] };
  readonly orders: readonly string[];
  readonly violations: readonly unknown[];
  readonly redrives: number;
  readonly shrinking: boolean;
}

let cwd: string;
let target: ResolvedTarget;

beforeAll(async () => {
  cwd = inject('sagaProjectDir');
  target = await resolveTarget(cwd, {});
});

function lines(stdout: string): (Summary | RunDoc)[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Summary | RunDoc);
}

const size = (s: RunDoc['schedule']) =>
  s.orders.length + s.orders.reduce((n, o) => n + (o.actions?.length ?? 0), 0);

describe('saga chaos', () => {
  test('a fixed seed for 45 s on the fixed saga: runs, orders, no violation, exit 0', async () => {
    const result = await runCli(['chaos', '--seed', '20261203', '--budget', '45s', '--json'], { cwd });
    const docs = lines(result.stdout);
    const summary = docs.at(-1) as Summary;
    const runs = docs.filter((d): d is RunDoc => d.type === 'run');
    expect({ code: result.code, violations: summary.violations }, result.stdout.slice(-4000)).toEqual({
      code: 0,
      violations: 0,
    });
    expect(summary).toMatchObject({ type: 'summary', seed: 20261203 });
    expect(summary.runs).toBeGreaterThan(0);
    expect(summary.orders).toBeGreaterThanOrEqual(summary.runs);
    expect(summary.schedulesPerMinute).toBeGreaterThan(0);
    expect(summary.counterexample).toBeUndefined();
    expect(runs).toHaveLength(summary.runs);
    expect(runs.every((r) => r.violations.length === 0)).toBe(true);
  }, 170_000);

  test('redrive: a COMPENSATION_FAILED order redriven after its flags were cleared ends CANCELLED; with them still set, it fails again where it failed', async () => {
    const schedule = {
      orders: [
        { flags: ['shipping:error', 'refund:error'], actions: ['redrive:cleared'] },
        { flags: ['shipping:error', 'release:error'], actions: ['redrive:settled'] },
        { actions: ['redrive:cleared'] },
      ],
    };
    const result = await runCli(['chaos', '--replay', JSON.stringify(schedule), '--json'], { cwd });
    const run = lines(result.stdout).find((d): d is RunDoc => d.type === 'run');
    expect({ code: result.code, violations: run?.violations }, result.stdout.slice(-4000)).toEqual({
      code: 0,
      violations: [],
    });
    // The third order completed: its execution succeeded, which is not redrivable (refused, as expected).
    expect(run?.redrives).toBe(2);
    const ddb = new DynamoDBClient(target.clientConfig());
    const sfn = new SFNClient(target.clientConfig());
    const seen = await Promise.all(
      (run?.orders ?? []).map(async (orderId) => {
        const execution = await sfn.send(
          new DescribeExecutionCommand({ executionArn: executionArnFor(target, orderId) }),
        );
        const row = await orderRow(target, ddb, orderId);
        return { status: row?.status?.S, execution: execution.status, redriveCount: execution.redriveCount };
      }),
    );
    expect(seen).toEqual([
      // Redriven at RetryRefundPayment: the refund made, MarkOrderCancelled, then the saga's OrderCancelled Fail state.
      { status: 'CANCELLED', execution: 'FAILED', redriveCount: 1 },
      // Redriven with release:error still set: RetryReleaseInventory fails again.
      { status: 'COMPENSATION_FAILED', execution: 'FAILED', redriveCount: 1 },
      { status: 'COMPLETED', execution: 'SUCCEEDED', redriveCount: 0 },
    ]);
  }, 120_000);

  test('with the settled-order replay bug put back, it finds it, shrinks it and says how to replay it (exit 1)', async () => {
    const sfn = new SFNClient(target.clientConfig());
    const arn = target.outputs.StateMachineArn;
    const { definition: original } = await sfn.send(
      new DescribeStateMachineCommand({ stateMachineArn: arn }),
    );
    const restore = await putBugBack(sfn, arn, 'settled-replay');
    let result: Awaited<ReturnType<typeof runCli>>;
    let replayed: Summary[] = [];
    try {
      result = await runCli(['chaos', '--seed', '7', '--budget', '60s', '--shrink-budget', '40s', '--json'], {
        cwd,
      });
      // The two printed ways back to it fail again: the schedule itself, and the lane's seed with fast-check's path.
      const found = (lines(result.stdout).at(-1) as Summary).counterexample;
      if (found) {
        const again = [
          ['chaos', '--replay', JSON.stringify(found.schedule)],
          ['chaos', '--seed', String(found.seed), '--path', found.path, '--concurrency', '1'],
        ];
        replayed = await Promise.all(
          again.map(async (argv) => {
            const r = await runCli([...argv, '--budget', '20s', '--shrink-budget', '1s', '--json'], { cwd });
            expect(r.code, r.stdout.slice(-2000)).toBe(1);
            return lines(r.stdout).at(-1) as Summary;
          }),
        );
      }
    } finally {
      await restore();
    }
    const { definition: restored } = await sfn.send(
      new DescribeStateMachineCommand({ stateMachineArn: arn }),
    );
    expect(restored).toBe(original);

    const docs = lines(result.stdout);
    const summary = docs.at(-1) as Summary;
    expect(result.code, result.stdout.slice(-4000)).toBe(1);
    const found = summary.counterexample;
    expect(found).toBeDefined();
    if (!found) return;
    // The bug: a replay of a settled order ran its compensations and marked it CANCELLED (I5), shipped or not (I4).
    expect(found.violations.map((v) => v.id)).toContain('I5');
    expect(found.violations.find((v) => v.id === 'I5')?.detail).toMatch(
      /settled (COMPLETED|CANCELLED|FAILED), then|wrote CANCELLED over/,
    );
    // Shrunk: no bigger than the first failing schedule, and what is left still re-runs the saga of a settled order.
    const firstFailing = docs.find((d): d is RunDoc => d.type === 'run' && d.violations.length > 0);
    expect(firstFailing).toBeDefined();
    expect(size(found.schedule)).toBeLessThanOrEqual(size(firstFailing?.schedule ?? { orders: [] }));
    expect(
      found.schedule.orders.flatMap((o) => o.actions ?? []).some((a) => a.startsWith('replay:sfn')),
    ).toBe(true);
    expect(replayed.map((r) => r.counterexample?.violations.map((v) => v.id).includes('I5'))).toEqual([
      true,
      true,
    ]);
    expect(found.replay).toEqual([
      `saga chaos --seed ${found.seed} --path ${found.path} --concurrency 1`,
      `saga chaos --replay '${JSON.stringify(found.schedule)}'`,
    ]);
  }, 175_000);
});
