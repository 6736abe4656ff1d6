/**
 * openSse (services/gateway/console-api/sse.ts) on a real Fastify server read with fetch, as
 * the console reads it: headers, the retry line, event framing, heartbeats, the end of the
 * stream from either side, and dropping events for a client that does not read.
 */
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type SseOptions,
  type SseStream,
  SseFieldError,
  openSse,
} from '../../services/gateway/console-api/sse.ts';

interface Served {
  readonly url: string;
  /** The stream the route opened for the latest request. */
  stream(): Promise<SseStream>;
  readonly closes: { count: number };
}

const apps: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

/** An app with GET /events opening a stream, and a header set before it, as helmet would. */
async function serve(
  options: Omit<SseOptions, 'onClose'> = {},
  beforeOpen: () => Promise<void> = async () => {},
): Promise<Served> {
  const app = Fastify();
  apps.push(app);
  const closes = { count: 0 };
  let opened: (stream: SseStream) => void = () => {};
  let next = new Promise<SseStream>((resolve) => (opened = resolve));
  app.addHook('onRequest', async (_request, reply) => {
    reply.header('x-content-type-options', 'nosniff');
  });
  app.get('/events', async (request, reply) => {
    await beforeOpen();
    const stream = openSse(request, reply, { ...options, onClose: () => (closes.count += 1) });
    opened(stream);
    return reply;
  });
  // Open streams would keep app.close() waiting.
  app.addHook('preClose', async () => app.server.closeAllConnections());
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/events`,
    closes,
    stream: async () => {
      const stream = await next;
      next = new Promise<SseStream>((resolve) => (opened = resolve));
      return stream;
    },
  };
}

/** Reads a response body as text, on demand. */
function textReader(response: Response) {
  if (response.body === null) throw new Error('no body');
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  return {
    reader,
    /** Reads until the text so far satisfies `done`; returns all of it and forgets it. */
    async until(done: (text: string) => boolean): Promise<string> {
      while (!done(text)) {
        const { value, done: ended } = await reader.read();
        if (ended) throw new Error(`stream ended after ${JSON.stringify(text)}`);
        text += value;
      }
      const read = text;
      text = '';
      return read;
    },
  };
}

describe('openSse', () => {
  it('answers 200 text/event-stream with the headers so far, a retry line and framed events', async () => {
    const served = await serve();
    const response = await fetch(served.url);
    const stream = await served.stream();
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    expect(response.headers.get('cache-control')).toBe('no-cache');
    expect(response.headers.get('x-accel-buffering')).toBe('no');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');

    const body = textReader(response);
    expect(await body.until((text) => text.endsWith('\n\n'))).toBe('retry: 3000\n\n');

    expect(stream.send('pipeline', { topic: 'reviews', note: 'two\nlines' }, '42')).toBe(true);
    expect(await body.until((text) => text.endsWith('\n\n'))).toBe(
      'event: pipeline\nid: 42\ndata: {"topic":"reviews","note":"two\\nlines"}\n\n',
    );
    expect(stream.send('pipeline', [1, 2])).toBe(true);
    expect(stream.send('tick', undefined)).toBe(true);
    expect(await body.until((text) => text.split('\n\n').length === 3)).toBe(
      'event: pipeline\ndata: [1,2]\n\nevent: tick\ndata: null\n\n',
    );
    expect(stream.closed).toBe(false);
    expect(stream.dropped).toBe(0);

    stream.close();
  });

  it('sends the retry it is given and a heartbeat comment every heartbeatMs', async () => {
    const served = await serve({ heartbeatMs: 30, retryMs: 1_500 });
    const response = await fetch(served.url);
    const body = textReader(response);
    expect(await body.until((text) => text.split(': ping\n\n').length === 3)).toBe(
      'retry: 1500\n\n: ping\n\n: ping\n\n',
    );
    (await served.stream()).close();
  });

  it('calls onClose once when the client goes away; sends after it are refused', async () => {
    const served = await serve();
    const abort = new AbortController();
    const response = await fetch(served.url, { signal: abort.signal });
    const stream = await served.stream();
    await textReader(response).until((text) => text.startsWith('retry:'));
    abort.abort();
    await vi.waitFor(() => expect(served.closes.count).toBe(1));
    expect(stream.closed).toBe(true);
    expect(stream.send('pipeline', {})).toBe(false);
    stream.close();
    expect(served.closes.count).toBe(1);
  });

  it('starts closed, onClose called, when the client left before the stream opened', async () => {
    let clientGone: () => void = () => {};
    const gone = new Promise<void>((resolve) => (clientGone = resolve));
    const served = await serve({}, () => gone);
    const abort = new AbortController();
    const request = fetch(served.url, { signal: abort.signal }).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 50));
    abort.abort();
    await request;
    await new Promise((resolve) => setTimeout(resolve, 50));
    clientGone();
    const stream = await served.stream();
    expect(stream.closed).toBe(true);
    expect(served.closes.count).toBe(1);
    expect(stream.send('pipeline', {})).toBe(false);
  });

  it('close() ends the response and calls onClose once', async () => {
    const served = await serve();
    const response = await fetch(served.url);
    const stream = await served.stream();
    const body = textReader(response);
    await body.until((text) => text.startsWith('retry:'));
    stream.send('pipeline', { last: true });
    stream.close();
    stream.close();
    expect(stream.closed).toBe(true);
    expect(served.closes.count).toBe(1);
    expect(await body.until((text) => text.endsWith('\n\n'))).toBe(
      'event: pipeline\ndata: {"last":true}\n\n',
    );
    expect((await body.reader.read()).done).toBe(true);
    // The response's own 'close' after end() is no second call.
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(served.closes.count).toBe(1);
    expect(stream.send('pipeline', {})).toBe(false);
  });

  it('refuses an event name or id that would break the framing', async () => {
    const served = await serve();
    const response = await fetch(served.url);
    const stream = await served.stream();
    expect(() => stream.send('pipe\nline', {})).toThrow(SseFieldError);
    expect(() => stream.send('pipeline', {}, 'a\rb')).toThrow(SseFieldError);
    expect(() => stream.send('pipeline', {}, 'a\0b')).toThrow(SseFieldError);
    stream.close();
    await response.body?.cancel();
  });

  it('drops events while the socket buffer is full, and writes again after it drains', async () => {
    const served = await serve();
    const response = await fetch(served.url);
    const stream = await served.stream();
    const body = textReader(response);
    await body.until((text) => text.startsWith('retry:'));

    // The client reads nothing: the first refused send marks the full buffer.
    const payload = 'x'.repeat(64 * 1024);
    let written = 0;
    while (stream.send('pipeline', payload)) {
      written += 1;
      if (written > 2_000) throw new Error('the socket buffer never filled');
    }
    expect(stream.dropped).toBe(1);
    expect(stream.send('pipeline', payload)).toBe(false);
    expect(stream.dropped).toBe(2);

    // Everything written arrives, nothing queued past it; then writes resume.
    const event = `event: pipeline\ndata: ${JSON.stringify(payload)}\n\n`;
    const read = await body.until((text) => text.length >= written * event.length);
    expect(read).toBe(event.repeat(written));
    await vi.waitFor(() => expect(stream.send('pipeline', 'after drain')).toBe(true));
    expect(await body.until((text) => text.endsWith('\n\n'))).toBe(
      'event: pipeline\ndata: "after drain"\n\n',
    );
    stream.close();
  });
});
