import type { CommandContext } from '../command.ts';
import type { ArgsOf, OptionsOf, replayCommand } from '../definitions.ts';
import { answeredLine, replay } from '../saga/replay.ts';
import { SETTLED_STATUSES } from '../target/invariants.ts';
import { LEDGER_KEYS } from '../target/ledger.ts';

export default async function action(
  ctx: CommandContext,
  [orderId]: ArgsOf<typeof replayCommand>,
  options: OptionsOf<typeof replayCommand>,
): Promise<number> {
  const result = await replay(ctx, orderId, options);
  const { out } = ctx;
  const { before, after } = result.orderStatus;
  out.result(result, (style) => {
    const table = out.tableLines([
      ['side effect', 'before', 'after', 'new'],
      ...LEDGER_KEYS.map((k) => {
        const delta = result.after[k] - result.before[k];
        return [
          k,
          String(result.before[k]),
          String(result.after[k]),
          delta > 0 ? style.fail(`+${delta}`) : style.ok('0'),
        ];
      }),
    ]);
    const answers = (result.steps ?? []).map((s) => (s.ok ? `${s.step} ok` : `${s.step} ${s.error}`));
    const what =
      result.via === 'sfn'
        ? `Re-ran the saga ${result.executions.length}× under new execution names (${result.executions.map((e) => e.status).join(', ')}).`
        : result.via === 'steps'
          ? `Invoked each forward step's function directly, ${result.steps?.length ?? 0}×: ${answers.join(', ')}.`
          : `Re-delivered the outbox event; executions named ${result.orderId}: ${result.executions.length} ` +
            `(${result.executions.length === 1 ? style.ok('deduped by execution name') : style.fail('not deduped')}).`;
    const status =
      before === after
        ? []
        : [
            SETTLED_STATUSES.includes(before)
              ? style.fail(`The settled status changed: ${before} → ${after}.`)
              : `The order was ${before}; the replay finished its saga: ${after}.`,
          ];
    return [
      '',
      ...table,
      '',
      what,
      answeredLine(result.answeredBy),
      ...status,
      result.verdict === 'idempotent'
        ? `${style.ok('✓ idempotent')}: nothing was charged, reserved, released, refunded or shipped twice, and no settled status changed.`
        : `${style.fail('✗ DUPLICATES')}: ${result.newSideEffects} new side effect(s)${
            SETTLED_STATUSES.includes(before) && before !== after ? `, status ${before} → ${after}` : ''
          }.`,
    ];
  });
  const outboxDuplicated = result.via === 'outbox' && result.executions.length !== 1;
  return result.verdict === 'idempotent' && !outboxDuplicated ? 0 : 1;
}
