/**
 * Registry state: schemas by global id, subjects' versions, compatibility configs and the next
 * id. The file store keeps it in one JSON file, `<dataDir>/registry.json`, rewritten
 * atomically after every mutation and loaded at start, so ids are stable across restarts.
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { AppError } from '#platform/common';
import {
  type CompatibilityLevel,
  DEFAULT_COMPATIBILITY,
  isCompatibilityLevel,
} from './compatibility.ts';

export interface SubjectVersion {
  readonly version: number;
  /** Global schema id; several subjects (and versions) may share one. */
  readonly id: number;
  /** Soft-deleted: hidden from reads and compatibility checks, but its number is not reused. */
  readonly deleted: boolean;
}

/** Current state as read by handlers; change it only through `RegistryStore.update`. */
export interface RegistryState {
  readonly nextId: number;
  /** Global id -> schema text as first registered. */
  readonly schemas: ReadonlyMap<number, string>;
  /** Subject -> versions, ascending, including soft-deleted ones. */
  readonly subjects: ReadonlyMap<string, readonly SubjectVersion[]>;
  readonly globalCompatibility: CompatibilityLevel;
  readonly subjectCompatibility: ReadonlyMap<string, CompatibilityLevel>;
}

/** The private copy a mutation works on. Maps, not objects: subjects are user input. */
export interface DraftState {
  nextId: number;
  schemas: Map<number, string>;
  subjects: Map<string, SubjectVersion[]>;
  globalCompatibility: CompatibilityLevel;
  subjectCompatibility: Map<string, CompatibilityLevel>;
}

export interface RegistryStore {
  read(): RegistryState;
  /**
   * Runs `change` on a copy of the state, persists the copy and only then makes it current:
   * if `change` throws or the write fails, the state is unchanged. Synchronous on purpose,
   * so that concurrent requests cannot interleave between a check and the write it guards.
   */
  update<R>(change: (draft: DraftState) => R): R;
}

export function emptyState(): DraftState {
  return {
    nextId: 1,
    schemas: new Map(),
    subjects: new Map(),
    globalCompatibility: DEFAULT_COMPATIBILITY,
    subjectCompatibility: new Map(),
  };
}

export class RegistryStateError extends AppError {
  constructor(path: string, problem: string) {
    super('SCHEMA_REGISTRY_STATE_INVALID', `${path}: ${problem}`);
  }
}

const FORMAT_VERSION = 1;

/** On-disk layout; plain objects keyed by id and subject (JSON.parse keeps any key as data). */
interface StateFile {
  formatVersion: number;
  nextId: number;
  globalCompatibility: CompatibilityLevel;
  schemas: Record<string, string>;
  subjects: Record<string, readonly SubjectVersion[]>;
  subjectCompatibility: Record<string, CompatibilityLevel>;
}

function toFile(state: RegistryState): StateFile {
  return {
    formatVersion: FORMAT_VERSION,
    nextId: state.nextId,
    globalCompatibility: state.globalCompatibility,
    // Object.fromEntries defines own properties, so a subject named "__proto__" stays data.
    schemas: Object.fromEntries(state.schemas),
    subjects: Object.fromEntries(state.subjects),
    subjectCompatibility: Object.fromEntries(state.subjectCompatibility),
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isPositiveInt(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) > 0;
}

/** Validates a loaded file; every problem names where it is, so a hand-edit is easy to fix. */
export function fromFile(json: unknown, path: string): DraftState {
  function fail(problem: string): never {
    throw new RegistryStateError(path, problem);
  }
  if (!isRecord(json)) fail('expected a JSON object');
  // Files written before `formatVersion` existed have the same layout as version 1.
  const formatVersion = json.formatVersion ?? FORMAT_VERSION;
  if (formatVersion !== FORMAT_VERSION) fail(`unsupported formatVersion ${String(formatVersion)}`);
  const state = emptyState();
  if (!isPositiveInt(json.nextId)) fail('nextId must be a positive integer');
  state.nextId = json.nextId;
  const global = json.globalCompatibility ?? DEFAULT_COMPATIBILITY;
  if (!isCompatibilityLevel(global)) fail(`invalid globalCompatibility ${String(global)}`);
  state.globalCompatibility = global;

  if (!isRecord(json.schemas)) fail('schemas must be an object');
  for (const [key, schema] of Object.entries(json.schemas)) {
    const id = Number(key);
    if (!isPositiveInt(id) || String(id) !== key) fail(`schemas: invalid id "${key}"`);
    if (typeof schema !== 'string') fail(`schemas.${key} must be a string`);
    if (id >= state.nextId) fail(`schemas: id ${id} is not below nextId ${state.nextId}`);
    state.schemas.set(id, schema);
  }

  if (!isRecord(json.subjects)) fail('subjects must be an object');
  for (const [subject, versions] of Object.entries(json.subjects)) {
    if (!Array.isArray(versions)) fail(`subjects["${subject}"] must be an array`);
    const parsed: SubjectVersion[] = [];
    for (const [index, entry] of (versions as unknown[]).entries()) {
      const where = `subjects["${subject}"][${index}]`;
      if (!isRecord(entry)) fail(`${where} must be an object`);
      const { version, id, deleted = false } = entry;
      if (!isPositiveInt(version)) fail(`${where}.version must be a positive integer`);
      if (!isPositiveInt(id) || !state.schemas.has(id)) fail(`${where}.id is not a stored schema`);
      if (typeof deleted !== 'boolean') fail(`${where}.deleted must be a boolean`);
      const before = parsed[parsed.length - 1];
      if (before !== undefined && version <= before.version) fail(`${where}: versions must ascend`);
      parsed.push({ version, id, deleted });
    }
    state.subjects.set(subject, parsed);
  }

  const subjectCompatibility = json.subjectCompatibility ?? {};
  if (!isRecord(subjectCompatibility)) fail('subjectCompatibility must be an object');
  for (const [subject, level] of Object.entries(subjectCompatibility)) {
    if (!isCompatibilityLevel(level)) fail(`subjectCompatibility["${subject}"]: invalid level`);
    state.subjectCompatibility.set(subject, level);
  }
  return state;
}

/** Writes `content` to `path` so that readers see the old or the new file, never a torn one. */
export function writeFileAtomic(path: string, content: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  // The rename itself is durable only once the directory entry is flushed.
  const dir = openSync(dirname(path), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

export function createFileStore(dataDir: string): RegistryStore {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, 'registry.json');
  let state: RegistryState = emptyState();
  if (existsSync(path)) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(path, 'utf8'));
    } catch (error) {
      throw new RegistryStateError(path, `not valid JSON (${(error as Error).message})`);
    }
    state = fromFile(json, path);
  }
  return {
    read: () => state,
    update(change) {
      const draft = structuredClone(state) as DraftState;
      const result = change(draft);
      writeFileAtomic(path, `${JSON.stringify(toFile(draft), null, 2)}\n`);
      state = draft;
      return result;
    },
  };
}
