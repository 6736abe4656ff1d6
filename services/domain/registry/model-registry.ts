/**
 * The model registry: versions with their lineage and metrics, the append-only promotion
 * log, the content-addressed artifact store, and `models.deployments`.
 *
 * Contract of every change of what serves a model (promote, rollback; a candidate into SHADOW
 * or CANARY, a canary rolled back, a candidate in a role blocked):
 *   1. the artifact is verified against its sha256 (a damaged artifact is never deployed);
 *   2. the decision is appended to the promotion log (the source of truth: the production
 *      alias and the candidate's live role, the serving plan, are derived from it:
 *      #platform/store `servingPlan`);
 *   3. a Deployment event carrying the whole new plan is published, with the decision id as its
 *      event id, signed with the registry's key (serving processes load only signed
 *      deployments: #platform/serde deployment-signature).
 * If 3 fails after 2, the log already says what the plan is; `syncDeployment` publishes
 * it again (the CLI's `registry sync`, and every `registry bootstrap`), and consumers treat a
 * deployment of the plan they already serve as a no-op. At most one candidate holds a live
 * role at a time; any production change ends its trial. Every process that acts on
 * production (inference, gateway, drift) learns it from those signed events, not from the
 * tables.
 *
 * One writer of `model_versions`: this class (through RegistryStore) decides every row. A
 * version's drift thresholds are part of it: they are calibrated here, once, when the version
 * is registered (the thresholds shipped with the folder when they fit the configured window
 * size and alpha, else a calibration in a worker thread), and the drift service only reads
 * them. They are model metadata, not drift state: a pure function of the artifact's reference
 * sample and the settings, fixed for the life of the version, needed by anyone who judges
 * the version's traffic. (Drift's own state, checks and episodes, lives in `drift_checks`,
 * which only the drift service writes.)
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppError, type Logger, deterministicUuid } from '#platform/common';
import {
  type ArtifactStore,
  type ClassificationMetrics,
  artifactFolder,
  readModelFolder,
  verifyFolder,
} from '#domain/model';
import {
  type CalibrationOptions,
  type DriftThresholds,
  calibrationKey,
  headlineThreshold,
  isDriftThresholds,
  readShippedCalibrations,
} from '#domain/drift';
import type { Deployment, DeploymentCandidate, DeploymentSigner } from '#platform/serde';
import {
  type Decision,
  type DecisionRecord,
  type ModelVersionRecord,
  type RegistryTables,
  type ServingPlan,
  RegistryError,
  productionVersion,
  rollbackTarget,
  servingPlan,
} from '#platform/store';

/** This registry instance has no deployment signing key, so it cannot change production. */
export class SigningKeyMissingError extends AppError {
  constructor(modelName: string) {
    super(
      'DEPLOYMENT_SIGNING_KEY_MISSING',
      `cannot publish a deployment of ${modelName}: this process holds no signing key`,
    );
  }
}

/** This registry instance was given no drift calibration settings, so it cannot register. */
export class DriftCalibrationUnconfiguredError extends AppError {
  constructor(modelName: string) {
    super(
      'DRIFT_CALIBRATION_UNCONFIGURED',
      `cannot register a version of ${modelName}: this process has no drift calibration settings`,
    );
  }
}

/**
 * How versions are calibrated at registration: the drift windows (DRIFT_WINDOW_SIZE,
 * DRIFT_ALPHA, the drift service's values) and the calibration itself (calibrateInWorker:
 * tens of seconds, off the event loop).
 */
export interface DriftCalibrationDeps {
  readonly windowSize: number;
  readonly alpha: number;
  readonly calibrate: (folder: string, options: CalibrationOptions) => Promise<DriftThresholds>;
}

export interface ModelRegistryDeps {
  readonly store: RegistryTables;
  readonly artifacts: ArtifactStore;
  /** Resolves once the broker acknowledged the event. */
  readonly publishDeployment: (deployment: Deployment) => Promise<void>;
  /**
   * Signs every deployment before it is published. Absent in processes that only register
   * versions (the retrainer): a production change then fails with SigningKeyMissingError.
   */
  readonly signer?: DeploymentSigner | undefined;
  /**
   * Calibrates drift thresholds at registration. Absent in processes that never register
   * (the promoter): a registration then fails with DriftCalibrationUnconfiguredError.
   */
  readonly driftCalibration?: DriftCalibrationDeps | undefined;
  readonly logger: Logger;
  /** Base for relative artifact URIs. */
  readonly baseDir: string;
  readonly now?: () => number;
}

