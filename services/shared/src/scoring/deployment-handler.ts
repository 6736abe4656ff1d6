/**
 * Follows `models.deployments`: when the production version of our model changes, load it
 * beside the serving one and switch (ModelHost.swap).
 *
 * Trust: a deployment is applied only if the registry signed it (`DeploymentVerifier`, keys
 * from DEPLOYMENT_TRUSTED_KEYS_FILE), so the artifact digest the folder is checked against is
 * the registry's, not whatever a writer of the topic put in the event. A forged or altered
 * event is rejected (dead-lettered with its reason and bytes), logged and counted, and the
 * serving model stays. A signed event older than the newest one already seen is ignored, so
 * replaying an old (genuine) deployment cannot roll production back.
 *
 * Only the newest valid deployment of a batch is applied, and one for the version already
 * serving is a no-op, so replaying the compacted topic at start-up does not swap through
 * history. The folder is verified against the signed sha256 (the artifact store's folder
 * digest) before it is loaded: a damaged or substituted artifact is refused (dead-lettered).
 */
import { Counter, type Registry } from 'prom-client';
import type { Logger } from '#shared/common';
import { type ModelInfo, artifactFolder, verifyFolder } from '#shared/model';
import type { BatchHandler, ConsumedEvent, Rejection } from '#shared/runner';
import { type Deployment, DeploymentSignatureError, type DeploymentVerifier } from '#shared/serde';

export interface DeploymentHandlerDeps {
  readonly modelName: string;
  readonly current: () => ModelInfo;
  readonly swap: (folder: string) => Promise<ModelInfo>;
  /** Base for relative artifact paths. */
  readonly baseDir: string;
  /** The registry's trusted public keys. */
  readonly verifier: DeploymentVerifier;
  /** Checks the folder's digest; defaults to the artifact store's `verifyFolder`. */
  readonly verify?: (folder: string, sha256: string) => Promise<void>;
  /** Called once per refused deployment (metrics), with a stable reason. */
  readonly onRefused?: (reason: DeploymentSignatureError['reason']) => void;
  readonly logger: Logger;
}

export function createDeploymentHandler(deps: DeploymentHandlerDeps): BatchHandler<Deployment> {
  /** eventTime of the newest valid deployment seen (applied or already serving). */
  let newestSeen = -Infinity;
  return async (events) => {
    const rejected: Rejection<Deployment>[] = [];
    let latest: ConsumedEvent<Deployment> | undefined;
    for (const event of events) {
      if (event.event.modelName !== deps.modelName) continue;
      try {
        deps.verifier.verify(event.event);
      } catch (error) {
        if (!(error instanceof DeploymentSignatureError)) throw error;
        deps.onRefused?.(error.reason);
        deps.logger.error(
          {
            reason: error.reason,
            eventId: event.event.eventId,
            version: event.event.modelVersion,
            artifactUri: event.event.artifactUri,
            offset: event.offset,
          },
          'deployment refused: not signed by a trusted registry key',
        );
        rejected.push({ event, error });
        continue;
      }
      if (latest === undefined || event.event.eventTime >= latest.event.eventTime) latest = event;
    }
    if (!latest) return { rejected };
    if (latest.event.eventTime < newestSeen) {
      deps.logger.warn(
        { eventId: latest.event.eventId, version: latest.event.modelVersion },
        'deployment ignored: older than the newest deployment already seen',
      );
      return { rejected };
    }
    newestSeen = latest.event.eventTime;
    if (latest.event.modelVersion === deps.current().version) return { rejected };
    const folder = artifactFolder(latest.event.artifactUri, deps.baseDir);
    await (deps.verify ?? verifyFolder)(folder, latest.event.artifactSha256);
    const before = deps.current().version;
    const info = await deps.swap(folder);
    deps.logger.info(
      { from: before, to: info.version, action: latest.event.action, reason: latest.event.reason },
      'model swapped',
    );
    return { rejected };
  };
}

/** `model_deployments_refused_total{reason}`: the onRefused of a serving process. */
export function countRefusedDeployments(
  registry: Registry,
): (reason: DeploymentSignatureError['reason']) => void {
  const refused = new Counter({
    name: 'model_deployments_refused_total',
    help: 'Deployment events refused because a trusted registry key did not sign them, by reason',
    labelNames: ['reason'],
    registers: [registry],
  });
  return (reason) => refused.inc({ reason });
}
