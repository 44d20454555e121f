import { describe, expect, test } from 'vitest';
import { runCli, tempProject } from '../../test/support/cli.ts';
import { checkChaosOptions } from './chaos.ts';

describe('saga chaos: bad flags are exit 2, saying what was wrong, what was received, what to do', () => {
  test.each([
    [['--budget', 'soon'], '--budget must be a duration such as 45s, 2m, 1h or 1m30s; received "soon"'],
    [['--path', '3:0'], '--path "3:0" needs the --seed it was printed with'],
    [
      ['--seed', '4', '--path', '3:0'],
      '--path replays one lane; received --concurrency 3. Pass --concurrency 1',
    ],
    [['--seed', '4', '--path', 'x', '--concurrency', '1'], "--path must be fast-check's path"],
    [
      ['--replay', '{"orders":[]}', '--seed', '4'],
      '--replay runs the schedule given; it takes no --seed or --path',
    ],
    [['--replay', '{oops'], 'Invalid schedule: not JSON'],
    [['--concurrency', '0'], '--concurrency must be a whole number ≥ 1; received "0"'],
    [['--seed', 'abc'], '--seed must be a whole number ≥ 0; received "abc"'],
  ])('saga chaos %j', async (argv, message) => {
    const cwd = await tempProject();
    const result = await runCli(['chaos', ...argv], { cwd });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
  });

  test('without a running local cloud: exit 3 with the fix', async () => {
    const cwd = await tempProject();
    const result = await runCli(['chaos', '--budget', '5s'], { cwd });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('saga deploy');
  });

  test('--help shows the flags and examples', async () => {
    const cwd = await tempProject();
    const result = await runCli(['chaos', '--help'], { cwd });
    expect(result.code).toBe(0);
    for (const flag of ['--runs', '--seed', '--budget', '--concurrency', '--path', '--replay']) {
      expect(result.stdout).toContain(flag);
    }
    expect(result.stdout).toContain('$ saga chaos --seed 43 --path 7:1:0 --concurrency 1');
  });
});

test('checkChaosOptions accepts a seed and path on one lane', () => {
  expect(() => checkChaosOptions({ budget: 120_000, concurrency: 1, seed: 4, path: '3:0:12' })).not.toThrow();
});
