/**
 * The live promotion gates (pure): the shadow gate decides on a candidate running in SHADOW,
 * from the live events that both the candidate and production scored (only production's
 * answer was served; labels arrive late and for a fraction of the reviews); the canary gate
 * (`decideCanary`, below) on a canary serving its share beside production. The promoter runs
 * them; `mlops registry live` and the console show the same figures.
 *
 * The rule, as an operator reads it:
 *
 *   1. WAIT until the candidate has shadow-scored at least `minShadowEvents` live events AND at
 *      least `minLabelledEvents` of them have a ground-truth label. The reason names what is
 *      still missing ("shadow events 320 of 500 needed").
 *   2. Then compare the two versions on the same labelled events: F1 of the POSITIVE class for
 *      each, and the difference candidate F1 − production F1. Its uncertainty is a paired
 *      bootstrap: draw the labelled events with replacement (`bootstrapSamples` times, seeded by
 *      `seed`), score BOTH versions on each resample, and take the percentile interval of the
 *      difference at the two-sided `confidence` (0.95: the 2.5th and 97.5th percentiles).
 *   3. PROMOTE when the interval's lower bound is >= −`margin`: the data rule out, at that
 *      confidence, that the candidate is more than `margin` F1 below production (it is
 *      "non-inferior"). Otherwise BLOCK: the candidate may be worse than production by more than
 *      the margin, or there is not enough evidence to tell.
 *
 * Consequences worth knowing:
 *   - The gate demands evidence of non-inferiority; it does not give the benefit of the doubt.
 *     With `margin` 0, a candidate exactly as good as production (but not identical in its
 *     predictions) is BLOCKED most of the time (its interval straddles 0); only identical
 *     predictions (interval [0, 0]) or a candidate shown to be better pass. The margin is the
 *     operator's statement of "how much worse is still acceptable", and it must be wide compared
 *     with the interval's half-width at `minLabelledEvents` for an equally good candidate to
 *     pass (see the unit tests for figures).
 *   - At the boundary (true difference exactly −margin) the gate promotes about
 *     (1 − confidence) / 2 of the time: 2.5 % at 0.95.
 *
 * Definitions:
 *   - Duplicate event ids count once: the first occurrence wins (its predictions and its label),
 *     so the caller passes each event already joined with its label.
 *   - Shadow events: the distinct events. Labelled events: those whose `groundTruth` is not null.
 *   - Agreement: share of ALL shadow events (labelled or not) where both versions predict the
 *     same label; 0 when there are no events.
 *   - F1 = 2·TP / (2·TP + FP + FN) on the labelled events, POSITIVE (1) as the positive class;
 *     0 when undefined (no positive predictions and no positives), the convention of
 *     `classificationMetrics` in #domain/model. On such a resample both versions score 0.
 *   - Deterministic: the same events (in the same order) and policy give the same interval.
 *     Another seed moves the interval's bounds by bootstrap noise only (a few thousandths at
 *     2,000 samples); the F1s and the difference do not depend on the seed.
 */
import { mulberry32, sampleWithReplacement } from '#platform/common';

/** One live event scored by both versions. Labels: 0 NEGATIVE, 1 POSITIVE; groundTruth null when not labelled (yet). */
export interface PairedPrediction {
  readonly eventId: string;
  readonly production: 0 | 1;
  readonly candidate: 0 | 1;
  readonly groundTruth: 0 | 1 | null;
}

export interface LiveGatePolicy {
  /** Distinct shadow-scored events needed before deciding (e.g. 500). */
  readonly minShadowEvents: number;
  /** Of those, events with a ground-truth label needed before deciding (e.g. 200). */
  readonly minLabelledEvents: number;
  /** Two-sided confidence of the bootstrap interval, in (0, 1) (e.g. 0.95). */
  readonly confidence: number;
  /** Candidate F1 may be this much below production's and still pass (non-inferiority margin), e.g. 0.01. */
  readonly margin: number;
  /** Labelled events after which an inconclusive interval BLOCKs (e.g. 2000). */
  readonly maxLabelledEvents: number;
  /** Bootstrap resamples of the labelled events (e.g. 2000). */
  readonly bootstrapSamples: number;
  /** Seed of the bootstrap resampling. */
  readonly seed: number;
}

