import type {
  ICloudAssemblySource,
  IIoHost,
  Toolkit,
  DeployResult as ToolkitDeployResult,
} from '@aws-cdk/toolkit-lib';
import type { CommandContext } from '../command.ts';
import type { DeployResult } from '../commands/deploy.ts';
import { AbortError, EnvironmentError } from '../errors.ts';
import type { Output, Progress } from '../ui/output.ts';
import { type StackOutputs, writeContext } from './context.ts';
import { CDK_OUT, synthesize } from './project.ts';
import { awsCredentials, resolveAwsAccount } from './target.ts';

/** The part of `@aws-cdk/toolkit-lib`'s Toolkit the CLI uses; tests pass a stand-in for AWS through it. */
export type ToolkitLike = Pick<Toolkit, 'fromAssemblyDirectory' | 'deploy' | 'destroy' | 'bootstrap'>;

/** Seams for tests: AWS itself cannot run here. */
export interface AwsDeploySeams {
  /** Builds the toolkit from the IoHost the CLI feeds its progress line from. @default the real Toolkit */
  readonly createToolkit?: (
    ioHost: IIoHost,
    profile: string | undefined,
    region: string,
  ) => Promise<ToolkitLike>;
  /** Skips the credential and account checks (the stand-in toolkit needs none). @default false */
  readonly skipCredentialCheck?: boolean;
}

function regionOf(ctx: CommandContext): string {
  const region = ctx.globals.region ?? ctx.env.AWS_REGION ?? ctx.env.AWS_DEFAULT_REGION;
  if (!region) {
    throw new EnvironmentError('No AWS region: pass --region <region> or set AWS_REGION.');
  }
  return region;
}

/** An IoHost that turns the toolkit's stack activity into the progress line and its confirmations into prompts. */
export function progressIoHost(
  ctx: CommandContext,
  progress: () => Progress | undefined,
): IIoHost & { errors: string[] } {
  const errors: string[] = [];
  return {
    errors,
    async notify(msg) {
      if (msg.code === 'CDK_TOOLKIT_I5502') {
        const data = msg.data as {
          progress?: { completed: number; total?: number };
          event?: { LogicalResourceId?: string; ResourceStatus?: string };
        };
        const done = data.progress ? `${data.progress.completed}/${data.progress.total ?? '?'}` : '';
        progress()?.update(
          `Deploying Saga: ${done} resources — ${data.event?.LogicalResourceId ?? ''} ${data.event?.ResourceStatus ?? ''}`.trim(),
        );
      } else if (msg.level === 'error') {
        errors.push(msg.message);
      }
    },
    async requestResponse<T>(msg: { message: string; defaultResponse: T; code?: string }): Promise<T> {
      // Confirmations (e.g. IAM changes) become the CLI's prompts; --yes answers them.
      if (typeof msg.defaultResponse === 'boolean') {
        if (ctx.globals.yes) return true as T;
        return (await ctx.prompter.confirm(msg.message.replace(/\s+$/, ''), { default: false })) as T;
      }
      return msg.defaultResponse;
    },
  } as IIoHost & { errors: string[] };
}

async function realToolkit(
  ioHost: IIoHost,
  profile: string | undefined,
  region: string,
): Promise<ToolkitLike> {
  const { Toolkit, BaseCredentials } = await import('@aws-cdk/toolkit-lib');
  return new Toolkit({
    ioHost,
    color: false,
    emojis: false,
    sdkConfig: { baseCredentials: BaseCredentials.awsCliCompatible({ profile, defaultRegion: region }) },
  });
}

/**
 * The progress line of the stage running now. A stage that throws ends it as failed: a spinner left running would
 * keep the process alive after the error.
 */
function progressLine(out: Output) {
  let active: Progress | undefined;
  let failText: string | undefined;
  return {
    /** The running stage's progress (stack activity updates it), if any. */
    current: (): Progress | undefined => active,
    async start(text: string, onFailure?: string): Promise<void> {
      active = await out.progress(text);
      failText = onFailure;
    },
    succeed(text: string): void {
      active?.succeed(text);
      active = undefined;
    },
    stop(): void {
      active?.stop();
      active = undefined;
    },
    fail(): void {
      active?.fail(failText);
      active = undefined;
    },
  };
}

