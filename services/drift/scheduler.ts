/**
 * When the detector evaluates: after every `everyPredictions` new predictions of the
 * production version (tumbling windows at steady traffic), and at least every `intervalMs`
 * while any new prediction arrived (fresh status at low traffic). Only the leader evaluates;
 * a standby polls its leadership and nothing else.
 */
import { type Logger, describeError, sleep } from '#platform/common';

export interface ScheduleSettings {
  readonly everyPredictions: number;
  readonly intervalMs: number;
  /** How often the loop wakes up to look (default 1,000 ms). */
  readonly pollMs: number;
}

/** Pure rule: should a round run now? */
export function isDue(
  settings: ScheduleSettings,
  state: { readonly lastRunMs: number | null; readonly newPredictions: number },
  nowMs: number,
): boolean {
  if (state.lastRunMs === null) return true;
  if (state.newPredictions >= settings.everyPredictions) return true;
  return state.newPredictions > 0 && nowMs - state.lastRunMs >= settings.intervalMs;
}

export interface DriftLoopDeps {
  readonly settings: ScheduleSettings;
  readonly isLeader: () => boolean;
  /**
   * Stored predictions of the production version so far (new = the difference since the
   * last round; counted by row, not by event time, which replayed traffic can have in the
   * past).
   */
  readonly predictionCount: () => Promise<{
    readonly version: string | null;
    readonly count: number;
  }>;
  readonly evaluate: () => Promise<void>;
  /** Leadership lost: forget in-memory state (the next leader restores it from the store). */
  readonly onStandby: () => void;
  readonly now: () => number;
  readonly logger: Logger;
}

/** Consecutive failed rounds after which the loop reports itself not ready. */
export const UNHEALTHY_AFTER_FAILURES = 3;

export class DriftLoop {
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly stopping = new AbortController();
  private lastRunMs: number | null = null;
  private countAtLastRun = 0;
  private versionAtLastRun: string | null = null;
  /** Undefined until the first tick, so the starting role is logged too. */
  private leading: boolean | undefined;
  /** Consecutive failed rounds (backoff). */
  private failures = 0;

  constructor(private readonly deps: DriftLoopDeps) {}

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  /** Evaluating, and the last rounds did not all fail (a readiness part). */
  get isHealthy(): boolean {
    return this.running && this.failures < UNHEALTHY_AFTER_FAILURES;
  }

  /** Stops after the round in progress, if any. */
  async stop(): Promise<void> {
    this.running = false;
    this.stopping.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    const { deps } = this;
    while (this.running) {
      try {
        await this.tick();
        this.failures = 0;
      } catch (error) {
        this.failures++;
        deps.logger.error(
          { err: describeError(error), failures: this.failures },
          'drift round failed',
        );
      }
      const backoff = this.failures
        ? Math.min(30_000, deps.settings.pollMs * 2 ** this.failures)
        : 0;
      await sleep(deps.settings.pollMs + backoff, this.stopping.signal).catch(() => undefined);
    }
  }

  private async tick(): Promise<void> {
    const { deps } = this;
    const leader = deps.isLeader();
    if (leader !== this.leading) {
      this.leading = leader;
      this.lastRunMs = null;
      if (!leader) deps.onStandby();
      deps.logger.info({ leader }, leader ? 'drift detector active' : 'drift detector standing by');
    }
    if (!leader) return;
    const now = deps.now();
    const { version, count } = await deps.predictionCount();
    // A new production version is judged at once (against its own reference).
    const versionChanged = version !== this.versionAtLastRun;
    const newPredictions = versionChanged ? 0 : Math.max(0, count - this.countAtLastRun);
    const due =
      versionChanged || isDue(deps.settings, { lastRunMs: this.lastRunMs, newPredictions }, now);
    if (!due) return;
    await deps.evaluate();
    this.lastRunMs = now;
    // Rows stored while the round ran count towards the next one only if they arrived after
    // this read; the window read inside the round may already have seen some (harmless).
    this.countAtLastRun = count;
    this.versionAtLastRun = version;
  }
}
