import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  DescribeStateMachineCommand,
  DescribeStateMachineForExecutionCommand,
  ExecutionDoesNotExist,
  GetExecutionHistoryCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { cleanEnv, runCli, stripAnsi, tempProject } from '../../test/support/cli.ts';
import { writeContext } from '../target/context.ts';

const path = (p: string) => fileURLToPath(new URL(`../../${p}`, import.meta.url));
const SAGA_ASL = path('state-machines/order-saga.asl.json');
const AWS_07 = path('test/fixtures/aws-history/07-task-choice-fail-state.json');
const SHIPPING_FAILS = path('cli/timeline/fixtures/saga-v2-shipping-fails.json');

describe('saga graph from files', () => {
  test('a definition on a terminal: the text rendering', async () => {
    const cwd = await tempProject();
    const r = await runCli(['graph', '--definition', SAGA_ASL], { cwd, tty: true });
    expect(r.code, r.stderr).toBe(0);
    const text = stripAnsi(r.stdout);
    expect(text).toMatch(/^• CheckOrder {2}Task · dynamodb:getItem · start$/m);
    expect(text).toMatch(/^ {4}→ CancelOrder {2}catch States\.ALL$/m);
  });

  test('piped without --format: Mermaid', async () => {
    const cwd = await tempProject();
    const r = await runCli(['graph', '--definition', SAGA_ASL, '--from-file', SHIPPING_FAILS], { cwd });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('flowchart TD');
    expect(r.stdout).toMatch(/^ {2}linkStyle [\d,]+ stroke:#2e7d32/m);
  });

  test('--format svg: one SVG document on stdout', async () => {
    const cwd = await tempProject();
    const r = await runCli(['graph', '--from-file', AWS_07, '--format', 'svg'], { cwd });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[\s\S]*<\/svg>\n$/);
    // The file carries its definition (_definition): the state it never entered is drawn too.
    expect(r.stdout).toContain('data-id="Success"');
  });

  test('--json: nodes and edges with their flags', async () => {
    const cwd = await tempProject();
    const r = await runCli(['graph', '--from-file', AWS_07, '--json'], { cwd });
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as {
      type: string;
      source: string;
      nodes: { id: string; visited: boolean; failed: boolean; attempts: number }[];
      edges: { from: string; to: string; kind: string; visited: boolean; traversals: number }[];
      execution: { status: string; path: string[] };
    };
    expect(doc.type).toBe('graph');
    expect(doc.source).toBe('definition');
    expect(doc.execution.path).toEqual(['Add Pet to Store', 'Pet was Added Successfully?', 'Failure']);
    expect(doc.nodes.find((n) => n.id === 'Failure')).toMatchObject({
      visited: true,
      failed: true,
      attempts: 1,
    });
    expect(doc.edges.find((e) => e.to === 'Success')).toMatchObject({
      kind: 'default',
      visited: false,
      traversals: 0,
    });
  });

  test.each([
    [
      ['graph', '--definition', '/nonexistent/x.asl.json'],
      /Cannot read the definition file \/nonexistent\/x\.asl\.json/,
    ],
    [
      ['graph', '--definition', SHIPPING_FAILS],
      /is not an Amazon States Language definition: .*received an object with keys events.*Pass a state machine definition/,
    ],
    [['graph', '--from-file', SAGA_ASL], /--from-file takes an execution history/],
    [['graph', '--from-file', '/nonexistent/h.json'], /Cannot read the history file/],
    [['graph', '01JD8Z6Q3M4N5P6R7S8T9V0W1X', '--from-file', AWS_07], /an execution or --from-file, not both/],
    [['graph', '--definition', SAGA_ASL, '--format', 'png'], /Allowed choices are text, mermaid, svg/],
  ])('%j: exit 2 saying what was wrong', async (argv, message) => {
    const cwd = await tempProject();
    const r = await runCli(argv, { cwd });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
  });
});

