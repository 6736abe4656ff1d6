/**
 * The web console's API (README "Console"), under /v1/console/:
 *   GET  whoami                      the caller's key name and scopes          (any valid key)
 *   GET  pipeline/events             SSE `pipeline`: throughput, lag, DLQs, readiness (read)
 *   GET  drift/checks?hours=24       drift checks of the served model            (read)
 *   GET  drift/episodes              drift episodes, newest first                (read)
 *   GET  drift/events                SSE `drift`: drift events as they arrive    (read)
 *   GET  models                      versions with lineage, metrics, production,
 *                                    the candidate in a live role                (read)
 *   GET  models/decisions            the promotion log, newest first             (read)
 *   GET  models/live                 the serving plan and its candidate's live
 *                                    trial as the promoter's gate assesses it    (read)
 *   POST models/:version/promote     {reason} -> the registry's decision         (admin)
 *   POST models/rollback             {reason, to?} -> the registry's decision    (admin)
 *   POST retrain                     {reason} -> {requestId}                     (admin)
 * Reads and actions go through the same modules as the operators' CLI (#platform/store drift
 * status, #domain/registry ModelRegistry and assessLiveTrial, retrainRequestEvent: the
 * console shows the figures the promoter decides on); this plugin owns only the HTTP
 * shape, the scopes and the error mapping. A data source that fails answers 503 with its
 * reason (the console shows it); registry refusals (unknown version, already production,
 * nothing to roll back) answer 404 or 409 with the registry's code.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AppError, describeError } from '#platform/common';
import {
  type DecisionRecord,
  type DriftEpisode,
  type DriftStatusRow,
  type ServingPlan,
  trafficShareOf,
} from '#platform/store';
import type { VersionView } from '#domain/registry';
import type { DriftFeedEvent } from '../console-api/drift-feed.ts';
import {
  type LiveTrialReader,
  candidateView,
  liveTrialResponseSchema,
  liveTrialView,
} from '../console-api/live-trial-view.ts';
import type { PipelineSnapshot } from '../console-api/pipeline-monitor.ts';
import { type SseStream, openSse } from '../console-api/sse.ts';
import { RATE_LIMITED } from '../security.ts';
import { errorResponses, sendError } from './errors.ts';

/** What the console reads and does; main.ts builds it from ClickHouse, Kafka and the registry. */
export interface ConsoleSources {
  readonly modelName: string;
  readonly pipeline: {
    subscribe(listener: (snapshot: PipelineSnapshot) => void): () => void;
  };
  readonly drift: {
    history(sinceMs: number): Promise<readonly DriftStatusRow[]>;
    episodes(): Promise<readonly DriftEpisode[]>;
    recent(): readonly DriftFeedEvent[];
    subscribe(listener: (event: DriftFeedEvent) => void): () => void;
  };
  readonly registry: {
    list(): Promise<readonly VersionView[]>;
    log(): Promise<readonly DecisionRecord[]>;
    /** What serves now: production and the candidate in a live role (ModelRegistry.plan). */
    plan(): Promise<ServingPlan>;
    promote(version: string, input: ActionInput): Promise<DecisionRecord>;
    rollback(input: ActionInput & { readonly to?: string }): Promise<DecisionRecord>;
  };
  /** The live trial of the plan's candidate (console-api/live-trial-view.ts). */
  readonly live: LiveTrialReader;
  readonly requestRetrain: (input: ActionInput) => Promise<{ readonly requestId: string }>;
  readonly now?: () => number;
}

export interface ActionInput {
  /** `<api key name>@console`: the promotion log's actor. */
  readonly actor: string;
  readonly reason: string;
}

/** The console's admin actions are switched off in this gateway (no signing key). */
export class AdminActionsDisabledError extends AppError {
  constructor(message: string) {
    super('ADMIN_ACTIONS_DISABLED', message);
  }
}

