/**
 * API keys of the gateway: who may call what.
 *
 * A key is `smk_<id>_<secret>` (id: 8 hex digits, secret: 32 random bytes, base64url). The
 * gateway stores only `sha256(key)` (hex), never the key: a leaked key file grants nothing.
 * A fast hash is right here because the secrets are random (256 bits), not passwords.
 *
 * Key file (GATEWAY_API_KEYS_FILE, JSON):
 *   {"keys": [{"id": "1a2b3c4d", "name": "billing-service", "sha256": "<hex>",
 *              "scopes": ["predict", "submit"], "rateLimitPerMinute": 600,
 *              "expiresAt": "2027-01-01T00:00:00Z"}]}
 * `rateLimitPerMinute` and `expiresAt` are optional. The ring re-reads the file when its
 * modification time or size changes (checked at most once a second), so keys are added,
 * rotated and revoked without a restart; a file that stops parsing keeps the keys last read
 * and the problem is logged.
 *
 * Scopes: `predict` (POST /v1/predict, GET /v1/model), `submit` (POST /v1/reviews),
 * `label` (reviews that carry `ground_truth`: labels steer retraining, so they need more
 * trust than submitting text), `read` (the console's views: pipeline, drift, models; no
 * changes), `admin` (everything: also the console's promote, roll back and retrain, and
 * /metrics from off the host).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { AppError, fileStamp } from '#platform/common';

export const SCOPES = ['predict', 'submit', 'label', 'read', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export interface ApiKeyRecord {
  readonly id: string;
  readonly name: string;
  /** sha256 of the whole key, lowercase hex. */
  readonly sha256: string;
  readonly scopes: readonly Scope[];
  readonly rateLimitPerMinute?: number;
  /** ISO-8601; the key is refused from then on. */
  readonly expiresAt?: string;
}

/** Who made a request. */
export interface Principal {
  /** Key id, or `anonymous:<ip>`: the rate limit's bucket. */
  readonly id: string;
  readonly name: string;
  readonly scopes: ReadonlySet<Scope>;
  readonly anonymous: boolean;
  readonly rateLimitPerMinute?: number;
}

export class ApiKeyFileError extends AppError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('API_KEYS_INVALID', message, options);
  }
}

const KEY_FORMAT = /^smk_([0-9a-f]{8})_([A-Za-z0-9_-]{43})$/;

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** A new random key and the record that stores it (the key itself is shown once). */
export function createApiKey(
  name: string,
  scopes: readonly Scope[],
  options: { rateLimitPerMinute?: number; expiresAt?: string } = {},
): { key: string; record: ApiKeyRecord } {
  const id = randomBytes(4).toString('hex');
  const key = `smk_${id}_${randomBytes(32).toString('base64url')}`;
  return { key, record: { id, name, sha256: hashApiKey(key), scopes: [...scopes], ...options } };
}

/** Parses and checks a key file's content; every problem is reported at once. */
export function parseApiKeys(json: string): ApiKeyRecord[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (error) {
    throw new ApiKeyFileError('the API key file is not JSON', { cause: error });
  }
  const keys = (parsed as { keys?: unknown }).keys;
  if (!Array.isArray(keys)) throw new ApiKeyFileError('the API key file has no "keys" array');
  const problems: string[] = [];
  const seen = new Set<string>();
  keys.forEach((entry: Partial<Record<keyof ApiKeyRecord, unknown>>, index) => {
    const where = `keys[${index}]`;
    if (typeof entry.id !== 'string' || !/^[0-9a-f]{8}$/.test(entry.id)) {
      problems.push(`${where}.id must be 8 hex digits`);
    } else if (seen.has(entry.id)) problems.push(`${where}.id ${entry.id} is a duplicate`);
    else seen.add(entry.id);
    if (typeof entry.name !== 'string' || entry.name === '')
      problems.push(`${where}.name is required`);
    if (typeof entry.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(entry.sha256)) {
      problems.push(`${where}.sha256 must be 64 lowercase hex digits`);
    }
    if (
      !Array.isArray(entry.scopes) ||
      entry.scopes.length === 0 ||
      !entry.scopes.every((scope) => (SCOPES as readonly unknown[]).includes(scope))
    ) {
      problems.push(`${where}.scopes must be a non-empty list of ${SCOPES.join(', ')}`);
    }
    const rate = entry.rateLimitPerMinute;
    if (rate !== undefined && !(typeof rate === 'number' && Number.isInteger(rate) && rate > 0)) {
      problems.push(`${where}.rateLimitPerMinute must be a positive integer`);
    }
    const expires = entry.expiresAt;
    if (
      expires !== undefined &&
      (typeof expires !== 'string' || Number.isNaN(Date.parse(expires)))
    ) {
      problems.push(`${where}.expiresAt must be an ISO-8601 time`);
    }
  });
  if (problems.length > 0) {
    throw new ApiKeyFileError(`invalid API key file:\n  - ${problems.join('\n  - ')}`);
  }
  return keys as ApiKeyRecord[];
}

