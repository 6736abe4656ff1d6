/**
 * The logger's batch handler: Prediction events -> rows, validated (a row ClickHouse would
 * store wrongly, such as an embedding of the wrong dimension, is rejected to the DLQ), then
 * inserted through the shared InsertBatcher; resolves once they are durable.
 */
import { InvalidMessageError } from '#shared/common';
import type { BatchHandler, Rejection } from '#shared/runner';
import type { Prediction } from '#shared/serde';
import { type PredictionRow, toPredictionRow } from '#shared/store';

export interface PredictionHandlerDeps {
  readonly store: (rows: readonly PredictionRow[]) => Promise<void>;
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
  if (prediction.embedding.some((value) => !Number.isFinite(value))) {
    return new InvalidMessageError('EMBEDDING_NOT_FINITE', 'embedding contains NaN or infinity');
  }
  return undefined;
}

export function createPredictionHandler(deps: PredictionHandlerDeps): BatchHandler<Prediction> {
  const now = deps.now ?? Date.now;
  return async (events) => {
    const rejected: Rejection<Prediction>[] = [];
    const rows: PredictionRow[] = [];
    const ingest = now();
    for (const event of events) {
      const problem = checkPrediction(event.event, deps.embeddingDimension);
      if (problem) rejected.push({ event, error: problem });
      else rows.push(toPredictionRow(event.event, event, ingest));
    }
    await deps.store(rows);
    deps.onStored?.(rows.length);
    return { rejected };
  };
}
