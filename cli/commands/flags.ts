import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  deleteFailureFlag,
  FailSpecError,
  type FailureFlag,
  type FailureStep,
  type FlagScope,
  formatFailSpec,
  GLOBAL_SCOPE,
  listFailureFlags,
  STEPS,
  writeFailureFlag,
} from '../../services/shared/failure-flags.ts';
import type { CommandContext } from '../command.ts';
import type { ArgsOf, flagsClearCommand, flagsSetCommand, OptionsOf } from '../definitions.ts';
import { UserError } from '../errors.ts';
import { parseSpecForCli } from '../saga/orders.ts';
import { parseOrderId } from '../target/executions.ts';
import { resolveTarget } from '../target/target.ts';

/** Options naming a flag scope: one order or GLOBAL. */
export interface ScopeOptions {
  readonly order?: string;
  readonly global?: boolean;
}

/** Turns --order/--global into a scope; exactly one is required. */
export function scopeOf(options: ScopeOptions): FlagScope {
  if (options.order && options.global) throw new UserError('Pass either --order <id> or --global, not both.');
  if (options.global) return GLOBAL_SCOPE;
  if (options.order) return { orderId: parseOrderId(options.order) };
  throw new UserError(
    'Say which orders the flag is for: --order <orderId> (one order) or --global (every order).',
  );
}

/** A mode that fails a number of times (`transient[:N]`, `throttle[:N]`); without N and with a rate, it has no end. */
function isCounted(flag: Pick<FailureFlag, 'mode'>): boolean {
  return flag.mode === 'transient' || flag.mode === 'throttle';
}

function describe(flag: FailureFlag): Record<string, unknown> {
  return {
    scope: flag.pk,
    step: flag.sk,
    spec: formatFailSpec({ step: flag.sk, mode: flag.mode, times: flag.times, latencyMs: flag.latencyMs }),
    mode: flag.mode,
    ...(flag.remaining === undefined ? {} : { remaining: flag.remaining }),
    ...(flag.rate === undefined ? {} : { rate: flag.rate }),
    expires: new Date(flag.ttl * 1000).toISOString(),
  };
}

async function client(ctx: CommandContext) {
  const target = await resolveTarget(ctx.projectDir, ctx.globals, ctx.env);
  return {
    target,
    ddb: new DynamoDBClient(target.clientConfig()),
    table: target.outputs.FailureFlagsTableName,
  };
}

/** `saga flags [list]`. */
export async function listFlags(ctx: CommandContext): Promise<number> {
  const { ddb, table } = await client(ctx);
  const flags = (await listFailureFlags(ddb, table)).sort(
    (a, b) => a.pk.localeCompare(b.pk) || a.sk.localeCompare(b.sk),
  );
  const { out } = ctx;
  for (const flag of flags) out.data({ type: 'flag', ...describe(flag) });
  if (flags.length === 0) {
    out.line('No failure flags set. Set one with `saga flags set payment:transient:2 --global --rate 0.5`.');
    return 0;
  }
  out.table([
    ['scope', 'spec', 'remaining', 'rate', 'expires'],
    ...flags.map((f) => {
      const d = describe(f);
      return [
        String(d.scope),
        String(d.spec),
        d.remaining !== undefined
          ? String(d.remaining)
          : f.times === undefined && isCounted(f)
            ? 'no end'
            : '—',
        d.rate === undefined ? '—' : String(d.rate),
        String(d.expires).slice(0, 19).replace('T', ' '),
      ];
    }),
  ]);
  return 0;
}

/** `saga flags set <spec> (--order <id> | --global) [--rate r]`: the rate applies to either scope. */
export async function setFlag(
  ctx: CommandContext,
  spec: string,
  options: ScopeOptions & { rate?: number },
): Promise<number> {
  const parsed = parseSpecForCli(spec);
  const scope = scopeOf(options);
  const { ddb, table } = await client(ctx);
  let stored: FailureFlag;
  try {
    stored = await writeFailureFlag(ddb, table, scope, { ...parsed, rate: options.rate });
  } catch (error) {
    if (error instanceof FailSpecError) throw new UserError(error.message, { cause: error });
    throw error;
  }
  const lasting = stored.times === undefined && isCounted(stored) ? ', until cleared' : '';
  ctx.out.result(
    { type: 'flag', ...describe(stored) },
    (style) =>
      `${style.ok('✓')} Set ${formatFailSpec(parsed)} for ${stored.pk}${options.rate === undefined ? '' : ` (rate ${options.rate}${lasting})`}.`,
  );
  return 0;
}

/** `saga flags clear [step] (--order <id> | --global | --all)`. */
export async function clearFlags(
  ctx: CommandContext,
  step: string | undefined,
  options: ScopeOptions & { all?: boolean },
): Promise<number> {
  if (step !== undefined && !(STEPS as readonly string[]).includes(step)) {
    throw new UserError(`Unknown step ${JSON.stringify(step)}; valid steps: ${STEPS.join(', ')}.`);
  }
  const { ddb, table } = await client(ctx);
  const flags = await listFailureFlags(ddb, table);
  const scopeKey = options.all
    ? undefined
    : (() => {
        const s = scopeOf(options);
        return s === GLOBAL_SCOPE ? GLOBAL_SCOPE : `ORDER#${s.orderId}`;
      })();
  const doomed = flags.filter(
    (f) => (scopeKey === undefined || f.pk === scopeKey) && (step === undefined || f.sk === step),
  );
  for (const f of doomed) {
    const scope: FlagScope = f.pk === GLOBAL_SCOPE ? GLOBAL_SCOPE : { orderId: f.pk.slice('ORDER#'.length) };
    await deleteFailureFlag(ddb, table, scope, f.sk as FailureStep);
  }
  ctx.out.result(
    { type: 'cleared', count: doomed.length },
    (style) => `${style.ok('✓')} Cleared ${doomed.length} flag${doomed.length === 1 ? '' : 's'}.`,
  );
  return 0;
}

/** commander actions of the `flags` sub-commands. */
export const actions = {
  list: (ctx: CommandContext) => listFlags(ctx),
  set: (
    ctx: CommandContext,
    [spec]: ArgsOf<typeof flagsSetCommand>,
    options: OptionsOf<typeof flagsSetCommand>,
  ) => setFlag(ctx, spec, options),
  clear: (
    ctx: CommandContext,
    [step]: ArgsOf<typeof flagsClearCommand>,
    options: OptionsOf<typeof flagsClearCommand>,
  ) => clearFlags(ctx, step, options),
};
