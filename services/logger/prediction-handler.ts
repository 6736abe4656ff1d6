/**
 * The logger's batch handler: Prediction events -> rows, validated (a row ClickHouse would
 * store wrongly, such as an embedding of the wrong dimension, or one whose values do not fit
 * their columns, is rejected to the DLQ with the reason), encoded in RowBinary as one chunk
 * per batch, then stored through the shared InsertBatcher; resolves once they are durable.
 * One handler per topic: `predictions` takes served predictions only (STREAM, SYNC), and
 * `predictions.shadow` only SHADOW ones with `shadowOf`; one on the wrong topic is rejected
 * (PREDICTION_ORIGIN_MISPLACED), so the table never counts a shadow answer as served.
 */
import { InvalidMessageError } from '#platform/common';
import type { BatchHandler, Rejection } from '#platform/runner';
import type { Prediction } from '#platform/serde';
import {
  RowBinaryWriter,
  RowEncodingError,
  toPredictionRow,
  writePredictionRow,
} from '#platform/store';

/** Bytes of one prediction row besides its embedding, about: sizes the batch's buffer. */
const ROW_BYTES_ESTIMATE = 300;

/**
 * The embedding width of each model version, as its predictions carry it. The table stores any
 * width (Array(Float32)); what is checked is that a version's embeddings all have the width
 * its first stored prediction had (the width of the model's [CLS] output: 384 for the
 * production model, 128 for the compact one), so a window of one version never mixes widths.
 * In memory: after a restart the first prediction of a version sets it again.
 */
export class EmbeddingWidths {
  private readonly widths = new Map<string, number>();

  constructor(readonly maxWidth: number) {}

  /** The width a version's embeddings must have, recording `width` for a version seen first. */
  expect(modelName: string, modelVersion: string, width: number): number {
    const key = `${modelName}\u0000${modelVersion}`;
    const known = this.widths.get(key);
    if (known !== undefined) return known;
    if (width >= 1 && width <= this.maxWidth) this.widths.set(key, width);
    return width;
  }
}

export interface PredictionHandlerDeps {
  /** Stores `rows` rows encoded in RowBinary (PREDICTION_COLUMNS); resolves once durable. */
  readonly store: (chunk: Buffer, rows: number) => Promise<void>;
  readonly embeddingWidths: EmbeddingWidths;
  /** Which topic this handler consumes: `predictions` (served) or `predictions.shadow`. */
  readonly topic: 'predictions' | 'predictions.shadow';
  readonly now?: () => number;
  readonly onStored?: (rows: number) => void;
}

export function checkPrediction(
  prediction: Prediction,
  widths: EmbeddingWidths,
): InvalidMessageError | undefined {
  const { embedding } = prediction;
  if (embedding.length < 1 || embedding.length > widths.maxWidth) {
    return new InvalidMessageError(
      'EMBEDDING_DIMENSION',
      `embedding has ${embedding.length} values; 1 to ${widths.maxWidth} are stored`,
    );
  }
  const expected = widths.expect(prediction.modelName, prediction.modelVersion, embedding.length);
  if (embedding.length !== expected) {
    return new InvalidMessageError(
      'EMBEDDING_DIMENSION',
      `embedding has ${embedding.length} values, earlier predictions of ` +
        `${prediction.modelName} ${prediction.modelVersion} had ${expected}`,
    );
  }
  for (let i = 0; i < embedding.length; i++) {
    if (!Number.isFinite(embedding[i])) {
      return new InvalidMessageError('EMBEDDING_NOT_FINITE', 'embedding contains NaN or infinity');
    }
  }
  return undefined;
}

/** A prediction whose origin does not belong on `topic` (see the module doc). */
export function checkOrigin(
  prediction: Prediction,
  topic: PredictionHandlerDeps['topic'],
): InvalidMessageError | undefined {
  const shadow = prediction.origin === 'SHADOW';
  if (topic === 'predictions.shadow' && !(shadow && prediction.shadowOf)) {
    return new InvalidMessageError(
      'PREDICTION_ORIGIN_MISPLACED',
      `predictions.shadow holds SHADOW predictions with shadowOf; got origin ${prediction.origin}` +
        `${shadow ? ' without shadowOf' : ''}`,
    );
  }
  if (topic === 'predictions' && shadow) {
    return new InvalidMessageError(
      'PREDICTION_ORIGIN_MISPLACED',
      'predictions holds served predictions; SHADOW ones belong on predictions.shadow',
    );
  }
  return undefined;
}

export function createPredictionHandler(deps: PredictionHandlerDeps): BatchHandler<Prediction> {
  const now = deps.now ?? Date.now;
  return async (events) => {
    const rejected: Rejection<Prediction>[] = [];
    const writer = new RowBinaryWriter(
      events.reduce((bytes, e) => bytes + ROW_BYTES_ESTIMATE + 4 * e.event.embedding.length, 0),
    );
    const ingest = now();
    for (const event of events) {
      const problem =
        checkOrigin(event.event, deps.topic) ?? checkPrediction(event.event, deps.embeddingWidths);
      if (problem) {
        rejected.push({ event, error: problem });
        continue;
      }
      try {
        writePredictionRow(writer, toPredictionRow(event.event, event, ingest));
      } catch (error) {
        if (!(error instanceof RowEncodingError)) throw error;
        rejected.push({ event, error });
      }
    }
    await deps.store(writer.toBuffer(), writer.rows);
    deps.onStored?.(writer.rows);
    return { rejected };
  };
}
