/**
 * The console's live trial (GET /v1/console/models/live, services/gateway/console-api/
 * live-trial-view.ts): the serving plan and the candidate's assessment by the promoter's own
 * `assessLiveTrial`, behind the read scope, in a fixed JSON shape; 503 when ClickHouse fails;
 * the reader's reuse of a recent assessment; the gate settings read from a config.
 */
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '#platform/common';
import type {
  CandidateAssignment,
  ServedLabelled,
  ServedLabelledQuery,
  ServingPlan,
  ShadowPair,
  ShadowPairsQuery,
} from '#platform/store';
import {
  type LiveEvidenceSource,
  type LiveTrialSettings,
  assessLiveTrial,
  liveTrialConfigFields,
} from '#domain/registry';
import { ApiKeyRing, createApiKey } from '../../services/gateway/api-keys.ts';
import { type GatewayDeps, buildApp } from '../../services/gateway/app.ts';
import {
  DEFAULT_LIVE_TRIAL_SETTINGS,
  consoleLiveTrialConfigFields,
  createLiveTrialReader,
  liveTrialSettingsOf,
} from '../../services/gateway/console-api/live-trial-view.ts';
import type { ConsoleSources } from '../../services/gateway/routes/console-api.ts';
import { gatewayHarness, testSecurity } from '../support/gateway.ts';

const NOW = 1_700_000_000_000;
const MINUTE_MS = 60_000;
const URL = '/v1/console/models/live';

const keys = {
  admin: createApiKey('ops-admin', ['admin']),
  read: createApiKey('analyst', ['read']),
  predict: createApiKey('billing', ['predict']),
};
const as = (role: keyof typeof keys) => ({ authorization: `Bearer ${keys[role].key}` });

/** Small gates, so a few hundred fake events decide. */
const SETTINGS: LiveTrialSettings = {
  shadowMinEvents: 100,
  shadowMinLabelled: 50,
  shadowMaxLabelled: 5_000,
  shadowMaxWaitMs: 60 * MINUTE_MS,
  liveMargin: 0.02,
  liveConfidence: 0.95,
  canaryMinLabelled: 40,
  canaryMargin: 0.05,
  canaryMaxWaitMs: 120 * MINUTE_MS,
};

const label = (positive: boolean) => (positive ? 'POSITIVE' : 'NEGATIVE');

/**
 * `events` shadow pairs, the first `labelled` with a ground truth. Production errs on every
 * 7th event, the candidate on every 9th, and the two disagree on both.
 */
function shadowPairs(events: number, labelled: number): ShadowPair[] {
  return Array.from({ length: events }, (_, i) => {
    const truth = i % 3 !== 0;
    return {
      eventId: `event-${i}`,
      production: label(i % 7 === 0 ? !truth : truth),
      candidate: label(i % 9 === 0 ? !truth : truth),
      groundTruth: i < labelled ? label(truth) : null,
    };
  });
}

/** `count` labelled predictions a version served, wrong on every `errEvery`th. */
function served(version: string, count: number, errEvery: number): ServedLabelled[] {
  return Array.from({ length: count }, (_, i) => {
    const truth = i % 2 === 0;
    return {
      eventId: `${version}-${i}`,
      label: label(i % errEvery === 0 ? !truth : truth),
      groundTruth: label(truth),
    };
  });
}

function candidate(role: 'SHADOW' | 'CANARY', overrides: Partial<CandidateAssignment> = {}) {
  return {
    version: '3',
    role,
    trafficShare: role === 'CANARY' ? 0.1 : 0,
    sinceMs: NOW - 10 * MINUTE_MS,
    decisionId: `enter-${role.toLowerCase()}`,
    ...overrides,
  } satisfies CandidateAssignment;
}

// ---------------------------------------------------------------------------------------------
// The app, with fake sources around the real reader

interface Fake {
  plan: ServingPlan;
  pairs: ShadowPair[];
  servedBy: Record<string, ServedLabelled[]>;
  readonly planCalls: ReturnType<typeof vi.fn<() => Promise<ServingPlan>>>;
  readonly shadowQueries: ShadowPairsQuery[];
  readonly servedQueries: ServedLabelledQuery[];
  readonly evidence: LiveEvidenceSource;
  failShadow: Error | null;
}

