import { ulid } from 'ulid';
import { beforeAll, describe, expect, test } from 'vitest';
import { createTestTable, testDynamoDbClient } from '../../test/support/dynamodb.ts';
import {
  DEFAULT_LATENCY_MS,
  deleteFailureFlag,
  type FailSpec,
  FailSpecError,
  type FailureStep,
  formatFailSpec,
  GLOBAL_SCOPE,
  type InjectionContext,
  injectAfterCommit,
  injectBefore,
  listFailureFlags,
  MODES,
  parseFailSpec,
  readFailureFlag,
  STEPS,
  writeFailureFlag,
} from './failure-flags.ts';

const client = testDynamoDbClient();
let table: string;

beforeAll(async () => {
  table = await createTestTable(client, 'FailureFlags');
});

describe('parseFailSpec', () => {
  test.each<[string, FailSpec]>([
    ['payment', { step: 'payment', mode: 'error' }],
    ['payment:error', { step: 'payment', mode: 'error' }],
    ['payment:transient:2', { step: 'payment', mode: 'transient', times: 2 }],
    ['inventory:transient', { step: 'inventory', mode: 'transient' }],
    ['shipping:timeout', { step: 'shipping', mode: 'timeout' }],
    ['refund:crash-after-commit', { step: 'refund', mode: 'crash-after-commit', times: 1 }],
    ['payment:die-after-commit', { step: 'payment', mode: 'die-after-commit', times: 1 }],
    ['shipping:timeout-after-commit', { step: 'shipping', mode: 'timeout-after-commit', times: 1 }],
    ['inventory:throttle', { step: 'inventory', mode: 'throttle' }],
    ['release:throttle:4', { step: 'release', mode: 'throttle', times: 4 }],
    ['release:latency:500', { step: 'release', mode: 'latency', latencyMs: 500 }],
    ['publisher:latency', { step: 'publisher', mode: 'latency', latencyMs: DEFAULT_LATENCY_MS }],
    ['  Payment:Transient:3 ', { step: 'payment', mode: 'transient', times: 3 }],
  ])('%s', (spec, expected) => {
    expect(parseFailSpec(spec)).toEqual(expected);
    expect(parseFailSpec(formatFailSpec(expected))).toEqual(expected);
  });

  test.each([
    ['', /no step given/],
    ['billing', /unknown step 'billing'/],
    ['payment:explode', /unknown mode 'explode'/],
    ['payment:transient:two', /N must be a positive whole number, got 'two'/],
    ['payment:transient:0', /N must be between 1 and 100, got 0/],
    ['payment:latency:-5', /MS must be a positive whole number/],
    ['payment:error:3', /mode 'error' takes no argument, got '3'/],
    ['payment:die-after-commit:2', /mode 'die-after-commit' takes no argument, got '2'/],
    ['payment:throttle:0', /N must be between 1 and 100, got 0/],
    ['payment:transient:2:9', /too many ':' parts/],
  ])('%j is refused with what was received and what is valid', (spec, problem) => {
    let error: unknown;
    try {
      parseFailSpec(spec);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(FailSpecError);
    const failure = error as FailSpecError;
    expect(failure.name).toBe('FailSpecError');
    expect(failure.received).toBe(spec);
    expect(failure.message).toMatch(problem);
    expect(failure.message).toContain(`'${spec}'`);
    for (const step of STEPS) expect(failure.message).toContain(step);
    for (const mode of MODES) expect(failure.message).toContain(mode);
  });
});

describe('flags in the table', () => {
  test('an order flag shadows the GLOBAL one; GLOBAL applies to other orders', async () => {
    const orderId = ulid();
    await writeFailureFlag(client, table, GLOBAL_SCOPE, parseFailSpec('shipping:error'));
    await writeFailureFlag(client, table, { orderId }, parseFailSpec('shipping:latency:10'));
    expect(await readFailureFlag(client, table, orderId, 'shipping')).toMatchObject({
      pk: `ORDER#${orderId}`,
      sk: 'shipping',
      mode: 'latency',
      latencyMs: 10,
    });
    expect(await readFailureFlag(client, table, ulid(), 'shipping')).toMatchObject({
      pk: 'GLOBAL',
      mode: 'error',
    });
    expect(await readFailureFlag(client, table, ulid(), 'payment')).toBeUndefined();
    await deleteFailureFlag(client, table, GLOBAL_SCOPE, 'shipping');
    expect(await readFailureFlag(client, table, ulid(), 'shipping')).toBeUndefined();
  });

  test('a GLOBAL rate hits only that share of invocations', async () => {
    await writeFailureFlag(client, table, GLOBAL_SCOPE, {
      ...parseFailSpec('publisher:transient:5'),
      rate: 0.25,
    });
    expect(await readFailureFlag(client, table, ulid(), 'publisher', { random: () => 0.1 })).toMatchObject({
      rate: 0.25,
      remaining: 5,
    });
    expect(await readFailureFlag(client, table, ulid(), 'publisher', { random: () => 0.25 })).toBeUndefined();
    expect(await readFailureFlag(client, table, ulid(), 'publisher', { random: () => 0.9 })).toBeUndefined();
    await deleteFailureFlag(client, table, GLOBAL_SCOPE, 'publisher');
  });

  test("a rate on an order flag hits that share of the order's invocations; outside 0..1 is refused", async () => {
    const orderId = ulid();
    await writeFailureFlag(client, table, { orderId }, { ...parseFailSpec('payment'), rate: 0.5 });
    expect(await readFailureFlag(client, table, orderId, 'payment', { random: () => 0.4 })).toMatchObject({
      mode: 'error',
      rate: 0.5,
    });
    expect(await readFailureFlag(client, table, orderId, 'payment', { random: () => 0.6 })).toBeUndefined();
    await expect(
      writeFailureFlag(client, table, GLOBAL_SCOPE, { ...parseFailSpec('payment'), rate: 2 }),
    ).rejects.toThrow(/between 0 and 1, got 2/);
  });

  test('expired flags are ignored and not listed', async () => {
    const orderId = ulid();
    await writeFailureFlag(client, table, { orderId }, { ...parseFailSpec('refund'), ttlSeconds: -5 });
    expect(await readFailureFlag(client, table, orderId, 'refund')).toBeUndefined();
    const live = ulid();
    await writeFailureFlag(client, table, { orderId: live }, parseFailSpec('refund:timeout'));
    const listed = await listFailureFlags(client, table);
    expect(listed.map((flag) => flag.pk)).toContain(`ORDER#${live}`);
    expect(listed.map((flag) => flag.pk)).not.toContain(`ORDER#${orderId}`);
  });
});

describe('injection', () => {
  const sleeps: number[] = [];
  const context = (remaining = 5000): InjectionContext => ({
    client,
    table,
    lambdaContext: { getRemainingTimeInMillis: () => remaining },
    sleep: async (ms) => {
      sleeps.push(ms);
    },
  });
  const flagFor = async (spec: string) => {
    const orderId = ulid();
    const parsed = parseFailSpec(spec);
    await writeFailureFlag(client, table, { orderId }, parsed);
    const flag = await readFailureFlag(client, table, orderId, parsed.step);
    expect(flag).toBeDefined();
    return flag;
  };

  test.each<[FailureStep, string]>([
    ['payment', 'PaymentDeclined'],
    ['inventory', 'OutOfStock'],
    ['shipping', 'ShippingUnavailable'],
    ['refund', 'RefundFailed'],
    ['release', 'ReleaseFailed'],
    ['publisher', 'TransientError'],
  ])('error mode on %s throws %s', async (step, name) => {
    const flag = await flagFor(`${step}:error`);
    await expect(injectBefore(flag, context())).rejects.toMatchObject({
      name,
      message: expect.stringContaining(`failure flag ${flag?.pk}/${step}`),
    });
    await expect(injectAfterCommit(flag, context())).resolves.toBeUndefined();
  });

  test('transient:3 under 10 concurrent invocations fails exactly 3 of them', async () => {
    const flag = await flagFor('payment:transient:3');
    const outcomes = await Promise.allSettled(
      Array.from({ length: 10 }, () => injectBefore(flag, context())),
    );
    const failed = outcomes.filter((outcome) => outcome.status === 'rejected');
    expect(failed).toHaveLength(3);
    for (const outcome of failed) expect(outcome.reason).toMatchObject({ name: 'TransientError' });
    expect((await readFailureFlag(client, table, (flag?.pk ?? '').slice(6), 'payment'))?.remaining).toBe(0);
  });

  test('transient without a count and without a rate fails once, as documented', async () => {
    const flag = await flagFor('payment:transient');
    expect(flag).toMatchObject({ times: 1, remaining: 1 });
    await expect(injectBefore(flag, context())).rejects.toMatchObject({ name: 'TransientError' });
    await expect(injectBefore(flag, context())).resolves.toBeUndefined();
  });

  test('README: `flags set publisher:transient --global --rate 0.3` is an ongoing fault, not spent after one hit', async () => {
    await writeFailureFlag(client, table, GLOBAL_SCOPE, {
      ...parseFailSpec('publisher:transient'),
      rate: 0.3,
    });
    const stored = (await listFailureFlags(client, table)).find(
      (f) => f.pk === GLOBAL_SCOPE && f.sk === 'publisher',
    );
    expect(stored).toMatchObject({ mode: 'transient', rate: 0.3 });
    expect(stored?.times).toBeUndefined();
    expect(stored?.remaining).toBeUndefined();
    expect(formatFailSpec({ step: 'publisher', mode: 'transient', times: stored?.times })).toBe(
      'publisher:transient',
    );
    // Every invocation the rate selects fails, however many there are.
    for (let i = 0; i < 5; i++) {
      const hit = await readFailureFlag(client, table, ulid(), 'publisher', { random: () => 0.1 });
      await expect(injectBefore(hit, context())).rejects.toMatchObject({ name: 'TransientError' });
    }
    expect(await readFailureFlag(client, table, ulid(), 'publisher', { random: () => 0.5 })).toBeUndefined();
    const after = (await listFailureFlags(client, table)).find(
      (f) => f.pk === GLOBAL_SCOPE && f.sk === 'publisher',
    );
    expect(after?.remaining).toBeUndefined();
    await deleteFailureFlag(client, table, GLOBAL_SCOPE, 'publisher');
  });

  test('with a rate, an explicit count stays a count (throttle:2 --rate 1 hits twice)', async () => {
    const orderId = ulid();
    await writeFailureFlag(client, table, { orderId }, { ...parseFailSpec('inventory:throttle:2'), rate: 1 });
    const flag = await readFailureFlag(client, table, orderId, 'inventory');
    expect(flag).toMatchObject({ times: 2, remaining: 2, rate: 1 });
    await expect(injectBefore(flag, context())).rejects.toMatchObject({ name: 'ThrottlingException' });
    await expect(injectBefore(flag, context())).rejects.toMatchObject({ name: 'ThrottlingException' });
    await expect(injectBefore(flag, context())).resolves.toBeUndefined();
  });

  test('timeout sleeps past the Lambda remaining time', async () => {
    const flag = await flagFor('shipping:timeout');
    sleeps.length = 0;
    await expect(injectBefore(flag, context(4200))).rejects.toMatchObject({ name: 'TransientError' });
    expect(sleeps).toEqual([5200]);
  });

  test('latency sleeps latencyMs and lets the step go on', async () => {
    const flag = await flagFor('release:latency:750');
    sleeps.length = 0;
    await expect(injectBefore(flag, context())).resolves.toBeUndefined();
    expect(sleeps).toEqual([750]);
  });

  test('crash-after-commit does nothing before, and crashes once after the commit', async () => {
    const flag = await flagFor('payment:crash-after-commit');
    await expect(injectBefore(flag, context())).resolves.toBeUndefined();
    await expect(injectAfterCommit(flag, context())).rejects.toThrow('crashed after commit');
    await expect(injectAfterCommit(flag, context())).resolves.toBeUndefined();
  });

  test('die-after-commit does nothing before, and ends the process once after the commit', async () => {
    const flag = await flagFor('inventory:die-after-commit');
    const exits: number[] = [];
    const dying: InjectionContext = {
      ...context(),
      exit: (code) => {
        exits.push(code);
        throw new Error('process ended');
      },
    };
    await expect(injectBefore(flag, dying)).resolves.toBeUndefined();
    await expect(injectAfterCommit(flag, dying)).rejects.toThrow('process ended');
    expect(exits).toEqual([1]);
    await expect(injectAfterCommit(flag, dying)).resolves.toBeUndefined();
    expect(exits).toEqual([1]);
  });

  test('timeout-after-commit sleeps past the remaining time once, after the commit', async () => {
    const flag = await flagFor('shipping:timeout-after-commit');
    sleeps.length = 0;
    await expect(injectBefore(flag, context(1200))).resolves.toBeUndefined();
    expect(sleeps).toEqual([]);
    await expect(injectAfterCommit(flag, context(1200))).rejects.toThrow(/past the function timeout/);
    expect(sleeps).toEqual([2200]);
    await expect(injectAfterCommit(flag, context(1200))).resolves.toBeUndefined();
  });

  test('throttle:2 throws an AWS-shaped ThrottlingException twice, before the commit, then lets it go', async () => {
    const flag = await flagFor('payment:throttle:2');
    for (let i = 0; i < 2; i++) {
      await expect(injectBefore(flag, context())).rejects.toMatchObject({
        name: 'ThrottlingException',
        $fault: 'client',
        $retryable: { throttling: true },
      });
    }
    await expect(injectBefore(flag, context())).resolves.toBeUndefined();
    await expect(injectAfterCommit(flag, context())).resolves.toBeUndefined();
  });

  test('no flag, no effect', async () => {
    await expect(injectBefore(undefined, context())).resolves.toBeUndefined();
    await expect(injectAfterCommit(undefined, context())).resolves.toBeUndefined();
  });
});
