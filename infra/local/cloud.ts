/**
 * The local cloud in one process: DynamoDB Local, CloudWatch Logs, Lambda, SQS, EventBridge, Step
 * Functions and the edge, with the synthesized template deployed onto them.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { type DeployResult, deployTemplate } from './cloudformation/deploy.ts';
import { loadCloudAssembly } from './cloudformation/template.ts';
import { type DynamoDbLocal, freePort, startDynamoDbLocal } from './dynamodb/dynamodb-local.ts';
import { type Edge, startEdge } from './edge/edge.ts';
import { EventBridgeService } from './events/service.ts';
import { createTargetDispatcher } from './events/targets.ts';
import { IamAuthority, type IamMode } from './iam/authority.ts';
import { LambdaRuntime } from './lambda/runtime.ts';
import { DynamoDbStreamMapping } from './lambda/stream-poller.ts';
import { LogsService } from './logs/service.ts';
import { SqsService } from './sqs/service.ts';
import { StepFunctionsService } from './stepfunctions/service.ts';
import { LOCAL_ACCOUNT_ID, LOCAL_CREDENTIALS, LOCAL_REGION } from './types.ts';

/** Options for {@link startLocalCloud}. */
/**
 * Lambda timeouts shrink at most this much by default: a 10 s timeout keeps 3 s, enough for a cold worker's first
 * AWS call on a loaded 2-core machine (measured 1–4 s), so a scaled timeout never fires on a healthy invocation.
 */
export const MIN_LAMBDA_TIME_SCALE = 0.3;

export interface LocalCloudOptions {
  /** The project root (where `cdk.out` and `.saga/` live). */
  readonly projectDir: string;
  /** The synthesized cloud assembly. */
  readonly cdkOut: string;
  /** Where the cloud keeps its data (`dynamodb/`, `logs/`, `stepfunctions/`, `sqs/`, `esm/`, `deploy.json`). */
  readonly dataDir: string;
  /** The edge's port on 127.0.0.1. @default a free port */
  readonly edgePort?: number;
  /**
   * Shrinks time, keeping its shape: Step Functions Retry/Wait delays, Lambda timeouts and EventBridge
   * schedule periods (0.1 = ten times faster; a 10 s function timeout becomes 1 s, `rate(1 minute)` fires
   * every 6 s). @default 1
   */
  readonly timeScale?: number;
  /**
   * Lambda timeouts only, when they should shrink less than the Retry delays (a very small scale leaves a
   * function less time than a DynamoDB round trip takes on a loaded machine).
   * @default max(timeScale, MIN_LAMBDA_TIME_SCALE)
   */
  readonly lambdaTimeScale?: number;
  /** Concurrent invocations per function (more wait in a queue). @default the Lambda runtime's (10) */
  readonly lambdaConcurrency?: number;
  /** Keep DynamoDB Local's fsync calls. @default SAGA_DYNAMODB_FSYNC=1 in the environment */
  readonly dynamodbFsync?: boolean;
  /** @default 'Saga' */
  readonly stackName?: string;
  /** DynamoDB Local's port. @default a free port */
  readonly dynamodbPort?: number;
  /** Where the cloud reports progress and what it does not run. @default stdout (cloud.log in the background process) */
  readonly log?: (line: string) => void;
  /**
   * IAM as AWS evaluates it: `enforce` denies what the template's policies do not allow (AccessDeniedException),
   * `warn` allows it and logs the denial, `off` checks nothing (no signature verification either, and DynamoDB
   * traffic goes straight to DynamoDB Local). @default 'enforce'
   */
  readonly iam?: IamMode;
}

/** A running local cloud. */
export interface LocalCloud {
  /** The edge, `http://127.0.0.1:<port>`: point `AWS_ENDPOINT_URL` here. */
  readonly endpoint: string;
  /** The orders HTTP API (the `ApiUrl` output; else the first served API's URL). */
  readonly apiUrl: string;
  readonly dynamodbEndpoint: string;
  readonly outputs: Readonly<Record<string, string>>;
  /** Template resources the local cloud does not run. */
  readonly unsupported: readonly { logicalId: string; type: string }[];
  readonly lambda: LambdaRuntime;
  readonly stepfunctions: StepFunctionsService;
  readonly logs: LogsService;
  readonly events: EventBridgeService;
  readonly sqs: SqsService;
  /** Everything deploy did, resource by resource. */
  readonly deployment: DeployResult;
  /** The account's IAM: roles and resource policies of the template, the keys of role sessions, the mode. */
  readonly iam: IamAuthority;
  /** Resolves once every record now in the DynamoDB streams has been handled by its mapping. */
  drainStreams(): Promise<void>;
  /** Stops everything in reverse order of start: mappings, edge, services, DynamoDB Local. */
  stop(): Promise<void>;
}