export interface RegisterInput {
  readonly modelName: string;
  readonly version: string;
  readonly parentVersion: string | null;
  /** Model folder to store (copied into the artifact store). */
  readonly folder: string;
  readonly trainingData: Readonly<Record<string, unknown>>;
  readonly trainingDataSha256: string;
  readonly metrics: Readonly<Record<string, number>>;
  readonly referenceCentroid: readonly number[];
  readonly actor: string;
  readonly note?: string;
  /** Progress of the drift calibration, if one runs (the retrainer logs it). */
  readonly onCalibrationProgress?: (stage: string, done: number, total: number) => void;
}

export interface DecisionInput {
  readonly modelName: string;
  readonly actor: string;
  readonly reason: string;
  readonly candidateScore?: number | null;
  readonly productionScore?: number | null;
  readonly details?: Readonly<Record<string, unknown>>;
  /**
   * Id of the decision (default: random). Give a deterministic one when the same decision
   * may be attempted twice (a redelivered candidate): the log keeps one row per id.
   */
  readonly decisionId?: string;
}

export interface BootstrapInput {
  readonly modelName: string;
  /** The committed bootstrap model folder (with model-card.json and reference.json). */
  readonly folder: string;
  readonly minF1: number;
  /** Golden-set evaluation of a model folder (SST-2 dev). */
  readonly evaluateGolden: (folder: string) => Promise<ClassificationMetrics>;
  readonly actor: string;
}

export interface VersionView extends ModelVersionRecord {
  readonly production: boolean;
}

/** A version's drift fields: its calibrations by key and their one-number summary. */
interface DriftFields {
  readonly driftThreshold: number;
  readonly driftCalibration: Record<string, unknown>;
}

/**
 * The calibration the registry makes for its settings (with the classifier: it serves a
 * detector with or without it), if `calibrations` has it. Present even when its AUC threshold
 * is null (a sample too small for the classifier): calibrating again would give the same.
 */
function registryCalibration(
  calibrations: Readonly<Record<string, unknown>>,
  settings: { readonly windowSize: number; readonly alpha: number },
): DriftThresholds | null {
  const stored = calibrations[calibrationKey(settings.windowSize, settings.alpha, true)];
  return isDriftThresholds(stored) ? stored : null;
}

/** The calibrations of a stored `drift_calibration`, without an uncalibrated status. */
function calibrationsOnly(stored: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(stored).filter(([, value]) => isDriftThresholds(value)));
}

/** The deployment action of each decision that changes the serving plan. */
const PLAN_ACTIONS: Partial<Record<Decision, Deployment['action']>> = {
  PROMOTED: 'PROMOTE',
  ROLLED_BACK: 'ROLLBACK',
  SHADOW: 'SHADOW',
  CANARY: 'CANARY',
  BLOCKED: 'BLOCK',
};

function requireReason(reason: string): string {
  const trimmed = reason.trim();
  if (trimmed === '') throw new RegistryError('REASON_REQUIRED', 'a reason is required');
  return trimmed;
}

export class ModelRegistry {
  private readonly now: () => number;

  constructor(private readonly deps: ModelRegistryDeps) {
    // Strictly increasing, so two decisions of one process never share a millisecond and
    // the log's time order is the order they were made in.
    const clock = deps.now ?? Date.now;
    let last = 0;
    this.now = () => (last = Math.max(clock(), last + 1));
  }

  async list(modelName: string): Promise<VersionView[]> {
    const [versions, decisions] = await Promise.all([
      this.deps.store.versions(modelName),
      this.deps.store.decisions(modelName),
    ]);
    const production = productionVersion(decisions);
    return versions.map((version) => ({ ...version, production: version.version === production }));
  }

  async show(
    modelName: string,
    version: string,
  ): Promise<{ version: VersionView; decisions: DecisionRecord[] }> {
    const record = await this.requireVersion(modelName, version);
    const decisions = await this.deps.store.decisions(modelName);
    return {
      version: { ...record, production: productionVersion(decisions) === version },
      decisions: decisions.filter(
        (d) =>
          d.candidateVersion === version ||
          d.productionBefore === version ||
          d.productionAfter === version,
      ),
    };
  }

  async log(modelName: string): Promise<DecisionRecord[]> {
    return this.deps.store.decisions(modelName);
  }

