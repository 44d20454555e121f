import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { displayWidth } from '../ui/format.ts';
import { type HistoryEventLike, parseHistoryFile } from './history.ts';
import { buildTimeline, type TimelineModel } from './model.ts';
import { createTimelinePrinter, type TimelineLogLine, type TimelineMode } from './printer.ts';

const SAGA_FIXTURES = join(import.meta.dirname, 'fixtures');
const shipping = parseHistoryFile(readFileSync(join(SAGA_FIXTURES, 'saga-shipping-fails.json'), 'utf8'));
const STATES = [
  'ChargePayment',
  'ReserveInventory',
  'ShipOrder',
  'ReleaseInventory',
  'RefundPayment',
  'MarkOrderCancelled',
  'OrderCancelled',
];

/** Time of the first event of a type for a state (the fixture's clock). */
function at(type: string, state: string): number {
  const event = shipping.find(
    (e) =>
      e.type === type &&
      (e as { stateEnteredEventDetails?: { name?: string } }).stateEnteredEventDetails?.name === state,
  );
  return Date.parse(String(event?.timestamp));
}

/** Two log lines: one while ChargePayment runs, one (an ERROR) while ShipOrder runs. */
const LOGS: TimelineLogLine[] = [
  {
    timestamp: at('TaskStateEntered', 'ChargePayment') + 5,
    functionName: 'Saga-ChargePaymentFunctionAB12CD34EF56',
    level: 'INFO',
    message: 'charged 2500 EUR',
  },
  {
    timestamp: at('TaskStateEntered', 'ShipOrder') + 5,
    functionName: 'Saga-ShipOrderFunction1234567890AB',
    level: 'ERROR',
    message: 'no carrier',
  },
];

interface Poll {
  readonly events: readonly HistoryEventLike[];
  readonly model: TimelineModel;
  readonly logs: TimelineLogLine[];
  readonly last: boolean;
}

/** The fixture followed poll by poll (a poll after every event); each log line arrives with the first poll after it. */
function polls(history: readonly HistoryEventLike[] = shipping): Poll[] {
  return history.map((_, i) => {
    const events = history.slice(0, i + 1);
    const newest = Date.parse(String(events.at(-1)?.timestamp));
    return {
      events,
      model: buildTimeline(events),
      logs: LOGS.filter((log) => log.timestamp <= newest),
      last: i === history.length - 1,
    };
  });
}

/** `Saga-ChargePaymentFunctionAB12CD34EF56` -> `ChargePayment`. */
const functionLabel = (name: string) => name.replace(/^Saga-|Function\w*$/g, '');

function follow(mode: TimelineMode, options: { width?: number; cut?: boolean } = {}) {
  const printer = createTimelinePrinter({ mode, functionLabel, ...options });
  return polls().map((poll) => printer.update(poll.model, poll.logs, { last: poll.last }));
}

const count = (lines: readonly string[], text: string) => lines.filter((line) => line.includes(text)).length;
/** The visit lines of a state (glyph, name), not log lines naming its function. */
const visitsOf = (lines: readonly string[], state: string) =>
  lines.filter((line) => new RegExp(`^ *[^ ]+ ${state} `).test(line)).length;
/** The lines above the footer's rule. */
const body = (lines: readonly string[]) => {
  const rule = lines.findIndex((line) => /^─+$/.test(line));
  return rule < 0 ? lines : lines.slice(0, rule);
};

describe('live (a terminal): one timeline, logs as they arrive, the footer while running', () => {
  const frames = follow('live', { width: 100 }).map((write) => write.frame ?? []);

  test('every frame shows each visit once: the timeline is never printed twice', () => {
    const last = frames.at(-1) ?? [];
    for (const state of STATES) expect(visitsOf(last, state), state).toBe(1);
    for (const frame of frames) {
      for (const state of STATES) expect(visitsOf(body(frame), state)).toBeLessThanOrEqual(1);
    }
  });

  test('a log line shows up in the first frame after it was written, under its visit, not at the end', () => {
    const firstWith = frames.findIndex((frame) => frame.some((line) => line.includes('charged 2500 EUR')));
    expect(firstWith).toBeGreaterThan(0);
    expect(firstWith).toBeLessThan(frames.length / 3);
    const frame = frames[firstWith] ?? [];
    const logAt = frame.findIndex((line) => line.includes('charged 2500 EUR'));
    expect(frame[logAt - 1]).toContain('ChargePayment');
    expect(frame[logAt]).toMatch(/^ {6}ChargePayment +INFO {2}charged 2500 EUR$/);
    const last = frames.at(-1) ?? [];
    expect(last[last.findIndex((line) => line.includes('no carrier')) - 1]).toContain('ShipOrder');
  });

  test('the footer is there while running (elapsed time) and at the end', () => {
    const running = frames[Math.floor(frames.length / 2)] ?? [];
    expect(running.join('\n')).toMatch(/… RUNNING\n.*elapsed \d/);
    expect((frames.at(-1) ?? []).join('\n')).toMatch(/✗ FAILED .*\n.*total 888ms · 7 transitions/);
  });
});

