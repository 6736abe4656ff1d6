/**
 * The promotion rule (pure). Scores are measured by the promoter on the same evaluation data
 * for both models, never copied from what the candidate reported about itself:
 *   - `holdout`: the recent labelled traffic the retrainer held out (never trained on);
 *   - `golden`: SST-2 dev, the fixed golden set.
 * With a production model: PROMOTED when candidate holdout F1 >= production holdout F1 +
 * margin AND the candidate's golden F1 >= production golden F1 - guardrail. Without one:
 * PROMOTED when the candidate's golden F1 >= minF1 (and its holdout F1 too, when it has a
 * holdout set). Everything else is BLOCKED, with the reason spelled out.
 */
export interface ModelScores {
  /** F1 on the candidate's held-out recent data; null when the candidate has none. */
  readonly holdoutF1: number | null;
  readonly goldenF1: number;
}

export interface PromotionPolicy {
  /** Required holdout-F1 gain over production (default 0: at least as good). */
  readonly margin: number;
  /** Largest allowed golden-F1 drop against production (default 0.02). */
  readonly guardrail: number;
  /** Minimum golden F1 of a first production version. */
  readonly minF1: number;
}

export interface PromotionVerdict {
  readonly decision: 'PROMOTED' | 'BLOCKED';
  readonly reason: string;
  /** The scores the decision compared (logged as candidate / production score). */
  readonly candidateScore: number;
  readonly productionScore: number | null;
}

const f = (value: number) => value.toFixed(4);

export function decidePromotion(
  candidate: ModelScores,
  production: ModelScores | null,
  policy: PromotionPolicy,
): PromotionVerdict {
  if (production === null) {
    const ok =
      candidate.goldenF1 >= policy.minF1 &&
      (candidate.holdoutF1 === null || candidate.holdoutF1 >= policy.minF1);
    return {
      decision: ok ? 'PROMOTED' : 'BLOCKED',
      candidateScore: candidate.goldenF1,
      productionScore: null,
      reason: ok
        ? `no production model; golden F1 ${f(candidate.goldenF1)} >= minimum ${policy.minF1}`
        : `no production model; golden F1 ${f(candidate.goldenF1)}` +
          `${candidate.holdoutF1 === null ? '' : `, holdout F1 ${f(candidate.holdoutF1)}`} below minimum ${policy.minF1}`,
    };
  }
  if (candidate.holdoutF1 === null || production.holdoutF1 === null) {
    return {
      decision: 'BLOCKED',
      candidateScore: candidate.goldenF1,
      productionScore: production.goldenF1,
      reason: 'the candidate has no held-out evaluation data to compare with production',
    };
  }
  const gain = candidate.holdoutF1 - production.holdoutF1;
  const goldenDrop = production.goldenF1 - candidate.goldenF1;
  const better = gain >= policy.margin;
  const guarded = goldenDrop <= policy.guardrail;
  const scores =
    `holdout F1 ${f(candidate.holdoutF1)} vs production ${f(production.holdoutF1)} (gain ${f(gain)}, margin ${policy.margin}); ` +
    `golden F1 ${f(candidate.goldenF1)} vs ${f(production.goldenF1)} (drop ${f(goldenDrop)}, guardrail ${policy.guardrail})`;
  return {
    decision: better && guarded ? 'PROMOTED' : 'BLOCKED',
    candidateScore: candidate.holdoutF1,
    productionScore: production.holdoutF1,
    reason:
      better && guarded
        ? `at least as good as production: ${scores}`
        : `${better ? '' : 'not better than production on recent held-out data'}` +
          `${!better && !guarded ? ' and ' : ''}` +
          `${guarded ? '' : 'golden-set F1 dropped more than the guardrail'}: ${scores}`,
  };
}
