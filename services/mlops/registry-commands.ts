/**
 * Runs registry commands against a ModelRegistry and renders their results for people
 * (aligned tables) or machines (--json). Takes its dependencies as arguments.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ClassificationMetrics } from '#domain/model';
import type { ModelRegistry, VersionView } from '#domain/registry';
import type { DecisionRecord } from '#platform/store';
import type { RegistryCommand } from './commands.ts';
import { decisionLabel, formatShare, versionRole } from './registry-format.ts';
import { iso, renderTable } from './render.ts';

/** The registry commands run against a ModelRegistry (live and watch have their own wiring). */
export type RegistryChangeCommand = Exclude<
  RegistryCommand,
  { readonly kind: 'registry.live' | 'registry.watch' }
>;

export interface RegistryCommandDeps {
  readonly registry: Pick<
    ModelRegistry,
    | 'list'
    | 'show'
    | 'log'
    | 'plan'
    | 'promote'
    | 'rollback'
    | 'startShadow'
    | 'startCanary'
    | 'rollbackCanary'
    | 'register'
    | 'bootstrap'
    | 'syncDeployment'
  >;
  readonly modelName: string;
  readonly actor: string;
  readonly minF1: number;
  readonly bootstrapModelDir: string;
  readonly evaluateGolden: (folder: string) => Promise<ClassificationMetrics>;
  readonly print: (line: string) => void;
  readonly json: boolean;
}

const score = (value: number | null | undefined) =>
  value === null || value === undefined ? '-' : value.toFixed(4);

export function renderVersions(versions: readonly VersionView[]): string {
  return renderTable(
    ['', 'VERSION', 'PARENT', 'STATUS', 'CREATED', 'GOLDEN F1', 'ARTIFACT'],
    versions.map((v) => [
      v.production ? '*' : '',
      v.version,
      v.parentVersion ?? '-',
      v.status,
      iso(v.createdTimeMs),
      score(v.metrics.golden_f1),
      v.artifactSha256.slice(0, 12),
    ]),
  );
}

/**
 * The promotion log as a table. BEFORE / AFTER are production's versions around the decision
 * (equal for SHADOW, CANARY, BLOCKED and a canary's rollback, which leave production as it
 * was); DECISION shows a canary's share and marks a canary's rollback.
 */
export function renderDecisions(decisions: readonly DecisionRecord[]): string {
  return renderTable(
    ['TIME', 'DECISION', 'CANDIDATE', 'BEFORE', 'AFTER', 'CAND.', 'PROD.', 'ACTOR', 'REASON'],
    decisions.map((d) => [
      iso(d.timeMs),
      decisionLabel(d),
      d.candidateVersion,
      d.productionBefore ?? '-',
      d.productionAfter ?? '-',
      score(d.candidateScore),
      score(d.productionScore),
      d.actor,
      d.reason,
    ]),
  );
}

function readReference(folder: string): { centroid: number[] } {
  try {
    const reference = JSON.parse(readFileSync(join(folder, 'reference.json'), 'utf8')) as {
      centroid?: number[];
    };
    return { centroid: reference.centroid ?? [] };
  } catch {
    return { centroid: [] };
  }
}

