/**
 * One retraining, for one trigger (a drift episode or a manual request), with every
 * dependency injected.
 *
 *   1. Idempotency: a version already registered for this trigger id is announced again,
 *      not trained again (a redelivered drift event, a restart after registering).
 *   2. Data: the production version's recent predictions with a ground-truth label since
 *      the trigger's start; fewer than `minLabels` -> a WAITING_FOR_LABELS status and a
 *      retriable error, so the consumer retries with backoff (offset not committed) and
 *      trains once enough labels have arrived.
 *   3. Split by event-id hash: a held-out share of the recent data is kept for evaluation
 *      (written into the candidate as evaluation/holdout.tsv) and never trained on.
 *   4. Train a new head on the frozen encoder's [CLS] embeddings of the recent training
 *      rows plus a stratified sample of the labelled reference data, deterministic for the
 *      trigger (seed), in a worker thread, with progress.
 *   5. The candidate's drift reference comes from its own recent training data.
 *   6. Register with lineage and metrics measured here (held-out and golden set): the
 *      registry calibrates the drift thresholds of the new reference as it registers the
 *      version (the one place versions are calibrated), then announce on `models.candidates`.
 */
import { createHash } from 'node:crypto';
import { AppError, type Logger, deterministicUuid } from '#platform/common';
import { type ClassificationMetrics, type LabelledText, artifactFolder } from '#domain/model';
import type { ModelRegistry } from '#domain/registry';
import type { ModelCandidate, RetrainStatus } from '#platform/serde';
import type { ModelVersionRecord, RegistryReader } from '#platform/store';
import type { LabelledPrediction } from './labelled-data.ts';
import { type Trigger, isHeldOut } from './triggers.ts';

export class InsufficientLabelsError extends AppError {
  constructor(message: string) {
    // Retriable: the consumer retries with backoff, so the trigger trains once labels arrive.
    super('INSUFFICIENT_LABELS', message, { retriable: true });
  }
}

export class NoProductionModelError extends AppError {
  constructor(modelName: string) {
    super('NO_PRODUCTION_MODEL', `${modelName} has no production version to retrain`, {
      retriable: true,
    });
  }
}

export interface TrainingExample {
  readonly embedding: Float32Array;
  /** 1 = POSITIVE. */
  readonly label: number;
}

export interface TrainRequest {
  readonly parentFolder: string;
  /** Recent labelled rows for training (held-out rows excluded). */
  readonly recent: readonly TrainingExample[];
  readonly seed: number;
  readonly shuffleLabels: boolean;
  readonly version: string;
  readonly parentVersion: string;
  /** Written into the candidate's model card. */
  readonly description: Readonly<Record<string, unknown>>;
  /** Rows of evaluation/holdout.tsv. */
  readonly holdout: readonly LabelledText[];
}

export interface TrainResult {
  /** The candidate model folder (encoder + new head, own drift reference, holdout set). */
  readonly folder: string;
  readonly summary: Readonly<Record<string, number | string>>;
  readonly referenceCentroid: readonly number[];
  /** Rows of the labelled reference data mixed in. */
  readonly referenceRows: number;
}

export interface RetrainSettings {
  readonly minLabels: number;
  readonly maxRows: number;
  readonly holdoutFraction: number;
}

export interface RetrainDeps {
  readonly modelName: string;
  readonly settings: RetrainSettings;
  readonly registry: ModelRegistry;
  readonly store: RegistryReader;
  readonly baseDir: string;
  readonly countLabelled: (version: string, sinceMs: number) => Promise<number>;
  readonly readLabelled: (version: string, sinceMs: number) => Promise<LabelledPrediction[]>;
  readonly train: (
    request: TrainRequest,
    onProgress: (fraction: number, message: string) => void,
  ) => Promise<TrainResult>;
  readonly evaluate: (
    folder: string,
    data: readonly LabelledText[],
  ) => Promise<ClassificationMetrics>;
  readonly golden: readonly LabelledText[];
  readonly publishCandidate: (candidate: ModelCandidate) => Promise<void>;
  readonly publishStatus: (status: RetrainStatus) => Promise<void>;
  /** Keeps the consumer's group membership alive during long steps. */
  readonly heartbeat: () => Promise<void>;
  readonly now: () => number;
  readonly logger: Logger;
}

