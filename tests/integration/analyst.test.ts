/**
 * Analyst access: the views of migration 0004 and every example query of docs/analysts.md,
 * run as the read-only `analyst` user against rows inserted here (two model versions, two
 * sources, with and without ground truth, redeliveries), with the key numbers recomputed in
 * TypeScript; and the analyst's writes, DDL and settings refused with the data unchanged.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '#platform/common';
import { type PredictionRow, createClickHouse, migrate } from '#platform/store';
import { documentedQueries } from '../support/analyst-docs.ts';
import { REPO_ROOT, clickhouseUrl } from '../support/stack.ts';

const run = randomUUID().slice(0, 8);
const database = `analyst_${run}`;
const ANALYST_PASSWORD = process.env.CLICKHOUSE_ANALYST_PASSWORD ?? 'analyst';
const MODEL = 'sentiment';
const DIM = 8;
const HOUR_MS = 3_600_000;

type Label = 'POSITIVE' | 'NEGATIVE';
type Json = Record<string, unknown>;

/** Deterministic pseudo-random numbers (the same data set every run, except the times). */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

/** 'YYYY-MM-DD hh:mm:ss' in UTC, as ClickHouse prints a DateTime (the servers run in UTC). */
function dateTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19).replace('T', ' ');
}

function startOfHour(ms: number): number {
  return Math.floor(ms / HOUR_MS) * HOUR_MS;
}

function cosineDistance(a: readonly number[], b: readonly number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return 1 - dot / (Math.sqrt(na) * Math.sqrt(nb));
}

