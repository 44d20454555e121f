/**
 * Deploys a synthesized CloudFormation template onto the parts of the local cloud: resources come up in
 * dependency order (independent ones concurrently), each on the part that plays its service, by the provider
 * of its type (resources/). A type with no provider is listed as unsupported, never faked; types with no
 * local effect are accepted and listed.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { providerFor } from '../resources/index.ts';
import type {
  DeployContext,
  DeployedResource,
  DeployParts,
  IamRegistry,
  RecordedResource,
  ServedHttpApi,
  StreamMapping,
} from '../resources/provider.ts';
import { errorText, stringify } from '../resources/support.ts';
import { writeJsonAtomicSync } from '../wire/persist.ts';
import { type CfnResource, type CloudAssembly, DeployError } from './model.ts';
import { deploymentOrder, resourceDependencies, TemplateResolver } from './template.ts';

export type {
  ApiRoute,
  ApiSpec,
  DeployedResource,
  DeployParts,
  FunctionSpec,
  IamRegistry,
  StreamMapping,
  StreamMappingOptions,
} from '../resources/provider.ts';
export { DeployError } from './model.ts';

/** Options for {@link deployTemplate}. */
export interface DeployOptions {
  readonly assembly: CloudAssembly;
  readonly parts: DeployParts;
  /** Where deploy keeps its records (custom resources already run, mapping checkpoints under `esm/`). */
  readonly dataDir: string;
  readonly accountId: string;
  readonly region: string;
  /** Template parameter values; the others take their Default. */
  readonly parameters?: Readonly<Record<string, string>>;
  /** Stream mappings' poll interval. @default the mapping's own */
  readonly pollIntervalMs?: number;
  /**
   * Where the template's roles, policies, queue policies and Lambda permissions are registered (the IAM
   * authority). @default none: they are accepted and have no effect
   */
  readonly iam?: IamRegistry;
  /** Called as each resource is settled (for progress output). */
  readonly onResource?: (resource: DeployedResource) => void;
}

/** The outcome of {@link deployTemplate}. */
export interface DeployResult {
  readonly resources: readonly DeployedResource[];
  /** Resolved stack outputs (HTTP API URLs point at the local servers). */
  readonly outputs: Readonly<Record<string, string>>;
  readonly unsupported: readonly { logicalId: string; type: string; note?: string }[];
  readonly accepted: readonly { logicalId: string; type: string }[];
  /** Created, not started: the caller starts them once everything is up. */
  readonly mappings: readonly StreamMapping[];
  /** The served HTTP APIs. */
  readonly httpApis: readonly ServedHttpApi[];
  /** The resolver, with the physical ids the parts gave. */
  readonly resolver: TemplateResolver;
}

interface DeployRecord {
  customResources: Record<string, RecordedResource>;
}

/**
 * Brings every resource of the template up on the local parts, in dependency order (independent
 * resources concurrently), then runs what waits for all of them (serving the HTTP APIs) and resolves the
 * outputs. Idempotent: tables that exist keep their data, custom resources recorded in `dataDir` do not
 * run again.
 */
