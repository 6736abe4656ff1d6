import { resolve } from 'node:path';
import type { Logger } from '#shared/common';
import type { EventProducer } from '#shared/kafka';
import { ArtifactStore } from '#shared/model';
import { DeploymentSigner, REPO_ROOT } from '#shared/serde';
import { type ClickHouseClient, RegistryStore } from '#shared/store';
import { ModelRegistry } from './model-registry.ts';

/**
 * The registry as a service uses it: the ClickHouse tables, the artifact store under
 * `artifactRoot` (relative: to the repository root) and deployments signed with the registry's
 * key and published with the service's producer (acknowledged by the broker before a call resolves).
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
  readonly logger: Logger;
}): { registry: ModelRegistry; store: RegistryStore } {
  const store = new RegistryStore(options.clickhouse);
  const registry = new ModelRegistry({
    store,
    artifacts: new ArtifactStore(resolve(REPO_ROOT, options.artifactRoot)),
    publishDeployment: (deployment) =>
      options.producer.send('models.deployments', [
        { key: deployment.modelName, value: deployment },
      ]),
    signer:
      options.signingKeyFile === undefined
        ? undefined
        : DeploymentSigner.fromFile(resolve(REPO_ROOT, options.signingKeyFile)),
    logger: options.logger,
    baseDir: REPO_ROOT,
  });
  return { registry, store };
}
