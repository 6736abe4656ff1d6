/**
 * The drift detector's evaluation round, with every dependency injected (ClickHouse, Kafka,
 * the registry and the clock are arguments), so it is unit-testable without them.
 *
 * One round (`evaluate`), run by the leader only:
 *   1. find the production version (the newest signed deployment); when it changed, load its
 *      reference and the thresholds the registry calibrated for this window size and alpha
 *      when it registered the version (read only: the detector never calibrates), and reset
 *      every segment to INSUFFICIENT_DATA: drift is judged against the new model's reference;
 *   2. for the global window ('*') and each active source: read the newest window, compute the
 *      statistics, step the input-drift and prediction-drift state machines (hysteresis);
 *   3. store one `drift_checks` row per segment, then publish a STATE_CHANGE event for every
 *      transition and a STATUS event per segment to `drift.events`.
 * A missing or malformed reference, a version without a calibration for these settings, or a
 * failed window read, is an ERROR state with its reason (never a silent OK); a calibration
 * that arrives later (the registry adds it) is picked up at the next round.
 */
import { type Logger, deterministicUuid, describeError } from '#platform/common';
import {
  type DriftReference,
  type DriftThresholds,
  type DriftState as MachineState,
  type DriftStateName,
  type EmbeddingWindow,
  type HysteresisConfig,
  type InputStatistic,
  type WindowEvaluation,
  embeddingMatrix,
  evaluateWindow,
  findCalibration,
  initialDriftState,
  reduceDriftState,
} from '#domain/drift';
import type { DriftEvent, DriftState as EventState } from '#platform/serde';
import type { DriftCheckRow } from '#platform/store';
import type { WindowRow } from './drift-store.ts';

export const GLOBAL_SEGMENT = '*';

export interface ProductionModel {
  readonly version: string;
  /** Local folder of the version's artifact (holds reference.json + its sample). */
  readonly folder: string;
  /**
   * The calibrations the registry stored with this version, by calibrationKey(); null when
   * the registry has no such version.
   */
  readonly calibrations: Readonly<Record<string, unknown>> | null;
}

export interface DetectorSettings extends HysteresisConfig {
  readonly windowSize: number;
  readonly alpha: number;
  readonly inputStatistics: readonly InputStatistic[];
  /** Judge each review source separately too. */
  readonly segments: boolean;
}

export interface RestoredSegment {
  readonly inputState: string;
  readonly predictionState: string;
  readonly episodeId: string | null;
}

export interface DetectorDeps {
  readonly modelName: string;
  readonly settings: DetectorSettings;
  readonly production: () => Promise<ProductionModel | null>;
  readonly loadReference: (folder: string) => DriftReference;
  readonly readWindow: (version: string, source: string | undefined) => Promise<WindowRow[]>;
  readonly activeSources: (version: string) => Promise<string[]>;
  /** Latest stored state per segment of a version (resume after a restart or failover). */
  readonly restore: (version: string) => Promise<Map<string, RestoredSegment>>;
  readonly writeChecks: (rows: readonly DriftCheckRow[]) => Promise<void>;
  readonly publish: (events: readonly DriftEvent[]) => Promise<void>;
  readonly now: () => number;
  readonly logger: Logger;
}

interface SegmentState {
  input: MachineState;
  prediction: MachineState;
  episodeId: string | null;
}

interface ModelContext {
  readonly version: string;
  readonly reference: DriftReference | null;
  readonly thresholds: DriftThresholds | null;
  /** Why the reference cannot be used (then every round reports ERROR). */
  readonly error: string | null;
  /** The reference is fine but no calibration fits yet: looked up again every round. */
  readonly awaitingCalibration: boolean;
  readonly segments: Map<string, SegmentState>;
}

export interface SegmentResult {
  readonly segment: string;
  readonly rows: number;
  readonly evaluation: WindowEvaluation | null;
  readonly inputState: EventState;
  readonly predictionState: EventState;
  readonly episodeId: string | null;
  readonly error: string | null;
}

export interface RoundResult {
  readonly version: string | null;
  readonly segments: readonly SegmentResult[];
  readonly events: readonly DriftEvent[];
}