const REGISTRY_STATUS: Readonly<Record<string, number>> = {
  VERSION_UNKNOWN: 404,
  ALREADY_PRODUCTION: 409,
  NO_PRODUCTION: 409,
  NOTHING_TO_ROLL_BACK: 409,
  CANDIDATE_ACTIVE: 409,
  NO_CANARY: 409,
  TRAFFIC_SHARE_INVALID: 400,
  REASON_REQUIRED: 400,
  ADMIN_ACTIONS_DISABLED: 503,
};

/** A failed source or action -> the error shape: registry refusals keep their code. */
function sendFailure(reply: FastifyReply, what: string, error: unknown): FastifyReply {
  if (error instanceof AppError && REGISTRY_STATUS[error.code] !== undefined) {
    return sendError(reply, REGISTRY_STATUS[error.code]!, error.code, error.message);
  }
  reply.log.warn({ err: error }, `console: ${what} failed`);
  return sendError(reply, 503, 'CONSOLE_SOURCE_UNAVAILABLE', `${what}: ${describeError(error)}`);
}

const reasonBody = {
  type: 'object',
  required: ['reason'],
  additionalProperties: false,
  properties: {
    reason: { type: 'string', minLength: 1, maxLength: 1000, pattern: '\\S' },
    to: { type: 'string', minLength: 1, maxLength: 200 },
  },
} as const;

interface ReasonBody {
  reason: string;
  to?: string;
}

const hidden = { hide: true } as const;

const LIVE_ROLES: readonly string[] = ['SHADOW', 'CANARY'];

/**
 * The live role a decision started or ended: SHADOW and CANARY their own; a canary's
 * rollback (production unchanged) CANARY; a PROMOTED or BLOCKED reached on live evidence the
 * role it was reached in (the promoter's `details.live.role`); null for any other decision.
 */
function liveRoleOf(decision: DecisionRecord): 'SHADOW' | 'CANARY' | null {
  switch (decision.decision) {
    case 'SHADOW':
    case 'CANARY':
      return decision.decision;
    case 'ROLLED_BACK':
      return decision.details['canary'] === true ? 'CANARY' : null;
    case 'PROMOTED':
    case 'BLOCKED': {
      const live = decision.details['live'];
      const role =
        typeof live === 'object' && live !== null
          ? (live as Record<string, unknown>)['role']
          : null;
      return typeof role === 'string' && LIVE_ROLES.includes(role)
        ? (role as 'SHADOW' | 'CANARY')
        : null;
    }
    default:
      return null;
  }
}

function decisionView(decision: DecisionRecord) {
  return {
    decisionId: decision.decisionId,
    time: decision.timeMs,
    actor: decision.actor,
    decision: decision.decision,
    candidateVersion: decision.candidateVersion,
    productionBefore: decision.productionBefore,
    productionAfter: decision.productionAfter,
    candidateScore: decision.candidateScore,
    productionScore: decision.productionScore,
    reason: decision.reason,
    liveRole: liveRoleOf(decision),
    /** CANARY: the share of traffic it put the candidate on; null for any other decision. */
    trafficShare: decision.decision === 'CANARY' ? trafficShareOf(decision) : null,
  };
}

function checkView(check: DriftStatusRow) {
  return {
    time: check.checkTimeMs,
    modelVersion: check.modelVersion,
    segment: check.segment,
    windowSize: check.windowSize,
    inputDistance: check.inputDistance,
    inputThreshold: check.inputThreshold,
    domainAuc: check.domainAuc,
    domainAucThreshold: check.domainAucThreshold,
    classMixDistance: check.classMixDistance,
    classMixThreshold: check.classMixThreshold,
    inputState: check.inputState,
    predictionState: check.predictionState,
    episodeId: check.episodeId,
    error: check.error,
  };
}

