import { describe, expect, it } from 'vitest';
import { mulberry32 } from '#platform/common';
import {
  HeadTrainingError,
  type LabelledEmbeddings,
  type TanhHead,
  cloneHead,
  headLogits,
  headObjective,
  headPredict,
  headTrainingSets,
  mixTrainingData,
  stratifiedSample,
  stratifiedSplit,
  trainHead,
} from '../../services/retrainer/training/index.ts';

function randomHead(inputDim: number, hiddenDim: number, classes: number, seed: number): TanhHead {
  const random = mulberry32(seed);
  const values = (n: number, scale: number) =>
    Float64Array.from({ length: n }, () => scale * (2 * random() - 1));
  return {
    inputDim,
    hiddenDim,
    classes,
    poolerWeight: values(hiddenDim * inputDim, 0.5),
    poolerBias: values(hiddenDim, 0.1),
    classifierWeight: values(classes * hiddenDim, 0.5),
    classifierBias: values(classes, 0.1),
  };
}

/** Two Gaussian blobs along a random direction; `flip` of the labels are wrong. */
function blobs(rows: number, dim: number, seed: number, flip = 0): LabelledEmbeddings {
  const random = mulberry32(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const x = new Float32Array(rows * dim);
  const y = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    const label = r % 3 === 0 ? 0 : 1;
    for (let j = 0; j < dim; j++) x[r * dim + j] = gauss() + (j < 3 ? (label ? 1 : -1) : 0);
    y[r] = random() < flip ? 1 - label : label;
  }
  return { x, dim, y };
}

const flat = (head: TanhHead) => [
  ...head.poolerWeight,
  ...head.poolerBias,
  ...head.classifierWeight,
  ...head.classifierBias,
];

describe('head objective', () => {
  it('has the gradient of its loss (central differences), penalties included', () => {
    const head = randomHead(5, 4, 3, 1);
    const anchor = randomHead(5, 4, 3, 2);
    const data = blobs(12, 5, 3);
    const labelled = {
      ...data,
      y: Int32Array.from(data.y, (v, i) => (i % 4 === 0 ? 2 : v)),
      weights: Float64Array.from({ length: 12 }, (_, i) => 0.5 + (i % 3)),
    };
    const regularisation = { l2sp: 0.3, l2: 0.05, anchor };
    const { gradient } = headObjective(head, labelled, regularisation);
    const analytic = flat(gradient);
    const keys = ['poolerWeight', 'poolerBias', 'classifierWeight', 'classifierBias'] as const;
    let index = 0;
    for (const key of keys) {
      for (let i = 0; i < head[key].length; i++, index++) {
        const h = 1e-6;
        const plus = cloneHead(head);
        const minus = cloneHead(head);
        plus[key][i]! += h;
        minus[key][i]! -= h;
        const numeric =
          (headObjective(plus, labelled, regularisation).loss -
            headObjective(minus, labelled, regularisation).loss) /
          (2 * h);
        expect(Math.abs(numeric - analytic[index]!)).toBeLessThan(
          1e-6 * Math.max(1, Math.abs(numeric)),
        );
      }
    }
  });

  it('is the mean cross-entropy of the logits at the anchor', () => {
    const head = randomHead(4, 3, 2, 5);
    const data = blobs(6, 4, 6);
    const logits = headLogits(head, data.x);
    let expected = 0;
    for (let r = 0; r < 6; r++) {
      const s0 = logits[2 * r]!;
      const s1 = logits[2 * r + 1]!;
      const lse =
        Math.max(s0, s1) +
        Math.log(Math.exp(s0 - Math.max(s0, s1)) + Math.exp(s1 - Math.max(s0, s1)));
      expected += lse - (data.y[r] ? s1 : s0);
    }
    expect(headObjective(head, data, { l2sp: 1 }).loss).toBeCloseTo(expected / 6, 12);
    expect(Array.from(headPredict(head, data.x))).toEqual(
      Array.from({ length: 6 }, (_, r) => (logits[2 * r + 1]! > logits[2 * r]! ? 1 : 0)),
    );
  });
});

