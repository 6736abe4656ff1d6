/**
 * Exponential backoff with full jitter (AWS architecture blog's "full jitter"): the delay
 * before retry `attempt` (1-based) is uniform in [0, min(maxMs, initialMs * factor^(attempt-1))].
 * Jitter spreads retries of many consumers so they do not hammer a recovering dependency in step.
 */
export interface BackoffPolicy {
  /** First retry's upper bound in ms. Default 200. */
  readonly initialMs: number;
  /** Cap of any single delay in ms. Default 10,000. */
  readonly maxMs: number;
  /** Growth per attempt. Default 2. */
  readonly factor: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = Object.freeze({
  initialMs: 200,
  maxMs: 10_000,
  factor: 2,
});

export function backoffDelay(
  attempt: number,
  policy: BackoffPolicy = DEFAULT_BACKOFF,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(
    policy.maxMs,
    policy.initialMs * policy.factor ** Math.max(0, attempt - 1),
  );
  return Math.floor(random() * ceiling);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
