/**
 * The promoter's live trials: every `pollMs` it assesses the candidate in a live role
 * (#domain/registry `assessLiveTrial`) and acts on the gate's verdict through the registry,
 * the one place that changes the serving plan:
 *
 *   SHADOW  PROMOTE -> CANARY at CANARY_TRAFFIC_SHARE (when > 0), else PROMOTED
 *           BLOCK   -> BLOCKED (the candidate leaves shadow)
 *   CANARY  WIDEN   -> PROMOTED (the canary takes all traffic)
 *           ROLLBACK-> ROLLED_BACK (the canary leaves its share; production unchanged)
 *   WAIT    nothing; the figures are logged when they change.
 *
 * Each decision carries the live evidence, the gate's policy and the offline results (from the
 * decision that put the candidate in its role) in its details, and its id is derived from the
 * model, version and step, so a repeated round (two promoters, a restart between the log and
 * the deployment) collapses into one decision. State lives in the promotion log only: a
 * restarted promoter picks the trial up where the log says it is.
 */
import { type Logger, deterministicUuid, describeError, sleep } from '#platform/common';
import {
  type LiveAssessment,
  type LiveEvidenceSource,
  type LiveTrialSettings,
  type ModelRegistry,
  assessLiveTrial,
  canaryPolicyOf,
  shadowPolicyOf,
} from '#domain/registry';
import type { DecisionRecord } from '#platform/store';

export interface LiveTrialDeps {
  readonly modelName: string;
  readonly registry: Pick<
    ModelRegistry,
    'plan' | 'log' | 'promote' | 'block' | 'startCanary' | 'rollbackCanary'
  >;
  readonly evidence: LiveEvidenceSource;
  readonly settings: LiveTrialSettings & { readonly canaryTrafficShare: number };
  readonly actor: string;
  readonly logger: Logger;
  readonly now?: () => number;
  /** Each assessment (metrics, tests). */
  readonly onAssessment?: (assessment: LiveAssessment) => void;
}

/** The decision ids of a trial's steps: one per model, version and step. */
export function liveDecisionId(
  modelName: string,
  version: string,
  step: 'shadow-verdict' | 'canary-verdict',
): string {
  return deterministicUuid(modelName, version, step);
}

/** One round: assess the trial in progress and act on its verdict; returns what it did. */
export async function reviewLiveTrial(
  deps: LiveTrialDeps,
): Promise<{ assessment: LiveAssessment | null; decision: DecisionRecord | null }> {
  const now = (deps.now ?? Date.now)();
  const plan = await deps.registry.plan(deps.modelName);
  const assessment = await assessLiveTrial(deps.modelName, plan, deps.evidence, deps.settings, now);
  if (assessment === null) return { assessment, decision: null };
  deps.onAssessment?.(assessment);
  const { candidate, verdict } = assessment;
  if (verdict.kind === 'WAIT') return { assessment, decision: null };

  const entered = (await deps.registry.log(deps.modelName)).find(
    (d) => d.decisionId === candidate.decisionId,
  );
  const common = {
    modelName: deps.modelName,
    actor: deps.actor,
    candidateScore:
      (assessment.role === 'SHADOW'
        ? assessment.verdict.evidence.candidateF1
        : assessment.verdict.evidence.canaryF1) ?? null,
    productionScore: verdict.evidence.productionF1 ?? null,
    details: {
      live: { role: assessment.role, expired: assessment.expired, ...verdict.evidence },
      policy:
        assessment.role === 'SHADOW'
          ? shadowPolicyOf(deps.settings)
          : canaryPolicyOf(deps.settings),
      // The offline gate's figures, from the decision that started the trial.
      offline: entered?.details ?? null,
      trialSinceMs: candidate.sinceMs,
    },
  };
  deps.logger.info(
    {
      version: candidate.version,
      role: assessment.role,
      verdict: verdict.kind,
      reason: verdict.reason,
    },
    'live trial decided',
  );
  if (assessment.role === 'SHADOW') {
    const decisionId = liveDecisionId(deps.modelName, candidate.version, 'shadow-verdict');
    if (verdict.kind === 'BLOCK') {
      const decision = await deps.registry.block(candidate.version, {
        ...common,
        decisionId,
        reason: `blocked in shadow: ${verdict.reason}`,
      });
      return { assessment, decision };
    }
    const share = deps.settings.canaryTrafficShare;
    if (share > 0) {
      const decision = await deps.registry.startCanary(candidate.version, share, {
        ...common,
        decisionId,
        reason: `passed shadow, canary at ${share * 100}% of traffic: ${verdict.reason}`,
      });
      return { assessment, decision };
    }
    const decision = await deps.registry.promote(candidate.version, {
      ...common,
      decisionId,
      reason: `promoted on live evidence: ${verdict.reason}`,
    });
    return { assessment, decision };
  }
  const decisionId = liveDecisionId(deps.modelName, candidate.version, 'canary-verdict');
  if (verdict.kind === 'ROLLBACK') {
    const decision = await deps.registry.rollbackCanary({
      ...common,
      decisionId,
      reason: `canary rolled back: ${verdict.reason}`,
    });
    return { assessment, decision };
  }
  const decision = await deps.registry.promote(candidate.version, {
    ...common,
    decisionId,
    reason: `canary widened to all traffic: ${verdict.reason}`,
  });
  return { assessment, decision };
}

/**
 * Runs `reviewLiveTrial` every `pollMs` until stopped. A failing round (ClickHouse or Kafka
 * down) is logged and retried at the next tick: the trial's state is in the log, so nothing
 * is lost. WAIT verdicts are logged when their reason changes, not every round.
 */
export class LiveTrialLoop {
  private running = false;
  private loop: Promise<void> | undefined;
  private lastReason = '';
  private readonly stopped = new AbortController();

  constructor(
    private readonly deps: LiveTrialDeps,
    private readonly pollMs: number,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops after the round in progress (a decision is never cut in half). */
  async stop(): Promise<void> {
    this.running = false;
    this.stopped.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        const { assessment } = await reviewLiveTrial(this.deps);
        const reason = assessment?.verdict.reason ?? '';
        if (assessment && assessment.verdict.kind === 'WAIT' && reason !== this.lastReason) {
          this.deps.logger.info(
            { version: assessment.candidate.version, role: assessment.role, reason },
            'live trial waiting',
          );
        }
        this.lastReason = reason;
      } catch (error) {
        this.deps.logger.warn({ err: describeError(error) }, 'live trial round failed; retrying');
      }
      if (!this.running) break;
      await sleep(this.pollMs, this.stopped.signal);
    }
  }
}
