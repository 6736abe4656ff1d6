/**
 * The project's SQL on both ClickHouse versions it runs on: the test stack's 18.16 and a current
 * engine (chdb, ClickHouse 26.x in process; docker-compose runs a current server). Every
 * migration is applied to both by the migrate code; the same rows are written to both through
 * the store's writers; then every view, every ```sql example of docs/analysts.md, every query
 * of the Grafana dashboard, the drift detector's window and state queries, the registry's reads
 * and the retrainer's reads run on both, and their results must be the same. A query that
 * errors on either engine, returns nothing, or differs fails the test.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '#platform/common';
import {
  type ClickHouseClient,
  type DecisionRecord,
  type DriftCheckRow,
  EARLIER_CHECKSUMS,
  type ModelVersionRecord,
  type PredictionRow,
  RegistryStore,
  createClickHouse,
  driftCheckHistory,
  driftEpisodes,
  latestDriftChecks,
  loadMigrations,
  migrate,
} from '#platform/store';
import {
  activeSources,
  countPredictions,
  insertDriftChecks,
  latestChecks,
  readWindow,
} from '../../services/drift/drift-store.ts';
import {
  countLabelledPredictions,
  readLabelledPredictions,
} from '../../services/retrainer/labelled-data.ts';
import { ChdbDatabase, type JsonRow } from '../support/chdb.ts';
import { type NamedQuery, documentedQueries } from '../support/analyst-docs.ts';
import { REPO_ROOT, clickhouseUrl } from '../support/stack.ts';

const run = randomUUID().slice(0, 8);
const database = `sql_current_${run}`;
const MODEL = 'sentiment';
const DIM = 8;
const HOUR_MS = 3_600_000;

// ---------------------------------------------------------------------------------------------
// Comparing results of the two engines.

/** A query's answer in ClickHouse's JSON format: column names and types, then the rows. */
interface QueryResult {
  readonly meta: readonly { readonly name: string; readonly type: string }[];
  readonly data: readonly JsonRow[];
}

/**
 * Relative tolerance for Float64 results. Both engines compute in IEEE doubles from the same
 * inputs, but may add in another order (parallel aggregation, other summation loops), which
 * moves the last bits of a sum or a mean (~1e-15 relative here). A real difference of SQL
 * semantics (a row more or less, another join match) is many orders of magnitude larger.
 */
const FLOAT_RELATIVE_TOLERANCE = 1e-9;

/** How a value compares, by the type of its column. */
type Kind = 'float32' | 'time' | 'other';

function kindOf(type: string): Kind {
  if (/\bFloat32\b/.test(type)) return 'float32';
  if (/\bDate(?:Time)?\b/.test(type)) return 'time';
  return 'other';
}

/** Fields of the store's answers that hold Float32 values (their columns are Array(Float32)). */
const FLOAT32_FIELDS = new Set(['referenceCentroid']);

/**
 * The zero DateTime and Date (e.g. an ANY LEFT JOIN's default for a version missing from the
 * registry): 18.16 writes them as zeros, current servers as the Unix epoch. The same value.
 */
const ZERO_TIMES = new Map([
  ['0000-00-00 00:00:00', '1970-01-01 00:00:00'],
  ['0000-00-00', '1970-01-01'],
]);

/**
 * Where two values differ ([] when they are the same), after these normalisations only:
 * - 64-bit integers: 18.16 writes (U)Int64 in JSON as strings ("42"), current servers as
 *   numbers (output_format_json_quote_64bit_integers is 0 by default since 25.x); the store
 *   reads both with Number(). A string equal to the decimal form of a number counts as it.
 * - Float32 values: 18.16 does not always print a Float32 in its shortest form (0.06387201
 *   where current servers print 0.063872, the same Float32), so they compare as Float32s:
 *   equal when they round to the same one, which is exact equality of what is stored.
 * - Float64 values: equal within FLOAT_RELATIVE_TOLERANCE (above).
 * - zero times: see ZERO_TIMES.
 * Everything else (strings, NULLs, array lengths, object keys and their order) is exact.
 */
