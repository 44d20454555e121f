import type { CommandContext } from '../command.ts';
import type { ArgsOf, deployCommand, OptionsOf } from '../definitions.ts';
import { deploy } from '../saga/deploy.ts';

export default async function action(
  ctx: CommandContext,
  _args: ArgsOf<typeof deployCommand>,
  options: OptionsOf<typeof deployCommand>,
): Promise<number> {
  await deploy(ctx, options);
  return 0;
}
