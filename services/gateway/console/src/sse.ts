/**
 * Server-sent events over fetch: EventSource cannot send an Authorization header, so this
 * reads `text/event-stream` from a ReadableStream, parses `event:` / `data:` / `id:` /
 * `retry:` lines (https://html.spec.whatwg.org/multipage/server-sent-events.html), and
 * reconnects with exponential backoff (sending Last-Event-ID) until its signal aborts. A
 * connection silent for longer than idleTimeoutMs (the gateway sends a `: ping` every 15 s) is
 * taken for dead and replaced.
 */
import { authHeaders, errorFromResponse, isAbort, messageOf, networkError } from './api.ts';

export interface SseMessage {
  event: string;
  data: string;
  id: string | null;
}

/** Incremental parser: push decoded text, get the messages it completes. */
export class SseParser {
  private buffer = '';
  private event = '';
  private data: string[] = [];
  /** The last event id seen (kept across messages, as the spec says). */
  lastEventId: string | null = null;
  /** A `retry:` the server asked for, in milliseconds. */
  retryMs: number | null = null;

  push(text: string): SseMessage[] {
    this.buffer += text;
    const messages: SseMessage[] = [];
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.buffer);
      if (match === null) break;
      // A lone \r at the end may be the first half of \r\n: wait for more text.
      if (match[0] === '\r' && match.index === this.buffer.length - 1) break;
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      const message = this.line(line);
      if (message !== null) messages.push(message);
    }
    return messages;
  }

  private line(line: string): SseMessage | null {
    if (line === '') {
      const message =
        this.data.length > 0
          ? { event: this.event || 'message', data: this.data.join('\n'), id: this.lastEventId }
          : null;
      this.event = '';
      this.data = [];
      return message;
    }
    if (line.startsWith(':')) return null;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.event = value;
        break;
      case 'data':
        this.data.push(value);
        break;
      case 'id':
        if (!value.includes('\0')) this.lastEventId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
    }
    return null;
  }
}

export type SseState = 'connecting' | 'live' | 'reconnecting';

export interface SseOptions {
  path: string;
  /** Only messages of this event name are delivered. */
  event: string;
  onMessage: (data: unknown) => void;
  /** State changes; `error` says why the last attempt failed. */
  onState: (state: SseState, error: string | null) => void;
  signal: AbortSignal;
  minDelayMs?: number;
  maxDelayMs?: number;
  /** Default 45000: three missed heartbeats. */
  idleTimeoutMs?: number;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = window.setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      window.clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}

/** Reads the stream until `signal` aborts; never throws. */
export async function runSse(options: SseOptions): Promise<void> {
  const { signal, minDelayMs = 1000, maxDelayMs = 30_000, idleTimeoutMs = 45_000 } = options;
  const parser = new SseParser();
  let failures = 0;
  let first = true;
  let error: string | null = null;
  while (!signal.aborted) {
    options.onState(first ? 'connecting' : 'reconnecting', error);
    first = false;
    // Aborted when the page goes away (signal) or the connection falls silent (watchdog).
    const connection = new AbortController();
    const stopFollowing = () => connection.abort();
    signal.addEventListener('abort', stopFollowing, { once: true });
    let watchdog: number | undefined;
    let silent = false;
    const arm = () => {
      window.clearTimeout(watchdog);
      watchdog = window.setTimeout(() => {
        silent = true;
        connection.abort();
      }, idleTimeoutMs);
    };
    try {
      const headers: Record<string, string> = {
        accept: 'text/event-stream',
        ...authHeaders(),
      };
      if (parser.lastEventId !== null) headers['last-event-id'] = parser.lastEventId;
      let response: Response;
      try {
        arm();
        response = await fetch(options.path, {
          headers,
          signal: connection.signal,
          cache: 'no-store',
        });
      } catch (fetchError) {
        throw networkError(fetchError);
      }
      if (!response.ok) throw await errorFromResponse(response);
      if (response.body === null) throw new Error('the event stream has no body');
      error = null;
      options.onState('live', null);
      failures = 0;
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          arm();
          for (const message of parser.push(value)) {
            if (message.event !== options.event) continue;
            let data: unknown;
            try {
              data = JSON.parse(message.data);
            } catch {
              continue; // A malformed message is skipped, not fatal.
            }
            options.onMessage(data);
          }
        }
      } finally {
        reader.releaseLock();
      }
      error = 'the server closed the stream';
    } catch (caught) {
      if (signal.aborted) return;
      error = silent
        ? `no data for ${Math.round(idleTimeoutMs / 1000)} s`
        : isAbort(caught)
          ? 'the connection was aborted'
          : messageOf(caught);
    } finally {
      window.clearTimeout(watchdog);
      signal.removeEventListener('abort', stopFollowing);
    }
    failures += 1;
    const base = parser.retryMs ?? minDelayMs;
    const delay = Math.min(maxDelayMs, base * 2 ** Math.min(failures - 1, 10));
    options.onState('reconnecting', error);
    await sleep(delay * (0.8 + Math.random() * 0.4), signal);
  }
}