function differences(a: unknown, b: unknown, path: string, kind: Kind = 'other'): string[] {
  const plain = (value: unknown): unknown =>
    value instanceof Float32Array || value instanceof Float64Array ? Array.from(value) : value;
  const left = plain(a);
  const right = plain(b);
  if (typeof left === 'number' && typeof right === 'number') {
    if (Object.is(left, right)) return [];
    if (kind === 'float32')
      return Math.fround(left) === Math.fround(right) ? [] : [`${path}: ${left} != ${right}`];
    const scale = Math.max(Math.abs(left), Math.abs(right));
    return Math.abs(left - right) <= FLOAT_RELATIVE_TOLERANCE * scale
      ? []
      : [`${path}: ${left} != ${right}`];
  }
  if (typeof left === 'number' && typeof right === 'string')
    return Number.isInteger(left) && String(left) === right
      ? []
      : [`${path}: ${left} != ${JSON.stringify(right)}`];
  if (typeof left === 'string' && typeof right === 'number')
    return Number.isInteger(right) && String(right) === left
      ? []
      : [`${path}: ${JSON.stringify(left)} != ${right}`];
  if (typeof left === 'string' && typeof right === 'string' && kind === 'time') {
    const time = (text: string): string => ZERO_TIMES.get(text) ?? text;
    return time(left) === time(right) ? [] : [`${path}: "${left}" != "${right}"`];
  }
  if (Array.isArray(left) && Array.isArray(right)) {
    if (left.length !== right.length)
      return [`${path}: ${left.length} items != ${right.length} items`];
    return left.flatMap((item, index) =>
      differences(item, right[index], `${path}[${index}]`, kind),
    );
  }
  if (isObject(left) && isObject(right)) {
    const keys = [Object.keys(left), Object.keys(right)];
    if (keys[0]!.join() !== keys[1]!.join())
      return [`${path}: keys [${keys[0]!.join(', ')}] != [${keys[1]!.join(', ')}]`];
    return keys[0]!.flatMap((key) =>
      differences(
        left[key],
        right[key],
        `${path}.${key}`,
        FLOAT32_FIELDS.has(key) ? 'float32' : kind,
      ),
    );
  }
  return Object.is(left, right)
    ? []
    : [`${path}: ${JSON.stringify(left)} != ${JSON.stringify(right)}`];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A column type as both engines name it: 18.16 spells the server's own time zone into the
 * type of some DateTime expressions (toStartOfHour(event_time) is DateTime('Etc/UTC')),
 * current servers leave it implicit (DateTime). Same values, same text; any other time zone
 * is kept and compared.
 */
function columnType(type: string, serverTimeZone: string): string {
  return type.replace(/DateTime\('([^']+)'\)/g, (spelled, zone: string) =>
    zone === serverTimeZone ? 'DateTime' : spelled,
  );
}

/** The server time zone of each engine, [18.16, current] (set before any comparison). */
const timeZones: [string, string] = ['', ''];

/** Where two query results differ: columns (names, types), row count, then every value. */
function resultDifferences(old: QueryResult, current: QueryResult): string[] {
  const columns = (result: QueryResult, zone: string): string =>
    result.meta.map((column) => `${column.name} ${columnType(column.type, zone)}`).join(', ');
  const [a, b] = [columns(old, timeZones[0]), columns(current, timeZones[1])];
  if (a !== b) return [`columns [${a}] != [${b}]`];
  if (old.data.length !== current.data.length)
    return [`${old.data.length} rows != ${current.data.length} rows`];
  return old.data.flatMap((row, index) =>
    old.meta.flatMap((column) =>
      differences(
        row[column.name],
        current.data[index]![column.name],
        `row ${index} ${column.name}`,
        kindOf(column.type),
      ),
    ),
  );
}

/**
 * What failed or differed over a family of queries, collected so that one run reports all of
 * them (the test asserts the list is empty at the end).
 */
class Findings {
  readonly list: string[] = [];

