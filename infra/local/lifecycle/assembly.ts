/**
 * The cloud assembly as the lifecycle sees it: checked before anything runs it (manifest, stack, template, file
 * assets, the function bundles' imports of the AWS SDK), and hashed, so that a restart is due when it changes.
 */
import { createHash, type Hash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, resolve } from 'node:path';
import { LocalCloudStartError } from './errors.ts';

/**
 * A cloud assembly as the lifecycle sees it: where it is, which stack runs, and hashes of what that stack deploys
 * (a restart is due when they change).
 */
export interface LocalCloudAssembly {
  /** Absolute path of the cloud assembly folder (`cdk.out`). */
  readonly dir: string;
  /** The stack's artifact id in manifest.json. */
  readonly stackName: string;
  /** sha256 of the stack's template file as it is on disk (what CDK names the template asset by). */
  readonly templateHash: string;
  /** sha256 over the stack's file assets (function bundles): each asset's id and its files' names and contents. */
  readonly assetsHash: string;
}

interface ManifestArtifact {
  type?: string;
  dependencies?: string[];
  properties?: { templateFile?: string; file?: string };
}

/**
 * Checks a cloud assembly before anything runs it and returns what a restart compares: manifest.json, the stack
 * (`stackName`, or the only one), its template (JSON with `Resources`), its file assets, and that the function
 * bundles' imports of the AWS SDK resolve from where the assembly is (a bundle run outside Lambda finds `@aws-sdk/*`
 * in the nearest `node_modules` above it). Throws {@link LocalCloudStartError} `bad-assembly` or
 * `unresolved-imports` saying what was wrong.
 */
export function inspectCloudAssembly(cdkOut: string, stackName?: string): LocalCloudAssembly {
  const dir = resolve(cdkOut);
  const bad = (message: string, cause?: unknown) =>
    new LocalCloudStartError(message, { reason: 'bad-assembly', assemblyDir: dir, cause });
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw bad(
      `There is no cloud assembly at ${dir}: ${existsSync(dir) ? 'it is a file' : 'no such folder'}.`,
    );
  }
  const manifestFile = join(dir, 'manifest.json');
  if (!existsSync(manifestFile)) throw bad(`${dir} is not a cloud assembly: it has no manifest.json.`);
  const manifest = readJsonFile(manifestFile, bad) as { artifacts?: Record<string, ManifestArtifact> } | null;
  const artifacts = manifest?.artifacts ?? {};
  const stacks = Object.keys(artifacts).filter((id) => artifacts[id]?.type === 'aws:cloudformation:stack');
  let stack: string;
  if (stackName !== undefined) {
    if (!stacks.includes(stackName)) {
      throw bad(
        `The cloud assembly ${dir} has no stack "${stackName}" (its stacks: ${stacks.join(', ') || 'none'}).`,
      );
    }
    stack = stackName;
  } else if (stacks.length === 1 && stacks[0] !== undefined) {
    stack = stacks[0];
  } else {
    throw bad(
      stacks.length === 0
        ? `The cloud assembly ${dir} holds no CloudFormation stack (manifest.json lists none).`
        : `The cloud assembly ${dir} holds several stacks (${stacks.join(', ')}); name the one to run.`,
    );
  }
  const artifact = artifacts[stack] ?? {};
  const templateName = artifact.properties?.templateFile ?? `${stack}.template.json`;
  const templateFile = join(dir, templateName);
  if (!existsSync(templateFile)) {
    throw bad(`The cloud assembly ${dir} has no template for stack "${stack}" (${templateName} is missing).`);
  }
  const templateBytes = readFileSync(templateFile);
  let template: unknown;
  try {
    template = JSON.parse(templateBytes.toString('utf8'));
  } catch (error) {
    throw bad(`${templateFile} is not valid JSON (${(error as Error).message}).`, error);
  }
  if (typeof (template as { Resources?: unknown } | null)?.Resources !== 'object') {
    throw bad(`${templateFile} is not a CloudFormation template: it has no "Resources".`);
  }
  const assets = fileAssets(dir, stack, artifacts, templateName, bad);
  const assetsHash = createHash('sha256');
  for (const asset of assets) {
    assetsHash.update(`${asset.id}\0`);
    hashPath(assetsHash, asset.path, '');
  }
  checkBundleImports(
    dir,
    assets.map((a) => a.path),
  );
  return {
    dir,
    stackName: stack,
    templateHash: createHash('sha256').update(templateBytes).digest('hex'),
    assetsHash: assetsHash.digest('hex'),
  };
}

