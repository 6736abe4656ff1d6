/**
 * A candidate's live trial as of now: the serving plan's candidate (SHADOW or CANARY), its
 * live evidence read from the predictions table (#platform/store live-comparison), and what
 * the gates (live-gate.ts) make of it. The promoter acts on it (promoter/live-trials.ts);
 * `mlops registry live` and the console's Models page show the same assessment, so operators
 * see the figures the promoter decides on.
 *
 * The gates' settings are config (`liveTrialConfigFields`, read by all three from their own
 * environment; the promoter's are the ones that decide, and each decision's details record
 * them).
 */
import { boolField, intField, numberField } from '#platform/common';
import type {
  CandidateAssignment,
  ServedLabelled,
  ServedLabelledQuery,
  ServingPlan,
  ShadowPair,
  ShadowPairsQuery,
} from '#platform/store';
import {
  type CanaryDecision,
  type CanaryPolicy,
  type LiveGateDecision,
  type LiveGatePolicy,
  type PairedPrediction,
  type ServedOutcome,
  decideCanary,
  decideOnLiveEvidence,
} from './live-gate.ts';

/** Settings of the live gates (SHADOW then, when CANARY_TRAFFIC_SHARE > 0, CANARY). */
export const liveTrialConfigFields = {
  shadowEnabled: boolField(
    'SHADOW_ENABLED',
    'true: a candidate that passes the offline gate enters SHADOW and is promoted on live ' +
      'evidence; false: it is promoted at once (no live trial)',
    { default: true },
  ),
  shadowMinEvents: intField('SHADOW_MIN_EVENTS', 'Shadow-scored events before deciding', {
    default: 500,
    min: 0,
  }),
  shadowMinLabelled: intField(
    'SHADOW_MIN_LABELLED',
    'Of those, events with a ground-truth label before deciding',
    { default: 200, min: 0 },
  ),
  shadowMaxLabelled: intField(
    'SHADOW_MAX_LABELLED',
    'Labelled events after which an inconclusive comparison BLOCKs the candidate',
    { default: 2000, min: 1 },
  ),
  shadowMaxWaitMs: intField(
    'SHADOW_MAX_WAIT_MS',
    'Longest a candidate stays in SHADOW; then it is BLOCKED unless shown non-inferior',
    { default: 86_400_000, min: 1_000 },
  ),
  liveMargin: numberField(
    'LIVE_GATE_MARGIN',
    'Live F1 a candidate may lose against production and still pass (non-inferiority margin)',
    { default: 0.02, min: 0, max: 1 },
  ),
  liveConfidence: numberField(
    'LIVE_GATE_CONFIDENCE',
    'Two-sided confidence of the bootstrap intervals of the live gates',
    { default: 0.95, min: 0.5, max: 0.999 },
  ),
  canaryTrafficShare: numberField(
    'CANARY_TRAFFIC_SHARE',
    'Share of traffic a candidate that passed SHADOW serves as a CANARY before it takes all; ' +
      '0: promote it at once',
    { default: 0, min: 0, max: 0.5 },
  ),
  canaryMinLabelled: intField(
    'CANARY_MIN_LABELLED',
    'Labelled predictions the canary must have served before it is widened or rolled back',
    { default: 100, min: 1 },
  ),
  canaryMargin: numberField(
    'CANARY_MARGIN',
    'Live F1 the canary may lose against production on their own traffic before it is rolled back',
    { default: 0.05, min: 0, max: 1 },
  ),
  canaryMaxWaitMs: intField(
    'CANARY_MAX_WAIT_MS',
    'Longest a canary serves its share undecided; then it is rolled back',
    { default: 86_400_000, min: 1_000 },
  ),
};

export interface LiveTrialSettings {
  readonly shadowMinEvents: number;
  readonly shadowMinLabelled: number;
  readonly shadowMaxLabelled: number;
  readonly shadowMaxWaitMs: number;
  readonly liveMargin: number;
  readonly liveConfidence: number;
  readonly canaryMinLabelled: number;
  readonly canaryMargin: number;
  readonly canaryMaxWaitMs: number;
}

