import { describe, expect, test } from 'vitest';
import { ANSI_ESCAPE, CapturedStream, stripAnsi } from '../../test/support/cli.ts';
import { displayWidth } from './format.ts';
import { Output, type OutputOptions } from './output.ts';

async function output(options: Partial<OutputOptions> = {}) {
  const stdout = new CapturedStream();
  const stderr = new CapturedStream();
  const out = await Output.create({
    stdout,
    stderr,
    json: false,
    color: false,
    interactive: false,
    ...options,
  });
  return { out, stdout, stderr };
}

describe('Output', () => {
  test('people output: lines and tables on stdout, JSON documents suppressed', async () => {
    const { out, stdout, stderr } = await output();
    out.line('hello');
    out.data({ ignored: true });
    out.table([
      ['name', 'value'],
      ['ApiUrl', 'http://x/'],
    ]);
    expect(stdout.text()).toBe('hello\nname    value\nApiUrl  http://x/\n');
    expect(stderr.text()).toBe('');
  });

  test('--json: one JSON document per line; lines, tables and raw help suppressed', async () => {
    const { out, stdout } = await output({ json: true, color: true, interactive: true });
    out.line('hello');
    out.success('done');
    out.table([['a'], ['b']]);
    out.raw('usage');
    out.live(['spinner frame']);
    out.data({ a: 1 });
    out.data({ b: 'two' });
    expect(stdout.text()).toBe('{"a":1}\n{"b":"two"}\n');
    expect(out.interactive).toBe(false);
  });

  test('result: one call serves both outputs — the text for people, the data as one JSON line under --json', async () => {
    const people = await output({ color: true });
    let rendered = 0;
    const render = (style: { ok: (s: string) => string }) => {
      rendered++;
      return [`${style.ok('✓')} Cleared 2 flags.`, 'second line'];
    };
    people.out.result({ type: 'cleared', count: 2 }, render);
    people.out.result({ type: 'one' }, () => 'one line');
    expect(stripAnsi(people.stdout.text())).toBe('✓ Cleared 2 flags.\nsecond line\none line\n');
    expect(people.stdout.text()).toMatch(ANSI_ESCAPE);
    expect(people.stdout.text()).not.toContain('cleared');

    const machine = await output({ json: true });
    machine.out.result({ type: 'cleared', count: 2 }, render);
    expect(machine.stdout.text()).toBe('{"type":"cleared","count":2}\n');
    // The text is not even made under --json.
    expect(rendered).toBe(1);
  });

  test('tableLines: the lines table writes, for a result', async () => {
    const { out, stdout } = await output();
    const rows = [
      ['name', 'value'],
      ['ApiUrl', 'http://x/'],
    ];
    expect(out.tableLines(rows)).toEqual(['name    value', 'ApiUrl  http://x/']);
    out.table(rows);
    expect(stdout.text()).toBe(`${out.tableLines(rows).join('\n')}\n`);
    expect(out.tableLines([])).toEqual([]);
  });

  test('--json errors are JSON objects on stderr', async () => {
    const { out, stderr } = await output({ json: true });
    out.error('it broke', 'at line 1');
    expect(JSON.parse(stderr.text())).toEqual({ type: 'error', message: 'it broke', detail: 'at line 1' });
  });

  test('colour on: ANSI escapes; colour off: none; displayWidth ignores them', async () => {
    const coloured = await output({ color: true });
    coloured.out.success('ok');
    expect(coloured.stdout.text()).toMatch(ANSI_ESCAPE);
    expect(displayWidth(coloured.out.style.ok('ok'))).toBe(2);
    const plain = await output({ color: false });
    plain.out.success('ok');
    plain.out.error('bad');
    expect(plain.stdout.text()).toBe('✓ ok\n');
    expect(plain.stderr.text()).toBe('✗ bad\n');
  });

  test('tables align on visible width, not on escape codes', async () => {
    const { out, stdout } = await output({ color: true });
    out.table([
      ['a', 'b'],
      [out.style.ok('long-cell'), 'x'],
    ]);
    const lines = stripAnsi(stdout.text()).split('\n');
    expect(lines[0]).toBe('a          b');
    expect(lines[1]).toBe('long-cell  x');
  });

  test('progress off a terminal: one plain line at the start and one at the end', async () => {
    const { out, stdout } = await output();
    const progress = await out.progress('Deploying');
    progress.update('Deploying 3/10');
    progress.succeed('Deployed');
    expect(stdout.text()).toBe('… Deploying\n✓ Deployed\n');
  });

  test('saga ls on a terminal fits its width: the widest shrinkable column is cut first; piped, nothing is cut', async () => {
    const rows = [
      ['order', 'status', 'failure injected', 'created'],
      [
        '01JD8Z6Q3M4N5P6R7S8T9V0W1X',
        'COMPENSATION_FAILED',
        'payment:transient:2, shipping:timeout-after-commit @0.5, refund:error',
        '2026-12-03 08:24:11',
      ],
      ['01JD8Z6Q3M4N5P6R7S8T9V0W2Y', 'COMPLETED', '—', '2026-12-03 08:24:12'],
    ];
    const terminal = await output({ interactive: true, color: true, width: 100 });
    terminal.out.table(rows, { shrink: [2, 3] });
    const lines = stripAnsi(terminal.stdout.text()).trimEnd().split('\n');
    expect(Math.max(...lines.map(displayWidth))).toBe(100);
    expect(lines[1]).toMatch(
      /^01JD8Z6Q3M4N5P6R7S8T9V0W1X {2}COMPENSATION_FAILED {2}payment:transient:2, .*… {2}2026-12-03 08:24:11$/,
    );
    // The columns still line up.
    expect(lines[1]?.indexOf('2026')).toBe(lines[2]?.indexOf('2026'));
    const piped = await output({ interactive: false, width: 80 });
    piped.out.table(rows, { shrink: [2, 3] });
    expect(piped.stdout.text()).toContain('refund:error  2026-12-03 08:24:11');
  });
});
