import { describe, expect, it } from 'vitest';
import { createLogger } from '#platform/common';
import type {
  DecisionInput,
  LiveEvidenceSource,
  LiveTrialSettings,
  ModelRegistry,
} from '#domain/registry';
import type { DecisionRecord, ServedLabelled, ServingPlan, ShadowPair } from '#platform/store';
import { liveDecisionId, reviewLiveTrial } from '../../services/promoter/live-trials.ts';

const MODEL = 'sentiment';
const settings: LiveTrialSettings & { canaryTrafficShare: number } = {
  shadowMinEvents: 100,
  shadowMinLabelled: 50,
  shadowMaxLabelled: 2000,
  shadowMaxWaitMs: 60_000,
  liveMargin: 0.02,
  liveConfidence: 0.95,
  canaryMinLabelled: 50,
  canaryMargin: 0.05,
  canaryMaxWaitMs: 60_000,
  canaryTrafficShare: 0,
};

/** `n` pairs, labelled; production right on every one, the candidate on `candidateRight` of them. */
function pairs(n: number, candidateRight: number): ShadowPair[] {
  return Array.from({ length: n }, (_, i) => {
    const truth = i % 2 === 0 ? 'POSITIVE' : 'NEGATIVE';
    const wrong = truth === 'POSITIVE' ? 'NEGATIVE' : 'POSITIVE';
    return {
      eventId: `e${i}`,
      production: truth,
      candidate: i < candidateRight ? truth : wrong,
      groundTruth: truth,
    };
  });
}

function served(n: number, right: number): ServedLabelled[] {
  return Array.from({ length: n }, (_, i) => {
    const truth = i % 2 === 0 ? 'POSITIVE' : 'NEGATIVE';
    return {
      eventId: `s${i}`,
      label: i < right ? truth : truth === 'POSITIVE' ? 'NEGATIVE' : 'POSITIVE',
      groundTruth: truth,
    };
  });
}

function harness(plan: ServingPlan, evidence: Partial<LiveEvidenceSource> = {}) {
  const calls: { method: string; version?: string; share?: number; input: DecisionInput }[] = [];
  const entered: DecisionRecord = {
    decisionId: plan.candidate?.decisionId ?? 'none',
    timeMs: 1,
    modelName: MODEL,
    actor: 'promoter',
    decision: 'SHADOW',
    candidateVersion: plan.candidate?.version ?? '',
    productionBefore: '1',
    productionAfter: '1',
    candidateScore: 0.9,
    productionScore: 0.8,
    reason: 'passed the offline gate',
    details: { candidate: { holdout_f1: 0.9 }, productionVersion: '1' },
  };
  const record = (decision: DecisionRecord['decision'], input: DecisionInput, version = '2') =>
    ({
      ...entered,
      decision,
      candidateVersion: version,
      decisionId: input.decisionId!,
      reason: input.reason,
      details: input.details ?? {},
    }) as DecisionRecord;
  const registry = {
    plan: async () => plan,
    log: async () => [entered],
    promote: async (version: string, input: DecisionInput) => {
      calls.push({ method: 'promote', version, input });
      return record('PROMOTED', input, version);
    },
    block: async (version: string, input: DecisionInput) => {
      calls.push({ method: 'block', version, input });
      return record('BLOCKED', input, version);
    },
    startCanary: async (version: string, share: number, input: DecisionInput) => {
      calls.push({ method: 'startCanary', version, share, input });
      return record('CANARY', input, version);
    },
    rollbackCanary: async (input: DecisionInput) => {
      calls.push({ method: 'rollbackCanary', input });
      return record('ROLLED_BACK', input);
    },
  } satisfies Pick<
    ModelRegistry,
    'plan' | 'log' | 'promote' | 'block' | 'startCanary' | 'rollbackCanary'
  >;
  const source: LiveEvidenceSource = {
    shadowPairs: evidence.shadowPairs ?? (async () => []),
    servedLabelled: evidence.servedLabelled ?? (async () => []),
  };
  const deps = (overrides: Partial<typeof settings> = {}) => ({
    modelName: MODEL,
    registry: registry as unknown as Pick<
      ModelRegistry,
      'plan' | 'log' | 'promote' | 'block' | 'startCanary' | 'rollbackCanary'
    >,
    evidence: source,
    settings: { ...settings, ...overrides },
    actor: 'promoter',
    logger: createLogger('test', 'silent'),
    now: () => 10_000,
  });
  return { calls, deps };
}

const shadowPlan: ServingPlan = {
  production: '1',
  candidate: {
    version: '2',
    role: 'SHADOW',
    trafficShare: 0,
    sinceMs: 1_000,
    decisionId: 'd-shadow',
  },
};
const canaryPlan: ServingPlan = {
  production: '1',
  candidate: {
    version: '2',
    role: 'CANARY',
    trafficShare: 0.2,
    sinceMs: 1_000,
    decisionId: 'd-canary',
  },
};

