import { createHash, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type {
  DescribeExecutionInput,
  DescribeExecutionOutput,
  DescribeStateMachineForExecutionInput,
  DescribeStateMachineInput,
  GetExecutionHistoryInput,
  ListExecutionsInput,
  ListStateMachinesInput,
  RedriveExecutionInput,
  StartExecutionInput,
  StopExecutionInput,
  UpdateStateMachineInput,
} from '@aws-sdk/client-sfn';
import type { IamAuthority } from '../iam/authority.ts';
import type { LambdaInvoker } from '../types.ts';
import { AwsError, type JsonService } from '../wire/aws-error.ts';
import { defineInput } from '../wire/input.ts';
import { encodePageToken, offsetPageToken, pageOffset, readPageToken } from '../wire/paging.ts';
import {
  appendEvent,
  dataDetails,
  EXECUTION_STATUSES,
  type ExecutionRecord,
  type LocalHistoryEvent,
  toWire,
  withoutExecutionData,
} from './history.ts';
import type { TaskAccess } from './integrations.ts';
import {
  type CompiledDefinition,
  compileDefinition,
  ExecutionRun,
  InvalidDefinitionError,
  type ResumePoint,
} from './runner.ts';
import { ExecutionStore } from './store.ts';

/** Options of {@link StepFunctionsService}. */
export interface StepFunctionsServiceOptions {
  /** The local cloud's data directory; executions persist under `<dataDir>/stepfunctions`. In memory without it. */
  readonly dataDir?: string;
  /** Runs the functions `lambda:invoke` tasks and Lambda-ARN tasks name. */
  readonly lambda: LambdaInvoker;
  /** The client `arn:aws:states:::dynamodb:*` tasks call (pointed at DynamoDB Local). */
  readonly dynamodb: DynamoDBClient;
  /**
   * Multiplies Retry pauses and Wait durations (0.01 → a 2 s backoff takes 20 ms, jitter kept).
   * Task and execution `TimeoutSeconds` are not scaled. @default 1
   */
  readonly timeScale?: number;
  readonly accountId: string;
  readonly region: string;
  /**
   * IAM: each task's calls (Lambda invocations, DynamoDB requests) are authorized as a session of the state
   * machine's role before they are sent; a denial is the task error AWS reports. @default no checks
   */
  readonly iam?: IamAuthority;
  /** Where the service reports what it could not do quietly (an execution it could not resume). @default stderr */
  readonly log?: (message: string) => void;
}

/** A state machine to create, as the template declares it (definition substitutions already done). */
export interface StateMachineSpec {
  readonly name: string;
  readonly arn: string;
  readonly definition: string;
  readonly roleArn: string;
  readonly type: 'STANDARD' | 'EXPRESS';
  /** CloudFormation (`Level`, `Destinations`…) or API (`level`…) shape; answered in the API shape. */
  readonly loggingConfiguration?: unknown;
  readonly tracingConfiguration?: unknown;
}

interface StateMachineEntry {
  readonly name: string;
  readonly arn: string;
  readonly definition: string;
  readonly roleArn: string;
  readonly type: 'STANDARD' | 'EXPRESS';
  readonly loggingConfiguration: unknown;
  readonly tracingConfiguration: unknown;
  readonly creationDate: Date;
  /** When UpdateStateMachine last changed it (absent: never). */
  readonly updateDate?: Date;
  readonly compiled: CompiledDefinition;
}

/** Bad configuration of the service itself (not an AWS API error). */
export class StepFunctionsConfigError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'StepFunctionsConfigError';
  }
}

/** Cause recorded on an execution found RUNNING at start that could not be resumed (see #resumeAfterRestart). */
export const RESTART_CAUSE = 'local cloud restarted while the execution was running';
/** Cause recorded on executions still running when {@link StepFunctionsService.close} gives up waiting. */
export const STOP_CAUSE = 'local cloud stopped while the execution was running';

const CLOSE_GRACE_MS = 2_000;
const MAX_INPUT_BYTES = 256 * 1024;
const OPERATIONS = [
  'StartExecution',
  'DescribeExecution',
  'GetExecutionHistory',
  'ListExecutions',
  'StopExecution',
  'RedriveExecution',
  'ListStateMachines',
  'DescribeStateMachine',
  'DescribeStateMachineForExecution',
  'UpdateStateMachine',
];