  async production(modelName: string): Promise<ModelVersionRecord | null> {
    const version = productionVersion(await this.deps.store.decisions(modelName));
    return version === null ? null : this.deps.store.version(modelName, version);
  }

  /**
   * Stores the folder's artifact, calibrates its drift thresholds (driftFields), records the
   * version (status REGISTERED) and logs REGISTERED. Registering the same version with the
   * same artifact again is a no-op; with another artifact it is an error (a version names one
   * immutable artifact).
   */
  async register(input: RegisterInput): Promise<ModelVersionRecord> {
    const stored = await this.deps.artifacts.put(input.folder);
    const existing = await this.deps.store.version(input.modelName, input.version);
    if (existing) {
      if (existing.artifactSha256 !== stored.sha256) {
        throw new RegistryError(
          'VERSION_EXISTS',
          `${input.modelName} version ${input.version} is registered with artifact ${existing.artifactSha256}, not ${stored.sha256}`,
        );
      }
      return existing;
    }
    const drift = await this.driftFields(
      input.modelName,
      input.folder,
      input.onCalibrationProgress,
    );
    const time = this.now();
    const record: ModelVersionRecord = {
      modelName: input.modelName,
      version: input.version,
      parentVersion: input.parentVersion,
      createdTimeMs: time,
      artifactUri: stored.uri,
      artifactSha256: stored.sha256,
      trainingData: input.trainingData,
      trainingDataSha256: input.trainingDataSha256,
      metrics: input.metrics,
      referenceCentroid: input.referenceCentroid,
      ...drift,
      status: 'REGISTERED',
      note: input.note ?? '',
      revision: time,
    };
    await this.deps.store.insertVersion(record);
    await this.appendDecision('REGISTERED', record, null, null, {
      modelName: input.modelName,
      actor: input.actor,
      reason: `registered ${input.version}${input.parentVersion ? ` (parent ${input.parentVersion})` : ''}`,
      details: { artifactSha256: stored.sha256, metrics: input.metrics },
      decisionId: deterministicUuid(input.modelName, input.version, 'REGISTERED'),
    });
    this.deps.logger.info({ model: input.modelName, version: input.version }, 'version registered');
    return record;
  }

  /** Makes `version` production: verify, log PROMOTED, publish the deployment. */
  async promote(version: string, input: DecisionInput): Promise<DecisionRecord> {
    const reason = requireReason(input.reason);
    const record = await this.requireVersion(input.modelName, version);
    const { decisions, already } = await this.logSoFar(input);
    if (already) return already;
    const before = productionVersion(decisions);
    if (before === version) {
      throw new RegistryError('ALREADY_PRODUCTION', `${version} is production already`);
    }
    await this.verifyArtifact(record);
    const ended = await this.endInterruptedTrial(decisions, version, input.modelName, input.actor);
    const decision = await this.appendDecision('PROMOTED', record, before, version, {
      ...input,
      reason,
    });
    await this.setStatus(record, 'PROMOTED');
    await this.publishPlan([...decisions, ...ended, decision], decision, 'PROMOTE', [version]);
    return decision;
  }

  /**
   * A production change ends the live trial of another candidate (it was compared with the
   * production being replaced): that candidate is BLOCKED first, with the reason, so the log
   * and its status say how its trial ended. Returns the decision, if one was logged.
   */
  private async endInterruptedTrial(
    decisions: readonly DecisionRecord[],
    nextProduction: string,
    modelName: string,
    actor: string,
  ): Promise<DecisionRecord[]> {
    const { candidate, production } = servingPlan(decisions);
    if (candidate === null || candidate.version === nextProduction) return [];
    const record = await this.requireVersion(modelName, candidate.version);
    const decision = await this.appendDecision('BLOCKED', record, production, production, {
      modelName,
      actor,
      reason: `${candidate.role} trial ended: production changes from ${production} to ${nextProduction}`,
      details: { interruptedTrial: candidate.role },
    });
    await this.setStatus(record, 'BLOCKED');
    return [decision];
  }

  /** What serves the model now: production and the candidate in a live role, if any. */
  async plan(modelName: string): Promise<ServingPlan> {
    return servingPlan(await this.deps.store.decisions(modelName));
  }

