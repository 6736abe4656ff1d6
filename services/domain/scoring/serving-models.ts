/**
 * What a serving process (inference, the gateway) runs for one model: the production model
 * and, while the registry tries one, a candidate in its live role, each in a worker thread of
 * its own (#domain/model ModelHost). Only the signed serving plan (`models.deployments`,
 * deployment-handler.ts) changes them, so no request is answered by a version the registry has
 * not put in that role.
 *
 *   - SHADOW: every review or request is answered by production; the candidate scores the
 *     same texts on the side (ShadowLane), bounded and shed first.
 *   - CANARY: a review (or request) is answered by the candidate when the stable hash of its
 *     review id falls below the candidate's traffic share (`canaryBucket`), else by production.
 *     One review always lands on the same side, in every process and on every redelivery.
 *
 * Changes are single assignments on the event loop: a batch routed before a change is scored
 * with the hosts it was routed to (a retired worker finishes what it already has).
 */
import { createHash } from 'node:crypto';
import { Counter, Gauge, type Registry } from 'prom-client';
import { type Logger, intField, numberField } from '#platform/common';
import { type EngineOptions, type ModelInfo, ModelHost, type ScoredBatch } from '#domain/model';
import type { CandidateRole } from '#platform/serde';

/** A candidate as a serving process runs it. */
export interface LiveCandidate {
  readonly version: string;
  readonly role: CandidateRole;
  /** CANARY: share of reviews it answers, in (0, 1); 0 in SHADOW. */
  readonly trafficShare: number;
}

/** Where the stable hash of `reviewId` falls in [0, 1): the first 32 bits of its sha256. */
export function canaryBucket(reviewId: string): number {
  return createHash('sha256').update(reviewId, 'utf8').digest().readUInt32BE(0) / 2 ** 32;
}

/** True when a canary with `trafficShare` answers `reviewId`. */
export function routesToCanary(reviewId: string, trafficShare: number): boolean {
  return trafficShare > 0 && canaryBucket(reviewId) < trafficShare;
}

export interface ServingModelsOptions {
  readonly engine: EngineOptions;
  readonly logger: Logger;
  /** Starts a model host (tests inject one); default ModelHost.start. */
  readonly startHost?: (folder: string, options: EngineOptions) => Promise<ModelHost>;
}

interface RunningCandidate extends LiveCandidate {
  readonly host: ModelHost;
}

export class ServingModels {
  private candidateSlot: RunningCandidate | null = null;
  private changing: Promise<unknown> = Promise.resolve();
  /** How busy production's worker is (the shadow lane sheds above a limit). */
  readonly productionLoad = new ProductionLoad();

  private constructor(
    readonly production: ModelHost,
    private readonly options: ServingModelsOptions,
  ) {}

  static async start(folder: string, options: ServingModelsOptions): Promise<ServingModels> {
    const start = options.startHost ?? ((dir, engine) => ModelHost.start(dir, engine));
    return new ServingModels(await start(folder, options.engine), options);
  }

  get model(): ModelInfo {
    return this.production.model;
  }

  /** The candidate in its role now, or null. */
  get candidate(): LiveCandidate | null {
    const slot = this.candidateSlot;
    return slot && { version: slot.version, role: slot.role, trafficShare: slot.trafficShare };
  }

  /**
   * The workers that answer are alive (a readiness part): production and a CANARY. A SHADOW
   * candidate's worker answers nobody, so its failure only fails shadow work (counted).
   */
  get isServing(): boolean {
    const slot = this.candidateSlot;
    return this.production.isServing && (slot?.role !== 'CANARY' || slot.host.isServing);
  }

  scoreProduction(texts: readonly string[]): Promise<ScoredBatch> {
    return this.productionLoad.track(() => this.production.score(texts));
  }

  /** The candidate's host when it holds `role`, else undefined. */
  candidateHost(role: CandidateRole): ModelHost | undefined {
    return this.candidateSlot?.role === role ? this.candidateSlot.host : undefined;
  }

  /** The canary's host and share when a canary is serving, else undefined. */
  canary(): { readonly host: ModelHost; readonly trafficShare: number } | undefined {
    const slot = this.candidateSlot;
    return slot?.role === 'CANARY'
      ? { host: slot.host, trafficShare: slot.trafficShare }
      : undefined;
  }