describe('promoter live trials: one round', () => {
  it('does nothing without a candidate in a role', async () => {
    const { calls, deps } = harness({ production: '1', candidate: null });
    expect(await reviewLiveTrial(deps())).toEqual({ assessment: null, decision: null });
    expect(calls).toEqual([]);
  });

  it('waits while the shadow minimums are not met', async () => {
    const { calls, deps } = harness(shadowPlan, { shadowPairs: async () => pairs(40, 40) });
    const { assessment, decision } = await reviewLiveTrial(deps());
    expect(assessment?.verdict.kind).toBe('WAIT');
    expect(decision).toBeNull();
    expect(calls).toEqual([]);
  });

  it('promotes a candidate shown non-inferior, with the live figures, policy and offline results', async () => {
    const { calls, deps } = harness(shadowPlan, { shadowPairs: async () => pairs(300, 300) });
    await reviewLiveTrial(deps());
    expect(calls).toHaveLength(1);
    const [call] = calls;
    expect(call).toMatchObject({ method: 'promote', version: '2' });
    expect(call!.input.decisionId).toBe(liveDecisionId(MODEL, '2', 'shadow-verdict'));
    expect(call!.input.reason).toMatch(
      /^promoted on live evidence: live F1 1\.000 vs production 1\.000 on 300 labelled events/,
    );
    expect(call!.input.details).toMatchObject({
      live: { role: 'SHADOW', shadowEvents: 300, labelledEvents: 300, agreement: 1 },
      policy: { minShadowEvents: 100, minLabelledEvents: 50, margin: 0.02 },
      offline: { productionVersion: '1' },
      trialSinceMs: 1_000,
    });
  });

  it('starts a canary instead when a canary share is configured', async () => {
    const { calls, deps } = harness(shadowPlan, { shadowPairs: async () => pairs(300, 300) });
    await reviewLiveTrial(deps({ canaryTrafficShare: 0.1 }));
    expect(calls).toMatchObject([{ method: 'startCanary', version: '2', share: 0.1 }]);
    expect(calls[0]!.input.reason).toMatch(/^passed shadow, canary at 10% of traffic: /);
  });

  it('blocks a candidate shown worse on the same labelled events', async () => {
    const { calls, deps } = harness(shadowPlan, { shadowPairs: async () => pairs(300, 200) });
    await reviewLiveTrial(deps());
    expect(calls).toMatchObject([{ method: 'block', version: '2' }]);
    expect(calls[0]!.input.reason).toMatch(/^blocked in shadow: live F1 .* lies below -0\.020/);
  });

  it('blocks a candidate still in shadow past the deadline', async () => {
    const { calls, deps } = harness(shadowPlan, { shadowPairs: async () => pairs(10, 10) });
    await reviewLiveTrial({ ...deps(), now: () => 1_000 + 60_001 });
    expect(calls).toMatchObject([{ method: 'block', version: '2' }]);
    expect(calls[0]!.input.reason).toMatch(/not enough live evidence before the deadline/);
  });

  it('rolls back a canary whose live F1 dropped, and widens one that holds', async () => {
    const dropped = harness(canaryPlan, {
      servedLabelled: async (query) =>
        query.version === '2' ? served(200, 140) : served(600, 600),
    });
    await reviewLiveTrial(dropped.deps());
    expect(dropped.calls).toMatchObject([{ method: 'rollbackCanary' }]);
    expect(dropped.calls[0]!.input.decisionId).toBe(liveDecisionId(MODEL, '2', 'canary-verdict'));
    expect(dropped.calls[0]!.input.reason).toMatch(
      /^canary rolled back: live F1 dropped: canary live F1 /,
    );

    const holds = harness(canaryPlan, {
      servedLabelled: async (query) =>
        query.version === '2' ? served(400, 400) : served(600, 590),
    });
    await reviewLiveTrial(holds.deps());
    expect(holds.calls).toMatchObject([{ method: 'promote', version: '2' }]);
    expect(holds.calls[0]!.input.reason).toMatch(/^canary widened to all traffic: live F1 holds: /);
  });

  it('reads the canary and production labelled traffic since the canary began', async () => {
    const queries: { version: string; sinceMs: number }[] = [];
    const { deps } = harness(canaryPlan, {
      servedLabelled: async (query) => {
        queries.push({ version: query.version, sinceMs: query.sinceMs });
        return [];
      },
    });
    await reviewLiveTrial(deps());
    expect(queries.sort((a, b) => a.version.localeCompare(b.version))).toEqual([
      { version: '1', sinceMs: 1_000 },
      { version: '2', sinceMs: 1_000 },
    ]);
  });
});