  /**
   * Puts a candidate into SHADOW: serving processes score every request with it too, and
   * never serve its answers (topic predictions.shadow). Needs a production version and no
   * other candidate in a live role (CANDIDATE_ACTIVE); verify, log SHADOW, publish the plan.
   */
  async startShadow(version: string, input: DecisionInput): Promise<DecisionRecord> {
    return this.startTrial(version, 'SHADOW', 0, input);
  }

  /**
   * Puts a candidate into CANARY: it answers `trafficShare` (in (0, 1)) of the reviews and
   * requests, chosen by a stable hash of the review id. From SHADOW, or with no candidate in a
   * role; verify, log CANARY (details.trafficShare), publish the plan.
   */
  async startCanary(
    version: string,
    trafficShare: number,
    input: DecisionInput,
  ): Promise<DecisionRecord> {
    if (!(trafficShare > 0 && trafficShare < 1)) {
      throw new RegistryError(
        'TRAFFIC_SHARE_INVALID',
        `a canary's traffic share must lie in (0, 1), got ${trafficShare}`,
      );
    }
    return this.startTrial(version, 'CANARY', trafficShare, input);
  }

  /**
   * Takes the canary out of its share: logs ROLLED_BACK (production unchanged), marks the
   * version BLOCKED and publishes the plan without it. NO_CANARY when no canary is serving.
   */
  async rollbackCanary(input: DecisionInput): Promise<DecisionRecord> {
    const reason = requireReason(input.reason);
    const { decisions, already } = await this.logSoFar(input);
    if (already) return already;
    const plan = servingPlan(decisions);
    if (plan.candidate?.role !== 'CANARY' || plan.production === null) {
      throw new RegistryError('NO_CANARY', `${input.modelName} has no canary serving`);
    }
    const record = await this.requireVersion(input.modelName, plan.candidate.version);
    const decision = await this.appendDecision(
      'ROLLED_BACK',
      record,
      plan.production,
      plan.production,
      { ...input, reason, details: { ...input.details, canary: true } },
    );
    await this.setStatus(record, 'BLOCKED');
    await this.publishPlan([...decisions, decision], decision, 'ROLLBACK');
    return decision;
  }

  private async startTrial(
    version: string,
    role: 'SHADOW' | 'CANARY',
    trafficShare: number,
    input: DecisionInput,
  ): Promise<DecisionRecord> {
    const reason = requireReason(input.reason);
    const record = await this.requireVersion(input.modelName, version);
    const { decisions, already } = await this.logSoFar(input);
    if (already) return already;
    const plan = servingPlan(decisions);
    if (plan.production === null) {
      throw new RegistryError('NO_PRODUCTION', `${input.modelName} has no production version`);
    }
    if (plan.production === version) {
      throw new RegistryError('ALREADY_PRODUCTION', `${version} is production already`);
    }
    const other = plan.candidate;
    if (other && !(other.version === version && other.role === 'SHADOW' && role === 'CANARY')) {
      throw new RegistryError(
        'CANDIDATE_ACTIVE',
        `${other.version} is in ${other.role} already; block it or roll it back first`,
      );
    }
    await this.verifyArtifact(record);
    const decision = await this.appendDecision(role, record, plan.production, plan.production, {
      ...input,
      reason,
      details: { ...input.details, ...(role === 'CANARY' ? { trafficShare } : {}) },
    });
    await this.setStatus(record, role);
    await this.publishPlan([...decisions, decision], decision, role, [version]);
    return decision;
  }

  /** Logs a BLOCKED decision for a candidate; production is unchanged and nothing is published. */
  async block(version: string, input: DecisionInput): Promise<DecisionRecord> {
    const reason = requireReason(input.reason);
    const record = await this.requireVersion(input.modelName, version);
    const { decisions, already } = await this.logSoFar(input);
    if (already) return already;
    const plan = servingPlan(decisions);
    const production = plan.production;
    const decision = await this.appendDecision('BLOCKED', record, production, production, {
      ...input,
      reason,
    });
    await this.setStatus(record, 'BLOCKED');
    // A candidate in a live role leaves it: serving processes must stop running it.
    if (plan.candidate?.version === version && production !== null) {
      await this.publishPlan([...decisions, decision], decision, 'BLOCK');
    }
    return decision;
  }

