/**
 * Follows `models.deployments`, the one way every service learns the production version
 * (inference and the gateway swap their model to it, drift watches it): one consumer per
 * process (`followDeployments`) and one trust and ordering rule (`trustedDeploymentHandler`).
 * A serving process's handler (`createDeploymentHandler`): each event carries the whole serving
 * plan; when the production version of our model changes, load it beside the serving one and
 * switch (ModelHost.swap); when the candidate in a live role changes, load, re-role or retire
 * it (ServingModels.setCandidate).
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
import { hostname } from 'node:os';
import type { Kafka } from 'kafkajs';
import { Counter, type Registry } from 'prom-client';
import type { Logger } from '#platform/common';
import type { EventSink } from '#platform/kafka';
import { type ModelInfo, artifactFolder, verifyFolder } from '#domain/model';
import type { LiveCandidate } from './serving-models.ts';
import {
  type BatchHandler,
  type ConsumedEvent,
  ConsumerRunner,
  type Rejection,
  type RunnerMetrics,
} from '#platform/runner';
import {
  type Deployment,
  DeploymentSignatureError,
  type DeploymentVerifier,
  type EventCodec,
} from '#platform/serde';

/** What every follower of `models.deployments` needs to apply the trust and ordering rule. */
export interface TrustedDeploymentsDeps {
  readonly modelName: string;
  /** The registry's trusted public keys: throws DeploymentSignatureError for a forged event. */
  readonly verifier: Pick<DeploymentVerifier, 'verify'>;
  /** Called once per refused deployment (metrics), with a stable reason. */
  readonly onRefused?: (reason: DeploymentSignatureError['reason']) => void;
  readonly logger: Logger;
}

/**
 * The one rule for following `models.deployments` (inference, the gateway, drift): events of
 * our model only; an event no trusted key signed is rejected (dead-lettered), logged and
 * counted; the newest valid event of a batch wins; one older than the newest already seen is
 * ignored. `apply` gets each deployment that passes, in order.
 */
export function trustedDeploymentHandler(
  deps: TrustedDeploymentsDeps,
  apply: (deployment: Deployment) => Promise<void> | void,
): BatchHandler<Deployment> {
  /** eventTime of the newest valid deployment seen (applied or already in force). */
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
    await apply(latest.event);
    return { rejected };
  };
}

/** What a serving process changes when the plan changes (ServingModels). */
export interface PlanTarget {
  /** The production model serving now. */
  readonly model: ModelInfo;
  readonly candidate: LiveCandidate | null;
  swapProduction(folder: string): Promise<ModelInfo>;
  setCandidate(next: (LiveCandidate & { readonly folder: string }) | null): Promise<void>;
}

export interface DeploymentHandlerDeps extends TrustedDeploymentsDeps {
  /** The process's serving models (looked up per event: the gateway loads them after start). */
  readonly target: () => PlanTarget;
  /** Base for relative artifact paths. */
  readonly baseDir: string;
  /** Checks the folder's digest; defaults to the artifact store's `verifyFolder`. */
  readonly verify?: (folder: string, sha256: string) => Promise<void>;
}

/**
 * A serving process's follower: applies each new serving plan. Production is swapped when its
 * version changed; the candidate is loaded, given its new role and share, or retired. Every
 * folder is verified against the signed digest before it is loaded; a plan already in force
 * is a no-op.
 */
export function createDeploymentHandler(deps: DeploymentHandlerDeps): BatchHandler<Deployment> {
  const verify = deps.verify ?? verifyFolder;
  return trustedDeploymentHandler(deps, async (deployment) => {
    const target = deps.target();
    if (deployment.modelVersion !== target.model.version) {
      const folder = artifactFolder(deployment.artifactUri, deps.baseDir);
      await verify(folder, deployment.artifactSha256);
      const before = target.model.version;
      const info = await target.swapProduction(folder);
      deps.logger.info(
        { from: before, to: info.version, action: deployment.action, reason: deployment.reason },
        'model swapped',
      );
    }
    const wanted = deployment.candidate;
    const running = target.candidate;
    if (wanted === null) {
      if (running !== null) await target.setCandidate(null);
      return;
    }
    if (
      running?.version === wanted.modelVersion &&
      running.role === wanted.role &&
      running.trafficShare === wanted.trafficShare
    ) {
      return;
    }
    const folder = artifactFolder(wanted.artifactUri, deps.baseDir);
    // A new version is verified before it is loaded; a new role of the running one needs no load.
    if (running?.version !== wanted.modelVersion) await verify(folder, wanted.artifactSha256);
    await target.setCandidate({
      version: wanted.modelVersion,
      role: wanted.role,
      trafficShare: wanted.trafficShare,
      folder,
    });
    deps.logger.info(
      {
        candidate: wanted.modelVersion,
        role: wanted.role,
        trafficShare: wanted.trafficShare,
        action: deployment.action,
        reason: deployment.reason,
      },
      'candidate role applied',
    );
  });
}

export interface DeploymentsFollowerOptions {
  readonly kafka: Kafka;
  readonly codec: EventCodec;
  /** Where refused deployments are dead-lettered. */
  readonly producer: EventSink;
  /** The following service: its Kafka principal prefixes the group. */
  readonly service: string;
  readonly logger: Logger;
  readonly metrics: RunnerMetrics;
  /** The consumer cannot be kept running: the service must not go on without it. */
  readonly onFatal: (error: unknown) => void;
  readonly handler: BatchHandler<Deployment>;
}

/**
 * The consumer of `models.deployments` of one process. Every instance must see every
 * deployment: a group of its own (host and pid), read from the start of the compacted topic,
 * so a restarted instance learns the current production version.
 */
export function followDeployments(
  options: DeploymentsFollowerOptions,
): ConsumerRunner<'models.deployments'> {
  return new ConsumerRunner({
    kafka: options.kafka,
    codec: options.codec,
    producer: options.producer,
    topic: 'models.deployments',
    groupId: `${options.service}-deployments-${hostname()}-${process.pid}`,
    service: options.service,
    logger: options.logger,
    metrics: options.metrics,
    fromBeginning: true,
    onFatal: options.onFatal,
    handler: options.handler,
  });
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
