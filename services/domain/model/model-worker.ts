/** Main-thread handle of one inference worker thread (one loaded model version). */
import { Worker } from 'node:worker_threads';
import { AppError, workerEntry } from '#platform/common';
import { type EngineOptions, ModelLoadError, type ScoredText } from './engine.ts';
import type { ModelInfo } from './folder.ts';
import type { WorkerReply, WorkerRequest } from './protocol.ts';

export class InferenceFailedError extends AppError {
  constructor(message: string) {
    super('INFERENCE_FAILED', message);
  }
}

/** Bytes, as process.memoryUsage() names them, for one worker thread's isolate. */
export interface WorkerHeapMemory {
  readonly heapUsed: number;
  readonly heapTotal: number;
  /** Memory outside the heap that JavaScript objects own (ArrayBuffers, tensors' data). */
  readonly external: number;
  readonly heapLimit: number;
}

export class ModelWorker {
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve: (results: ScoredText[]) => void; reject: (error: Error) => void }
  >();
  private drained: (() => void) | undefined;
  private failure: Error | undefined;
  private exited = false;

  private constructor(
    private readonly worker: Worker,
    readonly info: ModelInfo,
  ) {
    worker.on('message', (reply: WorkerReply) => {
      if (reply.type !== 'scored' && reply.type !== 'failed') return;
      const waiting = this.pending.get(reply.id);
      if (!waiting) return;
      this.pending.delete(reply.id);
      if (reply.type === 'scored') {
        waiting.resolve(reply.results);
      } else {
        waiting.reject(new InferenceFailedError(reply.message));
      }
      if (this.pending.size === 0) this.drained?.();
    });
    const failAll = (error: Error) => {
      this.failure = error;
      for (const waiting of this.pending.values()) waiting.reject(error);
      this.pending.clear();
      this.drained?.();
    };
    worker.on('error', (error) =>
      failAll(new InferenceFailedError(`inference worker crashed: ${error.message}`)),
    );
    worker.on('exit', (code) => {
      this.exited = true;
      if (this.pending.size > 0)
        failAll(new InferenceFailedError(`inference worker exited (${code})`));
    });
  }

  /** False once the worker crashed or exited (readiness: the model can no longer score). */
  get isServing(): boolean {
    return this.failure === undefined && !this.exited;
  }

  /** Starts a worker and resolves once its model is loaded and warmed up. */
  static start(folder: string, options: EngineOptions = {}): Promise<ModelWorker> {
    const worker = new Worker(workerEntry('./worker.ts', './worker-entry.mjs', import.meta.url), {
      workerData: { folder, options },
    });
    return new Promise((resolve, reject) => {
      const onMessage = (reply: WorkerReply) => {
        if (reply.type === 'ready') {
          cleanup();
          resolve(new ModelWorker(worker, reply.info));
        } else if (reply.type === 'fatal') {
          cleanup();
          void worker.terminate();
          reject(new ModelLoadError(reply.message));
        }
      };
      const onError = (error: Error) => {
        cleanup();
        reject(
          new ModelLoadError(`inference worker failed to start: ${error.message}`, {
            cause: error,
          }),
        );
      };
      const cleanup = () => {
        worker.off('message', onMessage);
        worker.off('error', onError);
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
    });
  }

  get inFlight(): number {
    return this.pending.size;
  }

  /** The worker thread's V8 heap (its own isolate): what the model's JavaScript side holds. */
  async heapMemory(): Promise<WorkerHeapMemory> {
    const stats = await this.worker.getHeapStatistics();
    return {
      heapUsed: stats.used_heap_size,
      heapTotal: stats.total_heap_size,
      external: stats.external_memory,
      heapLimit: stats.heap_size_limit,
    };
  }

  score(texts: readonly string[]): Promise<ScoredText[]> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const request: WorkerRequest = { type: 'score', id, texts };
      this.worker.postMessage(request);
    });
  }

  /** Waits for in-flight requests, then frees the model and stops the thread. */
  async retire(): Promise<void> {
    if (this.pending.size > 0) await new Promise<void>((resolve) => (this.drained = resolve));
    const release: WorkerRequest = { type: 'release' };
    this.worker.postMessage(release);
    await this.worker.terminate();
  }
}
