import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CloudWatchLogsClient, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DynamoDBClient, QueryCommand } from '@aws-sdk/client-dynamodb';
import {
  DescribeStateMachineForExecutionCommand,
  ExecutionDoesNotExist,
  GetExecutionHistoryCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { cleanEnv, runCli, tempProject } from '../../test/support/cli.ts';
import { writeContext } from '../target/context.ts';

const path = (p: string) => fileURLToPath(new URL(`../../${p}`, import.meta.url));
const SAGA_ASL = path('state-machines/order-saga.asl.json');
const TRANSIENT = path('cli/timeline/fixtures/saga-payment-transient.json');
const AWS_02 = path('test/fixtures/aws-history/02-lambda-invoke-retry-then-catch.json');

describe('saga report from a saved history', () => {
  test('--html: the page written, said in one line', async () => {
    const cwd = await tempProject();
    const file = join(cwd, 'report.html');
    const r = await runCli(['report', '--from-file', TRANSIENT, '--definition', SAGA_ASL, '--html', file], {
      cwd,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /^✓ Wrote .*report\.html \(\d+ KB\): open it in a browser, no network needed\.\n$/,
    );
    const html = await readFile(file, 'utf8');
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain(`<code>${TRANSIENT}</code>`);
    expect(html).toContain('data-state="ChargePayment"');
    expect(html).toContain('The ledger was not read: the report was made from a saved history');
  });

  test('--json: {type, file, bytes}; a relative --html lands in the project folder', async () => {
    const cwd = await tempProject();
    const r = await runCli(['report', '--from-file', AWS_02, '--html', 'r.html', '--json'], { cwd });
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { type: string; file: string; bytes: number };
    expect(doc).toEqual({
      type: 'report',
      file: 'r.html',
      bytes: (await readFile(join(cwd, 'r.html'))).length,
    });
  });

  test('piped without --html: the page on stdout, nothing else', async () => {
    const cwd = await tempProject();
    const r = await runCli(['report', '--from-file', AWS_02], { cwd });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^<!doctype html>\n[\s\S]*<\/html>\n$/);
    // The recorded AWS history carries its definition: the state never entered is drawn too.
    expect(r.stdout).toMatch(
      /<g class="node [^"]*unvisited[^"]*" data-id="EndWithFinal"|data-id="HandleError"/,
    );
  });

  test.each([
    [
      ['report', '--from-file', TRANSIENT],
      true,
      /writes an HTML page, not terminal text: add --html report\.html/,
    ],
    [
      ['report', '--from-file', TRANSIENT, '--json'],
      false,
      /--json describes the file.*add --html report\.html/,
    ],
    [['report'], false, /Which execution\? saga report needs an order id.*--from-file/],
    [['report', '--definition', SAGA_ASL], false, /Which execution\?/],
    [
      ['report', '01JD8Z6Q3M4N5P6R7S8T9V0W1X', '--from-file', TRANSIENT],
      false,
      /an execution or --from-file, not both/,
    ],
    [['report', '--from-file', SAGA_ASL], false, /--from-file takes an execution history/],
    [
      ['report', '--from-file', TRANSIENT, '--html', '/nonexistent/dir/r.html'],
      false,
      /Cannot write the report to \/nonexistent\/dir\/r\.html/,
    ],
  ])('%j (tty %s): exit 2 saying what to do', async (argv, tty, message) => {
    const cwd = await tempProject();
    const r = await runCli(argv, { cwd, tty });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
  });

  test('saga graph --format html: the graph alone as a page', async () => {
    const cwd = await tempProject();
    const r = await runCli(['graph', '--from-file', AWS_02, '--format', 'html'], { cwd });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^<!doctype html>\n/);
    expect(r.stdout).toContain(`<title>Graph · ${AWS_02}</title>`);
    expect(r.stdout).toMatch(/<g class="node [^"]*visited[^"]*" data-id="InvokeLambdaWithRetry"/);
    expect(r.stdout).not.toContain('<section class="r-card r-gantt"');
  });
});

