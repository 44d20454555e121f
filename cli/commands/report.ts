/**
 * `saga report <arn|orderId|execution name> [--html <file>] [--from-file history.json] [--definition asl.json]`:
 * one execution as a self-contained HTML page — the graph with its path, a Gantt of the state visits, the steps, the
 * order's side effects and log lines — to open offline or attach to an incident or a pull request.
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { CommandContext } from '../command.ts';
import type { ArgsOf, OptionsOf, reportCommand } from '../definitions.ts';
import { UserError } from '../errors.ts';
import { buildReport, type ReportLogLine } from '../report/index.ts';
import { localTimeScale, orderIdOf } from '../saga/follow.ts';
import { shortFunctionName } from '../saga/log-tail.ts';
import { loadGraphSources } from '../saga/sources.ts';
import { type LedgerRow, readLedgerRows } from '../target/ledger.ts';
import { readOrderLogs } from '../target/logs.ts';

/** Options of `saga report`. */
export interface ReportOptions {
  /** Write the page to this file (relative to the project folder). @default stdout, when stdout is not a terminal */
  readonly html?: string | undefined;
  /** A saved `get-execution-history` JSON to report on instead of an execution of the target. */
  readonly fromFile?: string | undefined;
  /** The definition to draw (an ASL file, or a `describe-state-machine` response). @default the one the execution ran */
  readonly definition?: string | undefined;
}

/** What `saga report` did (its `--json` document). */
export interface ReportResult {
  readonly type: 'report';
  /** The file written; null when the page went to stdout. */
  readonly file: string | null;
  /** The page's size in bytes (UTF-8). */
  readonly bytes: number;
}

const USAGE =
  'Usage: `saga report <orderId|execution name|ARN> --html report.html`, or ' +
  '`saga report --from-file history.json --html report.html` for a saved `aws stepfunctions get-execution-history` JSON.';

/** The order an execution is about: its input's orderId, else the order id its name starts with. */
function orderIdFor(
  events: Parameters<typeof orderIdOf>[0],
  executionArn: string | undefined,
): string | undefined {
  const fromInput = orderIdOf(events);
  if (fromInput !== undefined) return fromInput;
  const name = executionArn?.split(':').at(-1) ?? '';
  return /^[0-9A-HJKMNP-TV-Z]{26}/i.test(name) ? name.slice(0, 26).toUpperCase() : undefined;
}

/** `saga report`. */
export async function report(
  ctx: CommandContext,
  execution: string | undefined,
  options: ReportOptions,
): Promise<ReportResult> {
  const { out } = ctx;
  if (execution === undefined && options.fromFile === undefined) {
    throw new UserError(
      `Which execution? saga report needs an order id, an execution name or ARN, or --from-file. ${USAGE}`,
    );
  }
  if (options.html === undefined) {
    if (out.json) {
      throw new UserError(
        '--json describes the file the report is written to: add --html report.html (without --json, a piped `saga report` writes the page to stdout).',
      );
    }
    if (out.interactive) {
      throw new UserError(
        'saga report writes an HTML page, not terminal text: add --html report.html and open that file in a browser ' +
          '(or pipe it: `saga report <id> > report.html`).',
      );
    }
  }
  const sources = await loadGraphSources(
    ctx,
    execution,
    { fromFile: options.fromFile, definition: options.definition },
    'report',
  );
  const events = sources.events ?? [];
  const { target, executionArn } = sources;

  let ledgerRows: LedgerRow[] | undefined;
  let logs: ReportLogLine[] | undefined;
  let missingNote: string | undefined;
  let timeScale: number | undefined;
  if (target === undefined) {
    missingNote = 'not read: the report was made from a saved history, not from a deployed stack';
  } else {
    timeScale = await localTimeScale(ctx, target);
    const orderId = orderIdFor([...events], executionArn);
    if (orderId === undefined) {
      missingNote = 'not read: the execution names no order (no orderId in its input or name)';
    } else {
      // Both are extras: a stack without the saga's tables or log groups still gets its report.
      const [ledgerRead, logsRead] = await Promise.allSettled([
        readLedgerRows(target, orderId),
        readOrderLogs(target, orderId),
      ]);
      if (ledgerRead.status === 'fulfilled') ledgerRows = ledgerRead.value;
      else
        out.warn(`The ledger of order ${orderId} could not be read: ${(ledgerRead.reason as Error).message}`);
      if (logsRead.status === 'fulfilled') {
        logs = logsRead.value.map((line) => ({
          ...line,
          functionName: shortFunctionName(line.functionName),
        }));
      } else {
        out.warn(
          `The log lines of order ${orderId} could not be read: ${(logsRead.reason as Error).message}`,
        );
      }
      missingNote = 'not read: the stack did not answer (see the warning saga report printed)';
    }
  }

  const { html } = buildReport({
    header: {
      name: executionArn?.split(':').at(-1),
      executionArn,
      file: options.fromFile,
      timeScale,
    },
    events,
    definition: sources.definition,
    ledgerRows,
    logs,
    missingNote,
    generatedAtMs: Date.now(),
  });
  const bytes = Buffer.byteLength(html, 'utf8');
  if (options.html === undefined) {
    out.raw(html);
    return { type: 'report', file: null, bytes };
  }
  try {
    await writeFile(resolve(ctx.projectDir, options.html), html, 'utf8');
  } catch (error) {
    throw new UserError(
      `Cannot write the report to ${options.html}: ${(error as Error).message}. Pass --html with a path in a folder you can write to.`,
      { cause: error },
    );
  }
  const result: ReportResult = { type: 'report', file: options.html, bytes };
  out.result(
    result,
    (style) =>
      `${style.ok('✓')} Wrote ${options.html} (${Math.max(1, Math.round(bytes / 1024))} KB): open it in a browser, no network needed.`,
  );
  return result;
}

export default async function action(
  ctx: CommandContext,
  [execution]: ArgsOf<typeof reportCommand>,
  options: OptionsOf<typeof reportCommand>,
): Promise<number> {
  await report(ctx, execution, options);
  return 0;
}
