/**
 * The one owner of "what a partition commits next": every offset `ConsumerRunner` commits, at
 * any pipelining depth and in both delivery modes, goes through the partition's lane.
 *
 * Batches are pushed in fetch order, each with the promise of its outcome (the contract of
 * batch-processor.ts: it resolves only once the batch's effects and dead letters are
 * durable). They may finish in any order; the lane commits only the end of the longest
 * finished prefix, so a committed offset never passes a batch whose effects are not durable.
 *
 * A batch is in flight from its push until its commit has finished (or failed), so a lane of
 * one (`waitForRoom(1)`, the runner's default depth) hands the caller back only once the
 * batch is processed and committed: one batch at a time, as a plain consume loop does.
 *
 * What a commit carries is the caller's (`commit` gets the contexts of the batches it
 * covers): a plain offset commit, or a Kafka transaction holding the batches' outputs, dead
 * letters and offset. A failed plain commit leaves the lane going: the effects are durable,
 * and a later commit covers them. A failed transaction (`commitFailureCloses`) may have lost
 * the effects, so it closes the lane, and no commit queued behind it is made.
 *
 * A batch that is abandoned (the consumer is stopping, or kafkajs restarted and redelivers
 * from the committed offset) or whose processing failed unexpectedly closes the lane too: no
 * later batch of it is committed, and `onBroken` is told (a failure means the partition must
 * be redelivered, so the runner rejoins its group). The runner opens a new lane for the
 * partition once the member has rejoined (it reads from the committed offset again then),
 * seeded with `committed`, the last offset this lane committed.
 */
import type { BatchOutcome } from './batch-processor.ts';

export type DoneOutcome = Extract<BatchOutcome, { kind: 'done' }>;

export interface CommitLaneDeps<C> {
  /**
   * Commits `offset` (the next offset to read) for the lane's partition. `last` is the
   * context of the batch that ends at `offset`; `covered` holds every batch the commit
   * covers (those not committed before), in push order, `last` included.
   */
  readonly commit: (offset: string, last: C, covered: readonly C[]) => Promise<void>;
  /** Called once per finished batch, in push order, after its offset was committed. */
  readonly onCommitted?: (outcome: DoneOutcome, context: C) => void;
  /** A commit failed (e.g. a rebalance took the partition away, or a transaction failed). */
  readonly onCommitError?: (error: unknown) => void;
  /** The lane closed: an abandoned batch (`error` undefined) or an unexpected failure. */
  readonly onBroken?: (error: unknown) => void;
  /**
   * Commits carry the batches' effects (a transaction): a failed one closes the lane, and
   * commits already queued behind it are not made. Default false (effects are durable
   * before the commit; a later commit covers a failed one).
   */
  readonly commitFailureCloses?: boolean;
  /** The partition's committed offset when the lane opens, if known (its predecessor's). */
  readonly committed?: string;
}

type Settled =
  | { readonly kind: 'outcome'; readonly outcome: BatchOutcome }
  | { readonly kind: 'failed'; readonly error: unknown };

interface Entry<C> {
  readonly context: C;
  settled: Settled | undefined;
}

interface Finished<C> {
  readonly outcome: DoneOutcome;
  readonly context: C;
}

/** `C`: what the caller keeps with each batch (given back to `commit` and `onCommitted`). */
export class CommitLane<C = undefined> {
  /** Pushed batches not yet handed to a commit, in push order. */
  private readonly pending: Entry<C>[] = [];
  /** Batches handed to a commit that has not finished yet. */
  private committingCount = 0;
  /** Tail of the queue of commits: one at a time, in order. */
  private committing: Promise<void> = Promise.resolve();
  private waiters: (() => void)[] = [];
  /** Pushed batches still being processed (also those of a closed lane). */
  private unsettled = 0;
  private isClosed = false;
  /** A commit failed and `commitFailureCloses`: no later commit may be made. */
  private commitFailed = false;
  private lastCommitted: string | undefined;

  constructor(private readonly deps: CommitLaneDeps<C>) {
    this.lastCommitted = deps.committed;
  }

  /** True once a batch was abandoned or failed (or a closing commit failed): push nothing more. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** Batches pushed and not yet committed (finished ones behind an unfinished one count). */
  get inFlight(): number {
    return this.pending.length + this.committingCount;
  }

  /** The last offset committed through this lane, else the one it was opened with. */
  get committed(): string | undefined {
    return this.lastCommitted;
  }

  push(outcome: Promise<BatchOutcome>, context: C): void {
    const entry: Entry<C> = { context, settled: undefined };
    // A closed lane commits nothing more; the batch is still awaited by `drain`.
    if (!this.isClosed) this.pending.push(entry);
    this.unsettled++;
    outcome.then(
      (value) => this.settle(entry, { kind: 'outcome', outcome: value }),
      (error: unknown) => this.settle(entry, { kind: 'failed', error }),
    );
  }

  /** Resolves once fewer than `limit` batches are in flight (or the lane closed). */
  async waitForRoom(limit: number): Promise<void> {
    while (!this.isClosed && this.inFlight >= limit) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Resolves once every pushed batch has settled and every commit has been attempted. */
  async drain(): Promise<void> {
    while (this.unsettled > 0) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    await this.committing;
  }

  private settle(entry: Entry<C>, settled: Settled): void {
    entry.settled = settled;
    this.unsettled--;
    const finished: Finished<C>[] = [];
    for (let head = this.pending[0]; !this.isClosed && head?.settled; head = this.pending[0]) {
      this.pending.shift();
      const result = head.settled;
      if (result.kind === 'outcome' && result.outcome.kind === 'done') {
        finished.push({ outcome: result.outcome, context: head.context });
        continue;
      }
      this.close();
      this.deps.onBroken?.(result.kind === 'failed' ? result.error : undefined);
    }
    if (finished.length > 0) this.enqueueCommit(finished);
    this.wake();
  }

  private enqueueCommit(finished: readonly Finished<C>[]): void {
    this.committingCount += finished.length;
    const run = async (): Promise<void> => {
      const last = finished[finished.length - 1];
      try {
        if (this.commitFailed || last === undefined) return;
        try {
          await this.deps.commit(
            last.outcome.commitOffset,
            last.context,
            finished.map(({ context }) => context),
          );
        } catch (error) {
          if (this.deps.commitFailureCloses) {
            this.commitFailed = true;
            this.close();
          }
          this.deps.onCommitError?.(error);
          return;
        }
        this.lastCommitted = last.outcome.commitOffset;
        for (const { outcome, context } of finished) this.deps.onCommitted?.(outcome, context);
      } finally {
        this.committingCount -= finished.length;
        this.wake();
      }
    };
    // `run` handles the commit's errors; a callback that throws (a bug) is reported the same
    // way, and the commits queued behind it still run.
    this.committing = this.committing
      .then(run)
      .catch((error: unknown) => this.deps.onCommitError?.(error));
  }

  private close(): void {
    this.isClosed = true;
    this.pending.length = 0;
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
