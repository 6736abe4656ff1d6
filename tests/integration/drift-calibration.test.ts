/**
 * Calibration on real model embeddings: thresholds calibrated on the bootstrap model's
 * reference keep windows of in-domain traffic the reference never saw (held-out full SST-2
 * sentences and SST-2 dev, embedded here by the production runtime) under the threshold at
 * the stated rate. alpha is raised to 0.05 so that the rate is measurable with 100 windows;
 * the assertion is the binomial bound (a correct calibration fails it with probability
 * < 0.001), not a hand-picked number.
 */
import { describe, expect, it } from 'vitest';
import { mulberry32, sampleWithoutReplacement } from '#platform/common';
import {
  type EmbeddingWindow,
  calibrateInWorker,
  embeddingMatrix,
  evaluateWindow,
  loadDriftReference,
} from '#domain/drift';
import { embedTexts, inDomainTexts } from '../support/drift.ts';
import { COMPACT_MODEL_DIR } from '../support/model.ts';

const W = 200;
const ALPHA = 0.05;
const WINDOWS = 100;

/** Smallest k with P(Binomial(n, p) > k) < 0.001. */
function binomialUpperBound(n: number, p: number): number {
  let cumulative = 0;
  let term = (1 - p) ** n;
  for (let k = 0; k <= n; k++) {
    cumulative += term;
    if (1 - cumulative < 0.001) return k;
    term *= ((n - k) / (k + 1)) * (p / (1 - p));
  }
  return n;
}

describe('drift threshold calibration on real embeddings', () => {
  it(
    'in-domain windows exceed the AUC and class-mix thresholds at no more than the stated rate',
    { timeout: 600_000 },
    async () => {
      const reference = loadDriftReference(COMPACT_MODEL_DIR);
      const [thresholds, texts] = await Promise.all([
        calibrateInWorker(COMPACT_MODEL_DIR, { windowSize: W, alpha: ALPHA }),
        embedTexts(inDomainTexts(10_000)),
      ]);
      expect(texts.length).toBeGreaterThan(3_000);
      const data = new Float32Array(texts.length * reference.dim);
      texts.forEach((text, i) => data.set(text.embedding, i * reference.dim));
      const predicted = Int32Array.from(texts, (text) => (text.label === 'POSITIVE' ? 1 : 0));
      const random = mulberry32(42);
      const over = { domainAuc: 0, classMix: 0, cosine: 0 };
      for (let w = 0; w < WINDOWS; w++) {
        const rows = sampleWithoutReplacement(random, texts.length, W);
        const windowData = new Float32Array(W * reference.dim);
        rows.forEach((row, i) =>
          windowData.set(
            data.subarray(row * reference.dim, (row + 1) * reference.dim),
            i * reference.dim,
          ),
        );
        const window: EmbeddingWindow = {
          embeddings: embeddingMatrix(windowData, reference.dim),
          predicted: Int32Array.from(rows, (row) => predicted[row]!),
        };
        const evaluation = evaluateWindow(reference, thresholds, window, {
          classifier: { seed: w },
        });
        if (evaluation.over.domainAuc) over.domainAuc++;
        if (evaluation.over.classMix) over.classMix++;
        if (evaluation.over.cosine) over.cosine++;
      }
      const bound = binomialUpperBound(WINDOWS, ALPHA);
      console.log(
        `over threshold in ${WINDOWS} in-domain windows (alpha ${ALPHA}, bound ${bound}): ` +
          JSON.stringify(over),
      );
      expect(thresholds.domainAuc).not.toBeNull();
      expect(over.domainAuc).toBeLessThanOrEqual(bound);
      expect(over.classMix).toBeLessThanOrEqual(bound);
    },
  );
});
