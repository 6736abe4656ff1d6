/**
 * The live evidence of a candidate, read from the `predictions` table (migration 0007): what
 * the promoter's live gate decides on, and what `mlops registry live` and the console show.
 * One reader for all three, so they show the figures the gate used.
 *
 *   - Shadow pairs: each SHADOW row of the candidate joined with production's prediction of the
 *     same review or request (`shadow_of` = production's `event_id`), with production's ground
 *     truth (null while the review is unlabelled). One pair per production event, however often
 *     Kafka redelivered either side.
 *   - Served labelled predictions (a canary and production each answer their own share): the
 *     labelled predictions a version served (origin STREAM or SYNC), one per event.
 *
 * Times are scoring times (`scored_at_ms`): a backlog of old reviews scored after the trial
 * began is evidence of the trial; its reviews' own event times may be older. SQL valid on
 * ClickHouse 18.16 and current (a join by USING of aliased subqueries).
 */
import type { ClickHouseClient } from './clickhouse.ts';
import { literal } from './sql.ts';

/** Slack on production's side of the join: its copy of a pair was scored just before. */
const PAIR_SLACK_MS = 10 * 60_000;

export interface ShadowPairsQuery {
  readonly modelName: string;
  readonly productionVersion: string;
  readonly candidateVersion: string;
  /** Pairs whose shadow prediction was scored from this time on (ms): the trial's start. */
  readonly sinceMs: number;
  /** Newest pairs first, at most this many. */
  readonly maxRows: number;
}

export interface ShadowPair {
  /** Production's prediction event id (the pair's id). */
  readonly eventId: string;
  readonly production: string;
  readonly candidate: string;
  /** 'POSITIVE' | 'NEGATIVE', or null while the review has no label. */
  readonly groundTruth: string | null;
}

const scoredSince = (sinceMs: number) =>
  `scored_at >= toDateTime(${Math.max(0, Math.floor(sinceMs / 1000))}) AND scored_at_ms >= ${Math.max(0, Math.floor(sinceMs))}`;

export async function readShadowPairs(
  client: ClickHouseClient,
  query: ShadowPairsQuery,
): Promise<ShadowPair[]> {
  const model = literal(query.modelName);
  const result = await client.query({
    query: `SELECT pair_id, production_label, candidate_label, truth
      FROM
      (
        SELECT assumeNotNull(shadow_of) AS pair_id, label AS candidate_label, scored_at_ms
        FROM predictions
        WHERE model_name = ${model} AND model_version = ${literal(query.candidateVersion)}
          AND origin = 'SHADOW' AND isNotNull(shadow_of) AND ${scoredSince(query.sinceMs)}
        ORDER BY scored_at_ms DESC
        LIMIT 1 BY pair_id
      ) AS shadow
      ANY INNER JOIN
      (
        SELECT event_id AS pair_id, label AS production_label, ground_truth AS truth
        FROM predictions
        WHERE model_name = ${model} AND model_version = ${literal(query.productionVersion)}
          AND origin != 'SHADOW' AND ${scoredSince(query.sinceMs - PAIR_SLACK_MS)}
        LIMIT 1 BY pair_id
      ) AS served USING (pair_id)
      ORDER BY scored_at_ms DESC, pair_id
      LIMIT ${Math.max(1, Math.floor(query.maxRows))}`,
    format: 'JSONEachRow',
  });
  const rows = await result.json<{
    pair_id: string;
    production_label: string;
    candidate_label: string;
    truth: string | null;
  }>();
  return rows.map((row) => ({
    eventId: row.pair_id,
    production: row.production_label,
    candidate: row.candidate_label,
    groundTruth: row.truth,
  }));
}

export interface ServedLabelledQuery {
  readonly modelName: string;
  readonly version: string;
  readonly sinceMs: number;
  readonly maxRows: number;
}

export interface ServedLabelled {
  readonly eventId: string;
  readonly label: string;
  readonly groundTruth: string;
}

/** Labelled predictions `version` served (STREAM or SYNC) since `sinceMs`, newest first. */
export async function readServedLabelled(
  client: ClickHouseClient,
  query: ServedLabelledQuery,
): Promise<ServedLabelled[]> {
  const result = await client.query({
    query: `SELECT event_id, label, assumeNotNull(ground_truth) AS truth
      FROM predictions
      WHERE model_name = ${literal(query.modelName)} AND model_version = ${literal(query.version)}
        AND origin != 'SHADOW' AND isNotNull(ground_truth) AND ${scoredSince(query.sinceMs)}
      ORDER BY scored_at_ms DESC
      LIMIT 1 BY event_id
      LIMIT ${Math.max(1, Math.floor(query.maxRows))}`,
    format: 'JSONEachRow',
  });
  const rows = await result.json<{ event_id: string; label: string; truth: string }>();
  return rows.map((row) => ({ eventId: row.event_id, label: row.label, groundTruth: row.truth }));
}
