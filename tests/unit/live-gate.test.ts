import { describe, expect, it } from 'vitest';
import { mulberry32 } from '#platform/common';
import {
  DEFAULT_CANARY_POLICY,
  DEFAULT_LIVE_GATE_POLICY,
  type ServedOutcome,
  decideCanary,
  decideOnLiveEvidence,
  liveEvidence,
  type LiveGatePolicy,
  type PairedPrediction,
} from '#domain/registry';

type Label = 0 | 1;

/** Minimums out of the way: these tests are about the comparison. */
const policy: LiveGatePolicy = {
  ...DEFAULT_LIVE_GATE_POLICY,
  minShadowEvents: 0,
  minLabelledEvents: 0,
  margin: 0.01,
};

const flip = (label: Label): Label => (label === 1 ? 0 : 1);

/**
 * `n` labelled events, balanced truth; production right with probability `productionAccuracy`;
 * the candidate copies production's answer with probability `copy`, otherwise is right with
 * probability `candidateAccuracy` on its own. With equal accuracies both versions have the same
 * true accuracy (and, by symmetry, F1) while disagreeing on some events.
 */
function simulate(
  seed: number,
  n: number,
  productionAccuracy: number,
  candidateAccuracy: number,
  copy = 0,
): PairedPrediction[] {
  const random = mulberry32(seed);
  const out: PairedPrediction[] = [];
  for (let i = 0; i < n; i++) {
    const truth: Label = random() < 0.5 ? 1 : 0;
    const production = random() < productionAccuracy ? truth : flip(truth);
    const candidate =
      random() < copy ? production : random() < candidateAccuracy ? truth : flip(truth);
    out.push({ eventId: `e${seed}-${i}`, production, candidate, groundTruth: truth });
  }
  return out;
}

/** Production right on 85 % of `n` events (deterministic); the candidate copies it except on `worse` of them, where it is wrong. */
function slightlyWorse(n: number, worse: number): PairedPrediction[] {
  const out: PairedPrediction[] = [];
  let flipped = 0;
  for (let i = 0; i < n; i++) {
    const truth: Label = i % 2 === 0 ? 1 : 0;
    const production = i % 20 < 17 ? truth : flip(truth);
    const spoil = production === truth && flipped < worse && i % 7 === 0;
    if (spoil) flipped++;
    const candidate = spoil ? flip(production) : production;
    out.push({ eventId: `w${i}`, production, candidate, groundTruth: truth });
  }
  expect(flipped).toBe(worse);
  return out;
}

function unlabelled(pairs: readonly PairedPrediction[]): PairedPrediction[] {
  return pairs.map((pair) => ({ ...pair, groundTruth: null }));
}

describe('live gate: minimums', () => {
  const gate: LiveGatePolicy = {
    ...DEFAULT_LIVE_GATE_POLICY,
    minShadowEvents: 500,
    minLabelledEvents: 200,
  };

  it('WAITs with no events, naming both minimums', () => {
    const decision = decideOnLiveEvidence([], gate);
    expect(decision.kind).toBe('WAIT');
    expect(decision.reason).toContain('shadow events 0 of 500 needed (500 more)');
    expect(decision.reason).toContain('labelled events 0 of 200 needed (200 more)');
    expect(decision.evidence).toEqual({
      shadowEvents: 0,
      labelledEvents: 0,
      agreement: 0,
      productionF1: null,
      candidateF1: null,
      f1Difference: null,
      f1DifferenceInterval: null,
    });
  });

  it('WAITs for shadow traffic when the labels are there but the traffic is not', () => {
    const decision = decideOnLiveEvidence(simulate(1, 320, 0.85, 0.95), gate);
    expect(decision.kind).toBe('WAIT');
    expect(decision.reason).toContain('shadow events 320 of 500 needed (180 more)');
    expect(decision.reason).not.toContain('labelled events');
    // The evidence so far is still reported (a dashboard can show it while waiting).
    expect(decision.evidence.labelledEvents).toBe(320);
    expect(decision.evidence.f1DifferenceInterval).not.toBeNull();
  });

  it('WAITs for labels when the traffic is there but the labels are not', () => {
    const events = simulate(2, 900, 0.85, 0.95);
    const pairs = [...events.slice(0, 85), ...unlabelled(events.slice(85))];
    const decision = decideOnLiveEvidence(pairs, gate);
    expect(decision.kind).toBe('WAIT');
    expect(decision.reason).toContain('labelled events 85 of 200 needed (115 more)');
    expect(decision.reason).not.toContain('shadow events');
  });

  it('decides once both minimums are met exactly', () => {
    const events = simulate(3, 500, 0.75, 0.95);
    const pairs = [...events.slice(0, 200), ...unlabelled(events.slice(200))];
    expect(decideOnLiveEvidence(pairs, gate).kind).toBe('PROMOTE');
    expect(decideOnLiveEvidence(pairs.slice(0, 499), gate).kind).toBe('WAIT');
  });

  it('needs one labelled event to compare even when the labelled minimum is 0', () => {
    const decision = decideOnLiveEvidence(unlabelled(simulate(4, 10, 0.8, 0.8)), policy);
    expect(decision.kind).toBe('WAIT');
    expect(decision.reason).toContain('labelled events 0, at least 1 needed');
  });
});