  /** Restores the previous production version (or `to`): verify, log ROLLED_BACK, publish. */
  async rollback(input: DecisionInput & { readonly to?: string }): Promise<DecisionRecord> {
    const reason = requireReason(input.reason);
    const decisions = await this.deps.store.decisions(input.modelName);
    const current = productionVersion(decisions);
    if (current === null) {
      throw new RegistryError('NO_PRODUCTION', `${input.modelName} has no production version`);
    }
    const target = input.to ?? rollbackTarget(decisions);
    if (target === null) {
      throw new RegistryError(
        'NOTHING_TO_ROLL_BACK',
        `${input.modelName} has had no production version before ${current}`,
      );
    }
    if (target === current) {
      throw new RegistryError('ALREADY_PRODUCTION', `${target} is production already`);
    }
    const record = await this.requireVersion(input.modelName, target);
    await this.verifyArtifact(record);
    const ended = await this.endInterruptedTrial(decisions, target, input.modelName, input.actor);
    const decision = await this.appendDecision('ROLLED_BACK', record, current, target, {
      ...input,
      reason,
    });
    await this.publishPlan([...decisions, ...ended, decision], decision, 'ROLLBACK', [target]);
    return decision;
  }

  /**
   * Publishes the current serving plan again (after a publish that failed, or to fill an
   * emptied deployments topic), as the latest decision that changed it. Returns the production
   * version, or null if none.
   */
  async syncDeployment(modelName: string): Promise<string | null> {
    const decisions = await this.deps.store.decisions(modelName);
    const version = productionVersion(decisions);
    if (version === null) return null;
    const last = [...decisions].reverse().find((d) => PLAN_ACTIONS[d.decision] !== undefined)!;
    await this.publishPlan(decisions, last, PLAN_ACTIONS[last.decision]!);
    return version;
  }

  /**
   * First start: registers the committed bootstrap model (its model card's version, "1"),
   * evaluates it on the golden set and promotes it if its F1 reaches `minF1` (else BLOCKED);
   * either way the decision is logged like any other. Every step is skipped when already
   * done, so it is safe on every start; it ends by re-publishing production's deployment.
   */
  async bootstrap(input: BootstrapInput): Promise<{ version: string; decision: Decision | null }> {
    const info = readModelFolder(input.folder);
    const card = JSON.parse(readFileSync(join(input.folder, 'model-card.json'), 'utf8')) as {
      training_data?: { file: string; sha256: string; rows: number }[];
    };
    const reference = JSON.parse(readFileSync(join(input.folder, 'reference.json'), 'utf8')) as {
      centroid?: number[];
    };
    const decisions = await this.deps.store.decisions(input.modelName);
    const production = productionVersion(decisions);
    if (production !== null) {
      await this.syncDeployment(input.modelName);
      // The way to calibrate production for changed drift settings: restart with them.
      if (this.deps.driftCalibration)
        await this.ensureDriftCalibration(input.modelName, production);
      return { version: production, decision: null };
    }
    const decided = decisions.find(
      (d) =>
        d.candidateVersion === info.version &&
        (d.decision === 'PROMOTED' || d.decision === 'BLOCKED'),
    );
    if (decided) return { version: info.version, decision: null };

    const golden = await input.evaluateGolden(input.folder);
    const metrics = {
      golden_f1: golden.f1,
      golden_accuracy: golden.accuracy,
      golden_precision: golden.precision,
      golden_recall: golden.recall,
      golden_n: golden.n,
    };
    const record = await this.register({
      modelName: input.modelName,
      version: info.version,
      parentVersion: null,
      folder: input.folder,
      trainingData: { kind: 'bootstrap', files: card.training_data ?? [] },
      trainingDataSha256: (card.training_data ?? []).map((file) => file.sha256).join(','),
      metrics,
      referenceCentroid: reference.centroid ?? [],
      actor: input.actor,
      note: 'committed bootstrap model',
    });
    const common = {
      modelName: input.modelName,
      actor: input.actor,
      candidateScore: golden.f1,
      productionScore: null,
      details: { golden: metrics, minF1: input.minF1 },
      decisionId: deterministicUuid(input.modelName, record.version, 'BOOTSTRAP'),
    };
    if (golden.f1 >= input.minF1) {
      await this.promote(record.version, {
        ...common,
        reason: `bootstrap: golden-set F1 ${golden.f1.toFixed(4)} >= minimum ${input.minF1}`,
      });
      return { version: record.version, decision: 'PROMOTED' };
    }
    await this.block(record.version, {
      ...common,
      reason: `bootstrap: golden-set F1 ${golden.f1.toFixed(4)} < minimum ${input.minF1}`,
    });
    return { version: record.version, decision: 'BLOCKED' };
  }

