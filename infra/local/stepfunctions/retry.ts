/** One element of a state's `Retry` field. */
export interface Retrier {
  readonly ErrorEquals: readonly string[];
  readonly IntervalSeconds?: number;
  readonly MaxAttempts?: number;
  readonly BackoffRate?: number;
  readonly MaxDelaySeconds?: number;
  readonly JitterStrategy?: 'NONE' | 'FULL';
}

/**
 * The pause before a retry, in milliseconds, as AWS Step Functions computes it, then scaled:
 * `IntervalSeconds × BackoffRate^retriesSoFar` (defaults 1 s and 2.0), capped by `MaxDelaySeconds`; with
 * `JitterStrategy: FULL` a uniform random value in [0, that delay). `timeScale` multiplies the result, so
 * a scaled run keeps the backoff's shape and its jitter.
 */
export function retryDelayMs(
  retrier: Retrier,
  retriesSoFar: number,
  timeScale: number,
  random = Math.random,
): number {
  const interval = retrier.IntervalSeconds ?? 1;
  const backoff = retrier.BackoffRate ?? 2;
  let seconds = interval * backoff ** retriesSoFar;
  if (retrier.MaxDelaySeconds !== undefined) seconds = Math.min(seconds, retrier.MaxDelaySeconds);
  if (retrier.JitterStrategy === 'FULL') seconds *= random();
  return seconds * 1000 * timeScale;
}
