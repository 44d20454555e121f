import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { type HistoryEventLike, parseHistoryFile } from './history.ts';
import { buildTimeline, type TimelineModel } from './model.ts';
import {
  briefInput,
  diffForAppend,
  displayWidth,
  formatDuration,
  formatUsd,
  GLYPHS,
  redrawFrame,
  renderHeader,
  renderTimeline,
  renderTimelineRows,
  TIMELINE_LEGEND,
  type TimelineRow,
  type TimelineStyle,
  toJsonLines,
  truncate,
} from './render.ts';

const AWS_FIXTURES = fileURLToPath(new URL('../../test/fixtures/aws-history', import.meta.url));
const SAGA_FIXTURES = join(import.meta.dirname, 'fixtures');
const ALL = [
  ...readdirSync(AWS_FIXTURES)
    .filter((name) => name.endsWith('.json'))
    .map((name) => join(AWS_FIXTURES, name)),
  ...readdirSync(SAGA_FIXTURES)
    .filter((name) => name.endsWith('.json'))
    .map((name) => join(SAGA_FIXTURES, name)),
];
const events = (path: string) => parseHistoryFile(readFileSync(path, 'utf8'));
const model = (path: string) => buildTimeline(events(path));
const saga = (name: string) => model(join(SAGA_FIXTURES, name));

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching ANSI escapes
const stripAnsi = (text: string) => text.replace(/\u001b\[[0-9;]*m/g, '');
const ansi = (code: number) => (text: string) => `\u001b[${code}m${text}\u001b[0m`;
const COLOURS: TimelineStyle = {
  ok: ansi(32),
  fail: ansi(31),
  warn: ansi(33),
  dim: ansi(2),
  bold: ansi(1),
  accent: ansi(36),
};

describe('renderTimeline on every history', () => {
  const widths = [24, 40, 60, 80, 100, 160];

  test.each(ALL.map((path) => [path.split('/').at(-1), path]))(
    '%s: one line per visit plus the footer, none wider than width',
    (_, path) => {
      const timeline = model(path);
      for (const width of widths) {
        const rows = renderTimelineRows(timeline, { width });
        const steps = rows.filter((row) => row.kind === 'step');
        const footer = rows.filter((row) => row.kind === 'footer');
        expect(steps).toHaveLength(timeline.entries.length);
        expect(footer.length).toBeGreaterThanOrEqual(3);
        expect(rows.slice(0, steps.length)).toEqual(steps);
        for (const row of rows)
          expect(displayWidth(row.text), `${width}: ${row.text}`).toBeLessThanOrEqual(width);
        expect(renderTimeline(timeline, { width })).toEqual(rows.map((row) => row.text));
        // Styling wraps pieces of text and changes nothing else.
        const coloured = renderTimeline(timeline, { width, style: COLOURS });
        expect(coloured.map(stripAnsi)).toEqual(rows.map((row) => row.text));
        expect(coloured.join('\n')).not.toEqual(rows.map((row) => row.text).join('\n'));
      }
      // Wide enough, every state name appears whole, in order.
      const wide = renderTimeline(timeline, { width: 160 });
      for (const [index, entry] of timeline.entries.entries()) expect(wide[index]).toContain(entry.state);
    },
  );

  test.each(ALL.map((path) => [path.split('/').at(-1), path]))(
    '%s: durations are right-aligned in one column',
    (_, path) => {
      const timeline = model(path);
      const lines = renderTimeline(timeline, { width: 100, footer: false });
      const ends = lines.map((line, index) => {
        const entry = timeline.entries[index];
        const duration = entry === undefined ? '' : formatDuration(entry.durationMs);
        // The duration is the first token after the padded name column.
        const at = line.indexOf(`  ${duration}`, line.indexOf(entry?.state.slice(0, 4) ?? '') + 1);
        return at + 2 + duration.length;
      });
      expect(new Set(ends).size).toBe(1);
    },
  );
});

describe('what the lines say', () => {
  test('retries: attempts and observed backoff; compensations indented and marked; the footer', () => {
    const transient = renderTimeline(saga('saga-payment-transient.json'), { width: 100 });
    expect(transient[0]).toMatch(
      /^↻ ChargePayment +4\.47s {2}3 attempts, backoff 1\.2s 2\.9s · after TransientError ×2$/,
    );

    const shipping = renderTimeline(saga('saga-shipping-fails.json'), { width: 100 });
    expect(shipping[2]).toMatch(/^↷ ShipOrder +123ms {2}ShippingUnavailable: No carrier can ship order/);
    expect(shipping[3]).toMatch(/^ {2}↩ ReleaseInventory +112ms {2}undoes ReserveInventory$/);
    expect(shipping[4]).toMatch(/^ {2}↩ RefundPayment +166ms {2}undoes ChargePayment$/);
    expect(shipping[6]).toMatch(/^✗ OrderCancelled +3ms {2}OrderCancelled: A forward step failed/);
    const footer = shipping.slice(7).join('\n');
    expect(footer).toMatch(/^─+\n✗ FAILED {2}OrderCancelled: A forward step failed/);
    expect(footer).toContain(
      'order CANCELLED · compensated in reverse ✓ · total 888ms · 7 transitions ≈ $0.000175',
    );
  });

  test('the saga with CheckOrder: the read status, the decision to compensate, a settled order', () => {
    const unknown = renderTimeline(saga('saga-v2-payment-unknown.json'), { width: 100 });
    expect(unknown[0]).toMatch(/^✓ CheckOrder +39ms {2}order PENDING$/);
    expect(unknown[2]).toMatch(/^↷ ChargePayment +9\.72s {2}5 attempts, .* · Runtime\.ExitError/);
    // The decision opens the compensation phase (indented, ↩) without undoing anything itself.
    expect(unknown[3]).toMatch(/^ {2}↩ CancelOrder +39ms {2}decided to compensate \(PENDING → CANCELLING\)$/);
    expect(unknown[5]).toMatch(/^ {2}↩ RefundPayment +166ms {2}undoes ChargePayment$/);
    expect(unknown.join('\n')).toContain('order CANCELLED · compensated in reverse ✓');

    const settled = renderTimeline(saga('saga-v2-already-settled.json'), { width: 100 });
    expect(settled[0]).toMatch(/^✓ CheckOrder +39ms {2}order COMPLETED$/);
    expect(settled[2]).toMatch(/^✓ AlreadySettled +3ms {2}already settled, nothing ran$/);
    expect(settled.join('\n')).toContain('order COMPLETED · no compensation');
  });

  test('a failing compensation: the error outranks the backoff list when space is short', () => {
    const lines = renderTimeline(saga('saga-compensation-fails.json'), { width: 100 });
    const refund = lines.find((line) => line.includes('RefundPayment')) ?? '';
    expect(refund).toMatch(
      /^ {2}↷ RefundPayment +44\.7s {2}7 attempts, backoff 1\.3s…19s · RefundFailed: Payment provider/,
    );
    expect(lines.join('\n')).toContain('compensated in reverse ✗ (ChargePayment not undone)');
    expect(lines.join('\n')).toContain('order COMPENSATION_FAILED');
    const wide = renderTimeline(saga('saga-compensation-fails.json'), { width: 200 });
    expect(wide.find((line) => line.includes('RefundPayment'))).toContain(
      'undoes ChargePayment · 7 attempts, backoff 1.3s 3.1s 2.2s 11.8s 6.5s 19s · RefundFailed: Payment provider rejected the refund of ch_3Q9xYz',
    );
  });

  test('real AWS histories: retry-then-catch, timeout, a Fail state with no error', () => {
    const retry = renderTimeline(model(join(AWS_FIXTURES, '02-lambda-invoke-retry-then-catch.json')), {
      width: 120,
    });
    expect(retry[0]).toContain('4 attempts, backoff 1s 1s 1s · Exception: Some exception was raised.');
    expect(retry[1]).toMatch(/^ {2}↩ HandleError/);
    const timeout = renderTimeline(model(join(AWS_FIXTURES, '08-lambda-invoke-timeout-catch.json')));
    expect(timeout[0]).toMatch(/^↷ Start +4\.00s {2}States\.Timeout$/);
    const fail = renderTimeline(model(join(AWS_FIXTURES, '07-task-choice-fail-state.json')));
    expect(fail[2]).toMatch(/^✗ Failure/);
    expect(fail).toContain('✗ FAILED  Fail state Failure');
    // Not the order saga: no order status, no compensation verdict.
    expect(fail.join('\n')).not.toMatch(/order|compensat/);
  });

  test('inner Map/Parallel states are indented under their parent with their iteration or branch', () => {
    const lines = renderTimeline(saga('nested-map-parallel.json'), { width: 100 });
    expect(lines.slice(0, 10).map((line) => line.replace(/(\S) {2,}.*$/, '$1'))).toEqual([
      '✓ ProcessItems',
      '  ✓ [0] Normalize',
      '  ✓ [0] Throttle',
      '  ✓ [1] Normalize',
      '  ✓ [1] Throttle',
      '✓ FanOut',
      '  ↷ (1) NotifyWarehouse',
      '    ↩ (1) LogNotifyFailure',
      '  ✓ (2) Audit',
      '  ✓ (2) AuditDone',
    ]);
    expect(lines[0]).toMatch(/2 items$/);
    expect(lines[5]).toMatch(/2 branches$/);
  });

  test('a running execution: running and retrying visits, elapsed time, compensation under way', () => {
    const history = events(join(SAGA_FIXTURES, 'saga-payment-transient.json')).filter(
      (event) => (event.id ?? 0) <= 5,
    );
    const lines = renderTimeline(buildTimeline(history), { width: 80 });
    expect(lines[0]).toMatch(/^… ChargePayment +\d+ms {2}retrying after TransientError$/);
    expect(lines.join('\n')).toContain('… RUNNING');
    expect(lines.join('\n')).toContain('order PENDING');

    const compensating = events(join(SAGA_FIXTURES, 'saga-shipping-fails.json')).filter(
      (event) => (event.id ?? 0) <= 19,
    );
    const text = renderTimeline(buildTimeline(compensating), { width: 120 }).join('\n');
    expect(text).toContain('compensating (ReserveInventory, ChargePayment to undo)');
    expect(text).toContain('elapsed 561ms');
  });

  test('long, wide and hostile text is cut to the width and cleaned', () => {
    const at = (ms: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, 0, ms));
    const history: HistoryEventLike[] = [
      { id: 1, previousEventId: 0, type: 'ExecutionStarted', timestamp: at(0) },
      {
        id: 2,
        previousEventId: 0,
        type: 'TaskStateEntered',
        timestamp: at(1),
        stateEnteredEventDetails: { name: '注文を確定する処理のとても長い名前' },
      },
      {
        id: 3,
        previousEventId: 2,
        type: 'TaskScheduled',
        timestamp: at(2),
        taskScheduledEventDetails: {
          resourceType: 'lambda',
          resource: 'invoke',
          region: 'x',
          parameters: '{}',
        },
      },
      {
        id: 4,
        previousEventId: 3,
        type: 'TaskFailed',
        timestamp: at(3),
        taskFailedEventDetails: {
          resourceType: 'lambda',
          resource: 'invoke',
          error: 'Boom',
          cause: JSON.stringify({
            errorMessage: `\u001b[31mred\u001b[0m ${'x'.repeat(500)}`,
            errorType: 'Boom',
          }),
        },
      },
      {
        id: 5,
        previousEventId: 4,
        type: 'ExecutionFailed',
        timestamp: at(4),
        executionFailedEventDetails: { error: 'Boom', cause: 'plain' },
      },
    ];
    for (const width of [24, 50, 80]) {
      const lines = renderTimeline(buildTimeline(history), { width });
      for (const line of lines) {
        expect(displayWidth(line)).toBeLessThanOrEqual(width);
        expect(line).not.toContain('\u001b');
      }
      // The name is cut at 24 columns (no room left for the detail), the detail beyond.
      expect(lines[0]).toMatch(width === 24 ? /^✗ 注文を… +3ms$/ : /^✗ 注文を確定.*Boom: red x+…$/);
    }
  });
});

