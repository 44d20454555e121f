import { readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { runCli, stripAnsi, tempProject } from '../../test/support/cli.ts';
import { UserError } from '../errors.ts';
import { parseExecutionArgument } from '../saga/follow.ts';

const AWS_HISTORIES = fileURLToPath(new URL('../../test/fixtures/aws-history', import.meta.url));
const SAGA_HISTORIES = fileURLToPath(new URL('../timeline/fixtures/', import.meta.url));

function jsonFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => join(dir, f));
}

const awsFiles = jsonFiles(AWS_HISTORIES);
const sagaFiles = jsonFiles(SAGA_HISTORIES);

const STEP_KEYS = ['type', 'state', 'phase', 'status', 'attempts', 'durationMs'];
const SUMMARY_KEYS = ['type', 'status', 'orderStatus', 'compensatedInReverse', 'transitions', 'durationMs'];

interface JsonLine {
  readonly type: string;
  readonly [key: string]: unknown;
}

/** Runs `saga watch --from-file` twice (text and --json) and checks both against each other and design §6. */
async function checkHistoryFile(
  file: string,
): Promise<{ steps: JsonLine[]; summary: JsonLine; text: string[] }> {
  const cwd = await tempProject();
  const text = await runCli(['watch', '--from-file', file], { cwd });
  expect(text.code, text.stderr).toBe(0);
  expect(text.stderr).toBe('');
  const lines = text.stdout.trimEnd().split('\n');
  // The header (the file, the start time, the input in brief) ends with an empty line.
  expect(lines[0]).toMatch(/^history file .* {2}started \d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d\d:\d\d$/);
  const headerEnd = lines.indexOf('');
  expect(headerEnd).toBeGreaterThan(0);
  const separator = lines.findIndex((l) => /^─+$/.test(l));
  expect(separator).toBeGreaterThan(0);
  const footer = lines.slice(separator + 1);
  expect(footer.length).toBeGreaterThanOrEqual(2);
  expect(footer.join('\n')).toMatch(/\d+ transitions? ≈ \$/);

  const json = await runCli(['watch', '--from-file', file, '--json'], { cwd });
  expect(json.code, json.stderr).toBe(0);
  const docs = json.stdout
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as JsonLine);
  const summary = docs.at(-1) as JsonLine;
  const steps = docs.slice(0, -1);
  expect(summary.type).toBe('summary');
  for (const key of SUMMARY_KEYS) expect(summary, key).toHaveProperty(key);
  expect(['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'RUNNING']).toContain(summary.status);
  expect(Number.isInteger(summary.transitions)).toBe(true);
  for (const step of steps) {
    expect(step.type).toBe('step');
    for (const key of STEP_KEYS) expect(step, key).toHaveProperty(key);
    expect(['forward', 'compensation', 'final']).toContain(step.phase);
    expect(['succeeded', 'failed', 'caught', 'running']).toContain(step.status);
    expect(step.attempts).toBeGreaterThanOrEqual(1);
  }
  // One text line per state visit, the same visits as the JSON lines, in the same order.
  const visits = lines.slice(headerEnd + 1, separator);
  expect(visits).toHaveLength(steps.length);
  visits.forEach((line, i) => {
    expect(line).toContain(String(steps[i]?.state));
  });
  return { steps, summary, text: lines };
}

describe('saga watch --from-file on real AWS histories', () => {
  test('the fixture folder has histories to check', () => {
    expect(awsFiles.length).toBeGreaterThanOrEqual(8);
  });

  test.each(awsFiles.map((f) => [f.split('/').at(-1) as string, f]))('%s', async (_name, file) => {
    const { steps, summary } = await checkHistoryFile(file);
    expect(steps.length).toBeGreaterThan(0);
    // Not one of our sagas: there is no order status to report.
    expect(summary.orderStatus).toBeNull();
  });

  test('a Fail state ends the execution FAILED', async () => {
    const { summary } = await checkHistoryFile(join(AWS_HISTORIES, '07-task-choice-fail-state.json'));
    expect(summary.status).toBe('FAILED');
  });
});

describe('saga watch --from-file on the synthetic saga histories', () => {
  test.each(sagaFiles.map((f) => [f.split('/').at(-1) as string, f]))('%s', async (_name, file) => {
    await checkHistoryFile(file);
  });

  test.each([
    ['saga-happy.json', 'COMPLETED', null],
    ['saga-payment-declined.json', 'FAILED', null],
    ['saga-inventory-fails.json', 'CANCELLED', true],
    ['saga-shipping-fails.json', 'CANCELLED', true],
    ['saga-compensation-fails.json', 'COMPENSATION_FAILED', false],
    ['saga-payment-transient.json', 'COMPLETED', null],
  ])('%s → order %s, compensated in reverse %s', async (name, orderStatus, reverse) => {
    const { summary } = await checkHistoryFile(join(SAGA_HISTORIES, name));
    expect(summary.orderStatus).toBe(orderStatus);
    expect(summary.compensatedInReverse).toBe(reverse);
  });

  test('compensations are told apart and run in reverse (shipping fails)', async () => {
    const { steps, text } = await checkHistoryFile(join(SAGA_HISTORIES, 'saga-shipping-fails.json'));
    const compensations = steps.filter((s) => s.phase === 'compensation' && s.compensates !== undefined);
    expect(compensations.map((s) => [s.state, s.compensates])).toEqual([
      ['ReleaseInventory', 'ReserveInventory'],
      ['RefundPayment', 'ChargePayment'],
    ]);
    const ship = steps.find((s) => s.state === 'ShipOrder');
    expect(ship).toMatchObject({ status: 'caught', error: 'ShippingUnavailable' });
    expect(text.join('\n')).toContain('compensated in reverse ✓');
  });

  test('retries show their attempt count and observed backoff (payment transient)', async () => {
    const { steps } = await checkHistoryFile(join(SAGA_HISTORIES, 'saga-payment-transient.json'));
    const charge = steps.find((s) => s.state === 'ChargePayment');
    expect(charge?.attempts).toBe(3);
    expect(charge?.backoffMs).toHaveLength(2);
  });
});

describe('saga watch --from-file with a bad file → exit 2 naming the file', () => {
  test('not JSON', async () => {
    const cwd = await tempProject();
    const file = join(cwd, 'history.txt');
    await writeFile(file, 'nope, not json');
    const result = await runCli(['watch', '--from-file', file], { cwd });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${file}: The history file is not JSON`);
    expect(result.stderr).toContain('aws stepfunctions get-execution-history');
    expect(result.stdout).toBe('');
  });

  test('JSON that is not a history', async () => {
    const cwd = await tempProject();
    const file = join(cwd, 'history.json');
    await writeFile(file, JSON.stringify({ executions: [{ name: 'x' }] }));
    const result = await runCli(['watch', '--from-file', file, '--json'], { cwd });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    const error = JSON.parse(result.stderr) as { type: string; message: string };
    expect(error.message).toContain(`${file}: The file is not a Step Functions execution history`);
    expect(error.message).toContain('keys executions');
  });

  test.each([['[]'], ['{"events":[]}']])('a history with no events (%s)', async (text) => {
    const cwd = await tempProject();
    const file = join(cwd, 'empty.json');
    await writeFile(file, text);
    const result = await runCli(['watch', '--from-file', file], { cwd });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${file} holds no history events`);
    expect(result.stdout).toBe('');
  });

  test('a missing file', async () => {
    const cwd = await tempProject();
    const file = join(cwd, 'missing.json');
    const result = await runCli(['watch', '--from-file', file], { cwd });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`Cannot read the history file ${file}`);
  });

  test('--from-file needs no stack: nothing is created in the project folder', async () => {
    const cwd = await tempProject();
    const result = await runCli(['watch', '--from-file', join(SAGA_HISTORIES, 'saga-happy.json')], { cwd });
    expect(result.code).toBe(0);
    expect(readdirSync(cwd)).toEqual([]);
  });
});

