import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { TEST_AWS, testDynamoDbClient } from '../../../test/support/dynamodb.ts';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from '../types.ts';
import { AwsError } from '../wire/aws-error.ts';
import type { LocalHistoryEvent } from './history.ts';
import { RESTART_CAUSE, StepFunctionsService, type StepFunctionsServiceOptions } from './service.ts';
import { eventTypes, statesEntered, TestFunctions } from './testing.ts';

const dynamodb = testDynamoDbClient();
const ROLE = `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/saga-test`;
const MACHINE = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:stateMachine:Gate`;
const DEFINITION = JSON.stringify({
  StartAt: 'Work',
  States: {
    Work: {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: { FunctionName: 'gate', 'Payload.$': '$' },
      OutputPath: '$.Payload',
      Next: 'Done',
    },
    Done: { Type: 'Pass', End: true },
  },
});

/** `gate` returns its input once the test opens the gate for that input's `id` (or at once without `hold`). */
const gates = new Map<string, () => void>();
function gateFunctions(): TestFunctions {
  return new TestFunctions({
    gate: (payload) => {
      const { id, hold } = payload as { id: string; hold?: boolean };
      if (!hold) return payload;
      return new Promise((resolve) => gates.set(id, () => resolve(payload)));
    },
  });
}
/** Resolves once the held `gate` call for `id` is running. */
async function called(id: string): Promise<void> {
  for (let i = 0; i < 200 && !gates.has(id); i++) await new Promise((resolve) => setTimeout(resolve, 5));
}
/** Opens the gate of a held `gate` call, waiting for the call to arrive first. */
async function open(id: string): Promise<void> {
  await called(id);
  const release = gates.get(id);
  if (release === undefined) throw new Error(`gate ${id} was never called`);
  gates.delete(id);
  release();
}

function makeService(extra: Partial<StepFunctionsServiceOptions> = {}): StepFunctionsService {
  const service = new StepFunctionsService({
    lambda: gateFunctions(),
    dynamodb,
    timeScale: 0.01,
    accountId: LOCAL_ACCOUNT_ID,
    region: LOCAL_REGION,
    ...extra,
  });
  service.createStateMachine({
    name: 'Gate',
    arn: MACHINE,
    definition: DEFINITION,
    roleArn: ROLE,
    type: 'STANDARD',
  });
  return service;
}

async function start(service: StepFunctionsService, input: unknown, name?: string): Promise<string> {
  const out = (await service.handle('StartExecution', {
    stateMachineArn: MACHINE,
    input: JSON.stringify(input),
    ...(name === undefined ? {} : { name }),
  })) as { executionArn: string };
  return out.executionArn;
}

async function awsErrorOf(promise: Promise<unknown>): Promise<AwsError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof AwsError)) throw new Error(`expected an AwsError, got ${String(error)}`);
  return error;
}

const service = makeService();
afterAll(() => service.close());

describe('StartExecution name semantics', () => {
  test('same name and input while RUNNING returns the same execution; otherwise ExecutionAlreadyExists', async () => {
    const first = (await service.handle('StartExecution', {
      stateMachineArn: MACHINE,
      name: 'order-1',
      input: '{"id":"order-1","hold":true}',
    })) as { executionArn: string; startDate: number };
    expect(first.executionArn).toBe(`arn:aws:states:us-east-1:000000000000:execution:Gate:order-1`);
    expect(typeof first.startDate).toBe('number');
    const again = await service.handle('StartExecution', {
      stateMachineArn: MACHINE,
      name: 'order-1',
      input: '{"id":"order-1","hold":true}',
    });
    expect(again).toEqual(first);
    const different = await awsErrorOf(
      service.handle('StartExecution', {
        stateMachineArn: MACHINE,
        name: 'order-1',
        input: '{"id":"other"}',
      }),
    );
    expect(different.type).toBe('ExecutionAlreadyExists');
    await open('order-1');
    await service.waitForExecution(first.executionArn);
    const closed = await awsErrorOf(
      service.handle('StartExecution', {
        stateMachineArn: MACHINE,
        name: 'order-1',
        input: '{"id":"order-1","hold":true}',
      }),
    );
    expect(closed.type).toBe('ExecutionAlreadyExists');
    expect(
      service.getExecutionHistory(first.executionArn).filter((e) => e.type === 'ExecutionStarted'),
    ).toHaveLength(1);
  });

  test('bad requests get the AWS error types', async () => {
    const noName = await start(service, { id: 'x' });
    expect(noName).toMatch(/:execution:Gate:[0-9a-f-]{36}$/);
    expect((await awsErrorOf(start(service, {}, 'has space'))).type).toBe('InvalidName');
    expect((await awsErrorOf(start(service, {}, 'a'.repeat(81)))).type).toBe('InvalidName');
    expect(
      (await awsErrorOf(service.handle('StartExecution', { stateMachineArn: `${MACHINE}Nope`, input: '{}' })))
        .type,
    ).toBe('StateMachineDoesNotExist');
    expect((await awsErrorOf(service.handle('StartExecution', { stateMachineArn: 'not-an-arn' }))).type).toBe(
      'InvalidArn',
    );
    const badInput = await awsErrorOf(
      service.handle('StartExecution', { stateMachineArn: MACHINE, input: '{oops' }),
    );
    expect(badInput.type).toBe('InvalidExecutionInput');
    expect((await awsErrorOf(service.handle('StartExecution', {}))).type).toBe('ValidationException');
    expect((await awsErrorOf(service.handle('CreateActivity', {}))).type).toBe('UnknownOperationException');
    const unknown = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:execution:Gate:missing`;
    expect((await awsErrorOf(service.handle('DescribeExecution', { executionArn: unknown }))).type).toBe(
      'ExecutionDoesNotExist',
    );
  });
});