  swapProduction(folder: string): Promise<ModelInfo> {
    return this.production.swap(folder);
  }

  /**
   * Makes `next` the candidate: the same version keeps its worker and takes the new role and
   * share at once; another version is loaded in a worker of its own first, then replaces the
   * old one (retired after it finishes its requests); null retires the candidate. Changes are
   * serialised; a failed load leaves the previous candidate (the caller retries the event).
   */
  setCandidate(next: (LiveCandidate & { readonly folder: string }) | null): Promise<void> {
    const change = this.changing.then(async () => {
      const current = this.candidateSlot;
      if (next && current && current.version === next.version) {
        this.candidateSlot = { ...current, role: next.role, trafficShare: next.trafficShare };
        return;
      }
      let incoming: RunningCandidate | null = null;
      if (next) {
        const start = this.options.startHost ?? ((dir, engine) => ModelHost.start(dir, engine));
        const host = await start(next.folder, this.options.engine);
        incoming = {
          version: next.version,
          role: next.role,
          trafficShare: next.trafficShare,
          host,
        };
      }
      this.candidateSlot = incoming;
      this.options.logger.info(
        {
          from: current ? `${current.version} (${current.role})` : null,
          to: incoming ? `${incoming.version} (${incoming.role})` : null,
          trafficShare: incoming?.trafficShare ?? 0,
        },
        'candidate changed',
      );
      await current?.host.close();
    });
    this.changing = change.catch(() => undefined);
    return change;
  }

  async close(): Promise<void> {
    await this.changing;
    const candidate = this.candidateSlot;
    this.candidateSlot = null;
    await Promise.all([candidate?.host.close(), this.production.close()]);
  }
}

export interface ShadowLaneOptions {
  /**
   * Texts waiting for or in the candidate at most; beyond, new shadow work is shed. A batch
   * offered to an idle lane always runs, however large (else a backlog's large batches would
   * never be shadowed).
   */
  readonly maxPendingTexts: number;
  /**
   * Production is busy beyond its limit (`ProductionLoad`): shadow work is shed before it
   * could take CPU from the serving path. Default: never.
   */
  readonly overloaded?: () => boolean;
  readonly onScored?: (texts: number) => void;
  readonly onShed?: (texts: number, reason: ShedReason) => void;
  readonly onFailed?: (texts: number, error: unknown) => void;
}

/** Why shadow work was shed: the candidate's backlog was full, or production was overloaded. */
export type ShedReason = 'backlog' | 'load';

/**
 * Shadow work beside the serving path, never in its way: the serving path hands it texts it
 * already answered and goes on without waiting. Work is shed (counted, never queued) when
 * production is overloaded (`overloaded`: the candidate would take CPU the serving path needs)
 * or when it would take the texts pending past `maxPendingTexts` (the candidate fell behind).
 * So under load the candidate drops shadow work first; production is not slowed to keep it
 * fed. A failure is counted and reported through `onFailed`; nothing is retried (shadow
 * evidence is a sample, not a record).
 */
export class ShadowLane {
  private pending = 0;
  private readonly inFlight = new Set<Promise<void>>();
  /** Totals since start: texts offered, shed (for either reason; `shedForLoad` of them for load), scored, failed. */
  readonly totals = { offered: 0, shed: 0, shedForLoad: 0, scored: 0, failed: 0 };

  constructor(private readonly options: ShadowLaneOptions) {}

  get pendingTexts(): number {
    return this.pending;
  }

  /** Runs `work` (about `texts` texts) unless it is shed (see the class doc); returns whether it runs. */
  offer(texts: number, work: () => Promise<void>): boolean {
    this.totals.offered += texts;
    const reason: ShedReason | undefined = this.options.overloaded?.()
      ? 'load'
      : this.pending > 0 && this.pending + texts > this.options.maxPendingTexts
        ? 'backlog'
        : undefined;
    if (reason) {
      this.totals.shed += texts;
      if (reason === 'load') this.totals.shedForLoad += texts;
      this.options.onShed?.(texts, reason);
      return false;
    }
    this.pending += texts;
    // Through a promise: a `work` that throws synchronously fails like one that rejects.
    const running: Promise<void> = Promise.resolve()
      .then(work)
      .then(
        () => {
          this.totals.scored += texts;
          this.options.onScored?.(texts);
        },
        (error: unknown) => {
          this.totals.failed += texts;
          this.options.onFailed?.(texts, error);
        },
      );
    const tracked = running.finally(() => {
      this.pending -= texts;
      this.inFlight.delete(tracked);
    });
    this.inFlight.add(tracked);
    return true;
  }

