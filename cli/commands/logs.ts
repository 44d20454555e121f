import type { CommandContext } from '../command.ts';
import { UserError } from '../errors.ts';
import { type OrderLogLine, readOrderLogs } from '../target/logs.ts';
import { resolveTarget } from '../target/target.ts';

/** `saga logs <orderId>`: the order's log lines from every function, merged by time. */
export async function orderLogs(ctx: CommandContext, orderId: string): Promise<OrderLogLine[]> {
  if (!/^[0-9A-HJKMNP-TV-Z]{26}$/i.test(orderId)) {
    throw new UserError(
      `An order id is a 26-character ULID; received ${JSON.stringify(orderId)}. \`saga ls\` lists them.`,
    );
  }
  const target = await resolveTarget(ctx.projectDir, ctx.globals, ctx.env);
  return await readOrderLogs(target, orderId.toUpperCase());
}

/** Short function label: the construct part of a CloudFormation-generated name (`Saga-ChargePaymentFunction…`). */
export function shortFunctionName(name: string): string {
  const match = /^(?:[^-]+-)?([A-Za-z]+?)(?:Function)?[A-Z0-9]{0,13}(?:-[A-Za-z0-9]+)?$/.exec(name);
  return match?.[1] ?? name;
}

export default async function action(ctx: CommandContext, args: readonly unknown[]): Promise<number> {
  const orderId = String(args[0]);
  const lines = await orderLogs(ctx, orderId);
  const { out } = ctx;
  for (const line of lines) out.data({ type: 'log', ...line });
  if (lines.length === 0) {
    out.line(
      `No log lines carry orderId ${orderId} (yet). Check the id with ${out.style.accent('saga ls')}.`,
    );
    return 0;
  }
  const width = Math.max(...lines.map((l) => shortFunctionName(l.functionName).length));
  for (const line of lines) {
    const level =
      line.level === 'ERROR'
        ? out.style.fail(line.level.padEnd(5))
        : line.level === 'WARN'
          ? out.style.warn(line.level.padEnd(5))
          : out.style.dim(line.level.padEnd(5));
    out.line(
      `${out.style.dim(new Date(line.timestamp).toISOString().slice(11, 23))} ${out.style.accent(shortFunctionName(line.functionName).padEnd(width))} ${level} ${line.message}`,
    );
  }
  return 0;
}
