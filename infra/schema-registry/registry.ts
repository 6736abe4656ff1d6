/**
 * Schema registry operations with Confluent's semantics, independent of HTTP: global ids
 * (one per distinct schema, shared across subjects), per-subject versions, soft deletes and
 * compatibility checks before every registration.
 */
import {
  type CompatibilityLevel,
  type ParsedSchema,
  type VersionedSchema,
  compatibilityProblems,
  parseAvroSchema,
  toCompatibilityLevel,
} from './compatibility.ts';
import {
  incompatibleSchema,
  invalidCompatibilityLevel,
  invalidVersion,
  schemaNotFound,
  subjectConfigNotFound,
  subjectNotFound,
  subjectNotSoftDeleted,
  versionNotFound,
} from './errors.ts';
import type { RegistryState, RegistryStore, SubjectVersion } from './store.ts';

export interface SchemaVersionInfo {
  readonly subject: string;
  readonly id: number;
  readonly version: number;
  readonly schema: string;
}

export interface RegistrationResult {
  readonly id: number;
  readonly version: number;
  /** False when the subject already had this schema (nothing was written). */
  readonly created: boolean;
}

const MAX_VERSION = 2 ** 31 - 1;

/** `latest`, `-1` (Confluent's alias of latest) or a version in [1, 2^31-1]; else 42202. */
export function parseVersion(raw: string): number | 'latest' {
  if (raw === 'latest' || raw === '-1') return 'latest';
  const version = /^\d{1,10}$/.test(raw) ? Number(raw) : NaN;
  if (!(version >= 1 && version <= MAX_VERSION)) throw invalidVersion(raw);
  return version;
}

function liveVersions(state: RegistryState, subject: string): SubjectVersion[] {
  return (state.subjects.get(subject) ?? []).filter((entry) => !entry.deleted);
}

export class RegistryService {
  /** Parsed schemas by global id; ids never change their schema, so entries never go stale. */
  private readonly parsed = new Map<number, ParsedSchema>();

  constructor(private readonly store: RegistryStore) {}

  subjects(includeDeleted = false): string[] {
    const state = this.store.read();
    return [...state.subjects.keys()]
      .filter((subject) => includeDeleted || liveVersions(state, subject).length > 0)
      .sort();
  }

  versions(subject: string): number[] {
    return this.requireSubject(this.store.read(), subject).map((entry) => entry.version);
  }

  version(subject: string, rawVersion: string): SchemaVersionInfo {
    const state = this.store.read();
    return this.info(state, subject, this.findVersion(state, subject, rawVersion));
  }

  schemaById(id: number): string {
    const schema = this.store.read().schemas.get(id);
    if (schema === undefined) throw schemaNotFound();
    return schema;
  }

  subjectVersionsOfId(id: number): { subject: string; version: number }[] {
    const state = this.store.read();
    if (!state.schemas.has(id)) throw schemaNotFound();
    return [...state.subjects].flatMap(([subject, versions]) =>
      versions
        .filter((entry) => !entry.deleted && entry.id === id)
        .map((entry) => ({ subject, version: entry.version })),
    );
  }

  /**
   * Registers `schemaText` under `subject`. A schema equal to a live version of the subject
   * returns that version's id without a compatibility check (re-registration is idempotent);
   * a schema known under another subject keeps its global id.
   */
  register(subject: string, schemaText: string): RegistrationResult {
    const candidate = parseAvroSchema(schemaText);
    const state = this.store.read();
    const live = liveVersions(state, subject);
    const existing = live.find(
      (entry) => this.parsedById(state, entry.id).canonical === candidate.canonical,
    );
    if (existing !== undefined) {
      return { id: existing.id, version: existing.version, created: false };
    }

    const level = this.compatibilityOf(state, subject);
    const problems = compatibilityProblems(level, candidate.type, this.versioned(state, live));
    if (problems.length > 0) {
      throw incompatibleSchema(subject, [...problems, `{compatibility: '${level}'}`]);
    }
    const knownId = this.idOf(state, candidate.canonical);
    return this.store.update((draft) => {
      const id = knownId ?? draft.nextId++;
      if (!draft.schemas.has(id)) draft.schemas.set(id, schemaText);
      const all = draft.subjects.get(subject) ?? [];
      // Numbers of soft-deleted versions are not reused (Confluent does the same).
      const version = (all[all.length - 1]?.version ?? 0) + 1;
      draft.subjects.set(subject, [...all, { version, id, deleted: false }]);
      return { id, version, created: true };
    });
  }

  /** The live version of `subject` whose schema equals `schemaText`; 40401 / 40403 if none. */
  lookup(subject: string, schemaText: string): SchemaVersionInfo {
    const candidate = parseAvroSchema(schemaText);
    const state = this.store.read();
    const found = this.requireSubject(state, subject).find(
      (entry) => this.parsedById(state, entry.id).canonical === candidate.canonical,
    );
    if (found === undefined) throw schemaNotFound();
    return this.info(state, subject, found);
  }

