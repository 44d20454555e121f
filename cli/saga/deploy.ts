/** Deploying the stack: synthesize, then start (or restart) the local cloud, or deploy to AWS (CDK toolkit). */
import { isAbsolute, relative } from 'node:path';
import type { LocalCloudChange, LocalCloudDeployment } from '@saga/local-cloud';
import type { CommandContext } from '../command.ts';
import { noteForInterrupt } from '../errors.ts';
import type { AwsDeployResult, AwsDeploySeams } from '../target/aws-deploy.ts';
import { writeContext } from '../target/context.ts';
import { CDK_OUT, checkAssembly, STACK_NAME, synthesisIsStale, synthesize } from '../target/project.ts';
import { chooseTarget } from '../target/target.ts';
import { formatDuration } from '../ui/format.ts';
import type { Progress } from '../ui/output.ts';

/** Options of `saga deploy`. */
export interface DeployOptions {
  /** local: factor applied to Retry/Wait delays and Lambda timeouts. @default 0.1 */
  readonly timeScale: number;
  /** local: port of the edge endpoint. @default the port it had, else a free port */
  readonly edgePort?: number;
  /** An already synthesized cloud assembly to deploy as it is (no synthesis), relative to the project folder. */
  readonly app?: string;
  /** local: IAM enforcement. @default 'enforce' */
  readonly iam?: 'enforce' | 'warn' | 'off';
}

/** Seams for tests. */
export interface DeploySeams {
  /** local: the module the local cloud's background process runs. @default the package's own */
  readonly localCloudEntry?: string;
  /** aws: see {@link AwsDeploySeams}. */
  readonly aws?: AwsDeploySeams;
}

/** The `deploy` JSON contract (design §6) on the local target. */
export interface LocalDeployResult {
  readonly target: 'local';
  /** What was done: started, restarted (settings changed), or nothing (already running with them). */
  readonly action: LocalCloudDeployment['action'];
  /** Why it restarted, as said to the user ("time scale 1 → 0.1"). */
  readonly changes: readonly string[];
  /** The running cloud's time scale. */
  readonly timeScale: number;
  /** How the running cloud enforces IAM: `enforce`, `warn` or `off`. */
  readonly iam: 'enforce' | 'warn' | 'off';
  readonly endpoint: string;
  /** The cloud assembly it runs (absolute path). */
  readonly assembly: string;
  readonly outputs: Record<string, string>;
  /** The edge could not have its previous port (another program holds it) and took a free one. */
  readonly portFallback?: { readonly wanted: number; readonly got: number };
}

/** The `deploy` JSON contract (design §6). */
export type DeployResult = LocalDeployResult | AwsDeployResult;

/**
 * `saga deploy`: synthesizes the app (or, with `--app`, takes the given cloud assembly as it is), then makes the local
 * cloud run it — starting it, restarting it when settings changed, or leaving it — or deploys it to AWS.
 */
export async function deploy(
  ctx: CommandContext,
  options: DeployOptions,
  seams: DeploySeams = {},
): Promise<DeployResult> {
  const target = await chooseTarget(ctx.projectDir, ctx.globals);
  // Checked first, on both targets: a wrong --app is exit 2 before anything is synthesized, started or stopped.
  const app = options.app === undefined ? undefined : checkAssembly(options.app, ctx.projectDir);
  if (target === 'aws') {
    const { deployToAws } = await import('../target/aws-deploy.ts');
    return await deployToAws(ctx, seams.aws, { app });
  }
  return await deployLocal(ctx, options, app, seams);
}

