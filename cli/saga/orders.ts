/** Placing orders: their items and injected failures read from the command line, then the signed POST. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ulid } from 'ulid';
import { CATALOG, findCatalogItem } from '../../services/shared/catalog.ts';
import {
  type FailSpec,
  FailSpecError,
  type FailureFlag,
  formatFailSpec,
  GLOBAL_SCOPE,
  parseFailSpec,
  writeFailureFlag,
} from '../../services/shared/failure-flags.ts';
import type { CommandContext } from '../command.ts';
import { EnvironmentError, UserError } from '../errors.ts';
import { executionArnFor } from '../target/executions.ts';
import type { InjectedFlag } from '../target/expectations.ts';
import { callApi } from '../target/http.ts';
import { type ResolvedTarget, resolveTarget } from '../target/target.ts';

/** What an order is placed with. */
export interface PlaceOrderOptions {
  /** Failure specs (`step[:mode[:arg]]`) set on this order before it is placed. @default none */
  readonly fail: readonly string[];
  /** `sku:qty,…`. @default one espresso-beans and one ceramic-mug */
  readonly items?: string | undefined;
  /** @default 'cust-demo' */
  readonly customer: string;
  /** @default 'EUR' */
  readonly currency: string;
}

/** Parses a failure spec for the CLI: a bad one is a usage error (exit 2) listing the valid steps and modes. */
export function parseSpecForCli(spec: string) {
  try {
    return parseFailSpec(spec);
  } catch (error) {
    if (error instanceof FailSpecError) throw new UserError(error.message, { cause: error });
    throw error;
  }
}

/** The `order` JSON contract (design §6). */
export interface PlacedOrder {
  readonly orderId: string;
  readonly executionArn: string;
  readonly status: string;
  readonly flags: readonly string[];
}

/** The items of an order that names none. */
export const DEFAULT_ITEMS = 'espresso-beans:1,ceramic-mug:2';

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

/** Places an order: sets its failure flags, POSTs it signed, and returns what the API said. */
export async function placeOrder(
  ctx: CommandContext,
  options: PlaceOrderOptions,
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
