import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type {
  BootstrapEnvironments,
  BootstrapResult,
  DeployResult,
  DestroyResult,
  ICloudAssemblySource,
  IIoHost,
  IoMessage,
  StackActivity,
} from '@aws-cdk/toolkit-lib';
import { afterEach, describe, expect, test, vi } from 'vitest';
import {
  CapturedStream,
  type ScriptedAnswer,
  scriptedPrompter,
  stubNoAwsCredentials,
  tempProject,
} from '../../test/support/cli.ts';
import { deadEndpoint, stubSts } from '../../test/support/sts-stub.ts';
import type { CommandContext, GlobalOptions } from '../command.ts';
import { AbortError, EnvironmentError } from '../errors.ts';
import { Output } from '../ui/output.ts';
import {
  type AwsDeploySeams,
  assemblyForDeploy,
  deployToAws,
  destroyOnAws,
  progressIoHost,
  type ToolkitLike,
} from './aws-deploy.ts';
import { contextPath, readContext } from './context.ts';
import { CDK_OUT } from './project.ts';

// Synthesis is real (a child process writing cdk.out) but costs seconds of CPU: the first test runs it for real
// and checks what it wrote; later tests, which are about what happens after synthesis, count the call instead.
const synthesis = vi.hoisted(() => ({ real: true, calls: 0, failure: undefined as Error | undefined }));
vi.mock('./project.ts', async (importOriginal) => {
  const actual = await importOriginal<typeof import('./project.ts')>();
  return {
    ...actual,
    synthesize: async () => {
      synthesis.calls++;
      if (synthesis.failure) throw synthesis.failure;
      if (synthesis.real) await actual.synthesize();
    },
  };
});

const REGION = 'eu-west-1';
const OUTPUTS = {
  ApiUrl: 'https://abc123.execute-api.eu-west-1.amazonaws.com/',
  StateMachineArn: 'arn:aws:states:eu-west-1:123456789012:stateMachine:OrderSagaF61556E2-x',
  OrdersTableName: 'Saga-OrdersA9B65338-1',
  PaymentsTableName: 'Saga-Payments130453D3-1',
  InventoryTableName: 'Saga-InventoryCFCBEC24-1',
  ShipmentsTableName: 'Saga-Shipments6E8A22F1-1',
  IdempotencyTableName: 'Saga-IdempotencyC15CBC33-1',
  FailureFlagsTableName: 'Saga-FailureFlags6222F9D1-1',
};
const BOOTSTRAP_ERROR =
  "Saga: This CDK deployment requires bootstrap stack version '6', but during the confirmation via SSM parameter " +
  '/cdk-bootstrap/hnb659fds/version the following error occurred: ParameterNotFound. Has the environment been ' +
  "bootstrapped? Please run 'cdk bootstrap'";

/** What the progress line showed: the spinners started, their updates and how they ended. */
interface ProgressLog {
  readonly started: string[];
  readonly updates: string[];
  readonly ended: string[];
}

async function context(
  options: {
    globals?: Partial<GlobalOptions>;
    env?: NodeJS.ProcessEnv;
    answers?: readonly ScriptedAnswer[];
  } = {},
) {
  const stdout = new CapturedStream();
  const stderr = new CapturedStream();
  const out = await Output.create({ stdout, stderr, json: false, color: false, interactive: false });
  const log: ProgressLog = { started: [], updates: [], ended: [] };
  // Off a terminal the real progress drops updates; record them to see what the spinner would show.
  out.progress = async (text) => {
    log.started.push(text);
    return {
      update: (t) => log.updates.push(t),
      succeed: (t) => log.ended.push(`✓ ${t ?? text}`),
      fail: (t) => log.ended.push(`✗ ${t ?? text}`),
      stop: () => log.ended.push(`■ ${text}`),
    };
  };
  const prompter = scriptedPrompter(options.answers ?? []);
  const ctx: CommandContext = {
    out,
    projectDir: await tempProject(),
    env: options.env ?? { AWS_REGION: REGION },
    globals: { json: false, color: false, yes: false, ...options.globals },
    prompter,
    signal: new AbortController().signal,
  };
  return { ctx, log, prompter, stdout, stderr };
}

