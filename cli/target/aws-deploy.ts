import { createHash } from 'node:crypto';
import { copyFile, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type {
  ICloudAssemblySource,
  IIoHost,
  Toolkit,
  DeployResult as ToolkitDeployResult,
} from '@aws-cdk/toolkit-lib';
import type { CommandContext } from '../command.ts';
import { AbortError, EnvironmentError } from '../errors.ts';
import type { Output, Progress } from '../ui/output.ts';
import { type StackOutputs, writeContext } from './context.ts';
import { CDK_OUT, STACK_NAME, synthesize } from './project.ts';
import { awsCredentials, resolveAwsAccount } from './target.ts';

/** What `saga deploy --target aws` did (its part of the `deploy` JSON contract). */
export interface AwsDeployResult {
  readonly target: 'aws';
  /** The cloud assembly deployed (absolute path). */
  readonly assembly: string;
  readonly outputs: Record<string, string>;
}

/** Options of {@link deployToAws}. */
export interface AwsDeployOptions {
  /** A synthesized cloud assembly to deploy as it is, already checked (`checkAssembly`). @default synthesize into cdk.out */
  readonly app?: string;
}

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

/**
 * `saga deploy --target aws`: synthesis (or, with `app`, the given assembly as it is), bootstrap check with a
 * prompt, deploy with the toolkit, outputs saved.
 */
export async function deployToAws(
  ctx: CommandContext,
  seams: AwsDeploySeams = {},
  options: AwsDeployOptions = {},
): Promise<AwsDeployResult> {
  const region = regionOf(ctx);
  const profile = ctx.globals.profile;
  // The account must resolve before anything is synthesized: no network or refused keys are exit 3 here, not a
  // toolkit stack trace later.
  if (!seams.skipCredentialCheck) {
    await resolveAwsAccount(await awsCredentials(profile), region, { env: ctx.env, profile });
  }
  const { out } = ctx;
  const line = progressLine(out);
  const assemblyDir = options.app ?? CDK_OUT;
  let staged: StagedAssembly | undefined;
  let result: ToolkitDeployResult;
  try {
    if (options.app) {
      out.line(`Deploying the cloud assembly ${options.app} as it is (no synthesis)`);
    } else {
      await line.start('Synthesizing the CDK app', 'Synthesis failed');
      await synthesize();
      line.succeed('Synthesized the CDK app');
    }
    staged = await assemblyForDeploy(assemblyDir, STACK_NAME);
    if (staged.templateHash) {
      out.warn(
        `${STACK_NAME}.template.json was edited after synthesis: it is deployed as edited, under its new hash ` +
          `${staged.templateHash.now.slice(0, 12)}… (the assembly names it ${staged.templateHash.synthesized.slice(0, 12)}…, ` +
          'which would deploy the template already uploaded under that name). The folder itself is not changed.',
      );
    }
    const ioHost = progressIoHost(ctx, line.current);
    const toolkit = await (seams.createToolkit ?? realToolkit)(ioHost, profile, region);
    const cx: ICloudAssemblySource = await toolkit.fromAssemblyDirectory(staged.dir);
    await line.start(`Deploying ${STACK_NAME} to ${region}`, 'Deployment failed');
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
      await line.start(`Deploying ${STACK_NAME} to ${region}`, 'Deployment failed');
      result = await toolkit.deploy(cx);
    }
    line.succeed(`Deployed ${STACK_NAME} to ${region}`);
  } catch (error) {
    line.fail();
    throw error;
  } finally {
    await staged?.dispose();
  }
  const stack = result.stacks.find((s) => s.stackName === STACK_NAME) ?? result.stacks[0];
  const outputs = (stack?.outputs ?? {}) as unknown as StackOutputs;
  await writeContext(ctx.projectDir, {
    target: 'aws',
    region,
    profile,
    awsOutputs: outputs,
    deployedAt: new Date().toISOString(),
  });
  const deployed: AwsDeployResult = { target: 'aws', assembly: assemblyDir, outputs: { ...outputs } };
  out.data(deployed);
  out.table([['output', 'value'], ...Object.entries(outputs).map(([k, v]) => [k, String(v)])]);
  return deployed;
}

