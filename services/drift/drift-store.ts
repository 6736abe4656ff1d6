/**
 * What the drift detector reads from and writes to ClickHouse: the latest window of a model
 * version's predictions (by count or by time, globally or for one source), and one
 * `drift_checks` row per evaluation. SQL valid on 18.16 and current servers.
 *
 * Window by count, in two steps, so that a table of millions of rows is never read whole:
 *   1. the event time of the W-th newest prediction, reading only the two time columns of
 *      that model version (the sorting key starts with model name, version, event time);
 *   2. the rows from that time on, narrowed by the primary key, de-duplicated by event id
 *      (a redelivered prediction counts once), newest W.
 */
import { type ClickHouseClient, type DriftCheckRow, literal } from '#platform/store';

export interface WindowRow {
  readonly eventId: string;
  readonly eventTimeMs: number;
  readonly source: string;
  readonly label: string;
  readonly groundTruth: string | null;
  readonly embedding: Float32Array;
}

export type WindowSpec =
  | { readonly kind: 'count'; readonly size: number }
  | { readonly kind: 'time'; readonly durationMs: number; readonly maxRows: number };

export interface WindowQuery {
  readonly modelName: string;
  readonly modelVersion: string;
  readonly window: WindowSpec;
  /** One source (a segment), or all sources when absent. */
  readonly source?: string;
  /** Now, for time windows (ms since the epoch). */
  readonly nowMs?: number;
}

interface RawWindowRow {
  event_id: string;
  event_time_ms: string | number;
  source: string;
  label: string;
  ground_truth: string | null;
  embedding: number[];
}

function scope(query: WindowQuery): string {
  return [
    `model_name = ${literal(query.modelName)}`,
    `model_version = ${literal(query.modelVersion)}`,
    ...(query.source === undefined ? [] : [`source = ${literal(query.source)}`]),
  ].join(' AND ');
}

async function rows<T>(client: ClickHouseClient, query: string): Promise<T[]> {
  const result = await client.query({ query, format: 'JSONEachRow' });
  return result.json<T>();
}

/** Oldest event time (ms) a window may start at, or null when there are no rows. */
async function windowStartMs(client: ClickHouseClient, query: WindowQuery): Promise<number | null> {
  if (query.window.kind === 'time') return (query.nowMs ?? Date.now()) - query.window.durationMs;
  const found = await rows<{ event_time_ms: string | number }>(
    client,
    `SELECT event_time_ms FROM predictions WHERE ${scope(query)}
     ORDER BY event_time DESC, event_time_ms DESC LIMIT 1 OFFSET ${query.window.size - 1}`,
  );
  if (found[0]) return Number(found[0].event_time_ms);
  // Fewer than W rows: the whole (short) history is the window.
  const oldest = await rows<{ t: string | number; n: string | number }>(
    client,
    `SELECT min(event_time_ms) AS t, count() AS n FROM predictions WHERE ${scope(query)}`,
  );
  return oldest[0] && Number(oldest[0].n) > 0 ? Number(oldest[0].t) : null;
}

/** The newest window of predictions, newest first (see the module comment). */
export async function readWindow(
  client: ClickHouseClient,
  query: WindowQuery,
): Promise<WindowRow[]> {
  const start = await windowStartMs(client, query);
  if (start === null) return [];
  const limit = query.window.kind === 'count' ? query.window.size : query.window.maxRows;
  const found = await rows<RawWindowRow>(
    client,
    `SELECT event_id, event_time_ms, source, label, ground_truth, embedding
     FROM predictions
     WHERE ${scope(query)}
       AND event_time >= toDateTime(${Math.floor(start / 1000)})
       AND event_time_ms >= ${start}
     ORDER BY event_time_ms DESC, event_id
     LIMIT 1 BY event_id
     LIMIT ${limit}`,
  );
  return found.map((row) => ({
    eventId: row.event_id,
    eventTimeMs: Number(row.event_time_ms),
    source: row.source,
    label: row.label,
    groundTruth: row.ground_truth,
    embedding: Float32Array.from(row.embedding),
  }));
}

