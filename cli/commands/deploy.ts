import type { CommandContext } from '../command.ts';
import { writeContext } from '../target/context.ts';
import { CDK_OUT, synthesisIsStale, synthesize } from '../target/project.ts';
import { chooseTarget } from '../target/target.ts';

/** Options of `saga deploy`. */
export interface DeployOptions {
  /** local: factor applied to Retry/Wait delays and Lambda timeouts. @default 0.1 */
  readonly timeScale: number;
  /** local: port of the edge endpoint. @default a free port */
  readonly edgePort?: number;
}

/** The `deploy` JSON contract (design §6). */
export interface DeployResult {
  readonly target: 'local' | 'aws';
  readonly endpoint?: string;
  readonly outputs: Record<string, string>;
}

/** `saga deploy`: synthesizes the app, then starts the local cloud or deploys to AWS. */
export async function deploy(ctx: CommandContext, options: DeployOptions): Promise<DeployResult> {
  const target = await chooseTarget(ctx.projectDir, ctx.globals);
  if (target === 'aws') {
    const { deployToAws } = await import('../target/aws-deploy.ts');
    return await deployToAws(ctx);
  }
  const { out } = ctx;
  if (synthesisIsStale()) {
    const progress = await out.progress('Synthesizing the CDK app (bundling the Lambda functions)');
    try {
      await synthesize();
      progress.succeed('Synthesized the CDK app into cdk.out');
    } catch (error) {
      progress.fail('Synthesis failed');
      throw error;
    }
  }
  const { startLocalCloudDetached } = await import('../../infra/local/lifecycle.ts');
  const progress = await out.progress(
    'Starting the local cloud (DynamoDB Local, Lambda workers, Step Functions, edge)',
  );
  const started = Date.now();
  let state: Awaited<ReturnType<typeof startLocalCloudDetached>>;
  try {
    state = await startLocalCloudDetached({
      projectDir: ctx.projectDir,
      cdkOut: CDK_OUT,
      timeScale: options.timeScale,
      edgePort: options.edgePort,
    });
  } catch (error) {
    progress.fail('The local cloud did not start');
    throw error;
  }
  progress.succeed(`Local cloud up at ${state.endpoint} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  await writeContext(ctx.projectDir, { target: 'local', deployedAt: new Date().toISOString() });
  const result: DeployResult = { target: 'local', endpoint: state.endpoint, outputs: state.outputs };
  out.data(result);
  out.line();
  out.table([['output', 'value'], ...Object.entries(state.outputs).map(([k, v]) => [k, v])]);
  if (state.unsupported.length > 0) {
    out.warn(
      `Not run locally (unsupported resource types): ${state.unsupported.map((u) => `${u.logicalId} (${u.type})`).join(', ')}`,
    );
  }
  out.line();
  out.line(
    `Next: ${out.style.accent('saga order')} · ${out.style.accent('saga order --fail inventory')} · ${out.style.accent('saga demo')}`,
  );
  out.line(
    out.style.dim(
      `Any AWS SDK or the AWS CLI works against it: aws --endpoint-url ${state.endpoint} stepfunctions list-executions …`,
    ),
  );
  return result;
}

export default async function action(
  ctx: CommandContext,
  _args: readonly unknown[],
  options: Record<string, unknown>,
): Promise<number> {
  await deploy(ctx, {
    timeScale: options.timeScale as number,
    edgePort: options.edgePort as number | undefined,
  });
  return 0;
}