function mean(values: readonly number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

/** Groups rows by a key; Map keeps first-seen order. */
function groupBy<T>(rows: readonly T[], key: (row: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const row of rows) {
    const k = key(row);
    const group = groups.get(k);
    if (group) group.push(row);
    else groups.set(k, [row]);
  }
  return groups;
}

interface Confusion {
  labelled: number;
  correct: number;
  tp: number;
  fp: number;
  fn: number;
  tn: number;
  accuracy: number;
  f1: number | null;
}

function confusion(rows: readonly PredictionRow[]): Confusion {
  const labelled = rows.filter((row) => row.ground_truth !== null);
  const count = (label: Label, truth: Label): number =>
    labelled.filter((row) => row.label === label && row.ground_truth === truth).length;
  const tp = count('POSITIVE', 'POSITIVE');
  const fp = count('POSITIVE', 'NEGATIVE');
  const fn = count('NEGATIVE', 'POSITIVE');
  const tn = count('NEGATIVE', 'NEGATIVE');
  return {
    labelled: labelled.length,
    correct: tp + tn,
    tp,
    fp,
    fn,
    tn,
    accuracy: (tp + tn) / labelled.length,
    f1: 2 * tp + fp + fn === 0 ? null : (2 * tp) / (2 * tp + fp + fn),
  };
}

// ---------------------------------------------------------------------------------------------
// The data set. Three whole hours ending with the previous one; version 1 serves the first two,
// version 2 the last two (a canary hour with both), from two sources.

const now = Date.now();
const firstHour = startOfHour(now) - 3 * HOUR_MS;
const random = generator(20_240_501);
const centroids: Record<string, number[]> = {
  '1': Array.from({ length: DIM }, (_, i) => (i % 2 === 0 ? 1 : 0.25)),
  '2': Array.from({ length: DIM }, (_, i) => (i % 3 === 0 ? 0.5 : 1)),
};

function predictionRow(index: number, hour: number, version: '1' | '2'): PredictionRow {
  const eventTimeMs = firstHour + hour * HOUR_MS + Math.floor(random() * (HOUR_MS - 1000));
  const label: Label = random() < 0.55 ? 'POSITIVE' : 'NEGATIVE';
  const other: Label = label === 'POSITIVE' ? 'NEGATIVE' : 'POSITIVE';
  // Two thirds labelled; version 2 is right more often than version 1.
  const truthDraw = random();
  const correctDraw = random();
  const groundTruth: Label | null =
    truthDraw < 2 / 3 ? (correctDraw < (version === '1' ? 0.7 : 0.85) ? label : other) : null;
  const confidence = 0.5 + random() * 0.5;
  const positive = label === 'POSITIVE' ? confidence : 1 - confidence;
  const source = index % 3 === 0 ? 'app' : 'web';
  // A synchronous prediction's time is its scoring time; a review is scored a little later.
  const scoredAtMs = index % 4 === 0 ? eventTimeMs : eventTimeMs + 200 + index * 5;
  return {
    event_id: `${run}-e${index}`,
    review_id: `r${index}`,
    review_event_id: index % 4 === 0 ? null : `${run}-r${index}`,
    origin: index % 4 === 0 ? 'SYNC' : 'STREAM',
    source,
    text: `review number ${index}: ${label === 'POSITIVE' ? 'a lovely film' : 'a dull film'}`,
    model_name: MODEL,
    model_version: version,
    label,
    probabilities: [1 - positive, positive],
    confidence,
    embedding: centroids[version]!.map((c) => c + (random() - 0.5) * 0.8),
    latency_ms: 1 + random() * 9,
    truncated: index % 7 === 0 ? 1 : 0,
    ground_truth: groundTruth,
    event_time: Math.floor(eventTimeMs / 1000),
    event_time_ms: eventTimeMs,
    ingest_time: Math.floor(eventTimeMs / 1000) + 1,
    scored_at: Math.floor(scoredAtMs / 1000),
    scored_at_ms: scoredAtMs,
    shadow_of: null,
    schema_id: 1,
    kafka_partition: index % 3,
    kafka_offset: String(index),
  };
}

const predictions: PredictionRow[] = [];
for (let i = 0; i < 90; i++) {
  const hour = i % 3;
  const version: '1' | '2' = hour === 0 ? '1' : hour === 2 ? '2' : i % 2 === 0 ? '1' : '2';
  predictions.push(predictionRow(i, hour, version));
}
// Version 2 in SHADOW beside version 1 (issue 15): every fifth of version 1's predictions is
// scored by version 2 too, never served (origin SHADOW, shadow_of = the served event's id).
for (const served of predictions.filter((p, i) => p.model_version === '1' && i % 5 === 0)) {
  predictions.push({
    ...served,
    event_id: `${served.event_id}-shadow`,
    origin: 'SHADOW',
    model_version: '2',
    // The better version: right on most labelled reviews, where version 1 was right 70 %.
    label: served.ground_truth !== null && random() < 0.9 ? served.ground_truth : served.label,
    embedding: centroids['2']!.map((c) => c + (random() - 0.5) * 0.8),
    shadow_of: served.event_id,
    kafka_offset: `${20_000 + predictions.length}`,
  });
}
/** Redeliveries: the same events again, scored a minute later and ingested from other offsets. */
const REDELIVERY_DELAY_MS = 60_000;
const redeliveries: PredictionRow[] = predictions
  .filter((_, i) => i % 6 === 1)
  .map((row, i) => ({
    ...row,
    ingest_time: row.ingest_time + REDELIVERY_DELAY_MS / 1000,
    scored_at: row.scored_at + REDELIVERY_DELAY_MS / 1000,
    scored_at_ms: row.scored_at_ms + REDELIVERY_DELAY_MS,
    kafka_offset: String(10_000 + i),
  }));

const REGISTERED_1 = firstHour - 10 * HOUR_MS;
const PROMOTED_1 = firstHour - 9 * HOUR_MS;
const REGISTERED_2 = firstHour + HOUR_MS - 600_000;
const PROMOTED_2 = firstHour + HOUR_MS;

function versionRow(version: string, revision: number, status: string, goldenF1: number): Json {
  return {
    model_name: MODEL,
    version,
    parent_version: version === '1' ? null : '1',
    created_time: Math.floor((version === '1' ? REGISTERED_1 : REGISTERED_2) / 1000),
    artifact_uri: `file:///artifacts/${version}`,
    artifact_sha256: `sha-${version}`,
    training_data: JSON.stringify({ files: [`train-${version}.jsonl`] }),
    training_data_sha256: `data-${version}`,
    metrics: JSON.stringify({
      golden_f1: goldenF1,
      golden_accuracy: goldenF1 - 0.01,
      golden_n: 872,
    }),
    reference_centroid: centroids[version],
    drift_threshold: 0.12,
    drift_calibration: JSON.stringify({ alpha: 0.01 }),
    status,
    note: '',
    revision,
  };
}

const modelVersions: Json[] = [
  versionRow('1', 1, 'REGISTERED', 0.8),
  versionRow('1', 2, 'PROMOTED', 0.8), // newer revision of the same version: this one counts
  versionRow('2', 3, 'PROMOTED', 0.85),
];

function decisionRow(
  id: string,
  timeMs: number,
  decision: string,
  candidate: string,
  before: string | null,
  after: string | null,
): Json {
  return {
    decision_id: id,
    decision_time: Math.floor(timeMs / 1000),
    decision_time_ms: timeMs,
    model_name: MODEL,
    actor: 'it',
    decision,
    candidate_version: candidate,
    production_before: before,
    production_after: after,
    candidate_score: decision === 'REGISTERED' ? null : 0.8,
    production_score: before === null ? null : 0.79,
    reason: `${decision.toLowerCase()} ${candidate}`,
    details: '{}',
  };
}

const decisions: Json[] = [
  decisionRow('d-reg-1', REGISTERED_1, 'REGISTERED', '1', null, null),
  decisionRow('d-pro-1', PROMOTED_1, 'PROMOTED', '1', null, '1'),
  decisionRow('d-reg-2', REGISTERED_2, 'REGISTERED', '2', '1', '1'),
  decisionRow('d-pro-2', PROMOTED_2, 'PROMOTED', '2', '1', '2'),
  // A retried decision: same id, written again a little later.
  decisionRow('d-pro-2', PROMOTED_2 + 1500, 'PROMOTED', '2', '1', '2'),
  decisionRow('d-reg-3', PROMOTED_2 + HOUR_MS, 'REGISTERED', '3', '2', '2'),
  decisionRow('d-blk-3', PROMOTED_2 + HOUR_MS + 60_000, 'BLOCKED', '3', '2', '2'),
];

function driftRow(
  id: string,
  offsetMs: number,
  inputDistance: number,
  domainAuc: number | null,
  classMix: number,
): Json {
  const timeMs = firstHour + offsetMs;
  return {
    check_id: id,
    check_time: Math.floor(timeMs / 1000),
    check_time_ms: timeMs,
    model_name: MODEL,
    model_version: '2',
    segment: '*',
    window_start: Math.floor((timeMs - HOUR_MS) / 1000),
    window_end: Math.floor(timeMs / 1000),
    window_size: 500,
    input_distance: inputDistance,
    input_threshold: 0.12,
    domain_auc: domainAuc,
    domain_auc_threshold: domainAuc === null ? null : 0.7,
    class_mix_distance: classMix,
    class_mix_threshold: 0.1,
    positive_share: 0.55,
    reference_positive_share: 0.5,
    input_state: inputDistance > 0.12 ? 'DRIFT' : 'OK',
    prediction_state: classMix > 0.1 ? 'DRIFT' : 'OK',
    error: null,
  };
}

const driftChecks: Json[] = [
  driftRow('c-1', 2 * HOUR_MS, 0.05, null, 0.02), // fine
  driftRow('c-2', 2 * HOUR_MS + 600_000, 0.2, 0.9, 0.02), // input and domain over
  driftRow('c-2', 2 * HOUR_MS + 600_000, 0.2, 0.9, 0.02), // written twice
  driftRow('c-3', 2 * HOUR_MS + 1_200_000, 0.08, 0.6, 0.3), // class mix over
];

// ---------------------------------------------------------------------------------------------

/** POSTs a body the way `curl -u analyst:… --data-binary` does: plain HTTP, basic auth. */
async function postAsAnalyst(body: string): Promise<string> {
  const response = await fetch(`${clickhouseUrl()}/`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`analyst:${ANALYST_PASSWORD}`).toString('base64')}`,
    },
    body,
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`HTTP ${response.status}: ${text}`);
  return text;
}

async function analystHttp(sql: string): Promise<Json[]> {
  return (JSON.parse(await postAsAnalyst(`${sql}\nFORMAT JSON`)) as { data: Json[] }).data;
}

async function select(client: ClickHouseClient, query: string): Promise<Json[]> {
  const result = await client.query({ query, format: 'JSONEachRow' });
  return result.json<Json>();
}

/** The message of the error `promise` rejects with ('' when it resolves). */
async function failureOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return '';
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

const num = (value: unknown): number => Number(value);

describe('analyst access: views, documented queries, read-only user', () => {
  const settings = {
    clickhouseUrl: clickhouseUrl(),
    clickhouseUser: 'default',
    clickhousePassword: '',
    clickhouseDatabase: database,
  };
  const admin = createClickHouse(settings);
  // Exactly what docs/analysts.md tells a Node user: credentials and nothing else (no
  // settings, no response compression), bound to the project database.
  const analyst = createClient({
    url: clickhouseUrl(),
    username: 'analyst',
    password: ANALYST_PASSWORD,
    database,
    log: { level: ClickHouseLogLevel.OFF },
  });

  beforeAll(async () => {
    await migrate(settings, createLogger('analyst-test', 'warn'));
    const insert = <T>(table: string, values: readonly T[]): Promise<unknown> =>
      admin.insert({ table, values: [...values], format: 'JSONEachRow' });
    await insert('predictions', predictions);
    await insert('predictions', redeliveries);
    await insert('model_versions', modelVersions);
    await insert('promotion_log', decisions);
    await insert('drift_checks', driftChecks);
  });

  afterAll(async () => {
    await analyst.close();
    await admin.command({ query: `DROP DATABASE IF EXISTS ${database}` }).catch(() => undefined);
    await admin.close();
  });

  it('has the redeliveries in the raw table and one row per event in predictions_dedup', async () => {
    const [raw] = await select(admin, 'SELECT count() AS n FROM predictions');
    expect(num(raw!.n)).toBe(predictions.length + redeliveries.length);
    const [dedup] = await select(
      analyst,
      'SELECT count() AS n, uniqExact(event_id) AS ids FROM predictions_dedup',
    );
    expect(num(dedup!.n)).toBe(predictions.length);
    expect(num(dedup!.ids)).toBe(predictions.length);
  });

  it('predictions_hourly: volume, label share and mean confidence per hour, version and source', async () => {
    const rows = await select(
      analyst,
      'SELECT * FROM predictions_hourly ORDER BY hour, model_version, source',
    );
    const groups = groupBy(
      predictions,
      (row) => `${dateTime(startOfHour(row.event_time_ms))}|${row.model_version}|${row.source}`,
    );
    expect(rows).toHaveLength(groups.size);
    for (const row of rows) {
      const group = groups.get(
        `${String(row.hour)}|${String(row.model_version)}|${String(row.source)}`,
      );
      expect(group, JSON.stringify(row)).toBeDefined();
      const positive = group!.filter((p) => p.label === 'POSITIVE').length;
      expect(row.model_name).toBe(MODEL);
      expect(num(row.predictions)).toBe(group!.length);
      expect(num(row.positive)).toBe(positive);
      expect(num(row.negative)).toBe(group!.length - positive);
      expect(num(row.positive_share)).toBeCloseTo(positive / group!.length, 9);
      // Stored as Float32.
      expect(num(row.mean_confidence)).toBeCloseTo(
        mean(group!.map((p) => Math.fround(p.confidence))),
        6,
      );
      expect(num(row.min_confidence)).toBeCloseTo(
        Math.min(...group!.map((p) => Math.fround(p.confidence))),
        6,
      );
      expect(num(row.labelled)).toBe(group!.filter((p) => p.ground_truth !== null).length);
      expect(num(row.truncated_count)).toBe(group!.filter((p) => p.truncated === 1).length);
      expect(num(row.mean_latency_ms)).toBeCloseTo(mean(group!.map((p) => p.latency_ms)), 9);
    }
  });

  it('quality views: accuracy and F1 per version, per version and hour, per version and day', async () => {
    const check = (row: Json, expected: Confusion): void => {
      expect(num(row.labelled)).toBe(expected.labelled);
      expect(num(row.correct)).toBe(expected.correct);
      expect([num(row.tp), num(row.fp), num(row.fn), num(row.tn)]).toEqual([
        expected.tp,
        expected.fp,
        expected.fn,
        expected.tn,
      ]);
      expect(num(row.accuracy)).toBeCloseTo(expected.accuracy, 12);
      if (expected.f1 === null) expect(row.f1).toBeNull();
      else expect(num(row.f1)).toBeCloseTo(expected.f1, 12);
    };

    const byVersion = await select(
      analyst,
      'SELECT * FROM quality_by_version ORDER BY model_version',
    );
    expect(byVersion.map((row) => row.model_version)).toEqual(['1', '2']);
    for (const row of byVersion) {
      const rows = predictions.filter((p) => p.model_version === row.model_version);
      const labelled = rows.filter((p) => p.ground_truth !== null);
      check(row, confusion(rows));
      expect(row.first_event_time).toBe(
        dateTime(Math.min(...labelled.map((p) => p.event_time_ms))),
      );
    }
    // Version 2 was generated to be the better one.
    expect(num(byVersion[1]!.f1)).toBeGreaterThan(num(byVersion[0]!.f1));

    const hourly = await select(
      analyst,
      'SELECT * FROM quality_hourly ORDER BY hour, model_version',
    );
    const hourGroups = groupBy(
      predictions.filter((p) => p.ground_truth !== null),
      (p) => `${dateTime(startOfHour(p.event_time_ms))}|${p.model_version}`,
    );
    expect(hourly).toHaveLength(hourGroups.size);
    for (const row of hourly) {
      const group = hourGroups.get(`${String(row.hour)}|${String(row.model_version)}`);
      expect(group).toBeDefined();
      check(row, confusion(group!));
    }

    const daily = await select(analyst, 'SELECT * FROM quality_daily ORDER BY day, model_version');
    const dayGroups = groupBy(
      predictions.filter((p) => p.ground_truth !== null),
      (p) => `${dateTime(p.event_time_ms).slice(0, 10)}|${p.model_version}`,
    );
    expect(daily).toHaveLength(dayGroups.size);
    for (const row of daily) {
      const group = dayGroups.get(`${String(row.day)}|${String(row.model_version)}`);
      expect(group).toBeDefined();
      check(row, confusion(group!));
    }
  });

  it('registry views: newest revision, one row per decision, timeline, production periods', async () => {
    const versions = await select(
      analyst,
      'SELECT version, status, golden_f1, revision, centroid_dimensions FROM model_versions_latest ORDER BY version',
    );
    expect(versions).toEqual([
      { version: '1', status: 'PROMOTED', golden_f1: 0.8, revision: '2', centroid_dimensions: '8' },
      {
        version: '2',
        status: 'PROMOTED',
        golden_f1: 0.85,
        revision: '3',
        centroid_dimensions: '8',
      },
    ]);

    const [log] = await select(analyst, 'SELECT count() AS n FROM promotion_log_dedup');
    expect(num(log!.n)).toBe(new Set(decisions.map((d) => d.decision_id)).size);

    const timeline = await select(
      analyst,
      'SELECT * FROM model_timeline ORDER BY decision_time_ms, decision_id',
    );
    expect(timeline.map((row) => `${String(row.decision)} ${String(row.version)}`)).toEqual([
      'REGISTERED 1',
      'PROMOTED 1',
      'REGISTERED 2',
      'PROMOTED 2',
      'REGISTERED 3',
      'BLOCKED 3',
    ]);
    expect(timeline[3]).toMatchObject({ parent_version: '1', status: 'PROMOTED', golden_f1: 0.85 });
    // Version 3 never reached model_versions: the join's defaults.
    expect(timeline[5]).toMatchObject({ status: '', golden_f1: 0 });

    const periods = await select(
      analyst,
      'SELECT version, production_since, production_until, is_current FROM production_periods ORDER BY production_since',
    );
    expect(periods).toHaveLength(2);
    expect(periods[0]).toMatchObject({
      version: '1',
      production_since: dateTime(PROMOTED_1),
      is_current: 0,
    });
    expect(periods[1]).toMatchObject({ version: '2', production_until: null, is_current: 1 });
    expect(periods[0]!.production_until).toBe(periods[1]!.production_since);
  });

  it('drift_history: one row per check, statistics against thresholds', async () => {
    const rows = await select(
      analyst,
      'SELECT check_id, input_over, class_mix_over, domain_over FROM drift_history ORDER BY check_time_ms',
    );
    expect(rows).toEqual([
      { check_id: 'c-1', input_over: 0, class_mix_over: 0, domain_over: null },
      { check_id: 'c-2', input_over: 1, class_mix_over: 0, domain_over: 1 },
      { check_id: 'c-3', input_over: 0, class_mix_over: 1, domain_over: 0 },
    ]);
  });

  it('runs every example query of docs/analysts.md as analyst over HTTP', async () => {
    const queries = documentedQueries();
    expect(queries.length).toBeGreaterThanOrEqual(12);
    const results = new Map<string, Json[][]>();
    for (const query of queries) {
      expect(query.sql, query.title).toMatch(/\bsentiment\./);
      const sql = query.sql.replace(/\bsentiment\./g, `${database}.`);
      let rows: Json[];
      try {
        rows = await analystHttp(sql);
      } catch (error) {
        throw new Error(`"${query.title}" failed: ${String(error)}\n${sql}`, { cause: error });
      }
      // Every example has something to show on this data set.
      expect(rows.length, query.title).toBeGreaterThan(0);
      const key = query.title.replace(/^\d+\.\s*/, '');
      results.set(key, [...(results.get(key) ?? []), rows]);
    }
    const result = (title: string, index = 0): Json[] => {
      const found = results.get(title)?.[index];
      if (!found) throw new Error(`no example titled "${title}"`);
      return found;
    };

    // Volume per hour: the unique predictions, hour by hour.
    const volume = result('Volume per hour, last 24 hours');
    const perHour = groupBy(predictions, (p) => dateTime(startOfHour(p.event_time_ms)));
    expect(volume.map((row) => [row.hour, num(row.volume)])).toEqual(
      [...perHour].map(([hour, rows]) => [hour, rows.length]),
    );

    // Accuracy and F1 by version.
    for (const row of result('Accuracy and F1 by model version')) {
      const expected = confusion(predictions.filter((p) => p.model_version === row.model_version));
      expect(num(row.accuracy)).toBeCloseTo(expected.accuracy, 12);
      expect(num(row.f1)).toBeCloseTo(expected.f1!, 12);
    }

    // Confusion matrix.
    for (const row of result('Confusion matrix where ground truth is known')) {
      const cell = (label: Label): number =>
        predictions.filter(
          (p) =>
            p.model_version === row.model_version &&
            p.ground_truth === row.ground_truth &&
            p.label === label,
        ).length;
      expect(num(row.predicted_positive)).toBe(cell('POSITIVE'));
      expect(num(row.predicted_negative)).toBe(cell('NEGATIVE'));
    }

    // Cosine distance to the reference centroid, per version and hour (arrayMap/arraySum).
    const distances = result(
      "Cosine distance of embeddings to the version's reference centroid, per hour",
    );
    const distanceGroups = groupBy(
      predictions,
      (p) => `${p.model_version}|${dateTime(startOfHour(p.event_time_ms))}`,
    );
    expect(distances).toHaveLength(distanceGroups.size);
    for (const row of distances) {
      const group = distanceGroups.get(`${String(row.model_version)}|${String(row.hour)}`)!;
      const centroid = centroids[String(row.model_version)]!.map(Math.fround);
      const expected = mean(
        group.map((p) => cosineDistance(p.embedding.map(Math.fround), centroid)),
      );
      expect(num(row.mean_cosine_distance)).toBeCloseTo(expected, 5);
    }

    // Current production version, from the view and straight from the log.
    const production = 'Current production version (from the promotion log)';
    expect(result(production, 0).map((row) => row.version)).toEqual(['2']);
    expect(result(production, 1).map((row) => row.version)).toEqual(['2']);

    // The cheap recent-window query counts each event once too.
    const recent = result('A recent window straight from the table (cheap, still exactly once)');
    expect(recent.reduce((sum, row) => sum + num(row.predictions), 0)).toBe(predictions.length);

    // Scoring delay: the views keep the newest copy, so a redelivered review counts with the
    // delay of its last scoring.
    const redelivered = new Set(redeliveries.map((row) => row.event_id));
    const delays = groupBy(
      predictions.filter((p) => p.origin === 'STREAM'),
      (p) => dateTime(startOfHour(p.event_time_ms)),
    );
    const delay = result('Delay from review to prediction, per hour');
    expect(delay.map((row) => row.hour)).toEqual([...delays.keys()].sort());
    for (const row of delay) {
      const expected = delays
        .get(String(row.hour))!
        .map(
          (p) =>
            p.scored_at_ms -
            p.event_time_ms +
            (redelivered.has(p.event_id) ? REDELIVERY_DELAY_MS : 0),
        );
      expect(num(row.predictions)).toBe(expected.length);
      expect(num(row.mean_delay_s)).toBeCloseTo(mean(expected) / 1000, 9);
      expect(num(row.max_delay_s)).toBeCloseTo(Math.max(...expected) / 1000, 9);
    }

    // Drift checks over threshold: c-2 (input, domain) and c-3 (class mix), once each.
    expect(result('Drift checks over threshold')).toHaveLength(2);
  });

  it('runs the ClickHouse queries of dashboards/analyst-overview.json as analyst', async () => {
    const dashboard = JSON.parse(
      readFileSync(join(REPO_ROOT, 'dashboards/analyst-overview.json'), 'utf8'),
    ) as { panels: { title: string; targets: { rawSql: string }[] }[] };
    const queries = dashboard.panels.flatMap((panel) =>
      panel.targets.map((target) => ({ title: panel.title, sql: target.rawSql })),
    );
    expect(queries.length).toBeGreaterThan(0);
    for (const query of queries) {
      // The Grafana plugin's time-range macro, expanded as it would be for "last 7 days".
      const sql = query.sql
        .replace(/\$__timeFilter\((\w+)\)/g, '$1 >= now() - INTERVAL 7 DAY AND $1 <= now()')
        .replace(/\bsentiment\./g, `${database}.`);
      expect(sql, query.title).not.toContain('$');
      const rows = await analystHttp(sql);
      expect(rows.length, query.title).toBeGreaterThan(0);
    }
  });

  it('refuses the analyst INSERT, ALTER, DROP, CREATE, TRUNCATE and SET; the data is unchanged', async () => {
    const tables = ['predictions', 'model_versions', 'promotion_log', 'drift_checks'];
    const snapshot = async (): Promise<Json[]> => [
      ...(await select(
        admin,
        `SELECT name, engine FROM system.tables WHERE database = '${database}' ORDER BY name`,
      )),
      ...(await Promise.all(
        tables.map(async (table) => ({
          table,
          count: (await select(admin, `SELECT count() AS n FROM ${table}`))[0]!.n,
          columns: (
            await select(
              admin,
              `SELECT name FROM system.columns WHERE database = '${database}' AND table = '${table}'`,
            )
          ).length,
        })),
      )),
    ];
    const before = await snapshot();

    const readonly = /readonly/i;
    const refused = async (promise: Promise<unknown>): Promise<void> => {
      expect(await failureOf(promise)).toMatch(readonly);
    };
    await refused(
      analyst.insert({
        table: 'predictions',
        values: [predictions[0]!],
        format: 'JSONEachRow',
      }),
    );
    await refused(
      analyst.command({ query: 'INSERT INTO drift_checks SELECT * FROM drift_checks' }),
    );
    await refused(analyst.command({ query: 'ALTER TABLE predictions ADD COLUMN note String' }));
    await refused(analyst.command({ query: 'ALTER TABLE promotion_log DELETE WHERE 1 = 1' }));
    await refused(analyst.command({ query: 'DROP TABLE predictions' }));
    await refused(analyst.command({ query: 'DROP TABLE quality_by_version' }));
    await refused(analyst.command({ query: `DROP DATABASE ${database}` }));
    await refused(analyst.command({ query: 'TRUNCATE TABLE drift_checks' }));
    await refused(analyst.command({ query: 'CREATE TABLE scratch (x UInt8) ENGINE = Memory' }));
    await refused(analyst.command({ query: 'CREATE VIEW mine AS SELECT 1 AS x' }));
    await refused(analyst.command({ query: 'SET max_memory_usage = 100000000000' }));
    // Settings sent with a query are refused the same way (the @clickhouse/client gotcha).
    await refused(
      analyst.query({
        query: 'SELECT count() FROM predictions',
        clickhouse_settings: { max_memory_usage: '100000000000' },
      }),
    );
    // And over plain HTTP.
    await expect(
      postAsAnalyst(`INSERT INTO ${database}.drift_checks SELECT * FROM ${database}.drift_checks`),
    ).rejects.toThrow(readonly);

    expect(await snapshot()).toEqual(before);
  });

  it('stops a long analyst query at the time limit and a memory-hungry one at the memory cap', async () => {
    // The test stack sets the analyst's limit to 5 s (CLICKHOUSE_ANALYST_MAX_EXECUTION_TIME;
    // 300 s elsewhere). Without it this scan of an endless table never returns.
    const started = Date.now();
    const endless = await failureOf(
      analyst
        .query({
          query: 'SELECT count() FROM system.numbers WHERE sipHash64(number) = 0',
          format: 'JSONEachRow',
        })
        .then((result) => result.json()),
    );
    const seconds = (Date.now() - started) / 1000;
    expect(endless).toMatch(/TIMEOUT_EXCEEDED|Timeout exceeded/i);
    expect(seconds).toBeLessThan(60);
    // 2 GB per query: an array of 10^9 numbers (8 GB) is refused, not attempted (readonly
    // users cannot call table functions such as numbers(), hence system.numbers).
    const hungry = await failureOf(
      analyst
        .query({
          query:
            'SELECT length(groupArray(number)) FROM (SELECT number FROM system.numbers LIMIT 1000000000)',
          format: 'JSONEachRow',
        })
        .then((result) => result.json()),
    );
    expect(hungry).toMatch(/MEMORY_LIMIT_EXCEEDED|Memory limit/i);
    // The analyst cannot lift either limit for a query.
    expect(
      await failureOf(
        analyst.query({
          query: 'SELECT 1',
          clickhouse_settings: { max_execution_time: 100000 },
        }),
      ),
    ).toMatch(/readonly/i);
  });
});