  /** Waits for the shadow work already running (shutdown: before the producer is flushed). */
  async drain(): Promise<void> {
    await Promise.all([...this.inFlight]);
  }
}

/**
 * How busy production's worker was over the last `windowMs`: the share of that time with at
 * least one production request in flight (1 = saturated: requests were waiting back to back).
 * ServingModels tracks every production request with it; the shadow lane sheds above a limit.
 */
export class ProductionLoad {
  private inFlight = 0;
  private busySince = 0;
  /** Busy intervals [start, end) that ended within the window, oldest first. */
  private readonly intervals: [number, number][] = [];

  constructor(
    private readonly windowMs = 5_000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  async track<T>(work: () => Promise<T>): Promise<T> {
    if (this.inFlight++ === 0) this.busySince = this.now();
    try {
      return await work();
    } finally {
      if (--this.inFlight === 0) this.intervals.push([this.busySince, this.now()]);
    }
  }

  utilization(): number {
    const now = this.now();
    const from = now - this.windowMs;
    while (this.intervals.length > 0 && this.intervals[0]![1] <= from) this.intervals.shift();
    let busy = 0;
    for (const [start, end] of this.intervals) busy += end - Math.max(start, from);
    if (this.inFlight > 0) busy += now - Math.max(this.busySince, from);
    return Math.min(1, busy / this.windowMs);
  }
}

/** The configuration of shadow work, the same in inference and the gateway. */
export const shadowConfigFields = {
  shadowMaxPendingTexts: intField(
    'SHADOW_MAX_PENDING_TEXTS',
    'Texts a candidate in SHADOW may have waiting or in scoring; more shadow work is shed ' +
      '(shadow_texts_total{outcome="shed",reason="backlog"}), never queued',
    { default: 256, min: 1 },
  ),
  shadowMaxProductionLoad: numberField(
    'SHADOW_MAX_PRODUCTION_LOAD',
    "Production worker's busy share (last 5 s) above which shadow work is shed " +
      '(shadow_texts_total{outcome="shed",reason="load"}): the serving path keeps its CPU',
    { default: 0.85, min: 0, max: 1 },
  ),
};

/**
 * A ShadowLane reporting `shadow_texts_total{outcome=scored|shed|failed, reason}` (reason of a
 * shed: backlog or load) and `shadow_pending_texts`, shedding while `productionLoad()` is above
 * `maxProductionLoad`, and logging failures (at most one line per 10 s).
 */
export function createShadowLane(
  registry: Registry,
  settings: { readonly maxPendingTexts: number; readonly maxProductionLoad: number },
  productionLoad: () => number,
  logger: Logger,
): ShadowLane {
  const texts = new Counter({
    name: 'shadow_texts_total',
    help: 'Texts offered to the candidate in SHADOW, by outcome (scored, shed, failed) and reason of a shed (backlog, load)',
    labelNames: ['outcome', 'reason'],
    registers: [registry],
  });
  let lastLogged = 0;
  const lane: ShadowLane = new ShadowLane({
    maxPendingTexts: settings.maxPendingTexts,
    overloaded: () => productionLoad() > settings.maxProductionLoad,
    onScored: (count) => texts.inc({ outcome: 'scored', reason: '' }, count),
    onShed: (count, reason) => texts.inc({ outcome: 'shed', reason }, count),
    onFailed: (count, error) => {
      texts.inc({ outcome: 'failed', reason: '' }, count);
      if (Date.now() - lastLogged < 10_000) return;
      lastLogged = Date.now();
      logger.warn({ err: error, texts: count }, 'shadow scoring failed; shadow work dropped');
    },
  });
  new Gauge({
    name: 'shadow_pending_texts',
    help: 'Texts the candidate in SHADOW has waiting or in scoring',
    registers: [registry],
    collect() {
      this.set(lane.pendingTexts);
    },
  });
  return lane;
}
