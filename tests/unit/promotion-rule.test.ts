import { describe, expect, it } from 'vitest';
import { decidePromotion } from '../../services/promoter/rule.ts';

const policy = { margin: 0, guardrail: 0.02, minF1: 0.8 };

describe('promotion rule', () => {
  it('promotes a candidate at least as good on recent data whose golden F1 holds', () => {
    const verdict = decidePromotion(
      { holdoutF1: 0.8, goldenF1: 0.81 },
      { holdoutF1: 0.7, goldenF1: 0.82 },
      policy,
    );
    expect(verdict).toMatchObject({
      decision: 'PROMOTED',
      candidateScore: 0.8,
      productionScore: 0.7,
    });
    expect(verdict.reason).toContain('holdout F1 0.8000 vs production 0.7000');
  });

  it('equal holdout F1 is "at least as good" with margin 0, not with a positive margin', () => {
    const equal = { holdoutF1: 0.75, goldenF1: 0.82 };
    expect(decidePromotion(equal, equal, policy).decision).toBe('PROMOTED');
    expect(decidePromotion(equal, equal, { ...policy, margin: 0.01 }).decision).toBe('BLOCKED');
  });

  it('blocks a worse candidate, and one whose golden F1 dropped past the guardrail', () => {
    const worse = decidePromotion(
      { holdoutF1: 0.6, goldenF1: 0.82 },
      { holdoutF1: 0.7, goldenF1: 0.82 },
      policy,
    );
    expect(worse.decision).toBe('BLOCKED');
    expect(worse.reason).toContain('not better than production');
    const forgetful = decidePromotion(
      { holdoutF1: 0.9, goldenF1: 0.79 },
      { holdoutF1: 0.7, goldenF1: 0.82 },
      policy,
    );
    expect(forgetful.decision).toBe('BLOCKED');
    expect(forgetful.reason).toContain('guardrail');
  });

  it('without production, promotes only at the minimum F1', () => {
    expect(decidePromotion({ holdoutF1: null, goldenF1: 0.82 }, null, policy).decision).toBe(
      'PROMOTED',
    );
    const low = decidePromotion({ holdoutF1: null, goldenF1: 0.7 }, null, policy);
    expect(low.decision).toBe('BLOCKED');
    expect(low.reason).toContain('below minimum 0.8');
  });

  it('blocks a candidate that brings no held-out data when production exists', () => {
    expect(
      decidePromotion(
        { holdoutF1: null, goldenF1: 0.9 },
        { holdoutF1: null, goldenF1: 0.8 },
        policy,
      ).decision,
    ).toBe('BLOCKED');
  });
});
