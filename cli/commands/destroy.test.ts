import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { runCli, tempProject } from '../../test/support/cli.ts';

/** A project folder with local-cloud data but no cloud running. */
async function projectWithData(): Promise<{ cwd: string; marker: string }> {
  const cwd = await tempProject();
  await mkdir(join(cwd, '.saga', 'local', 'dynamodb'), { recursive: true });
  const marker = join(cwd, '.saga', 'local', 'dynamodb', 'shared-local-instance.db');
  await writeFile(marker, 'tables');
  return { cwd, marker };
}

describe('saga destroy (local target)', () => {
  test('the prompter says no → exit 130 and nothing removed', async () => {
    const { cwd, marker } = await projectWithData();
    const result = await runCli(['destroy'], { cwd, answers: [{ confirm: false }] });
    expect(result.code).toBe(130);
    expect(result.prompts).toEqual([
      'Stop the local cloud and delete its data (.saga/local: tables, histories, logs)?',
    ]);
    expect(result.stderr).toContain('Nothing was destroyed.');
    expect(existsSync(marker)).toBe(true);
  });

  test('no terminal and no --yes → exit 2 telling to pass --yes; nothing removed', async () => {
    const { cwd, marker } = await projectWithData();
    const result = await runCli(['destroy'], { cwd, answers: 'terminal' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('no terminal to ask on. Pass --yes to confirm.');
    expect(existsSync(marker)).toBe(true);
  });

  test('the prompter says yes → the data is removed, exit 0', async () => {
    const { cwd } = await projectWithData();
    const result = await runCli(['destroy'], { cwd, answers: [{ confirm: true }] });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Local cloud was not running; its data is removed.');
    expect(existsSync(join(cwd, '.saga', 'local'))).toBe(false);
  });

  test('--yes asks nothing; --json prints the result document', async () => {
    const { cwd } = await projectWithData();
    const result = await runCli(['destroy', '--yes', '--json'], { cwd });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ target: 'local', destroyed: true });
    expect(existsSync(join(cwd, '.saga', 'local'))).toBe(false);
  });
});