function fake(plan: ServingPlan): Fake {
  const state: Fake = {
    plan,
    pairs: [],
    servedBy: {},
    planCalls: vi.fn(async () => state.plan),
    shadowQueries: [],
    servedQueries: [],
    failShadow: null,
    evidence: {
      shadowPairs: async (query) => {
        state.shadowQueries.push(query);
        if (state.failShadow) throw state.failShadow;
        return state.pairs;
      },
      servedLabelled: async (query) => {
        state.servedQueries.push(query);
        return state.servedBy[query.version] ?? [];
      },
    },
  };
  return state;
}

const unused = () => Promise.reject(new Error('not in these tests'));

function sourcesOf(state: Fake): ConsoleSources {
  return {
    modelName: 'sentiment',
    now: () => NOW,
    pipeline: { subscribe: () => () => undefined },
    drift: {
      history: unused,
      episodes: unused,
      recent: () => [],
      subscribe: () => () => undefined,
    },
    registry: {
      list: unused,
      log: unused,
      plan: () => state.planCalls(),
      promote: unused,
      rollback: unused,
    },
    live: createLiveTrialReader({
      modelName: 'sentiment',
      plan: () => state.planCalls(),
      evidence: state.evidence,
      settings: SETTINGS,
      maxAgeMs: 0,
      now: () => NOW,
    }),
    requestRetrain: unused,
  };
}

const noScore: GatewayDeps['score'] = async () => {
  throw new Error('the console tests do not predict');
};

const apps: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

async function liveApp(state: Fake, rateLimitPerMinute = 10_000): Promise<FastifyInstance> {
  const app = await buildApp({
    ...gatewayHarness(noScore).deps,
    security: testSecurity({
      keys: ApiKeyRing.of(Object.values(keys).map((made) => made.record)),
      rateLimitPerMinute,
    }),
    // No built console: the API answers without one.
    console: { sources: sourcesOf(state), assetsDir: '/nonexistent/console' },
  });
  apps.push(app);
  return app;
}

const get = (app: FastifyInstance) => app.inject({ method: 'GET', url: URL, headers: as('read') });

// ---------------------------------------------------------------------------------------------

