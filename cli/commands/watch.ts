import { readFile } from 'node:fs/promises';
import { ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import type { CommandContext } from '../command.ts';
import type { ArgsOf, OptionsOf, watchCommand } from '../definitions.ts';
import { UserError } from '../errors.ts';
import {
  followExecution,
  nextStep,
  orderIdOf,
  parseExecutionArgument,
  writeTimeline,
} from '../saga/follow.ts';
import { executionArnFor } from '../target/executions.ts';
import { type ResolvedTarget, resolveTarget } from '../target/target.ts';
import {
  buildTimeline,
  createTimelinePrinter,
  type ExecutionHeader,
  executionInput,
  HistoryFileError,
  parseHistoryFile,
  renderHeader,
  type TimelineSummary,
} from '../timeline/index.ts';

/** Options of `saga watch`. */
export interface WatchOptions {
  /** Keep polling until the execution ends. @default true */
  readonly follow: boolean;
  /** Interleave the order's log lines. @default false */
  readonly logs: boolean;
  /** Render a saved `aws stepfunctions get-execution-history` JSON instead of a live execution. */
  readonly fromFile?: string;
  /** `--json`: each step also carries its input and output. @default false */
  readonly detail?: boolean;
}

/** Renders a saved `get-execution-history` output (no stack needed). */
export async function renderHistoryFile(
  ctx: CommandContext,
  path: string,
  detail = false,
): Promise<TimelineSummary> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new UserError(`Cannot read the history file ${path}: ${(error as Error).message}.`, {
      cause: error,
    });
  }
  let events: ReturnType<typeof parseHistoryFile>;
  try {
    events = parseHistoryFile(text);
  } catch (error) {
    if (error instanceof HistoryFileError) throw new UserError(`${path}: ${error.message}`, { cause: error });
    throw error;
  }
  if (events.length === 0) {
    throw new UserError(
      `${path} holds no history events. Save one with \`aws stepfunctions get-execution-history --execution-arn <arn> --output json > history.json\`.`,
    );
  }
  const model = buildTimeline(events);
  const { out } = ctx;
  if (!out.json) {
    const header: ExecutionHeader = {
      file: path,
      startMs: model.summary.startMs,
      input: executionInput(events),
    };
    for (const line of renderHeader(header, { width: out.width, style: out.style, cut: out.interactive }))
      out.line(line);
  }
  const printer = createTimelinePrinter({
    mode: out.json ? 'json' : 'append',
    width: out.width,
    style: out.style,
    cut: out.interactive,
    detail,
  });
  writeTimeline(out, printer.update(model, [], { last: true }));
  const next = nextStep(model.summary, orderIdOf(events) ?? '<orderId>');
  if (next !== undefined && !out.json) out.line(out.style.warn(next));
  return model.summary;
}

async function pickExecution(ctx: CommandContext): Promise<string> {
  const target = await resolveTarget(ctx.projectDir, ctx.globals, ctx.env);
  const sfn = new SFNClient(target.clientConfig());
  const { executions = [] } = await sfn.send(
    new ListExecutionsCommand({ stateMachineArn: target.outputs.StateMachineArn, maxResults: 20 }),
  );
  return await ctx.prompter.select(
    'Which execution?',
    executions.map((e) => ({
      name: `${e.name ?? '?'}  ${e.status ?? ''}  ${e.startDate?.toISOString().replace('T', ' ').slice(0, 19) ?? ''}`,
      value: e.executionArn ?? '',
    })),
  );
}

/** `saga watch [arn|orderId|execution name]`. */
export async function watch(
  ctx: CommandContext,
  execution: string | undefined,
  options: WatchOptions,
): Promise<TimelineSummary> {
  if (options.fromFile !== undefined) {
    if (execution !== undefined) {
      throw new UserError(
        `saga watch takes an execution or --from-file, not both: received ${JSON.stringify(execution)} and ` +
          `--from-file ${options.fromFile}. \`saga watch ${execution}\` follows the live execution; ` +
          `\`saga watch --from-file ${options.fromFile}\` renders the saved history.`,
      );
    }
    return await renderHistoryFile(ctx, options.fromFile, options.detail);
  }
  let arn: string;
  let target: ResolvedTarget | undefined;
  if (execution === undefined) {
    if (!ctx.out.interactive) {
      throw new UserError(
        'Which execution? Pass an execution ARN or an order id (or any execution name of the saga); `saga ls` ' +
          'lists the orders.',
      );
    }
    arn = await pickExecution(ctx);
  } else {
    const named = parseExecutionArgument(execution);
    target = await resolveTarget(ctx.projectDir, ctx.globals, ctx.env);
    arn = 'arn' in named ? named.arn : executionArnFor(target, named.name);
  }
  return await followExecution(ctx, arn, {
    logs: options.logs,
    follow: options.follow,
    target,
    detail: options.detail,
  });
}

export default async function action(
  ctx: CommandContext,
  [execution]: ArgsOf<typeof watchCommand>,
  options: OptionsOf<typeof watchCommand>,
): Promise<number> {
  await watch(ctx, execution, options);
  return 0;
}