/**
 * Starts the local cloud and deploys the template on it. DynamoDB Local's JVM starts first and
 * everything that does not need it (functions, buses, state machines, the edge, the HTTP API) comes up
 * meanwhile. On failure, whatever was started is stopped again before the error is rethrown.
 */
export async function startLocalCloud(options: LocalCloudOptions): Promise<LocalCloud> {
  const log =
    options.log ?? ((line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`));
  const stackName = options.stackName ?? 'Saga';
  const region = LOCAL_REGION;
  const dataDir = resolve(options.dataDir);
  // Fail on a missing cdk.out before starting anything.
  const assembly = loadCloudAssembly(options.cdkOut, stackName);
  mkdirSync(join(dataDir, 'esm'), { recursive: true });

  const [dynamodbPort, edgePort] = await Promise.all([
    options.dynamodbPort ?? freePort(),
    options.edgePort ?? freePort(),
  ]);
  const dynamodbEndpoint = `http://127.0.0.1:${dynamodbPort}`;
  const endpoint = `http://127.0.0.1:${edgePort}`;
  const started = Date.now();
  const dynamodbStart = startDynamoDbLocal({
    port: dynamodbPort,
    dataDir: join(dataDir, 'dynamodb'),
    // infra/local/README.md#dynamodb-local: fsync is skipped where libeatmydata is installed, unless asked for.
    fsync: options.dynamodbFsync ?? process.env.SAGA_DYNAMODB_FSYNC === '1',
  });
  let dynamodbFailure: unknown;
  // Observed below; a rejection before then must not count as unhandled.
  dynamodbStart.then(
    (ddb) =>
      log(`DynamoDB Local ready on ${dynamodbEndpoint} in ${Date.now() - started} ms (fsync ${ddb.fsync})`),
    (error: unknown) => {
      dynamodbFailure = error;
    },
  );

  const stoppers: { name: string; stop: () => Promise<void> }[] = [];
  const stopAll = async (): Promise<void> => {
    const errors: unknown[] = [];
    for (const { name, stop } of stoppers.reverse()) {
      try {
        await stop();
      } catch (error) {
        errors.push(new Error(`stopping ${name} failed`, { cause: error }));
      }
    }
    stoppers.length = 0;
    if (errors.length > 0) throw new AggregateError(errors, 'The local cloud did not stop cleanly');
  };
  stoppers.push({
    name: 'DynamoDB Local',
    stop: async () => {
      const ddb: DynamoDbLocal | undefined = await dynamodbStart.catch(() => undefined);
      await ddb?.stop();
    },
  });

  try {
    const clientConfig = { endpoint: dynamodbEndpoint, region, credentials: LOCAL_CREDENTIALS };
    const dynamodb = new DynamoDBClient(clientConfig);
    const streams = new DynamoDBStreamsClient(clientConfig);
    stoppers.push({
      name: 'AWS SDK clients',
      stop: async () => {
        dynamodb.destroy();
        streams.destroy();
      },
    });

    const iam = new IamAuthority({
      accountId: LOCAL_ACCOUNT_ID,
      region,
      mode: options.iam ?? 'enforce',
      rootCredentials: LOCAL_CREDENTIALS,
      log,
    });
    const checked = iam.mode !== 'off';
    const logs = new LogsService({ dataDir });
    stoppers.push({ name: 'Logs', stop: () => logs.close() });
    const lambda = new LambdaRuntime({
      logs,
      maxConcurrencyPerFunction: options.lambdaConcurrency,
      timeScale: options.lambdaTimeScale ?? Math.max(options.timeScale ?? 1, MIN_LAMBDA_TIME_SCALE),
      baseEnvironment: {
        AWS_ENDPOINT_URL: endpoint,
        // With IAM on, DynamoDB goes through the edge, which authorizes each item. With IAM off, straight to
        // DynamoDB Local (the edge would only proxy it), through the SDK's own per-service endpoint variable.
        AWS_ENDPOINT_URL_DYNAMODB: checked ? endpoint : dynamodbEndpoint,
        AWS_REGION: region,
        AWS_DEFAULT_REGION: region,
        AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      },
      // Each function runs with the keys of a session of its own execution role, as Lambda gives it.
      functionEnvironment: (spec): Record<string, string> => {
        if (!checked || spec.roleArn === undefined) return {};
        const keys = iam.credentialsForRole(spec.roleArn, spec.functionName);
        return {
          AWS_ACCESS_KEY_ID: keys.accessKeyId,
          AWS_SECRET_ACCESS_KEY: keys.secretAccessKey,
          AWS_SESSION_TOKEN: keys.sessionToken,
        };
      },
    });
    stoppers.push({ name: 'Lambda', stop: () => lambda.close() });
    const sqs = new SqsService({ dataDir, queueUrlBase: () => `${endpoint}/${LOCAL_ACCOUNT_ID}` });
    stoppers.push({ name: 'SQS', stop: () => sqs.close() });
    const stepfunctions = new StepFunctionsService({
      dataDir,
      lambda,
      dynamodb,
      timeScale: options.timeScale,
      accountId: LOCAL_ACCOUNT_ID,
      region,
      iam,
    });
    stoppers.push({ name: 'Step Functions', stop: () => stepfunctions.close() });
    let events: EventBridgeService | undefined;
    const dispatcher = createTargetDispatcher({
      lambda,
      sqs,
      stepfunctions,
      logs,
      events: () => events,
      iam,
    });
    const eventBridge = new EventBridgeService({ dispatcher, dataDir, log, timeScale: options.timeScale });
    events = eventBridge;
    stoppers.push({ name: 'EventBridge', stop: () => eventBridge.close() });

    const edge: Edge = await startEdge({
      port: edgePort,
      services: { stepfunctions, logs, events: eventBridge, sqs, lambda, dynamodbEndpoint },
      region,
      credentials: LOCAL_CREDENTIALS,
      log,
      iam,
    });
    stoppers.push({ name: 'edge', stop: () => edge.close() });

    const deployment = await deployTemplate({
      assembly,
      iam,
      dataDir,
      accountId: LOCAL_ACCOUNT_ID,
      region,
      parts: {
        dynamodb,
        dynamodbReady: dynamodbStart,
        streams,
        lambda,
        logs,
        sqs,
        events: eventBridge,
        stepfunctions,
        edge,
        dispatcher,
        createStreamMapping: (mapping) => new DynamoDbStreamMapping({ ...mapping, log, iam }),
      },
    });
    stoppers.push({
      name: 'event source mappings',
      stop: async () => {
        await Promise.all(deployment.mappings.map((m) => m.stop()));
      },
    });
    for (const mapping of deployment.mappings) mapping.start();

    for (const r of deployment.unsupported) {
      log(
        `unsupported: ${r.logicalId} (${r.type})${r.note ? `: ${r.note}` : ''} — not run by the local cloud`,
      );
    }
    log(
      `deployed ${stackName}: ${deployment.resources.filter((r) => r.status === 'created' || r.status === 'existing').length} ` +
        `resources up, ${deployment.accepted.length} accepted (not enforced), ${deployment.unsupported.length} unsupported; IAM ${iam.mode}; ` +
        `edge ${endpoint}, DynamoDB Local ${dynamodbEndpoint}, ${Date.now() - started} ms`,
    );

    let stopped: Promise<void> | undefined;
    return {
      endpoint,
      apiUrl: deployment.outputs.ApiUrl ?? deployment.httpApis[0]?.url ?? '',
      dynamodbEndpoint,
      outputs: deployment.outputs,
      unsupported: deployment.unsupported.map((r) => ({ logicalId: r.logicalId, type: r.type })),
      lambda,
      stepfunctions,
      logs,
      events: eventBridge,
      sqs,
      deployment,
      iam,
      drainStreams: async () => {
        await Promise.all(deployment.mappings.map((m) => m.drain()));
      },
      stop: () => {
        stopped ??= stopAll();
        return stopped;
      },
    };
  } catch (error) {
    await stopAll().catch(() => undefined);
    // A table failing because Java or DynamoDB Local did not start: the root cause is the clearer message.
    throw dynamodbFailure ?? error;
  }
}
