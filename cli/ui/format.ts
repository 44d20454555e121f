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

/** How finely a duration is written below a minute (above, every form writes minutes and seconds, then hours). */
type Precision = 'column' | 'short' | 'seconds';

/**
 * The CLI's one way of writing a duration: below a second in ms, below a minute in seconds, then minutes and
 * seconds, then hours and minutes, each rounded (never cut) to what it shows.
 * - `column`: two decimals below 10 s, one below a minute, both parts always (a column of durations lines up).
 * - `short`: one decimal below a minute, dropped when it is 0, and a part that is 0 dropped (running text).
 * - `seconds`: whole seconds, no ms (a countdown, the age of something), a part that is 0 dropped.
 */
function duration(ms: number, precision: Precision): string {
  const value = Math.max(0, Math.round(ms));
  if (value < 1000 && precision !== 'seconds') return `${value}ms`;
  // Seconds up to what would round to 60 s at these decimals: that is written as a minute.
  const decimals = precision === 'seconds' ? 0 : precision === 'column' && value < 9_995 ? 2 : 1;
  if (value < 60_000 - 500 / 10 ** decimals) {
    const seconds = (value / 1000).toFixed(decimals);
    return `${precision === 'short' ? seconds.replace(/\.0$/, '') : seconds}s`;
  }
  const whole = precision === 'column';
  const seconds = Math.round(value / 1000);
  if (seconds < 3600) {
    const rest = seconds % 60;
    return rest === 0 && !whole
      ? `${seconds / 60}m`
      : `${Math.floor(seconds / 60)}m ${String(rest).padStart(2, '0')}s`;
  }
  const minutes = Math.round(value / 60_000);
  const rest = minutes % 60;
  return rest === 0 && !whole
    ? `${minutes / 60}h`
    : `${Math.floor(minutes / 60)}h ${String(rest).padStart(2, '0')}m`;
}

/** A duration for people, in a column or a summary: 840ms, 1.24s, 12.4s, 2m 05s, 2m 00s, 1h 02m. */
export function formatDuration(ms: number): string {
  return duration(ms, 'column');
}

/** A duration in running text, short: 640ms, 1.2s, 19s, 2m, 2m 05s, 1h (the same rules as {@link formatDuration}). */
export function formatShortDuration(ms: number): string {
  return duration(ms, 'short');
}

/**
 * A duration to the second, for a countdown or the age of something: 0s, 45s, 2m, 2m 05s, 1h 02m (the same rules
 * as {@link formatDuration}).
 */
export function formatWholeSeconds(ms: number): string {
  return duration(ms, 'seconds');
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

/** An amount in cents as the saga shows money: `48.50 EUR` (`48.50` without a currency). */
export function formatMoney(cents: number, currency?: string): string {
  return `${(cents / 100).toFixed(2)}${currency ? ` ${currency}` : ''}`;
}
