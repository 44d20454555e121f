import { setTimeout as sleep } from 'node:timers/promises';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { ulid } from 'ulid';
import { type FailSpec, writeFailureFlag } from '../../services/shared/failure-flags.ts';
import type { CommandContext } from '../command.ts';
import type { ArgsOf, benchCommand, OptionsOf } from '../definitions.ts';
import { CheckFailedError, noteForInterrupt, UserError } from '../errors.ts';
import { parseSpecForCli } from '../saga/orders.ts';
import { executionArnFor, waitForExecutionToEnd } from '../target/executions.ts';
import { callApi } from '../target/http.ts';
import {
  checkInvariants,
  type InvariantResult,
  type PlacedBenchOrder,
  readStock,
} from '../target/invariants.ts';
import { resolveTarget } from '../target/target.ts';
import { formatDuration, type Style } from '../ui/format.ts';

/** Options of `saga bench`. */
export interface BenchOptions {
  /** How many orders. @default 50 */
  readonly orders: number;
  /** How many orders in flight at once. @default 10 */
  readonly concurrency: number;
  /** The failure mix: `none=6,inventory=2,payment:transient:2=1,…` (weights). @default none=1 */
  readonly mix: string;
}

/** One entry of the failure mix. */
export interface MixEntry {
  readonly specs: readonly FailSpec[];
  readonly label: string;
  readonly weight: number;
}

/** The `bench --json` result. */
export interface BenchResult {
  readonly orders: number;
  readonly concurrency: number;
  readonly durationMs: number;
  readonly ordersPerSecond: number;
  /** Order placed → execution stopped. */
  readonly latencyMs: {
    readonly p50: number;
    readonly p95: number;
    readonly p99: number;
    readonly max: number;
  };
  readonly statuses: Record<string, number>;
  readonly invariants: readonly InvariantResult[];
  readonly violations: number;
}

/**
 * Parses a failure mix: comma-separated `spec=weight` (`none` for no failure; `+` joins specs of one order, e.g.
 * `shipping+refund:transient:2=1`).
 */
export function parseMix(text: string): MixEntry[] {
  const entries = text
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  if (entries.length === 0)
    throw new UserError('--mix is empty. Example: --mix none=6,inventory=2,payment:transient:2=2');
  return entries.map((entry) => {
    const at = entry.lastIndexOf('=');
    const label = at < 0 ? entry : entry.slice(0, at);
    const weightText = at < 0 ? '1' : entry.slice(at + 1);
    const weight = Number(weightText);
    if (!Number.isInteger(weight) || weight < 1) {
      throw new UserError(
        `--mix entry ${JSON.stringify(entry)}: the weight after = must be a whole number ≥ 1.`,
      );
    }
    const specs = label === 'none' ? [] : label.split('+').map(parseSpecForCli);
    return { specs, label, weight };
  });
}

/** Spreads the mix over n orders deterministically (weights as shares, interleaved). */
export function assignMix(mix: readonly MixEntry[], n: number): MixEntry[] {
  const total = mix.reduce((s, m) => s + m.weight, 0);
  const credit = mix.map(() => 0);
  const out: MixEntry[] = [];
  for (let i = 0; i < n; i++) {
    mix.forEach((m, j) => {
      credit[j] = (credit[j] ?? 0) + m.weight / total;
    });
    let best = 0;
    credit.forEach((c, j) => {
      if (c > (credit[best] ?? 0)) best = j;
    });
    credit[best] = (credit[best] ?? 0) - 1;
    out.push(mix[best] as MixEntry);
  }
  return out;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

const BENCH_ITEMS = [
  [{ sku: 'espresso-beans', qty: 1 }],
  [
    { sku: 'ceramic-mug', qty: 2 },
    { sku: 'paper-filters', qty: 1 },
  ],
  [{ sku: 'paper-filters', qty: 3 }],
] as const;

/**
 * The units a run of n orders takes per SKU, and what is short of it in `stock`: a run that sells a SKU out
 * would cancel orders the mix expects to complete, and report that as a broken invariant.
 */
export function stockShortfall(n: number, stock: Readonly<Record<string, number>>): string[] {
  const needed = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    for (const { sku, qty } of BENCH_ITEMS[i % BENCH_ITEMS.length] ?? []) {
      needed.set(sku, (needed.get(sku) ?? 0) + qty);
    }
  }
  return [...needed]
    .filter(([sku, units]) => units > (stock[sku] ?? 0))
    .map(([sku, units]) => `${sku}: ${units} needed, ${stock[sku] ?? 0} in stock`);
}

