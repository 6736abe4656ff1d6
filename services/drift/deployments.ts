/**
 * How the drift service learns which version is production: from `models.deployments`, the
 * registry's signed deployment events, exactly as inference and the gateway do (one source of
 * truth for "what is production": what the serving paths load is what drift watches).
 *
 * Trust and order are #domain/scoring's one rule (`trustedDeploymentHandler`): an event counts
 * only if a trusted registry key signed it; a forged one is dead-lettered, logged and counted,
 * and production stays what it was; the newest valid deployment wins, an older one is ignored,
 * so replaying the compacted topic at start-up ends on the current production version.
 */
import type { BatchHandler } from '#platform/runner';
import { type TrustedDeploymentsDeps, trustedDeploymentHandler } from '#domain/scoring';
import type { Deployment } from '#platform/serde';

/** What drift needs of a production deployment (its signed fields). */
export interface ProductionDeployment {
  readonly version: string;
  readonly artifactUri: string;
  readonly artifactSha256: string;
  readonly eventId: string;
  readonly eventTime: number;
}

export type ProductionFollowerDeps = TrustedDeploymentsDeps;

export class ProductionFollower {
  private latest: ProductionDeployment | null = null;
  /** The batch handler of the `models.deployments` consumer (#domain/scoring's rule). */
  readonly handler: BatchHandler<Deployment>;

  constructor(private readonly deps: ProductionFollowerDeps) {
    this.handler = trustedDeploymentHandler(deps, (deployment) => this.record(deployment));
  }

  /** The production version as the newest trusted deployment says; null before the first one. */
  current(): ProductionDeployment | null {
    return this.latest;
  }

  private record(deployment: Deployment): void {
    const before = this.latest?.version ?? null;
    this.latest = {
      version: deployment.modelVersion,
      artifactUri: deployment.artifactUri,
      artifactSha256: deployment.artifactSha256,
      eventId: deployment.eventId,
      eventTime: deployment.eventTime,
    };
    if (before !== deployment.modelVersion) {
      this.deps.logger.info(
        { from: before, to: deployment.modelVersion, action: deployment.action },
        'production version from models.deployments',
      );
    }
  }
}