describe('reading executions', () => {
  let arn = '';
  let all: readonly LocalHistoryEvent[] = [];
  beforeAll(async () => {
    arn = await start(service, { id: 'paging' }, 'paging');
    await service.waitForExecution(arn);
    all = service.getExecutionHistory(arn);
  });

  test('GetExecutionHistory pages forward and backward with opaque tokens', async () => {
    expect(all.length).toBeGreaterThan(5);
    for (const reverseOrder of [false, true]) {
      const ids: number[] = [];
      let nextToken: string | undefined;
      do {
        const page = (await service.handle('GetExecutionHistory', {
          executionArn: arn,
          maxResults: 2,
          reverseOrder,
          nextToken,
        })) as { events: { id: number; timestamp: number }[]; nextToken?: string };
        expect(page.events.length).toBeLessThanOrEqual(2);
        expect(typeof page.events[0]?.timestamp).toBe('number');
        ids.push(...page.events.map((e) => e.id));
        nextToken = page.nextToken;
      } while (nextToken !== undefined);
      const expected = all.map((e) => e.id);
      expect(ids).toEqual(reverseOrder ? expected.reverse() : expected);
    }
    const firstPage = (await service.handle('GetExecutionHistory', { executionArn: arn, maxResults: 2 })) as {
      nextToken: string;
    };
    // A token belongs to its request: another order (or execution) is refused.
    const mixed = service.handle('GetExecutionHistory', {
      executionArn: arn,
      reverseOrder: true,
      nextToken: firstPage.nextToken,
    });
    expect((await awsErrorOf(mixed)).type).toBe('InvalidToken');
    const tooMany = service.handle('GetExecutionHistory', { executionArn: arn, maxResults: 1001 });
    expect((await awsErrorOf(tooMany)).type).toBe('ValidationException');
  });

  test('includeExecutionData false leaves out inputs and outputs', async () => {
    const { events } = (await service.handle('GetExecutionHistory', {
      executionArn: arn,
      includeExecutionData: false,
    })) as {
      events: Record<string, Record<string, unknown>>[];
    };
    expect(events).toHaveLength(all.length);
    expect(JSON.stringify(events)).not.toMatch(/"(input|output)":/);
    expect(events[0]?.executionStartedEventDetails?.roleArn).toBe(ROLE);
  });

  test('DescribeExecution, ListExecutions (newest first, filter, paging), state machines', async () => {
    const described = (await service.handle('DescribeExecution', { executionArn: arn })) as Record<
      string,
      unknown
    >;
    expect(described).toMatchObject({
      executionArn: arn,
      stateMachineArn: MACHINE,
      name: 'paging',
      status: 'SUCCEEDED',
      input: '{"id":"paging"}',
      output: '{"id":"paging"}',
    });
    expect(described.stopDate as number).toBeGreaterThanOrEqual(described.startDate as number);
    const later = await start(service, { id: 'later' }, 'later');
    await service.waitForExecution(later);
    const pages: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = (await service.handle('ListExecutions', {
        stateMachineArn: MACHINE,
        maxResults: 1,
        nextToken,
      })) as {
        executions: { executionArn: string; startDate: number }[];
        nextToken?: string;
      };
      pages.push(...page.executions.map((e) => e.executionArn));
      nextToken = page.nextToken;
    } while (nextToken !== undefined);
    expect(pages[0]).toBe(later);
    expect(pages).toContain(arn);
    expect(new Set(pages).size).toBe(pages.length);
    const running = (await service.handle('ListExecutions', {
      stateMachineArn: MACHINE,
      statusFilter: 'RUNNING',
    })) as {
      executions: unknown[];
    };
    expect(running.executions).toEqual([]);
    const machines = (await service.handle('ListStateMachines', {})) as { stateMachines: { name: string }[] };
    expect(machines.stateMachines.map((m) => m.name)).toEqual(['Gate']);
    const machine = (await service.handle('DescribeStateMachine', { stateMachineArn: MACHINE })) as Record<
      string,
      unknown
    >;
    expect(machine).toMatchObject({
      name: 'Gate',
      status: 'ACTIVE',
      definition: DEFINITION,
      roleArn: ROLE,
      type: 'STANDARD',
    });
    expect(machine.loggingConfiguration).toEqual({ level: 'OFF', includeExecutionData: false });
  });

  test('StopExecution aborts a running execution with an ExecutionAborted event', async () => {
    const held = await start(service, { id: 'stop-me', hold: true }, 'stop-me');
    await called('stop-me');
    const out = (await service.handle('StopExecution', {
      executionArn: held,
      error: 'Manual',
      cause: 'test',
    })) as {
      stopDate: number;
    };
    expect(typeof out.stopDate).toBe('number');
    const described = await service.waitForExecution(held);
    expect(described).toMatchObject({ status: 'ABORTED', error: 'Manual', cause: 'test' });
    const last = service.getExecutionHistory(held).at(-1);
    expect(last?.type).toBe('ExecutionAborted');
    expect(last?.executionAbortedEventDetails).toEqual({ error: 'Manual', cause: 'test' });
    await open('stop-me');
    await new Promise((resolve) => setTimeout(resolve, 20));
    // The late result of the task is ignored: nothing is recorded after the execution closed.
    expect(service.getExecutionHistory(held).at(-1)?.type).toBe('ExecutionAborted');
  });
});