async function deployLocal(
  ctx: CommandContext,
  options: DeployOptions,
  app: string | undefined,
  seams: DeploySeams,
): Promise<LocalDeployResult> {
  const { out } = ctx;
  let synthesized = false;
  if (app === undefined && synthesisIsStale()) {
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
  const { ensureLocalCloud } = await import('@saga/local-cloud');
  let progress: Progress | undefined;
  let failText = 'The local cloud did not start';
  let reasons: string[] = [];
  const started = Date.now();
  let deployment: LocalCloudDeployment;
  try {
    deployment = await ensureLocalCloud({
      projectDir: ctx.projectDir,
      cdkOut: app ?? CDK_OUT,
      stackName: STACK_NAME,
      timeScale: options.timeScale,
      edgePort: options.edgePort,
      iam: options.iam,
      entry: seams.localCloudEntry,
      onProgress: async (event) => {
        if (event.phase === 'stopping') {
          reasons = describeChanges(event.changes, ctx.projectDir, synthesized);
          noteForInterrupt(
            ctx.signal,
            'The local cloud was being stopped to restart it: `saga deploy` starts it again (its data is kept).',
          );
          progress = await out.progress(`Restarting the local cloud: ${reasons.join('; ')}`);
          failText = 'The local cloud was not stopped';
          return;
        }
        progress?.succeed(`Stopped the local cloud to restart it (${reasons.join('; ')}); its data is kept`);
        noteForInterrupt(
          ctx.signal,
          'The local cloud goes on starting in the background (log: .saga/local/cloud.log): `saga deploy` ' +
            'again waits for it; `saga destroy` stops it.',
        );
        progress = await out.progress(
          'Starting the local cloud (DynamoDB Local, Lambda workers, Step Functions, edge)' +
            (event.edgePort === undefined ? '' : ` on port ${event.edgePort}`),
        );
        failText = 'The local cloud did not start';
      },
    });
  } catch (error) {
    progress?.fail(failText);
    throw error;
  }
  const { state, action } = deployment;
  const took = formatDuration(Date.now() - started);
  if (action === 'already-running') {
    out.success(
      `The local cloud is already running with these settings at ${state.endpoint} (time scale ` +
        `${state.timeScale}, IAM ${state.iam ?? 'enforce'}, assembly ${show(state.assembly?.dir ?? CDK_OUT, ctx.projectDir)}, since ` +
        `${state.startedAt}): nothing changed, nothing was restarted.`,
    );
  } else if (action === 'restarted') {
    const why =
      reasons.length > 0
        ? reasons.join('; ')
        : deployment.replaced === 'corrupt-state'
          ? 'its state file .saga/local/state.json was corrupt'
          : 'it did not answer';
    progress?.succeed(
      `Restarted the local cloud: ${why} (its data is kept); up at ${state.endpoint} (${took})`,
    );
  } else {
    progress?.succeed(`Local cloud up at ${state.endpoint} (${took})`);
  }
  if (state.iam === 'warn' || state.iam === 'off') {
    out.warn(
      state.iam === 'warn'
        ? 'IAM denials are only logged (--iam warn): .saga/local/cloud.log lists them as "IAM (warn) …".'
        : 'IAM is off (--iam off): nothing is authorized or signature-checked; what works here may be denied on AWS.',
    );
  }
  if (deployment.portFallback) {
    const { wanted, got } = deployment.portFallback;
    out.warn(
      `The edge's previous port ${wanted} is taken by another program, so it listens on ${got} now: ` +
        `clients given --endpoint-url http://127.0.0.1:${wanted} must use ${state.endpoint}.`,
    );
  }
  await writeContext(ctx.projectDir, { target: 'local', deployedAt: new Date().toISOString() });
  const result: LocalDeployResult = {
    target: 'local',
    action,
    changes: action === 'restarted' ? reasons : [],
    timeScale: state.timeScale,
    iam: state.iam ?? 'enforce',
    endpoint: state.endpoint,
    assembly: state.assembly?.dir ?? app ?? CDK_OUT,
    outputs: state.outputs,
    ...(deployment.portFallback ? { portFallback: deployment.portFallback } : {}),
  };
  if (state.unsupported.length > 0) {
    out.warn(
      `Not run locally (unsupported resource types): ${state.unsupported.map((u) => `${u.logicalId} (${u.type})`).join(', ')}`,
    );
  }
  out.result(result, (style) => [
    '',
    ...out.tableLines([['output', 'value'], ...Object.entries(state.outputs).map(([k, v]) => [k, v])]),
    '',
    `Next: ${style.accent('saga order')} · ${style.accent('saga order --fail inventory')} · ${style.accent('saga demo')}`,
    style.dim(
      `Any AWS SDK or the AWS CLI works against it: aws --endpoint-url ${state.endpoint} stepfunctions list-executions …`,
    ),
  ]);
  return result;
}

/**
 * Why a running cloud is restarted, as the user would say it: "time scale 1 → 0.1", "edge port 4566 → 5556",
 * "assembly cdk.out → my-app", "template changed" (after a synthesis: "a new synthesis of the app: …").
 */
export function describeChanges(
  changes: readonly LocalCloudChange[],
  projectDir: string,
  synthesized: boolean,
): string[] {
  const said: string[] = [];
  const changed = (setting: LocalCloudChange['setting']) => changes.find((c) => c.setting === setting);
  for (const change of changes) {
    switch (change.setting) {
      case 'timeScale':
        said.push(`time scale ${change.from} → ${change.to}`);
        break;
      case 'edgePort':
        said.push(`edge port ${change.from} → ${change.to}`);
        break;
      case 'stackName':
        said.push(`stack ${change.from} → ${change.to}`);
        break;
      case 'iam':
        said.push(`IAM ${change.from} → ${change.to}`);
        break;
      case 'assembly':
        said.push(
          change.from === undefined
            ? `assembly ${show(change.to, projectDir)} (the running cloud does not record which it runs)`
            : `assembly ${show(change.from, projectDir)} → ${show(change.to, projectDir)}`,
        );
        break;
    }
  }
  const code = [changed('template') && 'template', changed('assets') && 'function code'].filter(Boolean);
  if (code.length > 0) {
    said.push(`${synthesized ? 'a new synthesis of the app: ' : ''}${code.join(' and ')} changed`);
  }
  return said;
}

/** A path as the user would type it: relative to the project folder when inside it. */
function show(path: string, projectDir: string): string {
  const rel = relative(projectDir, path);
  return rel === '' ? '.' : rel.startsWith('..') || isAbsolute(rel) ? path : rel;
}