describe('trainHead', () => {
  const parent = randomHead(8, 6, 2, 11);
  const data = blobs(600, 8, 12, 0.05);

  it('learns, reports progress per epoch (epoch 0 = the parent) and is deterministic for a seed', () => {
    const epochs: number[] = [];
    const first = trainHead(data, parent, {
      seed: 3,
      maxEpochs: 8,
      learningRate: 1e-2,
      onProgress: (p) => epochs.push(p.epoch),
    });
    expect(epochs).toEqual(first.history.map((p) => p.epoch));
    expect(epochs[0]).toBe(0);
    expect(first.summary.validation.f1).toBeGreaterThan(first.summary.parentValidation.f1);
    expect(first.summary.validation.loss).toBeLessThan(first.summary.parentValidation.loss);
    expect(first.summary.trainRows + first.summary.validationRows).toBe(600);
    const again = trainHead(data, parent, { seed: 3, maxEpochs: 8, learningRate: 1e-2 });
    expect(flat(again.head)).toEqual(flat(first.head));
    const other = trainHead(data, parent, { seed: 4, maxEpochs: 8, learningRate: 1e-2 });
    expect(flat(other.head)).not.toEqual(flat(first.head));
    // The parent is not modified.
    expect(flat(parent)).toEqual(flat(randomHead(8, 6, 2, 11)));
  });

  it('stops after `patience` epochs without improvement and returns the best epoch', () => {
    // Labels independent of x: nothing generalises, validation loss stops improving quickly.
    const noise = {
      ...blobs(400, 8, 13),
      y: Int32Array.from({ length: 400 }, (_, i) => (i * 7) % 2),
    };
    const result = trainHead(noise, parent, {
      seed: 1,
      maxEpochs: 50,
      patience: 2,
      learningRate: 3e-2,
    });
    expect(result.summary.stoppedEarly).toBe(true);
    expect(result.summary.stoppedBy).toBe('patience');
    expect(result.summary.epochs).toBe(result.summary.bestEpoch + 2);
    expect(result.summary.epochs).toBeLessThan(50);
    const best = result.history[result.summary.bestEpoch]!;
    expect(best.valLoss).toBe(Math.min(...result.history.map((p) => p.valLoss)));
    // The returned head is the best epoch's: its validation figures are the summary's.
    expect(result.summary.validation.loss).toBeCloseTo(best.valLoss, 12);
  });

  it('L2-SP keeps the head closer to the parent', () => {
    const distance = (head: TanhHead) =>
      Math.sqrt(flat(head).reduce((s, v, i) => s + (v - flat(parent)[i]!) ** 2, 0));
    const options = { seed: 2, maxEpochs: 6, patience: 100, learningRate: 1e-2 };
    const free = trainHead(data, parent, { ...options, l2sp: 0 });
    const held = trainHead(data, parent, { ...options, l2sp: 1 });
    expect(distance(held.head)).toBeLessThan(0.7 * distance(free.head));
  });

  it("'linear' mode trains the classifier only", () => {
    const result = trainHead(data, parent, {
      seed: 1,
      mode: 'linear',
      maxEpochs: 5,
      learningRate: 1e-2,
    });
    expect(Array.from(result.head.poolerWeight)).toEqual(Array.from(parent.poolerWeight));
    expect(Array.from(result.head.poolerBias)).toEqual(Array.from(parent.poolerBias));
    expect(Array.from(result.head.classifierWeight)).not.toEqual(
      Array.from(parent.classifierWeight),
    );
    expect(result.summary.validation.loss).toBeLessThan(result.summary.parentValidation.loss);
  });

  it('uses a given validation set and row weights', () => {
    const validation = blobs(100, 8, 14);
    const weights = Float64Array.from({ length: 600 }, (_, i) => (i < 300 ? 1 : 0));
    const result = trainHead({ ...data, weights }, parent, { seed: 1, maxEpochs: 3, validation });
    expect(result.summary.trainRows).toBe(600);
    expect(result.summary.validationRows).toBe(100);
  });

  it('rejects bad data and options with HEAD_TRAINING_INVALID', () => {
    const cases: [LabelledEmbeddings, object][] = [
      [{ ...data, y: Int32Array.from(data.y, (v, i) => (i === 5 ? 2 : v)) }, {}],
      [{ x: data.x, dim: 7, y: data.y }, {}],
      [{ ...data, x: Float32Array.from(data.x, (v, i) => (i === 3 ? NaN : v)) }, {}],
      [{ ...data, weights: new Float64Array(3) }, {}],
      [data, { learningRate: 0 }],
      [data, { patience: 0 }],
    ];
    for (const [input, options] of cases) {
      expect(() => trainHead(input, parent, options)).toThrow(
        expect.objectContaining({ code: 'HEAD_TRAINING_INVALID' }),
      );
    }
    expect(() => trainHead(data, parent, { validationFraction: 1 })).toThrow(HeadTrainingError);
  });
});

