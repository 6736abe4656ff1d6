import { describe, expect, it } from 'vitest';
import { type BatchOutcome, CommitLane } from '#platform/runner';

/** A batch outcome the test settles by hand. */
function deferred() {
  let resolve!: (outcome: BatchOutcome) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<BatchOutcome>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const done = (commitOffset: number): BatchOutcome => ({
  kind: 'done',
  commitOffset: String(commitOffset),
  processed: 10,
  deadLettered: 0,
});

/** Pushes one hand-settled batch per name, in order; returns them by name. */
function pushed<const N extends string>(lane: CommitLane<string>, ...names: N[]) {
  const batches = {} as Record<N, ReturnType<typeof deferred>>;
  for (const name of names) {
    batches[name] = deferred();
    lane.push(batches[name].promise, name);
  }
  return batches;
}

const flush = () => new Promise((resolve) => setTimeout(resolve, 0));

function harness(options: { failCommit?: boolean } = {}) {
  const commits: string[] = [];
  const committed: string[] = [];
  const broken: unknown[] = [];
  const commitErrors: unknown[] = [];
  const lane = new CommitLane<string>({
    commit: async (offset) => {
      if (options.failCommit) throw new Error('rebalance in progress');
      commits.push(offset);
    },
    onCommitted: (_outcome, context) => committed.push(context),
    onCommitError: (error) => commitErrors.push(error),
    onBroken: (error) => broken.push(error ?? 'abandoned'),
  });
  return { lane, commits, committed, broken, commitErrors };
}

describe('CommitLane: in-order commits of pipelined batches', () => {
  it('commits only the end of the finished prefix, whatever order batches finish in', async () => {
    const { lane, commits, committed } = harness();
    const { a, b, c } = pushed(lane, 'a', 'b', 'c');
    c.resolve(done(30));
    b.resolve(done(20));
    await flush();
    expect(commits).toEqual([]); // 'a' is not durable yet: nothing past it may be committed
    a.resolve(done(10));
    await lane.drain();
    expect(commits).toEqual(['30']); // one commit covers the whole finished prefix
    expect(committed).toEqual(['a', 'b', 'c']);
    expect(lane.inFlight).toBe(0);
  });

  it('commits each batch as it finishes when they finish in order', async () => {
    const { lane, commits } = harness();
    const { a, b } = pushed(lane, 'a', 'b');
    a.resolve(done(10));
    await flush();
    expect(commits).toEqual(['10']);
    b.resolve(done(20));
    await lane.drain();
    expect(commits).toEqual(['10', '20']);
  });

  it('waitForRoom holds the caller while the lane is full, counting finished batches behind an unfinished one', async () => {
    const { lane } = harness();
    const { a, b } = pushed(lane, 'a', 'b');
    let roomy = false;
    const room = lane.waitForRoom(2).then(() => (roomy = true));
    b.resolve(done(20));
    await flush();
    expect(roomy).toBe(false); // 'b' is done but cannot be committed before 'a'
    a.resolve(done(10));
    await room;
    expect(roomy).toBe(true);
  });

  it('an abandoned batch closes the lane: nothing after it is committed', async () => {
    const { lane, commits, broken } = harness();
    const { a, b, c } = pushed(lane, 'a', 'b', 'c');
    c.resolve(done(30));
    a.resolve(done(10));
    b.resolve({ kind: 'aborted' });
    await lane.drain();
    expect(commits).toEqual(['10']);
    expect(broken).toEqual(['abandoned']);
    expect(lane.closed).toBe(true);
    await lane.waitForRoom(1); // a closed lane never blocks its caller
  });

  it('a failed batch closes the lane and reports the error; later batches stay uncommitted', async () => {
    const { lane, commits, broken } = harness();
    const { a, b } = pushed(lane, 'a', 'b');
    const failure = new Error('handler bug');
    a.reject(failure);
    b.resolve(done(20));
    await lane.drain();
    expect(commits).toEqual([]);
    expect(broken).toEqual([failure]);
  });

  it('drain waits for batches still running in a closed lane', async () => {
    const { lane } = harness();
    const { a, b } = pushed(lane, 'a', 'b');
    a.resolve({ kind: 'aborted' });
    let drained = false;
    const draining = lane.drain().then(() => (drained = true));
    await flush();
    expect(drained).toBe(false);
    b.resolve(done(20));
    await draining;
    expect(drained).toBe(true);
  });

  it('a batch stays in flight until its commit has finished: a lane of one commits before it takes the next', async () => {
    let finishCommit!: () => void;
    const commits: string[] = [];
    const lane = new CommitLane<string>({
      commit: (offset) =>
        new Promise<void>((resolve) => {
          finishCommit = () => {
            commits.push(offset);
            resolve();
          };
        }),
    });
    const { a } = pushed(lane, 'a');
    let roomy = false;
    const room = lane.waitForRoom(1).then(() => (roomy = true));
    a.resolve(done(10));
    await flush();
    expect(lane.inFlight).toBe(1); // processed, its commit on its way
    expect(roomy).toBe(false);
    finishCommit();
    await room;
    expect(commits).toEqual(['10']);
    expect(lane.inFlight).toBe(0);
  });

  it('commit is given the batch that ends at the offset and every batch it covers', async () => {
    const calls: [string, string, string[]][] = [];
    const lane = new CommitLane<string>({
      commit: async (offset, last, covered) => {
        calls.push([offset, last, [...covered]]);
      },
    });
    const { a, b, c } = pushed(lane, 'a', 'b', 'c');
    b.resolve(done(20));
    a.resolve(done(10));
    await flush();
    c.resolve(done(30));
    await lane.drain();
    expect(calls).toEqual([
      ['20', 'b', ['a', 'b']],
      ['30', 'c', ['c']],
    ]);
  });

  it('committed starts from the seed and follows successful commits only', async () => {
    let fail = false;
    const lane = new CommitLane<string>({
      committed: '5',
      commit: async () => {
        if (fail) throw new Error('rebalance in progress');
      },
    });
    expect(lane.committed).toBe('5');
    const { a, b } = pushed(lane, 'a', 'b');
    a.resolve(done(10));
    await flush();
    expect(lane.committed).toBe('10');
    fail = true;
    b.resolve(done(20));
    await lane.drain();
    expect(lane.committed).toBe('10');
  });

  it('commitFailureCloses: a failed commit (a transaction) closes the lane; nothing queued behind it is committed', async () => {
    const attempts: string[] = [];
    const commitErrors: unknown[] = [];
    let failFirst = true;
    let finishFirst!: () => void;
    const lane = new CommitLane<string>({
      commitFailureCloses: true,
      commit: async (offset) => {
        attempts.push(offset);
        if (failFirst) {
          failFirst = false;
          await new Promise<void>((resolve) => (finishFirst = resolve));
          throw new Error('EndTxn timed out');
        }
      },
      onCommitError: (error) => commitErrors.push(error),
    });
    const { a, b, c } = pushed(lane, 'a', 'b', 'c');
    a.resolve(done(10));
    await flush();
    b.resolve(done(20)); // its commit queues behind a's
    await flush();
    finishFirst();
    c.resolve(done(30));
    await lane.drain();
    expect(attempts).toEqual(['10']); // b's commit is not made after a's failed
    expect(commitErrors).toHaveLength(1);
    expect(lane.closed).toBe(true);
    expect(lane.committed).toBeUndefined();
    await lane.waitForRoom(1);
  });

  it('a failed commit is reported and the lane goes on', async () => {
    const { lane, commitErrors, committed } = harness({ failCommit: true });
    const { a } = pushed(lane, 'a');
    a.resolve(done(10));
    await lane.drain();
    expect(commitErrors).toHaveLength(1);
    expect(committed).toEqual([]); // not counted as committed
    expect(lane.closed).toBe(false);
  });
});
