/**
 * Batch scoring against POST /v1/predict: texts in chunks of CHUNK_SIZE (the gateway's
 * default GATEWAY_MAX_TEXTS), at most CONCURRENCY requests in flight; a 429 or 503 is retried
 * after its Retry-After (1 s when absent), up to MAX_RETRIES times per chunk. Any other
 * failure stops the run, naming the rows of the chunk that failed.
 */
import { ApiError, api, isAbort, messageOf } from './api.ts';
import type { ScoredRow } from './csv.ts';
import type { PredictResponse } from './types.ts';

export const CHUNK_SIZE = 64;
export const CONCURRENCY = 2;
export const MAX_RETRIES = 10;
const MAX_WAIT_MS = 60_000;

export interface ScoreOptions {
  signal: AbortSignal;
  onProgress: (done: number, total: number) => void;
  /** A chunk is waiting to be retried (status 429 or 503) for `waitMs`. */
  onRetry?: (status: number, waitMs: number, message: string) => void;
  predict?: (texts: string[], signal: AbortSignal) => Promise<PredictResponse>;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = window.setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    function onAbort() {
      window.clearTimeout(timer);
      reject(signal.reason);
    }
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export async function scoreTexts(
  texts: readonly string[],
  options: ScoreOptions,
): Promise<ScoredRow[]> {
  const predict = options.predict ?? api.predict;
  const sleep = options.sleep ?? abortableSleep;
  const controller = new AbortController();
  const signal = AbortSignal.any([options.signal, controller.signal]);
  const results: ScoredRow[] = new Array<ScoredRow>(texts.length);
  const starts: number[] = [];
  for (let start = 0; start < texts.length; start += CHUNK_SIZE) starts.push(start);
  let next = 0;
  let done = 0;
  options.onProgress(0, texts.length);

  async function scoreChunk(start: number): Promise<void> {
    const chunk = texts.slice(start, start + CHUNK_SIZE);
    const rows = `rows ${start + 1}–${start + chunk.length}`;
    for (let attempt = 0; ; attempt += 1) {
      try {
        const answer = await predict(chunk, signal);
        if (answer.results.length !== chunk.length) {
          throw new Error(`${answer.results.length} results for ${chunk.length} texts`);
        }
        answer.results.forEach((result, index) => {
          results[start + index] = {
            row: start + index + 1,
            text: chunk[index] ?? '',
            label: result.label,
            confidence: result.confidence,
            positiveProbability: result.probabilities.POSITIVE,
            truncated: result.truncated,
            modelVersion: answer.model.version,
          };
        });
        return;
      } catch (error) {
        if (isAbort(error) || signal.aborted) throw error;
        const busy = error instanceof ApiError && (error.status === 429 || error.status === 503);
        if (!busy || attempt >= MAX_RETRIES) {
          const tries = busy ? ` (after ${MAX_RETRIES} retries)` : '';
          throw new Error(`${rows}: ${messageOf(error)}${tries}`, { cause: error });
        }
        const waitMs = Math.min(MAX_WAIT_MS, error.retryAfterMs ?? 1000);
        options.onRetry?.(error.status, waitMs, error.message);
        await sleep(waitMs, signal);
      }
    }
  }

  async function worker(): Promise<void> {
    while (next < starts.length) {
      const start = starts[next++]!;
      await scoreChunk(start);
      done += Math.min(CHUNK_SIZE, texts.length - start);
      options.onProgress(done, texts.length);
    }
  }

  const workers = Array.from({ length: Math.min(CONCURRENCY, starts.length) }, () =>
    worker().catch((error: unknown) => {
      controller.abort();
      throw error;
    }),
  );
  const settled = await Promise.allSettled(workers);
  // The first real failure, not the aborts it caused in the other worker.
  const failure = settled.find(
    (outcome): outcome is PromiseRejectedResult =>
      outcome.status === 'rejected' && !isAbort(outcome.reason),
  );
  if (failure) throw failure.reason;
  const aborted = settled.find((outcome) => outcome.status === 'rejected');
  if (aborted) throw (aborted as PromiseRejectedResult).reason;
  return results;
}
