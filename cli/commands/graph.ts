/**
 * `saga graph [arn|orderId] [--format text|mermaid|svg] [--from-file history.json] [--definition file.asl.json]`:
 * the state machine drawn from its definition, with the path of an execution when one is given.
 */
import { readFile } from 'node:fs/promises';
import {
  DescribeStateMachineCommand,
  DescribeStateMachineForExecutionCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import type { CommandContext } from '../command.ts';
import { UserError } from '../errors.ts';
import {
  AslError,
  type AslStates,
  buildGraph,
  type GraphModel,
  parseDefinition,
  parseDefinitionText,
  renderGraphText,
  renderMermaid,
  renderSvg,
} from '../graph/index.ts';
import { executionArnFor, readHistory } from '../target/executions.ts';
import { resolveTarget } from '../target/target.ts';
import { type HistoryEventLike, HistoryFileError, parseHistoryFile } from '../timeline/index.ts';
import { parseExecutionArgument } from './watch.ts';

export const GRAPH_FORMATS = ['text', 'mermaid', 'svg'] as const;
export type GraphFormat = (typeof GRAPH_FORMATS)[number];

/** Options of `saga graph`. */
export interface GraphOptions {
  /** @default text on a terminal, mermaid otherwise */
  readonly format?: string | undefined;
  /** A saved `get-execution-history` JSON whose path to draw. */
  readonly fromFile?: string | undefined;
  /** The definition to draw (an ASL file, or a `describe-state-machine` response). */
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

function checkFormat(format: string | undefined): GraphFormat | undefined {
  if (format === undefined) return undefined;
  if ((GRAPH_FORMATS as readonly string[]).includes(format)) return format as GraphFormat;
  throw new UserError(
    `Unknown --format ${JSON.stringify(format)}: use text (a terminal rendering), mermaid (Mermaid flowchart text) or svg (an SVG document on stdout).`,
  );
}

/** Builds the graph the arguments name (reads files, or the target's state machine and execution). */
export async function loadGraph(
  ctx: CommandContext,
  execution: string | undefined,
  options: GraphOptions,
): Promise<GraphModel> {
  let definition =
    options.definition === undefined ? undefined : await definitionFromFile(options.definition);
  if (options.fromFile !== undefined) {
    if (execution !== undefined) {
      throw new UserError(
        `saga graph takes an execution or --from-file, not both: received ${JSON.stringify(execution)} and ` +
          `--from-file ${options.fromFile}. Drop one of them.`,
      );
    }
    const file = await historyFromFile(options.fromFile);
    definition ??= file.definition;
    return buildGraph(definition, file.events);
  }
  if (execution === undefined && definition !== undefined) return buildGraph(definition);
  const named = execution === undefined ? undefined : parseExecutionArgument(execution);
  const target = await resolveTarget(ctx.projectDir, ctx.globals, ctx.env);
  const sfn = new SFNClient(target.clientConfig());
  if (named === undefined) {
    const stateMachineArn = target.outputs.StateMachineArn;
    const described = await sfn.send(new DescribeStateMachineCommand({ stateMachineArn }));
    return buildGraph(definitionFromService(described.definition, stateMachineArn));
  }
  const executionArn = 'arn' in named ? named.arn : executionArnFor(target, named.name);
  let events: HistoryEventLike[];
  try {
    events = await readHistory(sfn, executionArn);
  } catch (error) {
    if ((error as Error).name === 'ExecutionDoesNotExist') {
      throw new UserError(
        `No execution ${executionArn} on the ${target.kind} target (received ${JSON.stringify(execution)}). ` +
          'Check the order id or ARN: `saga ls` lists the orders; `saga graph` with no argument draws the state machine alone.',
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
  return buildGraph(definition, events);
}

/** `saga graph`. */
export async function graph(
  ctx: CommandContext,
  execution: string | undefined,
  options: GraphOptions,
): Promise<GraphModel> {
  const format = checkFormat(options.format);
  const model = await loadGraph(ctx, execution, options);
  const { out } = ctx;
  if (out.json) {
    out.data({ type: 'graph', ...model });
    return model;
  }
  switch (format ?? (out.interactive ? 'text' : 'mermaid')) {
    case 'mermaid':
      out.raw(`${renderMermaid(model)}\n`);
      break;
    case 'svg':
      out.raw(`${renderSvg(model)}\n`);
      break;
    default:
      for (const line of renderGraphText(model, { style: out.style, width: out.width })) out.line(line);
  }
  return model;
}

export default async function action(
  ctx: CommandContext,
  args: readonly unknown[],
  options: Record<string, unknown>,
): Promise<number> {
  await graph(ctx, args[0] === undefined ? undefined : String(args[0]), {
    format: options.format as string | undefined,
    fromFile: options.fromFile as string | undefined,
    definition: options.definition as string | undefined,
  });
  return 0;
}