describe('the next step after a COMPENSATION_FAILED order', () => {
  test('watch --from-file says that saga replay resumes the compensations', async () => {
    const cwd = await tempProject();
    const result = await runCli(
      ['watch', '--from-file', join(SAGA_HISTORIES, 'saga-compensation-fails.json')],
      {
        cwd,
      },
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('order COMPENSATION_FAILED');
    expect(result.stdout).toContain(
      'Next: `saga replay 01JDQ3Z8K4M2N6P8R0T2V4X6Z8` resumes the compensations',
    );
  });

  test('a settled order gets no next step', async () => {
    const cwd = await tempProject();
    const result = await runCli(
      ['watch', '--from-file', join(SAGA_HISTORIES, 'saga-v2-already-settled.json')],
      {
        cwd,
      },
    );
    expect(result.stdout).toContain('already settled, nothing ran');
    expect(result.stdout).not.toContain('Next:');
  });
});

describe('issue 13: what watch accepts and prints', () => {
  test('--from-file of one page of a history (a NextToken): exit 2, saying it is incomplete and how to save it all', async () => {
    const cwd = await tempProject();
    const history = JSON.parse(
      await import('node:fs/promises').then((fs) =>
        fs.readFile(join(SAGA_HISTORIES, 'saga-happy.json'), 'utf8'),
      ),
    ) as { events: unknown[] };
    const file = join(cwd, 'page.json');
    await writeFile(
      file,
      JSON.stringify({ events: history.events.slice(0, 4), NextToken: 'eyJ0b2tlbiI6MX0=' }),
    );
    const result = await runCli(['watch', '--from-file', file], { cwd });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`${file}: The history is incomplete`);
    expect(result.stderr).toContain('the events after #4 are missing');
    expect(result.stderr).toContain('aws stepfunctions get-execution-history --execution-arn <arn>');
  });

  test('an execution and --from-file exclude each other: exit 2 naming both', async () => {
    const cwd = await tempProject();
    const file = join(SAGA_HISTORIES, 'saga-happy.json');
    const result = await runCli(['watch', '01JD8Z6Q3M4N5P6R7S8T9V0W1X', '--from-file', file], { cwd });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('takes an execution or --from-file, not both');
    expect(result.stderr).toContain('"01JD8Z6Q3M4N5P6R7S8T9V0W1X"');
    expect(result.stderr).toContain(file);
  });

  test('any execution name of the saga is accepted, as the picker lists them; a malformed one is exit 2', async () => {
    expect(parseExecutionArgument('01JD8Z6Q3M4N5P6R7S8T9V0W1X-replay-mx78lnun-5')).toEqual({
      name: '01JD8Z6Q3M4N5P6R7S8T9V0W1X-replay-mx78lnun-5',
    });
    expect(parseExecutionArgument('01jd8z6q3m4n5p6r7s8t9v0w1x')).toEqual({
      name: '01JD8Z6Q3M4N5P6R7S8T9V0W1X',
    });
    const arn =
      'arn:aws:states:us-east-1:123456789012:execution:OrderSaga:01JD8Z6Q3M4N5P6R7S8T9V0W1X-replay-a';
    expect(parseExecutionArgument(arn)).toEqual({ arn });
    for (const bad of ['has space', 'a/b', 'x'.repeat(81), '']) {
      expect(() => parseExecutionArgument(bad), bad).toThrowError(UserError);
    }
    const cwd = await tempProject();
    const result = await runCli(['watch', 'not a name'], { cwd });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Not an order id, an execution name or an execution ARN: "not a name"');
  });

  test('piped, causes are whole; on a terminal, lines fit its width', async () => {
    const cwd = await tempProject();
    const file = join(SAGA_HISTORIES, 'saga-compensation-fails.json');
    const whole =
      'undoes ChargePayment · 7 attempts, backoff 1.3s 3.1s 2.2s 11.8s 6.5s 19s · RefundFailed: Payment provider rejected the refund of ch_3Q9xYz';
    const piped = await runCli(['watch', '--from-file', file], { cwd });
    expect(piped.stdout).toContain(whole);
    const terminal = await runCli(['watch', '--from-file', file], { cwd, tty: true });
    // The timeline fits (the prose after it wraps as prose does).
    const lines = stripAnsi(terminal.stdout)
      .trimEnd()
      .split('\n')
      .filter((line) => !line.startsWith('Next:'));
    expect(lines.map((line) => [...line].length).filter((length) => length > 120)).toEqual([]);
    expect(stripAnsi(terminal.stdout)).not.toContain(whole);
  });
});
