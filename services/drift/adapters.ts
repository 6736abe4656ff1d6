/**
 * The detector's view of production: the version the newest trusted deployment names (from
 * `models.deployments`, see deployments.ts), its artifact folder verified against the signed
 * sha256 (once per artifact), and the drift calibrations the registry stored with the version
 * when it was registered. Read only: the registry is the one writer of `model_versions`.
 */
import { artifactFolder, verifyFolder } from '#domain/model';
import type { RegistryReader } from '#platform/store';
import type { ProductionDeployment } from './deployments.ts';
import type { ProductionModel } from './detector.ts';

export function deployedProduction(options: {
  readonly current: () => ProductionDeployment | null;
  readonly registry: Pick<RegistryReader, 'version'>;
  readonly modelName: string;
  /** Base of relative artifact URIs. */
  readonly baseDir: string;
  readonly verify?: (folder: string, sha256: string) => Promise<void>;
}): () => Promise<ProductionModel | null> {
  const verified = new Set<string>();
  const verify = options.verify ?? verifyFolder;
  return async () => {
    const deployment = options.current();
    if (deployment === null) return null;
    const folder = artifactFolder(deployment.artifactUri, options.baseDir);
    if (!verified.has(deployment.artifactSha256)) {
      await verify(folder, deployment.artifactSha256);
      verified.add(deployment.artifactSha256);
    }
    // Read every round (one row): a calibration the registry adds later (registry
    // bootstrap with new drift settings) is picked up without a restart.
    const record = await options.registry.version(options.modelName, deployment.version);
    return {
      version: deployment.version,
      folder,
      calibrations: record?.driftCalibration ?? null,
    };
  };
}
