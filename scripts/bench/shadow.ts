/**
 * Shadow scoring benchmark (issue 15): inference throughput with a candidate in SHADOW on
 * against off, in the same run, and the share of shadow work shed under overload.
 *
 * In process, with what the inference service runs: ServingModels (the production model in its
 * worker thread, the candidate in a worker of its own, set to SHADOW through `setCandidate`),
 * the real batch handler (services/inference/review-handler.ts) and a real ShadowLane
 * (`createShadowLane`), fed with SST-2 train sentences of 8 words or more (as bench:inference).
 * Engine options and defaults come from the service's config (INTRA_OP_THREADS,
 * MAX_BATCH_TOKENS, INFERENCE_BATCH_SIZE, ... are read from the environment as it reads them).
 *
 * The candidate: by default the production folder again, a second worker of the same size.
 * That is representative, not only the worst case: the retrainer's candidates are a new head on
 * the production encoder (services/retrainer/retrain.ts), so a shadow candidate costs what
 * production costs per text. `--candidate models/sentiment-compact` shows a cheap candidate.
 *
 * "Off" is the same handler wiring with no candidate in SHADOW (the handler's models view
 * reports none); the candidate's worker stays loaded and idle rather than being retired and
 * reloaded for every segment: an idle worker thread uses no CPU (onnxruntime does not spin).
 *
 * Kafka is left out: the runner context's output is a sink that encodes every event with the
 * real codec (schema validation + Avro, in-memory registry; `predictions` and
 * `predictions.shadow` are uncompressed in the catalogue) and counts it, and the shadow
 * predictions go to the same sink. Left out: the consumer's fetch and decoding of reviews (the
 * same for on and off), and the produce round trips and broker work. The production path waits
 * for its produce in both modes alike, the shadow publish waits on nobody (the handler does not
 * await shadow work), so what the comparison measures - what the candidate's scoring takes from
 * production - is what remains: CPU taken by the second worker, and the encoding of its
 * predictions. The broker's own CPU for the extra `predictions.shadow` writes, on a machine
 * that also runs Kafka, is not counted.
 *
 * Phases, each in rounds of short segments alternating the order of the modes (so no mode
 * always runs first or on a warmer machine); the lane is drained between segments (untimed):
 *   (a) saturated: `--concurrency` handler calls back to back (PARTITIONS_CONSUMED_CONCURRENTLY
 *       partitions, each with a backlog, so the consumer is always behind): production texts/s
 *       off vs on, for each shadow lane bound in `--bounds` (default SHADOW_MAX_PENDING_TEXTS)
 *       and each production-load limit in `--max-loads` (default SHADOW_MAX_PRODUCTION_LOAD,
 *       then 1 = no load limit: the backlog bound alone, to show what the limit buys), and under
 *       on the share of the offered shadow texts scored and shed (for load, for backlog), and
 *       the largest pending count seen against the bound;
 *   (b) paced: batches arrive on a fixed schedule at `--load` (0.5) of the off capacity measured
 *       in (a): production texts/s (completion rate from the first to the last batch answered:
 *       the offered rate while production keeps up), batch latency p50/p95 (from the batch's
 *       scheduled arrival, so waiting for a free partition slot counts) off vs on, and the share
 *       shed.
 * Throughput in (a) is the texts answered over the time to the last answer (the production
 * worker is never idle in between). "CPU cores" is the process's CPU time (all threads) over the
 * segment: on a shared machine, how much of it the benchmark actually got.
 * Also, from the lane alone: a batch larger than the bound offered to an idle lane.
 *
 * Batch sizes: `--batch` (64) in (a): a backlog fetch (INFERENCE_MAX_BYTES_PER_PARTITION, 64 KiB)
 * holds about 290 SST-2 reviews uncompressed, about 700 gzip-compressed; an idle lane takes a
 * batch larger than its bound (see the last line of the output). `--paced-batch` (16) in (b):
 * a live consumer's batch is what arrived since its last fetch.
 *
 *   npm run bench:shadow [-- --seconds 15 --rounds 3 --batch 64 --paced-batch 16 --load 0.5
 *     --bounds 256 --max-loads 0.85,1 --candidate models/sentiment-minilm] [-- --quick]
 * Progress on stderr; tables, a summary and one JSON line (prefixed `BENCH_SHADOW_JSON `) on
 * stdout.
 */
