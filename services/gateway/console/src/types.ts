/** The gateway's console API as the browser sees it (times are epoch milliseconds). */

export interface WhoAmI {
  name: string;
  scopes: string[];
}

export type Label = 'NEGATIVE' | 'POSITIVE';

export interface PredictResult {
  label: Label;
  probabilities: Record<Label, number>;
  confidence: number;
  truncated: boolean;
}

export interface PredictResponse {
  model: { name: string; version: string };
  latency_ms: number;
  results: PredictResult[];
}

export interface PipelineSnapshot {
  time: number;
  topics: { topic: string; messagesPerSecond: number; endOffset: number }[];
  groups: { group: string; topic: string; lag: number }[];
  deadLetters: { topic: string; messages: number }[];
  services: { name: string; ready: boolean; checks: Record<string, boolean>; error?: string }[];
}

export interface DriftCheck {
  time: number;
  modelVersion: string;
  segment: string;
  windowSize: number;
  inputDistance: number;
  inputThreshold: number;
  domainAuc: number | null;
  domainAucThreshold: number | null;
  classMixDistance: number;
  classMixThreshold: number;
  inputState: string;
  predictionState: string;
}

export interface DriftEpisode {
  modelVersion: string;
  segment: string;
  startTime: number;
  endTime: number | null;
}

export type DriftState = 'OK' | 'DRIFT' | 'INSUFFICIENT_DATA' | 'ERROR';

export interface DriftEvent {
  eventId: string;
  eventTime: number;
  modelName: string;
  modelVersion: string;
  segment: string;
  kind: 'STATE_CHANGE' | 'STATUS';
  state: DriftState;
  previousState: string | null;
  predictionDriftState: string;
  /** Sent by the gateway's drift feed; not every event has them. */
  episodeId?: string | null;
  reason?: string | null;
}

/** A candidate's live role beside production (#platform/store CandidateRole). */
export type LiveRole = 'SHADOW' | 'CANARY';

export interface ModelVersion {
  version: string;
  parentVersion: string | null;
  createdTime: number;
  /** REGISTERED, SHADOW, CANARY, PROMOTED, BLOCKED (what was decided; not "serving now"). */
  status: string;
  production: boolean;
  /** The live role it holds now, if it is the plan's candidate. */
  liveRole: LiveRole | null;
  metrics: Record<string, number>;
  trainingData: string;
  note: string;
}

/** The serving plan's candidate. */
export interface LiveCandidate {
  version: string;
  role: LiveRole;
  /** CANARY: its share of traffic in (0, 1); SHADOW: 0. */
  trafficShare: number;
  since: number;
  decisionId: string;
}

export interface ModelsResponse {
  modelName: string;
  production: string | null;
  candidate: LiveCandidate | null;
  versions: ModelVersion[];
}

export type LiveVerdictKind = 'WAIT' | 'PROMOTE' | 'BLOCK' | 'WIDEN' | 'ROLLBACK';

/** GET /v1/console/models/live: the promoter's gate on the candidate's live evidence. */
export interface LiveAssessment {
  role: LiveRole;
  expired: boolean;
  deadline: number;
  verdict: { kind: LiveVerdictKind; reason: string };
  evidence: {
    /** SHADOW only. */
    shadowEvents: number | null;
    /** SHADOW only. */
    agreement: number | null;
    /** SHADOW: labelled shadow events; CANARY: labelled predictions the canary served. */
    labelledEvents: number;
    /** CANARY only. */
    productionLabelled: number | null;
    candidateF1: number | null;
    productionF1: number | null;
    f1Difference: number | null;
    f1DifferenceInterval: [number, number] | null;
  };
  gate: {
    margin: number;
    confidence: number;
    minShadowEvents: number | null;
    minLabelledEvents: number;
    maxLabelledEvents: number | null;
    maxWaitMs: number;
  };
}

export interface LiveTrialResponse {
  modelName: string;
  time: number;
  production: string | null;
  candidate: LiveCandidate | null;
  assessment: LiveAssessment | null;
}

export interface Decision {
  decisionId: string;
  time: number;
  actor: string;
  decision: string;
  candidateVersion: string;
  productionBefore: string | null;
  productionAfter: string | null;
  candidateScore: number | null;
  productionScore: number | null;
  reason: string;
  /** The live role the decision started or ended (null: an offline decision). */
  liveRole: LiveRole | null;
  /** CANARY: the share of traffic it put the candidate on. */
  trafficShare: number | null;
}

export interface DecisionAnswer {
  decision: { decision: string; reason: string; productionAfter: string | null };
}

export interface RetrainAnswer {
  requestId: string;
}
