/**
 * The promoter's batch handler for `models.candidates`: one decision per candidate, the
 * offline gate (rule.ts). A candidate that passes it against a production version enters
 * SHADOW (when the live trial is on), and the live gate decides it later (live-trials.ts);
 * otherwise the verdict is PROMOTED or BLOCKED at once.
 *
 * Exactly one decision per candidate, whatever is redelivered: the decision id is derived
 * from the model and candidate version, and a candidate whose decision is already in the
 * promotion log is not decided again. A promoter killed between logging PROMOTED and
 * publishing the deployment re-publishes production's deployment on redelivery (consumers
 * treat a deployment of the plan they serve as a no-op); likewise one killed after SHADOW.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidMessageError, type Logger, deterministicUuid } from '#platform/common';
import {
  type ClassificationMetrics,
  HOLDOUT_FILE,
  type LabelledText,
  artifactFolder,
  readLabelledTsv,
} from '#domain/model';
import type { ModelRegistry } from '#domain/registry';
import type { BatchHandler } from '#platform/runner';
import type { ModelCandidate } from '#platform/serde';
import type { ModelVersionRecord, RegistryReader } from '#platform/store';
import { type ModelScores, type PromotionPolicy, decidePromotion } from './rule.ts';

export interface PromoterDeps {
  readonly modelName: string;
  readonly policy: PromotionPolicy;
  readonly registry: ModelRegistry;
  readonly store: RegistryReader;
  readonly golden: readonly LabelledText[];
  /** Scores a model folder on labelled texts (in a worker thread). */
  readonly evaluate: (
    folder: string,
    data: readonly LabelledText[],
  ) => Promise<ClassificationMetrics>;
  readonly baseDir: string;
  /**
   * A candidate that passes the offline gate against a production version enters SHADOW (the
   * live gate decides it later: live-trials.ts); false: it is promoted at once.
   */
  readonly shadow: boolean;
  readonly actor: string;
  readonly logger: Logger;
  /** Test hook: runs after each decision, before the offset is committed. */
  readonly afterDecision?: () => Promise<void>;
}

export function promotionDecisionId(modelName: string, version: string): string {
  return deterministicUuid(modelName, version, 'promotion-decision');
}

async function scores(
  deps: PromoterDeps,
  record: ModelVersionRecord,
  holdout: readonly LabelledText[] | null,
): Promise<{ scores: ModelScores; metrics: Record<string, number> }> {
  const folder = artifactFolder(record.artifactUri, deps.baseDir);
  const golden = await deps.evaluate(folder, deps.golden);
  const held = holdout ? await deps.evaluate(folder, holdout) : null;
  return {
    scores: { goldenF1: golden.f1, holdoutF1: held?.f1 ?? null },
    metrics: {
      golden_f1: golden.f1,
      golden_accuracy: golden.accuracy,
      ...(held
        ? {
            holdout_f1: held.f1,
            holdout_accuracy: held.accuracy,
            holdout_precision: held.precision,
            holdout_recall: held.recall,
            holdout_n: held.n,
          }
        : {}),
    },
  };
}

export async function decideCandidate(deps: PromoterDeps, candidate: ModelCandidate) {
  const { modelName } = deps;
  const decisionId = promotionDecisionId(modelName, candidate.modelVersion);
  const decided = (await deps.registry.log(modelName)).find((d) => d.decisionId === decisionId);
  if (decided) {
    deps.logger.info(
      { version: candidate.modelVersion, decision: decided.decision },
      'candidate already decided; not deciding again',
    );
    // Killed between the log and the deployment: publish the plan again (a no-op if it was).
    if (decided.decision === 'PROMOTED' || decided.decision === 'SHADOW') {
      await deps.registry.syncDeployment(modelName);
    }
    return decided;
  }
  const record = await deps.store.version(modelName, candidate.modelVersion);
  if (!record) {
    throw new InvalidMessageError(
      'CANDIDATE_UNKNOWN',
      `${modelName} version ${candidate.modelVersion} is not registered`,
    );
  }
  const folder = artifactFolder(record.artifactUri, deps.baseDir);
  const holdoutPath = join(folder, HOLDOUT_FILE);
  const holdout = existsSync(holdoutPath) ? readLabelledTsv(holdoutPath) : null;
  const production = await deps.registry.production(modelName);
  const candidateScores = await scores(deps, record, holdout);
  const productionScores =
    production && production.version !== record.version
      ? await scores(deps, production, holdout)
      : null;
  const verdict = decidePromotion(
    candidateScores.scores,
    productionScores?.scores ?? null,
    deps.policy,
  );
  const input = {
    modelName,
    actor: deps.actor,
    reason: verdict.reason,
    candidateScore: verdict.candidateScore,
    productionScore: verdict.productionScore,
    decisionId,
    details: {
      candidate: candidateScores.metrics,
      production: productionScores?.metrics ?? null,
      productionVersion: production?.version ?? null,
      policy: deps.policy,
      episodeId: candidate.episodeId,
      requestId: candidate.requestId,
    },
  };
  const toShadow = verdict.decision === 'PROMOTED' && deps.shadow && productionScores !== null;
  deps.logger.info(
    {
      version: record.version,
      decision: toShadow ? 'SHADOW' : verdict.decision,
      reason: verdict.reason,
    },
    'candidate decided',
  );
  if (toShadow) {
    await retireSupersededTrial(deps, record.version);
    return deps.registry.startShadow(record.version, {
      ...input,
      reason: `passed the offline gate, live trial in shadow: ${verdict.reason}`,
    });
  }
  return verdict.decision === 'PROMOTED'
    ? deps.registry.promote(record.version, input)
    : deps.registry.block(record.version, input);
}

/**
 * One live trial at a time: a newer candidate that passed the offline gate supersedes the one
 * in a live role (trained on older data), which is BLOCKED (SHADOW) or rolled back (CANARY).
 */
async function retireSupersededTrial(deps: PromoterDeps, version: string): Promise<void> {
  const { candidate } = await deps.registry.plan(deps.modelName);
  if (candidate === null || candidate.version === version) return;
  const input = {
    modelName: deps.modelName,
    actor: deps.actor,
    reason: `superseded by candidate ${version}, which passed the offline gate`,
    decisionId: deterministicUuid(deps.modelName, candidate.version, 'superseded', version),
  };
  deps.logger.info({ version: candidate.version, by: version }, 'live trial superseded');
  if (candidate.role === 'CANARY') await deps.registry.rollbackCanary(input);
  else await deps.registry.block(candidate.version, input);
}

export function createCandidateHandler(deps: PromoterDeps): BatchHandler<ModelCandidate> {
  return async (events) => {
    // One at a time, in log order: each decision sees the production its predecessor made.
    for (const { event } of events) {
      if (event.modelName !== deps.modelName) continue;
      await decideCandidate(deps, event);
      await deps.afterDecision?.();
    }
  };
}
