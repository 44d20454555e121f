import { describe, expect, test } from 'vitest';
import { nextSteps } from './ls.ts';

describe('nextSteps', () => {
  test('COMPENSATION_FAILED orders get the next step: saga replay resumes the compensations', () => {
    const steps = nextSteps([
      { orderId: '01JD8Z6Q3M4N5P6R7S8T9V0W1X', status: 'COMPLETED' },
      { orderId: '01JD8Z6Q3M4N5P6R7S8T9V0W2Y', status: 'COMPENSATION_FAILED' },
      { orderId: '01JD8Z6Q3M4N5P6R7S8T9V0W3Z', status: 'COMPENSATION_FAILED' },
    ]);
    expect(steps).toEqual([
      '2 orders COMPENSATION_FAILED: a compensation failed for good. `saga replay 01JD8Z6Q3M4N5P6R7S8T9V0W2Y` ' +
        're-runs the saga, which resumes the compensations (clear an injected failure first: ' +
        '`saga flags clear --order 01JD8Z6Q3M4N5P6R7S8T9V0W2Y`).',
    ]);
  });

  test('nothing to say when no order needs it', () => {
    expect(nextSteps([{ orderId: '01JD8Z6Q3M4N5P6R7S8T9V0W1X', status: 'CANCELLING' }])).toEqual([]);
  });
});
