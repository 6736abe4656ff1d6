import { describe, expect, it } from 'vitest';
import {
  MicroBatcher,
  type ModelInfo,
  type ScoredBatch,
  argmax,
  bucketByLength,
  padBatch,
  softmax,
  truncateIds,
} from '#domain/model';

describe('length-bucketed batching', () => {
  it('truncates keeping [SEP] and flags it', () => {
    expect(truncateIds([101, 1, 2, 3, 102], 5, 102)).toEqual({
      ids: [101, 1, 2, 3, 102],
      truncated: false,
    });
    expect(truncateIds([101, 1, 2, 3, 4, 5, 102], 5, 102)).toEqual({
      ids: [101, 1, 2, 3, 102],
      truncated: true,
    });
  });

  it('pads to the longest text of the batch, not to the model maximum', () => {
    const batch = padBatch(
      [
        [101, 7, 102],
        [101, 102],
      ],
      0,
    );
    expect(batch.sequenceLength).toBe(3);
    expect([...batch.inputIds]).toEqual([101n, 7n, 102n, 101n, 102n, 0n]);
    expect([...batch.attentionMask]).toEqual([1n, 1n, 1n, 1n, 1n, 0n]);
  });

  it('groups texts of similar length, each batch at most maxBatchSize', () => {
    expect(bucketByLength([50, 3, 49, 4, 120], 2)).toEqual([[1, 3], [2, 0], [4]]);
  });

  it('caps the padded tokens of a batch: long texts in smaller batches, every text once', () => {
    const lengths = [128, 10, 128, 12, 128, 11, 64, 64];
    const buckets = bucketByLength(lengths, 32, 256);
    expect(buckets).toEqual([
      [1, 5, 3, 6],
      [7, 0],
      [2, 4],
    ]);
    for (const bucket of buckets) {
      expect(bucket.length * Math.max(...bucket.map((i) => lengths[i]!))).toBeLessThanOrEqual(256);
    }
    expect(buckets.flat().sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    // A text longer than the budget still gets a batch of its own.
    expect(bucketByLength([300, 5], 32, 256)).toEqual([[1], [0]]);
  });

  it('computes a stable softmax and argmax', () => {
    const probabilities = softmax([1000, 1001]);
    expect(probabilities[0]! + probabilities[1]!).toBeCloseTo(1, 12);
    expect(probabilities[1]).toBeCloseTo(0.7310585786, 9);
    expect(argmax(probabilities)).toBe(1);
  });
});

describe('MicroBatcher', () => {
  const model = { version: '1' } as ModelInfo;

  it('scores a lone request at once and batches requests that arrive while busy', async () => {
    const calls: string[][] = [];
    let release: () => void = () => undefined;
    const scorer = {
      score: (texts: readonly string[]): Promise<ScoredBatch> => {
        calls.push([...texts]);
        return new Promise((resolve) => {
          release = () =>
            resolve({ model, results: texts.map((text) => ({ label: text }) as never) });
        });
      },
    };
    const batcher = new MicroBatcher(scorer, 3);
    const first = batcher.score(['a']);
    const second = batcher.score(['b', 'c']);
    const third = batcher.score(['d']);
    const fourth = batcher.score(['e']);
    expect(calls).toEqual([['a']]);
    release();
    expect((await first).results).toEqual([{ label: 'a' }]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls[1]).toEqual(['b', 'c', 'd']);
    release();
    expect((await second).results).toEqual([{ label: 'b' }, { label: 'c' }]);
    expect((await third).results).toEqual([{ label: 'd' }]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls[2]).toEqual(['e']);
    release();
    expect((await fourth).model).toBe(model);
  });

  it('rejects every request of a failed batch and keeps serving', async () => {
    let fail = true;
    const batcher = new MicroBatcher({
      score: async (texts) => {
        if (fail) throw new Error('worker crashed');
        return { model, results: texts.map(() => ({}) as never) };
      },
    });
    await expect(batcher.score(['x'])).rejects.toThrow('worker crashed');
    fail = false;
    await expect(batcher.score(['y'])).resolves.toMatchObject({ model });
  });
});