/** `saga deploy --target aws`: synth, bootstrap check with a prompt, deploy with the toolkit, outputs saved. */
export async function deployToAws(ctx: CommandContext, seams: AwsDeploySeams = {}): Promise<DeployResult> {
  const region = regionOf(ctx);
  const profile = ctx.globals.profile;
  // The account must resolve before anything is synthesized: no network or refused keys are exit 3 here, not a
  // toolkit stack trace later.
  if (!seams.skipCredentialCheck) {
    await resolveAwsAccount(await awsCredentials(profile), region, { env: ctx.env, profile });
  }
  const { out } = ctx;
  const line = progressLine(out);
  let result: ToolkitDeployResult;
  try {
    await line.start('Synthesizing the CDK app', 'Synthesis failed');
    await synthesize();
    line.succeed('Synthesized the CDK app');
    const ioHost = progressIoHost(ctx, line.current);
    const toolkit = await (seams.createToolkit ?? realToolkit)(ioHost, profile, region);
    const cx: ICloudAssemblySource = await toolkit.fromAssemblyDirectory(CDK_OUT);
    await line.start(`Deploying Saga to ${region}`, 'Deployment failed');
    try {
      result = await toolkit.deploy(cx);
    } catch (error) {
      if (!/bootstrap/i.test((error as Error).message)) throw error;
      line.stop();
      const ok =
        ctx.globals.yes ||
        (await ctx.prompter.confirm(
          `The AWS environment in ${region} is not bootstrapped for the CDK (no CDKToolkit stack). Bootstrap it now?`,
          { default: true },
        ));
      if (!ok) {
        throw new AbortError(
          'Not bootstrapped, nothing deployed. Run `npx cdk bootstrap` yourself, then deploy again.',
        );
      }
      await line.start(`Bootstrapping ${region}`);
      const { BootstrapEnvironments } = await import('@aws-cdk/toolkit-lib');
      await toolkit.bootstrap(BootstrapEnvironments.fromCloudAssemblySource(cx));
      line.succeed(`Bootstrapped ${region}`);
      await line.start(`Deploying Saga to ${region}`, 'Deployment failed');
      result = await toolkit.deploy(cx);
    }
    line.succeed(`Deployed Saga to ${region}`);
  } catch (error) {
    line.fail();
    throw error;
  }
  const stack = result.stacks.find((s) => s.stackName === 'Saga') ?? result.stacks[0];
  const outputs = (stack?.outputs ?? {}) as unknown as StackOutputs;
  await writeContext(ctx.projectDir, {
    target: 'aws',
    region,
    profile,
    awsOutputs: outputs,
    deployedAt: new Date().toISOString(),
  });
  const deployed: DeployResult = { target: 'aws', outputs: { ...outputs } };
  out.data(deployed);
  out.table([['output', 'value'], ...Object.entries(outputs).map(([k, v]) => [k, String(v)])]);
  return deployed;
}

/** `saga destroy --target aws` (the caller confirmed). */
export async function destroyOnAws(ctx: CommandContext, seams: AwsDeploySeams = {}): Promise<void> {
  const region = regionOf(ctx);
  if (!seams.skipCredentialCheck) await awsCredentials(ctx.globals.profile);
  const line = progressLine(ctx.out);
  try {
    await line.start(`Destroying Saga in ${region}`);
    const ioHost = progressIoHost(ctx, line.current);
    const toolkit = await (seams.createToolkit ?? realToolkit)(ioHost, ctx.globals.profile, region);
    if (!(await import('node:fs')).existsSync(`${CDK_OUT}/Saga.template.json`)) await synthesize();
    const cx = await toolkit.fromAssemblyDirectory(CDK_OUT);
    await toolkit.destroy(cx);
    line.succeed(`Destroyed Saga in ${region}`);
  } catch (error) {
    line.fail();
    throw error;
  }
  await writeContext(ctx.projectDir, { target: 'local' });
}