export interface LiveEvidence {
  readonly shadowEvents: number;
  readonly labelledEvents: number;
  /** Share of shadow events (labelled or not) where both predict the same label; 0 with none. */
  readonly agreement: number;
  /** F1 of the POSITIVE class on the labelled events; null when none is labelled. */
  readonly productionF1: number | null;
  readonly candidateF1: number | null;
  /** candidateF1 − productionF1; null when none is labelled. */
  readonly f1Difference: number | null;
  /** Paired bootstrap percentile interval of the difference; null when none is labelled. */
  readonly f1DifferenceInterval: readonly [number, number] | null;
}

export type LiveGateDecision =
  | { readonly kind: 'WAIT'; readonly reason: string; readonly evidence: LiveEvidence }
  | {
      readonly kind: 'PROMOTE' | 'BLOCK';
      readonly reason: string;
      readonly evidence: LiveEvidence;
    };

export const DEFAULT_LIVE_GATE_POLICY: LiveGatePolicy = Object.freeze({
  minShadowEvents: 500,
  minLabelledEvents: 200,
  confidence: 0.95,
  margin: 0.02,
  maxLabelledEvents: 2000,
  bootstrapSamples: 2000,
  seed: 15,
});

function validatePolicy(policy: LiveGatePolicy): void {
  const wholeAtLeast = (name: keyof LiveGatePolicy, value: number, min: number) => {
    if (!Number.isInteger(value) || value < min) {
      throw new RangeError(`live gate policy: ${name} must be an integer >= ${min}, got ${value}`);
    }
  };
  wholeAtLeast('minShadowEvents', policy.minShadowEvents, 0);
  wholeAtLeast('minLabelledEvents', policy.minLabelledEvents, 0);
  wholeAtLeast('bootstrapSamples', policy.bootstrapSamples, 1);
  wholeAtLeast('maxLabelledEvents', policy.maxLabelledEvents, 1);
  if (!Number.isFinite(policy.seed)) {
    throw new RangeError(`live gate policy: seed must be a finite number, got ${policy.seed}`);
  }
  if (!(policy.confidence > 0 && policy.confidence < 1)) {
    throw new RangeError(
      `live gate policy: confidence must lie in (0, 1), got ${policy.confidence}`,
    );
  }
  if (!(policy.margin >= 0 && policy.margin <= 1)) {
    throw new RangeError(`live gate policy: margin must lie in [0, 1], got ${policy.margin}`);
  }
}

const isLabel = (value: unknown): value is 0 | 1 => value === 0 || value === 1;

/** Distinct events, first occurrence of an id wins; rejects labels other than 0 and 1. */
function distinctEvents(pairs: readonly PairedPrediction[]): PairedPrediction[] {
  const seen = new Set<string>();
  const out: PairedPrediction[] = [];
  for (const pair of pairs) {
    if (seen.has(pair.eventId)) continue;
    if (
      !isLabel(pair.production) ||
      !isLabel(pair.candidate) ||
      !(pair.groundTruth === null || isLabel(pair.groundTruth))
    ) {
      throw new RangeError(
        `live gate: event ${pair.eventId} has a label other than 0, 1 (or null ground truth)`,
      );
    }
    seen.add(pair.eventId);
    out.push(pair);
  }
  return out;
}

/*
 * A version's confusion cell on one labelled event is coded 0 TN, 1 TP, 2 FP, 3 FN (`cell`). A
 * labelled event is the joint code production·4 + candidate in [0, 16), so a resample is one
 * histogram of 16 counts and both versions are scored on exactly the same draw.
 */
const TP = 1;
const FP = 2;
const FN = 3;

function cell(predicted: 0 | 1, truth: 0 | 1): number {
  if (predicted === 1) return truth === 1 ? TP : FP;
  return truth === 1 ? FN : 0;
}

