/**
 * Gathers rows from concurrently processed partition batches into larger inserts. Adaptive:
 * when no insert is running, rows are inserted at once (no added latency); while one runs,
 * new rows queue and go together in the next insert, up to `maxRows` per insert. Under load
 * inserts grow by themselves; a row never waits longer than the insert ahead of it.
 * `add` resolves only once the insert holding its rows succeeded, so each consumer batch
 * commits its offsets after its rows are durable; when an insert fails, every batch in it is
 * rejected and retried by its runner.
 */
export interface InsertBatcherOptions<R> {
  readonly insert: (rows: readonly R[]) => Promise<void>;
  /** Rows per insert at most (default 5,000 in the logger). */
  readonly maxRows: number;
}

interface Pending<R> {
  readonly rows: readonly R[];
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

export class InsertBatcher<R> {
  private queue: Pending<R>[] = [];
  private inserting: Promise<void> | undefined;

  constructor(private readonly options: InsertBatcherOptions<R>) {}

  add(rows: readonly R[]): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.queue.push({ rows, resolve, reject });
      this.inserting ??= this.drain();
    });
  }

  /** Resolves once everything queued so far has been inserted (or failed). */
  async flush(): Promise<void> {
    while (this.inserting) await this.inserting;
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch: Pending<R>[] = [];
        let rows = 0;
        // Always take one entry, even one larger than maxRows.
        while (
          this.queue.length > 0 &&
          (batch.length === 0 || rows + this.queue[0]!.rows.length <= this.options.maxRows)
        ) {
          const next = this.queue.shift()!;
          batch.push(next);
          rows += next.rows.length;
        }
        try {
          await this.options.insert(batch.flatMap((entry) => entry.rows));
          for (const entry of batch) entry.resolve();
        } catch (error) {
          for (const entry of batch) entry.reject(error);
        }
      }
    } finally {
      this.inserting = undefined;
    }
  }
}