  /**
   * The model's log, and the decision `input.decisionId` names if it is logged already (a
   * retried decision returns it instead of deciding again).
   */
  private async logSoFar(
    input: DecisionInput,
  ): Promise<{ decisions: DecisionRecord[]; already: DecisionRecord | undefined }> {
    const decisions = await this.deps.store.decisions(input.modelName);
    const id = input.decisionId;
    return { decisions, already: id ? decisions.find((d) => d.decisionId === id) : undefined };
  }

  private async requireVersion(modelName: string, version: string): Promise<ModelVersionRecord> {
    const record = await this.deps.store.version(modelName, version);
    if (!record) {
      throw new RegistryError('VERSION_UNKNOWN', `${modelName} has no version ${version}`);
    }
    return record;
  }

  private async verifyArtifact(record: ModelVersionRecord): Promise<void> {
    await verifyFolder(
      artifactFolder(record.artifactUri, this.deps.baseDir),
      record.artifactSha256,
    );
  }

  /**
   * Makes sure `version` carries a drift calibration for the configured window size and
   * alpha, calibrating its stored artifact if not (a new revision of its row). For versions
   * registered under other drift settings; `bootstrap` runs it for production at every start.
   * Returns whether it calibrated. A reference that cannot be calibrated is logged and left
   * (the drift service reports it as an ERROR state).
   */
  async ensureDriftCalibration(modelName: string, version: string): Promise<boolean> {
    const settings = this.requireCalibration(modelName);
    const record = await this.requireVersion(modelName, version);
    if (registryCalibration(record.driftCalibration, settings)) return false;
    await this.verifyArtifact(record);
    const folder = artifactFolder(record.artifactUri, this.deps.baseDir);
    const thresholds = await this.calibrate(modelName, version, folder).catch((error: unknown) => {
      if ((error as { code?: unknown }).code !== 'DRIFT_REFERENCE_INVALID') throw error;
      this.deps.logger.warn(
        { model: modelName, version, err: (error as Error).message },
        'drift reference cannot be calibrated',
      );
      return null;
    });
    if (thresholds === null) return false;
    await this.rewriteVersion(modelName, version, (latest) => ({
      ...latest,
      driftThreshold: headlineThreshold(thresholds),
      driftCalibration: {
        ...calibrationsOnly(latest.driftCalibration),
        [calibrationKey(settings.windowSize, settings.alpha, true)]: thresholds,
      },
    }));
    return true;
  }

