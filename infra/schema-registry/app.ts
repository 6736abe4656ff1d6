/**
 * HTTP layer of the schema registry dev server: the REST subset of Confluent Schema Registry
 * that @kafkajs/confluent-schema-registry and Confluent's Java/Python/librdkafka-based
 * clients use, with Confluent's status codes, `error_code`s and content type. Built without
 * listening, so tests drive it with `app.inject()`.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Logger } from '#platform/common';
import { RegistryError, invalidSchema, schemaNotFound } from './errors.ts';
import { RegistryService } from './registry.ts';
import type { RegistryStore } from './store.ts';

export interface RegistryAppDeps {
  readonly store: RegistryStore;
  readonly logger?: Logger;
}

export const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';
/** Request body types Confluent accepts; anything else is answered 415. */
const JSON_TYPES = [
  'application/json',
  'application/vnd.schemaregistry.v1+json',
  'application/vnd.schemaregistry+json',
];

interface SubjectParams {
  subject: string;
}
interface VersionParams extends SubjectParams {
  version: string;
}
interface IdParams {
  id: string;
}
interface Flags {
  verbose?: string;
  deleted?: string;
  permanent?: string;
  defaultToGlobal?: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const flag = (value: string | undefined): boolean => value === 'true';

/** The schema text of a register / lookup / compatibility body; 42201 when unusable. */
function schemaOf(body: unknown): string {
  if (!isRecord(body) || typeof body.schema !== 'string' || body.schema.trim() === '') {
    throw invalidSchema('the request body must be {"schema": "<schema as a JSON string>"}');
  }
  const schemaType = body.schemaType ?? 'AVRO';
  if (schemaType !== 'AVRO') {
    throw invalidSchema(
      `schemaType ${JSON.stringify(schemaType)} is not supported: this development registry handles AVRO only`,
    );
  }
  const { references } = body;
  if (references !== undefined && references !== null) {
    if (!Array.isArray(references) || references.length > 0) {
      throw invalidSchema('schema references are not supported by this development registry');
    }
  }
  return body.schema;
}

function compatibilityOf(body: unknown): unknown {
  return isRecord(body) ? body.compatibility : undefined;
}

/** Path ids are positive integers; anything else cannot name a schema. */
function schemaId(raw: string): number {
  if (!/^\d{1,10}$/.test(raw)) throw schemaNotFound();
  return Number(raw);
}

function statusOf(error: Error): number | undefined {
  const status = (error as { statusCode?: unknown }).statusCode;
  return typeof status === 'number' ? status : undefined;
}

export function buildRegistryApp(deps: RegistryAppDeps): FastifyInstance {
  const registry = new RegistryService(deps.store);
  // Typed as Fastify's base logger so the app is a plain FastifyInstance, not one generic
  // over pino's Logger.
  const logger: FastifyBaseLogger | undefined = deps.logger;
  const app = Fastify({
    ...(logger === undefined ? {} : { loggerInstance: logger }),
    // One debug line per request from the onResponse hook below instead of Fastify's two
    // info lines: clients poll the registry and would drown the log.
    logController: new LogController({ disableRequestLogging: true }),
  });

  // Only JSON bodies, under the media types Confluent accepts; protoAction 'error' refuses
  // bodies that try to smuggle __proto__ / constructor keys.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    JSON_TYPES,
    { parseAs: 'string' },
    app.getDefaultJsonParser('error', 'error'),
  );

  app.addHook('onSend', async (_request, reply, payload) => {
    void reply.header('content-type', CONTENT_TYPE);
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    request.log.debug(
      { method: request.method, url: request.url, status: reply.statusCode },
      'request',
    );
  });

  app.setErrorHandler((error: Error, request, reply) => {
    if (error instanceof RegistryError) return reply.status(error.status).send(error.body);
    const status = statusOf(error);
    // Fastify's own client errors: malformed JSON (400), body too large (413), media type (415).
    if (status !== undefined && status >= 400 && status < 500) {
      return reply.status(status).send({ error_code: status, message: error.message });
    }
    request.log.error({ err: error }, 'schema registry request failed');
    return reply
      .status(500)
      .send({ error_code: 50001, message: `Error in the backend data store: ${error.message}` });
  });
  app.setNotFoundHandler((_request, reply) =>
    reply.status(404).send({ error_code: 404, message: 'HTTP 404 Not Found' }),
  );