/** `maxResults` of the listings: 0 (or absent) means the default page of 100. */
const MAX_RESULTS = { type: 'integer', optional: true, min: 0, max: 1000 } as const;
const DEFAULT_PAGE = 100;

/** The input of each operation, as the SDK types it. */
const INPUT = {
  StartExecution: defineInput<StartExecutionInput>()({
    stateMachineArn: 'string',
    name: 'string?',
    input: 'string?',
  }),
  DescribeExecution: defineInput<DescribeExecutionInput>()({ executionArn: 'string' }),
  GetExecutionHistory: defineInput<GetExecutionHistoryInput>()({
    executionArn: 'string',
    maxResults: MAX_RESULTS,
    reverseOrder: 'boolean?',
    nextToken: 'string?',
    includeExecutionData: 'boolean?',
  }),
  ListExecutions: defineInput<ListExecutionsInput>()({
    stateMachineArn: 'string',
    statusFilter: { type: 'string', optional: true, oneOf: EXECUTION_STATUSES },
    maxResults: MAX_RESULTS,
    nextToken: 'string?',
  }),
  StopExecution: defineInput<StopExecutionInput>()({
    executionArn: 'string',
    error: { type: 'string', optional: true, max: 256 },
    cause: { type: 'string', optional: true, max: 32768 },
  }),
  RedriveExecution: defineInput<RedriveExecutionInput>()({
    executionArn: 'string',
    clientToken: { type: 'string', optional: true, min: 1, max: 64 },
  }),
  ListStateMachines: defineInput<ListStateMachinesInput>()({ maxResults: MAX_RESULTS, nextToken: 'string?' }),
  DescribeStateMachine: defineInput<DescribeStateMachineInput>()({ stateMachineArn: 'string' }),
  DescribeStateMachineForExecution: defineInput<DescribeStateMachineForExecutionInput>()({
    executionArn: 'string',
  }),
  UpdateStateMachine: defineInput<UpdateStateMachineInput>()({
    stateMachineArn: 'string',
    definition: 'string?',
    roleArn: 'string?',
    loggingConfiguration: 'map?',
    tracingConfiguration: 'map?',
    publish: 'boolean?',
  }),
};

const invalidToken = (token: string): AwsError => new AwsError('InvalidToken', `Invalid Token: '${token}'`);

// AWS: 1–80 characters; no whitespace, brackets, wildcards, special characters or control characters.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what AWS forbids.
const VALID_NAME = /^[^\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]{1,80}$/u;

/**
 * The local AWS Step Functions: runs state machine definitions with aws-local-stepfunctions, records
 * every execution's history as AWS `HistoryEvent`s, persists it, and answers the `AWSStepFunctions.*`
 * JSON API so that `@aws-sdk/client-sfn` (the CLI, the publisher Lambda) talks to it as to AWS.
 */
export class StepFunctionsService implements JsonService {
  readonly #lambda: LambdaInvoker;
  readonly #dynamodb: DynamoDBClient;
  readonly #timeScale: number;
  readonly #accountId: string;
  readonly #region: string;
  readonly #iam: IamAuthority | undefined;
  readonly #store: ExecutionStore;
  readonly #machines = new Map<string, StateMachineEntry>();
  readonly #records = new Map<string, ExecutionRecord>();
  readonly #runs = new Map<string, ExecutionRun>();
  /** Executions found RUNNING on disk at start, waiting for their state machine to be created to carry on. */
  readonly #interrupted: ExecutionRecord[] = [];
  readonly #log: (message: string) => void;
  #closing = false;