/** `saga bench`: N orders at concurrency C with a failure mix; throughput, latency, then the invariants. */
export async function bench(ctx: CommandContext, options: BenchOptions): Promise<BenchResult> {
  const mix = assignMix(parseMix(options.mix), options.orders);
  const target = await resolveTarget(ctx.projectDir, ctx.globals, ctx.env);
  const ddb = new DynamoDBClient(target.clientConfig());
  const sfn = new SFNClient(target.clientConfig());
  const stockBefore = await readStock(target, ddb);
  const short = stockShortfall(options.orders, stockBefore);
  if (short.length > 0) {
    throw new UserError(
      `Not enough stock for ${options.orders} orders (${short.join('; ')}); earlier runs sold it. ` +
        'Run fewer orders, or reset the local stack with `saga destroy --yes && saga deploy`.',
    );
  }
  const placed: PlacedBenchOrder[] = [];
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  const progress = await ctx.out.progress(
    `Placing ${options.orders} orders, ${options.concurrency} at a time`,
  );
  const started = Date.now();
  let next = 0;
  let done = 0;
  // Ctrl-C: no new order is placed; those placed go on in the cloud (run() says so and exits 130).
  const worker = async () => {
    while (next < mix.length && !ctx.signal.aborted) {
      const i = next++;
      const entry = mix[i] as MixEntry;
      const orderId = ulid();
      const items = BENCH_ITEMS[i % BENCH_ITEMS.length] as readonly { sku: string; qty: number }[];
      await Promise.all(
        entry.specs.map((spec) =>
          writeFailureFlag(ddb, target.outputs.FailureFlagsTableName, { orderId }, spec),
        ),
      );
      const t0 = Date.now();
      const response = await callApi(target, 'POST', '/orders', {
        body: { orderId, customerId: `bench-${i % 7}`, items, currency: 'EUR' },
      });
      if (response.status !== 202)
        throw new Error(`POST /orders answered ${response.status}: ${response.text}`);
      placed.push({ orderId, specs: entry.specs, items });
      noteForInterrupt(
        ctx.signal,
        `The ${placed.length} order(s) placed so far go on in the cloud (\`saga ls\` lists them; \`saga watch ` +
          `${orderId}\` follows the last); no new order was placed and no invariant was checked.`,
      );
      const arn = executionArnFor(target, orderId);
      // The latency is read from the execution's stopDate, so polling later does not change it; it only
      // delays this client's next order. First look when most orders so far had ended: far fewer polls (this
      // client's CPU per order fell from 34 to 16 ms in bench:local), and that CPU goes to the system under test.
      const firstLookMs =
        0.8 *
        percentile(
          [...latencies].sort((a, b) => a - b),
          50,
        );
      // An abort (Ctrl-C) ends the wait early; the loop below then returns what it finds.
      await sleep(Math.max(0, t0 + firstLookMs - Date.now()), undefined, { signal: ctx.signal }).catch(
        () => {},
      );
      const end = await waitForExecutionToEnd(sfn, arn, {
        signal: ctx.signal,
        intervalMs: target.kind === 'local' ? 50 : 1000,
        untilExists: true,
      });
      latencies.push((end.stopDate?.getTime() ?? Date.now()) - t0);
      statuses[end.status ?? 'UNKNOWN'] = (statuses[end.status ?? 'UNKNOWN'] ?? 0) + 1;
      progress.update(`${++done}/${options.orders} orders done`);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(options.concurrency, options.orders) }, worker));
  } finally {
    progress.stop();
  }
  const durationMs = Date.now() - started;
  const sorted = [...latencies].sort((a, b) => a - b);
  const checking = await ctx.out.progress('Checking the invariants');
  const invariants = await checkInvariants(target, placed, stockBefore);
  checking.stop();
  return {
    orders: options.orders,
    concurrency: options.concurrency,
    durationMs,
    ordersPerSecond: options.orders / (durationMs / 1000),
    latencyMs: {
      p50: percentile(sorted, 50),
      p95: percentile(sorted, 95),
      p99: percentile(sorted, 99),
      max: sorted.at(-1) ?? 0,
    },
    statuses,
    invariants,
    violations: invariants.filter((i) => !i.ok).length,
  };
}

/** The `saga bench` result for people: throughput, latency, execution statuses, then one line per invariant. */
export function renderBench(result: BenchResult, style: Style): string[] {
  const nameWidth = Math.max(...result.invariants.map((inv) => inv.name.length));
  const { p50, p95, p99, max } = result.latencyMs;
  return [
    `${result.orders} orders in ${formatDuration(result.durationMs)} at concurrency ${result.concurrency}: ` +
      `${style.bold(result.ordersPerSecond.toFixed(1))} orders/s`,
    `order → terminal state: p50 ${formatDuration(p50)} · p95 ${formatDuration(p95)} · ` +
      `p99 ${formatDuration(p99)} · max ${formatDuration(max)}`,
    `executions: ${Object.entries(result.statuses)
      .map(([k, v]) => `${k} ${v}`)
      .join(' · ')}`,
    '',
    ...result.invariants.map(
      (inv) =>
        `${inv.ok ? style.ok('✓') : style.fail('✗')} ${inv.name.padEnd(nameWidth)}  ${style.dim(inv.detail)}`,
    ),
  ];
}

export default async function action(
  ctx: CommandContext,
  _args: ArgsOf<typeof benchCommand>,
  options: OptionsOf<typeof benchCommand>,
): Promise<number> {
  const result = await bench(ctx, options);
  const { out } = ctx;
  out.result({ type: 'bench', ...result }, (style) => renderBench(result, style));
  if (result.violations > 0) {
    throw new CheckFailedError(`${result.violations} invariant(s) violated.`);
  }
  return 0;
}
