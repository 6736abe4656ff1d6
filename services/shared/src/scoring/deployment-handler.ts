/**
 * Follows `models.deployments`: when the production version of our model changes, load it
 * beside the serving one and switch (ModelHost.swap). Only the newest deployment of a batch
 * is applied, and one for the version already serving is a no-op, so replaying the
 * compacted topic at start-up does not swap through history.
 */
import { fileURLToPath } from 'node:url';
import { isAbsolute, resolve } from 'node:path';
import { InvalidMessageError, type Logger } from '#shared/common';
import type { ModelInfo } from '#shared/model';
import type { BatchHandler } from '#shared/runner';
import type { Deployment } from '#shared/serde';

export interface DeploymentHandlerDeps {
  readonly modelName: string;
  readonly current: () => ModelInfo;
  readonly swap: (folder: string) => Promise<ModelInfo>;
  /** Base for relative artifact paths. */
  readonly baseDir: string;
  readonly logger: Logger;
}

/** Artifact URI of a deployment -> local model folder. */
export function artifactFolder(uri: string, baseDir: string): string {
  if (uri.startsWith('file://')) return fileURLToPath(uri);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) {
    throw new InvalidMessageError(
      'ARTIFACT_URI_UNSUPPORTED',
      `unsupported artifact URI ${uri} (file:// or a path)`,
    );
  }
  return isAbsolute(uri) ? uri : resolve(baseDir, uri);
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
    const before = deps.current().version;
    const info = await deps.swap(folder);
    deps.logger.info(
      { from: before, to: info.version, action: latest.event.action, reason: latest.event.reason },
      'model swapped',
    );
  };
}