export async function deployTemplate(options: DeployOptions): Promise<DeployResult> {
  const { assembly, parts, dataDir, accountId, region } = options;
  const template = assembly.template;
  const resolver = new TemplateResolver({
    template,
    stackName: assembly.stackName,
    accountId,
    region,
    parameters: options.parameters,
  });
  const order = deploymentOrder(template);
  const graph = resourceDependencies(template);
  const recordFile = join(dataDir, 'deploy.json');
  const record = readRecord(recordFile);
  const results = new Map<string, DeployedResource>();
  const mappings: StreamMapping[] = [];
  const httpApis: ServedHttpApi[] = [];
  const localUrls: [string, string][] = [];
  const shared = new Map<string, unknown>();
  const afterAll: (() => Promise<void> | void)[] = [];

  const settle = (resource: DeployedResource): void => {
    results.set(resource.logicalId, resource);
    options.onResource?.(resource);
  };

  const context = (logicalId: string, resource: CfnResource): DeployContext => ({
    logicalId,
    type: resource.Type,
    resource,
    properties: () => resolver.resolve(resource.Properties ?? {}) as Record<string, unknown>,
    stack: resolver,
    parts,
    assembly,
    accountId,
    region,
    arn: (service, rest) => `arn:aws:${service}:${region}:${accountId}:${rest}`,
    dataDir,
    pollIntervalMs: options.pollIntervalMs,
    iam: options.iam,
    records: {
      get: (id) => record.customResources[id],
      put: (id, entry) => {
        record.customResources[id] = entry;
        writeRecord(recordFile, record);
      },
    },
    shared: <T>(key: string, create: () => T): T => {
      if (!shared.has(key)) shared.set(key, create());
      return shared.get(key) as T;
    },
    afterAll: (task) => {
      afterAll.push(task);
    },
    report: settle,
    addMapping: (mapping) => {
      mappings.push(mapping);
    },
    addHttpApi: (api) => {
      httpApis.push(api);
    },
    localizeUrl: (awsUrl, localUrl) => {
      localUrls.push([awsUrl, localUrl]);
    },
  });

  const deployOne = async (logicalId: string, resource: CfnResource): Promise<void> => {
    const type = resource.Type;
    const provider = providerFor(resource);
    if (!provider) {
      settle({ logicalId, type, status: 'unsupported', physicalId: undefined, note: 'no local equivalent' });
      return;
    }
    const { status, physicalId, note } = await provider.deploy(context(logicalId, resource));
    settle({ logicalId, type, status, physicalId, note });
  };

  // Each resource starts as soon as everything it depends on is up: DynamoDB Local's start overlaps the rest.
  const tasks = new Map<string, Promise<void>>();
  for (const logicalId of order) {
    const resource = resolver.resource(logicalId);
    const deps = [...(graph.get(logicalId) ?? [])].map((dep) => tasks.get(dep) ?? Promise.resolve());
    tasks.set(
      logicalId,
      Promise.all(deps).then(async () => {
        if (!resolver.included(resource)) {
          settle({
            logicalId,
            type: resource.Type,
            status: 'skipped',
            note: `condition ${resource.Condition} is false`,
          });
          return;
        }
        try {
          await deployOne(logicalId, resource);
        } catch (error) {
          if (error instanceof DeployError) throw error;
          throw new DeployError(logicalId, resource.Type, errorText(error), { cause: error });
        }
      }),
    );
  }
  const settled = await Promise.allSettled(tasks.values());
  // A failed resource fails its dependents with the same error; report it once.
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failure) throw failure.reason;

  for (const task of afterAll) await task();

  const outputs: Record<string, string> = {};
  for (const [name, output] of Object.entries(template.Outputs ?? {})) {
    if (!resolver.included(output)) continue;
    let value = stringify(resolver.resolve(output.Value));
    // `HttpStage.url` is built from the API id and region, not from ApiEndpoint: point it here too.
    for (const [aws, local] of localUrls) value = value.split(aws).join(local);
    outputs[name] = value;
  }

  const resources = order.map((id) => results.get(id)).filter((r): r is DeployedResource => r !== undefined);
  return {
    resources,
    outputs,
    unsupported: resources
      .filter((r) => r.status === 'unsupported')
      .map((r) => ({ logicalId: r.logicalId, type: r.type, note: r.note })),
    accepted: resources
      .filter((r) => r.status === 'accepted')
      .map((r) => ({ logicalId: r.logicalId, type: r.type })),
    mappings,
    httpApis,
    resolver,
  };
}

function readRecord(file: string): DeployRecord {
  if (!existsSync(file)) return { customResources: {} };
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<DeployRecord>;
    return { customResources: parsed.customResources ?? {} };
  } catch (error) {
    throw new Error(`The deploy record ${file} is corrupt; remove it (custom resources will run again).`, {
      cause: error,
    });
  }
}

function writeRecord(file: string, record: DeployRecord): void {
  // Write then rename: a crash mid-write must not lose the record of what already ran.
  writeJsonAtomicSync(file, record, { mkdir: true, pretty: true });
}