  /**
   * The drift fields of a version registered from `folder`: the thresholds shipped with it
   * (drift-calibration.json, written by `make model`) when they include the configured window
   * size and alpha, else a calibration of its reference for them. A reference that cannot be
   * calibrated (missing, malformed: DRIFT_REFERENCE_INVALID) does not stop the registration:
   * the version is stored as uncalibrated with the reason, which the drift service reports
   * as an ERROR state; any other failure (a crashed worker) does, and is retried.
   */
  private async driftFields(
    modelName: string,
    folder: string,
    onProgress?: (stage: string, done: number, total: number) => void,
  ): Promise<DriftFields> {
    const settings = this.requireCalibration(modelName);
    const shipped = readShippedCalibrations(folder);
    const fits = registryCalibration(shipped, settings);
    if (fits) return { driftThreshold: headlineThreshold(fits), driftCalibration: shipped };
    try {
      const thresholds = await this.calibrate(modelName, folder, folder, onProgress);
      return {
        driftThreshold: headlineThreshold(thresholds),
        driftCalibration: {
          ...shipped,
          [calibrationKey(settings.windowSize, settings.alpha, true)]: thresholds,
        },
      };
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'DRIFT_REFERENCE_INVALID') throw error;
      const message = (error as Error).message;
      this.deps.logger.warn({ model: modelName, folder, err: message }, 'drift reference unusable');
      return {
        driftThreshold: 0,
        driftCalibration: { ...shipped, status: 'uncalibrated', error: message },
      };
    }
  }

  /** Calibrates with the classifier: its thresholds serve a detector with or without it. */
  private async calibrate(
    modelName: string,
    what: string,
    folder: string,
    onProgress?: (stage: string, done: number, total: number) => void,
  ): Promise<DriftThresholds> {
    const settings = this.requireCalibration(modelName);
    this.deps.logger.info(
      { model: modelName, of: what, windowSize: settings.windowSize, alpha: settings.alpha },
      'calibrating drift thresholds',
    );
    return settings.calibrate(folder, {
      windowSize: settings.windowSize,
      alpha: settings.alpha,
      ...(onProgress ? { onProgress } : {}),
    });
  }

  private requireCalibration(modelName: string): DriftCalibrationDeps {
    if (!this.deps.driftCalibration) throw new DriftCalibrationUnconfiguredError(modelName);
    return this.deps.driftCalibration;
  }

  private async setStatus(
    record: ModelVersionRecord,
    status: ModelVersionRecord['status'],
  ): Promise<void> {
    if (record.status === status) return;
    await this.rewriteVersion(record.modelName, record.version, (latest) => ({
      ...latest,
      status,
    }));
  }

  /**
   * A new revision of a version's row, changed from its newest revision read right before
   * the write (not from a copy read earlier: a status and a calibration written by two
   * registry calls close together must not undo each other). ClickHouse has no
   * compare-and-set, so two rewrites of one version in the same few milliseconds could
   * still race; both are registry calls, and rare (a promotion, a calibration).
   */
  private async rewriteVersion(
    modelName: string,
    version: string,
    change: (latest: ModelVersionRecord) => ModelVersionRecord,
  ): Promise<void> {
    const latest = await this.requireVersion(modelName, version);
    await this.deps.store.insertVersion({
      ...change(latest),
      modelName: latest.modelName,
      version: latest.version,
      revision: Math.max(this.now(), latest.revision + 1),
    });
  }

  private async appendDecision(
    decision: Decision,
    record: ModelVersionRecord,
    before: string | null,
    after: string | null,
    input: DecisionInput,
  ): Promise<DecisionRecord> {
    const entry: DecisionRecord = {
      decisionId: input.decisionId ?? randomUUID(),
      timeMs: this.now(),
      modelName: input.modelName,
      actor: input.actor,
      decision,
      candidateVersion: record.version,
      productionBefore: before,
      productionAfter: after,
      candidateScore: input.candidateScore ?? null,
      productionScore: input.productionScore ?? null,
      reason: input.reason,
      details: input.details ?? {},
    };
    await this.deps.store.appendDecision(entry);
    this.deps.logger.info(
      {
        model: entry.modelName,
        decision,
        candidate: record.version,
        before,
        after,
        actor: entry.actor,
        reason: entry.reason,
      },
      'registry decision logged',
    );
    return entry;
  }

  /**
   * Publishes the serving plan that `decisions` (the log including `decision`) give: production
   * and its artifact, and the candidate in a role with its artifact, both verified (except the
   * `verifiedVersions` the caller verified just before logging the decision: a folder digest
   * reads the whole model). The decision names the event (id, time, actor, reason, action).
   */
  private async publishPlan(
    decisions: readonly DecisionRecord[],
    decision: DecisionRecord,
    action: Deployment['action'],
    verifiedVersions: readonly string[] = [],
  ): Promise<void> {
    const verify = async (record: ModelVersionRecord) => {
      if (!verifiedVersions.includes(record.version)) await this.verifyArtifact(record);
    };
    if (!this.deps.signer) throw new SigningKeyMissingError(decision.modelName);
    const plan = servingPlan(decisions);
    if (plan.production === null) {
      throw new RegistryError('NO_PRODUCTION', `${decision.modelName} has no production version`);
    }
    const production = await this.requireVersion(decision.modelName, plan.production);
    await verify(production);
    let candidate: DeploymentCandidate | null = null;
    if (plan.candidate) {
      const record = await this.requireVersion(decision.modelName, plan.candidate.version);
      await verify(record);
      candidate = {
        modelVersion: record.version,
        role: plan.candidate.role,
        trafficShare: plan.candidate.trafficShare,
        artifactUri: record.artifactUri,
        artifactSha256: record.artifactSha256,
      };
    }
    const deployment = this.deps.signer.sign({
      eventId: decision.decisionId,
      eventTime: decision.timeMs,
      modelName: decision.modelName,
      modelVersion: production.version,
      previousVersion: decision.productionBefore,
      action,
      artifactUri: production.artifactUri,
      artifactSha256: production.artifactSha256,
      actor: decision.actor,
      reason: decision.reason,
      candidate,
    });
    await this.deps.publishDeployment(deployment);
  }
}
