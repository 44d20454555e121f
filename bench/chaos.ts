/**
 * `saga chaos` figures (issue 11): schedules/min and orders/min on the fixed saga, then the time it takes to find
 * the settled-order replay bug (put back into the running state machine, see cli/chaos/bugs.ts) from random seeds,
 * with the shrunk schedule of each.
 *
 *   node bench/chaos.ts [--clean-budget 2m|0] [--seeds 10] [--budget 2m] [--shrink-budget 1m] [--concurrency 3]
 *                       [--bug settled-replay|no-check-order]
 *
 * Runs in a temporary project folder with its own local cloud (time scale 0.1, as `saga deploy`); prints figures,
 * asserts nothing.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { parseArgs } from 'node:util';
import { SFNClient } from '@aws-sdk/client-sfn';
import { startLocalCloudDetached, stopLocalCloud } from '@saga/local-cloud';
import { type KnownBug, putBugBack } from '../cli/chaos/bugs.ts';
import { run } from '../cli/run.ts';
import { CDK_OUT, synthesisIsStale, synthesize } from '../cli/target/project.ts';
import { resolveTarget } from '../cli/target/target.ts';

const { values } = parseArgs({
  options: {
    'clean-budget': { type: 'string', default: '2m' },
    seeds: { type: 'string', default: '10' },
    budget: { type: 'string', default: '2m' },
    'shrink-budget': { type: 'string', default: '1m' },
    concurrency: { type: 'string', default: '3' },
    bug: { type: 'string', default: 'settled-replay' },
  },
});

interface Line {
  readonly at: number;
  readonly doc: Record<string, unknown>;
}

/** Runs `saga chaos … --json` in-process; every JSON line with the time it arrived. */
async function chaos(
  cwd: string,
  argv: string[],
): Promise<{ code: number; lines: Line[]; startedAt: number }> {
  const stdout = new PassThrough();
  const lines: Line[] = [];
  let buffer = '';
  stdout.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let nl = buffer.indexOf('\n');
    while (nl >= 0) {
      const text = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (text.startsWith('{'))
        lines.push({ at: Date.now(), doc: JSON.parse(text) as Record<string, unknown> });
      nl = buffer.indexOf('\n');
    }
  });
  const stderr = new PassThrough();
  stderr.on('data', (c: Buffer) => process.stderr.write(c));
  const startedAt = Date.now();
  const code = await run(['chaos', ...argv, '--json'], {
    cwd,
    stdout,
    stderr,
    env: { ...process.env, CI: 'true' },
  });
  return { code, lines, startedAt };
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0
    ? Number.NaN
    : s.length % 2
      ? (s[(s.length - 1) / 2] as number)
      : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};

const projectDir = await mkdtemp(join(tmpdir(), 'saga-bench-chaos-'));
try {
  if (synthesisIsStale()) await synthesize();
  await startLocalCloudDetached({ projectDir, cdkOut: CDK_OUT, timeScale: 0.1 });
  const concurrency = values.concurrency;

  if (values['clean-budget'] !== '0') {
    const cleanSeed = Math.floor(Math.random() * 0x7fffffff);
    const clean = await chaos(projectDir, [
      '--seed',
      String(cleanSeed),
      '--budget',
      values['clean-budget'],
      '--concurrency',
      concurrency,
    ]);
    const summary = clean.lines.at(-1)?.doc ?? {};
    console.log(
      `fixed saga: saga chaos --seed ${cleanSeed} --budget ${values['clean-budget']} --concurrency ${concurrency} → exit ${clean.code}`,
    );
    console.log(
      `  ${summary.runs} schedules, ${summary.orders} orders, ${summary.violations} violations in ${Math.round(Number(summary.durationMs) / 1000)} s: ` +
        `${summary.schedulesPerMinute} schedules/min, ${summary.ordersPerMinute} orders/min`,
    );
    if (summary.counterexample) console.log(`  counterexample: ${JSON.stringify(summary.counterexample)}`);
  }

  const target = await resolveTarget(projectDir, { target: 'local' });
  const sfn = new SFNClient(target.clientConfig());
  const restore = await putBugBack(sfn, target.outputs.StateMachineArn, values.bug as KnownBug);
  const found: number[] = [];
  try {
    for (let i = 0; i < Number(values.seeds); i++) {
      const seed = Math.floor(Math.random() * 0x7fffffff);
      const result = await chaos(projectDir, [
        '--seed',
        String(seed),
        '--budget',
        values.budget,
        '--shrink-budget',
        values['shrink-budget'],
        '--concurrency',
        concurrency,
      ]);
      const first = result.lines.find(
        (l) => l.doc.type === 'run' && (l.doc.violations as unknown[]).length > 0,
      );
      const last = result.lines.at(-1)?.doc as
        | { counterexample?: { schedule: unknown; violations: { id: string }[] }; runs?: number }
        | undefined;
      const total = Math.round(((result.lines.at(-1)?.at ?? Date.now()) - result.startedAt) / 1000);
      if (first) found.push((first.at - result.startedAt) / 1000);
      console.log(
        `bug, seed ${seed}: ${first ? `found after ${((first.at - result.startedAt) / 1000).toFixed(1)} s (${last?.runs} schedules)` : 'NOT found'}, ` +
          `exit ${result.code}, ${total} s with shrinking; ` +
          `violated ${[...new Set(last?.counterexample?.violations.map((v) => v.id) ?? [])].join(',')}; shrunk: ${JSON.stringify(last?.counterexample?.schedule)}`,
      );
    }
  } finally {
    await restore();
  }
  console.log(
    `${values.bug} bug found from ${found.length}/${values.seeds} random seeds; time to find: median ${median(found).toFixed(1)} s, ` +
      `max ${Math.max(...found).toFixed(1)} s`,
  );
} finally {
  await stopLocalCloud({ projectDir, removeData: true });
  await rm(projectDir, { recursive: true, force: true });
}