describe('live gate: decisions', () => {
  it('PROMOTEs a clearly better candidate', () => {
    const decision = decideOnLiveEvidence(simulate(10, 400, 0.75, 0.92), policy);
    expect(decision.kind).toBe('PROMOTE');
    const { f1Difference, f1DifferenceInterval } = decision.evidence;
    expect(f1Difference).toBeGreaterThan(0.1);
    expect(f1DifferenceInterval![0]).toBeGreaterThan(0);
    expect(decision.reason).toMatch(
      /^live F1 0\.\d{3} vs production 0\.\d{3} on 400 labelled events: difference \+0\.\d{3}, 95% interval \[0\.\d{3}, 0\.\d{3}\] stays at or above -0\.010 \(margin 0\.010\); agreement \d+(\.\d+)?% over 400 shadow events$/,
    );
  });

  it('PROMOTEs a candidate identical to production, even with margin 0: the interval is [0, 0]', () => {
    const pairs = simulate(11, 300, 0.85, 0.85, 1);
    const decision = decideOnLiveEvidence(pairs, { ...policy, margin: 0 });
    expect(decision.kind).toBe('PROMOTE');
    expect(decision.evidence.f1Difference).toBe(0);
    expect(decision.evidence.f1DifferenceInterval).toEqual([0, 0]);
    expect(decision.evidence.agreement).toBe(1);
    expect(decision.reason).toContain('difference +0.000, 95% interval [0.000, 0.000]');
  });

  it('BLOCKs a clearly worse candidate, with the figures in the reason', () => {
    const decision = decideOnLiveEvidence(simulate(12, 400, 0.9, 0.75), policy);
    expect(decision.kind).toBe('BLOCK');
    const { candidateF1, productionF1, f1Difference, f1DifferenceInterval } = decision.evidence;
    expect(f1Difference).toBeLessThan(-0.1);
    expect(f1DifferenceInterval![1]).toBeLessThan(0);
    expect(decision.reason).toContain(
      `live F1 ${candidateF1!.toFixed(3)} vs production ${productionF1!.toFixed(3)} on 400 labelled events`,
    );
    expect(decision.reason).toContain(`difference ${f1Difference!.toFixed(3)}`);
    expect(decision.reason).toContain(
      `95% interval [${f1DifferenceInterval![0].toFixed(3)}, ${f1DifferenceInterval![1].toFixed(3)}] lies below -0.010`,
    );
  });

  it('PROMOTEs a slightly worse candidate within the margin and BLOCKs one outside it (4,000 labels)', () => {
    const within = decideOnLiveEvidence(slightlyWorse(4000, 16), policy);
    expect(within.evidence.f1Difference).toBeLessThan(-0.002);
    expect(within.evidence.f1Difference).toBeGreaterThan(-0.006);
    expect(within.evidence.f1DifferenceInterval![1]).toBeLessThan(0); // it is worse, measurably
    expect(within.kind).toBe('PROMOTE'); // but not by more than 0.01
    // The same candidate with no tolerance is blocked.
    expect(decideOnLiveEvidence(slightlyWorse(4000, 16), { ...policy, margin: 0 }).kind).toBe(
      'BLOCK',
    );

    const outside = decideOnLiveEvidence(slightlyWorse(4000, 80), policy);
    expect(outside.evidence.f1Difference).toBeLessThan(-0.015);
    expect(outside.kind).toBe('BLOCK');
  });

  it('reports the confidence it was asked for', () => {
    const decision = decideOnLiveEvidence(simulate(13, 300, 0.8, 0.9), {
      ...policy,
      confidence: 0.9,
    });
    expect(decision.reason).toContain('90% interval');
  });
});

