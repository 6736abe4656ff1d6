/**
 * Follows `models.deployments`: when the production version of our model changes, load it
 * beside the serving one and switch (ModelHost.swap). Only the newest deployment of a batch
 * is applied, and one for the version already serving is a no-op, so replaying the
 * compacted topic at start-up does not swap through history. The folder is verified against
 * the deployment's sha256 (the artifact store's folder digest) before it is loaded: a damaged
 * or substituted artifact is refused (dead-lettered) and the serving model stays.
 */
import type { Logger } from '#shared/common';
import { type ModelInfo, artifactFolder, verifyFolder } from '#shared/model';
import type { BatchHandler } from '#shared/runner';
import type { Deployment } from '#shared/serde';

export interface DeploymentHandlerDeps {
  readonly modelName: string;
  readonly current: () => ModelInfo;
  readonly swap: (folder: string) => Promise<ModelInfo>;
  /** Base for relative artifact paths. */
  readonly baseDir: string;
  /** Checks the folder's digest; defaults to the artifact store's `verifyFolder`. */
  readonly verify?: (folder: string, sha256: string) => Promise<void>;
  readonly logger: Logger;
}

export function createDeploymentHandler(deps: DeploymentHandlerDeps): BatchHandler<Deployment> {
  return async (events) => {
    const ours = events.filter((event) => event.event.modelName === deps.modelName);
    const latest = ours.reduce<(typeof ours)[number] | undefined>(
      (newest, event) =>
        newest === undefined || event.event.eventTime >= newest.event.eventTime ? event : newest,
      undefined,
    );
    if (!latest || latest.event.modelVersion === deps.current().version) return;
    const folder = artifactFolder(latest.event.artifactUri, deps.baseDir);
    await (deps.verify ?? verifyFolder)(folder, latest.event.artifactSha256);
    const before = deps.current().version;
    const info = await deps.swap(folder);
    deps.logger.info(
      { from: before, to: info.version, action: latest.event.action, reason: latest.event.reason },
      'model swapped',
    );
  };
}