/** The state machine's names -> the event schema's (WARMING_UP is INSUFFICIENT_DATA there). */
export function eventState(state: DriftStateName): EventState {
  return state === 'WARMING_UP' ? 'INSUFFICIENT_DATA' : state;
}

function machineState(state: string): DriftStateName {
  if (state === 'OK' || state === 'DRIFT' || state === 'ERROR') return state;
  return 'WARMING_UP';
}

/** Window rows -> the statistics' matrix form (rows with a label the model lacks are skipped). */
export function toEmbeddingWindow(
  rows: readonly WindowRow[],
  reference: DriftReference,
): EmbeddingWindow {
  const usable = rows.filter(
    (row) => row.embedding.length === reference.dim && reference.classLabels.includes(row.label),
  );
  const data = new Float32Array(usable.length * reference.dim);
  usable.forEach((row, r) => data.set(row.embedding, r * reference.dim));
  return {
    embeddings: embeddingMatrix(data, reference.dim),
    predicted: Int32Array.from(usable, (row) => reference.classLabels.indexOf(row.label)),
  };
}

export class DriftDetector {
  private context: ModelContext | null = null;

  constructor(private readonly deps: DetectorDeps) {}

  /** Forget the current model context (leadership lost: the next leader restores from the store). */
  reset(): void {
    this.context = null;
  }

  async evaluate(): Promise<RoundResult> {
    const production = await this.deps.production();
    if (production === null) {
      this.deps.logger.debug({ model: this.deps.modelName }, 'no production version yet');
      return { version: null, segments: [], events: [] };
    }
    const events: DriftEvent[] = [];
    const context = await this.contextFor(production, events);
    const segments = [GLOBAL_SEGMENT];
    if (this.deps.settings.segments && context.reference) {
      segments.push(...(await this.deps.activeSources(context.version)));
    }
    const results: SegmentResult[] = [];
    const checks: DriftCheckRow[] = [];
    const checkTime = this.deps.now();
    for (const segment of segments) {
      const { result, check, segmentEvents } = await this.evaluateSegment(
        context,
        segment,
        checkTime,
      );
      results.push(result);
      checks.push(check);
      events.push(...segmentEvents);
    }
    // Checks first: a published state change always has its evaluation on record.
    await this.deps.writeChecks(checks);
    await this.deps.publish(events);
    return { version: context.version, segments: results, events };
  }

  private async contextFor(
    production: ProductionModel,
    events: DriftEvent[],
  ): Promise<ModelContext> {
    if (this.context?.version === production.version) {
      if (!this.context.awaitingCalibration) return this.context;
      const lookup = this.lookupCalibration(production);
      if (!lookup.found) {
        this.context = { ...this.context, error: lookup.reason };
        return this.context;
      }
      this.deps.logger.info(
        { version: production.version, key: lookup.key },
        'drift calibration found in the registry',
      );
      this.context = {
        ...this.context,
        thresholds: lookup.thresholds,
        error: null,
        awaitingCalibration: false,
      };
      return this.context;
    }
    const previous = this.context;
    let reference: DriftReference | null = null;
    let thresholds: DriftThresholds | null = null;
    let error: string | null = null;
    let awaitingCalibration = false;
    try {
      reference = this.deps.loadReference(production.folder);
      const lookup = this.lookupCalibration(production);
      if (lookup.found) {
        thresholds = lookup.thresholds;
      } else {
        error = lookup.reason;
        awaitingCalibration = true;
      }
    } catch (cause) {
      error = describeError(cause);
    }
    if (error !== null) {
      this.deps.logger.error(
        { version: production.version, err: error },
        'drift reference unusable',
      );
    }
    const restored = await this.deps.restore(production.version).catch((cause: unknown) => {
      this.deps.logger.warn(
        { err: describeError(cause) },
        'cannot restore drift state; starting fresh',
      );
      return new Map<string, RestoredSegment>();
    });
    const segments = new Map<string, SegmentState>();
    for (const [segment, saved] of restored) {
      segments.set(segment, {
        input: { ...initialDriftState(production.version), state: machineState(saved.inputState) },
        prediction: {
          ...initialDriftState(production.version),
          state: machineState(saved.predictionState),
        },
        episodeId: saved.inputState === 'DRIFT' ? saved.episodeId : null,
      });
    }
    if (previous && previous.version !== production.version) {
      this.deps.logger.info(
        { from: previous.version, to: production.version },
        'production version changed: drift state reset against the new reference',
      );
      // Tell operators and the retrainer that the old version's episodes are over.
      for (const [segment, state] of previous.segments) {
        events.push(
          this.event(previous.version, segment, 'STATE_CHANGE', {
            state: 'INSUFFICIENT_DATA',
            previousState: eventState(state.input.state),
            predictionState: 'INSUFFICIENT_DATA',
            evaluation: null,
            rows: [],
            episodeId: null,
            reason: `production version changed to ${production.version}`,
          }),
        );
      }
    }
    this.context = {
      version: production.version,
      reference,
      thresholds,
      error,
      awaitingCalibration,
      segments,
    };
    return this.context;
  }