describe('saga graph on a deployed stack (Step Functions stubbed)', () => {
  const sfn = mockClient(SFNClient);
  // The AWS credential chain reads process.env.
  beforeEach(() => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDEXAMPLE');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'secret');
    vi.stubEnv('AWS_PROFILE', undefined);
  });
  afterEach(() => {
    sfn.reset();
    vi.unstubAllEnvs();
  });
  const env = cleanEnv({
    AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'secret',
    AWS_REGION: 'eu-west-1',
  });
  const STATE_MACHINE = 'arn:aws:states:eu-west-1:123456789012:stateMachine:OrderSaga';

  async function deployed(): Promise<string> {
    const cwd = await tempProject();
    await writeContext(cwd, {
      target: 'aws',
      region: 'eu-west-1',
      awsOutputs: {
        ApiUrl: 'https://example.invalid/',
        StateMachineArn: STATE_MACHINE,
        OrdersTableName: 'o',
        PaymentsTableName: 'p',
        InventoryTableName: 'i',
        ShipmentsTableName: 's',
        IdempotencyTableName: 'k',
      },
    } as never);
    return cwd;
  }

  test('an order id: the history and the definition the execution ran', async () => {
    const cwd = await deployed();
    const history = JSON.parse(readFileSync(SHIPPING_FAILS, 'utf8')) as { events: unknown[] };
    sfn.on(GetExecutionHistoryCommand).resolves({ events: history.events as never });
    sfn
      .on(DescribeStateMachineForExecutionCommand)
      .resolves({ definition: readFileSync(SAGA_ASL, 'utf8') } as never);
    const r = await runCli(['graph', '01JD8Z6Q3M4N5P6R7S8T9V0W1X', '--json'], { cwd, env });
    expect(r.code, r.stderr).toBe(0);
    const executionArn = sfn.commandCalls(GetExecutionHistoryCommand)[0]?.args[0].input.executionArn;
    expect(executionArn).toBe(
      'arn:aws:states:eu-west-1:123456789012:execution:OrderSaga:01JD8Z6Q3M4N5P6R7S8T9V0W1X',
    );
    const doc = JSON.parse(r.stdout) as { execution: { path: string[] }; warnings: string[] };
    expect(doc.execution.path.at(-1)).toBe('OrderCancelled');
    expect(doc.warnings).toEqual([]);
  });

  test('no argument: the deployed state machine', async () => {
    const cwd = await deployed();
    sfn.on(DescribeStateMachineCommand).resolves({ definition: readFileSync(SAGA_ASL, 'utf8') } as never);
    const r = await runCli(['graph', '--format', 'mermaid'], { cwd, env });
    expect(r.code, r.stderr).toBe(0);
    expect(sfn.commandCalls(DescribeStateMachineCommand)[0]?.args[0].input.stateMachineArn).toBe(
      STATE_MACHINE,
    );
    expect(r.stdout).toContain('s0["CheckOrder<br/>Task · dynamodb:getItem');
  });

  test('an unknown execution: exit 2 with what to do', async () => {
    const cwd = await deployed();
    sfn
      .on(GetExecutionHistoryCommand)
      .rejects(new ExecutionDoesNotExist({ message: 'Execution Does Not Exist', $metadata: {} }));
    const r = await runCli(['graph', '01JD8Z6Q3M4N5P6R7S8T9V0W1X'], { cwd, env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /No execution arn:aws:states:.*01JD8Z6Q3M4N5P6R7S8T9V0W1X on the aws target .*`saga ls` lists the orders/,
    );
  });

  test('a definition the service returns that is not ASL: exit 2', async () => {
    const cwd = await deployed();
    sfn.on(DescribeStateMachineCommand).resolves({ definition: '{"nope":1}' } as never);
    const r = await runCli(['graph'], { cwd, env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/could not be drawn: .*has no StartAt.*--definition <file>/);
  });
});
