/**
 * Bundles the CLI's entry (cli/run.ts with commander, the UI and the errors) into cli/run.bundle.mjs, so that
 * `saga --help` loads one JavaScript file instead of type-stripping a handful of TypeScript files. Commands stay
 * separate TypeScript modules, loaded lazily by the command that needs them. Runs on `npm install` (prepare).
 * bin/saga falls back to cli/run.ts when the bundle is missing or older than its sources.
 */

import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));

await build({
  entryPoints: [`${root}cli/run.ts`],
  outfile: `${root}cli/run.bundle.mjs`,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  // Lazy parts stay lazy: each command module, and the libraries only some outputs need.
  external: ['./commands/*', 'chalk', 'ora', '@inquirer/prompts'],
  logLevel: 'warning',
  legalComments: 'none',
});