describe('GET /v1/console/models/live', () => {
  it('needs read: 401 without a key or with an unknown one, 403 predict-only', async () => {
    const state = fake({ production: '2', candidate: candidate('SHADOW') });
    const app = await liveApp(state);
    const anonymous = await app.inject({ method: 'GET', url: URL });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.json()).toMatchObject({ statusCode: 401, code: 'API_KEY_REQUIRED' });
    const unknown = await app.inject({
      method: 'GET',
      url: URL,
      headers: { authorization: `Bearer ${createApiKey('stranger', ['read']).key}` },
    });
    expect(unknown.statusCode).toBe(401);
    expect(unknown.json().code).toBe('API_KEY_INVALID');
    const predictOnly = await app.inject({ method: 'GET', url: URL, headers: as('predict') });
    expect(predictOnly.statusCode).toBe(403);
    expect(predictOnly.json()).toMatchObject({ statusCode: 403, code: 'SCOPE_MISSING' });
    // Refused before anything was read.
    expect(state.planCalls).not.toHaveBeenCalled();
    expect(state.shadowQueries).toEqual([]);

    for (const role of ['read', 'admin'] as const) {
      const allowed = await app.inject({ method: 'GET', url: URL, headers: as(role) });
      expect(allowed.statusCode, role).toBe(200);
    }
  });

  it('without a candidate: production serves alone, no assessment, no evidence read', async () => {
    const state = fake({ production: '2', candidate: null });
    const response = await get(await liveApp(state));
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      modelName: 'sentiment',
      time: NOW,
      production: '2',
      candidate: null,
      assessment: null,
    });
    expect(state.shadowQueries).toEqual([]);
    expect(state.servedQueries).toEqual([]);
  });

  it('with no production at all: both null', async () => {
    const response = await get(await liveApp(fake({ production: null, candidate: null })));
    expect(response.json()).toMatchObject({ production: null, candidate: null, assessment: null });
  });

  it('SHADOW: the evidence and verdict of assessLiveTrial, in the documented shape', async () => {
    const plan: ServingPlan = { production: '2', candidate: candidate('SHADOW') };
    const state = fake(plan);
    state.pairs = shadowPairs(400, 300);
    const response = await get(await liveApp(state));
    expect(response.statusCode).toBe(200);
    const body = response.json();

    // The promoter's own function on the same rows gives the same figures.
    const expected = await assessLiveTrial('sentiment', plan, state.evidence, SETTINGS, NOW);
    if (expected?.role !== 'SHADOW') throw new Error('expected a SHADOW assessment');
    const evidence = expected.verdict.evidence;
    expect(evidence.shadowEvents).toBe(400);
    expect(evidence.labelledEvents).toBe(300);

    expect(body).toEqual({
      modelName: 'sentiment',
      time: NOW,
      production: '2',
      candidate: {
        version: '3',
        role: 'SHADOW',
        trafficShare: 0,
        since: NOW - 10 * MINUTE_MS,
        decisionId: 'enter-shadow',
      },
      assessment: {
        role: 'SHADOW',
        expired: false,
        deadline: NOW - 10 * MINUTE_MS + SETTINGS.shadowMaxWaitMs,
        verdict: { kind: expected.verdict.kind, reason: expected.verdict.reason },
        evidence: {
          shadowEvents: 400,
          agreement: evidence.agreement,
          labelledEvents: 300,
          productionLabelled: null,
          candidateF1: evidence.candidateF1,
          productionF1: evidence.productionF1,
          f1Difference: evidence.f1Difference,
          f1DifferenceInterval: [...evidence.f1DifferenceInterval!],
        },
        gate: {
          margin: 0.02,
          confidence: 0.95,
          minShadowEvents: 100,
          minLabelledEvents: 50,
          maxLabelledEvents: 5_000,
          maxWaitMs: 60 * MINUTE_MS,
        },
      },
    });
    // The candidate errs less often than production: non-inferior, so PROMOTE.
    expect(body.assessment.verdict.kind).toBe('PROMOTE');
    expect(body.assessment.evidence.candidateF1).toBeGreaterThan(
      body.assessment.evidence.productionF1,
    );
    const [lower, upper] = body.assessment.evidence.f1DifferenceInterval as number[];
    expect(lower).toBeLessThanOrEqual(body.assessment.evidence.f1Difference);
    expect(upper).toBeGreaterThanOrEqual(body.assessment.evidence.f1Difference);
    // Read the way the promoter reads: this trial's pairs since it began.
    expect(state.shadowQueries).toEqual([
      {
        modelName: 'sentiment',
        productionVersion: '2',
        candidateVersion: '3',
        sinceMs: NOW - 10 * MINUTE_MS,
        maxRows: 50_000,
      },
      // (the second read is the test's own assessLiveTrial)
      expect.anything(),
    ]);
  });

  it('SHADOW without enough evidence: WAIT, the figures it has, nulls where none', async () => {
    const state = fake({ production: '2', candidate: candidate('SHADOW') });
    state.pairs = shadowPairs(30, 0);
    const body = (await get(await liveApp(state))).json();
    expect(body.assessment.verdict.kind).toBe('WAIT');
    expect(body.assessment.verdict.reason).toMatch(/^waiting for live evidence: shadow events 30/);
    expect(body.assessment.evidence).toEqual({
      shadowEvents: 30,
      agreement: expect.any(Number),
      labelledEvents: 0,
      productionLabelled: null,
      candidateF1: null,
      productionF1: null,
      f1Difference: null,
      f1DifferenceInterval: null,
    });
  });

  it('SHADOW past its deadline without evidence: expired and BLOCK', async () => {
    const state = fake({
      production: '2',
      candidate: candidate('SHADOW', { sinceMs: NOW - SETTINGS.shadowMaxWaitMs - 1 }),
    });
    const body = (await get(await liveApp(state))).json();
    expect(body.assessment).toMatchObject({
      expired: true,
      deadline: NOW - 1,
      verdict: { kind: 'BLOCK' },
    });
    expect(body.assessment.verdict.reason).toMatch(/before the deadline/);
  });

  it('CANARY: each version on its own traffic, in the same shape', async () => {
    const plan: ServingPlan = { production: '2', candidate: candidate('CANARY') };
    const state = fake(plan);
    state.servedBy = { '3': served('3', 60, 5), '2': served('2', 500, 10) };
    const body = (await get(await liveApp(state))).json();

    const expected = await assessLiveTrial('sentiment', plan, state.evidence, SETTINGS, NOW);
    if (expected?.role !== 'CANARY') throw new Error('expected a CANARY assessment');
    const evidence = expected.verdict.evidence;
    expect(body).toEqual({
      modelName: 'sentiment',
      time: NOW,
      production: '2',
      candidate: {
        version: '3',
        role: 'CANARY',
        trafficShare: 0.1,
        since: NOW - 10 * MINUTE_MS,
        decisionId: 'enter-canary',
      },
      assessment: {
        role: 'CANARY',
        expired: false,
        deadline: NOW - 10 * MINUTE_MS + SETTINGS.canaryMaxWaitMs,
        verdict: { kind: expected.verdict.kind, reason: expected.verdict.reason },
        evidence: {
          shadowEvents: null,
          agreement: null,
          labelledEvents: 60,
          productionLabelled: 500,
          candidateF1: evidence.canaryF1,
          productionF1: evidence.productionF1,
          f1Difference: evidence.f1Difference,
          f1DifferenceInterval: [...evidence.f1DifferenceInterval!],
        },
        gate: {
          margin: 0.05,
          confidence: 0.95,
          minShadowEvents: null,
          minLabelledEvents: 40,
          maxLabelledEvents: null,
          maxWaitMs: 120 * MINUTE_MS,
        },
      },
    });
    expect(['WAIT', 'WIDEN', 'ROLLBACK']).toContain(body.assessment.verdict.kind);
    expect(body.assessment.evidence.candidateF1).toBeLessThan(
      body.assessment.evidence.productionF1,
    );
    expect(state.servedQueries.slice(0, 2)).toEqual([
      { modelName: 'sentiment', version: '3', sinceMs: NOW - 10 * MINUTE_MS, maxRows: 50_000 },
      { modelName: 'sentiment', version: '2', sinceMs: NOW - 10 * MINUTE_MS, maxRows: 50_000 },
    ]);
  });

  it('CANARY far worse than production: ROLLBACK; too few labels: WAIT', async () => {
    const state = fake({ production: '2', candidate: candidate('CANARY') });
    state.servedBy = { '3': served('3', 200, 2), '2': served('2', 400, 50) };
    const app = await liveApp(state);
    expect((await get(app)).json().assessment.verdict.kind).toBe('ROLLBACK');
    state.servedBy = { '3': served('3', 10, 2), '2': served('2', 400, 50) };
    const waiting = (await get(app)).json().assessment;
    expect(waiting.verdict).toEqual({
      kind: 'WAIT',
      reason: 'waiting for live evidence: canary labelled 10 of 40 needed',
    });
    expect(waiting.evidence).toMatchObject({
      labelledEvents: 10,
      productionLabelled: 400,
      f1Difference: null,
      f1DifferenceInterval: null,
    });
  });

  it.each([
    ['the plan', 'plan'],
    ['the shadow pairs', 'shadow'],
  ] as const)('ClickHouse failing on %s: 503 CONSOLE_SOURCE_UNAVAILABLE', async (_what, which) => {
    const state = fake({ production: '2', candidate: candidate('SHADOW') });
    const failure = new Error('ECONNREFUSED 127.0.0.1:8123');
    if (which === 'plan') state.planCalls.mockRejectedValueOnce(failure);
    else state.failShadow = failure;
    const response = await get(await liveApp(state));
    expect(response.statusCode).toBe(503);
    expect(response.json()).toEqual({
      statusCode: 503,
      error: 'Service Unavailable',
      code: 'CONSOLE_SOURCE_UNAVAILABLE',
      message: 'live trial (ClickHouse): ECONNREFUSED 127.0.0.1:8123',
    });
  });

  it('is rate limited per key like the other console reads', async () => {
    const app = await liveApp(fake({ production: '2', candidate: null }), 2);
    const codes: number[] = [];
    for (let i = 0; i < 3; i++) codes.push((await get(app)).statusCode);
    expect(codes).toEqual([200, 200, 429]);
    const limited = await get(app);
    expect(limited.json().code).toBe('RATE_LIMITED');
    // Another key has its own budget.
    const admin = await app.inject({ method: 'GET', url: URL, headers: as('admin') });
    expect(admin.statusCode).toBe(200);
  });
});

