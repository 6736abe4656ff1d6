/**
 * What a serving process runs for one model (#domain/scoring serving-models.ts): the stable
 * canary split by review id, the bounded shadow lane that sheds instead of queueing, and the
 * candidate slot of ServingModels (load, re-role, retire), with model hosts faked.
 */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createLogger } from '#platform/common';
import type { ModelHost, ModelInfo, ScoredBatch } from '#domain/model';
import {
  ServingModels,
  ProductionLoad,
  ShadowLane,
  canaryBucket,
  createShadowLane,
  routesToCanary,
} from '#domain/scoring';

const logger = createLogger('test', 'fatal');

/** A promise with its resolve and reject, to hold work or a load open. */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('canary routing by review id', () => {
  const ids = Array.from({ length: 10_000 }, (_, i) => `review-${i}`);

  it('is stable: the same review id always lands in the same bucket, in [0, 1)', () => {
    for (const id of ids.slice(0, 200)) {
      const bucket = canaryBucket(id);
      expect(bucket).toBeGreaterThanOrEqual(0);
      expect(bucket).toBeLessThan(1);
      expect(canaryBucket(id)).toBe(bucket);
    }
    expect(canaryBucket('review-1')).not.toBe(canaryBucket('review-2'));
  });

  it('is uniform: a share of 0.1 routes 10% (± 1.5%) of 10,000 reviews', () => {
    const routed = ids.filter((id) => routesToCanary(id, 0.1)).length;
    expect(routed).toBeGreaterThanOrEqual(850);
    expect(routed).toBeLessThanOrEqual(1_150);
    const half = ids.filter((id) => routesToCanary(id, 0.5)).length;
    expect(half).toBeGreaterThanOrEqual(4_850);
    expect(half).toBeLessThanOrEqual(5_150);
  });

  it('a larger share keeps every review a smaller one routed (raising it moves none back)', () => {
    for (const id of ids) {
      if (routesToCanary(id, 0.05)) expect(routesToCanary(id, 0.2), id).toBe(true);
      expect(routesToCanary(id, 0.2)).toBe(canaryBucket(id) < 0.2);
    }
  });

  it('a share of 0 routes nothing', () => {
    expect(ids.some((id) => routesToCanary(id, 0))).toBe(false);
    // Even the id whose bucket is the smallest.
    const lowest = ids.reduce((a, b) => (canaryBucket(a) <= canaryBucket(b) ? a : b));
    expect(routesToCanary(lowest, 0)).toBe(false);
    expect(routesToCanary(lowest, 0.5)).toBe(true);
  });
});

describe('production load', () => {
  it('is the busy share of the window: idle 0, saturated 1, half busy about 0.5', async () => {
    let now = 0;
    const load = new ProductionLoad(1_000, () => now);
    expect(load.utilization()).toBe(0);
    const held = deferred();
    const running = load.track(() => held.promise);
    now = 400;
    expect(load.utilization()).toBeCloseTo(0.4);
    now = 1_000;
    expect(load.utilization()).toBeCloseTo(1);
    held.resolve();
    await running;
    now = 1_500; // busy 0..1000, idle since: half of the last second was busy
    expect(load.utilization()).toBeCloseTo(0.5);
    now = 2_500;
    expect(load.utilization()).toBe(0);
  });

  it('counts overlapping requests once', async () => {
    let now = 0;
    const load = new ProductionLoad(1_000, () => now);
    const a = deferred();
    const b = deferred();
    const first = load.track(() => a.promise);
    now = 100;
    const second = load.track(() => b.promise);
    now = 300;
    a.resolve();
    await first;
    now = 500;
    b.resolve();
    await second;
    now = 1_000;
    expect(load.utilization()).toBeCloseTo(0.5);
  });
});

