/**
 * The one client of the gateway's API: every request carries the API key (if one is set) as
 * `Authorization: Bearer <key>`, and every error becomes an ApiError whose message is the
 * server's (`{error: {code, message}}`, or the gateway's flat `{code, message}`).
 */
import type {
  DecisionAnswer,
  Decision,
  DriftCheck,
  DriftEpisode,
  LiveTrialResponse,
  ModelsResponse,
  PredictResponse,
  RetrainAnswer,
  WhoAmI,
} from './types.ts';

const KEY_STORAGE = 'sentiment-console.api-key';

function readStoredKey(): string {
  try {
    return window.sessionStorage.getItem(KEY_STORAGE) ?? '';
  } catch {
    return '';
  }
}

let apiKey = readStoredKey();
const keyListeners = new Set<() => void>();

/** The API key requests carry ('' when none: anonymous). */
export function getApiKey(): string {
  return apiKey;
}

/** Sets (and keeps for this tab's session) the API key; '' signs out. */
export function setApiKey(key: string): void {
  const trimmed = key.trim();
  if (trimmed === apiKey) return;
  apiKey = trimmed;
  try {
    if (trimmed === '') window.sessionStorage.removeItem(KEY_STORAGE);
    else window.sessionStorage.setItem(KEY_STORAGE, trimmed);
  } catch {
    // Storage refused (private mode): the key lasts until the page reloads.
  }
  for (const listener of keyListeners) listener();
}

export function subscribeApiKey(listener: () => void): () => void {
  keyListeners.add(listener);
  return () => keyListeners.delete(listener);
}

/** Headers that authenticate a request. */
export function authHeaders(): Record<string, string> {
  return apiKey === '' ? {} : { authorization: `Bearer ${apiKey}` };
}

export class ApiError extends Error {
  constructor(
    message: string,
    /** HTTP status; 0 when the gateway did not answer. */
    readonly status: number,
    readonly code: string,
    /** From Retry-After, when the answer had one. */
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date; null when absent or unreadable. */
export function parseRetryAfter(header: string | null, now = Date.now()): number | null {
  if (header === null || header.trim() === '') return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/** The ApiError a non-2xx response stands for. */
export async function errorFromResponse(response: Response): Promise<ApiError> {
  let code = `HTTP_${response.status}`;
  let message = `${response.status} ${response.statusText}`.trim();
  try {
    const body: unknown = JSON.parse(await response.text());
    if (isRecord(body)) {
      const nested = isRecord(body.error) ? body.error : body;
      if (typeof nested.message === 'string' && nested.message !== '') message = nested.message;
      if (typeof nested.code === 'string' && nested.code !== '') code = nested.code;
    }
  } catch {
    // Not JSON: keep the status line.
  }
  return new ApiError(
    message,
    response.status,
    code,
    parseRetryAfter(response.headers.get('retry-after')),
  );
}

/** A fetch failure (no answer) as an ApiError; an abort is passed through unchanged. */
export function networkError(error: unknown): unknown {
  if (error instanceof DOMException && error.name === 'AbortError') return error;
  const detail = error instanceof Error ? error.message : String(error);
  return new ApiError(`the gateway did not answer (${detail})`, 0, 'NETWORK');
}

export function isAbort(error: unknown): boolean {
  return error instanceof DOMException && error.name === 'AbortError';
}

export async function request<T>(
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  signal?: AbortSignal,
): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', ...authHeaders() };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? null : JSON.stringify(body),
      signal: signal ?? null,
      cache: 'no-store',
    });
  } catch (error) {
    throw networkError(error);
  }
  if (!response.ok) throw await errorFromResponse(response);
  try {
    return (await response.json()) as T;
  } catch {
    throw new ApiError(
      `${path} answered ${response.status} without JSON`,
      response.status,
      'BAD_BODY',
    );
  }
}

/** A message to show for any thrown value. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

const encode = encodeURIComponent;

export const api = {
  whoami: (signal?: AbortSignal) => request<WhoAmI>('GET', '/v1/console/whoami', undefined, signal),
  predict: (texts: string[], signal?: AbortSignal) =>
    request<PredictResponse>('POST', '/v1/predict', { texts }, signal),
  driftChecks: (hours: number, signal?: AbortSignal) =>
    request<{ checks: DriftCheck[] }>(
      'GET',
      `/v1/console/drift/checks?hours=${hours}`,
      undefined,
      signal,
    ),
  driftEpisodes: (signal?: AbortSignal) =>
    request<{ episodes: DriftEpisode[] }>('GET', '/v1/console/drift/episodes', undefined, signal),
  models: (signal?: AbortSignal) =>
    request<ModelsResponse>('GET', '/v1/console/models', undefined, signal),
  decisions: (signal?: AbortSignal) =>
    request<{ decisions: Decision[] }>('GET', '/v1/console/models/decisions', undefined, signal),
  live: (signal?: AbortSignal) =>
    request<LiveTrialResponse>('GET', '/v1/console/models/live', undefined, signal),
  promote: (version: string, reason: string) =>
    request<DecisionAnswer>('POST', `/v1/console/models/${encode(version)}/promote`, { reason }),
  rollback: (reason: string) =>
    request<DecisionAnswer>('POST', '/v1/console/models/rollback', { reason }),
  retrain: (reason: string) => request<RetrainAnswer>('POST', '/v1/console/retrain', { reason }),
};

/** Whether a signed-in caller may do what `scope` allows (admin holds every scope). */
export function hasScope(whoami: WhoAmI | null, scope: string): boolean {
  return whoami !== null && (whoami.scopes.includes(scope) || whoami.scopes.includes('admin'));
}