  /**
   * Compatibility problems of `schemaText` (empty: compatible). With a version, against that
   * version only, in the subject's level's direction(s), as Confluent's
   * `/compatibility/subjects/{s}/versions/{v}`; without, exactly the check `register` makes.
   */
  compatibility(subject: string, rawVersion: string | undefined, schemaText: string): string[] {
    const candidate = parseAvroSchema(schemaText);
    const state = this.store.read();
    const level = this.compatibilityOf(state, subject);
    const live = liveVersions(state, subject);
    if (rawVersion === undefined) {
      return compatibilityProblems(level, candidate.type, this.versioned(state, live));
    }
    // Confluent answers "compatible" for `latest` of a subject without versions.
    if (live.length === 0 && parseVersion(rawVersion) === 'latest') return [];
    const against = this.findVersion(state, subject, rawVersion);
    return compatibilityProblems(level, candidate.type, this.versioned(state, [against]));
  }

  globalCompatibility(): CompatibilityLevel {
    return this.store.read().globalCompatibility;
  }

  setGlobalCompatibility(raw: unknown): CompatibilityLevel {
    const level = toCompatibilityLevel(raw);
    if (level === undefined) throw invalidCompatibilityLevel(raw);
    this.store.update((draft) => {
      draft.globalCompatibility = level;
    });
    return level;
  }

  /** The subject's own level; 40408 when it has none, unless `defaultToGlobal`. */
  subjectCompatibility(subject: string, defaultToGlobal: boolean): CompatibilityLevel {
    const state = this.store.read();
    const level = state.subjectCompatibility.get(subject);
    if (level !== undefined) return level;
    if (defaultToGlobal) return state.globalCompatibility;
    throw subjectConfigNotFound(subject);
  }

  setSubjectCompatibility(subject: string, raw: unknown): CompatibilityLevel {
    const level = toCompatibilityLevel(raw);
    if (level === undefined) throw invalidCompatibilityLevel(raw);
    this.store.update((draft) => {
      draft.subjectCompatibility.set(subject, level);
    });
    return level;
  }

  /** Removes the subject's own level (it falls back to the global one); returns the old level. */
  deleteSubjectCompatibility(subject: string): CompatibilityLevel {
    const level = this.subjectCompatibility(subject, false);
    this.store.update((draft) => {
      draft.subjectCompatibility.delete(subject);
    });
    return level;
  }

  /**
   * Soft delete (versions hidden, numbers kept) or, with `permanent`, removal of a subject
   * that was soft-deleted first, as Confluent requires. Returns the versions deleted.
   * Schemas keep their ids either way: other subjects or old messages may still use them.
   */
  deleteSubject(subject: string, permanent: boolean): number[] {
    const state = this.store.read();
    const all = state.subjects.get(subject) ?? [];
    if (permanent) {
      if (all.length === 0) throw subjectNotFound(subject);
      if (all.some((entry) => !entry.deleted)) throw subjectNotSoftDeleted(subject);
      this.store.update((draft) => {
        draft.subjects.delete(subject);
        draft.subjectCompatibility.delete(subject);
      });
      return all.map((entry) => entry.version);
    }
    const live = this.requireSubject(state, subject);
    this.store.update((draft) => {
      draft.subjects.set(
        subject,
        all.map((entry) => ({ ...entry, deleted: true })),
      );
    });
    return live.map((entry) => entry.version);
  }

  private compatibilityOf(state: RegistryState, subject: string): CompatibilityLevel {
    return state.subjectCompatibility.get(subject) ?? state.globalCompatibility;
  }

  private requireSubject(state: RegistryState, subject: string): SubjectVersion[] {
    const live = liveVersions(state, subject);
    if (live.length === 0) throw subjectNotFound(subject);
    return live;
  }

  private findVersion(state: RegistryState, subject: string, rawVersion: string): SubjectVersion {
    const wanted = parseVersion(rawVersion);
    const live = this.requireSubject(state, subject);
    const found =
      wanted === 'latest' ? live[live.length - 1] : live.find((entry) => entry.version === wanted);
    if (found === undefined) throw versionNotFound(rawVersion);
    return found;
  }

  private info(state: RegistryState, subject: string, entry: SubjectVersion): SchemaVersionInfo {
    return { subject, id: entry.id, version: entry.version, schema: this.text(state, entry.id) };
  }

  private text(state: RegistryState, id: number): string {
    const schema = state.schemas.get(id);
    // The store validates that every version's id names a stored schema.
    if (schema === undefined) throw new Error(`schema id ${id} is referenced but not stored`);
    return schema;
  }

  private parsedById(state: RegistryState, id: number): ParsedSchema {
    let parsed = this.parsed.get(id);
    if (parsed === undefined) {
      try {
        parsed = parseAvroSchema(this.text(state, id));
      } catch (error) {
        // Not the caller's 422: a stored schema was valid when registered, so the file was
        // edited by hand. Surfaces as a 500.
        throw new Error(`stored schema id ${id} does not parse: ${(error as Error).message}`);
      }
      this.parsed.set(id, parsed);
    }
    return parsed;
  }

  private versioned(state: RegistryState, entries: readonly SubjectVersion[]): VersionedSchema[] {
    return entries.map((entry) => ({
      version: entry.version,
      type: this.parsedById(state, entry.id).type,
    }));
  }

  /** Global id of a schema equal to `canonical`, under any subject. */
  private idOf(state: RegistryState, canonical: string): number | undefined {
    for (const id of state.schemas.keys()) {
      if (this.parsedById(state, id).canonical === canonical) return id;
    }
    return undefined;
  }
}
