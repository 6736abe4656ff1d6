import { describe, expect, it } from 'vitest';
import { type Random, mulberry32 } from '#platform/common';
import {
  buildDriftReference,
  centroidCosineDistance,
  classConditionalCosine,
  classMixDistance,
  cosineDistance,
} from '#domain/drift';

function gaussian(random: Random): number {
  const u = 1 - random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

const DIM = 32;
/** Two classes apart along dimension 0, an offset of 5 everywhere (raw embeddings are not centred), optional domain shift along dims 3..5. */
function traffic(random: Random, rows: number, positiveShare: number, domain = 0) {
  const data = new Float64Array(rows * DIM);
  const predicted = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    const k = random() < positiveShare ? 1 : 0;
    predicted[r] = k;
    for (let j = 0; j < DIM; j++) {
      data[r * DIM + j] =
        5 + gaussian(random) + (j === 0 ? (k ? 2 : -2) : 0) + (j >= 3 && j <= 5 ? domain : 0);
    }
  }
  return { embeddings: { rows, dim: DIM, data }, predicted };
}

const reference = buildDriftReference(traffic(mulberry32(1), 20000, 0.5));

describe('drift statistics', () => {
  it('cosine distance', () => {
    expect(cosineDistance([1, 0], [0, 2])).toBeCloseTo(1, 12);
    expect(cosineDistance([1, 1], [2, 2])).toBeCloseTo(0, 12);
    expect(cosineDistance([1, 0], [-1, 0])).toBeCloseTo(2, 12);
    expect(cosineDistance([0, 0], [1, 0])).toBe(1);
  });

  it('class-conditional cosine ignores a class-mix change; the plain centroid does not', () => {
    const same = traffic(mulberry32(2), 1000, 0.5);
    const mix = traffic(mulberry32(3), 1000, 0.9);
    const shifted = traffic(mulberry32(4), 1000, 0.5, 0.5);
    const cosSame = classConditionalCosine(same, reference).value!;
    const cosMix = classConditionalCosine(mix, reference).value!;
    const cosShifted = classConditionalCosine(shifted, reference).value!;
    expect(cosMix).toBeLessThan(3 * cosSame + 0.02);
    expect(cosShifted).toBeGreaterThan(5 * cosSame);
    expect(centroidCosineDistance(mix, reference)).toBeGreaterThan(
      10 * centroidCosineDistance(same, reference),
    );
  });

  it('weights classes by window share and leaves out classes with too few rows', () => {
    const window = traffic(mulberry32(5), 300, 0.95);
    const result = classConditionalCosine(window, reference, 20);
    const [negative, positive] = result.perClass;
    expect(negative!.count + positive!.count).toBe(300);
    expect(negative!.count).toBeLessThan(20);
    expect(negative!.distance).toBeNull();
    expect(result.value).toBe(positive!.distance);
    const both = classConditionalCosine(window, reference, 1);
    const expected =
      (negative!.count * both.perClass[0]!.distance! +
        positive!.count * both.perClass[1]!.distance!) /
      300;
    expect(both.value).toBeCloseTo(expected, 12);
    expect(classConditionalCosine(window, reference, 1000).value).toBeNull();
  });

  it('class mix is the total variation distance of the shares', () => {
    const predicted = Int32Array.from({ length: 100 }, (_, i) => (i < 80 ? 1 : 0));
    const mix = classMixDistance(predicted, { classShares: Float64Array.from([0.45, 0.55]) });
    expect(mix.value).toBeCloseTo(0.25, 12);
    expect(Array.from(mix.windowShares)).toEqual([0.2, 0.8]);
  });

  it('refuses a window of another dimension', () => {
    const narrow = { embeddings: { rows: 1, dim: 3, data: new Float64Array(3) }, predicted: [0] };
    expect(() => classConditionalCosine(narrow, reference)).toThrow(/dim/);
  });
});
