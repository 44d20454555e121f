import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { EnvironmentError, UserError } from '../errors.ts';
import { readContext, type StackOutputs, type TargetKind } from './context.ts';

/** Global options that choose the target (design §6). */
export interface TargetOptions {
  readonly target?: string;
  readonly profile?: string;
  readonly region?: string;
}

/** A stack the CLI can talk to, with what an AWS SDK client needs to reach it. */
export interface ResolvedTarget {
  readonly kind: TargetKind;
  readonly region: string;
  /** The local edge URL; undefined on aws. */
  readonly endpoint?: string;
  readonly outputs: StackOutputs;
  readonly credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** Config for any AWS SDK v3 client. */
  clientConfig(): {
    region: string;
    endpoint?: string;
    credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  };
}

/** Which target the command means: --target, else the last deployed, else local. */
export async function chooseTarget(projectDir: string, options: TargetOptions): Promise<TargetKind> {
  if (options.target !== undefined) {
    if (options.target !== 'local' && options.target !== 'aws') {
      throw new UserError(`--target must be "local" or "aws"; received ${JSON.stringify(options.target)}.`);
    }
    return options.target;
  }
  return (await readContext(projectDir))?.target ?? 'local';
}

/** Resolves the deployed stack a command talks to; exit 3 with the fix when it is not there. */
export async function resolveTarget(
  projectDir: string,
  options: TargetOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ResolvedTarget> {
  const kind = await chooseTarget(projectDir, options);
  if (kind === 'local') {
    const { readLocalCloudState } = await import('@saga/local-cloud');
    const { LOCAL_CREDENTIALS } = await import('@saga/local-cloud');
    const state = await readLocalCloudState(projectDir);
    if (!state) {
      throw new EnvironmentError(
        'The local cloud is not running. Start it with `saga deploy` (or `npx saga deploy --target local`).',
      );
    }
    const credentials = { ...LOCAL_CREDENTIALS };
    const region = 'us-east-1';
    return {
      kind,
      region,
      endpoint: state.endpoint,
      outputs: state.outputs as StackOutputs,
      credentials,
      clientConfig: () => ({ region, endpoint: state.endpoint, credentials }),
    };
  }
  const context = await readContext(projectDir);
  const region = options.region ?? context?.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (!region) {
    throw new EnvironmentError(
      'No AWS region: pass --region, or set AWS_REGION, or deploy with `saga deploy --target aws --region <region>`.',
    );
  }
  if (!context?.awsOutputs) {
    throw new EnvironmentError(
      'The stack is not deployed to AWS from this folder (.saga/context.json has no aws outputs). ' +
        'Run `saga deploy --target aws` first.',
    );
  }
  const credentials = await awsCredentials(options.profile ?? context.profile);
  const outputs = context.awsOutputs;
  return { kind, region, outputs, credentials, clientConfig: () => ({ region, credentials }) };
}

/** The normal AWS credential chain, checked once so that a missing or expired session is exit 3 with the fix. */
export async function awsCredentials(profile: string | undefined): Promise<AwsCredentialIdentityProvider> {
  const { fromNodeProviderChain } = await import('@aws-sdk/credential-providers');
  const provider = fromNodeProviderChain(profile ? { profile } : {});
  try {
    const identity = await provider();
    if (identity.expiration && identity.expiration.getTime() < Date.now()) {
      throw new EnvironmentError(
        `The AWS session${profile ? ` of profile ${profile}` : ''} expired at ${identity.expiration.toISOString()}. ` +
          `Refresh it (e.g. \`aws sso login${profile ? ` --profile ${profile}` : ''}\`) and try again.`,
      );
    }
  } catch (error) {
    if (error instanceof EnvironmentError) throw error;
    throw new EnvironmentError(
      `No AWS credentials${profile ? ` for profile ${profile}` : ''}: ${(error as Error).message}. ` +
        'Configure them (`aws configure`, `aws sso login`, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) or use --target local.',
      { cause: error },
    );
  }
  return provider;
}

/** Who the credentials are, as STS says. */
export interface AwsIdentity {
  readonly account: string;
  readonly arn: string;
}

/**
 * Resolves the account of the credentials with STS `GetCallerIdentity` (the only proof that AWS accepts them: a
 * provider hands out any keys it finds). Refused keys, no network, or no answer within `timeoutMs` → exit 3 saying
 * what to do. `endpoint` (tests: a local stub) defaults to AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL in `env`.
 */
export async function resolveAwsAccount(
  credentials: AwsCredentialIdentityProvider,
  region: string,
  options: { env?: NodeJS.ProcessEnv; endpoint?: string; timeoutMs?: number; profile?: string } = {},
): Promise<AwsIdentity> {
  const { STSClient, GetCallerIdentityCommand } = await import('@aws-sdk/client-sts');
  const env = options.env ?? process.env;
  const endpoint = options.endpoint ?? env.AWS_ENDPOINT_URL_STS ?? env.AWS_ENDPOINT_URL;
  const sts = new STSClient({ region, credentials, maxAttempts: 2, ...(endpoint ? { endpoint } : {}) });
  try {
    const identity = await sts.send(new GetCallerIdentityCommand({}), {
      abortSignal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
    if (!identity.Account) throw new Error('GetCallerIdentity answered without an account');
    return { account: identity.Account, arn: identity.Arn ?? '' };
  } catch (error) {
    const e = error as Error & { $metadata?: { httpStatusCode?: number } };
    const refused = e.$metadata?.httpStatusCode !== undefined;
    const profile = options.profile ? ` of profile ${options.profile}` : '';
    throw new EnvironmentError(
      refused
        ? `AWS refused the credentials${profile} (${e.name}: ${e.message}). Fix or refresh them (\`aws configure\`, ` +
            '`aws sso login`, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), check with `aws sts get-caller-identity`, ' +
            'or use --target local.'
        : `Could not resolve the AWS account${profile}: STS did not answer in ${region} (${e.name}: ${e.message}). ` +
            'Check the network (and any proxy), then `aws sts get-caller-identity`; or use --target local.',
      { cause: error },
    );
  } finally {
    sts.destroy();
  }
}
