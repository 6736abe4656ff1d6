/**
 * How the drift service learns which version is production: from `models.deployments`, the
 * registry's signed deployment events, exactly as inference and the gateway do (one source of
 * truth for "what is production": what the serving paths load is what drift watches).
 *
 * Trust, as in #shared/scoring's deployment handler: an event counts only if a trusted registry
 * key signed it (DeploymentVerifier); a forged, altered or unsigned one is rejected
 * (dead-lettered with its reason), logged and counted, and production stays what it was. The
 * newest valid deployment of a batch wins, and one older than the newest already seen is
 * ignored, so replaying the compacted topic from the beginning at start-up ends on the
 * current production version and an old (genuine) event cannot move it back.
 */
import type { Logger } from '#shared/common';
import type { BatchHandler, ConsumedEvent, Rejection } from '#shared/runner';
import { type Deployment, DeploymentSignatureError } from '#shared/serde';

/** What drift needs of a production deployment (its signed fields). */
export interface ProductionDeployment {
  readonly version: string;
  readonly artifactUri: string;
  readonly artifactSha256: string;
  readonly eventId: string;
  readonly eventTime: number;
}

export interface ProductionFollowerDeps {
  readonly modelName: string;
  /** Throws DeploymentSignatureError unless a trusted key signed the event. */
  readonly verifier: { readonly verify: (deployment: Deployment) => void };
  /** Called once per refused deployment (metrics), with a stable reason. */
  readonly onRefused?: (reason: DeploymentSignatureError['reason']) => void;
  readonly logger: Logger;
}

export class ProductionFollower {
  private latest: ProductionDeployment | null = null;

  constructor(private readonly deps: ProductionFollowerDeps) {}

  /** The production version as the newest trusted deployment says; null before the first one. */
  current(): ProductionDeployment | null {
    return this.latest;
  }

  /** The batch handler of the `models.deployments` consumer. */
  readonly handler: BatchHandler<Deployment> = async (events) => {
    const { deps } = this;
    const rejected: Rejection<Deployment>[] = [];
    let newest: ConsumedEvent<Deployment> | undefined;
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
            offset: event.offset,
          },
          'deployment refused: not signed by a trusted registry key',
        );
        rejected.push({ event, error });
        continue;
      }
      if (newest === undefined || event.event.eventTime >= newest.event.eventTime) newest = event;
    }
    if (!newest) return { rejected };
    const deployment = newest.event;
    if (this.latest && deployment.eventTime < this.latest.eventTime) {
      deps.logger.warn(
        { eventId: deployment.eventId, version: deployment.modelVersion },
        'deployment ignored: older than the newest deployment already seen',
      );
      return { rejected };
    }
    const before = this.latest?.version ?? null;
    this.latest = {
      version: deployment.modelVersion,
      artifactUri: deployment.artifactUri,
      artifactSha256: deployment.artifactSha256,
      eventId: deployment.eventId,
      eventTime: deployment.eventTime,
    };
    if (before !== deployment.modelVersion) {
      deps.logger.info(
        { from: before, to: deployment.modelVersion, action: deployment.action },
        'production version from models.deployments',
      );
    }
    return { rejected };
  };
}