import { randomUUID } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { Registry } from 'prom-client';
import { createLogger, mulberry32, parseConfig, sampleWithoutReplacement } from '#platform/common';
import { type EventSink, encodeEvents } from '#platform/kafka';
import type { ConsumedEvent, HandlerContext, BatchHandler } from '#platform/runner';
import { EventCodec, type Review, loadCatalogue } from '#platform/serde';
import { modelConfigFields } from '#domain/model';
import { ServingModels, ShadowLane, createShadowLane, shadowConfigFields } from '#domain/scoring';
import { inferenceConfigSchema } from '../../services/inference/config.ts';
import {
  type ReviewScorers,
  createReviewHandler,
} from '../../services/inference/review-handler.ts';
import { REPO_ROOT } from '../lib/repo.ts';
import { percentile, progress, sst2Sentences, table } from './common.ts';

const config = parseConfig(
  {
    maxTextBytes: modelConfigFields.maxTextBytes,
    modelName: modelConfigFields.modelName,
    maxBatchTokens: modelConfigFields.maxBatchTokens,
    intraOpThreads: modelConfigFields.intraOpThreads,
    int8LookupTables: modelConfigFields.int8LookupTables,
    maxBatchSize: inferenceConfigSchema.maxBatchSize,
    partitionsConcurrently: inferenceConfigSchema.partitionsConcurrently,
    ...shadowConfigFields,
  },
  process.env,
);

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    seconds: { type: 'string' },
    rounds: { type: 'string' },
    batch: { type: 'string', default: '64' },
    'paced-batch': { type: 'string', default: '16' },
    load: { type: 'string', default: '0.5' },
    concurrency: { type: 'string', default: String(config.partitionsConcurrently) },
    bounds: { type: 'string', default: `${config.shadowMaxPendingTexts}` },
    // 1 never sheds for load: the lane's backlog bound alone.
    'max-loads': { type: 'string', default: `${config.shadowMaxProductionLoad},1` },
    production: { type: 'string', default: 'models/sentiment-minilm' },
    candidate: { type: 'string' },
  },
});
const seconds = Number(values.seconds ?? (values.quick ? 4 : 15));
const rounds = Number(values.rounds ?? (values.quick ? 1 : 3));
const batchSize = Number(values.batch);
const pacedBatch = Number(values['paced-batch']);
const load = Number(values.load);
const concurrency = Number(values.concurrency);
const bounds = values.bounds.split(',').map(Number);
const maxLoads = values['max-loads'].split(',').map(Number);
if (maxLoads.some((value) => !(value > 0 && value <= 1))) {
  throw new Error('--max-loads must be numbers in (0, 1]');
}
const productionDir = values.production;
const candidateDir = values.candidate ?? productionDir;
for (const [name, value] of Object.entries({ seconds, rounds, batchSize, pacedBatch, load })) {
  if (!(value > 0)) throw new Error(`--${name} must be a positive number`);
}
if (!(concurrency >= 1) || bounds.some((bound) => !(bound >= 1))) {
  throw new Error('--concurrency and --bounds must be positive integers');
}

const startedAt = performance.now();
const loadBefore = loadavg()[0]!;
const logger = createLogger('bench-shadow', 'warn', 'stderr');
const engine = {
  intraOpThreads: config.intraOpThreads,
  maxBatchTokens: config.maxBatchTokens,
  int8LookupTables: config.int8LookupTables,
  maxBatchSize: config.maxBatchSize,
};

// Texts: SST-2 train sentences of 8+ words, in a fixed shuffled order, taken in turn by every
// segment (each segment scores different texts; over hundreds of texts their lengths average).
const sentences = sst2Sentences('train').filter((s) => s.split(' ').length >= 8);
const texts = Array.from(
  sampleWithoutReplacement(mulberry32(15), sentences.length, sentences.length),
  (index) => sentences[index]!,
);
let cursor = 0;
function reviewBatch(size: number): ConsumedEvent<Review>[] {
  const now = Date.now();
  return Array.from({ length: size }, () => {
    const seq = cursor++;
    const event: Review = {
      eventId: randomUUID(),
      eventTime: now,
      reviewId: `bench-${seq}`,
      source: 'bench',
      text: texts[seq % texts.length]!,
      groundTruth: null,
      attributes: {},
    };
    return {
      topic: 'reviews',
      partition: seq % concurrency,
      offset: String(seq),
      key: null,
      value: null,
      headers: {},
      timestamp: String(now),
      schemaId: 1,
      event,
    };
  });
}

