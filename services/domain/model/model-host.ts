/**
 * The serving model of a process, with hot swap. A new version is loaded in its own worker
 * beside the old one; once it is ready, new requests go to it (one assignment: atomic for
 * the event loop), the old worker finishes the requests it already has and is terminated,
 * which frees its memory. A request is scored by exactly one version, and the version is
 * returned with the results. Swaps are serialised; a failed load leaves the old model serving.
 */
import type { EngineOptions, ScoredText } from './engine.ts';
import type { ModelInfo } from './folder.ts';
import { ModelWorker, type WorkerHeapMemory } from './model-worker.ts';

export interface ScoredBatch {
  readonly model: ModelInfo;
  readonly results: ScoredText[];
}

export class ModelHost {
  private swapping: Promise<unknown> = Promise.resolve();

  private constructor(
    private current: ModelWorker,
    private readonly options: EngineOptions,
  ) {}

  static async start(folder: string, options: EngineOptions = {}): Promise<ModelHost> {
    return new ModelHost(await ModelWorker.start(folder, options), options);
  }

  get model(): ModelInfo {
    return this.current.info;
  }

  /** The serving model's worker is alive and can score (a readiness part). */
  get isServing(): boolean {
    return this.current.isServing;
  }

  /** The serving worker thread's heap (process.memoryUsage() covers the calling thread only). */
  workerHeapMemory(): Promise<WorkerHeapMemory> {
    return this.current.heapMemory();
  }

  async score(texts: readonly string[]): Promise<ScoredBatch> {
    const worker = this.current;
    return { model: worker.info, results: await worker.score(texts) };
  }

  /** Loads `folder` and makes it the serving model; resolves with the new model's info. */
  swap(folder: string): Promise<ModelInfo> {
    const next = this.swapping.then(async () => {
      const incoming = await ModelWorker.start(folder, this.options);
      const outgoing = this.current;
      this.current = incoming;
      await outgoing.retire();
      return incoming.info;
    });
    this.swapping = next.catch(() => undefined);
    return next;
  }

  async close(): Promise<void> {
    await this.swapping;
    await this.current.retire();
  }
}
