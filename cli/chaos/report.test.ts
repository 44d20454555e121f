import { describe, expect, test } from 'vitest';
import type { ExploreResult } from './explore.ts';
import {
  describeSchedule,
  perMinute,
  progressText,
  replayCommands,
  runLine,
  shellQuote,
  summaryLine,
} from './report.ts';
import { parseSchedule, type Schedule } from './schedule.ts';

const A = '01JD8Z6Q3M4N5P6R7S8T9V0W1A';
const SCHEDULE: Schedule = {
  orders: [
    {
      items: 0,
      flags: [{ step: 'shipping', mode: 'error' }],
      actions: [{ kind: 'replay', via: 'sfn', when: 'cleared', k: 1 }],
    },
  ],
};
const VIOLATION = { id: 'I4', name: 'I4 shipment', detail: `${A}: CANCELLED with 1 shipments`, orders: [A] };

describe('the JSON lines of design §6', () => {
  test('a run line', () => {
    expect(
      runLine({
        lane: 1,
        seed: 43,
        schedule: SCHEDULE,
        shrinking: false,
        result: { orderIds: [A], violations: [VIOLATION], executionArns: [], redrives: 0, durationMs: 1200 },
      }),
    ).toEqual({
      type: 'run',
      seed: 43,
      schedule: { orders: [{ flags: ['shipping:error'], actions: ['replay:sfn:cleared'] }] },
      orders: [A],
      violations: [VIOLATION],
      redrives: 0,
      shrinking: false,
      durationMs: 1200,
    });
  });

  test('a clean summary has no counterexample and the exploration rate', () => {
    const result: ExploreResult = { runs: 30, shrinkRuns: 0, orders: 75, failedRuns: 0, durationMs: 120_000 };
    const line = summaryLine(result, 42, 3);
    expect(line).toMatchObject({
      type: 'summary',
      runs: 30,
      orders: 75,
      violations: 0,
      seed: 42,
      schedulesPerMinute: 15,
      ordersPerMinute: 37.5,
    });
    expect(line).not.toHaveProperty('counterexample');
    expect(line.note).toMatch(/timing/);
  });

  test('a summary with a counterexample names it and how to replay it', () => {
    const result: ExploreResult = {
      runs: 4,
      shrinkRuns: 6,
      orders: 20,
      failedRuns: 3,
      durationMs: 60_000,
      counterexample: {
        lane: 1,
        seed: 43,
        path: '3:0:1',
        schedule: SCHEDULE,
        shrinks: 2,
        result: { orderIds: [A], violations: [VIOLATION], executionArns: [], redrives: 0, durationMs: 900 },
      },
    };
    const line = summaryLine(result, 42, 3);
    expect(line.violations).toBe(1);
    expect(line.schedulesPerMinute).toBe(10);
    expect(line.counterexample).toEqual({
      seed: 43,
      path: '3:0:1',
      schedule: { orders: [{ flags: ['shipping:error'], actions: ['replay:sfn:cleared'] }] },
      orders: [A],
      violations: [VIOLATION],
      shrinks: 2,
      replay: [
        'saga chaos --seed 43 --path 3:0:1 --concurrency 1',
        `saga chaos --replay '{"orders":[{"flags":["shipping:error"],"actions":["replay:sfn:cleared"]}]}'`,
      ],
    });
  });
});

test('the --replay command reads back the same schedule through a shell', () => {
  const command = replayCommands({ seed: 1, path: '0', schedule: SCHEDULE })[1] ?? '';
  const quoted = command.slice('saga chaos --replay '.length);
  expect(quoted.startsWith("'") && quoted.endsWith("'")).toBe(true);
  expect(parseSchedule(quoted.slice(1, -1))).toEqual(SCHEDULE);
  expect(shellQuote("it's")).toBe(`'it'\\''s'`);
});

test('describeSchedule: one line per order, then the publisher flag', () => {
  expect(
    describeSchedule({ ...SCHEDULE, publisher: { step: 'publisher', mode: 'transient', times: 2 } }, [A]),
  ).toEqual([
    `order 1 (${A}): flags shipping:error; then replay:sfn:cleared`,
    'GLOBAL publisher:transient:2 while the orders run',
  ]);
});

test('progress text, seconds and rates', () => {
  expect(progressText({ runs: 3, orders: 8, violations: 0, leftMs: 65_000, shrinking: false })).toBe(
    'chaos: 3 runs · 8 orders · 0 violations · 1m 05s left',
  );
  expect(progressText({ runs: 3, orders: 8, violations: 0, leftMs: 44_600, shrinking: false })).toBe(
    'chaos: 3 runs · 8 orders · 0 violations · 45s left',
  );
  expect(progressText({ runs: 3, orders: 8, violations: 0, leftMs: -5, shrinking: false })).toBe(
    'chaos: 3 runs · 8 orders · 0 violations · 0s left',
  );
  expect(progressText({ runs: 3, orders: 8, violations: 2, leftMs: 0, shrinking: true })).toBe(
    'chaos: 3 runs · 8 orders · 2 violations · shrinking the counterexample',
  );
  expect(perMinute(10, 0)).toBe(0);
});