  app.get('/', async () => ({}));
  app.get('/schemas/types', async () => ['AVRO']);

  app.get<{ Querystring: Flags }>('/subjects', async (request) =>
    registry.subjects(flag(request.query.deleted)),
  );

  app.post<{ Params: SubjectParams }>('/subjects/:subject/versions', async (request) => {
    const { subject } = request.params;
    const result = registry.register(subject, schemaOf(request.body));
    if (result.created) {
      request.log.info({ subject, version: result.version, id: result.id }, 'schema registered');
    }
    return { id: result.id };
  });

  app.post<{ Params: SubjectParams }>('/subjects/:subject', async (request) =>
    registry.lookup(request.params.subject, schemaOf(request.body)),
  );

  app.delete<{ Params: SubjectParams; Querystring: Flags }>(
    '/subjects/:subject',
    async (request) => {
      const { subject } = request.params;
      const permanent = flag(request.query.permanent);
      const versions = registry.deleteSubject(subject, permanent);
      request.log.info({ subject, versions, permanent }, 'subject deleted');
      return versions;
    },
  );

  app.get<{ Params: SubjectParams }>('/subjects/:subject/versions', async (request) =>
    registry.versions(request.params.subject),
  );

  app.get<{ Params: VersionParams }>('/subjects/:subject/versions/:version', async (request) =>
    registry.version(request.params.subject, request.params.version),
  );

  // The schema itself is the JSON body, as Confluent sends it.
  app.get<{ Params: VersionParams }>(
    '/subjects/:subject/versions/:version/schema',
    async (request, reply) =>
      reply.send(registry.version(request.params.subject, request.params.version).schema),
  );

  // `schemaType` is omitted for AVRO, as Confluent does.
  app.get<{ Params: IdParams }>('/schemas/ids/:id', async (request) => ({
    schema: registry.schemaById(schemaId(request.params.id)),
  }));

  app.get<{ Params: IdParams }>('/schemas/ids/:id/schema', async (request, reply) =>
    reply.send(registry.schemaById(schemaId(request.params.id))),
  );

  app.get<{ Params: IdParams }>('/schemas/ids/:id/versions', async (request) =>
    registry.subjectVersionsOfId(schemaId(request.params.id)),
  );

  const compatibilityResult = (problems: string[], verbose: boolean) =>
    verbose
      ? { is_compatible: problems.length === 0, messages: problems }
      : { is_compatible: problems.length === 0 };

  app.post<{ Params: VersionParams; Querystring: Flags }>(
    '/compatibility/subjects/:subject/versions/:version',
    async (request) => {
      const { subject, version } = request.params;
      const problems = registry.compatibility(subject, version, schemaOf(request.body));
      return compatibilityResult(problems, flag(request.query.verbose));
    },
  );

  app.post<{ Params: SubjectParams; Querystring: Flags }>(
    '/compatibility/subjects/:subject/versions',
    async (request) => {
      const problems = registry.compatibility(
        request.params.subject,
        undefined,
        schemaOf(request.body),
      );
      return compatibilityResult(problems, flag(request.query.verbose));
    },
  );

  app.get('/config', async () => ({ compatibilityLevel: registry.globalCompatibility() }));

  app.put('/config', async (request) => {
    const compatibility = registry.setGlobalCompatibility(compatibilityOf(request.body));
    request.log.info({ compatibility }, 'global compatibility set');
    return { compatibility };
  });

  app.get<{ Params: SubjectParams; Querystring: Flags }>('/config/:subject', async (request) => ({
    compatibilityLevel: registry.subjectCompatibility(
      request.params.subject,
      flag(request.query.defaultToGlobal),
    ),
  }));

  app.put<{ Params: SubjectParams }>('/config/:subject', async (request) => {
    const { subject } = request.params;
    const compatibility = registry.setSubjectCompatibility(subject, compatibilityOf(request.body));
    request.log.info({ subject, compatibility }, 'subject compatibility set');
    return { compatibility };
  });

  app.delete<{ Params: SubjectParams }>('/config/:subject', async (request) => ({
    compatibilityLevel: registry.deleteSubjectCompatibility(request.params.subject),
  }));

  return app;
}