// The runner context's output: the real codec, an in-memory registry, no broker.
let schemaIds = 0;
const codec = new EventCodec(
  {
    register: () => Promise.resolve(++schemaIds),
    getSchemaText: () => Promise.reject(new Error('not used')),
  },
  loadCatalogue(),
);
const produced = { predictions: 0, shadow: 0, bytes: 0 };
const sink: EventSink = {
  async send(topic, events) {
    const encoded = await encodeEvents(codec, topic, events);
    for (const message of encoded) produced.bytes += message.value?.length ?? 0;
    if (topic === 'predictions') produced.predictions += events.length;
    else if (topic === 'predictions.shadow') produced.shadow += events.length;
    else throw new Error(`unexpected output topic ${topic}`);
  },
};
const context: HandlerContext = {
  heartbeat: () => Promise.resolve(),
  signal: new AbortController().signal,
  output: sink,
};

progress(
  `loading production ${productionDir} and candidate ${candidateDir} (SHADOW), ` +
    `engine ${JSON.stringify(engine)}`,
);
const models = await ServingModels.start(`${REPO_ROOT}${productionDir}`, { engine, logger });
await models.setCandidate({
  version: 'shadow-bench',
  role: 'SHADOW',
  trafficShare: 0,
  folder: `${REPO_ROOT}${candidateDir}`,
});
const production = models.model;
const candidate = models.candidateHost('SHADOW')!.model;

/** The handler's view of the models with no candidate in SHADOW ("off"). */
const withoutShadow: ReviewScorers = {
  scoreProduction: (batch) => models.scoreProduction(batch),
  canary: () => undefined,
  candidateHost: () => undefined,
};

interface Mode {
  readonly name: string;
  readonly bound: number | null;
  readonly lane: ShadowLane | null;
  readonly handler: BatchHandler<Review>;
}

function mode(bound: number | null, maxProductionLoad = 1): Mode {
  const lane = createShadowLane(
    new Registry(),
    { maxPendingTexts: bound ?? 1, maxProductionLoad: maxProductionLoad },
    () => models.productionLoad.utilization(),
    logger,
  );
  const handler = createReviewHandler({
    models: bound === null ? withoutShadow : models,
    shadow: { lane, publish: (events) => sink.send('predictions.shadow', events) },
    maxTextBytes: config.maxTextBytes,
    modelName: config.modelName,
  });
  const name =
    bound === null
      ? 'off'
      : `on, bound ${bound}${maxProductionLoad < 1 ? `, load <= ${maxProductionLoad}` : ', no load limit'}`;
  return { name, bound, lane, handler };
}

const off = mode(null);
const ons = bounds.flatMap((bound) => maxLoads.map((maxLoad) => mode(bound, maxLoad)));

interface Segment {
  readonly mode: string;
  readonly texts: number;
  readonly seconds: number;
  readonly textsPerSecond: number;
  /** Handler call latencies, ms (paced: from the batch's scheduled arrival). */
  readonly latencies: number[];
  /** Process CPU (all threads) over the segment, in cores. */
  readonly cores: number;
  readonly shadow: { offered: number; scored: number; shed: number; failed: number };
  readonly maxPending: number;
  readonly drainSeconds: number;
}

async function call(m: Mode, batch: readonly ConsumedEvent<Review>[]): Promise<void> {
  const result = await m.handler(batch, context);
  if (result?.rejected?.length) throw new Error(`${result.rejected.length} reviews rejected`);
}

/**
 * Runs `drive` (which scores with `m` and returns the production texts scored and the end of
 * the measured window), then drains the lane: the shadow figures are the segment's lane totals.
 */
async function segment(
  m: Mode,
  drive: (sample: () => void) => Promise<{
    texts: number;
    end: number;
    latencies: number[];
    /** Production texts/s when not texts / (end - start). */
    rate?: number;
  }>,
): Promise<Segment> {
  const before = { ...m.lane!.totals };
  let maxPending = 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  const run = await drive(() => {
    if (m.bound !== null) maxPending = Math.max(maxPending, m.lane!.pendingTexts);
  });
  const used = process.cpuUsage(cpu);
  const window = (performance.now() - start) / 1000;
  const wall = (run.end - start) / 1000;
  const drainStart = performance.now();
  await m.lane!.drain();
  const after = m.lane!.totals;
  return {
    mode: m.name,
    texts: run.texts,
    seconds: wall,
    textsPerSecond: run.rate ?? run.texts / wall,
    latencies: run.latencies,
    cores: (used.user + used.system) / 1e6 / window,
    shadow: {
      offered: after.offered - before.offered,
      scored: after.scored - before.scored,
      shed: after.shed - before.shed,
      failed: after.failed - before.failed,
    },
    maxPending,
    drainSeconds: (performance.now() - drainStart) / 1000,
  };
}

