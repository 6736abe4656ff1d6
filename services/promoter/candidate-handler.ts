/**
 * The promoter's batch handler for `models.candidates`: one decision per candidate.
 *
 * Exactly one decision per candidate, whatever is redelivered: the decision id is derived
 * from the model and candidate version, and a candidate whose decision is already in the
 * promotion log is not decided again. A promoter killed between logging PROMOTED and
 * publishing the deployment re-publishes production's deployment on redelivery (consumers
 * treat a deployment of the version they serve as a no-op).
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
    if (decided.decision === 'PROMOTED') await deps.registry.syncDeployment(modelName);
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
  deps.logger.info(
    { version: record.version, decision: verdict.decision, reason: verdict.reason },
    'candidate decided',
  );
  return verdict.decision === 'PROMOTED'
    ? deps.registry.promote(record.version, input)
    : deps.registry.block(record.version, input);
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