/** Bootstrap resamples and seed of both gates (fixed: the decision is reproducible). */
const BOOTSTRAP_SAMPLES = 2000;
const SEED = 15;
/** Newest live events read per assessment, at most. */
const MAX_ROWS = 50_000;

export function shadowPolicyOf(settings: LiveTrialSettings): LiveGatePolicy {
  return {
    minShadowEvents: settings.shadowMinEvents,
    minLabelledEvents: settings.shadowMinLabelled,
    maxLabelledEvents: settings.shadowMaxLabelled,
    confidence: settings.liveConfidence,
    margin: settings.liveMargin,
    bootstrapSamples: BOOTSTRAP_SAMPLES,
    seed: SEED,
  };
}

export function canaryPolicyOf(settings: LiveTrialSettings): CanaryPolicy {
  return {
    minLabelledEvents: settings.canaryMinLabelled,
    margin: settings.canaryMargin,
    confidence: settings.liveConfidence,
    bootstrapSamples: BOOTSTRAP_SAMPLES,
    seed: SEED,
  };
}

/** Where the live evidence is read from (#platform/store, bound to a ClickHouse client). */
export interface LiveEvidenceSource {
  readonly shadowPairs: (query: ShadowPairsQuery) => Promise<ShadowPair[]>;
  readonly servedLabelled: (query: ServedLabelledQuery) => Promise<ServedLabelled[]>;
}

export type LiveAssessment =
  | {
      readonly role: 'SHADOW';
      readonly production: string;
      readonly candidate: CandidateAssignment;
      /** The trial ran past its longest allowed time. */
      readonly expired: boolean;
      readonly verdict: LiveGateDecision;
    }
  | {
      readonly role: 'CANARY';
      readonly production: string;
      readonly candidate: CandidateAssignment;
      readonly expired: boolean;
      readonly verdict: CanaryDecision;
    };

const binary = (label: string): 0 | 1 => (label === 'POSITIVE' ? 1 : 0);

/** The trial of `plan`'s candidate as of `now`, or null when no candidate is in a role. */
export async function assessLiveTrial(
  modelName: string,
  plan: ServingPlan,
  source: LiveEvidenceSource,
  settings: LiveTrialSettings,
  now: number,
): Promise<LiveAssessment | null> {
  const candidate = plan.candidate;
  if (candidate === null || plan.production === null) return null;
  const production = plan.production;
  const age = now - candidate.sinceMs;
  if (candidate.role === 'SHADOW') {
    const pairs = await source.shadowPairs({
      modelName,
      productionVersion: production,
      candidateVersion: candidate.version,
      sinceMs: candidate.sinceMs,
      maxRows: MAX_ROWS,
    });
    const paired: PairedPrediction[] = pairs.map((pair) => ({
      eventId: pair.eventId,
      production: binary(pair.production),
      candidate: binary(pair.candidate),
      groundTruth: pair.groundTruth === null ? null : binary(pair.groundTruth),
    }));
    const expired = age > settings.shadowMaxWaitMs;
    const verdict = decideOnLiveEvidence(paired, shadowPolicyOf(settings), expired);
    return { role: 'SHADOW', production, candidate, expired, verdict };
  }
  const read = (version: string) =>
    source.servedLabelled({ modelName, version, sinceMs: candidate.sinceMs, maxRows: MAX_ROWS });
  const [canaryRows, productionRows] = await Promise.all([
    read(candidate.version),
    read(production),
  ]);
  const outcomes = (rows: readonly ServedLabelled[]): ServedOutcome[] =>
    rows.map((row) => ({ predicted: binary(row.label), groundTruth: binary(row.groundTruth) }));
  const expired = age > settings.canaryMaxWaitMs;
  const verdict = decideCanary(
    outcomes(canaryRows),
    outcomes(productionRows),
    canaryPolicyOf(settings),
    expired,
  );
  return { role: 'CANARY', production, candidate, expired, verdict };
}