describe('toJsonLines', () => {
  const STEP_KEYS = ['type', 'state', 'phase', 'status', 'attempts', 'durationMs'];
  const OPTIONAL_STEP_KEYS = [
    'startedAt',
    'endedAt',
    'input',
    'output',
    'error',
    'cause',
    'backoffMs',
    'compensates',
    'note',
    'parent',
    'iteration',
    'branch',
  ];
  const SUMMARY_KEYS = [
    'type',
    'status',
    'orderStatus',
    'compensatedInReverse',
    'transitions',
    'durationMs',
    'priceUsd',
  ];

  test.each(ALL.map((path) => [path.split('/').at(-1), path]))(
    '%s: matches the design §6 contract',
    (_, path) => {
      const timeline = model(path);
      const lines = toJsonLines(timeline);
      expect(lines).toHaveLength(timeline.entries.length + 1);
      for (const line of lines.slice(0, -1)) {
        const parsed = JSON.parse(JSON.stringify(line)) as Record<string, unknown>;
        expect(parsed.type).toBe('step');
        for (const key of STEP_KEYS) expect(parsed).toHaveProperty(key);
        for (const key of Object.keys(parsed)) expect([...STEP_KEYS, ...OPTIONAL_STEP_KEYS]).toContain(key);
        expect(['forward', 'compensation', 'final']).toContain(parsed.phase);
        expect(['succeeded', 'failed', 'caught', 'running']).toContain(parsed.status);
        expect(Number.isInteger(parsed.attempts) && Number.isInteger(parsed.durationMs)).toBe(true);
        if ('error' in parsed) expect(typeof parsed.error).toBe('string');
        for (const key of ['startedAt', 'endedAt'] as const) {
          if (key in parsed) expect(new Date(String(parsed[key])).toISOString()).toBe(parsed[key]);
        }
      }
      const summary = JSON.parse(JSON.stringify(lines.at(-1))) as Record<string, unknown>;
      for (const key of SUMMARY_KEYS) expect(summary).toHaveProperty(key);
      expect(summary.type).toBe('summary');
      expect(['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED']).toContain(summary.status);
      expect([null, true, false]).toContain(summary.compensatedInReverse);
    },
  );

  /** The lines without their timestamps (checked on their own below). */
  const untimed = (lines: readonly object[]) =>
    lines.map((line) => {
      const { startedAt: _s, endedAt: _e, ...rest } = line as Record<string, unknown>;
      return rest;
    });

  test('steps carry when they started and ended; the difference is their duration', () => {
    const lines = toJsonLines(saga('saga-inventory-fails.json'));
    for (const line of lines) {
      if (line.type !== 'step') continue;
      expect(line.startedAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      expect(Date.parse(line.endedAt ?? '') - Date.parse(line.startedAt ?? '')).toBe(line.durationMs);
    }
  });

  test('with detail, each step carries its input and output, parsed; without, neither', () => {
    const [charge, reserve] = toJsonLines(saga('saga-inventory-fails.json'), { detail: true });
    expect(charge).toMatchObject({
      state: 'ChargePayment',
      input: { orderId: '01JDQ3Z8K4M2N6P8R0T2V4X6Z8', amount: 2500 },
      output: { payment: { chargeId: 'ch_3Q9xYz' } },
    });
    expect(reserve).toMatchObject({
      state: 'ReserveInventory',
      input: { payment: { chargeId: 'ch_3Q9xYz' } },
    });
    for (const line of toJsonLines(saga('saga-inventory-fails.json'))) {
      expect(line).not.toHaveProperty('input');
      expect(line).not.toHaveProperty('output');
    }
  });

  test('the inventory-failure saga, line by line', () => {
    expect(untimed(toJsonLines(saga('saga-inventory-fails.json')))).toEqual([
      {
        type: 'step',
        state: 'ChargePayment',
        phase: 'forward',
        status: 'succeeded',
        attempts: 1,
        durationMs: 217,
      },
      {
        type: 'step',
        state: 'ReserveInventory',
        phase: 'forward',
        status: 'caught',
        attempts: 1,
        durationMs: 106,
        error: 'OutOfStock',
        cause: 'SKU-PEAR: 0 available, 1 requested',
      },
      {
        type: 'step',
        state: 'RefundPayment',
        phase: 'compensation',
        status: 'succeeded',
        attempts: 1,
        durationMs: 166,
        compensates: 'ChargePayment',
      },
      {
        type: 'step',
        state: 'MarkOrderCancelled',
        phase: 'compensation',
        status: 'succeeded',
        attempts: 1,
        durationMs: 39,
      },
      {
        type: 'step',
        state: 'OrderCancelled',
        phase: 'final',
        status: 'failed',
        attempts: 1,
        durationMs: 3,
        error: 'OrderCancelled',
        cause: 'A forward step failed; the completed steps were compensated and the order is CANCELLED.',
      },
      {
        type: 'summary',
        status: 'FAILED',
        orderStatus: 'CANCELLED',
        compensatedInReverse: true,
        transitions: 5,
        durationMs: 604,
        error: 'OrderCancelled',
        cause: 'A forward step failed; the completed steps were compensated and the order is CANCELLED.',
        priceUsd: 0.000125,
      },
    ]);
  });

  test('retries carry their backoff', () => {
    expect(untimed(toJsonLines(saga('saga-payment-transient.json')))[0]).toEqual({
      type: 'step',
      state: 'ChargePayment',
      phase: 'forward',
      status: 'succeeded',
      attempts: 3,
      durationMs: 4470,
      backoffMs: [1200, 2900],
    });
  });
});

describe('diffForAppend', () => {
  const shipping = events(join(SAGA_FIXTURES, 'saga-shipping-fails.json'));

  test('following a history poll by poll prints each visit once, when it has ended, the footer once', () => {
    let previous: TimelineRow[] = [];
    const printed: string[] = [];
    let timeline: TimelineModel | undefined;
    // Poll after every event.
    for (let id = 1; id <= shipping.length; id += 1) {
      timeline = buildTimeline(shipping.filter((event) => (event.id ?? 0) <= id));
      const rows = renderTimelineRows(timeline, { width: 100, nameWidth: 24 });
      printed.push(...diffForAppend(previous, rows));
      previous = rows;
    }
    if (timeline === undefined) throw new Error('no events');
    const finalRows = renderTimelineRows(timeline, { width: 100, nameWidth: 24 });
    // Every final line printed exactly once, in order, and nothing else: no transient "running" line.
    expect(printed).toEqual(finalRows.map((row) => row.text));
    expect(printed.join('\n')).not.toMatch(/running|^…/m);
  });

  test('a running visit whose duration changes is not printed again', () => {
    const upTo = shipping.filter((event) => (event.id ?? 0) <= 3);
    const first = renderTimelineRows(buildTimeline(upTo, { now: Date.parse('2026-11-27T10:15:01Z') }));
    const later = renderTimelineRows(buildTimeline(upTo, { now: Date.parse('2026-11-27T10:15:05Z') }));
    expect(first[0]?.text).not.toEqual(later[0]?.text);
    expect(diffForAppend([], first)).toEqual([]);
    expect(diffForAppend(first, later)).toEqual([]);
  });
});

describe('helpers', () => {
  test('redrawFrame moves up over the previous frame and clears it', () => {
    expect(redrawFrame(0, ['a', 'b'])).toBe('\u001b[0Ja\nb\n');
    expect(redrawFrame(3, ['a'])).toBe('\u001b[3F\u001b[0Ja\n');
  });

  test('formatDuration and formatUsd', () => {
    expect([0, 840, 1240, 12_449, 125_000, 3_725_000].map(formatDuration)).toEqual([
      '0ms',
      '840ms',
      '1.24s',
      '12.4s',
      '2m 05s',
      '1h 02m',
    ]);
    expect([0.000125, 0.025, 1.5, 0].map(formatUsd)).toEqual(['$0.000125', '$0.025', '$1.5', '$0']);
  });

  test('displayWidth and truncate count wide characters as two columns', () => {
    expect(displayWidth('注文')).toBe(4);
    expect(displayWidth('e\u0301')).toBe(1);
    expect(truncate('注文を確定', 5)).toBe('注文…');
    expect(truncate('short', 10)).toBe('short');
  });
});

describe('what a user reads (issue 13)', () => {
  test('counts agree with their noun: "1 transition", "1 event"', () => {
    const one = buildTimeline([
      {
        id: 1,
        type: 'ExecutionStarted',
        timestamp: '2026-11-27T10:15:00Z',
        executionStartedEventDetails: {},
      },
      {
        id: 2,
        type: 'PassStateEntered',
        timestamp: '2026-11-27T10:15:00Z',
        stateEnteredEventDetails: { name: 'P' },
      },
    ]);
    const footer = renderTimeline(one).join('\n');
    expect(footer).toContain('1 transition ≈');
    expect(footer).toContain('2 events');
    expect(footer).not.toMatch(/\b1 transitions|\b1 events/);
  });

  test('MarkOrderFailed after a declined payment is no compensation: ✓, not indented, footer "no compensation"', () => {
    const lines = renderTimeline(saga('saga-payment-declined.json'), { width: 100 });
    expect(lines[1]).toMatch(/^✓ MarkOrderFailed /);
    expect(lines.join('\n')).toContain('order FAILED · no compensation');
    expect(lines.join('\n')).not.toContain(GLYPHS.compensated);
  });

  test('one glyph per meaning, each explained by the legend', () => {
    expect(new Set(Object.values(GLYPHS)).size).toBe(Object.keys(GLYPHS).length);
    for (const glyph of Object.values(GLYPHS)) expect(TIMELINE_LEGEND).toContain(`  ${glyph}  `);
    // Every glyph the fixtures render is one of them.
    for (const path of ALL) {
      for (const row of renderTimelineRows(model(path)).filter((r) => r.kind === 'step')) {
        const glyph = row.text.trimStart().split(' ')[0] ?? '';
        expect(Object.values(GLYPHS) as string[]).toContain(glyph);
      }
    }
    // Retried then succeeded and caught no longer share a glyph.
    const transient = renderTimeline(saga('saga-payment-transient.json'))[0] ?? '';
    const shipping = renderTimeline(saga('saga-shipping-fails.json'))[2] ?? '';
    expect(transient.startsWith(GLYPHS.retried)).toBe(true);
    expect(shipping.startsWith(GLYPHS.caught)).toBe(true);
  });

  test('the header: execution, start, ARN, the input in brief and the local time scale when not 1', () => {
    const arn = 'arn:aws:states:us-east-1:000000000000:execution:OrderSaga:01JDQ3Z8K4M2N6P8R0T2V4X6Z8';
    const input = JSON.stringify({
      orderId: '01JDQ3Z8K4M2N6P8R0T2V4X6Z8',
      customerId: 'cust-demo',
      items: [
        { sku: 'espresso-beans', qty: 1 },
        { sku: 'ceramic-mug', qty: 2 },
      ],
      amount: 4850,
      currency: 'EUR',
    });
    const lines = renderHeader(
      { name: '01JDQ3Z8K4M2N6P8R0T2V4X6Z8', executionArn: arn, startMs: 0, input, timeScale: 0.1 },
      { width: 200 },
    );
    expect(lines[0]).toMatch(
      /^01JDQ3Z8K4M2N6P8R0T2V4X6Z8 {2}started \d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d\d:\d\d$/,
    );
    expect(lines[1]).toBe(`  ${arn}`);
    expect(lines[2]).toBe('  input: customer cust-demo · espresso-beans ×1, ceramic-mug ×2 · 48.50 EUR');
    expect(lines[3]).toMatch(
      /^ {2}local time scale 0\.1: Retry backoffs, Wait states and Lambda timeouts run 10× faster/,
    );
    expect(lines.at(-1)).toBe('');
    expect(renderHeader({ name: 'x', timeScale: 1 }).join('\n')).not.toContain('time scale');
    expect(
      renderHeader({ name: 'x', input: '{"a":1}' }, { width: 30 }).every((l) => displayWidth(l) <= 30),
    ).toBe(true);
    expect(briefInput({ FunctionName: 'f', Value: 1 })).toBe('{"FunctionName":"f","Value":1}');
    expect(briefInput(undefined)).toBeUndefined();
  });
});
