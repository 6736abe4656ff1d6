import { resolve } from 'node:path';
import type { Logger } from '#platform/common';
import { calibrateInWorker } from '#domain/drift';
import type { EventProducer } from '#platform/kafka';
import { ArtifactStore } from '#domain/model';
import { DeploymentSigner } from '#platform/serde';
import { type ClickHouseClient, type RegistryReader, RegistryStore } from '#platform/store';
import { ModelRegistry } from './model-registry.ts';

/**
 * The registry as a service uses it: the ClickHouse tables, the artifact store under
 * `artifactRoot` (relative: to the working directory) and deployments signed with the registry's
 * key and published with the service's producer (acknowledged by the broker before a call resolves).
 * The store comes back as a RegistryReader: a service reads the tables, the registry writes them.
 */
export function createModelRegistry(options: {
  readonly clickhouse: ClickHouseClient;
  readonly producer: EventProducer;
  readonly artifactRoot: string;
  /**
   * The registry's deployment signing key (DEPLOYMENT_SIGNING_KEY_FILE). Only processes that
   * change production hold it (promoter, mlops CLI); without it the registry registers versions
   * but cannot promote or roll back.
   */
  readonly signingKeyFile?: string;
  /**
   * The drift service's window size and alpha (DRIFT_WINDOW_SIZE, DRIFT_ALPHA): versions are
   * calibrated for them when they are registered (in a worker thread). Only processes that
   * register versions (retrainer) need them.
   */
  readonly driftCalibration?: { readonly windowSize: number; readonly alpha: number };
  readonly logger: Logger;
}): { registry: ModelRegistry; store: RegistryReader } {
  const store = new RegistryStore(options.clickhouse);
  const registry = new ModelRegistry({
    store,
    artifacts: new ArtifactStore(resolve(options.artifactRoot)),
    publishDeployment: (deployment) =>
      options.producer.send('models.deployments', [
        { key: deployment.modelName, value: deployment },
      ]),
    signer:
      options.signingKeyFile === undefined
        ? undefined
        : DeploymentSigner.fromFile(resolve(options.signingKeyFile)),
    driftCalibration:
      options.driftCalibration === undefined
        ? undefined
        : { ...options.driftCalibration, calibrate: calibrateInWorker },
    logger: options.logger,
    baseDir: process.cwd(),
  });
  return { registry, store };
}
