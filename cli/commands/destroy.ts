import type { CommandContext } from '../command.ts';
import { AbortError, noteForInterrupt } from '../errors.ts';
import { chooseTarget } from '../target/target.ts';

/** `saga destroy`: tears the stack down after a confirmation (skipped with --yes). */
export async function destroy(ctx: CommandContext): Promise<{ target: 'local' | 'aws'; destroyed: boolean }> {
  const target = await chooseTarget(ctx.projectDir, ctx.globals);
  const what =
    target === 'local'
      ? 'Stop the local cloud and delete its data (.saga/local: tables, histories, logs)?'
      : 'Destroy the Saga stack in your AWS account (tables and their data included)?';
  if (!ctx.globals.yes && !(await ctx.prompter.confirm(what, { default: false }))) {
    throw new AbortError('Nothing was destroyed.');
  }
  noteForInterrupt(
    ctx.signal,
    target === 'local'
      ? 'A local cloud already told to stop stops by itself; `saga destroy` again removes what is left.'
      : 'CloudFormation goes on deleting the stack if it had started; `saga destroy --target aws` again finishes it.',
  );
  if (target === 'aws') {
    const { destroyOnAws } = await import('../target/aws-deploy.ts');
    await destroyOnAws(ctx);
  } else {
    const { stopLocalCloud } = await import('@saga/local-cloud');
    const wasRunning = await stopLocalCloud({ projectDir: ctx.projectDir, removeData: true });
    ctx.out.success(
      wasRunning
        ? 'Local cloud stopped and its data removed.'
        : 'Local cloud was not running; its data is removed.',
    );
  }
  const result = { target, destroyed: true } as const;
  ctx.out.data(result);
  return result;
}

export default async function action(ctx: CommandContext): Promise<number> {
  await destroy(ctx);
  return 0;
}