  private lookupCalibration(production: ProductionModel) {
    if (production.calibrations === null) {
      return {
        found: false as const,
        reason: `version ${production.version} is not in the registry (model_versions), so it has no drift calibration`,
      };
    }
    const { windowSize, alpha, inputStatistics } = this.deps.settings;
    return findCalibration(production.calibrations, {
      windowSize,
      alpha,
      classifier: inputStatistics.includes('domainAuc'),
    });
  }

  private segmentState(context: ModelContext, segment: string): SegmentState {
    let state = context.segments.get(segment);
    if (!state) {
      state = {
        input: initialDriftState(context.version),
        prediction: initialDriftState(context.version),
        episodeId: null,
      };
      context.segments.set(segment, state);
    }
    return state;
  }

  private async evaluateSegment(context: ModelContext, segment: string, checkTime: number) {
    const { settings } = this.deps;
    const state = this.segmentState(context, segment);
    let rows: WindowRow[] = [];
    let evaluation: WindowEvaluation | null = null;
    let error = context.error;
    if (error === null && context.reference && context.thresholds) {
      try {
        rows = await this.deps.readWindow(
          context.version,
          segment === GLOBAL_SEGMENT ? undefined : segment,
        );
        const window = toEmbeddingWindow(rows, context.reference);
        if (window.embeddings.rows >= settings.minWindowRows) {
          evaluation = evaluateWindow(context.reference, context.thresholds, window, {
            inputStatistics: settings.inputStatistics,
          });
        }
      } catch (cause) {
        error = describeError(cause);
      }
    }
    const rowCount = evaluation?.rows ?? rows.length;
    const before = { input: state.input.state, prediction: state.prediction.state };
    const inputStep = reduceDriftState(
      state.input,
      error !== null
        ? { kind: 'error', message: error }
        : { kind: 'window', rows: rowCount, over: evaluation?.inputDrift ?? false },
      settings,
    );
    const predictionStep = reduceDriftState(
      state.prediction,
      error !== null
        ? { kind: 'error', message: error }
        : { kind: 'window', rows: rowCount, over: evaluation?.predictionDrift ?? false },
      settings,
    );
    state.input = inputStep.state;
    state.prediction = predictionStep.state;
    if (inputStep.transition?.to === 'DRIFT') {
      state.episodeId = deterministicUuid(
        this.deps.modelName,
        context.version,
        segment,
        String(checkTime),
      );
    } else if (state.input.state !== 'DRIFT' && state.input.state !== 'ERROR') {
      state.episodeId = null;
    }
    const inputState = eventState(state.input.state);
    const predictionState = eventState(state.prediction.state);
    const segmentEvents: DriftEvent[] = [];
    const transition = inputStep.transition ?? predictionStep.transition;
    const details = {
      state: inputState,
      predictionState,
      evaluation,
      rows,
      episodeId: state.episodeId,
    };
    if (transition) {
      const reasons = [
        ['input', inputStep.transition],
        ['prediction', predictionStep.transition],
      ] as const;
      segmentEvents.push(
        this.event(context.version, segment, 'STATE_CHANGE', {
          ...details,
          previousState: eventState(before.input),
          reason: [
            ...reasons
              .filter(([, t]) => t !== null)
              .map(
                ([what, t]) =>
                  `${what} ${eventState(t!.from)} -> ${eventState(t!.to)} (${t!.reason})`,
              ),
            ...(error === null ? [] : [error]),
          ].join('; '),
        }),
      );
    }
    segmentEvents.push(
      this.event(context.version, segment, 'STATUS', {
        ...details,
        previousState: null,
        reason: error,
      }),
    );
    const thresholds = context.thresholds;
    const referencePositive = context.reference?.classShares[1] ?? 0;
    const check: DriftCheckRow = {
      checkId: deterministicUuid(this.deps.modelName, context.version, segment, String(checkTime)),
      checkTimeMs: checkTime,
      modelName: this.deps.modelName,
      modelVersion: context.version,
      segment,
      windowStartMs: rows.length ? rows[rows.length - 1]!.eventTimeMs : checkTime,
      windowEndMs: rows.length ? rows[0]!.eventTimeMs : checkTime,
      windowSize: rowCount,
      inputDistance: evaluation?.cosine ?? 0,
      inputThreshold: thresholds?.cosine.threshold ?? 0,
      domainAuc: evaluation?.domainAuc ?? null,
      domainAucThreshold: thresholds?.domainAuc?.threshold ?? null,
      classMixDistance: evaluation?.classMix ?? 0,
      classMixThreshold: thresholds?.classMix.threshold ?? 0,
      positiveShare: evaluation?.classShares[1] ?? 0,
      referencePositiveShare: referencePositive,
      inputState,
      predictionState,
      error,
      episodeId: state.episodeId,
    };
    const result: SegmentResult = {
      segment,
      rows: rowCount,
      evaluation,
      inputState,
      predictionState,
      episodeId: state.episodeId,
      error,
    };
    return { result, check, segmentEvents };
  }

