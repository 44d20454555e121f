import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  ExecutionError,
  type RunOptions,
  StateMachine,
  type StateMachineDefinition,
} from 'aws-local-stepfunctions';
import type { LambdaInvoker } from '../types.ts';
import { appendEvent, dataDetails, type ExecutionRecord, type ExecutionStatus, jsonText } from './history.ts';
import {
  invokeLambdaFunction,
  invokeLambdaIntegration,
  parseTaskResource,
  runAwsSdkDynamoDb,
  runDynamoDbIntegration,
  type TaskAccess,
  type TaskOutcome,
  TaskParametersError,
  type TaskResource,
} from './integrations.ts';
import { type Retrier, retryDelayMs } from './retry.ts';

type LibraryRun = ReturnType<StateMachine['run']>;
type LibraryEvent = LibraryRun['eventLogs'] extends AsyncGenerator<infer E> ? E : never;
type TaskHandlers = NonNullable<NonNullable<RunOptions['overrides']>['taskResourceLocalHandlers']>;
type JsonValue = Parameters<TaskHandlers[string]>[0];
type AslObject = Record<string, unknown>;

/**
 * The interpreter's own Task timeout (it defaults to 60 s, AWS has none) is pushed out of the way: the
 * runner enforces `TimeoutSeconds` itself so that it can record `TaskTimedOut` and give the catcher AWS's
 * `{"Error":"States.Timeout","Cause":""}`. 2,000,000 s still fits a Node timer.
 */
const INTERPRETER_TASK_TIMEOUT_SECONDS = 2_000_000;

/** What the runner needs to know about one state of a definition (nested Map/Parallel states included). */
export interface StateInfo {
  readonly name: string;
  readonly type: string;
  readonly definition: AslObject;
  /** For Task states. */
  readonly resource?: TaskResource;
  /** A Task's `TimeoutSeconds` (not scaled: Lambda's own timeout must keep firing first, as on AWS). */
  readonly timeoutSeconds?: number;
}

/** A definition checked and indexed once per state machine. */
export interface CompiledDefinition {
  readonly definition: AslObject;
  readonly states: ReadonlyMap<string, StateInfo>;
  /** The machine-level `TimeoutSeconds`, if any. */
  readonly timeoutSeconds?: number;
  /**
   * The states that end an iteration or a branch of a top-level Map or Parallel state (End, or Succeed, directly in
   * its ItemProcessor or one of its Branches): exiting one, that iteration (index from the event) or branch
   * (`branch`) has succeeded with the state's output.
   */
  readonly iterationEnds: ReadonlyMap<string, IterationEnd>;
}

/** Where a state ending an iteration or branch belongs (see {@link CompiledDefinition.iterationEnds}). */
export interface IterationEnd {
  /** The top-level Map or Parallel state. */
  readonly parent: string;
  /** For a Parallel state, the position of the branch. */
  readonly branch?: number;
}

/** A definition failed validation; the message lists what is wrong. */
export class InvalidDefinitionError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'InvalidDefinitionError';
  }
}

// asl-validator compiles its schemas on every call (≈250 ms): remember definitions already checked.
const compiledCache = new Map<string, CompiledDefinition>();

/** Parses and validates (asl-validator, through the interpreter) an ASL definition. */
export function compileDefinition(text: string): CompiledDefinition {
  const cached = compiledCache.get(text);
  if (cached !== undefined) return cached;
  const compiled = compileUncached(text);
  compiledCache.set(text, compiled);
  return compiled;
}