/** Why a key was refused (401): stable, safe to return to the client. */
export type KeyRefusal = 'malformed' | 'unknown' | 'expired';

export interface ApiKeyRingOptions {
  readonly now?: () => number;
  /** Called when a changed file cannot be read or parsed (the previous keys stay). */
  readonly onReloadError?: (error: unknown) => void;
}

/** The keys in force; see the module comment. */
export class ApiKeyRing {
  #byId: Map<string, ApiKeyRecord>;
  readonly #reload: () => ApiKeyRecord[] | undefined;
  readonly #now: () => number;

  private constructor(
    records: readonly ApiKeyRecord[],
    reload: () => ApiKeyRecord[] | undefined,
    now: () => number,
  ) {
    this.#byId = new Map(records.map((record) => [record.id, record]));
    this.#reload = reload;
    this.#now = now;
  }

  static of(records: readonly ApiKeyRecord[], options: ApiKeyRingOptions = {}): ApiKeyRing {
    return new ApiKeyRing(records, () => undefined, options.now ?? Date.now);
  }

  /** Keys from a file, re-read when it changes (at most one check a second). */
  static fromFile(path: string, options: ApiKeyRingOptions = {}): ApiKeyRing {
    const now = options.now ?? Date.now;
    const stamp = () => fileStamp(path);
    const read = () => {
      try {
        return parseApiKeys(readFileSync(path, 'utf8'));
      } catch (error) {
        if (error instanceof ApiKeyFileError) throw error;
        throw new ApiKeyFileError(`cannot read the API key file ${path}`, { cause: error });
      }
    };
    let seen = stamp();
    let checkedAt = now();
    const initial = read();
    return new ApiKeyRing(
      initial,
      () => {
        if (now() - checkedAt < 1_000) return undefined;
        checkedAt = now();
        try {
          const current = stamp();
          if (current === seen) return undefined;
          const records = read();
          seen = current;
          return records;
        } catch (error) {
          options.onReloadError?.(error);
          return undefined;
        }
      },
      now,
    );
  }

  get size(): number {
    return this.#byId.size;
  }

  /** The principal a presented key stands for, or why it is refused. */
  authenticate(key: string): Principal | KeyRefusal {
    const reloaded = this.#reload();
    if (reloaded) this.#byId = new Map(reloaded.map((record) => [record.id, record]));
    const match = KEY_FORMAT.exec(key);
    if (!match) return 'malformed';
    const record = this.#byId.get(match[1]!);
    if (!record) return 'unknown';
    const presented = Buffer.from(hashApiKey(key), 'hex');
    const stored = Buffer.from(record.sha256, 'hex');
    if (presented.length !== stored.length || !timingSafeEqual(presented, stored)) return 'unknown';
    if (record.expiresAt !== undefined && Date.parse(record.expiresAt) <= this.#now()) {
      return 'expired';
    }
    return {
      id: record.id,
      name: record.name,
      scopes: new Set(record.scopes),
      anonymous: false,
      ...(record.rateLimitPerMinute !== undefined
        ? { rateLimitPerMinute: record.rateLimitPerMinute }
        : {}),
    };
  }
}

/** `admin` holds every scope. */
export function hasScope(principal: Principal, scope: Scope): boolean {
  return principal.scopes.has(scope) || principal.scopes.has('admin');
}
