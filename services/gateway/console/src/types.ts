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

export interface ModelVersion {
  version: string;
  parentVersion: string | null;
  createdTime: number;
  status: string;
  metrics: Record<string, number>;
  trainingData: string;
  note: string;
}

export interface ModelsResponse {
  modelName: string;
  production: string | null;
  versions: ModelVersion[];
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
}

export interface DecisionAnswer {
  decision: { decision: string; reason: string; productionAfter: string | null };
}

export interface RetrainAnswer {
  requestId: string;
}