describe('the live trial reader', () => {
  it('reuses an assessment younger than maxAgeMs, then assesses again', async () => {
    let now = NOW;
    const state = fake({ production: '2', candidate: candidate('SHADOW') });
    state.pairs = shadowPairs(200, 100);
    const reader = createLiveTrialReader({
      modelName: 'sentiment',
      plan: () => state.planCalls(),
      evidence: state.evidence,
      settings: SETTINGS,
      maxAgeMs: 5_000,
      now: () => now,
    });
    const first = await reader.current();
    now += 4_999;
    expect(await reader.current()).toBe(first);
    expect(state.planCalls).toHaveBeenCalledTimes(1);
    now += 1;
    const second = await reader.current();
    expect(second).not.toBe(first);
    expect(second.time).toBe(NOW + 5_000);
    expect(state.planCalls).toHaveBeenCalledTimes(2);
    expect(state.shadowQueries).toHaveLength(2);
  });

  it('callers during an assessment share it; a failure is not kept', async () => {
    const state = fake({ production: '2', candidate: null });
    let release: () => void = () => undefined;
    state.planCalls.mockImplementationOnce(
      () =>
        new Promise<ServingPlan>((resolve) => {
          release = () => resolve({ production: '2', candidate: null });
        }),
    );
    const reader = createLiveTrialReader({
      modelName: 'sentiment',
      plan: () => state.planCalls(),
      evidence: state.evidence,
      settings: SETTINGS,
      maxAgeMs: 0,
      now: () => NOW,
    });
    const a = reader.current();
    const b = reader.current();
    release();
    expect(await a).toBe(await b);
    expect(state.planCalls).toHaveBeenCalledTimes(1);

    state.planCalls.mockRejectedValueOnce(new Error('down'));
    await expect(reader.current()).rejects.toThrow('down');
    // maxAgeMs 0: every call after that assesses anew.
    await expect(reader.current()).resolves.toMatchObject({ plan: { production: '2' } });
    expect(state.planCalls).toHaveBeenCalledTimes(3);
  });
});

