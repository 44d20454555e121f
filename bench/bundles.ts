/**
 * Bundle benchmark: for each Lambda function of the synthesized `Saga` stack, the size of its `index.mjs` and the
 * time a fresh Node 24 process takes to load it (median of several runs), against a bare `node -e 0`.
 * Flags bundles over 100 KB and bundles that import or inline a whole AWS SDK.
 *
 * Usage: `node bench/bundles.ts [--cdk-out <dir>] [--runs <n>] [--strict]` (run `npm run synth` first).
 * `--strict` sets exit code 1 when a bundle is flagged. It prints figures; it asserts nothing about speed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

/** Bundles above this size are flagged. */
const SIZE_LIMIT_BYTES = 100 * 1024;

interface FunctionBundle {
  readonly logicalId: string;
  readonly handler: string;
  readonly bundle: string;
  readonly environment: Readonly<Record<string, string>>;
}

interface TemplateResource {
  readonly Type: string;
  readonly Properties?: {
    readonly Handler?: string;
    readonly Runtime?: string;
    readonly Code?: { readonly S3Key?: unknown };
    readonly Environment?: { readonly Variables?: Readonly<Record<string, unknown>> };
  };
}

/** The stack's Node.js functions whose code is an `index.mjs` bundle in the cloud assembly. */
function functionBundles(cdkOut: string): FunctionBundle[] {
  const templatePath = join(cdkOut, 'Saga.template.json');
  if (!existsSync(templatePath)) {
    throw new Error(
      `No synthesized template at ${templatePath}: run \`npm run synth\` first (or pass --cdk-out).`,
    );
  }
  const template = JSON.parse(readFileSync(templatePath, 'utf8')) as {
    Resources: Record<string, TemplateResource>;
  };
  const bundles: FunctionBundle[] = [];
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    const key = resource.Properties?.Code?.S3Key;
    if (resource.Type !== 'AWS::Lambda::Function' || typeof key !== 'string') continue;
    const bundle = join(cdkOut, `asset.${key.replace(/\.zip$/, '')}`, 'index.mjs');
    // Functions that are not ours (the AwsCustomResource provider ships index.js) are left out.
    if (!existsSync(bundle)) continue;
    // Values are CloudFormation intrinsics; a placeholder lets module-scope env checks pass.
    const environment = Object.fromEntries(
      Object.keys(resource.Properties?.Environment?.Variables ?? {}).map((name) => [
        name,
        `bench-${name.toLowerCase()}`,
      ]),
    );
    bundles.push({ logicalId, handler: resource.Properties?.Handler ?? '?', bundle, environment });
  }
  return bundles.sort((a, b) => a.logicalId.localeCompare(b.logicalId));
}

/** Module specifiers the bundle imports (static, dynamic, require). */
function importsOf(code: string): string[] {
  const specifiers = new Set<string>();
  const patterns = [
    /\bimport\s*(?:[\w*{}\s,$]+\s*from\s*)?["']([^"']+)["']/g,
    /\bimport\(\s*["']([^"']+)["']\s*\)/g,
    /\brequire\(\s*["']([^"']+)["']\s*\)/g,
  ];
  for (const pattern of patterns) for (const m of code.matchAll(pattern)) if (m[1]) specifiers.add(m[1]);
  return [...specifiers].sort();
}

/** Why the bundle pulls in a whole SDK, if it does: the v2 monolith, or v3 code inlined instead of external. */
function wholeSdkReasons(code: string, imports: readonly string[]): string[] {
  const reasons: string[] = [];
  const v2 = imports.filter((s) => s === 'aws-sdk' || s.startsWith('aws-sdk/'));
  if (v2.length > 0) reasons.push(`imports the AWS SDK v2 monolith (${v2.join(', ')})`);
  // The v3 clients' user agent marker: present only when SDK code itself was bundled.
  if (code.includes('aws-sdk-js'))
    reasons.push('inlines AWS SDK v3 client code (should be external: the runtime has it)');
  return reasons;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/** Wall time of one fresh Node process running `args`, in ms; throws with its stderr if it fails. */
function timeProcess(args: readonly string[], env: NodeJS.ProcessEnv): { wallMs: number; stdout: string } {
  const started = performance.now();
  const child = spawnSync(process.execPath, args, { env, encoding: 'utf8' });
  const wallMs = performance.now() - started;
  if (child.status !== 0) {
    throw new Error(
      `node ${args.join(' ')} exited with ${child.status}: ${child.stderr.trim().slice(-2000)}`,
    );
  }
  return { wallMs, stdout: child.stdout };
}

/** One import of a bundle in a fresh process: wall time of the process, and of the import() itself. */
function importOnce(bundle: FunctionBundle): { wallMs: number; importMs: number } {
  const url = pathToFileURL(bundle.bundle).href;
  const script =
    `const t = performance.now(); await import(${JSON.stringify(url)}); ` +
    'process.stdout.write(String(performance.now() - t));';
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench',
    ...bundle.environment,
  };
  const { wallMs, stdout } = timeProcess(['--input-type=module', '-e', script], env);
  return { wallMs, importMs: Number(stdout) };
}

