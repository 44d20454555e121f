import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ulid } from 'ulid';
import { CATALOG, findCatalogItem } from '../../services/shared/catalog.ts';
import {
  type FailSpec,
  type FailureFlag,
  formatFailSpec,
  GLOBAL_SCOPE,
  listFailureFlags,
  writeFailureFlag,
} from '../../services/shared/failure-flags.ts';
import type { CommandContext } from '../command.ts';
import { CheckFailedError, EnvironmentError, noteForInterrupt, UserError } from '../errors.ts';
import { executionArnFor } from '../target/executions.ts';
import { type Expectation, expectedOutcome, type InjectedFlag } from '../target/expectations.ts';
import { callApi } from '../target/http.ts';
import { type ResolvedTarget, resolveTarget } from '../target/target.ts';
import { parseSpecForCli } from './flags.ts';

/** Options of `saga order`. */
export interface OrderOptions {
  /** Failure specs (`step[:mode[:arg]]`) set on this order before it is placed. @default none */
  readonly fail: readonly string[];
  /** `sku:qty,…`. @default one espresso-beans and one ceramic-mug */
  readonly items?: string;
  /** @default 'cust-demo' */
  readonly customer: string;
  /** @default 'EUR' */
  readonly currency: string;
  /** Follow the execution with the live timeline. @default true */
  readonly watch: boolean;
  /** Also show the order's log lines (with watch). @default false */
  readonly logs: boolean;
  /** `--json`: each step also carries its input and output. @default false */
  readonly detail?: boolean;
}

/** The `order` JSON contract (design §6). */
export interface PlacedOrder {
  readonly orderId: string;
  readonly executionArn: string;
  readonly status: string;
  readonly flags: readonly string[];
}

const DEFAULT_ITEMS = 'espresso-beans:1,ceramic-mug:2';

/** Parses `--items sku:qty,…` against the catalog: exit 2 naming what was wrong and the SKUs that exist. */
export function parseItems(text: string): { sku: string; qty: number }[] {
  const skus = CATALOG.map((c) => c.sku).join(', ');
  const parts = text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  if (parts.length === 0) throw new UserError(`--items is empty. Use sku:qty,… with skus from: ${skus}.`);
  const seen = new Set<string>();
  return parts.map((part) => {
    const [sku = '', qtyText = '1', ...rest] = part.split(':');
    if (rest.length > 0 || !/^\d+$/.test(qtyText) || Number(qtyText) < 1) {
      throw new UserError(
        `--items entry ${JSON.stringify(part)} is not sku:qty with a whole quantity ≥ 1 (e.g. espresso-beans:2).`,
      );
    }
    if (!findCatalogItem(sku))
      throw new UserError(`Unknown sku ${JSON.stringify(sku)} in --items. Known skus: ${skus}.`);
    if (seen.has(sku))
      throw new UserError(`sku ${sku} appears twice in --items; give it once with the total quantity.`);
    seen.add(sku);
    return { sku, qty: Number(qtyText) };
  });
}

/** Parses the --fail specs; one flag per step. */
export function parseFailSpecs(specs: readonly string[]): FailSpec[] {
  const parsed = specs.map(parseSpecForCli);
  if (parsed.some((p) => p.step === 'publisher')) {
    throw new UserError(
      '--fail publisher is not an order failure: the publisher runs before the saga exists. ' +
        'Set it for every order with `saga flags set publisher:transient --global --rate 0.3`.',
    );
  }
  const steps = parsed.map((p) => p.step);
  const dup = steps.find((s, i) => steps.indexOf(s) !== i);
  if (dup) throw new UserError(`--fail names step ${dup} twice; a step takes one failure mode per order.`);
  return parsed;
}

/**
 * The flags that apply to an order: its own, and for the other steps the GLOBAL ones (an order's flag shadows the
 * GLOBAL flag of its step), each with its rate.
 */
export function effectiveFlags(specs: readonly FailSpec[], stored: readonly FailureFlag[]): InjectedFlag[] {
  const own = new Set(specs.map((s) => s.step));
  const global = stored
    .filter((f) => f.pk === GLOBAL_SCOPE && f.sk !== 'publisher' && !own.has(f.sk))
    .map(
      (f): InjectedFlag => ({
        step: f.sk,
        mode: f.mode,
        ...(f.times === undefined ? {} : { times: f.times }),
        ...(f.latencyMs === undefined ? {} : { latencyMs: f.latencyMs }),
        ...(f.rate === undefined ? {} : { rate: f.rate }),
      }),
    );
  return [...specs, ...global];
}

