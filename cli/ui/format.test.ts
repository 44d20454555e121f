import { describe, expect, test } from 'vitest';
import { GLYPHS } from '../timeline/glyphs.ts';
import type { TimelineStyle } from '../timeline/render.ts';
import {
  displayWidth,
  formatDuration,
  formatMoney,
  formatShortDuration,
  formatWholeSeconds,
  PLAIN_STYLE,
  type Style,
  truncate,
} from './format.ts';
import type { Style as OutputStyle } from './output.ts';

describe('displayWidth: terminal columns, as string-width counts them', () => {
  test.each([
    ['plain ASCII', 'ChargePayment', 13],
    ['wide CJK', '注文', 4],
    ['fullwidth Latin', 'ＡＢ', 4],
    ['Hangul', '한국', 4],
    ['a combining accent takes none', 'e\u0301', 1],
    ['a zero-width space takes none', 'a\u200bb', 2],
    ['an emoji', '🙂', 2],
    ['an emoji ZWJ sequence is one wide character', '👩‍👩‍👧', 2],
    ['an emoji by its variation selector', '❤️', 2],
    ['ANSI colour codes take none', '\u001b[32mok\u001b[39m', 2],
    ['the ellipsis', '…', 1],
  ])('%s', (_label, text, width) => {
    expect(displayWidth(text)).toBe(width);
  });

  test('every timeline glyph takes one column (the name column aligns on them)', () => {
    for (const glyph of Object.values(GLYPHS)) expect(displayWidth(glyph), glyph).toBe(1);
  });
});

describe('truncate', () => {
  test('cuts to the columns, ending in …', () => {
    expect(truncate('注文を確定', 5)).toBe('注文…');
    expect(truncate('RefundFailed: provider down', 12)).toBe('RefundFaile…');
    expect(truncate('short', 10)).toBe('short');
    expect(truncate('anything', 0)).toBe('');
  });

  test('never cuts inside a character made of several code points', () => {
    expect(truncate('👩‍👩‍👧 family', 4)).toBe('👩‍👩‍👧 …');
    expect(truncate('e\u0301e\u0301e\u0301e\u0301', 3)).toBe('e\u0301e\u0301…');
    for (let max = 1; max <= 12; max++)
      expect(displayWidth(truncate('注文👩‍👩‍👧 e\u0301 done', max))).toBeLessThanOrEqual(max);
  });
});

describe('the one duration formatter', () => {
  test('precise, for columns and summaries: both parts always', () => {
    expect(
      [
        0, -5, 840, 999.6, 1240, 9_994, 9_996, 12_400, 59_940, 59_960, 120_000, 125_000, 125_600, 3_720_000,
      ].map((ms) => formatDuration(ms)),
    ).toEqual([
      '0ms',
      '0ms',
      '840ms',
      '1.00s',
      '1.24s',
      '9.99s',
      '10.0s',
      '12.4s',
      '59.9s',
      '1m 00s',
      '2m 00s',
      '2m 05s',
      '2m 06s',
      '1h 02m',
    ]);
  });

  test('short, for running text (backoffs, limits): one decimal and parts that are 0 dropped, the same units', () => {
    expect(
      [640, 1000, 1200, 2_950, 19_000, 59_960, 120_000, 125_000, 3_600_000, 3_720_000].map(
        formatShortDuration,
      ),
    ).toEqual(['640ms', '1s', '1.2s', '3s', '19s', '1m', '2m', '2m 05s', '1h', '1h 02m']);
  });

  test('to the second, for a countdown or an age: no ms, no decimals, the same units', () => {
    expect(
      [-5, 0, 400, 600, 45_000, 59_400, 59_600, 65_000, 120_000, 3_599_600, 3_720_000].map(
        formatWholeSeconds,
      ),
    ).toEqual(['0s', '0s', '0s', '1s', '45s', '59s', '1m', '1m 05s', '2m', '1h', '1h 02m']);
  });

  test('the three forms agree from a minute on, but for the parts that are 0', () => {
    for (const ms of [61_000, 125_000, 754_000, 3_660_000, 7_380_000]) {
      expect(formatShortDuration(ms)).toBe(formatDuration(ms));
      expect(formatWholeSeconds(ms)).toBe(formatDuration(ms));
    }
  });
});

describe('the one style', () => {
  test('the plain style is identity, and the output and timeline styles are the same type', () => {
    const output: OutputStyle = PLAIN_STYLE;
    const timeline: TimelineStyle = output;
    const style: Style = timeline;
    for (const key of ['ok', 'fail', 'warn', 'dim', 'bold', 'accent'] as const)
      expect(style[key]('text')).toBe('text');
  });
});

describe('formatMoney', () => {
  test('cents as the saga shows money, with or without a currency', () => {
    expect(formatMoney(4850, 'EUR')).toBe('48.50 EUR');
    expect(formatMoney(5, 'USD')).toBe('0.05 USD');
    expect(formatMoney(2500)).toBe('25.00');
  });
});
