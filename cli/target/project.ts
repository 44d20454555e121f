import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The saga package's own folder (infra/, services/, cdk.out/ live here). */
export const PACKAGE_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Where synthesis writes the cloud assembly. It must sit under the package so bundles resolve @aws-sdk/*. */
export const CDK_OUT = join(PACKAGE_ROOT, 'cdk.out');

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