const POSITIVE = 'POSITIVE';

/** A 32-bit seed from the trigger id (the same trigger always trains the same way). */
export function seedOf(triggerId: string, override?: string): number {
  if (override !== undefined && /^\d+$/.test(override)) return Number(override) >>> 0;
  return Number.parseInt(deterministicUuid(triggerId, 'seed').slice(0, 8), 16) >>> 0;
}

/** The next integer version after the highest integer version registered. */
export function nextVersion(versions: readonly { version: string }[]): string {
  const numbers = versions.map((v) => Number(v.version)).filter((n) => Number.isInteger(n));
  return String((numbers.length ? Math.max(...numbers) : 0) + 1);
}

function candidateEvent(record: ModelVersionRecord, trigger: Trigger): ModelCandidate {
  return {
    // Deterministic: announcing the same candidate again is recognisably the same event.
    eventId: deterministicUuid(record.modelName, record.version, 'candidate'),
    eventTime: record.createdTimeMs,
    modelName: record.modelName,
    modelVersion: record.version,
    parentVersion: record.parentVersion,
    artifactUri: record.artifactUri,
    artifactSha256: record.artifactSha256,
    metrics: record.metrics,
    requestId: trigger.requestId,
    episodeId: trigger.episodeId,
  };
}

export async function retrain(
  trigger: Trigger,
  deps: RetrainDeps,
): Promise<ModelVersionRecord | null> {
  const { modelName, settings, logger } = deps;
  const status = async (
    state: RetrainStatus['state'],
    labelled: number,
    message: string,
    extra: { progress?: number; candidateVersion?: string } = {},
  ) => {
    const time = deps.now();
    await deps.publishStatus({
      eventId: deterministicUuid(trigger.id, state, String(time)),
      eventTime: time,
      modelName,
      triggerId: trigger.id,
      trigger: trigger.kind,
      state,
      labelled,
      required: settings.minLabels,
      progress: extra.progress ?? null,
      candidateVersion: extra.candidateVersion ?? null,
      message,
    });
  };

  const versions = await deps.store.versions(modelName);
  const existing = versions.find((v) => v.trainingData.triggerId === trigger.id);
  if (existing) {
    logger.info(
      { trigger: trigger.id, version: existing.version },
      'already trained; announcing again',
    );
    await deps.publishCandidate(candidateEvent(existing, trigger));
    return existing;
  }

  const production = await deps.registry.production(modelName);
  if (!production) throw new NoProductionModelError(modelName);
  if (trigger.modelVersion !== null && trigger.modelVersion !== production.version) {
    // An episode of a version that is no longer production (a replayed or late event):
    // its data is not what production serves now.
    logger.info(
      { trigger: trigger.id, version: trigger.modelVersion, production: production.version },
      'drift of a former production version; not retraining',
    );
    return null;
  }
  const labelled = await deps.countLabelled(production.version, trigger.sinceMs);
  if (labelled < settings.minLabels) {
    const message =
      `${labelled} labelled predictions of version ${production.version} since ` +
      `${new Date(trigger.sinceMs).toISOString()}; ${settings.minLabels} needed. ` +
      'Waiting for more labels (retried with backoff).';
    await status('WAITING_FOR_LABELS', labelled, message);
    throw new InsufficientLabelsError(message);
  }

  const rows = await deps.readLabelled(production.version, trigger.sinceMs);
  const holdoutRows = rows.filter((row) => isHeldOut(row.eventId, settings.holdoutFraction));
  const trainRows = rows.filter((row) => !isHeldOut(row.eventId, settings.holdoutFraction));
  const holdout: LabelledText[] = holdoutRows.map((row) => ({
    text: row.text,
    label: row.groundTruth === POSITIVE ? 1 : 0,
  }));
  const version = nextVersion(versions);
  const shuffleLabels = trigger.options.shuffleLabels === 'true';
  const seed = seedOf(trigger.id, trigger.options.seed);
  await status(
    'TRAINING',
    rows.length,
    `training version ${version} on ${trainRows.length} recent rows`,
    {
      progress: 0,
    },
  );
  let lastReported = 0;
  const parentFolder = artifactFolder(production.artifactUri, deps.baseDir);
  const trained = await deps.train(
    {
      parentFolder,
      recent: trainRows.map((row) => ({
        embedding: row.embedding,
        label: row.groundTruth === POSITIVE ? 1 : 0,
      })),
      seed,
      shuffleLabels,
      version,
      parentVersion: production.version,
      description: { triggerId: trigger.id, kind: trigger.kind, reason: trigger.reason },
      holdout,
    },
    (fraction, message) => {
      logger.info({ version, progress: Number(fraction.toFixed(3)) }, message);
      void deps.heartbeat();
      if (fraction - lastReported >= 0.25 || fraction >= 1) {
        lastReported = fraction;
        void status('TRAINING', rows.length, message, { progress: fraction }).catch(
          () => undefined,
        );
      }
    },
  );
  await deps.heartbeat();
  const [heldOutMetrics, goldenMetrics] = [
    await deps.evaluate(trained.folder, holdout),
    await deps.evaluate(trained.folder, deps.golden),
  ];
  await deps.heartbeat();
  const positives = trainRows.filter((row) => row.groundTruth === POSITIVE).length;
  const record = await deps.registry.register({
    modelName,
    version,
    parentVersion: production.version,
    folder: trained.folder,
    trainingData: {
      triggerId: trigger.id,
      kind: trigger.kind,
      episodeId: trigger.episodeId,
      requestId: trigger.requestId,
      sinceMs: trigger.sinceMs,
      window: { from: rows.at(-1)?.eventTimeMs ?? null, to: rows[0]?.eventTimeMs ?? null },
      recentTrainRows: trainRows.length,
      recentPositive: positives,
      recentNegative: trainRows.length - positives,
      heldOutRows: holdoutRows.length,
      referenceRows: trained.referenceRows,
      shuffledLabels: shuffleLabels,
      seed,
      summary: trained.summary,
    },
    trainingDataSha256: createHash('sha256')
      .update(
        rows
          .map((row) => row.eventId)
          .sort()
          .join('\n'),
      )
      .digest('hex'),
    metrics: {
      holdout_f1: heldOutMetrics.f1,
      holdout_accuracy: heldOutMetrics.accuracy,
      holdout_precision: heldOutMetrics.precision,
      holdout_recall: heldOutMetrics.recall,
      holdout_n: heldOutMetrics.n,
      golden_f1: goldenMetrics.f1,
      golden_accuracy: goldenMetrics.accuracy,
      golden_precision: goldenMetrics.precision,
      golden_recall: goldenMetrics.recall,
      golden_n: goldenMetrics.n,
    },
    referenceCentroid: trained.referenceCentroid,
    actor: 'retrainer',
    note: trigger.reason,
    onCalibrationProgress: (stage, done, total) =>
      logger.debug({ version, stage, done, total }, 'calibrating drift thresholds'),
  });
  await deps.heartbeat();
  await deps.publishCandidate(candidateEvent(record, trigger));
  await status('CANDIDATE', rows.length, `version ${version} registered and announced`, {
    progress: 1,
    candidateVersion: version,
  });
  logger.info(
    { version, holdoutF1: heldOutMetrics.f1, goldenF1: goldenMetrics.f1 },
    'candidate registered',
  );
  return record;
}