/** (a) `concurrency` partitions with a backlog each: handler calls back to back. */
function saturated(m: Mode): Promise<Segment> {
  return segment(m, async (sample) => {
    const deadline = performance.now() + seconds * 1000;
    let done = 0;
    let end = performance.now();
    const latencies: number[] = [];
    const partition = async () => {
      while (performance.now() < deadline) {
        const batch = reviewBatch(batchSize);
        const t0 = performance.now();
        await call(m, batch);
        sample();
        end = performance.now();
        latencies.push(end - t0);
        done += batch.length;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, partition));
    return { texts: done, end, latencies };
  });
}

/** (b) Batches of `pacedBatch` due every pacedBatch/rate s, at most `concurrency` at once. */
function paced(m: Mode, rate: number): Promise<Segment> {
  return segment(m, async (sample) => {
    const interval = (pacedBatch / rate) * 1000;
    const count = Math.max(1, Math.round((seconds * 1000) / interval));
    const start = performance.now();
    let done = 0;
    let end = start;
    const latencies: number[] = [];
    const completions: { at: number; texts: number }[] = [];
    const inFlight = new Set<Promise<void>>();
    for (let k = 0; k < count; k++) {
      const due = start + k * interval;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      while (inFlight.size >= concurrency) await Promise.race(inFlight);
      const batch = reviewBatch(pacedBatch);
      const running: Promise<void> = call(m, batch).then(() => {
        sample();
        end = performance.now();
        latencies.push(end - due);
        done += batch.length;
        completions.push({ at: end, texts: batch.length });
        inFlight.delete(running);
      });
      inFlight.add(running);
    }
    await Promise.all(inFlight);
    // The completion rate between the first and the last batch answered: the offered rate
    // while production keeps up, less when it falls behind (not diluted by one batch's latency).
    const first = completions[0]!;
    const answered =
      completions.length > 1 ? (done - first.texts) / ((end - first.at) / 1000) : undefined;
    return { texts: done, end, latencies, ...(answered === undefined ? {} : { rate: answered }) };
  });
}

const median = (list: readonly number[]) => {
  const sorted = [...list].sort((a, b) => a - b);
  return sorted.length % 2
    ? sorted[(sorted.length - 1) / 2]!
    : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
};
const share = (part: number, whole: number) => (whole > 0 ? part / whole : 0);
const pct = (value: number) => `${(value * 100).toFixed(1)} %`;

function summarise(list: readonly Segment[]) {
  const latencies = list.flatMap((s) => s.latencies).sort((a, b) => a - b);
  const sum = (pick: (s: Segment) => number) => list.reduce((acc, s) => acc + pick(s), 0);
  const offered = sum((s) => s.shadow.offered);
  return {
    textsPerSecond: median(list.map((s) => s.textsPerSecond)),
    rounds: list.map((s) => Math.round(s.textsPerSecond * 10) / 10),
    texts: sum((s) => s.texts),
    p50Ms: percentile(latencies, 50),
    p95Ms: percentile(latencies, 95),
    cores: median(list.map((s) => s.cores)),
    shadow: {
      offered,
      scored: sum((s) => s.shadow.scored),
      shed: sum((s) => s.shadow.shed),
      failed: sum((s) => s.shadow.failed),
      scoredShare: share(
        sum((s) => s.shadow.scored),
        offered,
      ),
      shedShare: share(
        sum((s) => s.shadow.shed),
        offered,
      ),
    },
    maxPending: Math.max(...list.map((s) => s.maxPending)),
    drainSeconds: Math.max(...list.map((s) => s.drainSeconds)),
  };
}
type Summary = ReturnType<typeof summarise>;

