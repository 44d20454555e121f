import { createHash } from 'node:crypto';
import { DeleteItemCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { IDEMPOTENCY_KEY_PREFIXES } from '../../services/shared/idempotency-hit.ts';
import type { CommandContext } from '../command.ts';
import { CheckFailedError, noteForInterrupt } from '../errors.ts';
import { followExecution } from '../saga/follow.ts';
import { parseFailSpecs, placeOrder } from '../saga/orders.ts';
import { type AnsweredBy, type ReplayVia, replay } from '../saga/replay.ts';
import { expectedOrderStatus } from '../target/expectations.ts';
import { readLedger } from '../target/ledger.ts';
import { type ResolvedTarget, resolveTarget } from '../target/target.ts';
import { plural } from '../ui/format.ts';

/** One chapter of the tour. */
interface Chapter {
  readonly title: string;
  readonly story: string;
  readonly fail: readonly string[];
  /** What to check in the ledger afterwards, with the sentence that explains it. */
  readonly expect: { charges: number; refunds: number; shipments: number };
}

const CHAPTERS: readonly Chapter[] = [
  {
    title: 'A happy order',
    story: 'The order and its OUTBOX row are written in one transaction; the stream starts the saga.',
    fail: [],
    expect: { charges: 1, refunds: 0, shipments: 1 },
  },
  {
    title: 'Inventory fails: the payment is compensated',
    story:
      'ReserveInventory throws OutOfStock; CancelOrder marks the order CANCELLING, the compensations run ' +
      '(RefundPayment undoes the charge), then the order is CANCELLED.',
    fail: ['inventory'],
    expect: { charges: 1, refunds: 1, shipments: 0 },
  },
  {
    title: 'Payment fails twice, then succeeds',
    story: 'TransientError is retried with exponential backoff and full jitter: three attempts, one charge.',
    fail: ['payment:transient:2'],
    expect: { charges: 1, refunds: 0, shipments: 1 },
  },
  {
    title: 'The charge commits, then the function crashes',
    story: 'The retry answers from the ledger: it finds the CHARGE row and returns it. Still one charge.',
    fail: ['payment:crash-after-commit'],
    expect: { charges: 1, refunds: 0, shipments: 1 },
  },
];

/** The forward steps, with the record-id prefixes their Idempotency records carry (services' `keyPrefix`). */
const FORWARD_STEPS = [
  ['charge', IDEMPOTENCY_KEY_PREFIXES.charge],
  ['reserve', IDEMPOTENCY_KEY_PREFIXES.reserve],
  ['ship', IDEMPOTENCY_KEY_PREFIXES.ship],
] as const;

/** One re-run of the happy order in the last chapter, and the layer that must answer it. */
interface ReplayRun {
  readonly title: string;
  readonly story: string;
  readonly via: ReplayVia;
  readonly times: number;
  /** Expire the order's forward Idempotency records first. */
  readonly expire: boolean;
  readonly layer: keyof AnsweredBy;
}

const REPLAY_RUNS: readonly ReplayRun[] = [
  {
    title: 'a. saga replay: three new executions at once, with the original input',
    story: 'CheckOrder reads COMPLETED and ends in AlreadySettled: the order is settled; nothing ran.',
    via: 'sfn',
    times: 3,
    expire: false,
    layer: 'guard',
  },
  {
    title:
      'b. saga replay --via steps: each forward step invoked directly, with its original payload and key',
    story: 'Powertools answers each one from the idempotency store.',
    via: 'steps',
    times: 1,
    expire: false,
    layer: 'idempotencyStore',
  },
  {
    title:
      'c. The same, once those idempotency records expired (deleted here, as their TTL does after an hour)',
    story: 'Each step answers from its own record: the charge, the reservations, the shipment.',
    via: 'steps',
    times: 1,
    expire: true,
    layer: 'ledger',
  },
];

/**
 * Whether a replay was answered as its story says: idempotent, and every answer came from the named layer — one
 * per execution (sfn) or one per step invocation (steps), none from another layer.
 */
export function answeredAsTold(
  run: { readonly via: ReplayVia; readonly times: number; readonly layer: keyof AnsweredBy },
  answeredBy: AnsweredBy,
  verdict: string,
): boolean {
  const expected = run.via === 'steps' ? run.times * FORWARD_STEPS.length : run.times;
  const others = (Object.keys(answeredBy) as (keyof AnsweredBy)[]).filter((k) => k !== run.layer);
  return (
    verdict === 'idempotent' && answeredBy[run.layer] === expected && others.every((k) => answeredBy[k] === 0)
  );
}

/**
 * Deletes the order's forward steps' Idempotency records, as their TTL does an hour after they were written. A
 * record id is `<keyPrefix>#<base64 md5 of the JSON of the idempotency key>` (Powertools). Returns how many existed.
 */
async function expireIdempotencyRecords(target: ResolvedTarget, orderId: string): Promise<number> {
  const ddb = new DynamoDBClient(target.clientConfig());
  const deleted = await Promise.all(
    FORWARD_STEPS.map(async ([step, prefix]) => {
      const hash = createHash('md5')
        .update(JSON.stringify(`${orderId}#${step}`))
        .digest('base64');
      const { Attributes } = await ddb.send(
        new DeleteItemCommand({
          TableName: target.outputs.IdempotencyTableName,
          Key: { id: { S: `${prefix}#${hash}` } },
          ReturnValues: 'ALL_OLD',
        }),
      );
      return Attributes === undefined ? 0 : 1;
    }),
  );
  return deleted.reduce((sum: number, n) => sum + n, 0);
}

/** Result of `saga demo`. */
export interface DemoResult {
  readonly chapters: readonly { title: string; orderId: string; orderStatus: string | null; ok: boolean }[];
  readonly replay: {
    readonly orderId: string;
    readonly runs: readonly {
      readonly via: ReplayVia;
      readonly times: number;
      /** Idempotency records expired before the run. */
      readonly expired: number;
      /** The layer the story says answers. */
      readonly layer: keyof AnsweredBy;
      readonly answeredBy: AnsweredBy;
      readonly newSideEffects: number;
      readonly orderStatus: { readonly before: string; readonly after: string };
      readonly verdict: string;
      readonly ok: boolean;
    }[];
    /** Over every run. */
    readonly newSideEffects: number;
    readonly verdict: 'idempotent' | 'DUPLICATES';
  };
}

/** `saga demo`: the guided tour on the local target (deploys first when needed). */
export async function demo(ctx: CommandContext): Promise<DemoResult> {
  const { out } = ctx;
  const { readLocalCloudState } = await import('@saga/local-cloud');
  if (ctx.globals.target !== 'aws' && !(await readLocalCloudState(ctx.projectDir))) {
    const { deploy } = await import('../saga/deploy.ts');
    await deploy(ctx, { timeScale: 0.1 });
  }
  const target = await resolveTarget(ctx.projectDir, ctx.globals, ctx.env);
  const chapters: DemoResult['chapters'][number][] = [];
  let first: string | undefined;
  for (const [i, chapter] of CHAPTERS.entries()) {
    ctx.signal.throwIfAborted(); // Ctrl-C: no further chapter
    out.line();
    out.line(out.style.bold(`${i + 1}. ${chapter.title}`));
    out.line(out.style.dim(`   ${chapter.story}`));
    const placed = await placeOrder(
      ctx,
      {
        fail: chapter.fail,
        customer: 'cust-demo',
        currency: 'EUR',
      },
      target,
    );
    out.data({ type: 'order', ...placed });
    noteForInterrupt(
      ctx.signal,
      `The tour stopped at chapter ${i + 1}; order ${placed.orderId}'s execution goes on in the cloud: ` +
        `\`saga watch ${placed.orderId}\` follows it. \`saga demo\` starts the tour again.`,
    );
    out.line(
      out.style.dim(
        `   order ${placed.orderId}${placed.flags.length ? ` · injected ${placed.flags.join(', ')}` : ''}`,
      ),
    );
    const summary = await followExecution(ctx, placed.executionArn, { waitForStart: true, target });
    const ledger = await readLedger(target, placed.orderId);
    const expected = expectedOrderStatus(parseFailSpecs(chapter.fail));
    const ok =
      summary.orderStatus === expected &&
      ledger.charges === chapter.expect.charges &&
      ledger.refunds === chapter.expect.refunds &&
      ledger.shipments === chapter.expect.shipments;
    out.line(
      `   ledger: ${plural(ledger.charges, 'charge')}, ${plural(ledger.refunds, 'refund')}, ${ledger.reservations} reserved, ` +
        `${ledger.releases} released, ${ledger.shipments} shipped ${ok ? out.style.ok('✓') : out.style.fail('✗ unexpected')}`,
    );
    chapters.push({ title: chapter.title, orderId: placed.orderId, orderStatus: summary.orderStatus, ok });
    first ??= placed.orderId;
  }
  const orderId = first as string;
  out.line();
  out.line(out.style.bold(`${CHAPTERS.length + 1}. Replay the happy order: which layer answers`));
  const runs: DemoResult['replay']['runs'][number][] = [];
  for (const run of REPLAY_RUNS) {
    ctx.signal.throwIfAborted();
    out.line(`   ${run.title}`);
    noteForInterrupt(
      ctx.signal,
      `The tour stopped at the replays of order ${orderId}; re-runs already started go on in the cloud ` +
        '(`saga ls` lists them). `saga demo` starts the tour again.',
    );
    out.line(out.style.dim(`      ${run.story}`));
    const expired = run.expire ? await expireIdempotencyRecords(target, orderId) : 0;
    // `replay` counts the log lines from a second before it starts: keep the previous run's out of its window.
    if (runs.length > 0) await new Promise((r) => setTimeout(r, 1100));
    const proof = await replay(ctx, orderId, { times: run.times, concurrency: run.times, via: run.via });
    const ok = answeredAsTold(run, proof.answeredBy, proof.verdict);
    const { guard, idempotencyStore, ledger } = proof.answeredBy;
    out.line(
      `      guard ${guard} · idempotency store ${idempotencyStore} · ledger ${ledger} · ` +
        `new side effects ${proof.newSideEffects} ${ok ? out.style.ok('✓') : out.style.fail('✗ unexpected')}`,
    );
    runs.push({
      via: run.via,
      times: run.times,
      expired,
      layer: run.layer,
      answeredBy: proof.answeredBy,
      newSideEffects: proof.newSideEffects,
      orderStatus: proof.orderStatus,
      verdict: proof.verdict,
      ok,
    });
  }
  const result: DemoResult = {
    chapters,
    replay: {
      orderId,
      runs,
      newSideEffects: runs.reduce((sum, r) => sum + r.newSideEffects, 0),
      verdict: runs.every((r) => r.verdict === 'idempotent') ? 'idempotent' : 'DUPLICATES',
    },
  };
  out.data({ type: 'demo', ...result });
  out.line();
  out.line(out.style.bold('Try next'));
  const next: [string, string][] = [
    ['saga ls', 'the orders you just placed'],
    [`saga watch ${chapters[1]?.orderId ?? '<orderId>'}`, 'a timeline again'],
    [`saga logs ${chapters[3]?.orderId ?? '<orderId>'}`, "every function's lines for one order"],
    ['saga order --fail shipping', 'release, then refund, in reverse order'],
    [
      'saga order --fail shipping --fail refund',
      'a compensation that never succeeds — then `saga flags clear`, `saga redrive` it to CANCELLED',
    ],
    [
      `saga report ${chapters[1]?.orderId ?? '<orderId>'} --html report.html`,
      'one page to share: graph, Gantt, ledger, logs',
    ],
    ['saga bench --orders 100 --mix none=3,inventory=1,payment:transient:2=1', 'load, then every invariant'],
  ];
  const width = Math.max(...next.map(([command]) => command.length));
  for (const [command, what] of next) {
    out.line(`  ${out.style.accent(command.padEnd(width))}  ${out.style.dim(what)}`);
  }
  return result;
}

export default async function action(ctx: CommandContext): Promise<number> {
  const result = await demo(ctx);
  const failed = [
    ...result.chapters.filter((c) => !c.ok).map((c) => c.title),
    ...result.replay.runs.flatMap((r, i) =>
      r.ok
        ? []
        : [`replay ${i + 1} (${r.via}) was not answered by the ${r.layer} alone, or added a side effect`],
    ),
  ];
  if (failed.length > 0) {
    throw new CheckFailedError(`The demo did not go as the patterns promise: ${failed.join('; ')}.`);
  }
  return 0;
}
