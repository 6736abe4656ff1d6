/**
 * In-order offset commits for one partition whose batches are processed concurrently
 * (pipelined consumption, `ConsumerRunner`'s `batchesInFlightPerPartition` > 1).
 *
 * Batches are pushed in fetch order, each with the promise of its outcome (the contract of
 * batch-processor.ts: it resolves only once the batch's effects and dead letters are
 * durable). They may finish in any order; the lane commits only the end of the longest
 * finished prefix, so a committed offset never passes a batch whose effects are not durable.
 *
 * A batch that is abandoned (the consumer is stopping, or kafkajs restarted and redelivers
 * from the committed offset) or whose processing failed unexpectedly closes the lane: no
 * later batch of it is committed, and `onBroken` is told (a failure means the partition
 * must be redelivered, so the runner restarts its consumer). The runner then opens a new
 * lane for the partition's next batch.
 */
import type { BatchOutcome } from './batch-processor.ts';

export type DoneOutcome = Extract<BatchOutcome, { kind: 'done' }>;

export interface CommitLaneDeps<C> {
  /** Commits `offset` (the next offset to read) for the lane's partition. */
  readonly commit: (offset: string) => Promise<void>;
  /** Called once per finished batch, in push order, after its offset was committed. */
  readonly onCommitted?: (outcome: DoneOutcome, context: C) => void;
  /** A commit failed (e.g. a rebalance took the partition away): the lane goes on. */
  readonly onCommitError?: (error: unknown) => void;
  /** The lane closed: an abandoned batch (`error` undefined) or an unexpected failure. */
  readonly onBroken?: (error: unknown) => void;
}

type Settled =
  | { readonly kind: 'outcome'; readonly outcome: BatchOutcome }
  | { readonly kind: 'failed'; readonly error: unknown };

interface Entry<C> {
  readonly context: C;
  settled: Settled | undefined;
}

/** `C`: what the caller keeps with each batch (given back to `onCommitted`). */
export class CommitLane<C = undefined> {
  private readonly entries: Entry<C>[] = [];
  private committing: Promise<void> = Promise.resolve();
  private waiters: (() => void)[] = [];
  /** Pushed batches still being processed (also those of a closed lane). */
  private unsettled = 0;
  private isClosed = false;

  constructor(private readonly deps: CommitLaneDeps<C>) {}

  /** True once a batch was abandoned or failed: push nothing more, open a new lane. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** Batches pushed and not yet committed (finished ones behind an unfinished one count). */
  get inFlight(): number {
    return this.entries.length;
  }

  push(outcome: Promise<BatchOutcome>, context: C): void {
    const entry: Entry<C> = { context, settled: undefined };
    this.entries.push(entry);
    this.unsettled++;
    outcome.then(
      (value) => this.settle(entry, { kind: 'outcome', outcome: value }),
      (error: unknown) => this.settle(entry, { kind: 'failed', error }),
    );
  }

  /** Resolves once fewer than `limit` batches are in flight (or the lane closed). */
  async waitForRoom(limit: number): Promise<void> {
    while (!this.isClosed && this.entries.length >= limit) {
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
    const finished: { outcome: DoneOutcome; context: C }[] = [];
    for (let head = this.entries[0]; !this.isClosed && head?.settled; head = this.entries[0]) {
      this.entries.shift();
      const result = head.settled;
      if (result.kind === 'outcome' && result.outcome.kind === 'done') {
        finished.push({ outcome: result.outcome, context: head.context });
        continue;
      }
      this.isClosed = true;
      this.deps.onBroken?.(result.kind === 'failed' ? result.error : undefined);
    }
    if (this.isClosed) this.entries.length = 0;
    const last = finished[finished.length - 1];
    if (last) {
      this.committing = this.committing.then(async () => {
        try {
          await this.deps.commit(last.outcome.commitOffset);
          for (const { outcome, context } of finished) this.deps.onCommitted?.(outcome, context);
        } catch (error) {
          this.deps.onCommitError?.(error);
        }
      });
    }
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