describe('the live gates settings', () => {
  it("default to the promoter's defaults", () => {
    const promoter = parseConfig(liveTrialConfigFields, {});
    for (const [key, value] of Object.entries(DEFAULT_LIVE_TRIAL_SETTINGS)) {
      expect(value, key).toBe(promoter[key as keyof typeof promoter]);
    }
    expect(Object.keys(DEFAULT_LIVE_TRIAL_SETTINGS).sort()).toEqual(
      Object.keys(consoleLiveTrialConfigFields).sort(),
    );
  });

  it('are read from the environment by the same variables as the promoter', () => {
    const config = parseConfig(consoleLiveTrialConfigFields, {
      LIVE_GATE_MARGIN: '0.03',
      CANARY_MIN_LABELLED: '250',
      SHADOW_MAX_WAIT_MS: '3600000',
    });
    expect(liveTrialSettingsOf({ modelName: 'sentiment', ...config })).toEqual({
      ...DEFAULT_LIVE_TRIAL_SETTINGS,
      liveMargin: 0.03,
      canaryMinLabelled: 250,
      shadowMaxWaitMs: 3_600_000,
    });
  });

  it('take the defaults for fields a config lacks', () => {
    expect(liveTrialSettingsOf({ modelName: 'sentiment', liveMargin: 'x' })).toEqual(
      DEFAULT_LIVE_TRIAL_SETTINGS,
    );
    expect(liveTrialSettingsOf({ canaryMargin: 0.1 })).toEqual({
      ...DEFAULT_LIVE_TRIAL_SETTINGS,
      canaryMargin: 0.1,
    });
  });
});