describe('live gate: evidence', () => {
  it('computes agreement on all shadow events, labelled or not; F1 on the labelled ones only', () => {
    const pairs: PairedPrediction[] = [
      // labelled: both agree on all four
      { eventId: 'a', production: 1, candidate: 1, groundTruth: 1 },
      { eventId: 'b', production: 1, candidate: 1, groundTruth: 0 },
      { eventId: 'c', production: 0, candidate: 0, groundTruth: 1 },
      { eventId: 'd', production: 0, candidate: 0, groundTruth: 0 },
      // unlabelled: three disagreements out of six
      { eventId: 'e', production: 1, candidate: 0, groundTruth: null },
      { eventId: 'f', production: 0, candidate: 1, groundTruth: null },
      { eventId: 'g', production: 1, candidate: 0, groundTruth: null },
      { eventId: 'h', production: 1, candidate: 1, groundTruth: null },
      { eventId: 'i', production: 0, candidate: 0, groundTruth: null },
      { eventId: 'j', production: 0, candidate: 0, groundTruth: null },
    ];
    const evidence = liveEvidence(pairs, policy);
    expect(evidence.shadowEvents).toBe(10);
    expect(evidence.labelledEvents).toBe(4);
    expect(evidence.agreement).toBeCloseTo(0.7, 12);
    // TP 1, FP 1, FN 1 for both: F1 = 2 / 4.
    expect(evidence.productionF1).toBeCloseTo(0.5, 12);
    expect(evidence.candidateF1).toBeCloseTo(0.5, 12);
    expect(evidence.f1Difference).toBe(0);
  });

  it('F1 is the POSITIVE class, and 0 when undefined (no positive predictions, no positives)', () => {
    const negatives: PairedPrediction[] = Array.from({ length: 30 }, (_, i) => ({
      eventId: `n${i}`,
      production: 0,
      candidate: 0,
      groundTruth: 0,
    }));
    const evidence = liveEvidence(negatives, policy);
    expect(evidence.productionF1).toBe(0);
    expect(evidence.candidateF1).toBe(0);
    expect(evidence.f1DifferenceInterval).toEqual([0, 0]);

    // Production: TP 2, FP 1, FN 1 -> 4/6; candidate: TP 3, FP 0, FN 0 -> 1.
    const pairs: PairedPrediction[] = [
      { eventId: '1', production: 1, candidate: 1, groundTruth: 1 },
      { eventId: '2', production: 1, candidate: 1, groundTruth: 1 },
      { eventId: '3', production: 0, candidate: 1, groundTruth: 1 },
      { eventId: '4', production: 1, candidate: 0, groundTruth: 0 },
      { eventId: '5', production: 0, candidate: 0, groundTruth: 0 },
    ];
    const scored = liveEvidence(pairs, policy);
    expect(scored.productionF1).toBeCloseTo(4 / 6, 12);
    expect(scored.candidateF1).toBe(1);
    expect(scored.f1Difference).toBeCloseTo(1 / 3, 12);
  });

  it('counts duplicate event ids once, the first occurrence winning', () => {
    const base: PairedPrediction[] = [
      { eventId: 'x', production: 1, candidate: 1, groundTruth: 1 },
      { eventId: 'y', production: 0, candidate: 1, groundTruth: null },
      { eventId: 'z', production: 0, candidate: 0, groundTruth: 0 },
    ];
    const withDuplicates: PairedPrediction[] = [
      base[0]!,
      base[1]!,
      { eventId: 'x', production: 0, candidate: 1, groundTruth: 0 }, // contradicts the first x
      base[2]!,
      { eventId: 'y', production: 1, candidate: 1, groundTruth: 1 }, // a later label is ignored
      { eventId: 'z', production: 0, candidate: 0, groundTruth: 0 },
    ];
    const evidence = liveEvidence(withDuplicates, policy);
    expect(evidence).toEqual(liveEvidence(base, policy));
    expect(evidence.shadowEvents).toBe(3);
    expect(evidence.labelledEvents).toBe(2);
    expect(evidence.agreement).toBeCloseTo(2 / 3, 12);

    // 600 events, every one sent twice: still 600 towards the minimum.
    const once = simulate(20, 300, 0.85, 0.85);
    const twice = [...once, ...once.map((pair) => ({ ...pair }))];
    const gate = { ...policy, minShadowEvents: 301 };
    expect(decideOnLiveEvidence(twice, gate).reason).toContain('shadow events 300 of 301 needed');
  });

  it('is deterministic for a seed; another seed moves only the interval, and only by bootstrap noise', () => {
    const pairs = simulate(30, 400, 0.85, 0.87, 0.7);
    const first = decideOnLiveEvidence(pairs, policy);
    expect(decideOnLiveEvidence(pairs, policy)).toEqual(first);

    const others = [1, 2, 3, 4, 5].map((seed) => liveEvidence(pairs, { ...policy, seed }));
    for (const other of others) {
      expect(other.productionF1).toBe(first.evidence.productionF1);
      expect(other.candidateF1).toBe(first.evidence.candidateF1);
      expect(other.f1Difference).toBe(first.evidence.f1Difference);
      expect(other.agreement).toBe(first.evidence.agreement);
      const [lower, upper] = other.f1DifferenceInterval!;
      const [firstLower, firstUpper] = first.evidence.f1DifferenceInterval!;
      // Bootstrap noise of a 2.5 % quantile from 2,000 resamples: a few thousandths here,
      // against an interval about 0.05 wide.
      expect(Math.abs(lower - firstLower)).toBeLessThan(0.006);
      expect(Math.abs(upper - firstUpper)).toBeLessThan(0.006);
    }
    // ... but the seed is used: not every seed gives the very same bounds.
    const lowers = new Set(others.map((other) => other.f1DifferenceInterval![0]));
    expect(lowers.size).toBeGreaterThan(1);
  });

  it('the interval contains the point difference', () => {
    for (let seed = 40; seed < 60; seed++) {
      const accuracy = 0.7 + (seed % 5) * 0.05;
      const evidence = liveEvidence(simulate(seed, 250, accuracy, accuracy + 0.02, 0.5), {
        ...policy,
        seed,
      });
      const [lower, upper] = evidence.f1DifferenceInterval!;
      expect(lower).toBeLessThanOrEqual(evidence.f1Difference!);
      expect(upper).toBeGreaterThanOrEqual(evidence.f1Difference!);
      expect(lower).toBeLessThan(upper);
    }
  });

  it('rejects an invalid policy and labels other than 0 and 1', () => {
    expect(() => liveEvidence([], { ...policy, confidence: 1 })).toThrow(RangeError);
    expect(() => liveEvidence([], { ...policy, bootstrapSamples: 0 })).toThrow(RangeError);
    expect(() => liveEvidence([], { ...policy, margin: -0.01 })).toThrow(RangeError);
    expect(() => liveEvidence([], { ...policy, minLabelledEvents: 1.5 })).toThrow(RangeError);
    const bad = [
      { eventId: 'q', production: 2, candidate: 0, groundTruth: 1 },
    ] as unknown as PairedPrediction[];
    expect(() => liveEvidence(bad, policy)).toThrow(/event q/);
  });

  it('has the documented defaults', () => {
    expect(DEFAULT_LIVE_GATE_POLICY).toEqual({
      minShadowEvents: 500,
      minLabelledEvents: 200,
      confidence: 0.95,
      margin: 0.02,
      maxLabelledEvents: 2000,
      bootstrapSamples: 2000,
      seed: 15,
    });
  });
});