const baselineOnce = (): number => timeProcess(['-e', '0'], { PATH: process.env.PATH }).wallMs;

/** Display name: the construct id, without the logical id's hash suffix. */
const displayName = (logicalId: string): string => logicalId.replace(/[0-9A-F]{8}$/, '');

const signed = (ms: number): string => `${ms >= 0 ? '+' : ''}${ms.toFixed(1)} ms`;

function main(): number {
  const { values } = parseArgs({
    options: {
      'cdk-out': { type: 'string' },
      runs: { type: 'string', default: '7' },
      strict: { type: 'boolean', default: false },
    },
  });
  const projectRoot = fileURLToPath(new URL('..', import.meta.url));
  const cdkOut = resolve(values['cdk-out'] ?? join(projectRoot, 'cdk.out'));
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) {
    throw new Error(`--runs must be a positive integer; received '${values.runs}'.`);
  }

  const bundles = functionBundles(cdkOut);
  // Round-robin (baseline, then each bundle, per round) after one warm-up round, so that the noise of a
  // shared machine hits the baseline and the bundles alike.
  baselineOnce();
  for (const bundle of bundles) importOnce(bundle);
  const baselineRuns: number[] = [];
  const bundleRuns = bundles.map(() => ({ wall: [] as number[], imports: [] as number[] }));
  for (let round = 0; round < runs; round += 1) {
    baselineRuns.push(baselineOnce());
    bundles.forEach((bundle, i) => {
      const { wallMs, importMs } = importOnce(bundle);
      bundleRuns[i]?.wall.push(wallMs);
      bundleRuns[i]?.imports.push(importMs);
    });
  }
  const baseline = median(baselineRuns);
  process.stdout.write(
    `Node ${process.version} · ${bundles.length} bundles in ${cdkOut} · median of ${runs} runs · ` +
      `baseline \`node -e 0\`: ${baseline.toFixed(1)} ms\n\n`,
  );
  const header = ['function', 'handler', 'size', 'process', 'over baseline', 'import()', 'external imports'];
  const rows: string[][] = [];
  const flags: string[] = [];
  bundles.forEach((bundle, i) => {
    const code = readFileSync(bundle.bundle, 'utf8');
    const size = statSync(bundle.bundle).size;
    const imports = importsOf(code);
    const wallMs = median(bundleRuns[i]?.wall ?? []);
    const importMs = median(bundleRuns[i]?.imports ?? []);
    const name = displayName(bundle.logicalId);
    rows.push([
      name,
      bundle.handler,
      `${(size / 1024).toFixed(1)} KB`,
      `${wallMs.toFixed(1)} ms`,
      signed(wallMs - baseline),
      `${importMs.toFixed(1)} ms`,
      imports.filter((s) => !s.startsWith('node:')).join(' ') || '-',
    ]);
    if (size > SIZE_LIMIT_BYTES) flags.push(`${name}: ${(size / 1024).toFixed(1)} KB is over 100 KB`);
    for (const reason of wholeSdkReasons(code, imports)) flags.push(`${name}: ${reason}`);
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
  process.stdout.write(`${line(header)}\n${line(widths.map((w) => '-'.repeat(w)))}\n`);
  for (const row of rows) process.stdout.write(`${line(row)}\n`);
  process.stdout.write('\n');
  if (flags.length === 0) {
    process.stdout.write('No bundle over 100 KB; none imports or inlines a whole AWS SDK.\n');
    return 0;
  }
  for (const flag of flags) process.stdout.write(`FLAG ${flag}\n`);
  return values.strict ? 1 : 0;
}

process.exitCode = main();
