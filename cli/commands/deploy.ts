import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { LocalCloudState } from '@saga/local-cloud';
import type { CommandContext } from '../command.ts';
import { noteForInterrupt } from '../errors.ts';
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
  /** local: what was done — started, restarted (settings changed), or nothing (already running with them). */
  readonly action?: 'started' | 'restarted' | 'already-running';
  /** local: the running cloud's time scale. */
  readonly timeScale?: number;
  readonly endpoint?: string;
  readonly outputs: Record<string, string>;
}

/** `saga deploy`: synthesizes the app, then starts the local cloud (restarting it when settings changed) or deploys to AWS. */
export async function deploy(ctx: CommandContext, options: DeployOptions): Promise<DeployResult> {
  const target = await chooseTarget(ctx.projectDir, ctx.globals);
  if (target === 'aws') {
    const { deployToAws } = await import('../target/aws-deploy.ts');
    return await deployToAws(ctx);
  }
  const { out } = ctx;
  let synthesized = false;
  if (synthesisIsStale()) {
    noteForInterrupt(
      ctx.signal,
      'Synthesis was stopped; nothing was started (`saga deploy` synthesizes again).',
    );
    const progress = await out.progress('Synthesizing the CDK app (bundling the Lambda functions)');
    try {
      await synthesize();
      progress.succeed('Synthesized the CDK app into cdk.out');
      synthesized = true;
    } catch (error) {
      progress.fail('Synthesis failed');
      throw error;
    }
  }
  const lifecycle = await import('@saga/local-cloud');
  const running = await runningCloud(ctx, lifecycle);
  if (running) {
    const changes = settingChanges(running, options, synthesized);
    if (changes.length === 0) {
      out.success(
        `The local cloud is already running with these settings at ${running.endpoint} (time scale ` +
          `${running.timeScale}, since ${running.startedAt}); nothing was restarted.`,
      );
      return report(ctx, running, 'already-running');
    }
    const stopping = await out.progress(`Restarting the local cloud: ${changes.join('; ')}`);
    await lifecycle.stopLocalCloud({ projectDir: ctx.projectDir });
    stopping.succeed(`Stopped the local cloud to restart it (${changes.join('; ')}); its data is kept`);
  }
  noteForInterrupt(
    ctx.signal,
    'The local cloud goes on starting in the background (log: .saga/local/cloud.log): `saga deploy` again ' +
      'waits for it; `saga destroy` stops it.',
  );
  const progress = await out.progress(
    'Starting the local cloud (DynamoDB Local, Lambda workers, Step Functions, edge)',
  );
  const started = Date.now();
  let state: LocalCloudState;
  try {
    state = await lifecycle.startLocalCloudDetached({
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
  return report(ctx, state, running ? 'restarted' : 'started');
}

/** The running cloud, or undefined; a corrupt state.json is said and then replaced by a fresh start. */
async function runningCloud(
  ctx: CommandContext,
  lifecycle: typeof import('@saga/local-cloud'),
): Promise<LocalCloudState | undefined> {
  try {
    return await lifecycle.readLocalCloudState(ctx.projectDir);
  } catch (error) {
    if (!(error instanceof lifecycle.LocalCloudStateError)) throw error;
    ctx.out.warn('.saga/local/state.json is corrupt: restarting the local cloud (its data is kept).');
    return undefined;
  }
}

/** What differs between the running cloud and what this deploy asks for, as the user would say it. */
export function settingChanges(
  running: Pick<LocalCloudState, 'timeScale' | 'endpoint' | 'startedAt'>,
  options: DeployOptions,
  synthesized: boolean,
  templateMtimeMs = templateModifiedAt(),
): string[] {
  const changes: string[] = [];
  if (running.timeScale !== options.timeScale) {
    changes.push(`time scale ${running.timeScale} → ${options.timeScale}`);
  }
  const port = Number(new URL(running.endpoint).port);
  if (options.edgePort !== undefined && port !== options.edgePort) {
    changes.push(`edge port ${port} → ${options.edgePort}`);
  }
  if (synthesized || templateMtimeMs > Date.parse(running.startedAt)) {
    changes.push('a new synthesis of the app');
  }
  return changes;
}

function templateModifiedAt(): number {
  try {
    return statSync(join(CDK_OUT, 'Saga.template.json')).mtimeMs;
  } catch {
    return 0;
  }
}

/** Prints what the cloud offers and returns the deploy result. */
async function report(
  ctx: CommandContext,
  state: LocalCloudState,
  action: NonNullable<DeployResult['action']>,
): Promise<DeployResult> {
  const { out } = ctx;
  await writeContext(ctx.projectDir, { target: 'local', deployedAt: new Date().toISOString() });
  const result: DeployResult = {
    target: 'local',
    action,
    endpoint: state.endpoint,
    timeScale: state.timeScale,
    outputs: state.outputs,
  };
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
