import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { MODES, STEPS } from '../../services/shared/failure-flags.ts';
import { UserError } from '../errors.ts';
import { expectedOutcome } from '../target/expectations.ts';
import {
  formatAction,
  formatFlag,
  interferes,
  MAX_COMPENSATION_COUNT,
  MAX_PUBLISHER_COUNT,
  MOMENTS,
  normalizeSchedule,
  parseSchedule,
  RACE_HOLD_MS,
  RATES,
  REDRIVE_MOMENTS,
  type Schedule,
  scheduleArb,
  serializeSchedule,
  VIAS,
} from './schedule.ts';

const SAMPLES = fc.sample(scheduleArb, { seed: 7, numRuns: 2000 });

describe('scheduleArb', () => {
  test('every step × mode, rates and GLOBAL publisher flags are reachable', () => {
    const seen = new Set<string>();
    const rates = new Set<number | undefined>();
    let publisher = 0;
    for (const s of SAMPLES) {
      for (const o of s.orders) {
        for (const f of o.flags) {
          seen.add(`${f.step}:${f.mode}`);
          rates.add(f.rate);
        }
      }
      if (s.publisher) publisher++;
    }
    const missing = STEPS.flatMap((step) => MODES.map((mode) => `${step}:${mode}`)).filter(
      (k) => !seen.has(k),
    );
    expect(missing).toEqual([]);
    expect([...rates].sort()).toEqual([...RATES, undefined]);
    // One schedule in five holds a GLOBAL publisher flag (it serializes the lanes while it is set).
    expect(publisher / SAMPLES.length).toBeGreaterThan(0.15);
    expect(publisher / SAMPLES.length).toBeLessThan(0.25);
  });

  test('every action at every moment is reachable, with concurrent replays', () => {
    const seen = new Set(
      SAMPLES.flatMap((s) =>
        s.orders.flatMap((o) =>
          o.actions.map((a) => formatAction({ ...a, ...(a.kind === 'replay' ? { k: 1 } : {}) })),
        ),
      ),
    );
    const expected = [
      ...VIAS.flatMap((via) => MOMENTS.map((when) => `replay:${via}:${when}`)),
      ...MOMENTS.map((when) => `expire:${when}`),
      ...REDRIVE_MOMENTS.map((when) => `redrive:${when}`),
      'race',
    ];
    expect(expected.filter((a) => !seen.has(a))).toEqual([]);
    const ks = new Set(
      SAMPLES.flatMap((s) =>
        s.orders.flatMap((o) => o.actions.flatMap((a) => (a.kind === 'replay' ? [a.k] : []))),
      ),
    );
    expect([...ks].sort()).toEqual([1, 2, 3]);
  });

  test('redrives: a modest share of orders, stuck compensations redriven after their flags were cleared among them', () => {
    const orders = SAMPLES.flatMap((s) => s.orders);
    const actions = (o: (typeof orders)[number]) => o.actions.map(formatAction);
    const redriven = orders.filter((o) => o.actions.some((a) => a.kind === 'redrive'));
    expect(redriven.length / orders.length).toBeGreaterThan(0.08);
    expect(redriven.length / orders.length).toBeLessThan(0.3);
    // A compensation flag (refund or release: error, timeout or counted) and then redrive:cleared.
    const compensationThenRedrive = orders.filter(
      (o) =>
        o.flags.some((f) => f.step === 'refund' || f.step === 'release') &&
        actions(o).includes('redrive:cleared'),
    );
    const modes = new Set(
      compensationThenRedrive.flatMap((o) =>
        o.flags.flatMap((f) => (f.step === 'refund' || f.step === 'release' ? [f.mode] : [])),
      ),
    );
    for (const mode of ['error', 'timeout', 'transient', 'throttle']) expect(modes).toContain(mode);
    // Of them, orders whose flags leave them COMPENSATION_FAILED: the redrive is to end them CANCELLED.
    const stuck = compensationThenRedrive.filter((o) => {
      const expectation = expectedOutcome(o.flags);
      return expectation.predictable && expectation.status === 'COMPENSATION_FAILED';
    });
    expect(stuck.length).toBeGreaterThan(50);
    // Redriven with the flags still set too (the execution fails again where it failed).
    expect(orders.some((o) => actions(o).includes('redrive:settled') && o.flags.length > 0)).toBe(true);
  });

  test('1–4 orders, at most one flag per step, transient/throttle counts on both sides of the 4 retries', () => {
    const sizes = new Set(SAMPLES.map((s) => s.orders.length));
    expect([...sizes].sort()).toEqual([1, 2, 3, 4]);
    const counts = new Set<number>();
    for (const s of SAMPLES) {
      for (const o of s.orders) {
        expect(new Set(o.flags.map((f) => f.step)).size).toBe(o.flags.length);
        for (const f of o.flags) if (f.times !== undefined && f.mode === 'transient') counts.add(f.times);
      }
    }
    expect(Math.min(...counts)).toBe(1);
    expect(Math.max(...counts)).toBeGreaterThan(4);
  });

  test('compensation counts reach both sides of their 8 attempts (7, then one more after COMPENSATION_FAILED)', () => {
    const counts = new Set<number>();
    for (const s of SAMPLES)
      for (const o of s.orders)
        for (const f of o.flags)
          if (
            (f.step === 'refund' || f.step === 'release') &&
            f.times !== undefined &&
            f.mode !== 'crash-after-commit'
          )
            if (f.mode === 'transient' || f.mode === 'throttle') counts.add(f.times);
    expect(counts.has(8)).toBe(true);
    expect(counts.has(9)).toBe(true);
    expect(Math.max(...counts)).toBe(MAX_COMPENSATION_COUNT);
  });

  test('generated schedules are normalized: a race holds ShipOrder, publisher errors hit half the deliveries at most, and fail 3 at most', () => {
    for (const s of SAMPLES) {
      expect(normalizeSchedule(s)).toEqual(s);
      for (const o of s.orders) {
        if (o.actions.some((a) => a.kind === 'race')) {
          expect(o.flags.find((f) => f.step === 'shipping')).toEqual({
            step: 'shipping',
            mode: 'latency',
            latencyMs: RACE_HOLD_MS,
          });
        }
      }
      for (const f of [...s.orders.flatMap((o) => o.flags), ...(s.publisher ? [s.publisher] : [])]) {
        if (f.step === 'publisher' && (f.mode === 'error' || f.mode === 'timeout')) {
          expect(f.rate).toBeLessThanOrEqual(0.5);
        }
        if (f.step === 'publisher' && f.times !== undefined)
          expect(f.times).toBeLessThanOrEqual(MAX_PUBLISHER_COUNT);
      }
    }
  });

  test('a failing property shrinks to a small schedule', () => {
    // Fails whenever some order is replayed via sfn after its flags were cleared: the minimum is one such order.
    const details = fc.check(
      fc.property(
        scheduleArb,
        (s) => !s.orders.some((o) => o.actions.some((a) => formatAction(a) === 'replay:sfn:cleared')),
      ),
      { seed: 3 },
    );
    expect(details.failed).toBe(true);
    const [shrunk] = details.counterexample as [Schedule];
    // The one action that matters and nothing else: no flag, no other action, no publisher. fast-check's array
    // shrinker may leave an empty order after it (as it did before redrives were generated, for other seeds).
    expect(serializeSchedule(shrunk)).toMatch(
      /^\{"orders":\[\{"actions":\["replay:sfn:cleared"\]\}(,\{\})?\]\}$/,
    );
  });
});