describe('training data', () => {
  const labels = Int32Array.from({ length: 100 }, (_, i) => (i < 30 ? 0 : 1));

  it('splits and samples stratified, deterministically', () => {
    const split = stratifiedSplit(labels, 0.2, 9);
    expect(split.validation.length).toBe(20);
    expect(Array.from(split.validation).filter((r) => labels[r] === 0).length).toBe(6);
    expect(new Set([...split.train, ...split.validation]).size).toBe(100);
    expect(stratifiedSplit(labels, 0.2, 9)).toEqual(split);
    const sample = stratifiedSample(labels, 33, 4);
    expect(sample.length).toBe(33);
    expect(Array.from(sample).filter((r) => labels[r] === 0).length).toBe(10);
    expect(stratifiedSample(labels, 500, 4).length).toBe(100);
  });

  it('mixes recent rows with weighted reference rows and keeps validation rows out of training', () => {
    const recent = blobs(40, 4, 1);
    const reference = blobs(200, 4, 2);
    const mixed = mixTrainingData(recent, reference, { referenceRatio: 1.5, referenceWeight: 0.5 });
    expect(mixed.recentRows).toBe(40);
    expect(mixed.referenceRows).toBe(60);
    expect(mixed.y.length).toBe(100);
    expect(mixed.weights[0]).toBe(1);
    expect(mixed.weights[99]).toBe(0.5);
    expect(mixed.source[39]).toBe('recent');
    expect(mixed.source[40]).toBe('reference');
    const r = mixed.sourceRow[45]!;
    expect(Array.from(mixed.x.subarray(45 * 4, 46 * 4))).toEqual(
      Array.from(reference.x.subarray(r * 4, r * 4 + 4)),
    );

    const sets = headTrainingSets(recent, reference, {
      referenceRatio: 1,
      validationFraction: 0.25,
      seed: 3,
    });
    // 14 NEGATIVE and 26 POSITIVE recent rows: round(3.5) + round(6.5) = 11 held out.
    expect(sets.validation.y.length).toBe(11);
    expect(sets.train.recentRows).toBe(29);
    expect(sets.train.referenceRows).toBe(40);
    // Every validation row is a recent row that does not train.
    const trainedRecent = new Set(Array.from(sets.train.sourceRow.subarray(0, 29)));
    const key = (x: ArrayLike<number>, r: number) =>
      Array.from({ length: 4 }, (_, j) => x[r * 4 + j]).join();
    const recentKeys = new Map(Array.from({ length: 40 }, (_, r) => [key(recent.x, r), r]));
    for (let v = 0; v < 11; v++) {
      const row = recentKeys.get(key(sets.validation.x, v));
      expect(row).toBeDefined();
      expect(trainedRecent.has(row!)).toBe(false);
    }
    const mixedSets = headTrainingSets(recent, reference, {
      validateOn: 'mixed',
      validationFraction: 0.1,
    });
    expect(mixedSets.validation.y.length + mixedSets.train.y.length).toBe(60);
  });
});
