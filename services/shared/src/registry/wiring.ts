import { resolve } from 'node:path';
import type { Logger } from '#shared/common';
import type { EventProducer } from '#shared/kafka';
import { ArtifactStore } from '#shared/model';
import { REPO_ROOT } from '#shared/serde';
import { type ClickHouseClient, RegistryStore } from '#shared/store';
import { ModelRegistry } from './model-registry.ts';

/**
 * The registry as a service uses it: the ClickHouse tables, the artifact store under
 * `artifactRoot` (relative: to the repository root) and deployments published with the
 * service's producer (acknowledged by the broker before a call resolves).
 */
export function createModelRegistry(options: {
  readonly clickhouse: ClickHouseClient;
  readonly producer: EventProducer;
  readonly artifactRoot: string;
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
    logger: options.logger,
    baseDir: REPO_ROOT,
  });
  return { registry, store };
}
