/**
 * `mlops registry live`: the serving plan and, while a candidate is in SHADOW or CANARY, its
 * live assessment: the same function (#domain/registry assessLiveTrial) and settings fields
 * (liveTrialConfigFields) the promoter decides with, read from this process's environment.
 * Takes its dependencies as arguments.
 */
import { type LiveEvidenceSource, type LiveTrialSettings, assessLiveTrial } from '#domain/registry';
import type { ServingPlan } from '#platform/store';
import { type LiveReport, renderLive } from './registry-format.ts';
import type { Paint } from './render.ts';

export interface RegistryLiveDeps {
  readonly modelName: string;
  /** The serving plan replayed from the promotion log (#platform/store servingPlan). */
  readonly readPlan: (modelName: string) => Promise<ServingPlan>;
  readonly evidence: LiveEvidenceSource;
  readonly settings: LiveTrialSettings;
  readonly json: boolean;
  readonly paint: Paint;
  readonly now: () => number;
  readonly print: (text: string) => void;
}

/** Reads the plan and the candidate's evidence and returns what `registry live` shows. */
export async function liveReport(deps: RegistryLiveDeps): Promise<LiveReport> {
  const plan = await deps.readPlan(deps.modelName);
  const assessment = await assessLiveTrial(
    deps.modelName,
    plan,
    deps.evidence,
    deps.settings,
    deps.now(),
  );
  return { modelName: deps.modelName, plan, assessment, settings: deps.settings };
}

export async function runRegistryLive(deps: RegistryLiveDeps): Promise<void> {
  const report = await liveReport(deps);
  deps.print(
    deps.json ? JSON.stringify(report, null, 2) : renderLive(report, deps.now(), deps.paint),
  );
}
