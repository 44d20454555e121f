import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors.ts';

/** The saga package's own folder (infra/, services/, cdk.out/ live here). */
export const PACKAGE_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Where synthesis writes the cloud assembly. It must sit under the package so bundles resolve @aws-sdk/*. */
export const CDK_OUT = join(PACKAGE_ROOT, 'cdk.out');

/** The stack the CLI deploys and drives. */
export const STACK_NAME = 'Saga';

const SOURCES = ['infra', 'services', 'state-machines'];

/** True when cdk.out is missing or older than any source of the stack (infra, services, state machine). */
export function synthesisIsStale(cdkOut = CDK_OUT, stackName = 'Saga'): boolean {
  const template = join(cdkOut, `${stackName}.template.json`);
  if (!existsSync(template)) return true;
  const built = statSync(template).mtimeMs;
  return SOURCES.some((dir) => newestMtime(join(PACKAGE_ROOT, dir), dir === 'infra') > built);
}

function newestMtime(dir: string, skipLocal: boolean): number {
  let newest = 0;
  if (!existsSync(dir)) return newest;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (
      entry.name === 'node_modules' ||
      entry.name.endsWith('.test.ts') ||
      (skipLocal && entry.name === 'local')
    ) {
      continue;
    }
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path, false) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Synthesizes the CDK app into cdk.out in a child Node process (keeps aws-cdk-lib out of the CLI's memory). */
export async function synthesize(): Promise<void> {
  const child = spawn(process.execPath, [join(PACKAGE_ROOT, 'infra', 'synth.ts')], {
    cwd: PACKAGE_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => {
    output += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    output += c.toString();
  });
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)));
  if (code !== 0) {
    throw new Error(`CDK synthesis failed (exit ${code}):\n${output.trim().slice(-4000)}`);
  }
}

/**
 * Checks `saga deploy --app <dir>`: a folder holding a cloud assembly (manifest.json) with the Saga stack and its
 * template (JSON with "Resources"). Returns the folder's absolute path; throws {@link UserError} (exit 2) saying
 * what was wrong, what was received and what to do. The assembly is deployed as it is: nothing here changes it.
 */
export function checkAssembly(received: string, cwd: string, stackName = STACK_NAME): string {
  const dir = resolve(cwd, received);
  const wrong = (what: string, advice: string) =>
    new UserError(`--app ${JSON.stringify(received)}: ${what}. ${advice}`);
  const pass =
    'Pass the folder of a synthesized cloud assembly (what `cdk synth` or `npm run synth` writes: cdk.out, or a copy of it)';
  if (!existsSync(dir)) throw wrong(`there is no folder ${dir}`, `${pass}.`);
  if (!statSync(dir).isDirectory()) throw wrong(`${dir} is a file, not a folder`, `${pass}.`);
  const manifestFile = join(dir, 'manifest.json');
  if (!existsSync(manifestFile)) {
    throw wrong(
      `${dir} is not a cloud assembly (it has no manifest.json)`,
      `${pass}, or leave --app out to synthesize the app.`,
    );
  }
  const again = 'Synthesize again (`npm run synth`) and copy cdk.out anew.';
  const manifest = parseJson(manifestFile, (message) =>
    wrong(`${manifestFile} is not valid JSON (${message})`, again),
  ) as { artifacts?: Record<string, { type?: string; properties?: { templateFile?: string } }> } | null;
  const artifacts = manifest?.artifacts ?? {};
  const stacks = Object.keys(artifacts).filter((id) => artifacts[id]?.type === 'aws:cloudformation:stack');
  const stack = artifacts[stackName];
  if (!stacks.includes(stackName) || !stack) {
    throw wrong(
      `the cloud assembly has no stack "${stackName}" (its stacks: ${stacks.join(', ') || 'none'})`,
      `saga deploys the ${stackName} stack: pass an assembly synthesized from this project's app.`,
    );
  }
  const templateFile = join(dir, stack.properties?.templateFile ?? `${stackName}.template.json`);
  if (!existsSync(templateFile)) {
    throw wrong(
      `the ${stackName} stack's template ${templateFile} is missing`,
      `Copy the whole cdk.out folder, or ${again}`,
    );
  }
  const fix = 'Fix the template (it is deployed exactly as it is), then deploy again.';
  const template = parseJson(templateFile, (message) =>
    wrong(`${templateFile} is not valid JSON (${message})`, fix),
  ) as { Resources?: unknown } | null;
  if (typeof template?.Resources !== 'object' || template.Resources === null) {
    throw wrong(`${templateFile} is not a CloudFormation template (it has no "Resources" object)`, fix);
  }
  return dir;
}

function parseJson(file: string, error: (message: string) => UserError): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw error((e as Error).message);
  }
}
