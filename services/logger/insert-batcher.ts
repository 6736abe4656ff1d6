/**
 * Gathers encoded row chunks from concurrently processed partition batches into larger
 * inserts. Adaptive: when no insert is running, a chunk is inserted at once (no added
 * latency); while one runs, new chunks queue and go together in the next insert, up to
 * `maxRows` per insert. Under load inserts grow by themselves; a chunk never waits longer
 * than the insert ahead of it.
 *
 * `add` resolves only once the insert holding its chunk succeeded, so each consumer batch
 * commits its offsets after its rows are durable. When an insert of several chunks fails
 * with an error `isolate` accepts (one about the data, not an outage), each chunk is
 * inserted alone, so only the batch holding the bad row fails (its runner then finds the
 * row); any other failure rejects every batch in the insert, and each runner retries.
 */
export interface InsertBatcherOptions<C> {
  readonly insert: (chunks: readonly C[]) => Promise<void>;
  /** Rows per insert at most (a single chunk may exceed it). */
  readonly maxRows: number;
  /** True for failures that a chunk alone may cause (retry the chunks one by one). */
  readonly isolate?: (error: unknown) => boolean;
}

interface Pending<C> {
  readonly chunk: C;
  readonly rows: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

export class InsertBatcher<C> {
  private queue: Pending<C>[] = [];
  private inserting: Promise<void> | undefined;

  constructor(private readonly options: InsertBatcherOptions<C>) {}

  /** Queues `chunk` (holding `rows` rows); resolves once it is inserted. */
  add(chunk: C, rows: number): Promise<void> {
    if (rows === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.queue.push({ chunk, rows, resolve, reject });
      this.inserting ??= this.drain();
    });
  }

  /** Resolves once everything queued so far has been inserted (or failed). */
  async flush(): Promise<void> {
    while (this.inserting) await this.inserting;
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) await this.insert(this.take());
    } finally {
      this.inserting = undefined;
    }
  }

  /** The next insert: queued chunks in order, up to maxRows (always at least one). */
  private take(): Pending<C>[] {
    const batch: Pending<C>[] = [];
    let rows = 0;
    while (
      this.queue.length > 0 &&
      (batch.length === 0 || rows + this.queue[0]!.rows <= this.options.maxRows)
    ) {
      const next = this.queue.shift()!;
      batch.push(next);
      rows += next.rows;
    }
    return batch;
  }

  private async insert(batch: readonly Pending<C>[]): Promise<void> {
    try {
      await this.options.insert(batch.map((entry) => entry.chunk));
      for (const entry of batch) entry.resolve();
    } catch (error) {
      if (batch.length > 1 && this.options.isolate?.(error)) {
        for (const entry of batch) await this.insert([entry]);
        return;
      }
      for (const entry of batch) entry.reject(error);
    }
  }
}
