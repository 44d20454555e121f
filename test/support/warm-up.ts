import { SFNClient } from '@aws-sdk/client-sfn';
import { ulid } from 'ulid';
import {
  executionArnFor,
  waitForExecutionToEnd,
  waitForExecutionToExist,
} from '../../cli/target/executions.ts';
import { callApi } from '../../cli/target/http.ts';
import type { ResolvedTarget } from '../../cli/target/target.ts';

/**
 * Runs `concurrency` plain orders through the stack at once and ignores how they end. The shared cloud scales
 * Lambda timeouts (10 s → 3 s at the least), and a sandbox's first invocation also loads the AWS SDK lazily: on a loaded
 * machine that first invocation can outlive that. Warming that many sandboxes per forward function keeps the
 * scenarios about the saga, not about cold starts.
 */
export async function warmUp(on: ResolvedTarget, concurrency: number): Promise<void> {
  const sfn = new SFNClient(on.clientConfig());
  const one = async (): Promise<void> => {
    for (let attempt = 0; attempt < 3; attempt++) {
      const orderId = ulid();
      const response = await callApi(on, 'POST', '/orders', {
        body: {
          orderId,
          customerId: 'cust-warm-up',
          items: [{ sku: 'espresso-beans', qty: 1 }],
          currency: 'EUR',
        },
      });
      const arn = executionArnFor(on, orderId);
      // A 500 may still have committed the order (the function timed out after its transaction): look briefly.
      const end = await waitForExecutionToExist(sfn, arn, {
        timeoutMs: response.status === 202 ? 30_000 : 3_000,
      })
        .then(() => waitForExecutionToEnd(sfn, arn, { timeoutMs: 60_000 }))
        .catch(() => undefined);
      if (end?.status === 'SUCCEEDED') return;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, one));
}