function activity(
  completed: number,
  total: number,
  logicalId: string,
  status: string,
): IoMessage<StackActivity> {
  return {
    time: new Date(),
    level: 'info',
    action: 'deploy',
    code: 'CDK_TOOLKIT_I5502',
    message: `Saga | ${completed}/${total} | ${status} | ${logicalId}`,
    data: {
      deployment: 'deployment-1',
      event: {
        StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/Saga/1',
        EventId: `${logicalId}-${status}`,
        StackName: 'Saga',
        Timestamp: new Date(),
        LogicalResourceId: logicalId,
        ResourceStatus: status as never,
      },
      progress: { completed, total, formatted: `${completed}/${total}` },
    },
  };
}

const SOURCE: ICloudAssemblySource = {
  produce: async () => {
    throw new Error('the stand-in toolkit never produces an assembly');
  },
};

/** Errors the stand-in throws from its other calls. */
interface StandInFailures {
  readonly bootstrap?: Error;
  readonly destroy?: Error;
}

/** Stands in for AWS: answers like @aws-cdk/toolkit-lib's Toolkit and talks to the CLI through the IoHost. */
class StandInToolkit implements ToolkitLike {
  readonly calls: string[] = [];
  readonly directories: string[] = [];
  /** The template's modification time when the toolkit was asked to read the assembly. */
  templateMtimeAtRead = 0;
  private readonly ioHost: IIoHost;
  private readonly deployErrors: Error[];
  private readonly failures: StandInFailures;

  constructor(ioHost: IIoHost, deployErrors: Error[] = [], failures: StandInFailures = {}) {
    this.ioHost = ioHost;
    this.deployErrors = deployErrors;
    this.failures = failures;
  }

  async fromAssemblyDirectory(directory: string): Promise<ICloudAssemblySource> {
    this.calls.push('fromAssemblyDirectory');
    this.directories.push(directory);
    this.templateMtimeAtRead = statSync(join(directory, 'Saga.template.json')).mtimeMs;
    return SOURCE;
  }

  async deploy(cx: ICloudAssemblySource): Promise<DeployResult> {
    this.calls.push('deploy');
    expect(cx).toBe(SOURCE);
    const error = this.deployErrors.shift();
    if (error) throw error;
    const confirmed = await this.ioHost.requestResponse({
      time: new Date(),
      level: 'info',
      action: 'deploy',
      code: 'CDK_TOOLKIT_I5060',
      message:
        'This deployment will make potentially sensitive changes (IAM). Do you wish to deploy these changes?  ',
      data: {},
      defaultResponse: false,
    });
    if (!confirmed) throw new Error('Aborted by user');
    await this.ioHost.notify(activity(1, 3, 'OrdersA9B65338', 'CREATE_IN_PROGRESS'));
    await this.ioHost.notify(activity(3, 3, 'Saga', 'CREATE_COMPLETE'));
    return {
      stacks: [
        {
          stackName: 'Saga',
          hierarchicalId: 'Saga',
          stackArn: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/Saga/1',
          environment: { account: '123456789012', region: REGION },
          outputs: OUTPUTS,
          deleteFailures: [],
        },
      ],
    };
  }

  async bootstrap(_environments: BootstrapEnvironments): Promise<BootstrapResult> {
    this.calls.push('bootstrap');
    if (this.failures.bootstrap) throw this.failures.bootstrap;
    return { environments: [], duration: 1 };
  }

  async destroy(cx: ICloudAssemblySource): Promise<DestroyResult> {
    this.calls.push('destroy');
    expect(cx).toBe(SOURCE);
    if (this.failures.destroy) throw this.failures.destroy;
    return { stacks: [] };
  }
}

