import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { runCli, stripAnsi, tempProject } from '../../test/support/cli.ts';
import type { DiffDocument } from '../timeline/diff.ts';

const path = (p: string) => fileURLToPath(new URL(`../../${p}`, import.meta.url));
const HAPPY = path('cli/timeline/fixtures/saga-happy.json');
const SHIPPING = path('cli/timeline/fixtures/saga-shipping-fails.json');

describe('saga diff --from-file', () => {
  test('text: a two-sided table with the first divergence, exit 0', async () => {
    const cwd = await tempProject();
    const r = await runCli(['diff', '--from-file', HAPPY, SHIPPING], { cwd, tty: true });
    expect(r.code, r.stderr).toBe(0);
    const text = stripAnsi(r.stdout);
    expect(text).toMatch(/^▶ +ShipOrder .*✓ succeeded\*.*│ +↷ caught\*/m);
    expect(text).toContain('First divergence: ShipOrder');
  });

  test('--json: one diff document', async () => {
    const cwd = await tempProject();
    const r = await runCli(['diff', '--from-file', HAPPY, SHIPPING, '--json'], { cwd });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const doc = JSON.parse(lines[0] as string) as DiffDocument;
    expect(doc.type).toBe('diff');
    expect(doc.a).toMatchObject({ source: HAPPY, status: 'SUCCEEDED', orderStatus: 'COMPLETED' });
    expect(doc.b).toMatchObject({ status: 'FAILED', orderStatus: 'CANCELLED' });
    expect(doc.firstDivergence).toBe('ShipOrder');
    expect(doc.rows[0]).toMatchObject({ state: 'ChargePayment', differs: [] });
    expect(doc.rows.find((row) => row.state === 'RefundPayment')?.a).toBeNull();
  });

  test('the same history twice: no divergence, still exit 0', async () => {
    const cwd = await tempProject();
    const r = await runCli(['diff', '--from-file', HAPPY, HAPPY, '--json'], { cwd });
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as DiffDocument).firstDivergence).toBeNull();
  });

  test('bad input: exit 2 saying what was wrong, what was received, what to do', async () => {
    const cwd = await tempProject();
    const one = await runCli(['diff', '--from-file', HAPPY], { cwd });
    expect(one.code).toBe(2);
    expect(one.stderr).toMatch(/compares two executions: received .*saga-happy\.json.*Usage/);
    const missing = await runCli(['diff', '--from-file', HAPPY, '/nope/h.json'], { cwd });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/Cannot read the history file \/nope\/h\.json/);
    const noFlag = await runCli(['diff', HAPPY, SHIPPING], { cwd });
    expect(noFlag.code).toBe(2);
    expect(noFlag.stderr).toMatch(/--from-file/);
  });
});
