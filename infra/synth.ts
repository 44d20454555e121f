/**
 * Synthesizes the CDK app offline into `<project>/cdk.out` (or `--output <dir>`): no AWS credentials, no Docker.
 * Usage: `node infra/synth.ts [--output <dir>]` (`npm run synth`).
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildApp, DEFAULT_OUTDIR, STACK_NAME } from './app.ts';

const { values } = parseArgs({
  options: { output: { type: 'string', short: 'o' } },
  allowPositionals: false,
});
const outdir = values.output === undefined ? DEFAULT_OUTDIR : resolve(values.output);
const started = Date.now();
const assembly = buildApp({ outdir }).synth();
const stack = assembly.getStackByName(STACK_NAME);
process.stdout.write(
  `Synthesized ${stack.stackName} into ${assembly.directory} (${stack.templateFile}) in ${Date.now() - started} ms\n`,
);
