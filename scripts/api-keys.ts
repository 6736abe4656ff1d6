/**
 * Manages the gateway's API key file (GATEWAY_API_KEYS_FILE; the gateway re-reads it within a
 * second of a change, no restart). Keys are shown once, at creation; the file keeps sha256.
 *
 *   node --import tsx scripts/api-keys.ts create <file> --name <who> --scopes predict,submit
 *        [--rate <requests per minute>] [--expires <ISO time>]
 *   node --import tsx scripts/api-keys.ts revoke <file> <key id>
 *   node --import tsx scripts/api-keys.ts list <file>
 *   node --import tsx scripts/api-keys.ts local <secrets folder>
 *
 * `local` (infra/local-stack.sh up) makes `api-keys.json` with one development key of scope
 * admin, written to `dev-api-key` (mode 0600), when the file does not exist yet.
 * Rotation: create the new key, move the client to it, revoke the old one (docs/security.md).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  type ApiKeyRecord,
  SCOPES,
  type Scope,
  createApiKey,
  parseApiKeys,
} from '../services/gateway/api-keys.ts';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    name: { type: 'string' },
    scopes: { type: 'string' },
    rate: { type: 'string' },
    expires: { type: 'string' },
  },
});
const [command, target, id] = positionals;

function usage(message: string): never {
  console.error(
    `${message}\nusage: api-keys.ts create|revoke|list|local ... (see the file's comment)`,
  );
  process.exit(2);
}

function read(path: string): ApiKeyRecord[] {
  return existsSync(path) ? parseApiKeys(readFileSync(path, 'utf8')) : [];
}

function write(path: string, keys: readonly ApiKeyRecord[]): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  // Validate what is written with the gateway's own parser.
  const json = `${JSON.stringify({ keys }, null, 2)}\n`;
  parseApiKeys(json);
  writeFileSync(path, json, { mode: 0o600 });
  chmodSync(path, 0o600);
}

if (target === undefined) usage('missing file or folder');
const path = resolve(target);
switch (command) {
  case 'create': {
    if (!values.name) usage('--name is required');
    const scopes = (values.scopes ?? '').split(',').filter(Boolean);
    const unknown = scopes.filter((scope) => !(SCOPES as readonly string[]).includes(scope));
    if (scopes.length === 0 || unknown.length > 0) {
      usage(`--scopes must list some of ${SCOPES.join(', ')}`);
    }
    const { key, record } = createApiKey(values.name, scopes as Scope[], {
      ...(values.rate ? { rateLimitPerMinute: Number(values.rate) } : {}),
      ...(values.expires ? { expiresAt: values.expires } : {}),
    });
    write(path, [...read(path), record]);
    console.error(`key ${record.id} (${record.name}: ${scopes.join(', ')}) added; shown once:`);
    console.log(key);
    break;
  }
  case 'revoke': {
    if (!id) usage('revoke needs a key id');
    const keys = read(path);
    if (!keys.some((key) => key.id === id)) usage(`no key ${id} in ${path}`);
    write(
      path,
      keys.filter((key) => key.id !== id),
    );
    console.error(`key ${id} revoked`);
    break;
  }
  case 'list':
    for (const key of read(path)) {
      console.log(
        `${key.id}  ${key.name}  ${key.scopes.join(',')}${key.expiresAt ? `  expires ${key.expiresAt}` : ''}`,
      );
    }
    break;
  case 'local': {
    const file = join(path, 'api-keys.json');
    const devKey = join(path, 'dev-api-key');
    if (existsSync(file) && existsSync(devKey)) {
      console.log(`gateway API keys kept (development key in ${devKey})`);
      break;
    }
    const { key, record } = createApiKey('local development', ['admin']);
    write(file, [record]);
    writeFileSync(devKey, `${key}\n`, { mode: 0o600 });
    chmodSync(devKey, 0o600);
    console.log(`gateway API keys made (development key in ${devKey})`);
    break;
  }
  default:
    usage(`unknown command ${command ?? ''}`);
}