/** Rows stored for a model version (read from the primary key range; the schedule's counter). */
export async function countPredictions(
  client: ClickHouseClient,
  modelName: string,
  modelVersion: string,
): Promise<number> {
  const found = await rows<{ n: string | number }>(
    client,
    `SELECT count() AS n FROM predictions
     WHERE ${scope({ modelName, modelVersion, window: { kind: 'count', size: 1 } })}`,
  );
  return Number(found[0]?.n ?? 0);
}

/** Sources with at least `minRows` predictions among the newest `lookback` of a version. */
export async function activeSources(
  client: ClickHouseClient,
  modelName: string,
  modelVersion: string,
  lookback: number,
  minRows: number,
): Promise<string[]> {
  const found = await rows<{ source: string }>(
    client,
    `SELECT source FROM
       (SELECT source FROM predictions
        WHERE ${scope({ modelName, modelVersion, window: { kind: 'count', size: 1 } })}
        ORDER BY event_time DESC, event_time_ms DESC LIMIT ${lookback})
     GROUP BY source HAVING count() >= ${minRows} ORDER BY source`,
  );
  return found.map((row) => row.source);
}

/** Non-finite numbers (an evaluation that failed) are stored as 0 with the error set. */
const finite = (value: number) => (Number.isFinite(value) ? value : 0);

export async function insertDriftChecks(
  client: ClickHouseClient,
  checks: readonly DriftCheckRow[],
): Promise<void> {
  if (checks.length === 0) return;
  await client.insert({
    table: 'drift_checks',
    format: 'JSONEachRow',
    values: checks.map((check) => ({
      check_id: check.checkId,
      check_time: Math.floor(check.checkTimeMs / 1000),
      check_time_ms: check.checkTimeMs,
      model_name: check.modelName,
      model_version: check.modelVersion,
      segment: check.segment,
      window_start: Math.floor(check.windowStartMs / 1000),
      window_end: Math.floor(check.windowEndMs / 1000),
      window_size: check.windowSize,
      input_distance: finite(check.inputDistance),
      input_threshold: finite(check.inputThreshold),
      domain_auc: check.domainAuc === null ? null : finite(check.domainAuc),
      domain_auc_threshold:
        check.domainAucThreshold === null ? null : finite(check.domainAucThreshold),
      class_mix_distance: finite(check.classMixDistance),
      class_mix_threshold: finite(check.classMixThreshold),
      positive_share: finite(check.positiveShare),
      reference_positive_share: finite(check.referencePositiveShare),
      input_state: check.inputState,
      prediction_state: check.predictionState,
      error: check.error,
      episode_id: check.episodeId ?? null,
    })),
  });
}

export interface LatestCheck {
  readonly segment: string;
  readonly inputState: string;
  readonly predictionState: string;
  readonly episodeId: string | null;
  readonly checkTimeMs: number;
}

/** The newest check of each segment of a model version (where a new leader resumes from). */
export async function latestChecks(
  client: ClickHouseClient,
  modelName: string,
  modelVersion: string,
): Promise<LatestCheck[]> {
  const found = await rows<{
    segment: string;
    input_state: string;
    prediction_state: string;
    episode_id: string | null;
    check_time_ms: string | number;
  }>(
    client,
    `SELECT segment, input_state, prediction_state, episode_id, check_time_ms FROM drift_checks
     WHERE model_name = ${literal(modelName)} AND model_version = ${literal(modelVersion)}
     ORDER BY check_time_ms DESC LIMIT 1 BY segment`,
  );
  return found.map((row) => ({
    segment: row.segment,
    inputState: row.input_state,
    predictionState: row.prediction_state,
    episodeId: row.episode_id,
    checkTimeMs: Number(row.check_time_ms),
  }));
}
