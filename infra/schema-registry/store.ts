/**
 * Registry state in one JSON file, rewritten atomically (tmp + fsync + rename) after every
 * mutation, so schema ids are stable across restarts. Ids are global: one id per distinct
 * schema, shared by every subject that registers it.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { CompatibilityLevel } from './compatibility.ts';

export interface SubjectVersion {
  readonly version: number;
  readonly id: number;
  readonly deleted?: boolean;
}

export interface RegistryState {
  nextId: number;
  /** Global id -> schema text as registered. */
  schemas: Record<string, string>;
  /** Global id -> canonical text, for identity checks. */
  canonical: Record<string, string>;
  subjects: Record<string, SubjectVersion[]>;
  globalCompatibility: CompatibilityLevel;
  subjectCompatibility: Record<string, CompatibilityLevel>;
}

export interface RegistryStore {
  read(): RegistryState;
  /** Applies `change` to a copy of the state and persists it before returning. */
  update<R>(change: (state: RegistryState) => R): R;
}

function emptyState(): RegistryState {
  return {
    nextId: 1,
    schemas: {},
    canonical: {},
    subjects: {},
    globalCompatibility: 'BACKWARD',
    subjectCompatibility: {},
  };
}

export function fileStore(dataDir: string): RegistryStore {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, 'registry.json');
  let state: RegistryState = existsSync(path)
    ? { ...emptyState(), ...(JSON.parse(readFileSync(path, 'utf8')) as Partial<RegistryState>) }
    : emptyState();
  return {
    read: () => state,
    update(change) {
      const next = structuredClone(state);
      const result = change(next);
      const tmp = `${path}.tmp`;
      const fd = openSync(tmp, 'w');
      try {
        writeSync(fd, JSON.stringify(next, null, 2));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, path);
      state = next;
      return result;
    },
  };
}