describe('live gate: inconclusive evidence', () => {
  // Equally accurate versions (85 %), 300 labels: the interval straddles -margin.
  const straddling = () => simulate(21, 300, 0.85, 0.85, 0.5);

  it('WAITs for more labels while the interval straddles -margin, with the figures', () => {
    const decision = decideOnLiveEvidence(straddling(), { ...policy, margin: 0.01 });
    const [lower, upper] = decision.evidence.f1DifferenceInterval!;
    expect(lower).toBeLessThan(-0.01);
    expect(upper).toBeGreaterThanOrEqual(-0.01);
    expect(decision.kind).toBe('WAIT');
    expect(decision.reason).toMatch(/^inconclusive, waiting for more labels: live F1 /);
  });

  it('BLOCKs as inconclusive once maxLabelledEvents are in, or at the deadline', () => {
    const capped = decideOnLiveEvidence(straddling(), { ...policy, maxLabelledEvents: 300 });
    expect(capped.kind).toBe('BLOCK');
    expect(capped.reason).toMatch(/^inconclusive at 300 labelled events: /);
    const late = decideOnLiveEvidence(straddling(), policy, true);
    expect(late.kind).toBe('BLOCK');
    expect(late.reason).toMatch(/^inconclusive at the deadline: /);
  });

  it('BLOCKs at the deadline when the minimums were never met', () => {
    const decision = decideOnLiveEvidence([], { ...policy, minLabelledEvents: 10 }, true);
    expect(decision.kind).toBe('BLOCK');
    expect(decision.reason).toMatch(
      /^not enough live evidence before the deadline: labelled events 0 of 10/,
    );
  });
});