async function consoleApiPlugin(app: FastifyInstance, sources: ConsoleSources) {
  const now = sources.now ?? Date.now;
  const actorOf = (name: string) => `${name}@console`;
  // Open event streams never end on their own: closing the server would wait for them.
  const streams = new Set<SseStream>();
  app.addHook('preClose', async () => {
    for (const stream of streams) stream.close();
  });
  const openStream = (request: FastifyRequest, reply: FastifyReply, onClose: () => void) => {
    // onClose may run inside openSse (a client gone already), before `stream` is assigned.
    let stream: SseStream | undefined = undefined;
    stream = openSse(request, reply, {
      onClose: () => {
        if (stream) streams.delete(stream);
        onClose();
      },
    });
    if (!stream.closed) streams.add(stream);
    return stream;
  };

  // Not in the OpenAPI document (hidden): the console's own API, not a product API.
  app.get(
    '/v1/console/whoami',
    { config: RATE_LIMITED, schema: hidden },
    async (request, reply) => {
      const principal = request.principal;
      if (principal.anonymous) {
        return sendError(reply, 401, 'API_KEY_REQUIRED', 'sign in with an API key');
      }
      return { name: principal.name, scopes: [...principal.scopes].sort() };
    },
  );

  app.get(
    '/v1/console/pipeline/events',
    { config: { scope: 'read' }, schema: hidden },
    async (request, reply) => {
      let unsubscribe: () => void = () => undefined;
      const stream = openStream(request, reply, () => unsubscribe());
      unsubscribe = sources.pipeline.subscribe((snapshot) => {
        stream.send('pipeline', snapshot);
      });
      if (stream.closed) unsubscribe();
    },
  );

  app.get<{ Querystring: { hours?: string } }>(
    '/v1/console/drift/checks',
    {
      config: { scope: 'read', ...RATE_LIMITED },
      schema: {
        ...hidden,
        querystring: {
          type: 'object',
          // A string: the gateway's validator does not coerce types (a query string is text).
          properties: { hours: { type: 'string', pattern: '^[0-9]{1,4}(\\.[0-9]{1,3})?$' } },
        },
        response: errorResponses(400, 401, 403, 503),
      },
    },
    async (request, reply) => {
      // Hours of history, default 24, at most 31 days.
      const hours = Math.min(Number(request.query.hours ?? 24), 24 * 31);
      if (!(hours > 0)) return sendError(reply, 400, 'BAD_REQUEST', 'hours must be above 0');
      try {
        const checks = await sources.drift.history(now() - hours * 3_600_000);
        return { modelName: sources.modelName, checks: checks.map(checkView) };
      } catch (error) {
        return sendFailure(reply, 'drift checks (ClickHouse)', error);
      }
    },
  );

  app.get(
    '/v1/console/drift/episodes',
    { config: { scope: 'read', ...RATE_LIMITED }, schema: hidden },
    async (_request, reply) => {
      try {
        const episodes = await sources.drift.episodes();
        return {
          episodes: episodes.map((episode) => ({
            episodeId: episode.episodeId,
            modelVersion: episode.modelVersion,
            segment: episode.segment,
            startTime: episode.startMs,
            endTime: episode.endMs,
            checks: episode.checks,
            peakInputDistance: episode.peakInputDistance,
          })),
        };
      } catch (error) {
        return sendFailure(reply, 'drift episodes (ClickHouse)', error);
      }
    },
  );

  app.get(
    '/v1/console/drift/events',
    { config: { scope: 'read' }, schema: hidden },
    async (request, reply) => {
      let unsubscribe: () => void = () => undefined;
      const stream = openStream(request, reply, () => unsubscribe());
      // The event id is the SSE id only when it is a plain token: it comes from Kafka, and a
      // line break in it would be refused by the stream.
      const send = (event: DriftFeedEvent) =>
        stream.send(
          'drift',
          event,
          /^[\w.:-]{1,200}$/.test(event.eventId) ? event.eventId : undefined,
        );
      // The kept events first, so a page that connects after a change still sees it.
      for (const event of sources.drift.recent()) send(event);
      unsubscribe = sources.drift.subscribe(send);
      if (stream.closed) unsubscribe();
    },
  );

  app.get(
    '/v1/console/models',
    { config: { scope: 'read', ...RATE_LIMITED }, schema: hidden },
    async (_r, reply) => {
      try {
        const [versions, plan] = await Promise.all([
          sources.registry.list(),
          sources.registry.plan(),
        ]);
        const candidate = plan.candidate;
        return {
          modelName: sources.modelName,
          production: versions.find((version) => version.production)?.version ?? null,
          candidate: candidateView(candidate),
          versions: versions.map((version) => ({
            version: version.version,
            parentVersion: version.parentVersion,
            createdTime: version.createdTimeMs,
            status: version.status,
            production: version.production,
            liveRole: candidate?.version === version.version ? candidate.role : null,
            metrics: version.metrics,
            trainingData: JSON.stringify(version.trainingData),
            driftThreshold: version.driftThreshold,
            note: version.note,
          })),
        };
      } catch (error) {
        return sendFailure(reply, 'model versions (ClickHouse)', error);
      }
    },
  );

  app.get(
    '/v1/console/models/decisions',
    { config: { scope: 'read', ...RATE_LIMITED }, schema: hidden },
    async (_request, reply) => {
      try {
        const decisions = await sources.registry.log();
        return { decisions: [...decisions].reverse().map(decisionView) };
      } catch (error) {
        return sendFailure(reply, 'promotion log (ClickHouse)', error);
      }
    },
  );

  app.get(
    '/v1/console/models/live',
    {
      config: { scope: 'read', ...RATE_LIMITED },
      schema: {
        ...hidden,
        summary: "The serving plan and its candidate's live trial",
        description:
          'Production and the candidate in SHADOW or CANARY, with the live evidence and the ' +
          "verdict of the promoter's gate (assessLiveTrial) under this gateway's gate settings.",
        response: { 200: liveTrialResponseSchema(), ...errorResponses(401, 403, 503) },
      },
    },
    async (_request, reply) => {
      try {
        return liveTrialView(sources.modelName, await sources.live.current());
      } catch (error) {
        return sendFailure(reply, 'live trial (ClickHouse)', error);
      }
    },
  );

  app.post<{ Params: { version: string }; Body: ReasonBody }>(
    '/v1/console/models/:version/promote',
    {
      config: { scope: 'admin', ...RATE_LIMITED },
      schema: {
        ...hidden,
        params: {
          type: 'object',
          properties: { version: { type: 'string', minLength: 1, maxLength: 200 } },
        },
        body: reasonBody,
      },
    },
    async (request, reply) => {
      try {
        const decision = await sources.registry.promote(request.params.version, {
          actor: actorOf(request.principal.name),
          reason: request.body.reason.trim(),
        });
        return { decision: decisionView(decision) };
      } catch (error) {
        return sendFailure(reply, 'promote', error);
      }
    },
  );

  app.post<{ Body: ReasonBody }>(
    '/v1/console/models/rollback',
    { config: { scope: 'admin', ...RATE_LIMITED }, schema: { ...hidden, body: reasonBody } },
    async (request, reply) => {
      try {
        const decision = await sources.registry.rollback({
          actor: actorOf(request.principal.name),
          reason: request.body.reason.trim(),
          ...(request.body.to === undefined ? {} : { to: request.body.to }),
        });
        return { decision: decisionView(decision) };
      } catch (error) {
        return sendFailure(reply, 'roll back', error);
      }
    },
  );

  app.post<{ Body: ReasonBody }>(
    '/v1/console/retrain',
    { config: { scope: 'admin', ...RATE_LIMITED }, schema: { ...hidden, body: reasonBody } },
    async (request, reply) => {
      try {
        const { requestId } = await sources.requestRetrain({
          actor: actorOf(request.principal.name),
          reason: request.body.reason.trim(),
        });
        return reply.status(202).send({ requestId });
      } catch (error) {
        return sendFailure(reply, 'retrain request (Kafka)', error);
      }
    },
  );
}

/** Encapsulated; refuses to load without gateway-security, which enforces its scopes. */
export const consoleApiRoutes = fp(consoleApiPlugin, {
  name: 'gateway-console-api',
  fastify: '5.x',
  encapsulate: true,
  dependencies: ['gateway-security', 'gateway-errors'],
});
