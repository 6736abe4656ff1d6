/**
 * The drift detector's round logic with fakes for its adapters (the statistics, calibration
 * and state machine are the real ones): hysteresis over rounds, per-segment states, episode
 * ids, reset on a new production version, ERROR on an unusable reference or a missing
 * calibration (the detector reads thresholds, it never calibrates), and the order "checks
 * stored, then events published".
 */
import { describe, expect, it } from 'vitest';
import { createLogger, mulberry32 } from '#platform/common';
import {
  type DriftReference,
  type DriftThresholds,
  buildDriftReference,
  calibrateThresholds,
  embeddingMatrix,
} from '#domain/drift';
import type { DriftEvent } from '#platform/serde';
import type { DriftCheckRow } from '#platform/store';
import type { WindowRow } from '../../services/drift/drift-store.ts';
import {
  type DetectorDeps,
  DriftDetector,
  type ProductionModel,
} from '../../services/drift/detector.ts';
import { isDue } from '../../services/drift/scheduler.ts';

const DIM = 8;
const W = 200;

function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(random() || 1e-12)) * Math.cos(2 * Math.PI * random());
}

/** Rows around a class-dependent mean; `shift` moves every dimension (a new domain). */
function rows(n: number, seed: number, options: { shift?: number; positive?: number } = {}) {
  const random = mulberry32(seed);
  const out: WindowRow[] = [];
  for (let i = 0; i < n; i++) {
    const positive = random() < (options.positive ?? 0.5);
    const embedding = new Float32Array(DIM);
    for (let j = 0; j < DIM; j++) {
      embedding[j] =
        (positive ? 1 : -1) * (j % 2 ? 0.8 : 0.2) + gaussian(random) + (options.shift ?? 0);
    }
    out.push({
      eventId: `e${seed}-${i}`,
      eventTimeMs: 1_000_000 + i,
      source: 'web',
      label: positive ? 'POSITIVE' : 'NEGATIVE',
      groundTruth: null,
      embedding,
    });
  }
  return out;
}

function referenceOf(data: WindowRow[]): DriftReference {
  const flat = new Float32Array(data.length * DIM);
  data.forEach((row, r) => flat.set(row.embedding, r * DIM));
  return buildDriftReference(
    {
      embeddings: embeddingMatrix(flat, DIM),
      predicted: Int32Array.from(data, (row) => (row.label === 'POSITIVE' ? 1 : 0)),
    },
    { sampleSize: 4000 },
  );
}

const REFERENCE = referenceOf(rows(8000, 1));
let calibrated: DriftThresholds | undefined;
function thresholds(): DriftThresholds {
  calibrated ??= calibrateThresholds(REFERENCE, {
    windowSize: W,
    alpha: 0.001,
    classifierResamples: 0,
    seed: 3,
  });
  return calibrated;
}

interface Harness {
  detector: DriftDetector;
  checks: DriftCheckRow[][];
  events: DriftEvent[][];
  order: string[];
  setWindow: (segment: string, data: WindowRow[]) => void;
  setProduction: (version: string | null) => void;
  setCalibrations: (calibrations: Record<string, unknown> | null) => void;
}

function harness(overrides: Partial<DetectorDeps> = {}): Harness {
  let production: string | null = '1';
  // What the registry stored with the version (cosine-only detector settings below).
  let calibrations: Record<string, unknown> | null = { 'w200-a0.001': thresholds() };
  const windows = new Map<string, WindowRow[]>();
  const checks: DriftCheckRow[][] = [];
  const events: DriftEvent[][] = [];
  const order: string[] = [];
  let clock = 5_000_000;
  const deps: DetectorDeps = {
    modelName: 'sentiment',
    settings: {
      windowSize: W,
      alpha: 0.001,
      minWindowRows: W,
      driftAfter: 2,
      recoverAfter: 2,
      inputStatistics: ['cosine'],
      segments: true,
    },
    production: async (): Promise<ProductionModel | null> =>
      production === null
        ? null
        : { version: production, folder: `/models/${production}`, calibrations },
    loadReference: () => REFERENCE,
    readWindow: async (_version, source) => windows.get(source ?? '*') ?? [],
    activeSources: async () => [...windows.keys()].filter((key) => key !== '*'),
    restore: async () => new Map(),
    writeChecks: async (rows) => {
      order.push('checks');
      checks.push([...rows]);
    },
    publish: async (published) => {
      order.push('events');
      events.push([...published]);
    },
    now: () => (clock += 1_000),
    logger: createLogger('test', 'silent'),
    ...overrides,
  };
  return {
    detector: new DriftDetector(deps),
    checks,
    events,
    order,
    setWindow: (segment, data) => windows.set(segment, data),
    setProduction: (version) => (production = version),
    setCalibrations: (stored) => (calibrations = stored),
  };
}

