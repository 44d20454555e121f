import type { ChalkInstance } from 'chalk';
import { displayWidth, type Style, truncate } from './format.ts';

/** Where and how the CLI writes. The only module (with prompts.ts) that touches the terminal. */
export interface OutputOptions {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  /** Machine output: one JSON document per line on stdout, no colour, no spinners. */
  readonly json: boolean;
  /** Colours on (false under --no-color, NO_COLOR, --json or no TTY). */
  readonly color: boolean;
  /** stdout is an interactive terminal: spinners and in-place redraw allowed. */
  readonly interactive: boolean;
  /** Terminal width for layout. @default 100 */
  readonly width?: number;
}

/** The style functions a renderer may use (identity when colour is off): the one the timeline and graph use too. */
export type { Style } from './format.ts';

/** A spinner, or its plain stand-in when the output is not interactive. */
export interface Progress {
  update(text: string): void;
  succeed(text?: string): void;
  fail(text?: string): void;
  stop(): void;
}

/** All terminal output of the CLI. */
export class Output {
  readonly json: boolean;
  readonly interactive: boolean;
  readonly width: number;
  readonly style: Style;
  private readonly stdout: NodeJS.WritableStream;
  private readonly stderr: NodeJS.WritableStream;
  private liveLineCount = 0;

  /** Builds an Output; chalk is loaded only when colours are on (keeps `saga --help` start-up lean). */
  static async create(options: OutputOptions): Promise<Output> {
    if (!options.color || options.json) return new Output(options, undefined);
    const { Chalk } = await import('chalk');
    return new Output(options, new Chalk({ level: 1 }));
  }

  private constructor(options: OutputOptions, chalk: ChalkInstance | undefined) {
    this.stdout = options.stdout;
    this.stderr = options.stderr;
    this.json = options.json;
    this.interactive = options.interactive && !options.json;
    this.width = options.width ?? 100;
    const plain = (s: string) => s;
    this.style = chalk
      ? {
          ok: (s) => chalk.green(s),
          fail: (s) => chalk.red(s),
          warn: (s) => chalk.yellow(s),
          dim: (s) => chalk.dim(s),
          bold: (s) => chalk.bold(s),
          accent: (s) => chalk.cyan(s),
        }
      : { ok: plain, fail: plain, warn: plain, dim: plain, bold: plain, accent: plain };
  }

  /** A line for people (suppressed under --json). */
  line(text = ''): void {
    if (!this.json) this.stdout.write(`${text}\n`);
  }

  /** A JSON document on its own line (only under --json). */
  data(document: unknown): void {
    if (this.json) this.stdout.write(`${JSON.stringify(document)}\n`);
  }

  /**
   * One result, for both outputs: under --json `data` as one JSON line; otherwise the text `render` makes of it
   * (one line or several; `render` is not called under --json). A command says each result once, so neither
   * output can forget it.
   */
  result(data: unknown, render: (style: Style) => string | readonly string[]): void {
    if (this.json) {
      this.data(data);
      return;
    }
    const text = render(this.style);
    for (const line of typeof text === 'string' ? [text] : text) this.line(line);
  }

  success(text: string): void {
    this.line(`${this.style.ok('✓')} ${text}`);
  }

  warn(text: string): void {
    this.stderr.write(`${this.style.warn('!')} ${text}\n`);
  }

  /** An error message on stderr (also under --json, where it is a JSON object). */
  error(text: string, detail?: string): void {
    if (this.json) {
      this.stderr.write(
        `${JSON.stringify({ type: 'error', message: text, ...(detail ? { detail } : {}) })}\n`,
      );
      return;
    }
    this.stderr.write(`${this.style.fail('✗')} ${text}\n`);
    if (detail) this.stderr.write(`${this.style.dim(detail)}\n`);
  }

  /** Raw text to stdout for people (help, usage). */
  raw(text: string): void {
    if (!this.json) this.stdout.write(text);
  }

  /** Raw text to stderr. */
  rawError(text: string): void {
    this.stderr.write(text);
  }

  /**
   * Aligned columns; the first row is the header. On a terminal, the table fits its width: the widest of the
   * `shrink` columns is cut (with …) first, none below 8 columns. Off a terminal (a file, a pipe) nothing is cut.
   */
  table(rows: readonly (readonly string[])[], options: TableOptions = {}): void {
    if (this.json) return;
    for (const line of this.tableLines(rows, options)) this.line(line);
  }