describe('the AWS SDK reads the answers', () => {
  let server: Server;
  let client: SFNClient;
  beforeAll(async () => {
    // A minimal awsJson1_0 endpoint in front of the service (the real edge does the same, plus SigV4).
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const operation = String(req.headers['x-amz-target']).split('.')[1] ?? '';
        service.handle(operation, JSON.parse(Buffer.concat(chunks).toString() || '{}')).then(
          (body) => {
            res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' }).end(JSON.stringify(body));
          },
          (error: AwsError) => {
            res
              .writeHead(error.statusCode, { 'content-type': 'application/x-amz-json-1.0' })
              .end(JSON.stringify({ __type: error.type, message: error.message }));
          },
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    client = new SFNClient({
      ...TEST_AWS,
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    });
  });
  afterAll(() => {
    client.destroy();
    server.close();
  });

  test('dates parse as Date, histories and errors come through @aws-sdk/client-sfn', async () => {
    const started = await client.send(
      new StartExecutionCommand({ stateMachineArn: MACHINE, name: 'via-sdk', input: '{"id":"via-sdk"}' }),
    );
    expect(started.startDate).toBeInstanceOf(Date);
    await service.waitForExecution(String(started.executionArn));
    const described = await client.send(new DescribeExecutionCommand({ executionArn: started.executionArn }));
    expect(described.status).toBe('SUCCEEDED');
    expect(described.stopDate).toBeInstanceOf(Date);
    expect(
      Math.abs(Number(described.startDate?.getTime()) - Number(started.startDate?.getTime())),
    ).toBeLessThan(1);
    const history = await client.send(new GetExecutionHistoryCommand({ executionArn: started.executionArn }));
    expect(history.events?.[0]?.timestamp).toBeInstanceOf(Date);
    expect(eventTypes(history.events ?? [])).toEqual(
      eventTypes(service.getExecutionHistory(String(started.executionArn))),
    );
    expect(history.events?.[2]?.taskScheduledEventDetails?.resource).toBe('invoke');
    const listed = await client.send(new ListExecutionsCommand({ stateMachineArn: MACHINE, maxResults: 1 }));
    expect(listed.executions?.[0]?.startDate).toBeInstanceOf(Date);
    await expect(
      client.send(new StartExecutionCommand({ stateMachineArn: MACHINE, name: 'via-sdk', input: '{"x":1}' })),
    ).rejects.toMatchObject({ name: 'ExecutionAlreadyExists' });
  });
});

describe('persistence under dataDir/stepfunctions', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'saga-sfn-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  test('finished histories survive a new service on the same dataDir', async () => {
    const first = makeService({ dataDir });
    const arn = await start(first, { id: 'persist' }, 'persist');
    await first.waitForExecution(arn);
    const before = first.getExecutionHistory(arn);
    await first.close();
    const file = join(dataDir, 'stepfunctions', 'Gate', 'persist.json');
    expect(JSON.parse(readFileSync(file, 'utf8')).status).toBe('SUCCEEDED');

    const second = makeService({ dataDir });
    expect(second.getExecutionHistory(arn)).toEqual(before);
    const described = (await second.handle('DescribeExecution', { executionArn: arn })) as { status: string };
    expect(described.status).toBe('SUCCEEDED');
    expect((await awsErrorOf(start(second, { id: 'persist' }, 'persist'))).type).toBe(
      'ExecutionAlreadyExists',
    );
    await second.close();
  });

  test('an execution RUNNING when the process died carries on after a restart, its history continued', async () => {
    // Prepare (exits before the crash) → Work (its Lambda call is in flight at the crash) → Done.
    const machine = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:stateMachine:Resume`;
    const definition = JSON.stringify({
      StartAt: 'Prepare',
      States: {
        Prepare: { Type: 'Pass', Result: 'prepared', ResultPath: '$.prep', Next: 'Work' },
        Work: {
          Type: 'Task',
          Resource: 'arn:aws:states:::lambda:invoke',
          Parameters: { FunctionName: 'work', 'Payload.$': '$' },
          OutputPath: '$.Payload',
          Next: 'Done',
        },
        Done: { Type: 'Pass', End: true },
      },
    });
    const withMachine = (lambda: TestFunctions): StepFunctionsService => {
      const service = makeService({ dataDir, lambda });
      service.createStateMachine({
        name: 'Resume',
        arn: machine,
        definition,
        roleArn: ROLE,
        type: 'STANDARD',
      });
      return service;
    };
    // The first process's call never returns: it "dies" with the process.
    const lost = new TestFunctions({ work: () => new Promise(() => undefined) });
    const crashed = withMachine(lost);
    const { executionArn: arn } = (await crashed.handle('StartExecution', {
      stateMachineArn: machine,
      name: 'crash',
      input: '{"id":"crash"}',
    })) as { executionArn: string };
    const file = join(dataDir, 'stepfunctions', 'Resume', 'crash.json');
    // Events are written as they arrive: wait until the file shows the task started.
    for (
      let i = 0;
      i < 200 && !(existsSync(file) && readFileSync(file, 'utf8').includes('TaskStarted'));
      i++
    ) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(JSON.parse(readFileSync(file, 'utf8')).status).toBe('RUNNING');
    const before = crashed.getExecutionHistory(arn);

    // The "crashed" instance is never closed (close() would abort it) before the new one reads the directory.
    const redone = new TestFunctions({ work: (payload) => payload });
    const restarted = makeService({ dataDir, lambda: redone });
    // Not resumed before its state machine exists (the cloud deploys it after the service starts).
    expect(redone.calls).toEqual([]);
    restarted.createStateMachine({
      name: 'Resume',
      arn: machine,
      definition,
      roleArn: ROLE,
      type: 'STANDARD',
    });
    const described = await restarted.waitForExecution(arn, { timeoutMs: 10_000 });
    expect(described).toMatchObject({ status: 'SUCCEEDED', redriveCount: 0 });
    expect(JSON.parse(String(described.output))).toEqual({ id: 'crash', prep: 'prepared' });
    // The task that was mid-invocation ran again, with the input Work was entered with.
    expect(redone.calls.map((c) => c.payload)).toEqual([{ id: 'crash', prep: 'prepared' }]);

    const events = restarted.getExecutionHistory(arn);
    expect(events.slice(0, before.length)).toEqual(before);
    expect(eventTypes(events)).toEqual([
      'ExecutionStarted',
      'PassStateEntered',
      'PassStateExited',
      'TaskStateEntered',
      'TaskScheduled',
      'TaskStarted',
      // The restart: Work entered again (no ExecutionRedriven), then the run carries on.
      'TaskStateEntered',
      'TaskScheduled',
      'TaskStarted',
      'TaskSucceeded',
      'TaskStateExited',
      'PassStateEntered',
      'PassStateExited',
      'ExecutionSucceeded',
    ]);
    expect(statesEntered(events)).toEqual(['Prepare', 'Work', 'Work', 'Done']);
    // Ids carry on, one after the other.
    expect(events.map((e) => e.id)).toEqual(events.map((_, i) => i + 1));
    expect(events[6]?.stateEnteredEventDetails?.input).toBe(events[3]?.stateEnteredEventDetails?.input);
    await restarted.close();
    expect(JSON.parse(readFileSync(file, 'utf8')).status).toBe('SUCCEEDED');
  });

  test('an execution RUNNING before it entered a state starts at StartAt after a restart', async () => {
    const first = makeService({ dataDir });
    const arn = await start(first, { id: 'early' }, 'early');
    await first.waitForExecution(arn);
    await first.close();
    // Rewrite it as the process would have left it right after ExecutionStarted.
    const file = join(dataDir, 'stepfunctions', 'Gate', 'early.json');
    const record = JSON.parse(readFileSync(file, 'utf8'));
    writeFileSync(
      file,
      JSON.stringify({
        ...record,
        status: 'RUNNING',
        stopDate: undefined,
        output: undefined,
        events: [record.events[0]],
      }),
    );
    const restarted = makeService({ dataDir });
    expect(await restarted.waitForExecution(arn, { timeoutMs: 10_000 })).toMatchObject({
      status: 'SUCCEEDED',
      output: '{"id":"early"}',
    });
    expect(statesEntered(restarted.getExecutionHistory(arn))).toEqual(['Work', 'Done']);
    await restarted.close();
  });

  test('an execution that cannot be resumed is FAILED (States.Runtime) after a restart, and the reason logged', async () => {
    const first = makeService({ dataDir });
    const arn = await start(first, { id: 'broken' }, 'broken');
    await first.waitForExecution(arn);
    await first.close();
    const file = join(dataDir, 'stepfunctions', 'Gate', 'broken.json');
    const record = JSON.parse(readFileSync(file, 'utf8'));
    // The Work state entered with an input that is not JSON: the resume throws.
    const events = record.events.slice(0, 2);
    events[1].stateEnteredEventDetails.input = '{not json';
    writeFileSync(
      file,
      JSON.stringify({ ...record, status: 'RUNNING', stopDate: undefined, output: undefined, events }),
    );
    const logged: string[] = [];
    const restarted = makeService({ dataDir, log: (line) => logged.push(line) });
    const described = await restarted.waitForExecution(arn);
    expect(described).toMatchObject({ status: 'FAILED', error: 'States.Runtime', cause: RESTART_CAUSE });
    expect(eventTypes(restarted.getExecutionHistory(arn))).toEqual([
      'ExecutionStarted',
      'TaskStateEntered',
      'ExecutionFailed',
    ]);
    expect(logged.join('\n')).toContain('could not resume');
    expect(JSON.parse(readFileSync(file, 'utf8')).status).toBe('FAILED');
    await restarted.close();
  });

  test('close() waits for running executions, then stops the stragglers', async () => {
    const closing = makeService();
    const quick = await start(closing, { id: 'quick' }, 'quick');
    const stuck = await start(closing, { id: 'stuck', hold: true }, 'stuck');
    await closing.close();
    expect((await closing.waitForExecution(quick)).status).toBe('SUCCEEDED');
    expect(await closing.waitForExecution(stuck)).toMatchObject({
      status: 'ABORTED',
      error: 'States.Runtime',
    });
    expect((await awsErrorOf(start(closing, { id: 'late' }, 'late'))).type).toBe('ServiceUnavailable');
    await open('stuck');
  });
});

describe('UpdateStateMachine', () => {
  const SAY = (word: string) =>
    JSON.stringify({ StartAt: 'Say', States: { Say: { Type: 'Pass', Result: word, End: true } } });

  test('new executions run the new definition; a running one keeps the definition it started with', async () => {
    const own = makeService();
    try {
      const running = await start(own, { id: 'upd-1', hold: true });
      await called('upd-1');
      const answer = (await own.handle('UpdateStateMachine', {
        stateMachineArn: MACHINE,
        definition: SAY('updated'),
      })) as { updateDate: number; revisionId: string };
      expect(typeof answer.updateDate).toBe('number');
      expect(answer.revisionId).toMatch(/^[0-9a-f-]{36}$/);
      const described = (await own.handle('DescribeStateMachine', { stateMachineArn: MACHINE })) as {
        definition: string;
      };
      expect(described.definition).toBe(SAY('updated'));
      const fresh = await start(own, {});
      expect((await own.waitForExecution(fresh)).output).toBe('"updated"');
      await open('upd-1');
      expect(JSON.parse((await own.waitForExecution(running)).output ?? '{}')).toEqual({
        id: 'upd-1',
        hold: true,
      });
    } finally {
      await own.close();
    }
  });

  test('bad requests get the AWS error types and change nothing', async () => {
    const own = makeService();
    try {
      expect((await awsErrorOf(own.handle('UpdateStateMachine', { stateMachineArn: MACHINE }))).type).toBe(
        'MissingRequiredParameter',
      );
      expect(
        (
          await awsErrorOf(
            own.handle('UpdateStateMachine', { stateMachineArn: MACHINE, definition: '{"StartAt":"Nope"}' }),
          )
        ).type,
      ).toBe('InvalidDefinition');
      expect(
        (
          await awsErrorOf(
            own.handle('UpdateStateMachine', { stateMachineArn: `${MACHINE}Nope`, definition: SAY('x') }),
          )
        ).type,
      ).toBe('StateMachineDoesNotExist');
      const described = (await own.handle('DescribeStateMachine', { stateMachineArn: MACHINE })) as {
        definition: string;
      };
      expect(described.definition).toBe(DEFINITION);
    } finally {
      await own.close();
    }
  });
});