describe('serializing', () => {
  test('every generated schedule reads back equal from its JSON', () => {
    for (const s of SAMPLES.slice(0, 500)) expect(parseSchedule(serializeSchedule(s))).toEqual(s);
  });

  test('the compact form', () => {
    const s: Schedule = {
      orders: [
        {
          items: 1,
          flags: [
            { step: 'payment', mode: 'transient', times: 2, rate: 0.5 },
            { step: 'shipping', mode: 'latency', latencyMs: 200 },
          ],
          actions: [
            { kind: 'replay', via: 'sfn', when: 'running', k: 2 },
            { kind: 'expire', when: 'settled' },
            { kind: 'redrive', when: 'cleared' },
          ],
        },
        { items: 0, flags: [], actions: [] },
      ],
      publisher: { step: 'publisher', mode: 'error', rate: 0.3 },
    };
    expect(serializeSchedule(s)).toBe(
      '{"orders":[{"items":1,"flags":["payment:transient:2@0.5","shipping:latency:200"],"actions":["replay:sfn:running:x2","expire:settled","redrive:cleared"]},{}],"publisher":"publisher:error@0.3"}',
    );
    expect(formatFlag({ step: 'refund', mode: 'die-after-commit', times: 1 })).toBe(
      'refund:die-after-commit',
    );
    expect(parseSchedule(serializeSchedule(s))).toEqual(s);
  });

  test('redrive reads back at either moment after the first execution ended', () => {
    const s = parseSchedule(
      '{"orders":[{"flags":["shipping:error","refund:error"],"actions":["redrive:settled","redrive:cleared"]}]}',
    );
    expect(s.orders[0]?.actions).toEqual([
      { kind: 'redrive', when: 'settled' },
      { kind: 'redrive', when: 'cleared' },
    ]);
    expect(serializeSchedule(s)).toBe(
      '{"orders":[{"flags":["shipping:error","refund:error"],"actions":["redrive:settled","redrive:cleared"]}]}',
    );
  });

  test.each([
    ['not json', /not JSON/],
    ['{"orders":[]}', /1 to 20 orders/],
    ['{"orders":{}}', /"orders" array/],
    ['{"orders":[{"flags":["payment:explode"]}]}', /unknown mode 'explode'/],
    ['{"orders":[{"flags":["payment@2"]}]}', /rate after @ must be between 0 and 1/],
    ['{"orders":[{"flags":["payment","payment:transient"]}]}', /two flags for payment/],
    ['{"orders":[{"actions":["replay:ftp:settled"]}]}', /unknown via "ftp"/],
    ['{"orders":[{"actions":["replay:sfn:later"]}]}', /unknown moment "later"/],
    ['{"orders":[{"actions":["replay:sfn:settled:x99"]}]}', /x1 to x10/],
    [
      '{"orders":[{"actions":["redrive:running"]}]}',
      /redrive restarts an execution that ended: .*settled or cleared/,
    ],
    ['{"orders":[{"actions":["redrive:cleared:x2"]}]}', /redrive takes one moment/],
    ['{"orders":[{"actions":["redrive"]}]}', /unknown moment undefined.*redrive:<settled\|cleared>/],
    ['{"orders":[{"items":7}]}', /"items" must be 0 to 2/],
    ['{"orders":[{}],"publisher":"payment:error"}', /must be a publisher flag/],
  ])('%s is refused with what was wrong, what was received and an example', (text, why) => {
    const error = (() => {
      try {
        parseSchedule(text);
      } catch (e) {
        return e as Error;
      }
      throw new Error('parsed');
    })();
    expect(error).toBeInstanceOf(UserError);
    expect(error.message).toMatch(why);
    expect(error.message).toContain(`Received ${JSON.stringify(text)}`);
    expect(error.message).toContain('--replay');
  });

  test('a hand-written schedule is normalized like a generated one', () => {
    const s = parseSchedule('{"orders":[{"flags":["shipping:error","publisher:error"],"actions":["race"]}]}');
    expect(s.orders[0]?.flags).toEqual([
      { step: 'shipping', mode: 'latency', latencyMs: RACE_HOLD_MS },
      { step: 'publisher', mode: 'error', rate: 0.5 },
    ]);
  });
});

test('interferes: a second actor while the saga runs', () => {
  expect(interferes({ kind: 'race' })).toBe(true);
  expect(interferes({ kind: 'replay', via: 'sfn', when: 'running', k: 1 })).toBe(true);
  expect(interferes({ kind: 'replay', via: 'steps', when: 'running', k: 1 })).toBe(true);
  expect(interferes({ kind: 'replay', via: 'outbox', when: 'running', k: 1 })).toBe(false);
  expect(interferes({ kind: 'replay', via: 'sfn', when: 'settled', k: 1 })).toBe(false);
  expect(interferes({ kind: 'expire', when: 'running' })).toBe(false);
  expect(interferes({ kind: 'redrive', when: 'settled' })).toBe(false);
});
