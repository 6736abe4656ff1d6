/**
 * Builds a model folder's drift reference (reference.json + reference-sample.f32) from
 * full SST-2 train sentences, embedded by the folder's own model through the production
 * runtime:
 *
 *   node --import tsx scripts/build-reference.ts [model folder] [--sentences 4000] [--seed 2024]
 *
 * Why sentences: SST-2 train is 67k phrases (median 7 tokens); live traffic is sentences and
 * reviews. A reference of phrases makes every window of ordinary in-domain sentences look
 * drifted (docs/drift.md measures it), so the reference is 4,000 of the 6,885 full sentences
 * (train rows contained in no other row), drawn with a fixed seed; the remaining sentences
 * and SST-2 dev are the in-domain traffic the drift benchmark and tests use. Each sample row
 * keeps its train row (`text_index`) and true label, so a retrainer can reuse it as labelled
 * reference data.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildDriftReference, embeddingMatrix, writeDriftReference } from '#domain/drift';
import { SentimentEngine, readModelFolder } from '#domain/model';
import { REPO_ROOT } from './lib/repo.ts';
import { SST2_TRAIN, referenceSentences } from './lib/sst2.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    sentences: { type: 'string', default: '4000' },
    seed: { type: 'string', default: '2024' },
  },
});
const folder = resolve(positionals[0] ?? join(REPO_ROOT, 'models/sentiment-compact'));
const count = Number(values.sentences);
const seed = Number(values.seed);

const { rows, selected } = referenceSentences(count, seed);
console.error(`[reference] ${selected.length} full sentences of ${SST2_TRAIN}; embedding`);
const info = readModelFolder(folder);
const engine = await SentimentEngine.load(folder);
const data = new Float32Array(selected.length * info.hiddenSize);
const predicted = new Int32Array(selected.length);
for (let start = 0; start < selected.length; start += 256) {
  const chunk = selected.slice(start, start + 256);
  const scored = await engine.score(chunk.map((index) => rows[index]!.text));
  scored.forEach((result, i) => {
    data.set(result.embedding, (start + i) * info.hiddenSize);
    predicted[start + i] = result.labelIndex;
  });
  process.stderr.write(`\r[reference] embedded ${Math.min(start + 256, selected.length)}`);
}
process.stderr.write('\n');
await engine.release();

const reference = buildDriftReference(
  { embeddings: embeddingMatrix(data, info.hiddenSize), predicted },
  { classLabels: info.labels, sampleSize: selected.length },
);
const sampleRows = reference.sampleRows ?? Int32Array.from(selected, (_, i) => i);
const trainSha = (
  JSON.parse(readFileSync(join(folder, 'model-card.json'), 'utf8')) as {
    training_data?: { sha256: string }[];
  }
).training_data?.[0]?.sha256;
writeDriftReference(
  folder,
  reference,
  {
    model: info.name,
    version: info.version,
    embedding: 'cls_embedding (last-layer [CLS] hidden state, before the pooler)',
    source: {
      file: SST2_TRAIN,
      sha256: trainSha ?? null,
      selection: `${selected.length} full sentences (train rows contained in no other row), seed ${seed}`,
      rows: selected.length,
    },
  },
  Array.from(sampleRows, (row) => ({
    text_index: selected[row]!,
    label: rows[selected[row]!]!.label,
  })),
);
const accuracy =
  Array.from(sampleRows).filter(
    (row, i) => reference.sample.predicted[i] === rows[selected[row]!]!.label,
  ).length / sampleRows.length;
console.log(
  JSON.stringify({
    folder,
    rows: reference.count,
    sample: reference.sample.embeddings.rows,
    positiveShare: reference.classShares[1],
    accuracyOnReference: Number(accuracy.toFixed(4)),
  }),
);
