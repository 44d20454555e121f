/**
 * Wall time of `saga --help` and `saga ls` against bare `node -e 0` on the same Node, as ratios (the machine is
 * noisy; ratios travel better than milliseconds). Target: `saga --help` within 2× bare Node start-up.
 *
 *   node bench/cli-startup.ts [runs]
 *
 * `saga ls` talks to the local cloud when one is running (`saga deploy`); otherwise it measures the start-up up
 * to its "not running" answer.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const runs = Number(process.argv[2] ?? 15);
const root = fileURLToPath(new URL('..', import.meta.url));
const saga = `${root}bin/saga`;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function time(args: string[]): { ms: number; status: number | null } {
  let status: number | null = null;
  const samples: number[] = [];
  for (let i = 0; i < runs + 2; i++) {
    const start = process.hrtime.bigint();
    const result = spawnSync(process.execPath, args, {
      cwd: root,
      stdio: 'ignore',
      env: { ...process.env, NO_COLOR: '1' },
    });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    status = result.status;
    if (i >= 2) samples.push(ms); // the first two warm the file cache
  }
  return { ms: median(samples), status };
}

const bare = time(['-e', '0']);
const help = time([saga, '--help']);
const ls = time([saga, 'ls']);
console.log(`Node ${process.version}, ${runs} runs each, median wall time`);
console.log(`node -e 0      ${bare.ms.toFixed(1).padStart(7)} ms  1.00×`);
console.log(
  `saga --help    ${help.ms.toFixed(1).padStart(7)} ms  ${(help.ms / bare.ms).toFixed(2)}×  (target ≤ 2×)`,
);
console.log(
  `saga ls        ${ls.ms.toFixed(1).padStart(7)} ms  ${(ls.ms / bare.ms).toFixed(2)}×  (exit ${ls.status}${ls.status === 3 ? ': local cloud not running' : ''})`,
);