describe('shadow lane', () => {
  it('runs a batch larger than the bound when the lane is idle (a backlog is still shadowed)', async () => {
    const lane = new ShadowLane({ maxPendingTexts: 10 });
    const held = deferred();
    expect(lane.offer(25, () => held.promise)).toBe(true);
    // Not idle any more: the next one waits its turn by being shed.
    expect(lane.offer(1, async () => undefined)).toBe(false);
    held.resolve();
    await lane.drain();
    expect(lane.totals).toMatchObject({ offered: 26, shed: 1, scored: 25 });
  });

  it('sheds everything while production is overloaded, and runs again once it is not', async () => {
    let overloaded = true;
    const reasons: string[] = [];
    const lane = new ShadowLane({
      maxPendingTexts: 100,
      overloaded: () => overloaded,
      onShed: (n, reason) => reasons.push(`${n} ${reason}`),
    });
    let called = false;
    expect(lane.offer(5, async () => void (called = true))).toBe(false);
    expect(called).toBe(false);
    overloaded = false;
    expect(lane.offer(5, async () => void (called = true))).toBe(true);
    await lane.drain();
    expect(called).toBe(true);
    expect(reasons).toEqual(['5 load']);
    expect(lane.totals).toMatchObject({ offered: 10, shed: 5, shedForLoad: 5, scored: 5 });
  });

  it('a work that throws synchronously counts as failed and never reaches the caller', async () => {
    const lane = new ShadowLane({ maxPendingTexts: 10 });
    expect(
      lane.offer(2, () => {
        throw new Error('sync');
      }),
    ).toBe(true);
    await lane.drain();
    expect(lane.totals).toMatchObject({ failed: 2 });
    expect(lane.pendingTexts).toBe(0);
  });

  it('sheds work that would pass maxPendingTexts, never calls it, and counts every text', async () => {
    const events: string[] = [];
    const lane = new ShadowLane({
      maxPendingTexts: 10,
      onScored: (n) => events.push(`scored ${n}`),
      onShed: (n) => events.push(`shed ${n}`),
    });
    const first = deferred();
    const second = deferred();
    let shedCalled = false;
    expect(lane.offer(6, () => first.promise)).toBe(true);
    expect(
      lane.offer(5, async () => {
        shedCalled = true;
      }),
    ).toBe(false);
    // Exactly at the bound is allowed.
    expect(lane.offer(4, () => second.promise)).toBe(true);
    expect(lane.offer(1, async () => void (shedCalled = true))).toBe(false);
    expect(lane.pendingTexts).toBe(10);
    expect(lane.totals).toEqual({ offered: 16, shed: 6, shedForLoad: 0, scored: 0, failed: 0 });

    first.resolve();
    await first.promise;
    await new Promise((resolve) => setImmediate(resolve));
    expect(lane.pendingTexts).toBe(4);
    // Room again once work finished.
    expect(lane.offer(6, async () => undefined)).toBe(true);
    second.resolve();
    await lane.drain();
    expect(shedCalled).toBe(false);
    expect(lane.pendingTexts).toBe(0);
    expect(lane.totals).toEqual({ offered: 22, shed: 6, shedForLoad: 0, scored: 16, failed: 0 });
    expect(events.filter((e) => e.startsWith('shed'))).toEqual(['shed 5', 'shed 1']);
  });

  it('drain waits for the work already running', async () => {
    const lane = new ShadowLane({ maxPendingTexts: 100 });
    const held = deferred();
    let finished = false;
    lane.offer(3, async () => {
      await held.promise;
      finished = true;
    });
    let drained = false;
    const draining = lane.drain().then(() => {
      drained = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(drained).toBe(false);
    held.resolve();
    await draining;
    expect(finished).toBe(true);
    expect(lane.totals.scored).toBe(3);
    await lane.drain(); // nothing running: resolves at once
  });

  it('a failing work is counted as failed, reported, and rejects nothing', async () => {
    const failures: [number, unknown][] = [];
    const lane = new ShadowLane({
      maxPendingTexts: 10,
      onFailed: (n, error) => failures.push([n, error]),
    });
    const boom = new Error('candidate worker died');
    expect(lane.offer(2, () => Promise.reject(boom))).toBe(true);
    expect(
      lane.offer(3, async () => {
        throw boom;
      }),
    ).toBe(true);
    await expect(lane.drain()).resolves.toBeUndefined();
    expect(lane.totals).toEqual({ offered: 5, shed: 0, shedForLoad: 0, scored: 0, failed: 5 });
    expect(failures).toEqual([
      [2, boom],
      [3, boom],
    ]);
    expect(lane.pendingTexts).toBe(0);
  });

  it('createShadowLane reports shadow_texts_total by outcome and shadow_pending_texts', async () => {
    const registry = new Registry();
    const lane = createShadowLane(
      registry,
      { maxPendingTexts: 4, maxProductionLoad: 1 },
      () => 0,
      logger,
    );
    const held = deferred();
    lane.offer(3, () => held.promise);
    lane.offer(2, async () => undefined); // 5 > 4: shed
    const pending = await registry.getSingleMetricAsString('shadow_pending_texts');
    expect(pending).toMatch(/^shadow_pending_texts 3$/m);
    held.resolve();
    lane.offer(1, () => Promise.reject(new Error('x')));
    await lane.drain();
    const texts = await registry.getSingleMetricAsString('shadow_texts_total');
    expect(texts).toMatch(/shadow_texts_total\{outcome="scored",reason=""\} 3/);
    expect(texts).toMatch(/shadow_texts_total\{outcome="shed",reason="backlog"\} 2/);
    expect(texts).toMatch(/shadow_texts_total\{outcome="failed",reason=""\} 1/);
  });
});

/** A structural stand-in for a model host (a worker thread in the real one). */
interface FakeHost {
  readonly folder: string;
  readonly model: ModelInfo;
  isServing: boolean;
  closed: number;
  score(texts: readonly string[]): Promise<ScoredBatch>;
  close(): Promise<void>;
}

function fakeHost(folder: string): FakeHost {
  const version = folder.split('/').at(-1)!;
  const host: FakeHost = {
    folder,
    model: { version, path: folder } as ModelInfo,
    isServing: true,
    closed: 0,
    score: async () => ({ model: host.model, results: [] }),
    close: async () => {
      host.closed += 1;
      host.isServing = false;
    },
  };
  return host;
}

/**
 * ServingModels with `startHost` faked: every start is recorded; a folder in `failing`
 * rejects; a folder in `holds` waits for its promise.
 */
async function servingModels() {
  const started: FakeHost[] = [];
  const failing = new Set<string>();
  const holds = new Map<string, Promise<void>>();
  const models = await ServingModels.start('/artifacts/1', {
    engine: {},
    logger,
    startHost: async (folder) => {
      await holds.get(folder);
      if (failing.has(folder)) throw new Error(`cannot load ${folder}`);
      const host = fakeHost(folder);
      started.push(host);
      // ModelHost has private members: the one cast, the fake is structural otherwise.
      return host as unknown as ModelHost;
    },
  });
  const host = (version: string) => started.find((h) => h.model.version === version);
  return { models, started, failing, holds, host };
}

const canary = (version: string, trafficShare: number) => ({
  version,
  role: 'CANARY' as const,
  trafficShare,
  folder: `/artifacts/${version}`,
});
const shadow = (version: string) => ({
  version,
  role: 'SHADOW' as const,
  trafficShare: 0,
  folder: `/artifacts/${version}`,
});

describe('serving models: production and a candidate', () => {
  it('starts production only; no candidate role until the plan names one', async () => {
    const { models, started } = await servingModels();
    expect(started.map((h) => h.folder)).toEqual(['/artifacts/1']);
    expect(models.model.version).toBe('1');
    expect(models.candidate).toBeNull();
    expect(models.canary()).toBeUndefined();
    expect(models.candidateHost('SHADOW')).toBeUndefined();
    expect(models.candidateHost('CANARY')).toBeUndefined();
    expect((await models.scoreProduction(['t'])).model.version).toBe('1');
  });

  it('loads a new version in its own host; canary() and candidateHost() follow its role', async () => {
    const { models, host } = await servingModels();
    await models.setCandidate(shadow('2'));
    const two = host('2')!;
    expect(models.candidate).toEqual({ version: '2', role: 'SHADOW', trafficShare: 0 });
    expect(models.candidateHost('SHADOW')).toBe(two);
    expect(models.candidateHost('CANARY')).toBeUndefined();
    expect(models.canary()).toBeUndefined();
    // Production is untouched.
    expect((await models.scoreProduction(['t'])).model.version).toBe('1');
  });

  it('re-roles the same version without loading it again', async () => {
    const { models, started, host } = await servingModels();
    await models.setCandidate(shadow('2'));
    await models.setCandidate(canary('2', 0.1));
    expect(started.map((h) => h.model.version)).toEqual(['1', '2']);
    expect(models.candidate).toEqual({ version: '2', role: 'CANARY', trafficShare: 0.1 });
    expect(models.canary()).toEqual({ host: host('2'), trafficShare: 0.1 });
    expect(models.candidateHost('SHADOW')).toBeUndefined();
    expect(models.candidateHost('CANARY')).toBe(host('2'));
    await models.setCandidate(canary('2', 0.25));
    expect(models.canary()?.trafficShare).toBe(0.25);
    expect(started).toHaveLength(2);
    expect(host('2')!.closed).toBe(0);
  });

  it('another version replaces the candidate, and the old one is closed after the switch', async () => {
    const { models, host } = await servingModels();
    await models.setCandidate(shadow('2'));
    const two = host('2')!;
    let servingWhenClosed: string | undefined;
    const close = two.close;
    two.close = async () => {
      servingWhenClosed = models.candidate?.version;
      await close();
    };
    await models.setCandidate(canary('3', 0.2));
    expect(two.closed).toBe(1);
    // The switch happened before the old one was retired.
    expect(servingWhenClosed).toBe('3');
    expect(models.candidate).toEqual({ version: '3', role: 'CANARY', trafficShare: 0.2 });
    expect(models.canary()?.host).toBe(host('3'));
    expect(host('3')!.closed).toBe(0);
  });

  it('null retires the candidate (closed once); production keeps serving', async () => {
    const { models, host } = await servingModels();
    await models.setCandidate(canary('2', 0.1));
    await models.setCandidate(null);
    expect(models.candidate).toBeNull();
    expect(models.canary()).toBeUndefined();
    expect(host('2')!.closed).toBe(1);
    expect(host('1')!.closed).toBe(0);
    await models.setCandidate(null); // nothing to retire
    expect(host('2')!.closed).toBe(1);
  });

  it('a failed load keeps the previous candidate, and later changes still apply', async () => {
    const { models, failing, host } = await servingModels();
    await models.setCandidate(canary('2', 0.1));
    failing.add('/artifacts/3');
    await expect(models.setCandidate(shadow('3'))).rejects.toThrow(/cannot load/);
    expect(models.candidate).toEqual({ version: '2', role: 'CANARY', trafficShare: 0.1 });
    expect(models.canary()?.host).toBe(host('2'));
    expect(host('2')!.closed).toBe(0);
    await models.setCandidate(shadow('4'));
    expect(models.candidate?.version).toBe('4');
    expect(host('2')!.closed).toBe(1);
  });

  it('changes are serialised: the last one asked for wins even if an earlier load is slower', async () => {
    const { models, holds, host } = await servingModels();
    const slow = deferred();
    holds.set('/artifacts/2', slow.promise);
    const first = models.setCandidate(shadow('2'));
    const second = models.setCandidate(canary('3', 0.3));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(models.candidate).toBeNull();
    slow.resolve();
    await Promise.all([first, second]);
    expect(models.candidate).toEqual({ version: '3', role: 'CANARY', trafficShare: 0.3 });
    expect(host('2')!.closed).toBe(1);
  });

  it('isServing needs the workers that answer: production and a canary, not a shadow; close closes both', async () => {
    const { models, host } = await servingModels();
    await models.setCandidate(shadow('2'));
    expect(models.isServing).toBe(true);
    host('2')!.isServing = false;
    // A dead shadow worker answers nobody: serving goes on (its shadow work fails, counted).
    expect(models.isServing).toBe(true);
    await models.setCandidate({ version: '2', role: 'CANARY', trafficShare: 0.2, folder: '/m/2' });
    expect(models.isServing).toBe(false);
    host('2')!.isServing = true;
    expect(models.isServing).toBe(true);
    host('1')!.isServing = false;
    expect(models.isServing).toBe(false);
    host('1')!.isServing = true;
    await models.close();
    expect([host('1')!.closed, host('2')!.closed]).toEqual([1, 1]);
    expect(models.candidate).toBeNull();
  });
});
