/**
 * Adaptive micro-batching for concurrent callers (the gateway): while one batch is being
 * scored, new requests queue; when it returns, everything queued goes as the next batch (up
 * to maxBatchTexts). At low load a request is scored at once, alone; under load batches grow
 * by themselves, with no fixed wait added to any request.
 */
import type { ScoredText } from './engine.ts';
import type { ModelInfo } from './folder.ts';
import type { ScoredBatch } from './model-host.ts';

interface Waiting {
  readonly texts: readonly string[];
  readonly resolve: (batch: ScoredBatch) => void;
  readonly reject: (error: unknown) => void;
}

export class MicroBatcher {
  private queue: Waiting[] = [];
  private busy = false;

  constructor(
    private readonly scorer: { score(texts: readonly string[]): Promise<ScoredBatch> },
    private readonly maxBatchTexts = 64,
  ) {}

  score(texts: readonly string[]): Promise<{ model: ModelInfo; results: ScoredText[] }> {
    return new Promise((resolve, reject) => {
      this.queue.push({ texts, resolve, reject });
      if (!this.busy) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.busy = true;
    try {
      while (this.queue.length > 0) {
        const batch: Waiting[] = [];
        let count = 0;
        // Always take at least one request, even one larger than maxBatchTexts.
        while (
          this.queue.length > 0 &&
          (batch.length === 0 || count + this.queue[0]!.texts.length <= this.maxBatchTexts)
        ) {
          const next = this.queue.shift()!;
          batch.push(next);
          count += next.texts.length;
        }
        try {
          const { model, results } = await this.scorer.score(
            batch.flatMap((waiting) => waiting.texts),
          );
          let offset = 0;
          for (const waiting of batch) {
            waiting.resolve({
              model,
              results: results.slice(offset, offset + waiting.texts.length),
            });
            offset += waiting.texts.length;
          }
        } catch (error) {
          for (const waiting of batch) waiting.reject(error);
        }
      }
    } finally {
      this.busy = false;
    }
  }
}
