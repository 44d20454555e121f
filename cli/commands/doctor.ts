import type { CommandContext } from '../command.ts';
import type { ArgsOf, doctorCommand, OptionsOf } from '../definitions.ts';
import { CDK_OUT, synthesisIsStale } from '../target/project.ts';

/** One check of `saga doctor`. */
export interface DoctorCheck {
  readonly name: string;
  readonly status: 'ok' | 'warn' | 'fail';
  readonly detail: string;
  /** What to do when it is not ok. */
  readonly fix?: string;
}

/** Options of `saga doctor`. */
export interface DoctorOptions {
  /** Also check AWS credentials, region and CDK bootstrap. @default true when the target is aws */
  readonly aws: boolean;
}

/** `saga doctor`: checks what the local and aws targets need and says what to fix. */
export async function doctor(ctx: CommandContext, options: DoctorOptions): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  const [major] = process.versions.node.split('.').map(Number);
  checks.push(
    (major ?? 0) >= 24
      ? { name: 'Node.js', status: 'ok', detail: process.version }
      : {
          name: 'Node.js',
          status: 'fail',
          detail: `${process.version} (needs 24+)`,
          fix: 'run saga through npm (`npx saga`), which uses the project-pinned Node 24',
        },
  );
  const { checkJava, findEatMyData } = await import('@saga/local-cloud');
  try {
    checks.push({ name: 'Java (DynamoDB Local)', status: 'ok', detail: `Java ${checkJava()}` });
  } catch (error) {
    checks.push({
      name: 'Java (DynamoDB Local)',
      status: 'fail',
      detail: (error as Error).message,
      fix: 'install a Java 17+ runtime (Debian/Ubuntu: apt-get install openjdk-17-jre-headless)',
    });
  }
  if (process.platform === 'linux') {
    const eatMyData = findEatMyData();
    checks.push(
      ctx.env.SAGA_DYNAMODB_FSYNC === '1'
        ? {
            name: 'DynamoDB Local writes',
            status: 'ok',
            detail: 'every write waits for fsync (SAGA_DYNAMODB_FSYNC=1)',
          }
        : eatMyData
          ? { name: 'DynamoDB Local writes', status: 'ok', detail: `fsync skipped (${eatMyData})` }
          : {
              name: 'DynamoDB Local writes',
              status: 'warn',
              detail:
                'every write waits for fsync (libeatmydata not found): DynamoDB Local writes 3–4× slower',
              fix: 'apt-get install eatmydata (optional; infra/local/README.md#dynamodb-local)',
            },
    );
  }
  checks.push(
    synthesisIsStale()
      ? {
          name: 'Synthesized app',
          status: 'warn',
          detail: `${CDK_OUT} is missing or older than the sources`,
          fix: '`saga deploy` synthesizes it (or `npm run synth`)',
        }
      : { name: 'Synthesized app', status: 'ok', detail: CDK_OUT },
  );
  const { readLocalCloudState, LocalCloudStateError } = await import('@saga/local-cloud');
  const state = await readLocalCloudState(ctx.projectDir).catch((error: unknown) => {
    if (error instanceof LocalCloudStateError) return error;
    throw error;
  });
  if (state instanceof LocalCloudStateError) {
    const { localCloudAdvice } = await import('../errors.ts');
    checks.push({
      name: 'Local cloud',
      status: 'fail',
      detail: state.message,
      fix: localCloudAdvice(state) ?? '',
    });
  } else if (state) {
    let reachable = false;
    try {
      const res = await fetch(state.endpoint, { method: 'GET', signal: AbortSignal.timeout(2000) });
      reachable = res.status > 0;
    } catch {
      reachable = false;
    }
    checks.push(
      reachable
        ? { name: 'Local cloud', status: 'ok', detail: `running (pid ${state.pid}) at ${state.endpoint}` }
        : {
            name: 'Local cloud',
            status: 'fail',
            detail: `pid ${state.pid} is alive but ${state.endpoint} does not answer`,
            fix: '`saga destroy --yes` then `saga deploy`',
          },
    );
  } else {
    checks.push({
      name: 'Local cloud',
      status: 'warn',
      detail: 'not running',
      fix: '`saga deploy` starts it',
    });
  }
  if (options.aws) {
    const region = ctx.globals.region ?? ctx.env.AWS_REGION ?? ctx.env.AWS_DEFAULT_REGION;
    checks.push(
      region
        ? { name: 'AWS region', status: 'ok', detail: region }
        : { name: 'AWS region', status: 'fail', detail: 'none set', fix: 'pass --region or set AWS_REGION' },
    );
    const { awsCredentials, resolveAwsAccount } = await import('../target/target.ts');
    let provider: Awaited<ReturnType<typeof awsCredentials>> | undefined;
    try {
      // Found is not accepted: only STS says whether AWS takes these keys, and whose they are.
      const found = await awsCredentials(ctx.globals.profile);
      const identity = await resolveAwsAccount(found, region ?? 'us-east-1', {
        env: ctx.env,
        profile: ctx.globals.profile,
      });
      provider = found;
      checks.push({
        name: 'AWS credentials',
        status: 'ok',
        detail: `account ${identity.account} (${identity.arn})`,
      });
    } catch (error) {
      checks.push({
        name: 'AWS credentials',
        status: 'fail',
        detail: (error as Error).message.split('. ')[0] ?? '',
        fix: '`aws configure` or `aws sso login`, or pass --profile; check with `aws sts get-caller-identity`',
      });
    }
    if (provider && region) checks.push(await bootstrapCheck(provider, region, ctx.env));
  }
  return checks;
}

