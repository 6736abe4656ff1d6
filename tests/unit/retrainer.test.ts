import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '#shared/drift';
import type { DriftEvent } from '#shared/serde';
import { readHead, writeHead } from '../../services/retrainer/candidate.ts';
import {
  type Head,
  cloneHead,
  headGradient,
  headLoss,
  trainHead,
} from '../../services/retrainer/head.ts';
import { nextVersion, seedOf } from '../../services/retrainer/retrain.ts';
import { isHeldOut, triggerFromDriftEvent } from '../../services/retrainer/triggers.ts';
import { BOOTSTRAP_MODEL_DIR } from '../support/model.ts';

function driftEvent(overrides: Partial<DriftEvent> = {}): DriftEvent {
  return {
    eventId: 'e',
    eventTime: 2_000,
    modelName: 'sentiment',
    modelVersion: '1',
    segment: '*',
    kind: 'STATE_CHANGE',
    state: 'DRIFT',
    previousState: 'OK',
    predictionDriftState: 'OK',
    statistics: [],
    windowStart: 1_000,
    windowEnd: 2_000,
    windowSize: 200,
    classMix: {},
    episodeId: 'ep-1',
    reason: 'input OK -> DRIFT',
    ...overrides,
  };
}

describe('retraining triggers', () => {
  const policy = { modelName: 'sentiment', segments: ['*'] };
  it('a DRIFT state change of a watched segment starts at the drifted window', () => {
    expect(triggerFromDriftEvent(driftEvent(), policy)).toMatchObject({
      id: 'ep-1',
      kind: 'DRIFT',
      sinceMs: 1_000,
      modelVersion: '1',
    });
  });
  it('status events, recoveries, other segments and other models do not retrain', () => {
    for (const overrides of [
      { kind: 'STATUS' as const },
      { state: 'OK' as const },
      { segment: 'shop' },
      { modelName: 'other' },
      { episodeId: null },
    ]) {
      expect(triggerFromDriftEvent(driftEvent(overrides), policy)).toBeNull();
    }
  });
  it('the held-out split is a stable function of the event id, near its fraction', () => {
    const ids = Array.from({ length: 4000 }, (_, i) => `event-${i}`);
    const held = ids.filter((id) => isHeldOut(id, 0.25));
    expect(held.length / ids.length).toBeGreaterThan(0.22);
    expect(held.length / ids.length).toBeLessThan(0.28);
    expect(ids.filter((id) => isHeldOut(id, 0.25))).toEqual(held);
  });
  it('versions are numbered after the highest integer version; seeds follow the trigger', () => {
    expect(nextVersion([{ version: '1' }, { version: '3' }, { version: 'exp' }])).toBe('4');
    expect(nextVersion([])).toBe('1');
    expect(seedOf('ep-1')).toBe(seedOf('ep-1'));
    expect(seedOf('ep-1')).not.toBe(seedOf('ep-2'));
    expect(seedOf('ep-1', '42')).toBe(42);
  });
});

function smallHead(seed: number): Head {
  const random = mulberry32(seed);
  const dim = 5;
  const hidden = 4;
  const values = (n: number) => Float64Array.from({ length: n }, () => random() - 0.5);
  return {
    dim,
    hidden,
    classes: 2,
    P: values(hidden * dim),
    bp: values(hidden),
    C: values(2 * hidden),
    bc: values(2),
  };
}

function toyData(rows: number, seed: number) {
  const random = mulberry32(seed);
  const x = new Float32Array(rows * 5);
  const y = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    y[r] = random() < 0.5 ? 1 : 0;
    for (let j = 0; j < 5; j++)
      x[r * 5 + j] = (y[r] ? 0.8 : -0.8) * (j % 2 ? 1 : -1) + (random() - 0.5);
  }
  return { x, y };
}

describe('classification head', () => {
  it('analytic gradient matches finite differences', () => {
    const head = smallHead(1);
    const data = toyData(8, 2);
    const batch = Int32Array.from({ length: 8 }, (_, i) => i);
    const grad = cloneHead(head);
    headGradient(head, data, batch, grad);
    const eps = 1e-6;
    for (const key of ['P', 'bp', 'C', 'bc'] as const) {
      for (const index of [0, head[key].length - 1]) {
        const plus = cloneHead(head);
        plus[key][index]! += eps;
        const minus = cloneHead(head);
        minus[key][index]! -= eps;
        const numeric =
          (headLoss(plus, data, batch).loss - headLoss(minus, data, batch).loss) / (2 * eps);
        expect(grad[key][index]).toBeCloseTo(numeric, 5);
      }
    }
  });

  it('training is deterministic for a seed and learns a separable task', () => {
    const parent = smallHead(3);
    const data = toyData(600, 4);
    const a = trainHead(parent, data, { seed: 9, maxEpochs: 20, l2sp: 0 });
    const b = trainHead(parent, data, { seed: 9, maxEpochs: 20, l2sp: 0 });
    expect(Array.from(a.head.P)).toEqual(Array.from(b.head.P));
    expect(a.valAccuracy).toBeGreaterThan(0.9);
  });

  it('a strong L2-SP penalty keeps the head near its parent', () => {
    const parent = smallHead(5);
    const data = toyData(400, 6);
    const free = trainHead(parent, data, { seed: 1, maxEpochs: 10, l2sp: 0, patience: 100 });
    const held = trainHead(parent, data, { seed: 1, maxEpochs: 10, l2sp: 100, patience: 100 });
    const distance = (head: Head) =>
      Math.hypot(...Array.from(head.P, (value, i) => value - parent.P[i]!));
    expect(distance(held.head)).toBeLessThan(distance(free.head) / 5);
  });

  it('reads and writes the head of the real bootstrap graph', () => {
    const bytes = readFileSync(join(BOOTSTRAP_MODEL_DIR, 'onnx/model.onnx'));
    const head = readHead(bytes);
    expect([head.dim, head.hidden, head.classes]).toEqual([128, 128, 2]);
    const changed = cloneHead(head);
    changed.bc[1] = 0.25;
    const again = readHead(writeHead(bytes, changed));
    expect(again.bc[1]).toBeCloseTo(0.25, 6);
    expect(Array.from(again.P)).toEqual(Array.from(head.P));
  });
});