export async function runRegistryCommand(
  command: RegistryChangeCommand,
  deps: RegistryCommandDeps,
): Promise<void> {
  const { registry, modelName, actor, print } = deps;
  const out = (value: unknown, human: () => string) =>
    print(deps.json ? JSON.stringify(value, null, 2) : human());
  switch (command.kind) {
    case 'registry.list': {
      const versions = await registry.list(modelName);
      out(versions, () =>
        versions.length === 0
          ? `${modelName}: no versions registered (run: npm run mlops -- registry bootstrap)`
          : renderVersions(versions),
      );
      return;
    }
    case 'registry.show': {
      const [{ version, decisions }, plan] = await Promise.all([
        registry.show(modelName, command.version),
        registry.plan(modelName),
      ]);
      out({ version, decisions, plan }, () =>
        [
          `${modelName} ${version.version}${versionRole(version.version, plan)}`,
          `  status        ${version.status}`,
          `  parent        ${version.parentVersion ?? '-'}`,
          `  created       ${iso(version.createdTimeMs)}`,
          `  artifact      ${version.artifactUri}`,
          `  sha256        ${version.artifactSha256}`,
          `  training data ${JSON.stringify(version.trainingData)}`,
          `  metrics       ${Object.entries(version.metrics)
            .map(([key, value]) => `${key}=${Number.isInteger(value) ? value : value.toFixed(4)}`)
            .join(' ')}`,
          `  drift         threshold ${version.driftThreshold} ${JSON.stringify(version.driftCalibration)}`,
          '',
          renderDecisions(decisions),
        ].join('\n'),
      );
      return;
    }
    case 'registry.log': {
      const decisions = await registry.log(modelName);
      out(decisions, () => renderDecisions(decisions));
      return;
    }
    case 'registry.promote': {
      const decision = await registry.promote(command.version, {
        modelName,
        actor,
        reason: command.reason,
      });
      out(
        decision,
        () =>
          `PROMOTED ${decision.productionBefore ?? '(none)'} -> ${command.version}; deployment published`,
      );
      return;
    }
    case 'registry.rollback': {
      const decision = await registry.rollback({
        modelName,
        actor,
        reason: command.reason,
        ...(command.to ? { to: command.to } : {}),
      });
      out(
        decision,
        () =>
          `ROLLED_BACK ${decision.productionBefore} -> ${decision.productionAfter}; deployment published`,
      );
      return;
    }
    case 'registry.shadow': {
      const decision = await registry.startShadow(command.version, {
        modelName,
        actor,
        reason: command.reason,
      });
      out(
        decision,
        () =>
          `SHADOW ${command.version} beside production ${decision.productionAfter}, its answers never served; deployment published`,
      );
      return;
    }
    case 'registry.canary': {
      const decision = await registry.startCanary(command.version, command.share, {
        modelName,
        actor,
        reason: command.reason,
      });
      out(
        decision,
        () =>
          `CANARY ${command.version} answers ${formatShare(command.share)} of traffic beside production ${decision.productionAfter}; deployment published`,
      );
      return;
    }
    case 'registry.canary-rollback': {
      const decision = await registry.rollbackCanary({
        modelName,
        actor,
        reason: command.reason,
      });
      out(
        decision,
        () =>
          `ROLLED_BACK canary ${decision.candidateVersion} out of its share; production ${decision.productionAfter} serves alone; deployment published`,
      );
      return;
    }
    case 'registry.register': {
      const folder = resolve(command.folder);
      const golden = await deps.evaluateGolden(folder);
      const record = await registry.register({
        modelName,
        version: command.version,
        parentVersion: command.parent ?? null,
        folder,
        trainingData: { kind: 'manual', folder },
        trainingDataSha256: '',
        metrics: {
          golden_f1: golden.f1,
          golden_accuracy: golden.accuracy,
          golden_precision: golden.precision,
          golden_recall: golden.recall,
          golden_n: golden.n,
        },
        referenceCentroid: readReference(folder).centroid,
        actor,
        note: 'registered with the mlops CLI',
      });
      out(
        record,
        () =>
          `REGISTERED ${record.version} (golden F1 ${golden.f1.toFixed(4)}, artifact ${record.artifactSha256.slice(0, 12)})`,
      );
      return;
    }
    case 'registry.bootstrap': {
      const result = await registry.bootstrap({
        modelName,
        folder: resolve(deps.bootstrapModelDir),
        minF1: deps.minF1,
        evaluateGolden: deps.evaluateGolden,
        actor,
      });
      out(result, () =>
        result.decision === null
          ? `bootstrap: nothing to do (production ${result.version}); deployment re-published`
          : `bootstrap: version ${result.version} ${result.decision}`,
      );
      return;
    }
    case 'registry.sync': {
      const version = await registry.syncDeployment(modelName);
      out({ version }, () =>
        version === null ? `${modelName} has no production version` : `re-published ${version}`,
      );
      return;
    }
  }
}