/** Runs every mode once per round, the order reversed every other round. */
async function alternate(
  phase: string,
  modes: readonly Mode[],
  run: (m: Mode) => Promise<Segment>,
): Promise<Map<Mode, Segment[]>> {
  const results = new Map<Mode, Segment[]>(modes.map((m) => [m, []]));
  for (let r = 1; r <= rounds; r++) {
    const order = r % 2 === 1 ? modes : [...modes].reverse();
    for (const m of order) {
      const result = await run(m);
      results.get(m)!.push(result);
      const shadow =
        m.bound === null
          ? ''
          : `; shadow ${result.shadow.offered} offered, ${pct(share(result.shadow.scored, result.shadow.offered))} scored, ` +
            `${pct(share(result.shadow.shed, result.shadow.offered))} shed, max pending ${result.maxPending}/${m.bound}` +
            ` (drain ${result.drainSeconds.toFixed(1)} s)`;
      progress(
        `${phase} round ${r}/${rounds}, ${m.name}: ${result.textsPerSecond.toFixed(1)} texts/s ` +
          `(${result.texts} in ${result.seconds.toFixed(1)} s), batch p50 ` +
          `${percentile(
            [...result.latencies].sort((a, b) => a - b),
            50,
          ).toFixed(0)} ms, ` +
          `${result.cores.toFixed(2)} cores${shadow}`,
      );
    }
  }
  return results;
}

progress('warm-up: both workers, a few batches');
for (const m of [off, ons[0]!]) {
  for (let i = 0; i < 2; i++) await call(m, reviewBatch(Math.min(batchSize, 32)));
  await m.lane!.drain();
}
const warmUpShadow = produced.shadow;

const totalSegments = rounds * (ons.length + 1) + rounds * 2;
progress(
  `(a) saturated: ${rounds} round(s) x ${ons.length + 1} modes x ${seconds} s, batches of ` +
    `${batchSize}, ${concurrency} at once (${totalSegments} segments in all, about ` +
    `${Math.ceil((totalSegments * (seconds + 5)) / 60)} min)`,
);
const saturatedResults = await alternate('(a) saturated', [off, ...ons], saturated);
const sat = new Map([...saturatedResults].map(([m, list]) => [m, summarise(list)]));
const offCapacity = sat.get(off)!.textsPerSecond;
const rate = offCapacity * load;

progress(
  `(b) paced at ${rate.toFixed(1)} texts/s (${load} x the off capacity ${offCapacity.toFixed(1)}), ` +
    `batches of ${pacedBatch}`,
);
const pacedResults = await alternate('(b) paced', [off, ons[0]!], (m) => paced(m, rate));
const pac = new Map([...pacedResults].map(([m, list]) => [m, summarise(list)]));

// A batch larger than the bound, offered to an idle lane (the lane alone, no model).
const idleLane = new ShadowLane({ maxPendingTexts: bounds[0]! });
const takesOversized = idleLane.offer(bounds[0]! + 1, () => Promise.resolve());
await idleLane.drain();

await models.close();
const loadAfter = loadavg()[0]!;

// ----- report -------------------------------------------------------------------------------
const ratioTo = (s: Summary, base: Summary) => s.textsPerSecond / base.textsPerSecond;
const satOff = sat.get(off)!;
const pacOff = pac.get(off)!;
const pacOn = pac.get(ons[0]!)!;
const satRows = [off, ...ons].map((m) => {
  const s = sat.get(m)!;
  return {
    shadow: m.name,
    'texts/s': s.textsPerSecond,
    'on / off': m.bound === null ? '-' : ratioTo(s, satOff).toFixed(2),
    'per round': s.rounds.join(', '),
    'batch p50 ms': Math.round(s.p50Ms),
    'batch p95 ms': Math.round(s.p95Ms),
    'CPU cores': s.cores,
    'shadow offered': m.bound === null ? '-' : String(s.shadow.offered),
    scored: m.bound === null ? '-' : pct(s.shadow.scoredShare),
    shed: m.bound === null ? '-' : pct(s.shadow.shedShare),
    'max pending / bound': m.bound === null ? '-' : `${s.maxPending} / ${m.bound}`,
  };
});
const pacRows = [off, ons[0]!].map((m) => {
  const s = pac.get(m)!;
  return {
    shadow: m.name,
    'offered texts/s': rate,
    'texts/s': s.textsPerSecond,
    'on / off': m.bound === null ? '-' : ratioTo(s, pacOff).toFixed(2),
    'batch p50 ms': Math.round(s.p50Ms),
    'batch p95 ms': Math.round(s.p95Ms),
    'CPU cores': s.cores,
    scored: m.bound === null ? '-' : pct(s.shadow.scoredShare),
    shed: m.bound === null ? '-' : pct(s.shadow.shedShare),
  };
});
const failed = [...sat.values(), ...pac.values()].reduce((acc, s) => acc + s.shadow.failed, 0);
const scoredTotal = [...sat.values(), ...pac.values()].reduce((acc, s) => acc + s.shadow.scored, 0);