  constructor(options: StepFunctionsServiceOptions) {
    const timeScale = options.timeScale ?? 1;
    if (!Number.isFinite(timeScale) || timeScale <= 0) {
      throw new StepFunctionsConfigError(
        `timeScale must be a positive number (1 = real time, 0.01 = 100× faster); received ${String(options.timeScale)}.`,
      );
    }
    this.#lambda = options.lambda;
    this.#dynamodb = options.dynamodb;
    this.#timeScale = timeScale;
    this.#accountId = options.accountId;
    this.#region = options.region;
    this.#iam = options.iam;
    this.#log = options.log ?? ((message) => console.error(message));
    this.#store = new ExecutionStore(
      options.dataDir === undefined ? undefined : join(options.dataDir, 'stepfunctions'),
    );
    for (const record of this.#store.loadAll()) {
      this.#records.set(record.executionArn, record);
      // The interpreter's state died with the process; AWS never loses a running execution, so the execution
      // carries on from the state it was in once its state machine is deployed again (see #resumeAfterRestart).
      if (record.status === 'RUNNING') this.#interrupted.push(record);
    }
  }

  /** Creates (or, on a re-deploy, replaces) a state machine. Throws AwsError InvalidName / InvalidDefinition. */
  createStateMachine(spec: StateMachineSpec): void {
    if (!VALID_NAME.test(spec.name)) throw new AwsError('InvalidName', `Invalid Name: '${spec.name}'`);
    if (spec.type !== 'STANDARD' && spec.type !== 'EXPRESS') {
      throw new AwsError(
        'ValidationException',
        `Invalid state machine type '${String(spec.type)}': use STANDARD or EXPRESS.`,
      );
    }
    const compiled = compileOrThrow(spec.definition);
    const previous = this.#machines.get(spec.arn);
    this.#machines.set(spec.arn, {
      name: spec.name,
      arn: spec.arn,
      definition: spec.definition,
      roleArn: spec.roleArn,
      type: spec.type,
      loggingConfiguration: toApiShape(spec.loggingConfiguration) ?? {
        level: 'OFF',
        includeExecutionData: false,
      },
      tracingConfiguration: toApiShape(spec.tracingConfiguration) ?? { enabled: false },
      creationDate: previous?.creationDate ?? new Date(),
      compiled,
    });
    this.#resumeAfterRestart(spec.arn);
  }

  /**
   * Executions that were RUNNING when the previous process died carry on, as on AWS: each restarts at the
   * top-level state it was in (entered, not exited), with the input it was entered with, continuing its history
   * (no ExecutionRedriven event, redriveCount unchanged). A Task that was mid-invocation is invoked again, as Step
   * Functions does after a lost invocation. Nothing entered yet: StartAt with the execution input. Only if the
   * resume itself throws is the execution closed visibly: FAILED, States.Runtime, {@link RESTART_CAUSE}.
   */
  #resumeAfterRestart(stateMachineArn: string): void {
    const machine = this.#machines.get(stateMachineArn);
    if (machine === undefined) return;
    for (let i = this.#interrupted.length - 1; i >= 0; i--) {
      const record = this.#interrupted[i];
      if (record === undefined || record.stateMachineArn !== stateMachineArn) continue;
      this.#interrupted.splice(i, 1);
      if (record.status !== 'RUNNING') continue;
      try {
        const resume = resumePointOf(record, machine.compiled);
        // Checked here, where a failure can still be reported as the restart's: the runner would fail the
        // execution with a bare interpreter message.
        JSON.parse(resume.input);
        this.#run(record, machine, resume);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        this.#log(
          `stepfunctions: could not resume ${record.executionArn} after the restart (${reason}); marking it FAILED`,
        );
        this.#runs.delete(record.executionArn);
        const now = new Date();
        appendEvent(
          record,
          'ExecutionFailed',
          { executionFailedEventDetails: { error: 'States.Runtime', cause: RESTART_CAUSE } },
          now,
        );
        record.status = 'FAILED';
        record.stopDate = now;
        record.error = 'States.Runtime';
        record.cause = RESTART_CAUSE;
        this.#store.saveSync(record);
      }
    }
  }

  /** Answers one `AWSStepFunctions.<operation>` request; throws AwsError as AWS would. */
  async handle(operation: string, input: Record<string, unknown>): Promise<unknown> {
    switch (operation) {
      case 'StartExecution':
        return toWire(this.#startExecution(input));
      case 'DescribeExecution':
        return toWire(this.#describe(this.#recordOf(INPUT.DescribeExecution.parse(input).executionArn)));
      case 'GetExecutionHistory':
        return toWire(this.#history(input));
      case 'ListExecutions':
        return toWire(this.#listExecutions(input));
      case 'StopExecution':
        return toWire(this.#stopExecution(input));
      case 'RedriveExecution':
        return toWire(this.#redriveExecution(input));
      case 'ListStateMachines':
        return toWire(this.#listStateMachines(input));
      case 'DescribeStateMachine':
        return toWire(
          this.#describeMachine(this.#machineOf(INPUT.DescribeStateMachine.parse(input).stateMachineArn)),
        );
      case 'UpdateStateMachine':
        return toWire(this.#updateStateMachine(input));
      case 'DescribeStateMachineForExecution': {
        const record = this.#recordOf(INPUT.DescribeStateMachineForExecution.parse(input).executionArn);
        const { status: _status, ...machine } = this.#describeMachine(
          this.#machineOf(record.stateMachineArn),
        );
        return toWire({
          ...machine,
          updateDate: this.#machineOf(record.stateMachineArn).updateDate ?? machine.creationDate,
        });
      }
      default:
        throw new AwsError(
          'UnknownOperationException',
          `The local Step Functions does not implement ${operation}. It implements: ${OPERATIONS.join(', ')}.`,
        );
    }
  }

  /**
   * Resolves with the execution's description once it is no longer RUNNING (in-process helper for the
   * cloud and tests). Throws AwsError ExecutionDoesNotExist, or an Error after `timeoutMs`.
   */
  async waitForExecution(
    executionArn: string,
    options: { timeoutMs?: number } = {},
  ): Promise<DescribeExecutionOutput> {
    const record = this.#recordOf(executionArn);
    const run = this.#runs.get(executionArn);
    if (run !== undefined) {
      let timer: NodeJS.Timeout | undefined;
      const timeout =
        options.timeoutMs === undefined
          ? new Promise<never>(() => undefined)
          : new Promise<never>((_, reject) => {
              timer = setTimeout(
                () =>
                  reject(
                    new Error(
                      `Execution ${executionArn} was still RUNNING after ${options.timeoutMs} ms of waiting.`,
                    ),
                  ),
                options.timeoutMs,
              );
            });
      try {
        await Promise.race([run.done, timeout]);
      } finally {
        clearTimeout(timer);
      }
    }
    return this.#describe(record);
  }

  /** The execution's full history, oldest first (in-process; timestamps as `Date`). */
  getExecutionHistory(executionArn: string): readonly LocalHistoryEvent[] {
    return [...this.#recordOf(executionArn).events];
  }

  /**
   * Stops accepting executions, waits up to 2 s for running ones, stops the rest (ExecutionAborted,
   * error States.Runtime, cause {@link STOP_CAUSE}) and writes everything to disk.
   */
  async close(): Promise<void> {
    this.#closing = true;
    const running = [...this.#runs.values()];
    if (running.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(running.map((run) => run.done)),
        new Promise((resolve) => {
          timer = setTimeout(resolve, CLOSE_GRACE_MS);
        }),
      ]);
      clearTimeout(timer);
      for (const run of this.#runs.values()) run.stop('States.Runtime', STOP_CAUSE);
    }
    await this.#store.flush();
  }

  #startExecution(input: Record<string, unknown>): { executionArn: string; startDate: Date } {
    const request = INPUT.StartExecution.parse(input);
    const machine = this.#machineOf(request.stateMachineArn);
    const name = request.name ?? randomUUID();
    if (!VALID_NAME.test(name)) throw new AwsError('InvalidName', `Invalid Name: '${name}'`);
    const rawInput = request.input ?? '{}';
    if (Buffer.byteLength(rawInput) > MAX_INPUT_BYTES) {
      throw new AwsError(
        'InvalidExecutionInput',
        `Invalid State Machine Execution Input: 'The input is ${Buffer.byteLength(rawInput)} bytes; the limit is ${MAX_INPUT_BYTES}.'`,
      );
    }
    try {
      JSON.parse(rawInput);
    } catch (error) {
      throw new AwsError(
        'InvalidExecutionInput',
        `Invalid State Machine Execution Input: '${(error as Error).message}'`,
      );
    }
    const executionArn = `arn:aws:states:${this.#region}:${this.#accountId}:execution:${machine.name}:${name}`;
    const existing = this.#records.get(executionArn);
    if (existing !== undefined) {
      // AWS: the same name and input while the execution runs is an idempotent retry of the same request.
      if (existing.status === 'RUNNING' && existing.input === rawInput) {
        return { executionArn, startDate: existing.startDate };
      }
      throw new AwsError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
    }
    if (this.#closing) {
      throw new AwsError(
        'ServiceUnavailable',
        'The local cloud is shutting down; start the execution after it restarts.',
        503,
      );
    }
    const startDate = new Date();
    const record: ExecutionRecord = {
      executionArn,
      stateMachineArn: machine.arn,
      name,
      roleArn: machine.roleArn,
      startDate,
      input: rawInput,
      status: 'RUNNING',
      events: [],
    };
    appendEvent(
      record,
      'ExecutionStarted',
      {
        executionStartedEventDetails: {
          input: rawInput,
          inputDetails: dataDetails(),
          roleArn: machine.roleArn,
        },
      },
      startDate,
    );
    this.#records.set(executionArn, record);
    this.#store.save(record);
    this.#run(record, machine);
    return { executionArn, startDate };
  }

  /** Runs an execution whose record holds its events so far (from StartAt, or from `resume` for a redrive). */
  #run(record: ExecutionRecord, machine: StateMachineEntry, resume?: ResumePoint): void {
    const run = new ExecutionRun(
      record,
      { arn: machine.arn, name: machine.name, compiled: machine.compiled },
      {
        lambda: this.#lambda,
        dynamodb: this.#dynamodb,
        region: this.#region,
        timeScale: this.#timeScale,
        access: this.#taskAccess(machine),
      },
      () => this.#store.save(record),
    );
    const { executionArn } = record;
    this.#runs.set(executionArn, run);
    void run.done.then(() => {
      if (this.#runs.get(executionArn) === run) this.#runs.delete(executionArn);
    });
    run.start(resume);
  }

  /**
   * AWS RedriveExecution: restarts a FAILED, TIMED_OUT or ABORTED Standard execution from the state it ended in
   * (the unsuccessful step), with the input that state had, keeping the history: an `ExecutionRedriven` event,
   * then that state entered again. The same execution ARN, status RUNNING, `redriveCount` + 1. Not redrivable
   * (see {@link redriveStatusOf}): `ExecutionNotRedrivable` with the reason DescribeExecution gives.
   */
  #redriveExecution(input: Record<string, unknown>): { redriveDate: Date } {
    const { executionArn, clientToken } = INPUT.RedriveExecution.parse(input);
    const record = this.#recordOf(executionArn);
    // A retry of the redrive that succeeded (same clientToken): its answer again, not a second redrive.
    if (
      clientToken !== undefined &&
      record.redriveToken === clientToken &&
      record.redriveDate !== undefined
    ) {
      return { redriveDate: record.redriveDate };
    }
    const machine = this.#machineOf(record.stateMachineArn);
    const verdict = redriveStatusOf(record, machine.type);
    if (verdict.reason !== undefined) throw new AwsError('ExecutionNotRedrivable', verdict.reason);
    if (this.#closing) {
      throw new AwsError(
        'ServiceUnavailable',
        'The local cloud is shutting down; redrive the execution after it restarts.',
        503,
      );
    }
    const resume = resumePointOf(record, machine.compiled);
    const redriveDate = new Date();
    const redriveCount = (record.redriveCount ?? 0) + 1;
    record.status = 'RUNNING';
    record.stopDate = undefined;
    record.output = undefined;
    record.error = undefined;
    record.cause = undefined;
    record.redriveCount = redriveCount;
    record.redriveDate = redriveDate;
    record.redriveToken = clientToken;
    appendEvent(
      record,
      'ExecutionRedriven',
      { executionRedrivenEventDetails: { redriveCount } },
      redriveDate,
    );
    this.#store.save(record);
    this.#run(record, machine, resume);
    return { redriveDate };
  }

  /**
   * IAM for an execution's tasks: a session of the machine's role. Its name is a 32-hex-digit id, as Step Functions
   * names its sessions, derived from the machine and role so that warn mode reports a denial once, not per execution.
   */
  #taskAccess(machine: StateMachineEntry): TaskAccess | undefined {
    const iam = this.#iam;
    if (iam === undefined) return undefined;
    const sessionName = createHash('sha256')
      .update(`${machine.arn}\n${machine.roleArn}`)
      .digest('hex')
      .slice(0, 32);
    const principal = iam.sessionPrincipal(machine.roleArn, sessionName);
    return {
      region: this.#region,
      accountId: this.#accountId,
      authorize: (requests) => iam.authorizeAll(principal, requests),
    };
  }

  #describe(record: ExecutionRecord): DescribeExecutionOutput {
    return {
      executionArn: record.executionArn,
      stateMachineArn: record.stateMachineArn,
      name: record.name,
      status: record.status,
      startDate: record.startDate,
      stopDate: record.stopDate,
      input: record.input,
      inputDetails: { included: true },
      output: record.output,
      outputDetails: record.output === undefined ? undefined : { included: true },
      error: record.error,
      cause: record.cause,
      redriveCount: record.redriveCount ?? 0,
      redriveDate: record.redriveDate,
      ...this.#redriveStatus(record),
    };
  }

  #redriveStatus(
    record: ExecutionRecord,
  ): Pick<DescribeExecutionOutput, 'redriveStatus' | 'redriveStatusReason'> {
    const machine = this.#machines.get(record.stateMachineArn);
    const { reason } = redriveStatusOf(record, machine?.type ?? 'STANDARD');
    return reason === undefined
      ? { redriveStatus: 'REDRIVABLE' }
      : { redriveStatus: 'NOT_REDRIVABLE', redriveStatusReason: reason };
  }

  #history(input: Record<string, unknown>): { events: LocalHistoryEvent[]; nextToken?: string } {
    const request = INPUT.GetExecutionHistory.parse(input);
    const record = this.#recordOf(request.executionArn);
    const maxResults = request.maxResults || DEFAULT_PAGE;
    const reverse = request.reverseOrder === true;
    const token = request.nextToken;
    let cursor = reverse ? Number.POSITIVE_INFINITY : 0;
    if (token !== undefined) {
      // A token belongs to its request: another execution or order is refused.
      cursor = readPageToken(
        token,
        (c) => (c.a === record.executionArn && c.r === reverse && typeof c.c === 'number' ? c.c : undefined),
        invalidToken,
      );
    }
    const candidates = reverse
      ? record.events.filter((event) => event.id < cursor).reverse()
      : record.events.filter((event) => event.id > cursor);
    const page = candidates.slice(0, maxResults);
    const last = page.at(-1);
    const events = request.includeExecutionData === false ? page.map(withoutExecutionData) : page;
    return candidates.length > page.length && last !== undefined
      ? { events, nextToken: encodePageToken({ a: record.executionArn, r: reverse, c: last.id }) }
      : { events };
  }

  #listExecutions(input: Record<string, unknown>): { executions: unknown[]; nextToken?: string } {
    const { stateMachineArn, statusFilter, maxResults, nextToken: token } = INPUT.ListExecutions.parse(input);
    const all = [...this.#records.values()].filter((record) => record.stateMachineArn === stateMachineArn);
    if (all.length === 0) this.#machineOf(stateMachineArn);
    const sorted = all
      .filter((record) => statusFilter === undefined || record.status === statusFilter)
      .sort(
        (a, b) => b.startDate.getTime() - a.startDate.getTime() || compare(b.executionArn, a.executionArn),
      );
    let candidates = sorted;
    if (token !== undefined) {
      const { t, a } = readPageToken(
        token,
        (c) =>
          c.s === stateMachineArn && c.f === (statusFilter ?? null) && typeof c.t === 'number'
            ? { t: c.t, a: String(c.a) }
            : undefined,
        invalidToken,
      );
      // Keyset paging: executions started meanwhile do not shift the pages already handed out.
      candidates = sorted.filter(
        (r) => r.startDate.getTime() < t || (r.startDate.getTime() === t && compare(r.executionArn, a) < 0),
      );
    }
    const page = candidates.slice(0, maxResults || DEFAULT_PAGE);
    const executions = page.map((record) => ({
      executionArn: record.executionArn,
      stateMachineArn: record.stateMachineArn,
      name: record.name,
      status: record.status,
      startDate: record.startDate,
      stopDate: record.stopDate,
      redriveCount: record.redriveCount ?? 0,
      redriveDate: record.redriveDate,
    }));
    const last = page.at(-1);
    return candidates.length > page.length && last !== undefined
      ? {
          executions,
          nextToken: encodePageToken({
            s: stateMachineArn,
            f: statusFilter ?? null,
            t: last.startDate.getTime(),
            a: last.executionArn,
          }),
        }
      : { executions };
  }

  #stopExecution(input: Record<string, unknown>): { stopDate: Date } {
    const { executionArn, error, cause } = INPUT.StopExecution.parse(input);
    const record = this.#recordOf(executionArn);
    this.#runs.get(record.executionArn)?.stop(error, cause);
    return { stopDate: record.stopDate ?? new Date() };
  }

  #listStateMachines(input: Record<string, unknown>): { stateMachines: unknown[]; nextToken?: string } {
    const all = [...this.#machines.values()].sort((a, b) => compare(a.name, b.name));
    const request = INPUT.ListStateMachines.parse(input);
    const offset = pageOffset(request.nextToken, invalidToken);
    const max = request.maxResults || DEFAULT_PAGE;
    const stateMachines = all.slice(offset, offset + max).map((machine) => ({
      stateMachineArn: machine.arn,
      name: machine.name,
      type: machine.type,
      creationDate: machine.creationDate,
    }));
    return offset + max < all.length
      ? { stateMachines, nextToken: offsetPageToken(offset + max) }
      : { stateMachines };
  }

  /**
   * AWS UpdateStateMachine: replaces the definition, role, logging or tracing configuration (at least one). As on
   * AWS, executions already running keep the definition they started with; new ones use the new one. Versions
   * (`publish`) are not modelled: asking for one is a ValidationException, not a silent success.
   */
  #updateStateMachine(input: Record<string, unknown>): { updateDate: Date; revisionId: string } {
    const { stateMachineArn, definition, roleArn, loggingConfiguration, tracingConfiguration, publish } =
      INPUT.UpdateStateMachine.parse(input);
    const machine = this.#machineOf(stateMachineArn);
    if (
      definition === undefined &&
      roleArn === undefined &&
      loggingConfiguration === undefined &&
      tracingConfiguration === undefined
    ) {
      throw new AwsError(
        'MissingRequiredParameter',
        'Either the definition, roleArn, loggingConfiguration or tracingConfiguration must be specified',
      );
    }
    if (publish === true) {
      throw new AwsError(
        'ValidationException',
        'The local Step Functions does not model state machine versions: UpdateStateMachine with publish is not supported.',
      );
    }
    const updateDate = new Date();
    this.#machines.set(machine.arn, {
      ...machine,
      ...(definition === undefined ? {} : { definition, compiled: compileOrThrow(definition) }),
      ...(roleArn === undefined ? {} : { roleArn }),
      ...(loggingConfiguration === undefined ? {} : { loggingConfiguration }),
      ...(tracingConfiguration === undefined ? {} : { tracingConfiguration }),
      updateDate,
    });
    return { updateDate, revisionId: randomUUID() };
  }

  #describeMachine(machine: StateMachineEntry): Record<string, unknown> & { creationDate: Date } {
    return {
      stateMachineArn: machine.arn,
      name: machine.name,
      status: 'ACTIVE',
      definition: machine.definition,
      roleArn: machine.roleArn,
      type: machine.type,
      creationDate: machine.creationDate,
      loggingConfiguration: machine.loggingConfiguration,
      tracingConfiguration: machine.tracingConfiguration,
    };
  }

  #machineOf(arn: string): StateMachineEntry {
    const machine = this.#machines.get(arn);
    if (machine !== undefined) return machine;
    if (!/^arn:aws[\w-]*:states:[^:]+:\d{12}:stateMachine:[^:]+$/.test(arn)) {
      throw new AwsError('InvalidArn', `Invalid Arn: 'Resource type not valid in this context: ${arn}'`);
    }
    throw new AwsError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`);
  }

  #recordOf(arn: string): ExecutionRecord {
    const record = this.#records.get(arn);
    if (record !== undefined) return record;
    if (!/^arn:aws[\w-]*:states:[^:]+:\d{12}:execution:[^:]+:[^:]+$/.test(arn)) {
      throw new AwsError('InvalidArn', `Invalid Arn: 'Resource type not valid in this context: ${arn}'`);
    }
    throw new AwsError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
  }
}

const DAY_MS = 24 * 60 * 60 * 1000;
/** AWS: an execution may be redriven within 14 days of its end… */
const REDRIVABLE_PERIOD_MS = 14 * DAY_MS;
/** …and while it has been open less than the maximum execution time of one year. */
const MAX_EXECUTION_TIME_MS = 365 * DAY_MS;
/** AWS's quota of history events per execution (25,000); a redrive appends events. */
const MAX_HISTORY_EVENTS = 25_000;

/**
 * Whether RedriveExecution would accept the execution, with AWS's `redriveStatusReason` when it would not (the
 * reasons documented for DescribeExecution: RUNNING, SUCCEEDED, history event limit, max execution time,
 * redrivable period; Express executions are never redrivable).
 */
export function redriveStatusOf(
  record: Pick<ExecutionRecord, 'status' | 'startDate' | 'stopDate' | 'events'>,
  type: 'STANDARD' | 'EXPRESS',
  now: number = Date.now(),
): { reason?: string } {
  if (type === 'EXPRESS') return { reason: 'Execution is of type EXPRESS and cannot be redriven' };
  if (record.status === 'RUNNING' || record.status === 'SUCCEEDED') {
    return { reason: `Execution is ${record.status} and cannot be redriven` };
  }
  if (record.events.length >= MAX_HISTORY_EVENTS) return { reason: 'Execution history event limit exceeded' };
  if (now - record.startDate.getTime() > MAX_EXECUTION_TIME_MS) {
    return { reason: 'Execution has exceeded the max execution time' };
  }
  if (record.stopDate !== undefined && now - record.stopDate.getTime() > REDRIVABLE_PERIOD_MS) {
    return { reason: 'Execution redrivable period exceeded' };
  }
  return {};
}

/**
 * The state a redrive restarts at: the top-level state the execution ended in (entered and never exited: the
 * task that failed or was aborted, or the Fail state), with the input it was entered with. None entered (it
 * failed before its first state): StartAt with the execution input. For a Map or Parallel state, the iterations
 * or branches that succeeded in that visit (the record's `partialResults`) are to be reused, not run again.
 */
export function resumePointOf(
  record: Pick<ExecutionRecord, 'events' | 'input' | 'partialResults'>,
  compiled: CompiledDefinition,
): ResumePoint {
  const point = openStateOf(record, compiled);
  const partial = record.partialResults;
  const type = compiled.states.get(point.state)?.type;
  if (partial?.state !== point.state || (type !== 'Map' && type !== 'Parallel')) return point;
  const reuse = new Map(Object.entries(partial.outputs).map(([index, output]) => [Number(index), output]));
  return reuse.size === 0 ? point : { ...point, reuse };
}

function openStateOf(
  record: Pick<ExecutionRecord, 'events' | 'input'>,
  compiled: CompiledDefinition,
): ResumePoint {
  const topLevel = compiled.definition.States as Record<string, unknown>;
  let open: ResumePoint | undefined;
  for (const event of record.events) {
    const entered = event.stateEnteredEventDetails;
    if (entered?.name !== undefined && Object.hasOwn(topLevel, entered.name)) {
      open = { state: entered.name, input: entered.input ?? 'null' };
      continue;
    }
    const exited = event.stateExitedEventDetails;
    if (exited?.name !== undefined && exited.name === open?.state) open = undefined;
  }
  return open ?? { state: String(compiled.definition.StartAt), input: record.input };
}

/** Compiles a definition; an invalid one is AWS's `InvalidDefinition`. */
function compileOrThrow(definition: string): CompiledDefinition {
  try {
    return compileDefinition(definition);
  } catch (error) {
    if (error instanceof InvalidDefinitionError) {
      throw new AwsError('InvalidDefinition', `Invalid State Machine Definition: '${error.message}'`, 400, {
        cause: error,
      });
    }
    throw error;
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** CloudFormation's PascalCase configuration (`Level`, `IncludeExecutionData`…) in the API's camelCase. */
function toApiShape(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toApiShape);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    out[key.charAt(0).toLowerCase() + key.slice(1)] = toApiShape(inner);
  }
  return out;
}
