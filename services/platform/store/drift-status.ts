/**
 * The current drift state for operators (`mlops drift status`): the newest `drift_checks` row
 * of each model, version and segment. SQL valid on ClickHouse 18.16 and current servers: the
 * newest check time per key in a subquery that reads only the key columns, then the rows at
 * that time, de-duplicated (a check written twice, or two checks in the same millisecond,
 * show once).
 */
import type { ClickHouseClient } from './clickhouse.ts';
import { literal } from './sql.ts';

/** One `drift_checks` row: one evaluation of a model version and segment (written by the drift service). */
export interface DriftCheckRow {
  readonly checkId: string;
  readonly checkTimeMs: number;
  readonly modelName: string;
  readonly modelVersion: string;
  readonly segment: string;
  readonly windowStartMs: number;
  readonly windowEndMs: number;
  readonly windowSize: number;
  readonly inputDistance: number;
  readonly inputThreshold: number;
  readonly domainAuc: number | null;
  readonly domainAucThreshold: number | null;
  readonly classMixDistance: number;
  readonly classMixThreshold: number;
  readonly positiveShare: number;
  readonly referencePositiveShare: number;
  readonly inputState: string;
  readonly predictionState: string;
  readonly error: string | null;
  /** Drift episode (set while the segment is in DRIFT; column of migration 0005). */
  readonly episodeId?: string | null;
}

/** The newest check of one model version and segment. */
export interface DriftStatusRow extends DriftCheckRow {
  readonly episodeId: string | null;
}

export interface DriftStatusQuery {
  /** One model, or every model when absent. */
  readonly modelName?: string;
}

interface RawStatusRow {
  check_id: string;
  check_time_ms: string | number;
  model_name: string;
  model_version: string;
  segment: string;
  window_start_s: string | number;
  window_end_s: string | number;
  window_size: string | number;
  input_distance: number;
  input_threshold: number;
  domain_auc: number | null;
  domain_auc_threshold: number | null;
  class_mix_distance: number;
  class_mix_threshold: number;
  positive_share: number;
  reference_positive_share: number;
  input_state: string;
  prediction_state: string;
  error: string | null;
  episode_id: string | null;
}

/** SQL of the latest check per model, version and segment (exported for tests and docs). */
export function latestDriftChecksSql(query: DriftStatusQuery = {}): string {
  const where =
    query.modelName === undefined ? '' : `WHERE model_name = ${literal(query.modelName)}`;
  return `SELECT check_id, check_time_ms, model_name, model_version, segment,
       toUInt32(window_start) AS window_start_s, toUInt32(window_end) AS window_end_s,
       window_size, input_distance, input_threshold, domain_auc, domain_auc_threshold,
       class_mix_distance, class_mix_threshold, positive_share, reference_positive_share,
       input_state, prediction_state, error, episode_id
FROM drift_checks
WHERE (model_name, model_version, segment, check_time_ms) IN
  (SELECT model_name, model_version, segment, max(check_time_ms)
   FROM drift_checks ${where}
   GROUP BY model_name, model_version, segment)
ORDER BY model_name, model_version, segment, check_id DESC
LIMIT 1 BY model_name, model_version, segment`;
}

/** The newest check of each model version and segment, ordered by model, version, segment. */
export async function latestDriftChecks(
  client: ClickHouseClient,
  query: DriftStatusQuery = {},
): Promise<DriftStatusRow[]> {
  const result = await client.query({ query: latestDriftChecksSql(query), format: 'JSONEachRow' });
  const rows = await result.json<RawStatusRow>();
  return rows.map((row) => ({
    checkId: row.check_id,
    checkTimeMs: Number(row.check_time_ms),
    modelName: row.model_name,
    modelVersion: row.model_version,
    segment: row.segment,
    windowStartMs: Number(row.window_start_s) * 1000,
    windowEndMs: Number(row.window_end_s) * 1000,
    windowSize: Number(row.window_size),
    inputDistance: row.input_distance,
    inputThreshold: row.input_threshold,
    domainAuc: row.domain_auc,
    domainAucThreshold: row.domain_auc_threshold,
    classMixDistance: row.class_mix_distance,
    classMixThreshold: row.class_mix_threshold,
    positiveShare: row.positive_share,
    referencePositiveShare: row.reference_positive_share,
    inputState: row.input_state,
    predictionState: row.prediction_state,
    error: row.error,
    episodeId: row.episode_id,
  }));
}