/** The assembly folder the toolkit reads, and how to clean up after it. */
export interface StagedAssembly {
  readonly dir: string;
  /** Set when the template was edited after synthesis: the hash the assembly names it by, and its hash now. */
  readonly templateHash?: { readonly synthesized: string; readonly now: string };
  dispose(): Promise<void>;
}

interface Manifest {
  artifacts?: Record<
    string,
    {
      type?: string;
      dependencies?: string[];
      properties?: { templateFile?: string; file?: string; stackTemplateAssetObjectUrl?: string };
    }
  >;
}

interface AssetManifest {
  files?: Record<
    string,
    { source: { path?: string }; destinations?: Record<string, { objectKey?: string }> }
  >;
}

/**
 * The folder to deploy `dir` from. CDK uploads a stack's template as a file asset named by the sha256 of the
 * template it synthesized, and the toolkit skips an asset whose object already exists in the bootstrap bucket: a
 * template edited after synthesis, deployed from its folder, would be replaced by the one uploaded earlier under
 * that name. So an edited template is deployed from a staging folder (under the system's temp folder, removed by
 * `dispose`): the assembly's files copied, manifest.json and the asset manifest naming the template by its hash
 * now, every other asset read from `dir` itself. An unedited assembly is deployed from `dir`.
 */
export async function assemblyForDeploy(dir: string, stackName: string): Promise<StagedAssembly> {
  const asIs: StagedAssembly = { dir, dispose: async () => {} };
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  const stack = manifest.artifacts?.[stackName];
  const templateFile = stack?.properties?.templateFile ?? `${stackName}.template.json`;
  const url = stack?.properties?.stackTemplateAssetObjectUrl;
  const synthesized = url ? /([0-9a-f]{64})\.json$/.exec(url)?.[1] : undefined;
  if (!stack?.properties || !url || !synthesized) return asIs;
  const now = createHash('sha256')
    .update(await readFile(join(dir, templateFile)))
    .digest('hex');
  if (now === synthesized) return asIs;

  const staging = await mkdtemp(join(tmpdir(), 'saga-assembly-'));
  try {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const from = join(dir, entry.name);
      if (entry.isDirectory()) await symlink(from, join(staging, entry.name), 'dir');
      else await copyFile(from, join(staging, entry.name));
    }
    stack.properties.stackTemplateAssetObjectUrl = url.replace(synthesized, now);
    await writeFile(join(staging, 'manifest.json'), JSON.stringify(manifest, null, 1));
    const assetManifests = (stack.dependencies ?? [])
      .map((id) => manifest.artifacts?.[id])
      .filter((a) => a?.type === 'cdk:asset-manifest' && a.properties?.file)
      .map((a) => a?.properties?.file as string);
    for (const name of assetManifests) {
      const assets = JSON.parse(await readFile(join(dir, name), 'utf8')) as AssetManifest;
      const files: NonNullable<AssetManifest['files']> = {};
      for (const [id, entry] of Object.entries(assets.files ?? {})) {
        if (id === synthesized && entry.source.path === templateFile) {
          for (const destination of Object.values(entry.destinations ?? {})) {
            destination.objectKey = destination.objectKey?.replace(synthesized, now);
          }
          files[now] = entry;
        } else {
          // Read from the assembly itself, not from a copy.
          if (entry.source.path) entry.source.path = resolve(dir, entry.source.path);
          files[id] = entry;
        }
      }
      assets.files = files;
      await writeFile(join(staging, name), JSON.stringify(assets, null, 1));
    }
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
  return {
    dir: staging,
    templateHash: { synthesized, now },
    dispose: () => rm(staging, { recursive: true, force: true }),
  };
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
