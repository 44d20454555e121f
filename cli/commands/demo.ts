import type { CommandContext } from '../command.ts';
import { CheckFailedError } from '../errors.ts';
import { expectedOrderStatus } from '../target/expectations.ts';
import { readLedger } from '../target/ledger.ts';
import { resolveTarget } from '../target/target.ts';
import { parseFailSpecs, placeOrder } from './order.ts';
import { replay } from './replay.ts';
import { followExecution } from './watch.ts';

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
      'ReserveInventory throws OutOfStock; the Catch routes to RefundPayment, then the order is CANCELLED.',
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
    story: 'The retry finds the CHARGE row (a conditional write) and returns it: still one charge.',
    fail: ['payment:crash-after-commit'],
    expect: { charges: 1, refunds: 0, shipments: 1 },
  },
];

/** Result of `saga demo`. */
export interface DemoResult {
  readonly chapters: readonly { title: string; orderId: string; orderStatus: string | null; ok: boolean }[];
  readonly replay: { orderId: string; newSideEffects: number; idempotencyHits: number; verdict: string };
}

/** `saga demo`: the guided tour on the local target (deploys first when needed). */
export async function demo(ctx: CommandContext): Promise<DemoResult> {
  const { out } = ctx;
  const { readLocalCloudState } = await import('../../infra/local/lifecycle.ts');
  if (ctx.globals.target !== 'aws' && !(await readLocalCloudState(ctx.projectDir))) {
    const { deploy } = await import('./deploy.ts');
    await deploy(ctx, { timeScale: 0.1 });
  }
  const target = await resolveTarget(ctx.projectDir, ctx.globals, ctx.env);
  const chapters: DemoResult['chapters'][number][] = [];
  let first: string | undefined;
  for (const [i, chapter] of CHAPTERS.entries()) {
    out.line();
    out.line(out.style.bold(`${i + 1}. ${chapter.title}`));
    out.line(out.style.dim(`   ${chapter.story}`));
    const placed = await placeOrder(
      ctx,
      {
        fail: chapter.fail,
        customer: 'cust-demo',
        currency: 'EUR',
        watch: true,
        logs: false,
      },
      target,
    );
    out.data({ type: 'order', ...placed });
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
      `   ledger: ${ledger.charges} charge, ${ledger.refunds} refund, ${ledger.reservations} reserved, ` +
        `${ledger.releases} released, ${ledger.shipments} shipped ${ok ? out.style.ok('✓') : out.style.fail('✗ unexpected')}`,
    );
    chapters.push({ title: chapter.title, orderId: placed.orderId, orderStatus: summary.orderStatus, ok });
    first ??= placed.orderId;
  }
  out.line();
  out.line(out.style.bold(`${CHAPTERS.length + 1}. Replay the happy order five times, three at once`));
  out.line(
    out.style.dim(
      '   New executions with the original input: every task answers from the idempotency store.',
    ),
  );
  const proof = await replay(ctx, first as string, { times: 5, concurrency: 3, via: 'sfn' });
  out.line(
    `   new side effects: ${proof.newSideEffects} · idempotency hits: ${proof.idempotencyHits} · ` +
      (proof.verdict === 'idempotent' ? out.style.ok('idempotent ✓') : out.style.fail('DUPLICATES ✗')),
  );
  const result: DemoResult = {
    chapters,
    replay: {
      orderId: proof.orderId,
      newSideEffects: proof.newSideEffects,
      idempotencyHits: proof.idempotencyHits,
      verdict: proof.verdict,
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
    ['saga order --fail shipping --fail refund', 'a compensation that never succeeds'],
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
  const failed = result.chapters.filter((c) => !c.ok);
  if (failed.length > 0 || result.replay.verdict !== 'idempotent') {
    throw new CheckFailedError(
      `The demo did not go as the patterns promise: ${failed.map((c) => c.title).join('; ') || 'the replay found duplicates'}.`,
    );
  }
  return 0;
}
