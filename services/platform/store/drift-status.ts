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

const STATUS_COLUMNS = `check_id, check_time_ms, model_name, model_version, segment,
       toUInt32(window_start) AS window_start_s, toUInt32(window_end) AS window_end_s,
       window_size, input_distance, input_threshold, domain_auc, domain_auc_threshold,
       class_mix_distance, class_mix_threshold, positive_share, reference_positive_share,
       input_state, prediction_state, error, episode_id`;

/** SQL of the latest check per model, version and segment (exported for tests and docs). */
export function latestDriftChecksSql(query: DriftStatusQuery = {}): string {
  const where =
    query.modelName === undefined ? '' : `WHERE model_name = ${literal(query.modelName)}`;
  return `SELECT ${STATUS_COLUMNS}
FROM drift_checks
WHERE (model_name, model_version, segment, check_time_ms) IN
  (SELECT model_name, model_version, segment, max(check_time_ms)
   FROM drift_checks ${where}
   GROUP BY model_name, model_version, segment)
ORDER BY model_name, model_version, segment, check_id DESC
LIMIT 1 BY model_name, model_version, segment`;
}

function statusRowOf(row: RawStatusRow): DriftStatusRow {
  return {
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
  };
}

async function statusRows(client: ClickHouseClient, query: string): Promise<DriftStatusRow[]> {
  const result = await client.query({ query, format: 'JSONEachRow' });
  return (await result.json<RawStatusRow>()).map(statusRowOf);
}

/** The newest check of each model version and segment, ordered by model, version, segment. */
export async function latestDriftChecks(
  client: ClickHouseClient,
  query: DriftStatusQuery = {},
): Promise<DriftStatusRow[]> {
  return statusRows(client, latestDriftChecksSql(query));
}

export interface DriftHistoryQuery {
  readonly modelName: string;
  /** Checks at or after this time (ms). */
  readonly sinceMs: number;
  /** At most this many checks, the newest; default 5,000. */
  readonly limit?: number;
}

/** SQL of a model's checks since a time, newest first, each check once (exported for tests). */
export function driftHistorySql(query: DriftHistoryQuery): string {
  // check_time (seconds) narrows by the table's sort key before the exact millisecond filter.
  return `SELECT ${STATUS_COLUMNS}
FROM drift_checks
WHERE model_name = ${literal(query.modelName)}
  AND check_time >= toDateTime(${Math.floor(query.sinceMs / 1000)})
  AND check_time_ms >= ${Math.floor(query.sinceMs)}
ORDER BY check_time_ms DESC, check_id
LIMIT 1 BY check_id
LIMIT ${Math.max(1, Math.floor(query.limit ?? 5_000))}`;
}

/**
 * A model's drift checks since a time, oldest first (what the console plots: statistic against
 * threshold over time, and the state timeline). A check written twice appears once.
 */
export async function driftCheckHistory(
  client: ClickHouseClient,
  query: DriftHistoryQuery,
): Promise<DriftStatusRow[]> {
  return (await statusRows(client, driftHistorySql(query))).reverse();
}

/** One drift episode of a model version and segment: the checks that carried its id. */
export interface DriftEpisode {
  readonly episodeId: string;
  readonly modelVersion: string;
  readonly segment: string;
  /** Its first check in DRIFT. */
  readonly startMs: number;
  /** Its last check; null while the segment's newest check still carries the episode (open). */
  readonly endMs: number | null;
  readonly checks: number;
  /** Largest input distance seen in the episode. */
  readonly peakInputDistance: number;
}

/** SQL of a model's drift episodes, newest first (exported for tests). */
export function driftEpisodesSql(modelName: string, limit = 200): string {
  return `SELECT episode_id, model_version, segment, min(check_time_ms) AS start_ms,
       max(check_time_ms) AS last_ms, uniqExact(check_id) AS checks,
       max(input_distance) AS peak_input_distance
FROM drift_checks
WHERE model_name = ${literal(modelName)} AND isNotNull(episode_id)
GROUP BY episode_id, model_version, segment
ORDER BY start_ms DESC
LIMIT ${Math.max(1, Math.floor(limit))}`;
}

/**
 * A model's drift episodes, newest first. An episode is open while its segment's newest check
 * carries its id (the detector sets the id while the segment is in DRIFT and clears it after).
 */
export async function driftEpisodes(
  client: ClickHouseClient,
  modelName: string,
): Promise<DriftEpisode[]> {
  const result = await client.query({ query: driftEpisodesSql(modelName), format: 'JSONEachRow' });
  const found = await result.json<{
    episode_id: string;
    model_version: string;
    segment: string;
    start_ms: string | number;
    last_ms: string | number;
    checks: string | number;
    peak_input_distance: number;
  }>();
  if (found.length === 0) return [];
  const latest = await latestDriftChecks(client, { modelName });
  const open = new Set(
    latest.filter((check) => check.episodeId !== null).map((check) => check.episodeId),
  );
  return found.map((row) => ({
    episodeId: row.episode_id,
    modelVersion: row.model_version,
    segment: row.segment,
    startMs: Number(row.start_ms),
    endMs: open.has(row.episode_id) ? null : Number(row.last_ms),
    checks: Number(row.checks),
    peakInputDistance: row.peak_input_distance,
  }));
}