  /** Records how two query results differ (18.16 first), and an empty result. */
  compareResults(what: string, old: QueryResult, current: QueryResult): void {
    if (old.data.length === 0) this.list.push(`${what}: no rows (the data set should give some)`);
    for (const difference of resultDifferences(old, current))
      this.list.push(`${what}: 18.16 != current: ${difference}`);
  }

  /** Records how two answers of the store's code differ (18.16 first). */
  compareValues(what: string, old: unknown, current: unknown): void {
    for (const difference of differences(old, current, '$'))
      this.list.push(`${what}: 18.16 != current: ${difference}`);
  }

  /** The value of `run`, or undefined with the error recorded. */
  async attempt<T>(what: string, run: () => Promise<T>): Promise<T | undefined> {
    try {
      return await run();
    } catch (error) {
      this.list.push(`${what} failed: ${error instanceof Error ? error.message : String(error)}`);
      return undefined;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The data set: the same rows for both engines. Three whole hours ending with the previous one
// (the documented queries filter relative to now()), two model versions, two sources, ground
// truth known for two thirds, redeliveries, a registry history with a retried decision and a
// rollback, and drift checks with and without a domain AUC.

function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

const now = Date.now();
const firstHour = Math.floor(now / HOUR_MS) * HOUR_MS - 3 * HOUR_MS;
const random = generator(20_260_113);
const centroids: Record<string, number[]> = {
  '1': Array.from({ length: DIM }, (_, i) => (i % 2 === 0 ? 1.1 : 0.3)),
  '2': Array.from({ length: DIM }, (_, i) => (i % 3 === 0 ? 0.55 : 0.9)),
};

/**
 * The number as a Float32 holds it. The logger writes the Float32 columns in RowBinary (their
 * bits), so the stored values are exact on every server; as JSON text here they are parsed by
 * the server, and 18.16's parser does not always round to the nearest Float32 (one unit in
 * the last place off for about 1% of values; current servers round correctly). Values that
 * are already Float32s parse exactly on both, as RowBinary would store them.
 */
const float32 = (value: number): number => Math.fround(value);

function predictionRow(index: number): PredictionRow {
  const hour = index % 3;
  const version = hour === 0 ? '1' : hour === 2 ? '2' : index % 2 === 0 ? '1' : '2';
  const eventTimeMs = firstHour + hour * HOUR_MS + Math.floor(random() * (HOUR_MS - 1000));
  const label = random() < 0.55 ? 'POSITIVE' : 'NEGATIVE';
  const other = label === 'POSITIVE' ? 'NEGATIVE' : 'POSITIVE';
  const truthDraw = random();
  const correctDraw = random();
  const groundTruth =
    truthDraw < 2 / 3 ? (correctDraw < (version === '1' ? 0.7 : 0.85) ? label : other) : null;
  const confidence = 0.5 + random() * 0.5;
  const positive = label === 'POSITIVE' ? confidence : 1 - confidence;
  return {
    event_id: `${run}-e${String(index).padStart(3, '0')}`,
    review_id: `r${index}`,
    review_event_id: index % 4 === 0 ? null : `${run}-r${index}`,
    origin: index % 4 === 0 ? 'SYNC' : 'STREAM',
    source: index % 3 === 1 ? 'app' : 'web',
    // Quotes, a backslash, a tab and non-ASCII text: the JSON round trip of both engines.
    text:
      index % 5 === 0
        ? `review ${index}: it's "great"\t\\ très bien ✓`
        : `review number ${index}: ${label === 'POSITIVE' ? 'a lovely film' : 'a dull film'}`,
    model_name: MODEL,
    model_version: version,
    label,
    probabilities: [float32(1 - positive), float32(positive)],
    confidence: float32(confidence),
    embedding: centroids[version]!.map((c) => float32(c + (random() - 0.5) * 0.8)),
    latency_ms: 1 + random() * 9,
    truncated: index % 7 === 0 ? 1 : 0,
    ground_truth: groundTruth,
    event_time: Math.floor(eventTimeMs / 1000),
    event_time_ms: eventTimeMs,
    ingest_time: Math.floor(eventTimeMs / 1000) + 1,
    scored_at: Math.floor((eventTimeMs + 250) / 1000),
    scored_at_ms: eventTimeMs + 250,
    shadow_of: null,
    schema_id: 1,
    kafka_partition: index % 3,
    kafka_offset: String(index),
  };
}

const predictions: PredictionRow[] = Array.from({ length: 72 }, (_, i) => predictionRow(i));
// Version 2 in SHADOW beside version 1: every fourth of version 1's predictions scored by it too.
for (const served of predictions.filter((p, i) => p.model_version === '1' && i % 4 === 1)) {
  predictions.push({
    ...served,
    event_id: `${served.event_id}-shadow`,
    origin: 'SHADOW',
    model_version: '2',
    label: random() < 0.8 ? served.label : served.label === 'POSITIVE' ? 'NEGATIVE' : 'POSITIVE',
    shadow_of: served.event_id,
    kafka_offset: String(20_000 + predictions.length),
  });
}
/** Redeliveries: the same events again, ingested later from other offsets. */
const redeliveries: PredictionRow[] = predictions
  .filter((_, i) => i % 5 === 1)
  .map((row, i) => ({
    ...row,
    ingest_time: row.ingest_time + 60,
    scored_at: row.scored_at + 45,
    scored_at_ms: row.scored_at_ms + 45_000,
    kafka_offset: String(10_000 + i),
  }));

const REGISTERED_1 = firstHour - 10 * HOUR_MS;
const REGISTERED_2 = firstHour + HOUR_MS - 600_000;

function version(
  name: string,
  revision: number,
  status: ModelVersionRecord['status'],
  goldenF1: number,
): ModelVersionRecord {
  return {
    modelName: MODEL,
    version: name,
    parentVersion: name === '1' ? null : '1',
    createdTimeMs: name === '1' ? REGISTERED_1 : REGISTERED_2,
    artifactUri: `file:///artifacts/${name}`,
    artifactSha256: `sha-${name}`,
    trainingData: { files: [`train-${name}.jsonl`], rows: 6920 },
    trainingDataSha256: `data-${name}`,
    metrics: { golden_f1: goldenF1, golden_accuracy: goldenF1 - 0.01, golden_n: 872 },
    referenceCentroid: centroids[name]!,
    driftThreshold: 0.12,
    driftCalibration: { alpha: 0.01, window: 500 },
    status,
    note: name === '2' ? 'retrained on "drift" episode' : '',
    revision,
  };
}

// Version 3 is in the log but not in model_versions: the views' joins must give their defaults.
const versions: ModelVersionRecord[] = [
  version('1', 1, 'REGISTERED', 0.8),
  version('1', 2, 'PROMOTED', 0.8),
  version('2', 3, 'PROMOTED', 0.8512),
];

function decision(
  id: string,
  timeMs: number,
  kind: DecisionRecord['decision'],
  candidate: string,
  before: string | null,
  after: string | null,
): DecisionRecord {
  return {
    decisionId: id,
    timeMs,
    modelName: MODEL,
    actor: 'sql-test',
    decision: kind,
    candidateVersion: candidate,
    productionBefore: before,
    productionAfter: after,
    candidateScore: kind === 'REGISTERED' ? null : 0.8125,
    productionScore: before === null ? null : 0.79,
    reason: `${kind.toLowerCase()} ${candidate}`,
    details: { gate: kind, margin: 0.01 },
  };
}

const decisions: DecisionRecord[] = [
  decision('d-reg-1', REGISTERED_1, 'REGISTERED', '1', null, null),
  decision('d-pro-1', REGISTERED_1 + HOUR_MS, 'PROMOTED', '1', null, '1'),
  decision('d-reg-2', REGISTERED_2, 'REGISTERED', '2', '1', '1'),
  decision('d-pro-2', firstHour + HOUR_MS, 'PROMOTED', '2', '1', '2'),
  // A retried decision: the same id written again a little later.
  decision('d-pro-2', firstHour + HOUR_MS + 1500, 'PROMOTED', '2', '1', '2'),
  decision('d-rb-2', firstHour + HOUR_MS + 1_800_000, 'ROLLED_BACK', '2', '2', '1'),
  decision('d-pro-2b', firstHour + 2 * HOUR_MS, 'PROMOTED', '2', '1', '2'),
  decision('d-reg-3', firstHour + 2 * HOUR_MS + 600_000, 'REGISTERED', '3', '2', '2'),
  decision('d-blk-3', firstHour + 2 * HOUR_MS + 660_000, 'BLOCKED', '3', '2', '2'),
];

function check(
  id: string,
  offsetMs: number,
  segment: string,
  inputDistance: number,
  domainAuc: number | null,
  classMix: number,
): DriftCheckRow {
  const timeMs = firstHour + offsetMs;
  return {
    checkId: id,
    checkTimeMs: timeMs,
    modelName: MODEL,
    modelVersion: '2',
    segment,
    windowStartMs: timeMs - HOUR_MS,
    windowEndMs: timeMs,
    windowSize: 500,
    inputDistance,
    inputThreshold: 0.12,
    domainAuc,
    domainAucThreshold: domainAuc === null ? null : 0.7,
    classMixDistance: classMix,
    classMixThreshold: 0.1,
    positiveShare: 0.55,
    referencePositiveShare: 0.5,
    inputState: inputDistance > 0.12 ? 'DRIFT' : 'OK',
    predictionState: classMix > 0.1 ? 'DRIFT' : 'OK',
    error: id === 'c-5' ? 'window too small' : null,
    episodeId: inputDistance > 0.12 ? 'episode-1' : null,
  };
}

const driftChecks: DriftCheckRow[] = [
  check('c-1', 2 * HOUR_MS, '*', 0.05, null, 0.02),
  check('c-2', 2 * HOUR_MS + 600_000, '*', 0.2, 0.9, 0.02),
  check('c-2', 2 * HOUR_MS + 600_000, '*', 0.2, 0.9, 0.02), // written twice
  check('c-3', 2 * HOUR_MS + 1_200_000, '*', 0.08, 0.6, 0.3),
  check('c-4', 2 * HOUR_MS + 600_000, 'web', 0.15, null, 0.05),
  check('c-5', 2 * HOUR_MS + 1_200_000, 'app', 0, null, 0),
];

/** Writes the data set through the store's writers (the registry and drift services' SQL). */
async function insertDataSet(client: ClickHouseClient): Promise<void> {
  await client.insert({ table: 'predictions', values: predictions, format: 'JSONEachRow' });
  await client.insert({ table: 'predictions', values: redeliveries, format: 'JSONEachRow' });
  const registry = new RegistryStore(client);
  for (const record of versions) await registry.insertVersion(record);
  for (const record of decisions) await registry.appendDecision(record);
  await insertDriftChecks(client, driftChecks);
}

// ---------------------------------------------------------------------------------------------
// The queries.

/** The panels' SQL of the Grafana dashboard, its time macro expanded as for "last 7 days". */
function dashboardQueries(): NamedQuery[] {
  const dashboard = JSON.parse(
    readFileSync(join(REPO_ROOT, 'dashboards/analyst-overview.json'), 'utf8'),
  ) as { panels: { title: string; targets: { rawSql: string }[] }[] };
  return dashboard.panels.flatMap((panel) =>
    panel.targets.map((target) => ({
      title: panel.title,
      sql: target.rawSql.replace(
        /\$__timeFilter\((\w+)\)/g,
        '$1 >= now() - INTERVAL 7 DAY AND $1 <= now()',
      ),
    })),
  );
}

/** The store's reads, as the services call them; each returns what the service gets. */
const storeReads: readonly {
  readonly name: string;
  readonly read: (client: ClickHouseClient) => Promise<unknown>;
  /** Whether an empty answer is the expected one (it is then asserted). */
  readonly empty?: true;
}[] = [
  // Drift detector: the rolling windows of embeddings, by count (W smaller and larger than the
  // history), by time, for all sources and for one segment.
  {
    name: 'readWindow: newest 20 by count',
    read: (client) =>
      readWindow(client, {
        modelName: MODEL,
        modelVersion: '2',
        window: { kind: 'count', size: 20 },
      }),
  },
  {
    name: 'readWindow: newest 10 by count, source app',
    read: (client) =>
      readWindow(client, {
        modelName: MODEL,
        modelVersion: '1',
        source: 'app',
        window: { kind: 'count', size: 10 },
      }),
  },
  {
    name: 'readWindow: W larger than the history',
    read: (client) =>
      readWindow(client, {
        modelName: MODEL,
        modelVersion: '1',
        window: { kind: 'count', size: 1000 },
      }),
  },
  {
    name: 'readWindow: last 2 hours by time, at most 25',
    read: (client) =>
      readWindow(client, {
        modelName: MODEL,
        modelVersion: '2',
        nowMs: now,
        window: { kind: 'time', durationMs: 2 * HOUR_MS, maxRows: 25 },
      }),
  },
  {
    name: 'readWindow: a version without predictions',
    read: (client) =>
      readWindow(client, {
        modelName: MODEL,
        modelVersion: '9',
        window: { kind: 'count', size: 10 },
      }),
    empty: true,
  },
  { name: 'countPredictions', read: (client) => countPredictions(client, MODEL, '1') },
  { name: 'activeSources', read: (client) => activeSources(client, MODEL, '1', 40, 5) },
  { name: 'latestChecks', read: (client) => latestChecks(client, MODEL, '2') },
  { name: 'latestDriftChecks: every model', read: (client) => latestDriftChecks(client) },
  {
    name: 'latestDriftChecks: one model',
    read: (client) => latestDriftChecks(client, { modelName: MODEL }),
  },
  // The console's drift views.
  {
    name: 'driftCheckHistory: since the first hour',
    read: (client) => driftCheckHistory(client, { modelName: MODEL, sinceMs: firstHour }),
  },
  {
    name: 'driftCheckHistory: the newest 3',
    read: (client) => driftCheckHistory(client, { modelName: MODEL, sinceMs: 0, limit: 3 }),
  },
  { name: 'driftEpisodes', read: (client) => driftEpisodes(client, MODEL) },
  // Model registry.
  { name: 'RegistryStore.versions', read: (client) => new RegistryStore(client).versions(MODEL) },
  {
    name: 'RegistryStore.version',
    read: (client) => new RegistryStore(client).version(MODEL, '1'),
  },
  {
    name: 'RegistryStore.version: unknown version',
    read: async (client) => [await new RegistryStore(client).version(MODEL, '3')],
  },
  { name: 'RegistryStore.decisions', read: (client) => new RegistryStore(client).decisions(MODEL) },
  // Retrainer: labelled predictions.
  {
    name: 'countLabelledPredictions',
    read: (client) =>
      countLabelledPredictions(client, { modelName: MODEL, modelVersion: '2', sinceMs: firstHour }),
  },
  {
    name: 'readLabelledPredictions',
    read: (client) =>
      readLabelledPredictions(client, {
        modelName: MODEL,
        modelVersion: '2',
        sinceMs: firstHour + HOUR_MS,
        maxRows: 15,
      }),
  },
];

// ---------------------------------------------------------------------------------------------

/** The views the migrations create, each once (a later migration may create one again). */
function migrationViews(): string[] {
  const names = loadMigrations()
    .flatMap((migration) => migration.statements)
    .map((statement) => /^CREATE VIEW IF NOT EXISTS (\w+)/.exec(statement)?.[1])
    .filter((name): name is string => name !== undefined);
  return [...new Set(names)].sort();
}

/**
 * The rows in an order of their own, for the dashboard's panels only: they order by time
 * alone, and Grafana splits the rows of one time into series by their string columns, so the
 * order of rows within a time means nothing and is up to each engine. Sorted on the columns
 * that are not floating point (those compare within a tolerance, not as text).
 */
function panelOrder(result: QueryResult): QueryResult {
  const keyColumns = result.meta.filter((column) => !/Float/.test(column.type));
  const key = (row: JsonRow): string =>
    keyColumns.map((column) => String(row[column.name])).join('\u0000');
  return {
    meta: result.meta,
    data: [...result.data].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0)),
  };
}

describe('SQL on ClickHouse 18.16 and current ClickHouse (chdb): same results', () => {
  let old: ClickHouseClient;
  let current: ChdbDatabase;
  let currentClient: ClickHouseClient;
  const applied: { old: string[]; current: string[] } = { old: [], current: [] };

  const oldResult = async (sql: string): Promise<QueryResult> => {
    const { meta, data } = await (await old.query({ query: sql, format: 'JSON' })).json<JsonRow>();
    return { meta: meta ?? [], data };
  };

  /** Runs `sql` on both engines: [18.16's result, current's], or undefined (recorded). */
  const onBoth = async (
    findings: Findings,
    what: string,
    sql: string,
  ): Promise<[QueryResult, QueryResult] | undefined> => {
    const a = await findings.attempt(`"${what}" on ClickHouse 18.16`, () => oldResult(sql));
    const b = await findings.attempt(`"${what}" on ClickHouse ${current.version()} (chdb)`, () =>
      current.result<QueryResult>(sql),
    );
    if (a === undefined || b === undefined) {
      findings.list.push(`  SQL of "${what}":\n${sql}`);
      return undefined;
    }
    return [a, b];
  };

  beforeAll(async () => {
    const settings = {
      clickhouseUrl: clickhouseUrl(),
      clickhouseUser: 'default',
      clickhousePassword: '',
      clickhouseDatabase: database,
    };
    applied.old = await migrate(settings, createLogger('sql-current-clickhouse', 'fatal'));
    old = createClickHouse(settings);
    current = new ChdbDatabase(database);
    currentClient = current.client();
    applied.current = await current.migrate();
    await insertDataSet(old);
    await insertDataSet(currentClient);
    const zone = 'SELECT timezone() AS zone';
    timeZones[0] = String((await oldResult(zone)).data[0]!.zone);
    timeZones[1] = String((await current.result<QueryResult>(zone)).data[0]!.zone);
  });

  afterAll(async () => {
    current?.close();
    await old?.command({ query: `DROP DATABASE IF EXISTS ${database}` }).catch(() => undefined);
    await old?.close();
  });

  it('applies every migration, in order, on both; same tables, views, columns and types', async () => {
    const migrations = loadMigrations();
    expect(current.version()).toMatch(/^2\d\./);
    expect(applied.current).toEqual(migrations.map((m) => `${m.version}_${m.name}`));
    expect(applied.old).toEqual(applied.current);

    const findings = new Findings();
    const recorded = await onBoth(
      findings,
      'schema_migrations',
      `SELECT version, name, checksum FROM ${database}.schema_migrations ORDER BY version`,
    );
    if (recorded) findings.compareResults('schema_migrations', ...recorded);
    const tables = await onBoth(
      findings,
      'tables',
      `SELECT name, engine FROM system.tables WHERE database = '${database}' ORDER BY name`,
    );
    expect(findings.list).toEqual([]);
    findings.compareResults('tables and views', ...tables!);
    for (const { name } of tables![0].data) {
      // DESCRIBE's name and type; current servers add comment, codec and TTL columns.
      const described = await onBoth(
        findings,
        `DESCRIBE ${String(name)}`,
        `DESCRIBE TABLE ${database}.${String(name)}`,
      );
      if (!described) continue;
      const [a, b] = described.map((result, engine) =>
        result.data.map((column) => ({
          name: column.name,
          type: columnType(String(column.type), timeZones[engine]!),
        })),
      );
      findings.compareValues(`columns of ${String(name)}`, a, b);
    }
    expect(findings.list).toEqual([]);
  });

  it('every view: the same rows', async () => {
    const views = migrationViews();
    expect(views.length).toBeGreaterThanOrEqual(10);
    const findings = new Findings();
    for (const view of views) {
      const columns = (await oldResult(`DESCRIBE TABLE ${database}.${view}`)).data.map((column) =>
        String(column.name),
      );
      // Every column in the ORDER BY: rows the view leaves unordered compare in one order.
      const results = await onBoth(
        findings,
        view,
        `SELECT * FROM ${database}.${view} ORDER BY ${columns.join(', ')}`,
      );
      if (results) findings.compareResults(view, ...results);
    }
    expect(findings.list).toEqual([]);
  });

  it('every example query of docs/analysts.md: the same rows', async () => {
    const queries = documentedQueries();
    expect(queries.length).toBeGreaterThanOrEqual(19);
    const findings = new Findings();
    for (const query of queries) {
      expect(query.sql, query.title).toMatch(/\bsentiment\./);
      const sql = query.sql.replace(/\bsentiment\./g, `${database}.`);
      const results = await onBoth(findings, query.title, sql);
      if (results) findings.compareResults(query.title, ...results);
    }
    expect(findings.list).toEqual([]);
  });

  it('every query of dashboards/analyst-overview.json: the same rows', async () => {
    const queries = dashboardQueries();
    expect(queries.length).toBeGreaterThan(0);
    const findings = new Findings();
    for (const query of queries) {
      const sql = query.sql.replace(/\bsentiment\./g, `${database}.`);
      expect(sql, query.title).not.toContain('$');
      const results = await onBoth(findings, query.title, sql);
      if (results)
        findings.compareResults(query.title, panelOrder(results[0]), panelOrder(results[1]));
    }
    expect(findings.list).toEqual([]);
  });

  it("the drift detector's, the registry's and the retrainer's reads: the same answers", async () => {
    const findings = new Findings();
    for (const { name, read, empty } of storeReads) {
      const a = await findings.attempt(`${name} on ClickHouse 18.16`, () => read(old));
      const b = await findings.attempt(`${name} on ClickHouse ${current.version()} (chdb)`, () =>
        read(currentClient),
      );
      if (a === undefined || b === undefined) continue;
      if (empty) expect(a, name).toEqual([]);
      else if (Array.isArray(a)) expect(a.length, `${name}: nothing on 18.16`).toBeGreaterThan(0);
      else expect(a, name).toBeTruthy();
      findings.compareValues(name, a, b);
    }
    expect(findings.list).toEqual([]);
  });

  it('an 18.16 install that applied migration 0004 before its aliases were added still migrates', async () => {
    const logger = createLogger('sql-current-clickhouse', 'fatal');
    const settingsOf = (suffix: string) => ({
      clickhouseUrl: clickhouseUrl(),
      clickhouseUser: 'default',
      clickhousePassword: '',
      clickhouseDatabase: `${database}_${suffix}`,
    });
    /** The migrations, with 0004 recorded under another checksum when applied. */
    const recordedAs = (checksum: string) =>
      loadMigrations().map((m) => (m.version === '0004' ? { ...m, checksum } : m));
    const earlier = settingsOf('earlier');
    const changed = settingsOf('changed');
    try {
      await migrate(earlier, logger, recordedAs(EARLIER_CHECKSUMS['0004']![0]!));
      await expect(migrate(earlier, logger)).resolves.toEqual([]);
      await expect(
        migrate({ ...earlier, clickhouseMigrations: 'verify' }, logger),
      ).resolves.toEqual([]);
      // Any other checksum is still a changed migration.
      await migrate(changed, logger, recordedAs('0'.repeat(64)));
      await expect(migrate(changed, logger)).rejects.toThrow(
        /0004_analyst_views changed after it was applied/,
      );
    } finally {
      const server = createClickHouse(earlier, { database: false });
      for (const settings of [earlier, changed])
        await server.command({ query: `DROP DATABASE IF EXISTS ${settings.clickhouseDatabase}` });
      await server.close();
    }
  });
});