describe('canary gate', () => {
  const outcomes = (seed: number, n: number, accuracy: number): ServedOutcome[] => {
    const random = mulberry32(seed);
    return Array.from({ length: n }, () => {
      const truth: Label = random() < 0.5 ? 1 : 0;
      return { groundTruth: truth, predicted: random() < accuracy ? truth : flip(truth) };
    });
  };

  it('WAITs until the canary served its minimum of labelled predictions', () => {
    const decision = decideCanary(
      outcomes(1, 50, 0.9),
      outcomes(2, 500, 0.9),
      DEFAULT_CANARY_POLICY,
    );
    expect(decision.kind).toBe('WAIT');
    expect(decision.reason).toBe('waiting for live evidence: canary labelled 50 of 100 needed');
    expect(decision.evidence.canaryLabelled).toBe(50);
  });

  it('ROLLBACKs a canary whose live F1 dropped past the limit', () => {
    const decision = decideCanary(
      outcomes(3, 150, 0.6),
      outcomes(4, 800, 0.9),
      DEFAULT_CANARY_POLICY,
    );
    expect(decision.kind).toBe('ROLLBACK');
    expect(decision.evidence.f1DifferenceInterval![1]).toBeLessThan(-0.05);
    expect(decision.reason).toMatch(
      /^live F1 dropped: canary live F1 0\.\d{3} on 150 labelled vs production 0\.\d{3} on 800/,
    );
  });

  it('WIDENs a canary as good as production, and a better one', () => {
    expect(
      decideCanary(outcomes(5, 600, 0.95), outcomes(6, 600, 0.9), DEFAULT_CANARY_POLICY).kind,
    ).toBe('WIDEN');
    const equal = decideCanary(
      outcomes(7, 1500, 0.9),
      outcomes(8, 3000, 0.9),
      DEFAULT_CANARY_POLICY,
    );
    expect(equal.evidence.f1DifferenceInterval![0]).toBeGreaterThanOrEqual(-0.05);
    expect(equal.kind).toBe('WIDEN');
  });

  it('ROLLBACKs an undecided canary at the deadline', () => {
    const undecided = decideCanary(
      outcomes(9, 150, 0.9),
      outcomes(10, 150, 0.9),
      DEFAULT_CANARY_POLICY,
    );
    expect(undecided.kind).toBe('WAIT');
    const late = decideCanary(
      outcomes(9, 150, 0.9),
      outcomes(10, 150, 0.9),
      DEFAULT_CANARY_POLICY,
      true,
    );
    expect(late.kind).toBe('ROLLBACK');
    expect(late.reason).toMatch(/^inconclusive at the deadline: /);
  });
});

describe('live gate: behaviour over 200 simulated shadow runs (both versions equally accurate)', () => {
  // Both versions 85 % accurate, the candidate copying production on 80 % of events
  // (about 95 % agreement), 200 labelled events: the defaults' minimum.
  const runs = 200;
  const rates = (margin: number, labelled: number) => {
    let promoted = 0;
    for (let run = 0; run < runs; run++) {
      const pairs = simulate(1000 + run, labelled, 0.85, 0.85, 0.8);
      const decision = decideOnLiveEvidence(pairs, {
        ...policy,
        margin,
        bootstrapSamples: 1000,
        seed: run,
      });
      if (decision.kind === 'PROMOTE') promoted++;
    }
    return { promoted: promoted / runs, blocked: 1 - promoted / runs };
  };

  it('margin 0 is a proof-of-no-loss test: an equal candidate is PROMOTED only about (1 - confidence) / 2 of the time', () => {
    // With margin 0 the lower bound of a 95 % interval around a true difference of 0 lies
    // below 0 about 97.5 % of the time. So an equally good (but not identical) candidate is
    // BLOCKED almost always, and the gate's false-promotion rate at the boundary is ~2.5 %:
    // it is not trigger-happy about promoting. (Measured: 3 % promoted.)
    const { promoted, blocked } = rates(0, 200);
    expect(promoted).toBeLessThanOrEqual(0.075);
    expect(blocked).toBeGreaterThan(0.9);
  });

  it('with a margin wide against the noise, an equal candidate is BLOCKED at most ~5-10 % of the time', () => {
    // 400 labels, margin 0.05 (the interval's half-width here is about 0.03). Measured: 1 %.
    // The defaults (200 labels, margin 0.01) block such a candidate about 87 % of the time.
    const { blocked } = rates(0.05, 400);
    expect(blocked).toBeLessThanOrEqual(0.1);
  });
});
