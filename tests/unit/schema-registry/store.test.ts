/** The file store: one JSON file, atomic writes, validated on load; and the server config. */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '#platform/common';
import { afterEach, describe, expect, it } from 'vitest';
import { registryConfigSchema, registryUrl } from '../../../infra/schema-registry/config.ts';
import {
  RegistryStateError,
  createFileStore,
  writeFileAtomic,
} from '../../../infra/schema-registry/store.ts';
import { removeTempDirs, tempDir } from './helpers.ts';

afterEach(() => removeTempDirs());

function seed(dir: string): void {
  createFileStore(dir).update((draft) => {
    draft.schemas.set(1, '"string"');
    draft.schemas.set(2, '"int"');
    draft.nextId = 3;
    draft.subjects.set('a-value', [
      { version: 1, id: 1, deleted: false },
      { version: 2, id: 2, deleted: true },
    ]);
    draft.subjectCompatibility.set('a-value', 'FULL');
    draft.globalCompatibility = 'NONE';
  });
}

describe('createFileStore', () => {
  it('starts empty with BACKWARD and id 1 when the folder has no state', () => {
    const state = createFileStore(join(tempDir(), 'nested', 'dir')).read();
    expect(state.nextId).toBe(1);
    expect(state.globalCompatibility).toBe('BACKWARD');
    expect(state.schemas.size + state.subjects.size + state.subjectCompatibility.size).toBe(0);
  });

  it('persists every update and loads it back in a new store', () => {
    const dir = tempDir();
    seed(dir);
    const state = createFileStore(dir).read();
    expect(state.nextId).toBe(3);
    expect([...state.schemas]).toEqual([
      [1, '"string"'],
      [2, '"int"'],
    ]);
    expect(state.subjects.get('a-value')).toEqual([
      { version: 1, id: 1, deleted: false },
      { version: 2, id: 2, deleted: true },
    ]);
    expect(state.subjectCompatibility.get('a-value')).toBe('FULL');
    expect(state.globalCompatibility).toBe('NONE');
    // One readable file and nothing else: the temporary file was renamed over it.
    expect(readdirSync(dir)).toEqual(['registry.json']);
    expect(JSON.parse(readFileSync(join(dir, 'registry.json'), 'utf8'))).toMatchObject({
      formatVersion: 1,
      nextId: 3,
      schemas: { '1': '"string"', '2': '"int"' },
    });
  });

  it('leaves the state unchanged when the change throws', () => {
    const dir = tempDir();
    seed(dir);
    const store = createFileStore(dir);
    const before = readFileSync(join(dir, 'registry.json'), 'utf8');
    expect(() =>
      store.update((draft) => {
        draft.nextId = 99;
        draft.subjects.delete('a-value');
        throw new Error('refused');
      }),
    ).toThrow('refused');
    expect(store.read().nextId).toBe(3);
    expect(store.read().subjects.has('a-value')).toBe(true);
    expect(readFileSync(join(dir, 'registry.json'), 'utf8')).toBe(before);
  });

  it('keeps subject names such as __proto__ as data across a reload', () => {
    const dir = tempDir();
    createFileStore(dir).update((draft) => {
      draft.schemas.set(1, '"string"');
      draft.nextId = 2;
      draft.subjects.set('__proto__', [{ version: 1, id: 1, deleted: false }]);
    });
    expect(createFileStore(dir).read().subjects.get('__proto__')).toEqual([
      { version: 1, id: 1, deleted: false },
    ]);
  });

  it('loads a file without formatVersion and without deleted flags', () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, 'registry.json'),
      JSON.stringify({
        nextId: 2,
        schemas: { '1': '"string"' },
        canonical: { '1': '"string"' },
        subjects: { s: [{ version: 1, id: 1 }] },
        globalCompatibility: 'BACKWARD',
        subjectCompatibility: {},
      }),
    );
    expect(createFileStore(dir).read().subjects.get('s')).toEqual([
      { version: 1, id: 1, deleted: false },
    ]);
  });

  it.each([
    ['not JSON', '{"nextId": 1,', /not valid JSON/],
    ['another format', JSON.stringify({ formatVersion: 2 }), /formatVersion 2/],
    ['a bad nextId', JSON.stringify({ nextId: 0, schemas: {}, subjects: {} }), /nextId/],
    [
      'an id at or above nextId',
      JSON.stringify({ nextId: 1, schemas: { '1': '"int"' }, subjects: {} }),
      /not below nextId/,
    ],
    [
      'a version naming no schema',
      JSON.stringify({ nextId: 2, schemas: {}, subjects: { s: [{ version: 1, id: 1 }] } }),
      /subjects\["s"\]\[0\]\.id/,
    ],
    [
      'versions out of order',
      JSON.stringify({
        nextId: 2,
        schemas: { '1': '"int"' },
        subjects: {
          s: [
            { version: 2, id: 1 },
            { version: 1, id: 1 },
          ],
        },
      }),
      /ascend/,
    ],
    [
      'an invalid level',
      JSON.stringify({ nextId: 1, schemas: {}, subjects: {}, globalCompatibility: 'SOME' }),
      /globalCompatibility/,
    ],
  ])('refuses to start on %s, naming the file', (_what, content, problem) => {
    const dir = tempDir();
    const path = join(dir, 'registry.json');
    writeFileSync(path, content);
    let thrown: unknown;
    try {
      createFileStore(dir);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(RegistryStateError);
    expect((thrown as Error).message).toContain(path);
    expect((thrown as Error).message).toMatch(problem);
  });
});

describe('writeFileAtomic', () => {
  it('replaces the file and leaves no temporary file', () => {
    const dir = tempDir();
    const path = join(dir, 'url');
    writeFileAtomic(path, 'http://a\n');
    writeFileAtomic(path, 'http://b\n');
    expect(readFileSync(path, 'utf8')).toBe('http://b\n');
    expect(readdirSync(dir)).toEqual(['url']);
    expect(existsSync(`${path}.tmp`)).toBe(false);
  });
});

describe('config', () => {
  it('has the documented defaults', () => {
    expect(parseConfig(registryConfigSchema, {})).toEqual({
      host: '127.0.0.1',
      port: 8081,
      dataDir: 'var/schema-registry',
      logLevel: 'info',
    });
  });

  it('reads the environment and refuses bad values', () => {
    const config = parseConfig(registryConfigSchema, {
      SCHEMA_REGISTRY_HOST: '0.0.0.0',
      SCHEMA_REGISTRY_PORT: '0',
      SCHEMA_REGISTRY_DATA_DIR: '/tmp/x',
      LOG_LEVEL: 'warn',
    });
    expect(config).toEqual({ host: '0.0.0.0', port: 0, dataDir: '/tmp/x', logLevel: 'warn' });
    expect(Object.isFrozen(config)).toBe(true);
    expect(() =>
      parseConfig(registryConfigSchema, { SCHEMA_REGISTRY_PORT: '70000', LOG_LEVEL: 'loud' }),
    ).toThrow(/SCHEMA_REGISTRY_PORT[\s\S]*LOG_LEVEL/);
  });

  it('announces a URL that clients on this machine can reach', () => {
    expect(registryUrl('127.0.0.1', 8081)).toBe('http://127.0.0.1:8081');
    expect(registryUrl('0.0.0.0', 18081)).toBe('http://127.0.0.1:18081');
    expect(registryUrl('::', 5)).toBe('http://[::1]:5');
    expect(registryUrl('localhost', 5)).toBe('http://localhost:5');
  });
});
