/**
 * Text measurement, formatting and the style interface shared by every renderer (the timeline, the graph, tables,
 * `saga ls`). Pure: no terminal, no colour library (colours come in as a {@link Style}).
 */
import { createRequire } from 'node:module';

/** Styling functions: each wraps a piece of text (e.g. in ANSI colour codes). Identity when colour is off. */
export interface Style {
  /** Success: ✓, SUCCEEDED. */
  readonly ok: (text: string) => string;
  /** Failure: ✗, error names, FAILED. */
  readonly fail: (text: string) => string;
  /** Attention: retries, caught errors, aborted, warnings. */
  readonly warn: (text: string) => string;
  /** Secondary text: durations, separators, details. */
  readonly dim: (text: string) => string;
  /** Emphasis: headers, state names of forward steps, the outcome. */
  readonly bold: (text: string) => string;
  /** Compensations, running states, commands to type. */
  readonly accent: (text: string) => string;
}

const identity = (text: string) => text;

/** No styling: plain text. */
export const PLAIN_STYLE: Style = {
  ok: identity,
  fail: identity,
  warn: identity,
  dim: identity,
  bold: identity,
  accent: identity,
};

/**
 * One column per character: printable ASCII, and the narrow symbols the CLI itself prints (the timeline's glyphs,
 * separators, arrows). Anything else is measured by string-width.
 */
const SINGLE_COLUMN = /^[\x20-\x7e·…–—→⇒↻↷↩✓✗•◇×]*$/;

let stringWidth: ((text: string) => number) | undefined;

/**
 * string-width, loaded on first use: compiling its Unicode property patterns takes longer than `saga --help`
 * itself, and most lines never need it.
 */
function measure(text: string): number {
  stringWidth ??= (createRequire(import.meta.url)('string-width') as { default: (text: string) => number })
    .default;
  return stringWidth(text);
}

/**
 * Terminal columns a string takes, as string-width counts them (what ora, inquirer and most terminal tools use):
 * wide CJK and emoji count 2, combining marks and zero-width characters 0, ANSI colour codes none.
 */
export function displayWidth(text: string): number {
  return SINGLE_COLUMN.test(text) ? text.length : measure(text);
}

/** Terminal columns of a string that may carry ANSI colour codes: the same as {@link displayWidth}. */
export const visibleWidth: (text: string) => number = displayWidth;

let graphemes: Intl.Segmenter | undefined;

/**
 * Cuts a plain string to at most `max` columns, ending in `…` when it had to cut. Cuts between user-perceived
 * characters (an accent stays with its letter, an emoji sequence stays whole).
 */
export function truncate(text: string, max: number): string {
  if (max <= 0) return '';
  if (displayWidth(text) <= max) return text;
  let out = '';
  let width = 0;
  graphemes ??= new Intl.Segmenter(undefined, { granularity: 'grapheme' });
  for (const { segment } of graphemes.segment(text)) {
    const w = displayWidth(segment);
    if (width + w > max - 1) break;
    out += segment;
    width += w;
  }
  return `${out}…`;
}

/**
 * The CLI's one way of writing a duration: below a second in ms, below a minute in seconds, then minutes and
 * seconds, then hours and minutes. `precise` keeps two significant decimals below 10 s (a column of durations);
 * otherwise one, dropped when it is 0 (running text such as a list of backoffs).
 */
function duration(ms: number, precise: boolean): string {
  const value = Math.max(0, Math.round(ms));
  if (value < 1000) return `${value}ms`;
  if (value < 60_000) {
    const seconds = value / 1000;
    if (!precise) return `${seconds.toFixed(1).replace(/\.0$/, '')}s`;
    return `${seconds.toFixed(value < 10_000 ? 2 : 1)}s`;
  }
  const seconds = Math.floor(value / 1000);
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h ${String(Math.floor(seconds / 60) % 60).padStart(2, '0')}m`;
}

/** A duration for people, in a column or a summary: 840ms, 1.24s, 12.4s, 2m 05s, 1h 02m. */
export function formatDuration(ms: number): string {
  return duration(ms, true);
}

/** A duration in running text, short: 640ms, 1.2s, 19s, 2m 05s (the same rules as {@link formatDuration}). */
export function formatShortDuration(ms: number): string {
  return duration(ms, false);
}

/** A count with its noun, singular when it is 1: `1 transition`, `7 transitions`. */
export function plural(count: number, singular: string, pluralForm = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : pluralForm}`;
}

/** A local date and time with its UTC offset: `2026-12-03 09:24:11 +01:00`. */
export function formatLocalTime(ms: number): string {
  const date = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? '+' : '-';
  return (
    `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ` +
    `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())} ` +
    `${sign}${two(Math.floor(Math.abs(offset) / 60))}:${two(Math.abs(offset) % 60)}`
  );
}