describe('append (a file, a pipe): settled lines only, aligned, whole', () => {
  const lines = follow('append', { width: 80 }).flatMap((write) => write.lines);

  test('each visit once, no transient "running" line; log lines merged in by time; the footer once', () => {
    for (const state of STATES) expect(visitsOf(lines, state), state).toBe(1);
    expect(lines.join('\n')).not.toMatch(/running|^…/m);
    expect(lines.findIndex((l) => l.includes('charged 2500 EUR'))).toBeLessThan(
      lines.findIndex((l) => visitsOf([l], 'ChargePayment') === 1),
    );
    expect(lines.findIndex((l) => l.includes('no carrier'))).toBeGreaterThan(
      lines.findIndex((l) => visitsOf([l], 'ReserveInventory') === 1),
    );
    expect(count(lines, 'transitions')).toBe(1);
  });

  test('the duration column lines up across polls', () => {
    const visits = lines.filter((line) => STATES.some((state) => visitsOf([line], state) === 1));
    const ends = visits.map((line) => {
      const match = /\d+(?:\.\d+)?m?s(?= {2}|$)/.exec(line);
      return displayWidth(line.slice(0, (match?.index ?? 0) + (match?.[0].length ?? 0)));
    });
    expect(new Set(ends).size).toBe(1);
  });

  test('causes are not cut at the width: a file keeps them whole', () => {
    expect(lines.join('\n')).toContain(
      'OrderCancelled: A forward step failed; the completed steps were compensated and the order is CANCELLED.',
    );
    expect(Math.max(...lines.map(displayWidth))).toBeGreaterThan(80);
  });
});

describe('json: step, log and summary documents', () => {
  const documents = follow('json').flatMap((write) => write.documents);

  test('--json --logs emits {"type":"log"} lines among the steps, each step once, the summary last', () => {
    const types = documents.map((d) => d.type);
    expect(types.filter((t) => t === 'log')).toHaveLength(2);
    expect(types.filter((t) => t === 'step')).toHaveLength(STATES.length);
    expect(types.at(-1)).toBe('summary');
    expect(types.filter((t) => t === 'summary')).toHaveLength(1);
    expect(documents.find((d) => d.type === 'log')).toEqual({ type: 'log', ...LOGS[0] });
    const steps = documents.flatMap((d) => (d.type === 'step' ? [d.state] : []));
    expect(steps).toEqual(STATES);
  });
});

describe('a snapshot of a running execution (--no-follow)', () => {
  const running = shipping.filter((event) => (event.id ?? 0) <= 12);
  const model = buildTimeline(running);

  test('text: every visit so far, the running one included, and a footer saying it runs', () => {
    const lines = createTimelinePrinter({ mode: 'append' }).update(model, [], { last: true }).lines;
    const visits = model.entries.map((entry) => entry.state);
    expect(visits.length).toBeGreaterThan(1);
    for (const state of visits) expect(visitsOf(lines, state)).toBe(1);
    expect(lines.join('\n')).toMatch(/running/);
    expect(lines.join('\n')).toMatch(/… RUNNING\n.*elapsed/);
  });

  test('json: a step line per visit so far (status running for the current one), then the summary', () => {
    const documents = createTimelinePrinter({ mode: 'json' }).update(model, [], { last: true }).documents;
    const steps = documents.filter((d) => d.type === 'step');
    expect(steps).toHaveLength(model.entries.length);
    expect(steps.at(-1)).toMatchObject({ status: 'running' });
    expect(documents.at(-1)).toMatchObject({ type: 'summary', status: 'RUNNING' });
  });
});
