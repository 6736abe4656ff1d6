/**
 * The model registry's tables (migration 0003): `model_versions` and the append-only
 * `promotion_log`. Rows in and out, plus the pure rules that derive the production alias
 * and the rollback target from the log. No Kafka here: publishing deployments is the
 * registry layer's job.
 *
 * One writer: this module is the only code that writes either table, and only the registry
 * layer (#domain/registry's ModelRegistry) calls its writing methods, so every change of a
 * version row (registration, status, drift calibration) is decided in one place. Everything
 * else reads, through `RegistryReader`. tests/unit/registry-ownership.test.ts fails on a
 * second writer.
 */
import { AppError } from '#platform/common';
import type { ClickHouseClient } from './clickhouse.ts';
import { literal } from './sql.ts';

/**
 * Lifecycle of a version as decided so far. Whether it is production *now*, or in a live role
 * now, is not a status: that is derived from the promotion log (a rollback would otherwise
 * leave two rows saying PROMOTED, or none). SHADOW / CANARY: the version entered that role.
 */
export type VersionStatus = 'REGISTERED' | 'SHADOW' | 'CANARY' | 'PROMOTED' | 'BLOCKED';

/**
 * A row of the promotion log. REGISTERED a version; PROMOTED it to production; BLOCKED it (a
 * candidate refused, offline or live; one in a live role leaves it); ROLLED_BACK production
 * to an earlier version, or a canary back out of its share (production unchanged); SHADOW a
 * candidate into shadow scoring; CANARY a candidate into serving `details.trafficShare`.
 */
export type Decision = 'REGISTERED' | 'PROMOTED' | 'BLOCKED' | 'ROLLED_BACK' | 'SHADOW' | 'CANARY';

/** The live role of a candidate beside production. */
export type CandidateRole = 'SHADOW' | 'CANARY';

export interface ModelVersionRecord {
  readonly modelName: string;
  readonly version: string;
  readonly parentVersion: string | null;
  readonly createdTimeMs: number;
  readonly artifactUri: string;
  readonly artifactSha256: string;
  /** What the version was trained on (files, windows, label counts): free-form JSON. */
  readonly trainingData: Readonly<Record<string, unknown>>;
  readonly trainingDataSha256: string;
  /** e.g. golden_f1, golden_accuracy, eval_f1 ... */
  readonly metrics: Readonly<Record<string, number>>;
  readonly referenceCentroid: readonly number[];
  /**
   * Threshold of the statistic that decides input drift (domain AUC, else cosine) in this
   * version's calibration; 0 when the reference could not be calibrated.
   */
  readonly driftThreshold: number;
  /**
   * Drift thresholds calibrated on this version's reference when it was registered, by
   * calibrationKey (#domain/drift): free-form JSON. `{status: 'uncalibrated', error}` when the
   * reference could not be calibrated. The drift service only reads them.
   */
  readonly driftCalibration: Readonly<Record<string, unknown>>;
  readonly status: VersionStatus;
  readonly note: string;
  /** Row revision (ms since the epoch): the newest revision of a version wins. */
  readonly revision: number;
}

export interface DecisionRecord {
  readonly decisionId: string;
  readonly timeMs: number;
  readonly modelName: string;
  readonly actor: string;
  readonly decision: Decision;
  readonly candidateVersion: string;
  readonly productionBefore: string | null;
  readonly productionAfter: string | null;
  readonly candidateScore: number | null;
  readonly productionScore: number | null;
  readonly reason: string;
  readonly details: Readonly<Record<string, unknown>>;
}

export class RegistryError extends AppError {
  constructor(code: string, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options);
  }
}

/**
 * Production history replayed from the log, oldest first: PROMOTED pushes its version,
 * ROLLED_BACK unwinds to its target. The last entry is production now.
 */
export function productionHistory(decisions: readonly DecisionRecord[]): string[] {
  const stack: string[] = [];
  for (const decision of sortDecisions(decisions)) {
    if (decision.decision === 'PROMOTED' && decision.productionAfter !== null) {
      stack.push(decision.productionAfter);
    } else if (decision.decision === 'ROLLED_BACK' && decision.productionAfter !== null) {
      const at = stack.lastIndexOf(decision.productionAfter);
      if (at >= 0) stack.length = at + 1;
      else stack.push(decision.productionAfter);
    }
  }
  return stack;
}

/** The production alias: `production_after` of the latest PROMOTED or ROLLED_BACK decision. */
export function productionVersion(decisions: readonly DecisionRecord[]): string | null {
  const history = productionHistory(decisions);
  return history[history.length - 1] ?? null;
}

