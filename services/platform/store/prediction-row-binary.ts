/** Rows of the `predictions` table in RowBinary (pure): the column list and one row's bytes. */
import type { PredictionRow } from './predictions.ts';
import type { RowBinaryWriter } from './row-binary.ts';

/** The columns `writePredictionRow` writes, in its order (name them in the INSERT). */
export const PREDICTION_COLUMNS = [
  'event_id',
  'review_id',
  'review_event_id',
  'origin',
  'source',
  'text',
  'model_name',
  'model_version',
  'label',
  'probabilities',
  'confidence',
  'embedding',
  'latency_ms',
  'truncated',
  'ground_truth',
  'event_time',
  'event_time_ms',
  'ingest_time',
  'scored_at',
  'scored_at_ms',
  'shadow_of',
  'schema_id',
  'kafka_partition',
  'kafka_offset',
] as const satisfies readonly (keyof PredictionRow)[];

/** Appends one row; throws RowEncodingError (and writes nothing) when a value does not fit. */
export function writePredictionRow(writer: RowBinaryWriter, row: PredictionRow): void {
  writer.row((w) => {
    w.string('event_id', row.event_id);
    w.string('review_id', row.review_id);
    w.nullableString('review_event_id', row.review_event_id);
    w.string('origin', row.origin);
    w.string('source', row.source);
    w.string('text', row.text);
    w.string('model_name', row.model_name);
    w.string('model_version', row.model_version);
    w.string('label', row.label);
    w.float32Array('probabilities', row.probabilities);
    w.float32('confidence', row.confidence);
    w.float32Array('embedding', row.embedding);
    w.float64('latency_ms', row.latency_ms);
    w.uint8('truncated', row.truncated);
    w.nullableString('ground_truth', row.ground_truth);
    w.dateTime('event_time', row.event_time);
    w.uint64('event_time_ms', row.event_time_ms);
    w.dateTime('ingest_time', row.ingest_time);
    w.dateTime('scored_at', row.scored_at);
    w.uint64('scored_at_ms', row.scored_at_ms);
    w.nullableString('shadow_of', row.shadow_of);
    w.uint32('schema_id', row.schema_id);
    w.uint32('kafka_partition', row.kafka_partition);
    w.uint64('kafka_offset', row.kafka_offset);
  });
}
