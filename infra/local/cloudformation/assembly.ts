/**
 * Reads a synthesized CDK cloud assembly (`cdk.out/`): the stack's template and where its file assets are.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type CfnTemplate, type CloudAssembly, CloudAssemblyError } from './model.ts';

const SYNTH_HINT = 'run `npm run synth` or `saga deploy`';

/**
 * Loads `<stackName>.template.json` and `<stackName>.assets.json` from a cloud assembly folder.
 * Throws {@link CloudAssemblyError} with what to run when the folder or a file is missing.
 */
export function loadCloudAssembly(cdkOut: string, stackName = 'Saga'): CloudAssembly {
  const dir = resolve(cdkOut);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new CloudAssemblyError(
      `No cloud assembly at ${dir}: ${SYNTH_HINT} to synthesize the CDK app first.`,
    );
  }
  const templateFile = join(dir, `${stackName}.template.json`);
  if (!existsSync(templateFile)) {
    throw new CloudAssemblyError(
      `The cloud assembly ${dir} has no template for stack "${stackName}" (${stackName}.template.json): ${SYNTH_HINT}.`,
    );
  }
  const template = readJson(templateFile) as CfnTemplate;
  if (typeof template !== 'object' || template === null || typeof template.Resources !== 'object') {
    throw new CloudAssemblyError(
      `${templateFile} is not a CloudFormation template (no "Resources"): ${SYNTH_HINT}.`,
    );
  }
  const assets = new Map<string, string>();
  const assetsFile = join(dir, `${stackName}.assets.json`);
  if (existsSync(assetsFile)) {
    const manifest = readJson(assetsFile) as { files?: Record<string, { source?: { path?: string } }> };
    for (const [hash, entry] of Object.entries(manifest.files ?? {})) {
      if (entry.source?.path) assets.set(hash, resolve(dir, entry.source.path));
    }
  }
  return { cdkOut: dir, stackName, templateFile, template, assets };
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new CloudAssemblyError(`Could not read ${file} as JSON: ${SYNTH_HINT} again.`, { cause: error });
  }
}

/**
 * The folder holding a function's bundle: its `Code.S3Key` is `<asset hash>.zip`, which names the asset.
 * Throws {@link CloudAssemblyError} when the asset is not in the assembly.
 */
export function assetDirectory(assembly: CloudAssembly, code: unknown, logicalId: string): string {
  const key = typeof code === 'object' && code !== null ? (code as { S3Key?: unknown }).S3Key : undefined;
  if (typeof key !== 'string') {
    throw new CloudAssemblyError(
      `Function ${logicalId} has no asset Code.S3Key (received ${JSON.stringify(code)}); ` +
        'the local cloud runs only bundled assets (NodejsFunction / Code.fromAsset).',
    );
  }
  const hash = key.replace(/\.zip$/, '');
  const dir = assembly.assets.get(hash) ?? join(assembly.cdkOut, `asset.${hash}`);
  if (!existsSync(dir)) {
    throw new CloudAssemblyError(
      `Function ${logicalId}: asset ${hash} is missing from ${assembly.cdkOut}: ${SYNTH_HINT}.`,
    );
  }
  return dir;
}