export default async function action(
  ctx: CommandContext,
  _args: ArgsOf<typeof doctorCommand>,
  options: OptionsOf<typeof doctorCommand>,
): Promise<number> {
  const { chooseTarget } = await import('../target/target.ts');
  const aws = options.aws || (await chooseTarget(ctx.projectDir, ctx.globals)) === 'aws';
  const checks = await doctor(ctx, { aws });
  const { out } = ctx;
  for (const check of checks) {
    out.result({ type: 'check', ...check }, (style) => {
      const glyph =
        check.status === 'ok' ? style.ok('✓') : check.status === 'warn' ? style.warn('!') : style.fail('✗');
      return [
        `${glyph} ${check.name.padEnd(22)} ${check.detail}`,
        ...(check.fix && check.status !== 'ok'
          ? [`  ${' '.repeat(22)} ${style.dim(`fix: ${check.fix}`)}`]
          : []),
      ];
    });
  }
  return checks.some((c) => c.status === 'fail') ? 3 : 0;
}

/** Whether the CDK bootstrap stack (CDKToolkit) exists in the region: `saga deploy --target aws` needs it. */
async function bootstrapCheck(
  credentials: import('@smithy/types').AwsCredentialIdentityProvider,
  region: string,
  env: NodeJS.ProcessEnv,
): Promise<DoctorCheck> {
  const { CloudFormationClient, DescribeStacksCommand } = await import('@aws-sdk/client-cloudformation');
  const endpoint = env.AWS_ENDPOINT_URL_CLOUDFORMATION ?? env.AWS_ENDPOINT_URL;
  const cfn = new CloudFormationClient({
    region,
    credentials,
    maxAttempts: 2,
    ...(endpoint ? { endpoint } : {}),
  });
  try {
    const { Stacks = [] } = await cfn.send(new DescribeStacksCommand({ StackName: 'CDKToolkit' }));
    const status = Stacks[0]?.StackStatus ?? 'UNKNOWN';
    return status.endsWith('_COMPLETE') && !status.startsWith('DELETE')
      ? { name: 'CDK bootstrap', status: 'ok', detail: `CDKToolkit ${status} in ${region}` }
      : {
          name: 'CDK bootstrap',
          status: 'warn',
          detail: `CDKToolkit is ${status} in ${region}`,
          fix: '`saga deploy --target aws` offers to bootstrap',
        };
  } catch (error) {
    const message = (error as Error).message;
    return /does not exist/i.test(message)
      ? {
          name: 'CDK bootstrap',
          status: 'warn',
          detail: `${region} is not bootstrapped (no CDKToolkit stack)`,
          fix: '`saga deploy --target aws` asks before bootstrapping it',
        }
      : {
          // A check that could not be made is not a pass.
          name: 'CDK bootstrap',
          status: 'fail',
          detail: `could not check: ${message}`,
          fix: 'check the network and the credentials’ cloudformation:DescribeStacks permission',
        };
  }
}
