/**
 * Drift test data: texts embedded by the real bootstrap model, written to ClickHouse as
 * prediction rows (what the logger would store), so the drift service reads real [CLS]
 * embeddings without running inference and logger.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { SentimentEngine } from '#shared/model';
import type { ClickHouseClient } from '#shared/store';
import { BOOTSTRAP_MODEL_DIR } from './model.ts';
import { REPO_ROOT } from './stack.ts';

export interface EmbeddedText {
  readonly text: string;
  readonly label: 'POSITIVE' | 'NEGATIVE';
  readonly truth: 'POSITIVE' | 'NEGATIVE';
  readonly embedding: number[];
}

function tsv(path: string): { text: string; label: number }[] {
  return readFileSync(resolve(REPO_ROOT, path), 'utf8')
    .split('\n')
    .slice(1)
    .filter(Boolean)
    .map((line) => {
      const tab = line.lastIndexOf('\t');
      return { text: line.slice(0, tab), label: Number(line.slice(tab + 1)) };
    });
}

/**
 * In-domain traffic: SST-2 train rows that are not in the reference sample (the sample is
 * what thresholds are calibrated on), every `stride`-th one so the set spans the file.
 */
export function inDomainTexts(count: number, stride = 13): { text: string; label: number }[] {
  const reference = JSON.parse(
    readFileSync(resolve(BOOTSTRAP_MODEL_DIR, 'reference.json'), 'utf8'),
  ) as { sample: { rows: { text_index: number }[] } };
  const inSample = new Set(reference.sample.rows.map((row) => row.text_index));
  const rows = tsv('data/sst2/train.tsv');
  const picked: { text: string; label: number }[] = [];
  for (let i = 0; i < rows.length && picked.length < count; i += stride) {
    if (!inSample.has(i)) picked.push(rows[i]!);
  }
  return picked;
}

/** Shifted domain: the hand-written product and restaurant reviews (data/drift). */
export function productReviewTexts(): { text: string; label: number }[] {
  return tsv('data/drift/product-reviews.tsv');
}

export async function embedTexts(
  texts: readonly { text: string; label: number }[],
): Promise<EmbeddedText[]> {
  const engine = await SentimentEngine.load(BOOTSTRAP_MODEL_DIR);
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