console.log(
  `\nShadow scoring, in process: production ${productionDir} (v${production.version}), ` +
    `candidate in SHADOW ${candidateDir} (v${candidate.version}, a worker of its own); ` +
    `${config.intraOpThreads} intra-op thread(s) each, forward passes of at most ` +
    `${config.maxBatchSize} texts / ${config.maxBatchTokens} tokens; ${cpus().length} cores, ` +
    `load average ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after; ` +
    `${rounds} round(s) of ${seconds} s segments, modes alternated; Kafka excluded ` +
    `(events encoded, not sent).`,
);
console.log(
  `\n(a) Saturated: ${concurrency} partitions with a backlog, batches of ${batchSize} back to back:\n`,
);
console.log(table(satRows));
console.log(
  `\n(b) Paced at ${load} x the off capacity (${rate.toFixed(1)} texts/s), batches of ` +
    `${pacedBatch} on a fixed schedule, latency from each batch's due time:\n`,
);
console.log(table(pacRows));

const main = ons[0]!;
const satOn = sat.get(main)!;
const summary = [
  `Saturated, shadow ${main.name}: production ${satOn.textsPerSecond.toFixed(1)} texts/s ` +
    `against ${satOff.textsPerSecond.toFixed(1)} off = ${ratioTo(satOn, satOff).toFixed(2)}x; ` +
    `of ${satOn.shadow.offered} shadow texts offered, ${pct(satOn.shadow.scoredShare)} scored and ` +
    `${pct(satOn.shadow.shedShare)} shed, never more than ${satOn.maxPending} pending (bound ${main.bound}).`,
  ...ons.slice(1).map((m) => {
    const s = sat.get(m)!;
    return (
      `  shadow ${m.name}: ${s.textsPerSecond.toFixed(1)} texts/s = ${ratioTo(s, satOff).toFixed(2)}x, ` +
      `${pct(s.shadow.scoredShare)} scored, ${pct(s.shadow.shedShare)} shed, max pending ${s.maxPending}.`
    );
  }),
  `Paced at ${rate.toFixed(1)} texts/s: production ${pacOn.textsPerSecond.toFixed(1)} texts/s on, ` +
    `${pacOff.textsPerSecond.toFixed(1)} off; batch latency p50 ${pacOn.p50Ms.toFixed(0)} ms on / ` +
    `${pacOff.p50Ms.toFixed(0)} ms off, p95 ${pacOn.p95Ms.toFixed(0)} / ${pacOff.p95Ms.toFixed(0)} ms; ` +
    `shadow ${pct(pacOn.shadow.shedShare)} shed.`,
  `A batch of ${bounds[0]! + 1} texts offered to an idle lane of bound ${bounds[0]}: ` +
    `${takesOversized ? 'taken' : 'shed (a batch larger than the bound would never be shadowed)'}.`,
  `Checks: ${produced.shadow - warmUpShadow} shadow predictions encoded, ${scoredTotal} shadow ` +
    `texts scored by the lanes; ${failed} failed; ${produced.predictions} production predictions.`,
];
console.log(`\nSummary:\n${summary.map((line) => `- ${line}`).join('\n')}`);

const out = {
  production: { dir: productionDir, version: production.version },
  candidate: { dir: candidateDir, version: candidate.version },
  engine,
  cores: cpus().length,
  loadAverage: { before: loadBefore, after: loadAfter },
  seconds,
  rounds,
  concurrency,
  saturated: {
    batch: batchSize,
    off: satOff,
    on: ons.map((m) => ({ bound: m.bound, ratio: ratioTo(sat.get(m)!, satOff), ...sat.get(m)! })),
  },
  paced: {
    batch: pacedBatch,
    load,
    offeredTextsPerSecond: rate,
    off: pacOff,
    on: { bound: main.bound, ratio: ratioTo(pacOn, pacOff), ...pacOn },
  },
  oversizedBatchTaken: takesOversized,
  shadowFailed: failed,
  totalS: (performance.now() - startedAt) / 1000,
};
console.log(`\nBENCH_SHADOW_JSON ${JSON.stringify(out)}`);
