/**
 * Drift null run, offline: in-domain text (held-out full SST-2 train sentences and SST-2 dev,
 * none in the reference) embedded by the model through the production runtime, then windows of
 * W rows judged by the drift service's statistics (domain-classifier AUC for input drift,
 * class mix for prediction drift) against the thresholds shipped with the model folder, with
 * the detector's hysteresis (DRIFT after k = 2 consecutive windows over threshold). A correct
 * calibration at alpha = 0.001 should give about 0.2 windows over threshold in 200 and no
 * DRIFT. (`npm run bench:drift` does the same end to end through Kafka and ClickHouse.)
 *   npm run bench:drift-null [-- --model models/sentiment-minilm --windows 200]
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { mulberry32, sampleWithoutReplacement } from '#platform/common';
import {
  type DriftThresholds,
  calibrationKey,
  driftCalibrationConfigFields,
  embeddingMatrix,
  evaluateWindow,
  initialDriftState,
  loadDriftReference,
  readShippedCalibrations,
  reduceDriftState,
} from '#domain/drift';
import { SentimentEngine } from '#domain/model';
import { REPO_ROOT } from '../lib/repo.ts';
import { SST2_DEV, readSst2, referenceSentences } from '../lib/sst2.ts';
import { progress } from './common.ts';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/sentiment-minilm' },
    windows: { type: 'string', default: '200' },
    seed: { type: 'string', default: '5' },
  },
});
const folder = resolve(REPO_ROOT, values.model);
const W = driftCalibrationConfigFields.windowSize.default!;
const alpha = driftCalibrationConfigFields.alpha.default!;
const thresholds = readShippedCalibrations(folder)[calibrationKey(W, alpha, true)] as
  DriftThresholds | undefined;
if (!thresholds) {
  console.error(
    `${folder} ships no thresholds for W ${W}, alpha ${alpha}: run scripts/calibrate-model.ts`,
  );
  process.exit(1);
}
const reference = loadDriftReference(folder);
const { rows, heldOut } = referenceSentences();
const texts = [
  ...heldOut.map((index) => rows[index]!.text),
  ...readSst2(SST2_DEV).map((r) => r.text),
];

progress(`embedding ${texts.length} in-domain texts with ${values.model}`);
const engine = await SentimentEngine.load(folder);
const data = new Float32Array(texts.length * reference.dim);
const predicted = new Int32Array(texts.length);
const started = performance.now();
for (let start = 0; start < texts.length; start += 256) {
  const scored = await engine.score(texts.slice(start, start + 256));
  scored.forEach((result, i) => {
    data.set(result.embedding, (start + i) * reference.dim);
    predicted[start + i] = result.labelIndex;
  });
  process.stderr.write(`\r[bench] embedded ${Math.min(start + 256, texts.length)}/${texts.length}`);
}
process.stderr.write('\n');
await engine.release();
const embedSeconds = (performance.now() - started) / 1000;

const random = mulberry32(Number(values.seed));
const hysteresis = { minWindowRows: W, driftAfter: 2, recoverAfter: 3 };
let input = reduceDriftState(
  initialDriftState('1'),
  { kind: 'model', version: '1' },
  hysteresis,
).state;
let prediction = input;
const over = { domainAuc: 0, classMix: 0 };
const alarms = { input: 0, prediction: 0 };
let maxAuc = 0;
const windows = Number(values.windows);
for (let w = 0; w < windows; w++) {
  const chosen = sampleWithoutReplacement(random, texts.length, W);
  const windowData = new Float32Array(W * reference.dim);
  chosen.forEach((row, i) =>
    windowData.set(
      data.subarray(row * reference.dim, (row + 1) * reference.dim),
      i * reference.dim,
    ),
  );
  const evaluation = evaluateWindow(
    reference,
    thresholds,
    {
      embeddings: embeddingMatrix(windowData, reference.dim),
      predicted: Int32Array.from(chosen, (row) => predicted[row]!),
    },
    { inputStatistics: ['domainAuc'], classifier: { seed: w } },
  );
  if (evaluation.over.domainAuc) over.domainAuc++;
  if (evaluation.over.classMix) over.classMix++;
  maxAuc = Math.max(maxAuc, evaluation.domainAuc ?? 0);
  const inputStep = reduceDriftState(
    input,
    { kind: 'window', rows: W, over: evaluation.inputDrift },
    hysteresis,
  );
  const predictionStep = reduceDriftState(
    prediction,
    { kind: 'window', rows: W, over: evaluation.predictionDrift },
    hysteresis,
  );
  if (inputStep.transition?.to === 'DRIFT') alarms.input++;
  if (predictionStep.transition?.to === 'DRIFT') alarms.prediction++;
  input = inputStep.state;
  prediction = predictionStep.state;
  if ((w + 1) % 20 === 0) progress(`${w + 1}/${windows} windows`);
}
console.log(
  `\nDrift null run: ${values.model} (dim ${reference.dim}), ${texts.length} in-domain texts ` +
    `embedded in ${embedSeconds.toFixed(0)} s; ${windows} windows of ${W}, alpha ${alpha}, k = 2`,
);
console.log(
  `windows over threshold: domain AUC ${over.domainAuc} (threshold ${thresholds.domainAuc?.threshold.toFixed(4)}, ` +
    `max ${maxAuc.toFixed(4)}), class mix ${over.classMix}; expected about ${(windows * alpha).toFixed(1)} each`,
);
console.log(`false alarms (DRIFT): input ${alarms.input}, prediction ${alarms.prediction}`);
