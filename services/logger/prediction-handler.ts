/**
 * The logger's batch handler: Prediction events -> rows, validated (a row ClickHouse would
 * store wrongly, such as an embedding of the wrong dimension, or one whose values do not fit
 * their columns, is rejected to the DLQ with the reason), encoded in RowBinary as one chunk
 * per batch, then stored through the shared InsertBatcher; resolves once they are durable.
 */
import { InvalidMessageError } from '#shared/common';
import type { BatchHandler, Rejection } from '#shared/runner';
import type { Prediction } from '#shared/serde';
import {
  RowBinaryWriter,
  RowEncodingError,
  toPredictionRow,
  writePredictionRow,
} from '#shared/store';

/** Bytes of one 128-value prediction row, about: sizes the batch's buffer up front. */
const ROW_BYTES_ESTIMATE = 800;

export interface PredictionHandlerDeps {
  /** Stores `rows` rows encoded in RowBinary (PREDICTION_COLUMNS); resolves once durable. */
  readonly store: (chunk: Buffer, rows: number) => Promise<void>;
  readonly embeddingDimension: number;
  readonly now?: () => number;
  readonly onStored?: (rows: number) => void;
}

export function checkPrediction(
  prediction: Prediction,
  embeddingDimension: number,
): InvalidMessageError | undefined {
  if (prediction.embedding.length !== embeddingDimension) {
    return new InvalidMessageError(
      'EMBEDDING_DIMENSION',
      `embedding has ${prediction.embedding.length} values, the table stores ${embeddingDimension}`,
    );
  }
  const { embedding } = prediction;
  for (let i = 0; i < embedding.length; i++) {
    if (!Number.isFinite(embedding[i])) {
      return new InvalidMessageError('EMBEDDING_NOT_FINITE', 'embedding contains NaN or infinity');
    }
  }
  return undefined;
}

export function createPredictionHandler(deps: PredictionHandlerDeps): BatchHandler<Prediction> {
  const now = deps.now ?? Date.now;
  return async (events) => {
    const rejected: Rejection<Prediction>[] = [];
    const writer = new RowBinaryWriter(events.length * ROW_BYTES_ESTIMATE);
    const ingest = now();
    for (const event of events) {
      const problem = checkPrediction(event.event, deps.embeddingDimension);
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