/** F1 = 2TP / (2TP + FP + FN); 0 when the denominator is 0. */
function f1FromCounts(tp: number, fp: number, fn: number): number {
  const denominator = 2 * tp + fp + fn;
  return denominator === 0 ? 0 : (2 * tp) / denominator;
}

/** [production F1, candidate F1] from a 16-cell joint histogram. */
function pairedF1(histogram: ArrayLike<number>): [number, number] {
  const production = [0, 0, 0, 0];
  const candidate = [0, 0, 0, 0];
  for (let code = 0; code < 16; code++) {
    const count = histogram[code]!;
    if (count === 0) continue;
    production[code >> 2]! += count;
    candidate[code & 3]! += count;
  }
  return [
    f1FromCounts(production[TP]!, production[FP]!, production[FN]!),
    f1FromCounts(candidate[TP]!, candidate[FP]!, candidate[FN]!),
  ];
}

/** Linear-interpolation quantile (type 7) of an ascending array. */
function quantile(sorted: Float64Array, p: number): number {
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

/** The live evidence: counts, agreement, both F1s and the paired-bootstrap interval of the difference. */
export function liveEvidence(
  pairs: readonly PairedPrediction[],
  policy: LiveGatePolicy,
): LiveEvidence {
  validatePolicy(policy);
  const events = distinctEvents(pairs);
  let agreeing = 0;
  const codes: number[] = [];
  for (const event of events) {
    if (event.production === event.candidate) agreeing++;
    if (event.groundTruth !== null) {
      codes.push(
        cell(event.production, event.groundTruth) * 4 + cell(event.candidate, event.groundTruth),
      );
    }
  }
  const shadowEvents = events.length;
  const labelledEvents = codes.length;
  const agreement = shadowEvents === 0 ? 0 : agreeing / shadowEvents;
  if (labelledEvents === 0) {
    return {
      shadowEvents,
      labelledEvents,
      agreement,
      productionF1: null,
      candidateF1: null,
      f1Difference: null,
      f1DifferenceInterval: null,
    };
  }

  const full = new Int32Array(16);
  for (const code of codes) full[code]!++;
  const [productionF1, candidateF1] = pairedF1(full);
  const f1Difference = candidateF1 - productionF1;

  const joint = Uint8Array.from(codes);
  const random = mulberry32(policy.seed);
  const differences = new Float64Array(policy.bootstrapSamples);
  const histogram = new Int32Array(16);
  for (let b = 0; b < policy.bootstrapSamples; b++) {
    histogram.fill(0);
    const draw = sampleWithReplacement(random, labelledEvents, labelledEvents);
    for (let i = 0; i < labelledEvents; i++) histogram[joint[draw[i]!]!]!++;
    const [production, candidate] = pairedF1(histogram);
    differences[b] = candidate - production;
  }
  differences.sort();
  const alpha = 1 - policy.confidence;
  const interval: readonly [number, number] = Object.freeze([
    quantile(differences, alpha / 2),
    quantile(differences, 1 - alpha / 2),
  ]);

  return {
    shadowEvents,
    labelledEvents,
    agreement,
    productionF1,
    candidateF1,
    f1Difference,
    f1DifferenceInterval: interval,
  };
}

/** A figure with 3 decimals, never "-0.000". */
function fixed(value: number): string {
  const text = value.toFixed(3);
  return /^-0\.0+$/.test(text) ? text.slice(1) : text;
}

const signed = (value: number) => {
  const text = fixed(value);
  return text.startsWith('-') ? text : `+${text}`;
};

const percent = (share: number) => `${Number((share * 100).toFixed(2))}%`;

/** WAIT, PROMOTE or BLOCK, by the rule in this module's doc, with the figures in the reason. */
export function decideOnLiveEvidence(
  pairs: readonly PairedPrediction[],
  policy: LiveGatePolicy,
  /** The caller's deadline passed (the longest a candidate may stay in shadow). */
  expired = false,
): LiveGateDecision {
  const evidence = liveEvidence(pairs, policy);
  const missing: string[] = [];
  if (evidence.shadowEvents < policy.minShadowEvents) {
    missing.push(
      `shadow events ${evidence.shadowEvents} of ${policy.minShadowEvents} needed ` +
        `(${policy.minShadowEvents - evidence.shadowEvents} more)`,
    );
  }
  if (evidence.labelledEvents < policy.minLabelledEvents) {
    missing.push(
      `labelled events ${evidence.labelledEvents} of ${policy.minLabelledEvents} needed ` +
        `(${policy.minLabelledEvents - evidence.labelledEvents} more)`,
    );
  }
  const { productionF1, candidateF1, f1Difference, f1DifferenceInterval } = evidence;
  if (
    missing.length > 0 ||
    productionF1 === null ||
    candidateF1 === null ||
    f1Difference === null ||
    f1DifferenceInterval === null
  ) {
    // The last four are null only with no labelled event, which the minimum then reports
    // (a policy with minLabelledEvents 0 still needs one labelled event to compare).
    if (missing.length === 0) missing.push('labelled events 0, at least 1 needed');
    if (expired) {
      return {
        kind: 'BLOCK',
        reason: `not enough live evidence before the deadline: ${missing.join('; ')}`,
        evidence,
      };
    }
    return { kind: 'WAIT', reason: `waiting for live evidence: ${missing.join('; ')}`, evidence };
  }

  const [lower, upper] = f1DifferenceInterval;
  const floor = -policy.margin;
  const figures =
    `live F1 ${fixed(candidateF1)} vs production ${fixed(productionF1)} on ` +
    `${evidence.labelledEvents} labelled events: difference ${signed(f1Difference)}, ` +
    `${percent(policy.confidence)} interval [${fixed(lower)}, ${fixed(upper)}]`;
  const tail =
    ` (margin ${fixed(policy.margin)}); agreement ${percent(evidence.agreement)} ` +
    `over ${evidence.shadowEvents} shadow events`;
  if (lower >= floor) {
    return {
      kind: 'PROMOTE',
      reason: `${figures} stays at or above ${fixed(floor)}${tail}`,
      evidence,
    };
  }
  if (upper < floor) {
    return { kind: 'BLOCK', reason: `${figures} lies below ${fixed(floor)}${tail}`, evidence };
  }
  const inconclusive = `${figures} reaches below ${fixed(floor)}${tail}`;
  if (expired || evidence.labelledEvents >= policy.maxLabelledEvents) {
    return {
      kind: 'BLOCK',
      reason: `inconclusive at ${expired ? 'the deadline' : `${policy.maxLabelledEvents} labelled events`}: ${inconclusive}`,
      evidence,
    };
  }
  return {
    kind: 'WAIT',
    reason: `inconclusive, waiting for more labels: ${inconclusive}`,
    evidence,
  };
}

/** One labelled prediction a version served (0 NEGATIVE, 1 POSITIVE). */
export interface ServedOutcome {
  readonly predicted: 0 | 1;
  readonly groundTruth: 0 | 1;
}

export interface CanaryPolicy {
  /** Labelled predictions the canary must have served before it is judged (e.g. 100). */
  readonly minLabelledEvents: number;
  /** Canary F1 may be this much below production's on their own traffic (e.g. 0.05). */
  readonly margin: number;
  /** Two-sided confidence of the bootstrap interval (e.g. 0.95). */
  readonly confidence: number;
  readonly bootstrapSamples: number;
  readonly seed: number;
}

export const DEFAULT_CANARY_POLICY: CanaryPolicy = Object.freeze({
  minLabelledEvents: 100,
  margin: 0.05,
  confidence: 0.95,
  bootstrapSamples: 2000,
  seed: 15,
});

export interface CanaryEvidence {
  readonly canaryLabelled: number;
  readonly productionLabelled: number;
  readonly canaryF1: number | null;
  readonly productionF1: number | null;
  readonly f1Difference: number | null;
  /** Bootstrap interval of canary F1 − production F1 (each side resampled on its own). */
  readonly f1DifferenceInterval: readonly [number, number] | null;
}

export type CanaryDecision = {
  readonly kind: 'WAIT' | 'WIDEN' | 'ROLLBACK';
  readonly reason: string;
  readonly evidence: CanaryEvidence;
};

function f1Of(outcomes: readonly ServedOutcome[], draw?: Int32Array): number {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  const n = outcomes.length;
  for (let i = 0; i < n; i++) {
    const o = outcomes[draw ? draw[i]! : i]!;
    if (o.predicted === 1 && o.groundTruth === 1) tp++;
    else if (o.predicted === 1) fp++;
    else if (o.groundTruth === 1) fn++;
  }
  return f1FromCounts(tp, fp, fn);
}

/**
 * The canary gate. A canary and production answer different reviews (the canary its share by
 * review-id hash), so they are compared on their own labelled traffic: F1 of each and an
 * unpaired bootstrap interval of the difference (each side resampled on its own).
 *   - WAIT until the canary served `minLabelledEvents` labelled predictions (and production one).
 *   - ROLLBACK when the interval's upper bound is < −margin: live F1 dropped past the limit.
 *   - WIDEN (to 100 %: PROMOTED) when the lower bound is >= −margin.
 *   - Otherwise WAIT; at the caller's deadline (`expired`) an undecided canary is ROLLED BACK.
 */
export function decideCanary(
  canary: readonly ServedOutcome[],
  production: readonly ServedOutcome[],
  policy: CanaryPolicy,
  expired = false,
): CanaryDecision {
  const base = { canaryLabelled: canary.length, productionLabelled: production.length };
  if (canary.length < Math.max(1, policy.minLabelledEvents) || production.length === 0) {
    const evidence: CanaryEvidence = {
      ...base,
      canaryF1: canary.length > 0 ? f1Of(canary) : null,
      productionF1: production.length > 0 ? f1Of(production) : null,
      f1Difference: null,
      f1DifferenceInterval: null,
    };
    const missing =
      `canary labelled ${canary.length} of ${policy.minLabelledEvents} needed` +
      `${production.length === 0 ? ', production labelled 0' : ''}`;
    return expired
      ? {
          kind: 'ROLLBACK',
          reason: `not enough live evidence before the deadline: ${missing}`,
          evidence,
        }
      : { kind: 'WAIT', reason: `waiting for live evidence: ${missing}`, evidence };
  }
  const canaryF1 = f1Of(canary);
  const productionF1 = f1Of(production);
  const random = mulberry32(policy.seed);
  const differences = new Float64Array(policy.bootstrapSamples);
  for (let b = 0; b < policy.bootstrapSamples; b++) {
    const c = f1Of(canary, sampleWithReplacement(random, canary.length, canary.length));
    const p = f1Of(production, sampleWithReplacement(random, production.length, production.length));
    differences[b] = c - p;
  }
  differences.sort();
  const alpha = 1 - policy.confidence;
  const interval: readonly [number, number] = [
    quantile(differences, alpha / 2),
    quantile(differences, 1 - alpha / 2),
  ];
  const evidence: CanaryEvidence = {
    ...base,
    canaryF1,
    productionF1,
    f1Difference: canaryF1 - productionF1,
    f1DifferenceInterval: interval,
  };
  const floor = -policy.margin;
  const figures =
    `canary live F1 ${fixed(canaryF1)} on ${canary.length} labelled vs production ` +
    `${fixed(productionF1)} on ${production.length}: difference ${signed(canaryF1 - productionF1)}, ` +
    `${percent(policy.confidence)} interval [${fixed(interval[0])}, ${fixed(interval[1])}]` +
    ` (limit ${fixed(floor)})`;
  if (interval[1] < floor)
    return { kind: 'ROLLBACK', reason: `live F1 dropped: ${figures}`, evidence };
  if (interval[0] >= floor) return { kind: 'WIDEN', reason: `live F1 holds: ${figures}`, evidence };
  return expired
    ? { kind: 'ROLLBACK', reason: `inconclusive at the deadline: ${figures}`, evidence }
    : { kind: 'WAIT', reason: `inconclusive, waiting for more labels: ${figures}`, evidence };
}
