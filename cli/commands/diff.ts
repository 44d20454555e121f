import { readFile } from 'node:fs/promises';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { CommandContext } from '../command.ts';
import type { ArgsOf, diffCommand, OptionsOf } from '../definitions.ts';
import { UserError } from '../errors.ts';
import { parseExecutionArgument } from '../saga/follow.ts';
import { executionArnFor, listAllExecutions, readHistory } from '../target/executions.ts';
import { type ResolvedTarget, resolveTarget } from '../target/target.ts';
import { buildDiff, type DiffDocument, renderDiff } from '../timeline/diff.ts';
import {
  buildTimeline,
  type HistoryEventLike,
  HistoryFileError,
  parseHistoryFile,
  type TimelineModel,
} from '../timeline/index.ts';

/** Options of `saga diff`. */
export interface DiffOptions {
  /** The two arguments are saved `aws stepfunctions get-execution-history` JSON files. */
  readonly fromFile: boolean;
}

const USAGE =
  'Usage: `saga diff <a> <b>` with two execution ARNs, order ids or execution names, or ' +
  '`saga diff --from-file a.json b.json` with two saved `aws stepfunctions get-execution-history --output json` histories.';

/** A saved history, as a timeline. */
async function modelFromFile(path: string): Promise<TimelineModel> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new UserError(
      `Cannot read the history file ${path}: ${(error as Error).message}. Save one with ` +
        '`aws stepfunctions get-execution-history --execution-arn <arn> --output json > history.json`.',
      { cause: error },
    );
  }
  let events: HistoryEventLike[];
  try {
    events = parseHistoryFile(text);
  } catch (error) {
    if (error instanceof HistoryFileError) {
      throw new UserError(`${path}: ${error.message} ${USAGE}`, { cause: error });
    }
    throw error;
  }
  if (events.length === 0) {
    throw new UserError(
      `${path} holds no history events. Save one with \`aws stepfunctions get-execution-history --execution-arn <arn> --output json > history.json\`.`,
    );
  }
  return buildTimeline(events);
}

/** The execution an argument names: an ARN as it is; an order id, its latest execution; any other name, that one. */
async function executionArnOf(
  sfn: SFNClient,
  target: ResolvedTarget,
  argument: string,
  named: ReturnType<typeof parseExecutionArgument>,
): Promise<string> {
  if ('arn' in named) return named.arn;
  if (!/^[0-9A-HJKMNP-TV-Z]{26}$/.test(named.name)) return executionArnFor(target, named.name);
  const own = (await listAllExecutions(sfn, target.outputs.StateMachineArn))
    .filter((e) => e.name === named.name || e.name?.startsWith(`${named.name}-`))
    .sort((x, y) => (y.startDate?.getTime() ?? 0) - (x.startDate?.getTime() ?? 0));
  const latest = own[0];
  if (latest === undefined) {
    throw new UserError(
      `No saga execution of order ${named.name} on the ${target.kind} target (received ${JSON.stringify(argument)}). ` +
        '`saga ls` lists the orders; a freshly placed order starts its saga a moment later.',
    );
  }
  return latest.executionArn ?? executionArnFor(target, latest.name ?? named.name);
}

async function modelFromExecution(
  sfn: SFNClient,
  target: ResolvedTarget,
  argument: string,
  executionArn: string,
): Promise<TimelineModel> {
  try {
    return buildTimeline(await readHistory(sfn, executionArn), { now: Date.now() });
  } catch (error) {
    if ((error as Error).name === 'ExecutionDoesNotExist') {
      throw new UserError(
        `No execution ${executionArn} on the ${target.kind} target (received ${JSON.stringify(argument)}). ` +
          'Check the order id or ARN: `saga ls` lists the orders.',
        { cause: error },
      );
    }
    throw error;
  }
}

/** Reads both sides and compares them. */
export async function loadDiff(
  ctx: CommandContext,
  args: readonly string[],
  options: DiffOptions,
): Promise<DiffDocument> {
  const [a, b] = args;
  if (args.length !== 2 || a === undefined || b === undefined) {
    throw new UserError(
      `saga diff compares two executions: received ${args.length === 0 ? 'none' : args.map((arg) => JSON.stringify(arg)).join(' ')}. ${USAGE}`,
    );
  }
  if (options.fromFile) {
    const [modelA, modelB] = await Promise.all([modelFromFile(a), modelFromFile(b)]);
    return buildDiff({ source: a, model: modelA }, { source: b, model: modelB });
  }
  let namedA: ReturnType<typeof parseExecutionArgument>;
  let namedB: ReturnType<typeof parseExecutionArgument>;
  try {
    namedA = parseExecutionArgument(a);
    namedB = parseExecutionArgument(b);
  } catch (error) {
    if (error instanceof UserError && /\.json$/i.test(a + b)) {
      throw new UserError(`${error.message} To compare saved histories, add --from-file.`, { cause: error });
    }
    throw error;
  }
  const target = await resolveTarget(ctx.projectDir, ctx.globals, ctx.env);
  const sfn = new SFNClient(target.clientConfig());
  const arnA = await executionArnOf(sfn, target, a, namedA);
  const arnB = await executionArnOf(sfn, target, b, namedB);
  const [modelA, modelB] = await Promise.all([
    modelFromExecution(sfn, target, a, arnA),
    modelFromExecution(sfn, target, b, arnB),
  ]);
  return buildDiff({ source: arnA, model: modelA }, { source: arnB, model: modelB });
}

/** `saga diff <a> <b>`: always exit 0 once both sides are read (a difference is information, not a failure). */
export async function diff(
  ctx: CommandContext,
  args: readonly string[],
  options: DiffOptions,
): Promise<DiffDocument> {
  const doc = await loadDiff(ctx, args, options);
  const { out } = ctx;
  out.result(doc, (style) => renderDiff(doc, { style, width: out.interactive ? out.width : undefined }));
  return doc;
}

export default async function action(
  ctx: CommandContext,
  args: ArgsOf<typeof diffCommand>,
  options: OptionsOf<typeof diffCommand>,
): Promise<number> {
  const given = args.filter((a) => a !== undefined);
  await diff(ctx, given, { fromFile: Boolean(options.fromFile) });
  return 0;
}