  /** The lines {@link table} writes, for a result's text (see {@link result}). */
  tableLines(rows: readonly (readonly string[])[], options: TableOptions = {}): string[] {
    if (rows.length === 0) return [];
    const widths: number[] = [];
    for (const row of rows) {
      row.forEach((cell, i) => {
        widths[i] = Math.max(widths[i] ?? 0, displayWidth(cell));
      });
    }
    if (this.interactive) fitColumns(widths, this.width, options.shrink ?? []);
    return rows.map((row, r) => {
      const text = row
        .map((cell, i) => {
          const width = widths[i] ?? 0;
          // A cut cell loses its colour: the styles wrap whole cells, and cutting inside an escape breaks it.
          const fitted = displayWidth(cell) > width ? truncate(stripColour(cell), width) : cell;
          return i === row.length - 1
            ? fitted
            : fitted + ' '.repeat(Math.max(0, width - displayWidth(fitted)));
        })
        .join(COLUMN_GAP);
      return r === 0 ? this.style.bold(text) : text;
    });
  }

  /**
   * Replaces the lines last drawn with `live` by `lines` (in place on a TTY). Not for plain output: callers append
   * there instead.
   */
  live(lines: readonly string[]): void {
    if (!this.interactive) return;
    if (this.liveLineCount > 0) this.stdout.write(`\x1b[${this.liveLineCount}F\x1b[0J`);
    this.stdout.write(lines.map((l) => `${l}\n`).join(''));
    this.liveLineCount = lines.length;
  }

  /** Ends the live block: the next `live` starts a new one below it. */
  endLive(): void {
    this.liveLineCount = 0;
  }

  /** A spinner on a TTY; otherwise one plain line at the start and one at the end (none under --json). */
  async progress(text: string): Promise<Progress> {
    if (!this.interactive) {
      this.line(this.style.dim(`… ${text}`));
      return {
        update: () => {},
        succeed: (t) => this.success(t ?? text),
        fail: (t) => this.line(`${this.style.fail('✗')} ${t ?? text}`),
        stop: () => {},
      };
    }
    const { default: ora } = await import('ora');
    // discardStdin: false — ora's stdin discarder puts the terminal in raw mode without reading it, which
    // swallows Ctrl-C while a spinner runs.
    const spinner = ora({ text, stream: this.stdout, discardStdin: false }).start();
    return {
      update: (t) => {
        spinner.text = t;
      },
      succeed: (t) => spinner.succeed(t ?? spinner.text),
      fail: (t) => spinner.fail(t ?? spinner.text),
      stop: () => spinner.stop(),
    };
  }
}

/** Options of {@link Output.table}. */
export interface TableOptions {
  /** Columns that may be cut to fit the terminal, e.g. free text and dates. @default none */
  readonly shrink?: readonly number[];
}

const COLUMN_GAP = '  ';
const MIN_COLUMN = 8;

/** Narrows the `shrink` columns, widest first, until the row fits `width` (or they reach {@link MIN_COLUMN}). */
export function fitColumns(widths: number[], width: number, shrink: readonly number[]): void {
  const total = () => widths.reduce((sum, w) => sum + w, 0) + COLUMN_GAP.length * (widths.length - 1);
  for (let over = total() - width; over > 0; over = total() - width) {
    const widest = shrink
      .filter((i) => (widths[i] ?? 0) > MIN_COLUMN)
      .sort((a, b) => (widths[b] ?? 0) - (widths[a] ?? 0))[0];
    if (widest === undefined) return;
    const next = shrink.map((i) => widths[i] ?? 0).filter((w) => w < (widths[widest] ?? 0));
    // Down to the next widest shrinkable column (so they end up cut evenly), or by the whole overflow.
    const floor = Math.max(MIN_COLUMN, (widths[widest] ?? 0) - over, Math.max(0, ...next));
    widths[widest] = floor === widths[widest] ? floor - 1 : floor;
  }
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching the ESC of ANSI colour codes is the point
const ANSI = /\x1b\[[0-9;]*m/g;

function stripColour(text: string): string {
  return text.replace(ANSI, '');
}
