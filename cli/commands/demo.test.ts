import { describe, expect, test } from 'vitest';
import { answeredAsTold } from './demo.ts';

const none = { guard: 0, idempotencyStore: 0, ledger: 0, nameDedupe: 0 };

describe('answeredAsTold', () => {
  test('sfn: one guard answer per execution, nothing else', () => {
    const run = { via: 'sfn', times: 3, layer: 'guard' } as const;
    expect(answeredAsTold(run, { ...none, guard: 3 }, 'idempotent')).toBe(true);
    expect(answeredAsTold(run, { ...none, guard: 2 }, 'idempotent')).toBe(false);
    expect(answeredAsTold(run, { ...none, guard: 3, idempotencyStore: 1 }, 'idempotent')).toBe(false);
  });

  test('steps: one answer per forward step invocation, from the named layer alone', () => {
    const run = { via: 'steps', times: 2, layer: 'ledger' } as const;
    expect(answeredAsTold(run, { ...none, ledger: 6 }, 'idempotent')).toBe(true);
    expect(answeredAsTold(run, { ...none, ledger: 3, idempotencyStore: 3 }, 'idempotent')).toBe(false);
  });

  test('a replay that added a side effect never tells the story', () => {
    const run = { via: 'steps', times: 1, layer: 'idempotencyStore' } as const;
    expect(answeredAsTold(run, { ...none, idempotencyStore: 3 }, 'DUPLICATES')).toBe(false);
  });
});