/** Where a rollback without an explicit target goes: the production before the current one. */
export function rollbackTarget(decisions: readonly DecisionRecord[]): string | null {
  const history = productionHistory(decisions);
  return history[history.length - 2] ?? null;
}

/** A candidate in a live role, as the promotion log says now. */
export interface CandidateAssignment {
  readonly version: string;
  readonly role: CandidateRole;
  /** CANARY: the share of traffic it answers, in (0, 1); 0 in SHADOW. */
  readonly trafficShare: number;
  /** When it entered this role (the decision's time, ms). */
  readonly sinceMs: number;
  /** The decision that put it in this role. */
  readonly decisionId: string;
}

/** What serves a model now: production and at most one candidate in a live role. */
export interface ServingPlan {
  readonly production: string | null;
  readonly candidate: CandidateAssignment | null;
}

/** `details.trafficShare` of a CANARY decision, or 0 when it is missing or out of (0, 1). */
export function trafficShareOf(decision: DecisionRecord): number {
  const share = decision.details['trafficShare'];
  return typeof share === 'number' && share > 0 && share < 1 ? share : 0;
}

/**
 * The serving plan replayed from the log (the one rule every reader uses): production as in
 * `productionVersion`; SHADOW and CANARY put their version in that role; any production change
 * (PROMOTED, ROLLED_BACK) ends a trial, and so does BLOCKED of the candidate in the role.
 */
export function servingPlan(decisions: readonly DecisionRecord[]): ServingPlan {
  let candidate: CandidateAssignment | null = null;
  for (const decision of sortDecisions(decisions)) {
    switch (decision.decision) {
      case 'SHADOW':
      case 'CANARY':
        candidate = {
          version: decision.candidateVersion,
          role: decision.decision,
          trafficShare: decision.decision === 'CANARY' ? trafficShareOf(decision) : 0,
          sinceMs: decision.timeMs,
          decisionId: decision.decisionId,
        };
        break;
      case 'PROMOTED':
      case 'ROLLED_BACK':
        candidate = null;
        break;
      case 'BLOCKED':
        if (candidate?.version === decision.candidateVersion) candidate = null;
        break;
      case 'REGISTERED':
        break;
    }
  }
  return { production: productionVersion(decisions), candidate };
}

/** Log order: time, then id (two decisions in the same millisecond keep a stable order). */
export function sortDecisions(decisions: readonly DecisionRecord[]): DecisionRecord[] {
  return [...decisions].sort(
    (a, b) => a.timeMs - b.timeMs || a.decisionId.localeCompare(b.decisionId),
  );
}

interface VersionRow {
  model_name: string;
  version: string;
  parent_version: string | null;
  created_time: number;
  artifact_uri: string;
  artifact_sha256: string;
  training_data: string;
  training_data_sha256: string;
  metrics: string;
  reference_centroid: number[];
  drift_threshold: number;
  drift_calibration: string;
  status: string;
  note: string;
  revision: number | string;
}

interface DecisionRow {
  decision_id: string;
  decision_time: number;
  decision_time_ms: number | string;
  model_name: string;
  actor: string;
  decision: string;
  candidate_version: string;
  production_before: string | null;
  production_after: string | null;
  candidate_score: number | null;
  production_score: number | null;
  reason: string;
  details: string;
}

function parseObject<T>(json: string, what: string): T {
  try {
    return JSON.parse(json) as T;
  } catch (error) {
    throw new RegistryError('REGISTRY_ROW_INVALID', `${what} is not JSON: ${json.slice(0, 80)}`, {
      cause: error,
    });
  }
}

function toVersion(row: VersionRow): ModelVersionRecord {
  return {
    modelName: row.model_name,
    version: row.version,
    parentVersion: row.parent_version,
    createdTimeMs: Number(row.created_time) * 1000,
    artifactUri: row.artifact_uri,
    artifactSha256: row.artifact_sha256,
    trainingData: parseObject(row.training_data, 'training_data'),
    trainingDataSha256: row.training_data_sha256,
    metrics: parseObject(row.metrics, 'metrics'),
    referenceCentroid: row.reference_centroid,
    driftThreshold: row.drift_threshold,
    driftCalibration: parseObject(row.drift_calibration, 'drift_calibration'),
    status: row.status as VersionStatus,
    note: row.note,
    revision: Number(row.revision),
  };
}