/** `saga order`: sets the order's failure flags, POSTs it signed, and returns what the API said. */
export async function placeOrder(
  ctx: CommandContext,
  options: OrderOptions,
  resolved?: ResolvedTarget,
): Promise<PlacedOrder> {
  // Usage errors first: they need no stack.
  const specs = parseFailSpecs(options.fail);
  const items = parseItems(options.items ?? DEFAULT_ITEMS);
  const target = resolved ?? (await resolveTarget(ctx.projectDir, ctx.globals, ctx.env));
  const orderId = ulid();
  if (specs.length > 0) {
    const ddb = new DynamoDBClient(target.clientConfig());
    await Promise.all(
      specs.map((spec) => writeFailureFlag(ddb, target.outputs.FailureFlagsTableName, { orderId }, spec)),
    );
  }
  const response = await callApi(target, 'POST', '/orders', {
    body: { orderId, customerId: options.customer, items, currency: options.currency },
  });
  if (response.status !== 202 && response.status !== 200) {
    const detail = typeof response.body === 'object' ? JSON.stringify(response.body) : response.text;
    const error = `The order API answered ${response.status}: ${detail}`;
    if (response.status >= 400 && response.status < 500) throw new UserError(error);
    // The stack failed, not saga: its function (or API Gateway's permission to call it) is what to look at.
    throw new EnvironmentError(
      `${error}. The order ${orderId} was not placed: the deployed stack failed to take it. ` +
        `\`saga logs ${orderId}\` shows the order function's log lines (an AccessDeniedException there means ` +
        'the deployed template does not grant what the function needs).',
    );
  }
  const body = response.body as { orderId?: string; status?: string };
  return {
    orderId: body.orderId ?? orderId,
    executionArn: executionArnFor(target, body.orderId ?? orderId),
    status: body.status ?? 'PENDING',
    flags: specs.map(formatFailSpec),
  };
}

/** The first `order --json` line (design §6, with its `type`). */
export function placedLine(placed: PlacedOrder): { readonly type: 'placed' } & PlacedOrder {
  return { type: 'placed', ...placed };
}

export default async function action(
  ctx: CommandContext,
  _args: readonly unknown[],
  options: Record<string, unknown>,
): Promise<number> {
  const orderOptions: OrderOptions = {
    fail: (options.fail as string[] | undefined) ?? [],
    items: options.items as string | undefined,
    customer: (options.customer as string | undefined) ?? 'cust-demo',
    currency: (options.currency as string | undefined) ?? 'EUR',
    watch: options.watch !== false,
    logs: Boolean(options.logs),
    detail: Boolean(options.detail),
  };
  // Usage errors first (exit 2 without a stack), then one look-up of the stack for placing and following.
  const specs = parseFailSpecs(orderOptions.fail);
  parseItems(orderOptions.items ?? DEFAULT_ITEMS);
  const target = await resolveTarget(ctx.projectDir, ctx.globals, ctx.env);
  const placed = await placeOrder(ctx, orderOptions, target);
  const { out } = ctx;
  noteForInterrupt(
    ctx.signal,
    `The order ${placed.orderId} is placed and its saga goes on; \`saga watch ${placed.orderId}\` follows it.`,
  );
  // The first `--json` line: `"type":"placed"` tells it from the step, log and summary lines that follow.
  out.data(placedLine(placed));
  out.success(
    `Order ${out.style.bold(placed.orderId)} placed (${placed.status})` +
      (placed.flags.length > 0 ? ` with failures injected: ${placed.flags.join(', ')}` : ''),
  );
  if (!orderOptions.watch) {
    out.line(out.style.dim(`Follow it with: saga watch ${placed.orderId}`));
    return 0;
  }
  const { followExecution } = await import('./watch.ts');
  const summary = await followExecution(ctx, placed.executionArn, {
    logs: orderOptions.logs,
    detail: orderOptions.detail,
    waitForStart: true,
    target,
  });
  const ddb = new DynamoDBClient(target.clientConfig());
  const flags = effectiveFlags(specs, await listFailureFlags(ddb, target.outputs.FailureFlagsTableName));
  checkOutcome(
    summary.orderStatus,
    expectedOutcome(flags),
    (note) => out.line(out.style.dim(note)),
    summary.accessDenied,
  );
  return 0;
}

/**
 * Compares the status the saga ended in with what the injected failures imply: a mismatch is a failed check
 * (exit 1); an outcome left to chance (a flag rate below 1) is said, not judged.
 */
export function checkOutcome(
  orderStatus: string | null,
  expectation: Expectation,
  say: (note: string) => void,
  accessDenied?: { readonly state: string; readonly message: string },
): void {
  if (!expectation.predictable) {
    say(`The outcome was not predictable (${expectation.reason}): ${expectation.possible.join(' or ')}.`);
    return;
  }
  if (orderStatus && orderStatus !== expectation.status) {
    throw new CheckFailedError(
      `The saga ended with order status ${orderStatus}, but the injected failures imply ${expectation.status}.` +
        (accessDenied
          ? ` IAM denied ${accessDenied.state} a call (${accessDenied.message}): the deployed template does ` +
            'not grant what that step needs; compare it with the synthesized one (infra/stack.ts), or redeploy ' +
            'with `saga deploy --iam warn` to see every denial without failing on it.'
          : ''),
    );
  }
}