/** The stack's file assets (the template's own excluded), sorted by id; a listed asset that is missing is an error. */
function fileAssets(
  dir: string,
  stack: string,
  artifacts: Record<string, ManifestArtifact>,
  templateName: string,
  bad: (message: string) => LocalCloudStartError,
): { id: string; path: string }[] {
  const manifests = (artifacts[stack]?.dependencies ?? [])
    .map((id) => artifacts[id])
    .filter((a) => a?.type === 'cdk:asset-manifest' && a.properties?.file)
    .map((a) => a?.properties?.file as string);
  if (manifests.length === 0 && existsSync(join(dir, `${stack}.assets.json`))) {
    manifests.push(`${stack}.assets.json`);
  }
  const assets: { id: string; path: string }[] = [];
  for (const name of manifests) {
    const file = join(dir, name);
    if (!existsSync(file))
      throw bad(`The cloud assembly ${dir} lists the asset manifest ${name}, which is missing.`);
    const manifest = readJsonFile(file, bad) as {
      files?: Record<string, { source?: { path?: string } }>;
    } | null;
    for (const [id, entry] of Object.entries(manifest?.files ?? {})) {
      const source = entry.source?.path;
      if (!source || source === templateName) continue;
      const path = resolve(dir, source);
      if (!existsSync(path)) {
        throw bad(`The cloud assembly ${dir} is missing asset ${id} (${source}, listed in ${name}).`);
      }
      assets.push({ id, path });
    }
  }
  return assets.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function readJsonFile(
  file: string,
  bad: (message: string, cause?: unknown) => LocalCloudStartError,
): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw bad(`${file} is not valid JSON (${(error as Error).message}).`, error);
  }
}

/** Feeds a file's contents, or a folder's file names and contents (sorted), into `hash`. */
function hashPath(hash: Hash, path: string, name: string): void {
  const stat = statSync(path);
  if (stat.isDirectory()) {
    for (const entry of readdirSync(path).sort()) {
      hashPath(hash, join(path, entry), name ? `${name}/${entry}` : entry);
    }
    return;
  }
  hash.update(`${name}\0${stat.size}\0`);
  hash.update(readFileSync(path));
}

/** `import … from "@aws-sdk/x"`, `import("@aws-sdk/x")`, `require("@aws-sdk/x")`, minified or not. */
const SDK_IMPORT =
  /(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)["'](@aws-sdk\/[a-z0-9][a-z0-9._-]*)["']/g;

/**
 * Lambda provides the AWS SDK; bundles leave it out. Run locally, a bundle resolves `@aws-sdk/*` from the nearest
 * `node_modules` above its folder: an assembly outside any project that has them would fail at the first invocation.
 */
function checkBundleImports(dir: string, assetPaths: readonly string[]): void {
  const missing = new Map<string, string>();
  for (const asset of assetPaths) {
    if (!statSync(asset).isDirectory()) continue;
    for (const name of readdirSync(asset)) {
      if (!/\.(?:mjs|cjs|js)$/.test(name)) continue;
      const file = join(asset, name);
      const specifiers = new Set([...readFileSync(file, 'utf8').matchAll(SDK_IMPORT)].map((m) => m[1] ?? ''));
      if (specifiers.size === 0) continue;
      const require = createRequire(file);
      for (const specifier of specifiers) {
        if (missing.has(specifier)) continue;
        try {
          require.resolve(specifier);
        } catch (error) {
          // Only a package that is not there counts; one found but not `require`-able is there for `import`.
          if ((error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') {
            missing.set(specifier, relative(dir, file));
          }
        }
      }
    }
  }
  if (missing.size === 0) return;
  const names = [...missing.keys()];
  throw new LocalCloudStartError(
    `The functions in ${dir} import ${names.join(', ')} (provided by Lambda at run time, left out of the ` +
      `bundles); run locally, they resolve from a node_modules folder above the assembly, and none above ${dir} ` +
      `holds them (first needed by ${missing.get(names[0] ?? '')}).`,
    { reason: 'unresolved-imports', assemblyDir: dir },
  );
}