const stateChanges = (events: DriftEvent[][]) =>
  events.flat().filter((event) => event.kind === 'STATE_CHANGE');

describe('drift detector rounds', () => {
  it('in-domain windows stay OK; a shifted domain goes to DRIFT after k windows, back after m', async () => {
    const h = harness();
    h.setWindow('*', rows(W, 10));
    const first = await h.detector.evaluate();
    expect(first.segments[0]).toMatchObject({ segment: '*', inputState: 'OK', rows: W });
    for (let i = 0; i < 5; i++) {
      h.setWindow('*', rows(W, 20 + i));
      expect((await h.detector.evaluate()).segments[0]!.inputState).toBe('OK');
    }
    h.setWindow('*', rows(W, 40, { shift: 1 }));
    expect((await h.detector.evaluate()).segments[0]!.inputState).toBe('OK'); // 1 of k = 2
    h.setWindow('*', rows(W, 41, { shift: 1 }));
    const drift = await h.detector.evaluate();
    expect(drift.segments[0]).toMatchObject({ inputState: 'DRIFT' });
    const episode = drift.segments[0]!.episodeId;
    expect(episode).toMatch(/^[0-9a-f-]{36}$/);
    const change = stateChanges(h.events).at(-1)!;
    expect(change).toMatchObject({ state: 'DRIFT', previousState: 'OK', episodeId: episode });
    expect(change.statistics.find((s) => s.name === 'class_conditional_cosine')?.exceeded).toBe(
      true,
    );

    // Same episode while drift lasts; recovered after m = 2 in-domain windows.
    h.setWindow('*', rows(W, 42, { shift: 1 }));
    expect((await h.detector.evaluate()).segments[0]!.episodeId).toBe(episode);
    h.setWindow('*', rows(W, 50));
    expect((await h.detector.evaluate()).segments[0]!.inputState).toBe('DRIFT');
    h.setWindow('*', rows(W, 51));
    const recovered = await h.detector.evaluate();
    expect(recovered.segments[0]).toMatchObject({ inputState: 'OK', episodeId: null });
    expect(stateChanges(h.events).at(-1)).toMatchObject({ state: 'OK', previousState: 'DRIFT' });
  });

  it('a change of class mix alone is prediction drift, not input drift', async () => {
    const h = harness();
    for (let i = 0; i < 3; i++) {
      h.setWindow('*', rows(W, 60 + i, { positive: 0.85 }));
      await h.detector.evaluate();
    }
    const last = h.checks.at(-1)![0]!;
    expect(last.inputState).toBe('OK');
    expect(last.predictionState).toBe('DRIFT');
    expect(last.positiveShare).toBeGreaterThan(0.75);
  });

  it('judges each source on its own: a shifted segment drifts while the global window does not', async () => {
    const h = harness();
    for (let i = 0; i < 3; i++) {
      h.setWindow('*', rows(W, 70 + i));
      h.setWindow('shop', rows(W, 80 + i, { shift: 1 }));
      h.setWindow('web', rows(W, 90 + i));
      await h.detector.evaluate();
    }
    const states = Object.fromEntries(h.checks.at(-1)!.map((c) => [c.segment, c.inputState]));
    expect(states).toEqual({ '*': 'OK', shop: 'DRIFT', web: 'OK' });
  });

  it('a small window is no evidence: INSUFFICIENT_DATA until a full window', async () => {
    const h = harness();
    h.setWindow('*', rows(W / 2, 100));
    expect((await h.detector.evaluate()).segments[0]!.inputState).toBe('INSUFFICIENT_DATA');
  });

  it('a new production version resets every segment against its own reference', async () => {
    const h = harness();
    for (let i = 0; i < 2; i++) {
      h.setWindow('*', rows(W, 110 + i, { shift: 1 }));
      await h.detector.evaluate();
    }
    expect(h.checks.at(-1)![0]!.inputState).toBe('DRIFT');
    h.setProduction('2');
    h.setWindow('*', rows(W, 120));
    const after = await h.detector.evaluate();
    expect(after.version).toBe('2');
    expect(after.segments[0]).toMatchObject({ inputState: 'OK', episodeId: null });
    const reset = stateChanges(h.events).find(
      (e) => e.modelVersion === '1' && e.state === 'INSUFFICIENT_DATA',
    );
    expect(reset?.reason).toContain('production version changed to 2');
  });

  it('an unusable reference is an ERROR state with its reason, never OK', async () => {
    const h = harness({
      loadReference: () => {
        throw new Error('reference.json: dim must be a positive integer');
      },
    });
    h.setWindow('*', rows(W, 130));
    const result = await h.detector.evaluate();
    expect(result.segments[0]).toMatchObject({ inputState: 'ERROR' });
    expect(result.segments[0]!.error).toContain('dim must be a positive integer');
    expect(h.checks[0]![0]!.error).toContain('dim must be');
    expect(stateChanges(h.events)[0]).toMatchObject({ state: 'ERROR' });
  });

  it('stores the checks before it publishes the events', async () => {
    const h = harness();
    h.setWindow('*', rows(W, 140));
    await h.detector.evaluate();
    expect(h.order).toEqual(['checks', 'events']);
  });

  it('a calibration made with the classifier serves a detector that decides by the cosine', async () => {
    const h = harness();
    h.setCalibrations({ 'w200-a0.001-auc': thresholds() });
    h.setWindow('*', rows(W, 150));
    expect((await h.detector.evaluate()).segments[0]).toMatchObject({ inputState: 'OK' });
  });

  it('no calibration for its settings: ERROR with the reason, OK once the registry stores one', async () => {
    const h = harness();
    h.setCalibrations({ 'w500-a0.001-auc': thresholds() });
    h.setWindow('*', rows(W, 170));
    const missing = await h.detector.evaluate();
    expect(missing.segments[0]).toMatchObject({ inputState: 'ERROR' });
    expect(missing.segments[0]!.error).toContain('no drift calibration w200-a0.001');
    expect(missing.segments[0]!.error).toContain('stored: w500-a0.001-auc');
    expect(h.checks[0]![0]).toMatchObject({ inputState: 'ERROR', inputThreshold: 0 });
    // Still missing: still ERROR, looked up again each round.
    expect((await h.detector.evaluate()).segments[0]!.inputState).toBe('ERROR');
    h.setCalibrations({ 'w500-a0.001-auc': thresholds(), 'w200-a0.001-auc': thresholds() });
    const found = await h.detector.evaluate();
    expect(found.segments[0]).toMatchObject({ inputState: 'OK', error: null });
    expect(stateChanges(h.events).at(-1)).toMatchObject({ state: 'OK', previousState: 'ERROR' });
  });

  it('a version the registry does not know is an ERROR, never OK', async () => {
    const h = harness();
    h.setCalibrations(null);
    h.setWindow('*', rows(W, 180));
    const result = await h.detector.evaluate();
    expect(result.segments[0]).toMatchObject({ inputState: 'ERROR' });
    expect(result.segments[0]!.error).toContain('version 1 is not in the registry');
  });

  it('a detector deciding by the AUC refuses a calibration without an AUC threshold', async () => {
    const h = harness({
      settings: {
        windowSize: W,
        alpha: 0.001,
        minWindowRows: W,
        driftAfter: 2,
        recoverAfter: 2,
        inputStatistics: ['domainAuc'],
        segments: false,
      },
    });
    // thresholds() was calibrated without the classifier: domainAuc is null.
    h.setCalibrations({ 'w200-a0.001-auc': thresholds() });
    h.setWindow('*', rows(W, 190));
    const result = await h.detector.evaluate();
    expect(result.segments[0]).toMatchObject({ inputState: 'ERROR' });
    expect(result.segments[0]!.error).toContain('no domain-classifier threshold');
  });

  it('resumes a segment in DRIFT with its episode after a restart', async () => {
    const h = harness({
      restore: async () =>
        new Map([['*', { inputState: 'DRIFT', predictionState: 'OK', episodeId: 'ep-1' }]]),
    });
    h.setWindow('*', rows(W, 160, { shift: 1 }));
    expect((await h.detector.evaluate()).segments[0]).toMatchObject({
      inputState: 'DRIFT',
      episodeId: 'ep-1',
    });
  });
});

describe('drift schedule', () => {
  const settings = { everyPredictions: 500, intervalMs: 60_000, pollMs: 1_000 };
  it('runs at once, then after N new predictions or after the interval if anything arrived', () => {
    expect(isDue(settings, { lastRunMs: null, newPredictions: 0 }, 0)).toBe(true);
    expect(isDue(settings, { lastRunMs: 0, newPredictions: 499 }, 1_000)).toBe(false);
    expect(isDue(settings, { lastRunMs: 0, newPredictions: 500 }, 1_000)).toBe(true);
    expect(isDue(settings, { lastRunMs: 0, newPredictions: 1 }, 60_000)).toBe(true);
    expect(isDue(settings, { lastRunMs: 0, newPredictions: 0 }, 600_000)).toBe(false);
  });
});