describe('saga report on a deployed stack (AWS stubbed)', () => {
  const sfn = mockClient(SFNClient);
  const ddb = mockClient(DynamoDBClient);
  const logs = mockClient(CloudWatchLogsClient);
  beforeEach(() => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDEXAMPLE');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'secret');
    vi.stubEnv('AWS_PROFILE', undefined);
  });
  afterEach(() => {
    sfn.reset();
    ddb.reset();
    logs.reset();
    vi.unstubAllEnvs();
  });
  const env = cleanEnv({
    AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'secret',
    AWS_REGION: 'eu-west-1',
  });
  const ORDER = '01JDQ3Z8K4M2N6P8R0T2V4X6Z8';

  async function deployed(): Promise<string> {
    const cwd = await tempProject();
    await writeContext(cwd, {
      target: 'aws',
      region: 'eu-west-1',
      awsOutputs: {
        ApiUrl: 'https://example.invalid/',
        StateMachineArn: 'arn:aws:states:eu-west-1:123456789012:stateMachine:OrderSaga',
        OrdersTableName: 'o',
        PaymentsTableName: 'p',
        InventoryTableName: 'i',
        ShipmentsTableName: 's',
        IdempotencyTableName: 'k',
        FunctionNames: 'Saga-ChargePaymentFunction-9XyZ8wVu7T',
      },
    } as never);
    return cwd;
  }

  test('an order id: history, definition, ledger and log lines in one page', async () => {
    const cwd = await deployed();
    const history = JSON.parse(readFileSync(TRANSIENT, 'utf8')) as { events: unknown[] };
    sfn.on(GetExecutionHistoryCommand).resolves({ events: history.events as never });
    sfn
      .on(DescribeStateMachineForExecutionCommand)
      .resolves({ definition: readFileSync(SAGA_ASL, 'utf8') } as never);
    const rows: Record<string, string[]> = {
      p: ['CHARGE'],
      i: ['RESERVATION#SKU-APPLE', 'RESERVATION#SKU-PEAR'],
      s: ['SHIPMENT'],
    };
    ddb.on(QueryCommand).callsFake((input: { TableName: string }) => ({
      Items: (rows[input.TableName] ?? []).map((sk) => ({ sk: { S: sk } })),
    }));
    logs.on(FilterLogEventsCommand).resolves({
      events: [
        {
          timestamp: Date.parse('2026-11-27T10:05:00.100Z'),
          message: JSON.stringify({ level: 'WARN', message: 'transient failure <injected>', orderId: ORDER }),
        },
      ],
    });
    const file = join(cwd, 'report.html');
    const r = await runCli(['report', ORDER, '--html', file], { cwd, env });
    expect(r.code, r.stderr).toBe(0);
    expect(sfn.commandCalls(GetExecutionHistoryCommand)[0]?.args[0].input.executionArn).toBe(
      `arn:aws:states:eu-west-1:123456789012:execution:OrderSaga:${ORDER}`,
    );
    expect(logs.commandCalls(FilterLogEventsCommand)[0]?.args[0].input.filterPattern).toBe(
      `{ $.orderId = "${ORDER}" }`,
    );
    const html = await readFile(file, 'utf8');
    expect(html).toContain(`<title>Saga report · ${ORDER}</title>`);
    expect(html).toContain('<span class="r-badge r-ok">COMPLETED</span>');
    expect(html).toContain(
      '<tr><td>Inventory</td><td>reservations</td><td class="r-num">2</td><td>releases</td><td class="r-num">0</td><td class="r-num">2</td></tr>',
    );
    expect(html).toContain('<td class="r-text">transient failure &lt;injected&gt;</td>');
    expect(html).toContain('<span class="r-level r-level-warn">WARN</span>');
  });

  test('an unknown execution: exit 2 with what to do', async () => {
    const cwd = await deployed();
    sfn
      .on(GetExecutionHistoryCommand)
      .rejects(new ExecutionDoesNotExist({ message: 'Execution Does Not Exist', $metadata: {} }));
    const r = await runCli(['report', ORDER, '--html', join(cwd, 'r.html')], { cwd, env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /No execution arn:aws:states:.*01JDQ3Z8K4M2N6P8R0T2V4X6Z8 on the aws target .*`saga ls` lists the orders\./,
    );
  });
});
