import {
  useCallback,
  useEffect,
  useLayoutEffect,
  useRef,
  useState,
  useSyncExternalStore,
} from 'react';
import { getApiKey, isAbort, messageOf, subscribeApiKey } from './api.ts';
import { type SseState, runSse } from './sse.ts';

/** The API key now in use; components re-render when it changes. */
export function useApiKey(): string {
  return useSyncExternalStore(subscribeApiKey, getApiKey);
}

/**
 * The API key once it has stayed the same for `delayMs`: what loads and event streams follow,
 * so typing a key does not send a request per keystroke. (Requests themselves always carry the
 * key of the moment.)
 */
export function useSettledApiKey(delayMs = 300): string {
  const key = useApiKey();
  const [settled, setSettled] = useState(key);
  useEffect(() => {
    if (key === settled) return;
    const timer = window.setTimeout(() => setSettled(key), delayMs);
    return () => window.clearTimeout(timer);
  }, [key, settled, delayMs]);
  return settled;
}

export const ROUTES = ['predict', 'pipeline', 'drift', 'models'] as const;
export type Route = (typeof ROUTES)[number];

export function routeFromHash(hash: string): Route {
  const name = hash.replace(/^#\/?/, '').split(/[/?]/)[0] ?? '';
  return (ROUTES as readonly string[]).includes(name) ? (name as Route) : 'predict';
}

function subscribeHash(listener: () => void): () => void {
  window.addEventListener('hashchange', listener);
  return () => window.removeEventListener('hashchange', listener);
}

/** The page the location hash names (#/predict by default). */
export function useHashRoute(): Route {
  return useSyncExternalStore(subscribeHash, () => routeFromHash(window.location.hash));
}

/** The latest value of `value`, readable from callbacks without re-subscribing. */
function useLatest<T>(value: T): { readonly current: T } {
  const ref = useRef(value);
  useLayoutEffect(() => {
    ref.current = value;
  });
  return ref;
}

/**
 * Follows an event stream while mounted (and reconnects when the API key changes):
 * delivers each `event` message's parsed data to `onMessage`.
 */
export function useEventStream(
  path: string,
  event: string,
  onMessage: (data: unknown) => void,
): { state: SseState; error: string | null } {
  const key = useSettledApiKey();
  const handler = useLatest(onMessage);
  const [status, setStatus] = useState<{ state: SseState; error: string | null }>({
    state: 'connecting',
    error: null,
  });
  useEffect(() => {
    const controller = new AbortController();
    void runSse({
      path,
      event,
      signal: controller.signal,
      onMessage: (data) => handler.current(data),
      onState: (state, error) => setStatus({ state, error }),
    });
    return () => controller.abort();
  }, [path, event, key, handler]);
  return status;
}

/**
 * Calls `callback` every `intervalMs` while the page is visible, and once at once when it
 * becomes visible again (a hidden tab does not poll).
 */
export function usePolling(callback: () => void, intervalMs: number): void {
  const latest = useLatest(callback);
  useEffect(() => {
    const tick = () => {
      if (document.visibilityState === 'visible') latest.current();
    };
    const timer = window.setInterval(tick, intervalMs);
    document.addEventListener('visibilitychange', tick);
    return () => {
      window.clearInterval(timer);
      document.removeEventListener('visibilitychange', tick);
    };
  }, [intervalMs, latest]);
}

export interface Loaded<T> {
  data: T | null;
  error: string | null;
  loading: boolean;
  reload: () => void;
}

/**
 * Loads `load()` on mount, whenever the (settled) API key or `deps` change, and on `reload()`; an
 * earlier load still running is aborted. A reload keeps the last data shown while it runs
 * (and if it fails); a new API key drops data loaded with the previous one.
 */
export function useLoad<T>(
  load: (signal: AbortSignal) => Promise<T>,
  deps: readonly unknown[] = [],
): Loaded<T> {
  const key = useSettledApiKey();
  const loader = useLatest(load);
  const [generation, setGeneration] = useState(0);
  const [state, setState] = useState<{
    key: string;
    data: T | null;
    error: string | null;
    loading: boolean;
  }>({ key, data: null, error: null, loading: true });
  useEffect(() => {
    const controller = new AbortController();
    setState((previous) =>
      previous.key === key
        ? { ...previous, loading: true }
        : { key, data: null, error: null, loading: true },
    );
    loader.current(controller.signal).then(
      (data) => {
        if (!controller.signal.aborted) setState({ key, data, error: null, loading: false });
      },
      (error: unknown) => {
        if (isAbort(error) || controller.signal.aborted) return;
        setState((previous) => ({ ...previous, key, error: messageOf(error), loading: false }));
      },
    );
    return () => controller.abort();
  }, [key, generation, loader, ...deps]);
  const reload = useCallback(() => setGeneration((value) => value + 1), []);
  const current = state.key === key;
  return {
    data: current ? state.data : null,
    error: current ? state.error : null,
    loading: current ? state.loading : true,
    reload,
  };
}