function compileUncached(text: string): CompiledDefinition {
  let definition: AslObject;
  try {
    definition = JSON.parse(text) as AslObject;
  } catch (error) {
    throw new InvalidDefinitionError(`The definition is not JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
  try {
    new StateMachine(definition as unknown as StateMachineDefinition);
  } catch (error) {
    throw new InvalidDefinitionError((error as Error).message, { cause: error });
  }
  const states = new Map<string, StateInfo>();
  const index = (machine: AslObject): void => {
    for (const [name, state] of Object.entries(machine.States as Record<string, AslObject>)) {
      const type = String(state.Type);
      const resource = type === 'Task' ? parseTaskResource(String(state.Resource)) : undefined;
      const timeoutSeconds = typeof state.TimeoutSeconds === 'number' ? state.TimeoutSeconds : undefined;
      states.set(name, { name, type, definition: state, resource, timeoutSeconds });
      for (const child of nestedMachines(state)) index(child);
    }
  };
  index(definition);
  const timeoutSeconds =
    typeof definition.TimeoutSeconds === 'number' ? definition.TimeoutSeconds : undefined;
  const iterationEnds = new Map<string, IterationEnd>();
  for (const [parent, state] of Object.entries(definition.States as Record<string, AslObject>)) {
    nestedMachines(state).forEach((machine, position) => {
      for (const [name, inner] of Object.entries(machine.States as Record<string, AslObject>)) {
        if (inner.End !== true && inner.Type !== 'Succeed') continue;
        iterationEnds.set(name, state.Type === 'Parallel' ? { parent, branch: position } : { parent });
      }
    });
  }
  return { definition, states, timeoutSeconds, iterationEnds };
}

function nestedMachines(state: AslObject): AslObject[] {
  if (state.Type === 'Map') return [(state.ItemProcessor ?? state.Iterator) as AslObject].filter(Boolean);
  if (state.Type === 'Parallel') return (state.Branches as AslObject[] | undefined) ?? [];
  return [];
}

/** What an execution talks to. */
export interface RunnerDeps {
  readonly lambda: LambdaInvoker;
  readonly dynamodb: DynamoDBClient;
  readonly region: string;
  /** Multiplies Retry and Wait delays (0 < timeScale). */
  readonly timeScale: number;
  /** IAM for the tasks' calls, made as the state machine's role. @default no checks */
  readonly access?: TaskAccess;
}

/** The machine an execution runs. */
export interface RunnerMachine {
  readonly arn: string;
  readonly name: string;
  readonly compiled: CompiledDefinition;
}

/** Where a redriven execution resumes: the state it failed in, entered again with the input it had then. */
export interface ResumePoint {
  /** A top-level state of the definition. */
  readonly state: string;
  /** The state's input, as JSON text (its `stateEnteredEventDetails.input`). */
  readonly input: string;
  /**
   * For a Map or Parallel state: the iterations (by index) or branches (by position) that succeeded in the previous
   * attempt, with their outputs as JSON text. They are not run again: their outputs take their places in the state's
   * result (see {@link ExecutionRun}).
   */
  readonly reuse?: ReadonlyMap<number, string>;
}

/**
 * The synthetic first state of a redriven run: a Pass state whose Result is the input of the state to resume and
 * whose Next is that state. The interpreter runs from StartAt only; starting here (with the execution's own input)
 * keeps `$$.Execution.Input` the execution's. Its events are not recorded.
 */
const REDRIVE_STATE = 'saga-local:redrive';
/** The runner's own states are named with this prefix; none of their events is recorded. */
const SYNTHETIC_PREFIX = 'saga-local:';
/** First state of a resumed Map's iterations or of a reusable Parallel branch: decides reuse (a handler of ours). */
const REUSE_STATE = 'saga-local:reuse';
const REUSE_CHOICE = 'saga-local:reuse-choice';
/** Ends a reused iteration or branch with its recorded output. */
const REUSED_STATE = 'saga-local:reused';
/** Goes on to the iteration's or branch's own StartAt with its own input. */
const RUN_STATE = 'saga-local:run';

/** Non-retryable, non-catchable `States.Runtime` failure (the interpreter honours these two flags). */
class StatesRuntimeFailure extends Error {
  readonly isRetryable = false;
  readonly isCatchable = false;
  constructor(message: string) {
    super(message);
    this.name = 'States.Runtime';
  }
}

/** A task error as the interpreter matches it: `name` against ErrorEquals, `message` becomes the Cause. */
class TaskFailure extends Error {
  constructor(error: string, cause: string) {
    super(cause);
    this.name = error;
  }
}

let timeoutErrorClass: Promise<new () => Error> | undefined;

/**
 * The interpreter treats `States.TaskFailed` as "anything but its own StatesTimeoutError class", which it
 * does not export. One 1 ms timeout on a throwaway machine hands us that class, so that our timeouts are
 * matched exactly like AWS's (States.ALL and States.Timeout match them, States.TaskFailed does not).
 */
function statesTimeoutErrorClass(): Promise<new () => Error> {
  timeoutErrorClass ??= (async () => {
    const probe = new StateMachine(
      {
        StartAt: 'Probe',
        States: {
          Probe: {
            Type: 'Task',
            Resource: 'arn:aws:lambda:us-east-1:000000000000:function:probe',
            TimeoutSeconds: 0.001,
            End: true,
          },
        },
      },
      { validationOptions: { noValidate: true } },
    );
    const handler = (): Promise<JsonValue> =>
      new Promise((resolve) => setTimeout(() => resolve(null), 20).unref());
    try {
      await probe.run({}, { overrides: { taskResourceLocalHandlers: { Probe: handler } } }).result;
    } catch (error) {
      if (
        error instanceof ExecutionError &&
        error.cause instanceof Error &&
        error.cause.name === 'States.Timeout'
      ) {
        return error.cause.constructor as new () => Error;
      }
    }
    throw new Error(
      'aws-local-stepfunctions no longer raises States.Timeout as expected; check its version (3.0.0).',
    );
  })();
  return timeoutErrorClass;
}

async function statesTimeout(): Promise<Error> {
  const error = new (await statesTimeoutErrorClass())();
  // AWS gives the catcher {"Error":"States.Timeout","Cause":""}.
  error.message = '';
  return error;
}

/** Lets the event consumer catch up: the interpreter queues events synchronously, we read them asynchronously. */
function nextMacrotask(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Runs one execution with aws-local-stepfunctions and records its history as AWS `HistoryEvent`s.
 *
 * State events come from the interpreter's event log; task events (Scheduled/Started/Succeeded/Failed/
 * TimedOut) from our own Task handlers, which every Task state is overridden with. A handler first waits
 * one macrotask so that the log consumer has written the state's Entered event (or the previous attempt's
 * failure) before the task's events: the history keeps AWS's order.
 */
export class ExecutionRun {
  readonly #record: ExecutionRecord;
  readonly #machine: RunnerMachine;
  readonly #deps: RunnerDeps;
  readonly #onChange: () => void;
  readonly #retryCounts = new Map<string, number[]>();
  readonly #caughtOrFailed = new Set<string>();
  #visit = { name: '', enteredTime: '', retryCount: 0, attempts: 0 };
  #lastFailState: StateInfo | undefined;
  #resume: ResumePoint | undefined;
  /** Times the interpreter has entered the resume state (synchronous, see #onVisit): reuse only in the first. */
  #resumeVisits = 0;
  /** Times the event log has shown the resume state entered (the consumer's view of the same count). */
  #resumeEntries = 0;
  /** Outputs of iterations of the open top-level Map that exited their last state, until MapIterationSucceeded. */
  readonly #pendingIterations = new Map<number, string>();
  #closed = false;
  #abort: () => void = () => undefined;
  #resolveDone: () => void = () => undefined;
  /** Resolves when the execution has closed (any status) and its last event is recorded. */
  readonly done: Promise<void>;

  constructor(record: ExecutionRecord, machine: RunnerMachine, deps: RunnerDeps, onChange: () => void) {
    this.#record = record;
    this.#machine = machine;
    this.#deps = deps;
    this.#onChange = onChange;
    this.done = new Promise((resolve) => {
      this.#resolveDone = resolve;
    });
  }

  /** True once the execution has a final status. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Starts the interpreter. The record must already hold its ExecutionStarted event (and, for a redrive, its
   * ExecutionRedriven event); with `resume`, the run starts at that state with that input.
   */
  start(resume?: ResumePoint): void {
    this.#resume = resume;
    let run: LibraryRun;
    try {
      const machine = new StateMachine(this.#runtimeDefinition(resume) as unknown as StateMachineDefinition, {
        validationOptions: { noValidate: true },
      });
      run = machine.run(JSON.parse(this.#record.input) as JsonValue, {
        overrides: {
          taskResourceLocalHandlers: this.#taskHandlers(),
          retryIntervalOverrides: this.#retryOverrides(),
          waitTimeOverrides: this.#waitOverrides(),
        },
        noThrowOnAbort: true,
        context: this.#contextObject(),
      });
    } catch (error) {
      this.#finish('FAILED', 'ExecutionFailed', {
        executionFailedEventDetails: { error: 'States.Runtime', cause: (error as Error).message },
      });
      return;
    }
    this.#abort = run.abort;
    const consumed = this.#consume(run.eventLogs);
    const settled = run.result.then(
      () => undefined,
      () => undefined,
    );
    void Promise.all([consumed, settled]).then(() => {
      // The interpreter always closes its log with a final event; this is a guard, not a path.
      this.#finish('FAILED', 'ExecutionFailed', {
        executionFailedEventDetails: {
          error: 'States.Runtime',
          cause: 'The interpreter stopped without a result.',
        },
      });
    });
  }

  /** StopExecution: records ExecutionAborted and stops the interpreter. False if already closed. */
  stop(error?: string, cause?: string): boolean {
    if (this.#closed) return false;
    this.#finish('ABORTED', 'ExecutionAborted', { executionAbortedEventDetails: { error, cause } });
    this.#abort();
    return true;
  }

  // A copy of the definition the interpreter runs: Task timeouts moved out of its way, and proxies that
  // tell us synchronously when a state is visited ($$.State.*) and when a state's Parameters are built.
  #runtimeDefinition(resume?: ResumePoint): AslObject {
    const copy = structuredClone(this.#machine.compiled.definition);
    if (resume !== undefined) {
      (copy.States as Record<string, AslObject>)[REDRIVE_STATE] = {
        Type: 'Pass',
        // Wrapped: the interpreter passes the input through when Result is falsy (null, 0, false, "").
        Result: { value: JSON.parse(resume.input) as unknown },
        OutputPath: '$.value',
        Next: resume.state,
      };
      copy.StartAt = REDRIVE_STATE;
      const resumed = (copy.States as Record<string, AslObject>)[resume.state];
      if (resumed !== undefined && resume.reuse !== undefined && resume.reuse.size > 0) {
        withReusedIterations(resumed, resume.reuse);
      }
    }
    const wrap = (machine: AslObject): void => {
      const states = machine.States as Record<string, AslObject>;
      for (const [name, state] of Object.entries(states)) {
        if (state.Type === 'Task' && state.TimeoutSecondsPath === undefined) {
          state.TimeoutSeconds = INTERPRETER_TASK_TIMEOUT_SECONDS;
        }
        if (state.Type === 'Choice' && Array.isArray(state.Choices)) {
          state.Choices = (state.Choices as AslObject[]).map(negatedTypeTests);
        }
        if ((state.Type === 'Task' || state.Type === 'Pass') && state.Parameters !== undefined) {
          state.Parameters = markJsonToString(state.Parameters);
          if (state.Type === 'Pass' && state.Result === undefined) {
            // A Pass state's Parameters never reach a handler of ours: run it as an identity Task instead,
            // so that the marked values are turned into JSON text (see #runPass).
            state.Type = 'Task';
            state.Resource = PASS_RESOURCE;
            state.TimeoutSeconds = INTERPRETER_TASK_TIMEOUT_SECONDS;
          }
        }
        for (const child of nestedMachines(state)) wrap(child);
        if (state.Type !== 'Map') {
          states[name] = new Proxy(state, {
            get: (target, key, receiver) => {
              if (key === 'Parameters') this.#onAttempt(name);
              return Reflect.get(target, key, receiver);
            },
          });
        }
      }
      // The interpreter reads `States[next]` exactly once per transition, right before entering it.
      machine.States = new Proxy(states, {
        get: (target, key, receiver) => {
          if (typeof key === 'string' && Object.hasOwn(target, key)) this.#onVisit(key);
          return Reflect.get(target, key, receiver);
        },
      });
    };
    wrap(copy);
    return copy;
  }

  #onVisit(name: string): void {
    if (name.startsWith(SYNTHETIC_PREFIX)) return;
    if (name === this.#resume?.state) this.#resumeVisits += 1;
    this.#visit = { name, enteredTime: new Date().toISOString(), retryCount: 0, attempts: 0 };
    this.#retryCounts.delete(name);
    this.#caughtOrFailed.delete(name);
  }

  #onAttempt(name: string): void {
    if (this.#visit.name !== name) return;
    this.#visit.attempts += 1;
    this.#visit.retryCount = this.#visit.attempts - 1;
  }

  #contextObject(): NonNullable<RunOptions['context']> {
    const record = this.#record;
    const visit = (): { name: string; enteredTime: string; retryCount: number } => this.#visit;
    return {
      Execution: {
        Id: record.executionArn,
        Name: record.name,
        RoleArn: record.roleArn,
        RedriveCount: record.redriveCount ?? 0,
      },
      StateMachine: { Id: this.#machine.arn, Name: this.#machine.name },
      // Getters: the interpreter shares this object across the run. With concurrent Map/Parallel branches
      // the value is the most recently entered state's.
      State: {
        get Name() {
          return visit().name;
        },
        get EnteredTime() {
          return visit().enteredTime;
        },
        get RetryCount() {
          return visit().retryCount;
        },
      },
    };
  }

  #taskHandlers(): TaskHandlers {
    const handlers: TaskHandlers = {};
    for (const info of this.#machine.compiled.states.values()) {
      if (info.type === 'Task') handlers[info.name] = (input) => this.#runTask(info, input);
      if (info.type === 'Pass') handlers[info.name] = async (input) => jsonToStringMarked(input) as JsonValue;
    }
    const reuse = this.#resume?.reuse;
    if (reuse !== undefined) {
      // Reuse only while the resume state is in its first visit: a later visit (a loop) runs everything.
      const decide = (index: number, value: unknown): JsonValue => {
        const output = this.#resumeVisits === 1 ? reuse.get(index) : undefined;
        return (
          output === undefined ? { reused: false, value } : { reused: true, value: JSON.parse(output) }
        ) as JsonValue;
      };
      handlers[REUSE_STATE] = (input) => {
        const { index, value } = input as { index: number; value: unknown };
        return decide(index, value);
      };
      for (const position of reuse.keys())
        handlers[`${REUSE_STATE}#${position}`] = (input) => decide(position, input);
      handlers[REUSED_STATE] = (input) => (input as Record<string, JsonValue>).value ?? null;
      handlers[RUN_STATE] = (input) => (input as Record<string, JsonValue>).value ?? null;
    }
    return handlers;
  }

  // Retry pauses as AWS computes them (IntervalSeconds × BackoffRate^n, capped by MaxDelaySeconds, FULL
  // jitter drawn in [0, delay)), then scaled. A Proxy because the interpreter reads the override anew for
  // every failure, and the retry count it needs changes as the state retries.
  #retryOverrides(): Record<string, number[]> {
    return new Proxy({} as Record<string, number[]>, {
      get: (_target, key) => {
        if (typeof key !== 'string') return undefined;
        const retriers = this.#machine.compiled.states.get(key)?.definition.Retry as Retrier[] | undefined;
        if (retriers === undefined) return undefined;
        const counts = this.#retryCounts.get(key) ?? [];
        return retriers.map((retrier, i) => retryDelayMs(retrier, counts[i] ?? 0, this.#deps.timeScale));
      },
    });
  }

  #waitOverrides(): Record<string, number> {
    return new Proxy({} as Record<string, number>, {
      get: (_target, key) => {
        if (typeof key !== 'string' || this.#deps.timeScale === 1) return undefined;
        const state = this.#machine.compiled.states.get(key)?.definition;
        if (state?.Type !== 'Wait') return undefined;
        if (typeof state.Seconds === 'number') return state.Seconds * 1000 * this.#deps.timeScale;
        if (typeof state.Timestamp === 'string') {
          return Math.max(0, Date.parse(state.Timestamp) - Date.now()) * this.#deps.timeScale;
        }
        // SecondsPath/TimestampPath depend on the input, which this hook does not see: not scaled.
        return undefined;
      },
    });
  }

  async #consume(events: AsyncGenerator<LibraryEvent>): Promise<void> {
    for await (const event of events) this.#onLibraryEvent(event);
  }

  #onLibraryEvent(event: LibraryEvent): void {
    const at = new Date(event.timestamp);
    if ('state' in event && event.state.name.startsWith(SYNTHETIC_PREFIX)) return;
    switch (event.type) {
      case 'StateEntered': {
        const info = this.#machine.compiled.states.get(event.state.name);
        const type = info?.type ?? event.state.type;
        this.#lastFailState = undefined;
        this.#onEntered(event.state.name, type);
        this.#add(
          `${type}StateEntered`,
          {
            stateEnteredEventDetails: {
              name: event.state.name,
              input: jsonText(event.state.input),
              inputDetails: dataDetails(),
            },
          },
          at,
        );
        if (type === 'Parallel') this.#add('ParallelStateStarted', {}, at);
        if (type === 'Map') {
          this.#add(
            'MapStateStarted',
            { mapStateStartedEventDetails: { length: mapLength(info, event.state.input) } },
            at,
          );
        }
        return;
      }
      case 'StateExited': {
        const type = this.#machine.compiled.states.get(event.state.name)?.type ?? event.state.type;
        this.#onExited(event.state.name, event.index, event.state.output);
        if ((type === 'Map' || type === 'Parallel') && !this.#caughtOrFailed.has(event.state.name)) {
          this.#add(`${type}StateSucceeded`, {}, at);
        }
        this.#add(
          `${type}StateExited`,
          {
            stateExitedEventDetails: {
              name: event.state.name,
              output: jsonText(event.state.output),
              outputDetails: dataDetails(),
            },
          },
          at,
        );
        return;
      }
      case 'StateFailed': {
        const info = this.#machine.compiled.states.get(event.state.name);
        if (info?.type === 'Fail') this.#lastFailState = info;
        if (info?.type === 'Map' || info?.type === 'Parallel') {
          this.#caughtOrFailed.add(info.name);
          this.#add(`${info.type}StateFailed`, {}, at);
        }
        return;
      }
      case 'StateRetried': {
        const retriers = this.#machine.compiled.states.get(event.state.name)?.definition.Retry as
          | Retrier[]
          | undefined;
        const index = retriers?.findIndex((retrier) => sameRetrier(retrier, event.retry.retrier)) ?? -1;
        if (index >= 0) {
          const counts = this.#retryCounts.get(event.state.name) ?? [];
          counts[index] = event.retry.attempt;
          this.#retryCounts.set(event.state.name, counts);
        }
        const info = this.#machine.compiled.states.get(event.state.name);
        if (info?.type === 'Map' || info?.type === 'Parallel') {
          this.#caughtOrFailed.delete(info.name);
          this.#add(`${info.type}StateStarted`, {}, at);
        }
        return;
      }
      case 'MapIterationStarted':
      case 'MapIterationSucceeded':
      case 'MapIterationFailed': {
        if (this.#isReused(event.parentState.name, event.index)) return;
        if (event.type === 'MapIterationSucceeded')
          this.#onIterationSucceeded(event.parentState.name, event.index);
        const key = `mapIteration${event.type.slice('MapIteration'.length)}EventDetails`;
        this.#add(event.type, { [key]: { name: event.parentState.name, index: event.index } }, at);
        return;
      }
      case 'ExecutionSucceeded': {
        const output = jsonText(event.output);
        this.#finish(
          'SUCCEEDED',
          'ExecutionSucceeded',
          { executionSucceededEventDetails: { output, outputDetails: dataDetails() } },
          at,
          { output },
        );
        return;
      }
      case 'ExecutionFailed': {
        const { error, cause } = this.#failureOf(event.Error, event.Cause);
        this.#finish('FAILED', 'ExecutionFailed', { executionFailedEventDetails: { error, cause } }, at, {
          error,
          cause,
        });
        return;
      }
      case 'ExecutionAborted':
        this.#finish('ABORTED', 'ExecutionAborted', { executionAbortedEventDetails: {} }, at);
        return;
      case 'ExecutionTimeout':
        this.#finish(
          'TIMED_OUT',
          'ExecutionTimedOut',
          { executionTimedOutEventDetails: { error: 'States.Timeout' } },
          at,
          { error: 'States.Timeout' },
        );
        return;
      default:
        // ExecutionStarted is recorded at StartExecution; StateCaught and ParallelBranch* have no AWS event.
        return;
    }
  }

  // A new visit of a top-level Map or Parallel state starts its partial results afresh; the visit a redrive (or a
  // restart) resumes keeps those of the attempt before.
  #onEntered(name: string, type: string): void {
    const resumed = name === this.#resume?.state && ++this.#resumeEntries === 1;
    if (type !== 'Map' && type !== 'Parallel') return;
    if (!Object.hasOwn(this.#machine.compiled.definition.States as object, name) || this.#closed) return;
    this.#pendingIterations.clear();
    if (resumed && this.#record.partialResults?.state === name) return;
    this.#record.partialResults = { state: name, outputs: {} };
  }

  // An iteration's or branch's last state exited: a Parallel branch has succeeded; a Map iteration has when its
  // MapIterationSucceeded comes. The open top-level Map or Parallel state exited: its partial results are done with.
  #onExited(name: string, index: number | undefined, output: unknown): void {
    const partial = this.#record.partialResults;
    if (partial === undefined || this.#closed) return;
    if (name === partial.state) {
      this.#record.partialResults = undefined;
      return;
    }
    const end = this.#machine.compiled.iterationEnds.get(name);
    if (end === undefined || end.parent !== partial.state) return;
    if (end.branch !== undefined) {
      partial.outputs[end.branch] = jsonText(output);
    } else if (index !== undefined) {
      this.#pendingIterations.set(index, jsonText(output));
    }
  }

  #onIterationSucceeded(name: string, index: number): void {
    const partial = this.#record.partialResults;
    const output = this.#pendingIterations.get(index);
    if (partial?.state !== name || output === undefined || this.#closed) return;
    partial.outputs[index] = output;
    this.#pendingIterations.delete(index);
  }

  // A reused iteration is not rescheduled: its events of the earlier attempt stand, it gets none in this one.
  #isReused(name: string, index: number): boolean {
    const resume = this.#resume;
    return name === resume?.state && this.#resumeEntries === 1 && resume.reuse?.has(index) === true;
  }

  // A Fail state without Error/Cause fails the execution with neither (fixture 07); the interpreter
  // would report its own placeholder names instead.
  #failureOf(error: string, cause: unknown): { error?: string; cause?: string } {
    const fail = this.#lastFailState?.definition;
    const causeText =
      cause === undefined || cause === null
        ? undefined
        : typeof cause === 'string'
          ? cause
          : JSON.stringify(cause);
    if (fail !== undefined) {
      return {
        error: fail.Error === undefined && fail.ErrorPath === undefined ? undefined : error,
        cause: fail.Cause === undefined && fail.CausePath === undefined ? undefined : causeText,
      };
    }
    return { error, cause: causeText === '' ? undefined : causeText };
  }

  async #runTask(info: StateInfo, marked: JsonValue): Promise<JsonValue> {
    const input = jsonToStringMarked(marked) as JsonValue;
    await nextMacrotask();
    if (this.#closed) throw new StatesRuntimeFailure('The execution was stopped before this task started.');
    const resource = info.resource ?? parseTaskResource('');
    if (resource.kind === 'unsupported') {
      throw new StatesRuntimeFailure(`State '${info.name}': ${resource.reason}`);
    }
    const shape = taskEventShape(resource, this.#deps.region, info.timeoutSeconds, input);
    this.#add(shape.scheduled[0], shape.scheduled[1]);
    this.#add(shape.started[0], shape.started[1]);
    let outcome: TaskOutcome | 'timeout';
    try {
      outcome = await this.#withTimeout(this.#call(resource, input), info.timeoutSeconds);
    } catch (error) {
      const message =
        error instanceof TaskParametersError ? error.message : `Task failed to run: ${String(error)}`;
      this.#add(...shape.failed('States.Runtime', `State '${info.name}': ${message}`));
      throw new StatesRuntimeFailure(`State '${info.name}': ${message}`);
    }
    if (outcome === 'timeout') {
      this.#add(...shape.timedOut());
      throw await statesTimeout();
    }
    if (!outcome.ok) {
      this.#add(...shape.failed(outcome.error, outcome.cause));
      throw new TaskFailure(outcome.error, outcome.cause);
    }
    this.#add(...shape.succeeded(outcome.output));
    return outcome.output as JsonValue;
  }

  #call(resource: TaskResource, input: JsonValue): Promise<TaskOutcome> {
    switch (resource.kind) {
      case 'lambda-invoke':
        return invokeLambdaIntegration(this.#deps.lambda, input, this.#deps.access);
      case 'lambda-function':
        return invokeLambdaFunction(this.#deps.lambda, resource.functionArn, input, this.#deps.access);
      case 'dynamodb':
        return runDynamoDbIntegration(this.#deps.dynamodb, resource.resource, input, this.#deps.access);
      case 'aws-sdk-dynamodb':
        return runAwsSdkDynamoDb(this.#deps.dynamodb, resource.resource, input, this.#deps.access);
      default:
        return Promise.reject(new TaskParametersError('unsupported resource'));
    }
  }

  async #withTimeout<T>(work: Promise<T>, seconds: number | undefined): Promise<T | 'timeout'> {
    if (seconds === undefined) return work;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), seconds * 1000);
    });
    try {
      return await Promise.race([work, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  #add(type: string, details: Record<string, unknown>, at?: Date): void {
    if (this.#closed) return;
    appendEvent(this.#record, type, stripUndefined(details), at);
    this.#onChange();
  }

  #finish(
    status: ExecutionStatus,
    type: string,
    details: Record<string, unknown>,
    at: Date = new Date(),
    result: { output?: string; error?: string; cause?: string } = {},
  ): void {
    if (this.#closed) return;
    const record = this.#record;
    appendEvent(record, type, stripUndefined(details), at);
    record.status = status;
    record.stopDate = at;
    if (result.output !== undefined) record.output = result.output;
    const fromDetails = Object.values(details)[0] as { error?: string; cause?: string } | undefined;
    const error = result.error ?? fromDetails?.error;
    const cause = result.cause ?? fromDetails?.cause;
    if (error !== undefined) record.error = error;
    if (cause !== undefined) record.cause = cause;
    this.#closed = true;
    this.#onChange();
    this.#resolveDone();
  }
}

type EventSpec = [type: string, details: Record<string, unknown>];

interface TaskEventShape {
  readonly scheduled: EventSpec;
  readonly started: EventSpec;
  succeeded(output: unknown): EventSpec;
  failed(error: string, cause: string): EventSpec;
  timedOut(): EventSpec;
}

/** The history events of one task attempt, per resource kind, with the details AWS writes. */
function taskEventShape(
  resource: Exclude<TaskResource, { kind: 'unsupported' }>,
  region: string,
  timeoutSeconds: number | undefined,
  input: unknown,
): TaskEventShape {
  if (resource.kind === 'lambda-function') {
    return {
      scheduled: [
        'LambdaFunctionScheduled',
        {
          lambdaFunctionScheduledEventDetails: {
            resource: resource.functionArn,
            input: jsonText(input),
            inputDetails: dataDetails(),
            timeoutInSeconds: timeoutSeconds,
          },
        },
      ],
      started: ['LambdaFunctionStarted', {}],
      succeeded: (output) => [
        'LambdaFunctionSucceeded',
        { lambdaFunctionSucceededEventDetails: { output: jsonText(output), outputDetails: dataDetails() } },
      ],
      failed: (error, cause) => [
        'LambdaFunctionFailed',
        { lambdaFunctionFailedEventDetails: { error, cause } },
      ],
      timedOut: () => [
        'LambdaFunctionTimedOut',
        { lambdaFunctionTimedOutEventDetails: { error: 'States.Timeout' } },
      ],
    };
  }
  const base = { resourceType: resource.resourceType, resource: resource.resource };
  return {
    scheduled: [
      'TaskScheduled',
      {
        taskScheduledEventDetails: {
          ...base,
          region,
          parameters: jsonText(input),
          timeoutInSeconds: timeoutSeconds,
        },
      },
    ],
    started: ['TaskStarted', { taskStartedEventDetails: { ...base } }],
    succeeded: (output) => [
      'TaskSucceeded',
      { taskSucceededEventDetails: { ...base, output: jsonText(output), outputDetails: dataDetails() } },
    ],
    failed: (error, cause) => ['TaskFailed', { taskFailedEventDetails: { ...base, error, cause } }],
    timedOut: () => ['TaskTimedOut', { taskTimedOutEventDetails: { ...base, error: 'States.Timeout' } }],
  };
}

/**
 * Rewrites, in the runtime copy, a resumed Map or Parallel state so that its reused iterations or branches end at
 * once with their recorded output. The Map's ItemSelector wraps each item as `{index, value}` (`$$.Map.Item.Index`,
 * and the item as the state's own ItemSelector or Parameters would make it) and its ItemProcessor starts at
 * REUSE_STATE; a Parallel branch with a recorded output starts at `REUSE_STATE#<position>`. That state's handler
 * decides (reuse only in the state's first visit), then REUSED_STATE returns the recorded output, or RUN_STATE hands
 * the input on to the original StartAt. None of these states is recorded in the history.
 */
function withReusedIterations(state: AslObject, reuse: ReadonlyMap<number, string>): void {
  if (state.Type === 'Map') {
    const key = state.ItemProcessor !== undefined ? 'ItemProcessor' : 'Iterator';
    const selector = state.ItemSelector ?? state.Parameters;
    delete state.Parameters;
    state.ItemSelector = {
      'index.$': '$$.Map.Item.Index',
      ...(selector === undefined ? { 'value.$': '$$.Map.Item.Value' } : { value: selector }),
    };
    state[key] = startingWithReuse(state[key] as AslObject, REUSE_STATE);
  } else if (state.Type === 'Parallel') {
    state.Branches = (state.Branches as AslObject[]).map((branch, position) =>
      reuse.has(position) ? startingWithReuse(branch, `${REUSE_STATE}#${position}`) : branch,
    );
  }
}

function startingWithReuse(machine: AslObject, decide: string): AslObject {
  return {
    ...machine,
    StartAt: decide,
    States: {
      [decide]: { Type: 'Task', Resource: PASS_RESOURCE, Next: REUSE_CHOICE },
      [REUSE_CHOICE]: {
        Type: 'Choice',
        Choices: [{ Variable: '$.reused', BooleanEquals: true, Next: REUSED_STATE }],
        Default: RUN_STATE,
      },
      [REUSED_STATE]: { Type: 'Task', Resource: PASS_RESOURCE, End: true },
      [RUN_STATE]: { Type: 'Task', Resource: PASS_RESOURCE, Next: machine.StartAt },
      ...(machine.States as AslObject),
    },
  };
}

/** The Resource of a Pass state run as an identity Task (never called: the runner handles it by name). */
const PASS_RESOURCE = 'arn:aws:lambda:us-east-1:000000000000:function:saga-local-pass-state';
/** Appended to a Parameters key whose value is the input of `States.JsonToString`. */
const JSON_TO_STRING_MARK = '\u0000States.JsonToString';

/**
 * The interpreter (3.0.0) strips every backslash from an intrinsic function's string result, which breaks
 * `States.JsonToString` of anything holding a quote (a Catch's Cause is JSON text). `"k.$":
 * "States.JsonToString($.p)"` becomes `"k<mark>.$": "$.p"`: the interpreter resolves the path, and
 * {@link jsonToStringMarked} turns the value into JSON text under `k` before anyone sees it.
 */
function markJsonToString(template: unknown): unknown {
  if (Array.isArray(template)) return template.map(markJsonToString);
  if (template === null || typeof template !== 'object') return template;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(template)) {
    const path =
      key.endsWith('.$') && typeof value === 'string'
        ? /^States\.JsonToString\(\s*(\$[^,]*?)\s*\)$/.exec(value)?.[1]
        : undefined;
    if (path !== undefined) out[`${key.slice(0, -2)}${JSON_TO_STRING_MARK}.$`] = path;
    else out[key] = markJsonToString(value);
  }
  return out;
}

/** Undoes {@link markJsonToString} on effective Parameters: marked values become their JSON text. */
function jsonToStringMarked(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(jsonToStringMarked);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    if (key.endsWith(JSON_TO_STRING_MARK))
      out[key.slice(0, -JSON_TO_STRING_MARK.length)] = JSON.stringify(inner);
    else out[key] = jsonToStringMarked(inner);
  }
  return out;
}

const TYPE_TESTS = ['IsPresent', 'IsNull', 'IsNumeric', 'IsString', 'IsBoolean', 'IsTimestamp'];

/**
 * The interpreter (3.0.0) evaluates `"IsPresent": false` (and the other type tests given `false`) as never
 * matching; AWS matches when the test does not hold. Rewritten as `Not` of the `true` test, which it gets right.
 */
function negatedTypeTests(rule: AslObject): AslObject {
  if (Array.isArray(rule.And)) return { ...rule, And: (rule.And as AslObject[]).map(negatedTypeTests) };
  if (Array.isArray(rule.Or)) return { ...rule, Or: (rule.Or as AslObject[]).map(negatedTypeTests) };
  if (rule.Not !== null && typeof rule.Not === 'object') {
    return { ...rule, Not: negatedTypeTests(rule.Not as AslObject) };
  }
  const test = TYPE_TESTS.find((key) => rule[key] === false);
  if (test === undefined) return rule;
  const { Next, ...condition } = rule;
  const not = { Not: { ...condition, [test]: true } };
  return Next === undefined ? not : { ...not, Next };
}

function stripUndefined(details: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(details)) {
    if (value === undefined) continue;
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const inner: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) if (v !== undefined) inner[k] = v;
      out[key] = inner;
    } else {
      out[key] = value;
    }
  }
  return out;
}

function sameRetrier(a: Retrier, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

function mapLength(info: StateInfo | undefined, input: unknown): number {
  const path = info?.definition.ItemsPath;
  let items: unknown = input;
  if (typeof path === 'string' && path !== '$') {
    for (const key of path.replace(/^\$\.?/, '').split('.')) {
      items =
        items !== null && typeof items === 'object' ? (items as Record<string, unknown>)[key] : undefined;
    }
  }
  return Array.isArray(items) ? items.length : 0;
}
