/**
 * What a graph or a report is drawn from: saved files (a history, a definition), or the target's state machine and
 * an execution of it.
 */
import { readFile } from 'node:fs/promises';
import {
  DescribeStateMachineCommand,
  DescribeStateMachineForExecutionCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import type { CommandContext } from '../command.ts';
import { UserError } from '../errors.ts';
import { AslError, type AslStates, parseDefinition, parseDefinitionText } from '../graph/index.ts';
import { executionArnFor, readHistory } from '../target/executions.ts';
import { type ResolvedTarget, resolveTarget } from '../target/target.ts';
import { type HistoryEventLike, HistoryFileError, parseHistoryFile } from '../timeline/index.ts';
import { parseExecutionArgument } from './follow.ts';

/** Where to read the sources from, as `--from-file` and `--definition` say. */
export interface SourceOptions {
  /** A saved `get-execution-history` JSON. */
  readonly fromFile?: string | undefined;
  /** The definition (an ASL file, or a `describe-state-machine` response). */
  readonly definition?: string | undefined;
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new UserError(`Cannot read the ${what} ${path}: ${(error as Error).message}.`, { cause: error });
  }
}

async function definitionFromFile(path: string): Promise<AslStates> {
  const text = await readText(path, 'definition file');
  try {
    return parseDefinitionText(text);
  } catch (error) {
    if (error instanceof AslError) {
      throw new UserError(
        `${path} is not an Amazon States Language definition: ${error.message} Pass a state machine definition ` +
          '(e.g. state-machines/order-saga.asl.json, or `aws stepfunctions describe-state-machine` output).',
        { cause: error },
      );
    }
    throw error;
  }
}

/** A definition the service returned (a JSON string). */
function definitionFromService(definition: string | undefined, where: string): AslStates {
  try {
    return parseDefinitionText(definition ?? '');
  } catch (error) {
    if (error instanceof AslError) {
      throw new UserError(
        `The definition of ${where} could not be drawn: ${error.message} Pass one with --definition <file>.`,
        { cause: error },
      );
    }
    throw error;
  }
}

/** The history in a file, and the definition it carries (`_definition`, as the recorded AWS fixtures have). */
async function historyFromFile(
  path: string,
): Promise<{ events: HistoryEventLike[]; definition?: AslStates }> {
  const text = await readText(path, 'history file');
  let events: HistoryEventLike[];
  try {
    events = parseHistoryFile(text);
  } catch (error) {
    if (error instanceof HistoryFileError) {
      throw new UserError(
        `${path}: ${error.message} (A definition goes in --definition; --from-file takes an execution history.)`,
        { cause: error },
      );
    }
    throw error;
  }
  if (events.length === 0) {
    throw new UserError(
      `${path} holds no history events. Save one with \`aws stepfunctions get-execution-history --execution-arn <arn> --output json > history.json\`.`,
    );
  }
  const carried = (JSON.parse(text) as { _definition?: unknown })._definition;
  if (carried === undefined) return { events };
  try {
    return {
      events,
      definition: parseDefinition(typeof carried === 'string' ? JSON.parse(carried) : carried),
    };
  } catch (error) {
    throw new UserError(
      `${path}: its _definition is not an Amazon States Language definition: ${(error as Error).message} Pass one with --definition <file>.`,
      { cause: error },
    );
  }
}

/** What a graph or a report is drawn from: a definition, an execution's history, or both. */
export interface GraphSources {
  readonly definition?: AslStates | undefined;
  /** The execution's history events (absent: the state machine alone). */
  readonly events?: readonly HistoryEventLike[] | undefined;
  /** The execution's ARN, when its history was read from the target. */
  readonly executionArn?: string | undefined;
  /** The target it was read from (absent for files). */
  readonly target?: ResolvedTarget | undefined;
}

/**
 * Reads what the arguments name: files (`--from-file`, `--definition`), or the target's state machine and
 * execution. `command` names the command in the messages.
 */
export async function loadGraphSources(
  ctx: CommandContext,
  execution: string | undefined,
  options: SourceOptions,
  command = 'graph',
): Promise<GraphSources> {
  let definition =
    options.definition === undefined ? undefined : await definitionFromFile(options.definition);
  if (options.fromFile !== undefined) {
    if (execution !== undefined) {
      throw new UserError(
        `saga ${command} takes an execution or --from-file, not both: received ${JSON.stringify(execution)} and ` +
          `--from-file ${options.fromFile}. Drop one of them.`,
      );
    }
    const file = await historyFromFile(options.fromFile);
    definition ??= file.definition;
    return { definition, events: file.events };
  }
  if (execution === undefined && definition !== undefined) return { definition };
  const named = execution === undefined ? undefined : parseExecutionArgument(execution);
  const target = await resolveTarget(ctx.projectDir, ctx.globals, ctx.env);
  const sfn = new SFNClient(target.clientConfig());
  if (named === undefined) {
    const stateMachineArn = target.outputs.StateMachineArn;
    const described = await sfn.send(new DescribeStateMachineCommand({ stateMachineArn }));
    return { definition: definitionFromService(described.definition, stateMachineArn), target };
  }
  const executionArn = 'arn' in named ? named.arn : executionArnFor(target, named.name);
  let events: HistoryEventLike[];
  try {
    events = await readHistory(sfn, executionArn);
  } catch (error) {
    if ((error as Error).name === 'ExecutionDoesNotExist') {
      throw new UserError(
        `No execution ${executionArn} on the ${target.kind} target (received ${JSON.stringify(execution)}). ` +
          `Check the order id or ARN: \`saga ls\` lists the orders${command === 'graph' ? '; `saga graph` with no argument draws the state machine alone' : ''}.`,
        { cause: error },
      );
    }
    throw error;
  }
  if (definition === undefined) {
    // The definition this execution ran (an update since does not change its graph).
    const described = await sfn.send(new DescribeStateMachineForExecutionCommand({ executionArn }));
    definition = definitionFromService(described.definition, executionArn);
  }
  return { definition, events, executionArn, target };
}