/** Seams that build a stand-in toolkit on the IoHost the CLI gives it. */
function standIn(
  deployErrors: Error[] = [],
  failures: StandInFailures = {},
): { seams: AwsDeploySeams; toolkit: () => StandInToolkit } {
  let toolkit: StandInToolkit | undefined;
  return {
    seams: {
      skipCredentialCheck: true,
      createToolkit: async (ioHost, _profile, region) => {
        expect(region).toBe(REGION);
        toolkit = new StandInToolkit(ioHost, deployErrors, failures);
        return toolkit;
      },
    },
    toolkit: () => {
      if (!toolkit) throw new Error('the CLI never created the toolkit');
      return toolkit;
    },
  };
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('deployToAws with a stand-in toolkit', () => {
  test('synthesizes into cdk.out, bootstraps after asking, deploys, feeds the progress line, saves the outputs', async () => {
    synthesis.real = true;
    const startedAt = Date.now();
    const { ctx, log, prompter, stdout } = await context({
      // The bootstrap question, then the toolkit's IAM confirmation.
      answers: [{ confirm: true }, { confirm: true }],
    });
    const { seams, toolkit } = standIn([new Error(BOOTSTRAP_ERROR)]);

    const result = await deployToAws(ctx, seams);

    // Real synthesis: the toolkit read a cloud assembly written during this test, holding our stack.
    expect(toolkit().directories).toEqual([CDK_OUT]);
    expect(toolkit().templateMtimeAtRead).toBeGreaterThanOrEqual(startedAt - 1000);
    const template = JSON.parse(readFileSync(join(CDK_OUT, 'Saga.template.json'), 'utf8')) as {
      Resources: Record<string, { Type: string }>;
    };
    expect(Object.values(template.Resources).map((r) => r.Type)).toContain(
      'AWS::StepFunctions::StateMachine',
    );

    expect(toolkit().calls).toEqual(['fromAssemblyDirectory', 'deploy', 'bootstrap', 'deploy']);
    expect(prompter.asked[0]).toBe(
      `The AWS environment in ${REGION} is not bootstrapped for the CDK (no CDKToolkit stack). Bootstrap it now?`,
    );
    // The toolkit's own confirmation became a prompt, its trailing spaces trimmed.
    expect(prompter.asked[1]).toBe(
      'This deployment will make potentially sensitive changes (IAM). Do you wish to deploy these changes?',
    );
    expect(log.updates).toEqual([
      'Deploying Saga: 1/3 resources — OrdersA9B65338 CREATE_IN_PROGRESS',
      'Deploying Saga: 3/3 resources — Saga CREATE_COMPLETE',
    ]);
    expect(log.started).toEqual([
      'Synthesizing the CDK app',
      `Deploying Saga to ${REGION}`,
      `Bootstrapping ${REGION}`,
      `Deploying Saga to ${REGION}`,
    ]);
    expect(log.ended.at(-1)).toBe(`✓ Deployed Saga to ${REGION}`);
    expect(log.ended).toHaveLength(log.started.length);

    expect(result).toEqual({ target: 'aws', assembly: CDK_OUT, outputs: OUTPUTS });
    const saved = await readContext(ctx.projectDir);
    expect(saved).toMatchObject({ target: 'aws', region: REGION, awsOutputs: OUTPUTS });
    expect(Number.isNaN(Date.parse(saved?.deployedAt ?? ''))).toBe(false);
    expect(stdout.text()).toContain(`ApiUrl                 ${OUTPUTS.ApiUrl}`);
  }, 240_000); // real synthesis bundles seven functions: about 15 s alone, minutes on a busy machine

  test('refusing to bootstrap → AbortError (exit 130), nothing deployed, nothing saved', async () => {
    synthesis.real = false;
    const calls = synthesis.calls;
    const { ctx, log } = await context({ answers: [{ confirm: false }] });
    const { seams, toolkit } = standIn([new Error(BOOTSTRAP_ERROR)]);

    const error = await deployToAws(ctx, seams).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(AbortError);
    expect((error as AbortError).exitCode).toBe(130);
    expect((error as Error).message).toContain('Not bootstrapped, nothing deployed');
    expect(synthesis.calls).toBe(calls + 1);
    expect(toolkit().calls).toEqual(['fromAssemblyDirectory', 'deploy']);
    expect(log.started).not.toContain(`Bootstrapping ${REGION}`);
    expect(await readContext(ctx.projectDir)).toBeUndefined();
  });

  test('--yes bootstraps without asking', async () => {
    synthesis.real = false;
    const { ctx, prompter } = await context({ globals: { yes: true } });
    const { seams, toolkit } = standIn([new Error(BOOTSTRAP_ERROR)]);

    await deployToAws(ctx, seams);

    expect(prompter.asked).toEqual([]);
    expect(toolkit().calls).toEqual(['fromAssemblyDirectory', 'deploy', 'bootstrap', 'deploy']);
    expect((await readContext(ctx.projectDir))?.awsOutputs).toEqual(OUTPUTS);
  });

  test('a deployment error that is not about bootstrap is rethrown as it is, nothing saved', async () => {
    synthesis.real = false;
    const { ctx, log, prompter } = await context();
    const failure = new Error(
      'Saga failed: UPDATE_ROLLBACK_COMPLETE: Resource handler returned message: "Rate exceeded"',
    );
    const { seams, toolkit } = standIn([failure]);

    await expect(deployToAws(ctx, seams)).rejects.toBe(failure);

    expect(prompter.asked).toEqual([]);
    expect(toolkit().calls).toEqual(['fromAssemblyDirectory', 'deploy']);
    expect(log.ended.at(-1)).toBe('✗ Deployment failed');
    expect(await readContext(ctx.projectDir)).toBeUndefined();
  });

  test('no region → EnvironmentError before anything else', async () => {
    synthesis.real = false;
    const calls = synthesis.calls;
    const { ctx } = await context({ env: {} });
    const { seams } = standIn();

    const error = await deployToAws(ctx, seams).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(EnvironmentError);
    expect((error as Error).message).toBe('No AWS region: pass --region <region> or set AWS_REGION.');
    expect(synthesis.calls).toBe(calls);
  });

  test('--region wins over AWS_REGION', async () => {
    synthesis.real = false;
    const { ctx } = await context({
      globals: { region: REGION, yes: true },
      env: { AWS_REGION: 'ap-south-1' },
    });
    const { seams } = standIn();
    await deployToAws(ctx, seams);
    expect((await readContext(ctx.projectDir))?.region).toBe(REGION);
  });
});

describe('a failure at any stage ends the progress line (a spinner left running keeps the process alive)', () => {
  afterEach(() => {
    synthesis.failure = undefined;
  });

  test('synthesis fails → the synthesis spinner fails, the error is rethrown', async () => {
    synthesis.real = false;
    synthesis.failure = new Error('CDK synthesis failed (exit 1): boom');
    const { ctx, log } = await context();
    const { seams } = standIn();
    await expect(deployToAws(ctx, seams)).rejects.toBe(synthesis.failure);
    expect(log.started).toEqual(['Synthesizing the CDK app']);
    expect(log.ended).toEqual(['✗ Synthesis failed']);
  });

  test('bootstrap fails → the bootstrap spinner fails', async () => {
    synthesis.real = false;
    const { ctx, log } = await context({ globals: { yes: true } });
    const failure = new Error('AccessDenied: cloudformation:CreateChangeSet');
    const { seams } = standIn([new Error(BOOTSTRAP_ERROR)], { bootstrap: failure });
    await expect(deployToAws(ctx, seams)).rejects.toBe(failure);
    expect(log.started.at(-1)).toBe(`Bootstrapping ${REGION}`);
    expect(log.ended.at(-1)).toBe(`✗ Bootstrapping ${REGION}`);
    expect(log.ended).toHaveLength(log.started.length);
  });

  test('the deployment after bootstrap fails → the deploy spinner fails, nothing saved', async () => {
    synthesis.real = false;
    const { ctx, log } = await context({ globals: { yes: true } });
    const failure = new Error('Saga failed: ROLLBACK_COMPLETE');
    const { seams } = standIn([new Error(BOOTSTRAP_ERROR), failure]);
    await expect(deployToAws(ctx, seams)).rejects.toBe(failure);
    expect(log.ended.at(-1)).toBe('✗ Deployment failed');
    expect(log.ended).toHaveLength(log.started.length);
    expect(await readContext(ctx.projectDir)).toBeUndefined();
  });

  test('destroy fails → the destroy spinner fails, the recorded target is kept', async () => {
    const { ctx, log } = await context();
    const failure = new Error('Saga failed: DELETE_FAILED');
    const { seams } = standIn([], { destroy: failure });
    await expect(destroyOnAws(ctx, seams)).rejects.toBe(failure);
    expect(log.ended).toEqual([`✗ Destroying Saga in ${REGION}`]);
    expect(await readContext(ctx.projectDir)).toBeUndefined();
  });
});

describe('credentials', () => {
  test('no credentials anywhere → EnvironmentError (exit 3) before synthesis or any toolkit', async () => {
    synthesis.real = false;
    await stubNoAwsCredentials();
    const calls = synthesis.calls;
    const { ctx } = await context();
    let toolkitCreated = false;

    const error = await deployToAws(ctx, {
      skipCredentialCheck: false,
      createToolkit: async () => {
        toolkitCreated = true;
        throw new Error('no toolkit without credentials');
      },
    }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(EnvironmentError);
    expect((error as EnvironmentError).exitCode).toBe(3);
    expect((error as Error).message).toContain('No AWS credentials');
    expect((error as Error).message).toContain('or use --target local');
    expect(toolkitCreated).toBe(false);
    expect(synthesis.calls).toBe(calls);
  });

  test('a named profile that does not exist is named in the message', async () => {
    synthesis.real = false;
    await stubNoAwsCredentials();
    const { ctx } = await context({ globals: { profile: 'nosuchprofile' } });

    const error = await deployToAws(ctx, { skipCredentialCheck: false }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(EnvironmentError);
    expect((error as Error).message).toContain('No AWS credentials for profile nosuchprofile');
  });

  test.each([
    ['keys AWS refuses', 'refuse', /AWS refused the credentials \(InvalidClientTokenId: /],
    ['no network', 'dead', /Could not resolve the AWS account: STS did not answer in eu-west-1/],
  ])(
    '%s → the account does not resolve: EnvironmentError (exit 3) before synthesis or any toolkit',
    async (_what, kind, message) => {
      synthesis.real = false;
      await stubNoAwsCredentials();
      vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDEXAMPLEBAD');
      vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'bad-secret');
      const endpoint =
        kind === 'refuse' ? (await stubSts({ refuse: 'InvalidClientTokenId' })).url : await deadEndpoint();
      const { ctx } = await context({ env: { AWS_REGION: REGION, AWS_ENDPOINT_URL_STS: endpoint } });
      const calls = synthesis.calls;
      let toolkitCreated = false;

      const error = await deployToAws(ctx, {
        createToolkit: async () => {
          toolkitCreated = true;
          throw new Error('no toolkit without an account');
        },
      }).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(EnvironmentError);
      expect((error as EnvironmentError).exitCode).toBe(3);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).toContain('aws sts get-caller-identity');
      expect(toolkitCreated).toBe(false);
      expect(synthesis.calls).toBe(calls);
    },
  );

  test('keys STS accepts → on to synthesis and the toolkit', async () => {
    synthesis.real = false;
    await stubNoAwsCredentials();
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDEXAMPLEGOOD');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'good-secret');
    const sts = await stubSts({ account: '123456789012' });
    const { ctx } = await context({ env: { AWS_REGION: REGION, AWS_ENDPOINT_URL_STS: sts.url } });
    const calls = synthesis.calls;
    const error = await deployToAws(ctx, {
      createToolkit: async () => {
        throw new Error('stand-in: the toolkit was reached');
      },
    }).catch((e: unknown) => e);
    expect(sts.actions).toEqual(['GetCallerIdentity']);
    expect(synthesis.calls).toBe(calls + 1);
    expect((error as Error).message).toBe('stand-in: the toolkit was reached');
  });

  test('destroyOnAws checks them too', async () => {
    await stubNoAwsCredentials();
    const { ctx } = await context();
    await expect(destroyOnAws(ctx, { skipCredentialCheck: false })).rejects.toBeInstanceOf(EnvironmentError);
  });
});

describe('destroyOnAws with a stand-in toolkit', () => {
  test('destroys the stack from cdk.out and makes local the default target again', async () => {
    synthesis.real = false;
    const { ctx, log } = await context();
    const { seams, toolkit } = standIn();

    await destroyOnAws(ctx, seams);

    expect(toolkit().calls).toEqual(['fromAssemblyDirectory', 'destroy']);
    expect(toolkit().directories).toEqual([CDK_OUT]);
    expect(log.ended).toEqual([`✓ Destroyed Saga in ${REGION}`]);
    expect(JSON.parse(readFileSync(contextPath(ctx.projectDir), 'utf8'))).toEqual({ target: 'local' });
  });
});

describe('progressIoHost', () => {
  test('stack activity updates the progress line; errors are kept; other messages are ignored', async () => {
    const { ctx, log } = await context();
    const progress = await ctx.out.progress('Deploying');
    const host = progressIoHost(ctx, () => progress);

    await host.notify(activity(2, 40, 'PaymentsTable', 'CREATE_COMPLETE'));
    await host.notify({
      time: new Date(),
      level: 'info',
      action: 'deploy',
      message: 'chatter',
      data: undefined,
    });
    await host.notify({
      time: new Date(),
      level: 'error',
      action: 'deploy',
      message: 'Resource failed',
      data: undefined,
    });

    expect(log.updates).toEqual(['Deploying Saga: 2/40 resources — PaymentsTable CREATE_COMPLETE']);
    expect(host.errors).toEqual(['Resource failed']);
  });

  test('confirmations: --yes says yes without asking; non-boolean requests get their default', async () => {
    const { ctx, prompter } = await context({ globals: { yes: true } });
    const host = progressIoHost(ctx, () => undefined);
    const request = {
      time: new Date(),
      level: 'info' as const,
      action: 'deploy' as const,
      code: 'CDK_TOOLKIT_I5060' as const,
      data: {},
    };
    expect(await host.requestResponse({ ...request, message: 'Deploy?', defaultResponse: false })).toBe(true);
    expect(await host.requestResponse({ ...request, message: 'Name?', defaultResponse: 'Saga' })).toBe(
      'Saga',
    );
    expect(prompter.asked).toEqual([]);
  });

  test('confirmations without --yes are asked, default no', async () => {
    const { ctx, prompter } = await context({ answers: [{ confirm: false }] });
    const host = progressIoHost(ctx, () => undefined);
    const answer = await host.requestResponse({
      time: new Date(),
      level: 'info',
      action: 'deploy',
      code: 'CDK_TOOLKIT_I5060',
      data: {},
      message: 'Deploy these changes? ',
      defaultResponse: true,
    });
    expect(answer).toBe(false);
    expect(prompter.asked).toEqual(['Deploy these changes?']);
  });
});

/** A cloud assembly laid out as CDK's default synthesizer writes one: the template is an asset named by its sha256. */
function writeAssembly(dir: string): { dir: string; templateHash: string } {
  mkdirSync(join(dir, 'asset.b1'), { recursive: true });
  writeFileSync(join(dir, 'asset.b1', 'index.mjs'), 'export const handler = async () => 1;\n');
  const template = `${JSON.stringify(
    {
      Resources: { Queue: { Type: 'AWS::SQS::Queue' } },
      Outputs: { Greeting: { Value: 'hello' } },
    },
    undefined,
    1,
  )}\n`;
  writeFileSync(join(dir, 'Saga.template.json'), template);
  const templateHash = createHash('sha256').update(template).digest('hex');
  // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation placeholders, as CDK writes them
  const bucket = 'cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}';
  const destination = (objectKey: string) => ({
    current_account: { bucketName: bucket, objectKey },
  });
  writeFileSync(
    join(dir, 'Saga.assets.json'),
    JSON.stringify({
      version: '55.0.0',
      files: {
        b1: { source: { path: 'asset.b1', packaging: 'zip' }, destinations: destination('b1.zip') },
        [templateHash]: {
          source: { path: 'Saga.template.json', packaging: 'file' },
          destinations: destination(`${templateHash}.json`),
        },
      },
      dockerImages: {},
    }),
  );
  writeFileSync(
    join(dir, 'manifest.json'),
    JSON.stringify({
      version: '55.0.0',
      artifacts: {
        'Saga.assets': {
          type: 'cdk:asset-manifest',
          properties: { file: 'Saga.assets.json', requiresBootstrapStackVersion: 6 },
        },
        Saga: {
          type: 'aws:cloudformation:stack',
          environment: 'aws://unknown-account/unknown-region',
          properties: {
            templateFile: 'Saga.template.json',
            stackTemplateAssetObjectUrl: `s3://${bucket}/${templateHash}.json`,
            requiresBootstrapStackVersion: 6,
          },
          dependencies: ['Saga.assets'],
          displayName: 'Saga',
        },
      },
    }),
  );
  return { dir, templateHash };
}

describe('saga deploy --target aws --app <dir>: the assembly as it is, no synthesis', () => {
  test('an unedited assembly: the toolkit reads the folder itself; the result names it', async () => {
    synthesis.real = false;
    const calls = synthesis.calls;
    const { ctx, log, stdout } = await context({ globals: { yes: true } });
    const { dir } = writeAssembly(join(ctx.projectDir, 'app'));
    const { seams, toolkit } = standIn();

    const result = await deployToAws(ctx, seams, { app: dir });

    expect(synthesis.calls).toBe(calls);
    expect(toolkit().directories).toEqual([dir]);
    expect(log.started).toEqual([`Deploying Saga to ${REGION}`]);
    expect(stdout.text()).toContain(`Deploying the cloud assembly ${dir} as it is (no synthesis)`);
    expect(result).toEqual({ target: 'aws', assembly: dir, outputs: OUTPUTS });
  });

  test('an edited template is deployed as edited: named by its new hash in a staging copy, removed afterwards', async () => {
    synthesis.real = false;
    const { ctx, stderr } = await context({ globals: { yes: true } });
    const { dir, templateHash } = writeAssembly(join(ctx.projectDir, 'app'));
    const templateFile = join(dir, 'Saga.template.json');
    const edited = readFileSync(templateFile, 'utf8').replace('"hello"', '"edited by hand"');
    writeFileSync(templateFile, edited);
    const now = createHash('sha256').update(edited).digest('hex');
    const manifestBefore = readFileSync(join(dir, 'manifest.json'), 'utf8');
    const { seams, toolkit } = standIn();

    await deployToAws(ctx, seams, { app: dir });

    const [read] = toolkit().directories;
    expect(read).not.toBe(dir);
    expect(existsSync(read ?? '')).toBe(false); // disposed after the deployment
    expect(stderr.text()).toContain(
      `Saga.template.json was edited after synthesis: it is deployed as edited, under its new hash ${now.slice(0, 12)}…`,
    );
    // The user's folder is not changed.
    expect(readFileSync(join(dir, 'manifest.json'), 'utf8')).toBe(manifestBefore);
    expect(templateHash).not.toBe(now);
  });

  test('the staging copy is a valid assembly for @aws-cdk/toolkit-lib: the template by its new hash, assets from the folder', async () => {
    const { ctx } = await context();
    const { dir, templateHash } = writeAssembly(join(ctx.projectDir, 'app'));
    const templateFile = join(dir, 'Saga.template.json');
    writeFileSync(templateFile, readFileSync(templateFile, 'utf8').replace('"hello"', '"edited by hand"'));
    const now = createHash('sha256').update(readFileSync(templateFile)).digest('hex');

    const staged = await assemblyForDeploy(dir, 'Saga');
    try {
      expect(staged.templateHash).toEqual({ synthesized: templateHash, now });
      const { Toolkit } = await import('@aws-cdk/toolkit-lib');
      const toolkit = new Toolkit({
        ioHost: { notify: async () => {}, requestResponse: async (msg) => msg.defaultResponse },
      });
      const cx = await toolkit.fromAssemblyDirectory(staged.dir);
      const assembly = await cx.produce();
      try {
        const stack = assembly.cloudAssembly.getStackArtifact('Saga');
        expect(stack.stackTemplateAssetObjectUrl).toBe(
          `s3://cdk-hnb659fds-assets-\${AWS::AccountId}-\${AWS::Region}/${now}.json`,
        );
        expect((stack.template as { Outputs: { Greeting: { Value: string } } }).Outputs.Greeting.Value).toBe(
          'edited by hand',
        );
        const assets = JSON.parse(readFileSync(join(staged.dir, 'Saga.assets.json'), 'utf8')) as {
          files: Record<
            string,
            { source: { path: string }; destinations: Record<string, { objectKey: string }> }
          >;
        };
        expect(Object.keys(assets.files).sort()).toEqual(['b1', now].sort());
        expect(assets.files[now]?.source.path).toBe('Saga.template.json');
        expect(assets.files[now]?.destinations.current_account?.objectKey).toBe(`${now}.json`);
        expect(assets.files.b1?.source.path).toBe(join(dir, 'asset.b1'));
      } finally {
        await assembly.dispose();
      }
    } finally {
      await staged.dispose();
    }
    expect(existsSync(staged.dir)).toBe(false);
    // An unedited assembly is read as it is.
    writeAssembly(dir);
    const asIs = await assemblyForDeploy(dir, 'Saga');
    expect(asIs.dir).toBe(dir);
    expect(asIs.templateHash).toBeUndefined();
  }, 30_000);
});