  private event(
    version: string,
    segment: string,
    kind: DriftEvent['kind'],
    details: {
      state: EventState;
      previousState: EventState | null;
      predictionState: EventState;
      evaluation: WindowEvaluation | null;
      rows: readonly WindowRow[];
      episodeId: string | null;
      reason: string | null;
    },
  ): DriftEvent {
    const context = this.context;
    const thresholds = context?.version === version ? context.thresholds : null;
    const labels = context?.reference?.classLabels ?? [];
    const { evaluation, rows } = details;
    const statistics: DriftEvent['statistics'] = [];
    if (evaluation && thresholds) {
      if (evaluation.cosine !== null) {
        statistics.push({
          name: 'class_conditional_cosine',
          value: evaluation.cosine,
          threshold: thresholds.cosine.threshold,
          exceeded: evaluation.over.cosine,
        });
      }
      if (evaluation.domainAuc !== null && thresholds.domainAuc) {
        statistics.push({
          name: 'domain_auc',
          value: evaluation.domainAuc,
          threshold: thresholds.domainAuc.threshold,
          exceeded: evaluation.over.domainAuc,
        });
      }
      statistics.push({
        name: 'class_mix',
        value: evaluation.classMix,
        threshold: thresholds.classMix.threshold,
        exceeded: evaluation.over.classMix,
      });
    }
    const now = this.deps.now();
    return {
      eventId: deterministicUuid(
        this.deps.modelName,
        version,
        segment,
        kind,
        String(now),
        details.state,
      ),
      eventTime: now,
      modelName: this.deps.modelName,
      modelVersion: version,
      segment,
      kind,
      state: details.state,
      previousState: details.previousState,
      predictionDriftState: details.predictionState,
      statistics,
      windowStart: rows.length ? rows[rows.length - 1]!.eventTimeMs : now,
      windowEnd: rows.length ? rows[0]!.eventTimeMs : now,
      windowSize: evaluation?.rows ?? rows.length,
      classMix: evaluation
        ? Object.fromEntries(labels.map((label, k) => [label, evaluation.classShares[k] ?? 0]))
        : {},
      episodeId: details.episodeId,
      reason: details.reason,
    };
  }
}