function toDecision(row: DecisionRow): DecisionRecord {
  return {
    decisionId: row.decision_id,
    timeMs: Number(row.decision_time_ms),
    modelName: row.model_name,
    actor: row.actor,
    decision: row.decision as Decision,
    candidateVersion: row.candidate_version,
    productionBefore: row.production_before,
    productionAfter: row.production_after,
    candidateScore: row.candidate_score,
    productionScore: row.production_score,
    reason: row.reason,
    details: parseObject(row.details, 'details'),
  };
}

const VERSION_COLUMNS = `model_name, version, parent_version, toUInt32(created_time) AS created_time,
  artifact_uri, artifact_sha256, training_data, training_data_sha256, metrics,
  reference_centroid, drift_threshold, drift_calibration, status, note, revision`;

const DECISION_COLUMNS = `decision_id, toUInt32(decision_time) AS decision_time, decision_time_ms,
  model_name, actor, decision, candidate_version, production_before, production_after,
  candidate_score, production_score, reason, details`;

/** What a process that only reads the registry needs (drift, the retrainer, the promoter). */
export type RegistryReader = Pick<RegistryStore, 'versions' | 'version' | 'decisions'>;

/** The tables as the registry layer uses them (reads and the two writes). */
export type RegistryTables = RegistryReader &
  Pick<RegistryStore, 'insertVersion' | 'appendDecision'>;

/** Reads and appends registry rows (ClickHouse 18.16 and current: JSONEachRow, no params). */
export class RegistryStore {
  constructor(private readonly client: ClickHouseClient) {}

  async insertVersion(record: ModelVersionRecord): Promise<void> {
    await this.client.insert({
      table: 'model_versions',
      format: 'JSONEachRow',
      values: [
        {
          model_name: record.modelName,
          version: record.version,
          parent_version: record.parentVersion,
          created_time: Math.floor(record.createdTimeMs / 1000),
          artifact_uri: record.artifactUri,
          artifact_sha256: record.artifactSha256,
          training_data: JSON.stringify(record.trainingData),
          training_data_sha256: record.trainingDataSha256,
          metrics: JSON.stringify(record.metrics),
          reference_centroid: [...record.referenceCentroid],
          drift_threshold: record.driftThreshold,
          drift_calibration: JSON.stringify(record.driftCalibration),
          status: record.status,
          note: record.note,
          revision: record.revision,
        },
      ],
    });
  }

  /** Newest revision of every version of a model, oldest version first. */
  async versions(modelName: string): Promise<ModelVersionRecord[]> {
    const rows = await this.select<VersionRow>(
      `SELECT ${VERSION_COLUMNS} FROM model_versions WHERE model_name = ${literal(modelName)}
       ORDER BY version, revision DESC LIMIT 1 BY version`,
    );
    return rows
      .map(toVersion)
      .sort((a, b) => a.createdTimeMs - b.createdTimeMs || a.revision - b.revision);
  }

  async version(modelName: string, version: string): Promise<ModelVersionRecord | null> {
    const rows = await this.select<VersionRow>(
      `SELECT ${VERSION_COLUMNS} FROM model_versions
       WHERE model_name = ${literal(modelName)} AND version = ${literal(version)}
       ORDER BY revision DESC LIMIT 1`,
    );
    return rows[0] ? toVersion(rows[0]) : null;
  }

  async appendDecision(decision: DecisionRecord): Promise<void> {
    await this.client.insert({
      table: 'promotion_log',
      format: 'JSONEachRow',
      values: [
        {
          decision_id: decision.decisionId,
          decision_time: Math.floor(decision.timeMs / 1000),
          decision_time_ms: decision.timeMs,
          model_name: decision.modelName,
          actor: decision.actor,
          decision: decision.decision,
          candidate_version: decision.candidateVersion,
          production_before: decision.productionBefore,
          production_after: decision.productionAfter,
          candidate_score: decision.candidateScore,
          production_score: decision.productionScore,
          reason: decision.reason,
          details: JSON.stringify(decision.details),
        },
      ],
    });
  }

  /** The log of one model, oldest first, one row per decision id. */
  async decisions(modelName: string): Promise<DecisionRecord[]> {
    const rows = await this.select<DecisionRow>(
      `SELECT ${DECISION_COLUMNS} FROM promotion_log WHERE model_name = ${literal(modelName)}
       ORDER BY decision_id, decision_time_ms LIMIT 1 BY decision_id`,
    );
    return sortDecisions(rows.map(toDecision));
  }

  private async select<T>(query: string): Promise<T[]> {
    const result = await this.client.query({ query, format: 'JSONEachRow' });
    return result.json<T>();
  }
}
