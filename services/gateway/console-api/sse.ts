/**
 * Server-sent events from a Fastify route
 * (https://html.spec.whatwg.org/multipage/server-sent-events.html). The console reads them with
 * fetch (console/src/sse.ts), since EventSource cannot send an Authorization header.
 *
 * Usage: `const stream = openSse(request, reply, { onClose }); ...; return reply;` — the reply
 * is hijacked, so Fastify's serializers, onSend hooks and error handler no longer apply to it:
 * authenticate and validate before opening the stream. Open streams hold their connections, so
 * whoever opens them closes them on shutdown (Fastify waits for them otherwise).
 */
import type { OutgoingHttpHeaders } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '#platform/common';

export const SSE_HEARTBEAT_MS = 15_000;
export const SSE_RETRY_MS = 3_000;

export interface SseOptions {
  /** Time between `: ping` comments, which keep proxies from closing an idle stream; default 15000. */
  readonly heartbeatMs?: number;
  /** The reconnection delay the client is asked to use (`retry:`); default 3000. */
  readonly retryMs?: number;
  /** Called once, when the client goes away or close() is called. */
  readonly onClose?: () => void;
}

export interface SseStream {
  /**
   * Writes one event: `event: <event>`, `id: <id>` when given, and `data: ` with `data` as one
   * line of JSON. Returns false when the event was not written: the stream is closed, or the
   * socket's buffer is full (the event is dropped and counted in `dropped`). An event name or
   * id with a line break (or an id with NUL) would corrupt the framing and throws, as does
   * data JSON.stringify refuses (a BigInt, a cycle).
   */
  send(event: string, data: unknown, id?: string): boolean;
  /** Ends the response; idempotent. */
  close(): void;
  readonly closed: boolean;
  /** Events dropped because the client read too slowly. */
  readonly dropped: number;
}

/**
 * Hijacks the reply and answers 200 `text/event-stream` (no caching, no proxy buffering) with
 * the headers set so far (helmet's, CORS's) and a `retry:` line; then heartbeats every
 * heartbeatMs until the client goes away or close() is called, when onClose runs once.
 *
 * A slow client is not buffered for without bound: once a write fills the socket's buffer
 * (write returns false), events are dropped until the buffer drains, and the first event after
 * the drain is written again. Events carry whole snapshots, so a dropped one is superseded by
 * the next.
 */
export function openSse(
  request: FastifyRequest,
  reply: FastifyReply,
  options: SseOptions = {},
): SseStream {
  const heartbeatMs = positiveInteger(options.heartbeatMs ?? SSE_HEARTBEAT_MS, 'heartbeatMs');
  const retryMs = positiveInteger(options.retryMs ?? SSE_RETRY_MS, 'retryMs');
  const response = reply.raw;

  reply.hijack();
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(reply.getHeaders())) {
    if (value !== undefined) headers[name] = value;
  }
  // A stream has no length, and what a route set for its JSON does not apply.
  delete headers['content-length'];
  Object.assign(headers, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    'x-accel-buffering': 'no', // nginx would otherwise buffer the stream
  });
  response.writeHead(200, headers);

  let closed = false;
  let blocked = false;
  let dropped = 0;

  const write = (text: string): boolean => {
    if (!response.write(text)) {
      blocked = true;
      response.once('drain', () => {
        blocked = false;
      });
      return false;
    }
    return true;
  };

  const heartbeat = setInterval(() => {
    // A full buffer needs no heartbeat: the connection is anything but idle.
    if (!closed && !blocked) write(': ping\n\n');
  }, heartbeatMs);
  heartbeat.unref();

  const finish = () => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    if (dropped > 0) request.log.info({ dropped }, 'event stream dropped events for a slow client');
    options.onClose?.();
  };
  // The response's 'close' comes after end(), and when the client goes away before it (a socket
  // error included).
  response.once('close', finish);
  // A client gone while the route was still deciding (an awaited hook) closed before the
  // listener above: the stream starts closed, and the route sees `closed` after onClose.
  if (response.destroyed || request.raw.socket.destroyed) finish();

  if (!closed) write(`retry: ${retryMs}\n\n`);

  return {
    send(event, data, id) {
      checkField('event', event);
      if (id !== undefined) {
        checkField('id', id);
        if (id.includes('\0')) throw new SseFieldError('id', id);
      }
      if (closed || response.destroyed) return false;
      if (blocked) {
        dropped += 1;
        return false;
      }
      // JSON.stringify escapes line breaks inside strings, so the data is one line.
      const json = JSON.stringify(data) ?? 'null';
      const idLine = id === undefined ? '' : `id: ${id}\n`;
      write(`event: ${event}\n${idLine}data: ${json}\n\n`);
      return true;
    },
    close() {
      if (closed) return;
      finish();
      response.end();
    },
    get closed() {
      return closed;
    },
    get dropped() {
      return dropped;
    },
  };
}

/** An event name or id that would break the stream's line framing. */
export class SseFieldError extends AppError {
  constructor(field: 'event' | 'id', value: string) {
    super(
      'SSE_FIELD_INVALID',
      `SSE ${field} ${JSON.stringify(value)} contains a line break or NUL`,
    );
  }
}

function checkField(field: 'event' | 'id', value: string): void {
  if (/[\r\n]/.test(value)) throw new SseFieldError(field, value);
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value <= 0) {
    throw new AppError('SSE_OPTION_INVALID', `${name} must be a positive integer, not ${value}`);
  }
  return value;
}
