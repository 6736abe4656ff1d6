/**
 * Checks an exported model folder through the production runtime path (transformers.js
 * tokenizer + onnxruntime-node, as the services run it):
 *   1. parity with the model build: token ids equal, logits and [CLS] embedding within 1e-5
 *      of parity.json (PyTorch's outputs for an fp32 graph, onnxruntime's for an int8 one),
 *      one text per forward pass;
 *   2. accuracy, F1, precision and recall on SST-2 dev.
 * Exits non-zero when a check fails. Used by models/build.sh.
 *   node --import tsx scripts/check-model.ts <model folder> [--json out.json] [--min-accuracy 0.82]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type ScoredText, SentimentEngine, softmax } from '#domain/model';
import { REPO_ROOT } from './lib/repo.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { json: { type: 'string' }, 'min-accuracy': { type: 'string', default: '0.82' } },
});
const folder = resolve(positionals[0] ?? join(REPO_ROOT, 'models/sentiment-compact'));
const TOLERANCE = 1e-5;
const engine = await SentimentEngine.load(folder);

interface ParityCase {
  text: string;
  input_ids: number[];
  logits: number[];
  cls_embedding: number[];
}
const parity = (
  JSON.parse(readFileSync(join(folder, 'parity.json'), 'utf8')) as { cases: ParityCase[] }
).cases;
let idMismatches = 0;
let maxProbabilityDiff = 0;
let maxEmbeddingDiff = 0;
// One text per forward pass, as parity.json was computed: an int8 graph quantizes activations
// per batch (dynamic quantization), so its outputs depend on the batch a text is in.
const scoredParity: ScoredText[] = [];
for (const c of parity) scoredParity.push(...(await engine.score([c.text])));
parity.forEach((c, i) => {
  const { ids } = engine.tokenize(c.text);
  if (JSON.stringify(ids) !== JSON.stringify(c.input_ids)) {
    idMismatches++;
    console.log(`[parity] token ids differ for ${JSON.stringify(c.text).slice(0, 60)}`);
  }
  const expected = softmax(c.logits);
  const result = scoredParity[i]!;
  result.probabilities.forEach(
    (p, k) => (maxProbabilityDiff = Math.max(maxProbabilityDiff, Math.abs(p - expected[k]!))),
  );
  c.cls_embedding.forEach(
    (v, k) => (maxEmbeddingDiff = Math.max(maxEmbeddingDiff, Math.abs(result.embedding[k]! - v))),
  );
});
console.log(
  `[parity] ${parity.length} cases: token-id mismatches ${idMismatches}, max |probability diff| ` +
    `${maxProbabilityDiff.toExponential(2)}, max |embedding diff| ${maxEmbeddingDiff.toExponential(2)}`,
);

const dev = readFileSync(join(REPO_ROOT, 'data/sst2/dev.tsv'), 'utf8')
  .split('\n')
  .slice(1)
  .filter(Boolean)
  .map((line) => line.split('\t'))
  .map(([text, label]) => ({ text: text!, label: Number(label) }));
const results = await engine.score(dev.map((row) => row.text));
let tp = 0;
let fp = 0;
let fn = 0;
let correct = 0;
results.forEach((result, i) => {
  const truth = dev[i]!.label;
  if (result.labelIndex === truth) correct++;
  if (result.labelIndex === 1 && truth === 1) tp++;
  if (result.labelIndex === 1 && truth === 0) fp++;
  if (result.labelIndex === 0 && truth === 1) fn++;
});
const precision = tp / (tp + fp);
const recall = tp / (tp + fn);
const metrics = {
  accuracy: correct / dev.length,
  f1: (2 * precision * recall) / (precision + recall),
  precision,
  recall,
  n: dev.length,
};
console.log(
  `[sst2-dev] accuracy ${metrics.accuracy.toFixed(4)} F1 ${metrics.f1.toFixed(4)} ` +
    `P ${precision.toFixed(4)} R ${recall.toFixed(4)} (n=${dev.length})`,
);
await engine.release();
if (values.json) {
  const report = {
    folder,
    parity: { cases: parity.length, idMismatches, maxProbabilityDiff, maxEmbeddingDiff },
    sst2Dev: metrics,
  };
  writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
}
const failed =
  idMismatches > 0 ||
  maxProbabilityDiff > TOLERANCE ||
  maxEmbeddingDiff > TOLERANCE ||
  metrics.accuracy < Number(values['min-accuracy']);
if (failed) {
  console.error('[check] FAILED');
  process.exit(1);
}
console.log('[check] OK');
