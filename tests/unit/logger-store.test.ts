import { describe, expect, it } from 'vitest';
import { DependencyUnavailableError } from '#platform/common';
import type { ConsumedEvent } from '#platform/runner';
import type { Prediction } from '#platform/serde';
import { ClickHouseInsertError, type RowBinaryInserter } from '#platform/store';
import { InsertBatcher } from '../../services/logger/insert-batcher.ts';
import {
  EmbeddingWidths,
  createPredictionHandler,
} from '../../services/logger/prediction-handler.ts';
import { createPredictionStore } from '../../services/logger/prediction-store.ts';

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('InsertBatcher', () => {
  it('inserts at once when idle and gathers chunks queued meanwhile, up to maxRows', async () => {
    const inserts: string[][] = [];
    let release: () => void = () => undefined;
    const batcher = new InsertBatcher<string>({
      maxRows: 5,
      insert: async (chunks) => {
        inserts.push([...chunks]);
        if (inserts.length === 1) await new Promise<void>((resolve) => (release = resolve));
      },
    });
    const first = batcher.add('a', 1);
    const rest = [batcher.add('b', 2), batcher.add('c', 3), batcher.add('d', 1)];
    await tick();
    expect(inserts).toEqual([['a']]);
    release();
    await Promise.all([first, ...rest]);
    expect(inserts).toEqual([['a'], ['b', 'c'], ['d']]);
  });

  it('on a data error retries each chunk alone, so only the bad chunk fails', async () => {
    const batcher = new InsertBatcher<string>({
      maxRows: 100,
      insert: async (chunks) => {
        await tick();
        if (chunks.includes('bad')) throw new ClickHouseInsertError(500, 'Code: 27, bad value');
      },
      isolate: (error) => error instanceof ClickHouseInsertError,
    });
    const blocker = batcher.add('first', 1);
    const results = await Promise.allSettled([
      batcher.add('good1', 1),
      batcher.add('bad', 1),
      batcher.add('good2', 1),
    ]);
    await blocker;
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  });

  it('on an outage rejects every chunk of the insert (each batch is retried by its runner)', async () => {
    const outage = new DependencyUnavailableError('clickhouse', 'ECONNREFUSED');
    const batcher = new InsertBatcher<string>({
      maxRows: 100,
      insert: async () => {
        await tick();
        throw outage;
      },
      isolate: (error) => !(error instanceof DependencyUnavailableError),
    });
    const results = await Promise.allSettled([batcher.add('a', 1), batcher.add('b', 1)]);
    expect(results).toEqual([
      { status: 'rejected', reason: outage },
      { status: 'rejected', reason: outage },
    ]);
    await batcher.flush();
  });
});

describe('prediction store', () => {
  it('reports ClickHouse unavailable during an outage only, and names the columns', async () => {
    const calls: { table: string; columns: readonly string[]; bytes: number }[] = [];
    let fail: unknown;
    const inserter: RowBinaryInserter = {
      insert: async (table, columns, chunks) => {
        calls.push({ table, columns, bytes: chunks.reduce((n, c) => n + c.length, 0) });
        if (fail) throw fail;
      },
      close: async () => undefined,
    };
    const seen: boolean[] = [];
    const store = createPredictionStore({
      inserter,
      maxRows: 10,
      isTransient: (error) => error instanceof DependencyUnavailableError,
      onAvailability: (available) => seen.push(available),
    });
    await store.store(Buffer.alloc(3), 1);
    expect(calls[0]).toMatchObject({ table: 'predictions', bytes: 3 });
    expect(calls[0]!.columns).toContain('embedding');
    fail = new DependencyUnavailableError('clickhouse', 'ECONNREFUSED');
    await expect(store.store(Buffer.alloc(1), 1)).rejects.toBe(fail);
    expect(store.available).toBe(false);
    fail = new ClickHouseInsertError(500, 'Code: 27, bad');
    await expect(store.store(Buffer.alloc(1), 1)).rejects.toBe(fail);
    expect(store.available).toBe(false);
    fail = undefined;
    await store.store(Buffer.alloc(1), 1);
    expect(store.available).toBe(true);
    expect(seen).toEqual([true, false, true]);
  });
});

function event(offset: number, patch: Partial<Prediction> = {}): ConsumedEvent<Prediction> {
  return {
    topic: 'predictions',
    partition: 2,
    offset: String(offset),
    key: null,
    value: null,
    headers: {},
    timestamp: '0',
    schemaId: 1,
    event: {
      eventId: `e${offset}`,
      eventTime: 1_763_800_000_000,
      reviewId: `r${offset}`,
      reviewEventId: null,
      origin: 'STREAM',
      source: 'test',
      text: 'fine',
      modelName: 'sentiment',
      modelVersion: '1',
      label: 'POSITIVE',
      probabilities: [0.25, 0.75],
      confidence: 0.75,
      embedding: [0.5, 0.25, 0.125],
      latencyMs: 1,
      truncated: false,
      groundTruth: null,
      scoredAt: 1_763_800_001_000,
      shadowOf: null,
      ...patch,
    },
  };
}

describe('prediction handler', () => {
  it('stores the valid rows as one RowBinary chunk and rejects the others with the reason', async () => {
    const stored: { chunk: Buffer; rows: number }[] = [];
    const handler = createPredictionHandler({
      topic: 'predictions',
      embeddingWidths: new EmbeddingWidths(8),
      store: async (chunk, rows) => {
        stored.push({ chunk, rows });
      },
      now: () => 1_763_800_001_000,
    });
    const controller = new AbortController();
    const result = await handler(
      [
        event(0),
        event(1, { embedding: [1, 2] }),
        event(2, { embedding: [1, Number.NaN, 2] }),
        event(3, { eventTime: -5_000 }),
        event(4),
        event(5, { embedding: Array.from({ length: 9 }, () => 0.5) }),
        event(6, { modelVersion: '2', embedding: [1, 2] }),
        event(7, { modelVersion: '2', embedding: [1, 2] }),
      ],
      {
        heartbeat: async () => undefined,
        signal: controller.signal,
        output: {
          send: async () => {
            throw new Error('the logger derives no events');
          },
        },
      },
    );
    expect(stored).toHaveLength(1);
    // A version keeps its first width (3 for version 1, 2 for version 2); 9 > the maximum.
    expect(stored[0]!.rows).toBe(4);
    expect(stored[0]!.chunk.includes(Buffer.from('e4'))).toBe(true);
    expect(stored[0]!.chunk.includes(Buffer.from('e3'))).toBe(false);
    const rejected = (result?.rejected ?? []).map((r) => [
      r.event.offset,
      (r.error as { code?: string }).code,
    ]);
    expect(rejected).toEqual([
      ['1', 'EMBEDDING_DIMENSION'],
      ['2', 'EMBEDDING_NOT_FINITE'],
      ['3', 'ROW_UNENCODABLE'],
      ['5', 'EMBEDDING_DIMENSION'],
    ]);
    expect(result?.rejected?.[2]?.error.message).toMatch(/column event_time/);
  });
});
