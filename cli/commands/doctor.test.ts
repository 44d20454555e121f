import { afterEach, describe, expect, test, vi } from 'vitest';
import { runCli, stubNoAwsCredentials, tempProject } from '../../test/support/cli.ts';

interface Check {
  readonly type: 'check';
  readonly name: string;
  readonly status: 'ok' | 'warn' | 'fail';
  readonly detail: string;
  readonly fix?: string;
}

function checks(stdout: string): Map<string, Check> {
  const list = stdout
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Check);
  return new Map(list.map((c) => [c.name, c]));
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('saga doctor', () => {
  test('in an empty folder: Node and Java ok, local cloud not running, exit 0', async () => {
    const cwd = await tempProject();
    const result = await runCli(['doctor', '--json'], { cwd });
    expect(result.code).toBe(0);
    const found = checks(result.stdout);
    expect(found.get('Node.js')).toMatchObject({ status: 'ok', detail: process.version });
    expect(found.get('Java (DynamoDB Local)')).toMatchObject({ status: 'ok' });
    expect(found.get('Java (DynamoDB Local)')?.detail).toMatch(/^Java \d+/);
    expect(found.get('Local cloud')).toMatchObject({
      status: 'warn',
      detail: 'not running',
      fix: '`saga deploy` starts it',
    });
    expect(found.has('AWS credentials')).toBe(false);
  });

  test('people output: one line per check with the fix under what is not ok', async () => {
    const cwd = await tempProject();
    const result = await runCli(['doctor'], { cwd });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^✓ Node\.js\s+v24\./m);
    expect(result.stdout).toMatch(/^! Local cloud\s+not running\n\s+fix: `saga deploy` starts it$/m);
  });

  test('--aws with no region and no credentials → both fail, exit 3', async () => {
    await stubNoAwsCredentials();
    const cwd = await tempProject();
    const result = await runCli(['doctor', '--aws', '--json'], { cwd });
    expect(result.code).toBe(3);
    const found = checks(result.stdout);
    expect(found.get('AWS region')).toMatchObject({ status: 'fail', fix: 'pass --region or set AWS_REGION' });
    expect(found.get('AWS credentials')).toMatchObject({ status: 'fail' });
    expect(found.get('AWS credentials')?.detail).toContain('No AWS credentials');
  });

  test('--aws with a region and static credentials → both ok', async () => {
    await stubNoAwsCredentials();
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDEXAMPLE123');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'secret');
    const cwd = await tempProject();
    const result = await runCli(['doctor', '--aws', '--region', 'eu-west-1', '--json'], { cwd });
    expect(result.code).toBe(0);
    const found = checks(result.stdout);
    expect(found.get('AWS region')).toMatchObject({ status: 'ok', detail: 'eu-west-1' });
    expect(found.get('AWS credentials')).toMatchObject({ status: 'ok', detail: 'access key AKID…' });
  });
});
