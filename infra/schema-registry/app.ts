/**
 * Confluent-compatible Schema Registry (development stand-in): the REST subset that
 * @kafkajs/confluent-schema-registry and Confluent's Java/Python/librdkafka clients use.
 * Avro only. Built without listening, so tests use `app.inject()`.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Logger } from '#shared/common';
import {
  type CompatibilityLevel,
  canonicalText,
  compatibilityProblems,
  isCompatibilityLevel,
  parseAvro,
} from './compatibility.ts';
import {
  RegistryHttpError,
  incompatibleSchema,
  invalidCompatibilityLevel,
  invalidSchema,
  invalidVersion,
  schemaNotFound,
  subjectConfigNotFound,
  subjectNotFound,
  versionNotFound,
} from './errors.ts';
import type { RegistryState, RegistryStore, SubjectVersion } from './store.ts';

export interface RegistryDeps {
  readonly store: RegistryStore;
  readonly logger?: Logger;
}

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

interface SchemaBody {
  schema?: unknown;
  schemaType?: unknown;
  references?: unknown;
}

function liveVersions(state: RegistryState, subject: string): SubjectVersion[] {
  return (state.subjects[subject] ?? []).filter((entry) => !entry.deleted);
}

function requireSubject(state: RegistryState, subject: string): SubjectVersion[] {
  const versions = liveVersions(state, subject);
  if (versions.length === 0) throw subjectNotFound(subject);
  return versions;
}

function parseVersion(raw: string): number | 'latest' {
  if (raw === 'latest' || raw === '-1') return 'latest';
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 2 ** 31 - 1) throw invalidVersion(raw);
  return Number(raw);
}

function findVersion(state: RegistryState, subject: string, raw: string): SubjectVersion {
  const versions = requireSubject(state, subject);
  const wanted = parseVersion(raw);
  const found = wanted === 'latest' ? versions[versions.length - 1] : versions.find((v) => v.version === wanted);
  if (!found) throw versionNotFound();
  return found;
}

function schemaText(body: SchemaBody | undefined): string {
  if (body === undefined || typeof body.schema !== 'string') throw invalidSchema('body must have a "schema" string');
  if (body.schemaType !== undefined && body.schemaType !== 'AVRO') {
    throw invalidSchema(`schemaType ${String(body.schemaType)} is not supported by this registry (Avro only)`);
  }
  if (Array.isArray(body.references) && body.references.length > 0) {
    throw invalidSchema('schema references are not supported by this registry');
  }
  return body.schema;
}

function compatibilityOf(state: RegistryState, subject: string): CompatibilityLevel {
  return state.subjectCompatibility[subject] ?? state.globalCompatibility;
}

function problemsAgainst(state: RegistryState, subject: string, candidate: string, upTo?: SubjectVersion) {
  const versions = liveVersions(state, subject).filter((v) => upTo === undefined || v.version <= upTo.version);
  const previous = versions.map((v) => parseAvro(state.schemas[String(v.id)] ?? '"null"'));
  return compatibilityProblems(compatibilityOf(state, subject), parseAvro(candidate), previous);
}

export function buildRegistryApp(deps: RegistryDeps): FastifyInstance {
  const { store } = deps;
  const app: FastifyInstance = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger as FastifyBaseLogger } : {}),
    disableRequestLogging: true,
  });

  app.addContentTypeParser(
    ['application/vnd.schemaregistry.v1+json', 'application/vnd.schemaregistry+json', 'application/octet-stream'],
    { parseAs: 'string' },
    app.getDefaultJsonParser('ignore', 'ignore'),
  );
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('content-type', CONTENT_TYPE);
    return payload;
  });
  app.setErrorHandler((error: Error, _request, reply: FastifyReply) => {
    if (error instanceof RegistryHttpError) return reply.status(error.status).send(error.body);
    const status = (error as { statusCode?: number }).statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      return reply.status(status).send({ error_code: status, message: error.message });
    }
    deps.logger?.error({ err: error }, 'registry error');
    return reply.status(500).send({ error_code: 50001, message: `Error in the backend data store: ${error.message}` });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({ error_code: 404, message: `HTTP 404 Not Found: ${request.method} ${request.url}` }),
  );

  app.get('/', async () => ({}));

  app.get('/subjects', async () =>
    Object.keys(store.read().subjects).filter((subject) => liveVersions(store.read(), subject).length > 0),
  );

  app.post<{ Params: { subject: string }; Body: SchemaBody }>('/subjects/:subject/versions', async (request) => {
    const { subject } = request.params;
    const text = schemaText(request.body);
    const canonical = canonicalText(parseAvro(text));
    return store.update((state) => {
      const existingId = Object.entries(state.canonical).find(([, c]) => c === canonical)?.[0];
      const versions = liveVersions(state, subject);
      const already = versions.find((v) => String(v.id) === existingId);
      if (already) return { id: already.id };
      const problems = problemsAgainst(state, subject, text);
      if (problems.length > 0) throw incompatibleSchema(subject, problems);
      const id = existingId === undefined ? state.nextId++ : Number(existingId);
      state.schemas[String(id)] ??= text;
      state.canonical[String(id)] = canonical;
      const all = state.subjects[subject] ?? [];
      const version = (all[all.length - 1]?.version ?? 0) + 1;
      state.subjects[subject] = [...all, { version, id }];
      deps.logger?.info({ subject, version, id }, 'schema registered');
      return { id };
    });
  });

  app.post<{ Params: { subject: string }; Body: SchemaBody }>('/subjects/:subject', async (request) => {
    const { subject } = request.params;
    const state = store.read();
    const versions = requireSubject(state, subject);
    const canonical = canonicalText(parseAvro(schemaText(request.body)));
    const found = versions.find((v) => state.canonical[String(v.id)] === canonical);
    if (!found) throw schemaNotFound();
    return { subject, id: found.id, version: found.version, schema: state.schemas[String(found.id)] };
  });

  app.get<{ Params: { subject: string } }>('/subjects/:subject/versions', async (request) =>
    requireSubject(store.read(), request.params.subject).map((v) => v.version),
  );

  app.get<{ Params: { subject: string; version: string } }>(
    '/subjects/:subject/versions/:version',
    async (request) => {
      const { subject, version } = request.params;
      const state = store.read();
      const found = findVersion(state, subject, version);
      return { subject, id: found.id, version: found.version, schema: state.schemas[String(found.id)] };
    },
  );

  app.get<{ Params: { subject: string; version: string } }>(
    '/subjects/:subject/versions/:version/schema',
    async (request, reply) => {
      const state = store.read();
      const found = findVersion(state, request.params.subject, request.params.version);
      return reply.send(state.schemas[String(found.id)]);
    },
  );

  app.delete<{ Params: { subject: string } }>('/subjects/:subject', async (request) => {
    const { subject } = request.params;
    return store.update((state) => {
      const versions = requireSubject(state, subject);
      state.subjects[subject] = (state.subjects[subject] ?? []).map((v) => ({ ...v, deleted: true }));
      return versions.map((v) => v.version);
    });
  });

  app.get<{ Params: { id: string } }>('/schemas/ids/:id', async (request) => {
    const schema = store.read().schemas[request.params.id];
    if (schema === undefined) throw schemaNotFound();
    return { schema };
  });

  app.get<{ Params: { id: string } }>('/schemas/ids/:id/versions', async (request) => {
    const state = store.read();
    if (state.schemas[request.params.id] === undefined) throw schemaNotFound();
    return Object.entries(state.subjects).flatMap(([subject, versions]) =>
      versions
        .filter((v) => !v.deleted && String(v.id) === request.params.id)
        .map((v) => ({ subject, version: v.version })),
    );
  });

  app.post<{ Params: { subject: string; version: string }; Querystring: { verbose?: string }; Body: SchemaBody }>(
    '/compatibility/subjects/:subject/versions/:version',
    async (request) => {
      const { subject, version } = request.params;
      const state = store.read();
      const text = schemaText(request.body);
      // Confluent answers "compatible" for a subject with no versions yet.
      const upTo = liveVersions(state, subject).length === 0 ? undefined : findVersion(state, subject, version);
      const problems = upTo === undefined ? [] : problemsAgainst(state, subject, text, upTo);
      const result: { is_compatible: boolean; messages?: string[] } = { is_compatible: problems.length === 0 };
      if (request.query.verbose === 'true') result.messages = problems;
      return result;
    },
  );

  app.get('/config', async () => ({ compatibilityLevel: store.read().globalCompatibility }));

  app.put<{ Body: { compatibility?: unknown } }>('/config', async (request) => {
    const level = request.body?.compatibility;
    if (!isCompatibilityLevel(level)) throw invalidCompatibilityLevel(level);
    store.update((state) => {
      state.globalCompatibility = level;
    });
    return { compatibility: level };
  });

  app.get<{ Params: { subject: string }; Querystring: { defaultToGlobal?: string } }>(
    '/config/:subject',
    async (request) => {
      const state = store.read();
      const level = state.subjectCompatibility[request.params.subject];
      if (level !== undefined) return { compatibilityLevel: level };
      if (request.query.defaultToGlobal === 'true') return { compatibilityLevel: state.globalCompatibility };
      throw subjectConfigNotFound(request.params.subject);
    },
  );

  app.put<{ Params: { subject: string }; Body: { compatibility?: unknown } }>('/config/:subject', async (request) => {
    const level = request.body?.compatibility;
    if (!isCompatibilityLevel(level)) throw invalidCompatibilityLevel(level);
    store.update((state) => {
      state.subjectCompatibility[request.params.subject] = level;
    });
    return { compatibility: level };
  });

  return app;
}
