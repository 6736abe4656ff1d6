/**
 * The gateway's plugins (services/gateway/routes/) on their own and composed by buildApp: the
 * logic each owns that the access and validation tests do not reach (load-shedding bounds,
 * readiness checks, the error handler and the raw 400, request metrics, the OpenAPI document),
 * and that a route plugin refuses to load without the security plugin guarding it.
 */
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createMetricsRegistry } from '#platform/common';
import type { ModelInfo, ScoredBatch } from '#domain/model';
import { buildApp } from '../../services/gateway/app.ts';
import type { PublisherStatus } from '../../services/gateway/publisher.ts';
import { errorHandlerPlugin } from '../../services/gateway/routes/errors.ts';
import { InFlightLimit } from '../../services/gateway/routes/load-shedding.ts';
import { modelRoutes } from '../../services/gateway/routes/model.ts';
import { opsRoutes } from '../../services/gateway/routes/ops.ts';
import { predictRoutes } from '../../services/gateway/routes/predict.ts';
import { reviewsRoutes } from '../../services/gateway/routes/reviews.ts';
import { securityPlugin } from '../../services/gateway/security.ts';
import { authHeaders, gatewayHarness, testSecurity } from '../support/gateway.ts';

const model = {
  name: 'sentiment',
  version: '7',
  labels: ['NEGATIVE', 'POSITIVE'],
  maxLength: 128,
  hiddenSize: 4,
} as unknown as ModelInfo;

const score = async (texts: readonly string[]): Promise<ScoredBatch> => ({
  model,
  results: texts.map(() => ({
    label: 'POSITIVE',
    labelIndex: 1,
    probabilities: [0.2, 0.8],
    confidence: 0.8,
    truncated: false,
    embedding: new Float32Array(4),
    tokens: 3,
  })),
});

const healthyPublisher: PublisherStatus = {
  buffered: 0,
  capacity: 10,
  kafkaAvailable: true,
  dropped: 0,
};

/** The shared plugins a route plugin relies on, and nothing else. */
async function bareApp(): Promise<FastifyInstance> {
  const app = Fastify();
  await app.register(errorHandlerPlugin);
  await app.register(securityPlugin, testSecurity());
  return app;
}

describe('InFlightLimit (load shedding)', () => {
  it('admits up to the bound inclusive, refuses past it, and takes back what is released', () => {
    const limit = new InFlightLimit(4);
    expect(limit.tryAcquire(3)).toBe(true);
    expect(limit.tryAcquire(2)).toBe(false);
    // A refusal takes nothing.
    expect(limit.inFlight).toBe(3);
    expect(limit.tryAcquire(1)).toBe(true);
    expect(limit.inFlight).toBe(4);
    limit.release(3);
    expect(limit.tryAcquire(3)).toBe(true);
    // One request larger than the bound is refused even with nothing in flight.
    expect(new InFlightLimit(4).tryAcquire(5)).toBe(false);
  });

  it('is unbounded without a bound', () => {
    const limit = new InFlightLimit();
    expect(limit.tryAcquire(1e9)).toBe(true);
    expect(limit.tryAcquire(1e9)).toBe(true);
  });
});

describe('route plugins on their own', () => {
  it('refuse to load without the security plugin (their scopes would guard nothing)', async () => {
    const alone = Fastify();
    await alone.register(errorHandlerPlugin);
    await expect(alone.register(modelRoutes, { model: () => model })).rejects.toThrow(
      /gateway-security/,
    );
    const noErrors = Fastify();
    await noErrors.register(securityPlugin, testSecurity());
    await expect(
      noErrors.register(opsRoutes, {
        model: () => model,
        kafkaConnected: () => true,
        publisherStatus: () => healthyPublisher,
        metrics: createMetricsRegistry('plugins-test'),
      }),
    ).rejects.toThrow(/gateway-errors/);
  });

  it('/ready: each check on its own makes the gateway not ready', async () => {
    let status: PublisherStatus = healthyPublisher;
    let connected = true;
    let current: ModelInfo | undefined = model;
    const app = await bareApp();
    await app.register(opsRoutes, {
      model: () => current,
      kafkaConnected: () => connected,
      publisherStatus: () => status,
      metrics: createMetricsRegistry('plugins-test'),
    });
    const ready = await app.inject('/ready');
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({
      ready: true,
      checks: { model: true, kafka: true, publishBuffer: true },
      publisher: healthyPublisher,
      model: '7',
    });

    status = { ...healthyPublisher, buffered: 10 };
    const full = await app.inject('/ready');
    expect(full.statusCode).toBe(503);
    expect(full.json().checks).toEqual({ model: true, kafka: true, publishBuffer: false });

    status = { ...healthyPublisher, kafkaAvailable: false };
    expect((await app.inject('/ready')).json().checks.kafka).toBe(false);
    status = healthyPublisher;
    connected = false;
    expect((await app.inject('/ready')).json().checks.kafka).toBe(false);

    connected = true;
    current = undefined;
    const noModel = await app.inject('/ready');
    expect(noModel.statusCode).toBe(503);
    expect(noModel.json()).toMatchObject({ ready: false, model: null });
    await app.close();
  });

  it('/v1/model answers 503 MODEL_NOT_READY until a model is loaded, then describes it', async () => {
    let current: ModelInfo | undefined = undefined;
    const app = await bareApp();
    await app.register(modelRoutes, { model: () => current });
    const notReady = await app.inject({ url: '/v1/model', headers: authHeaders('predict') });
    expect(notReady.statusCode).toBe(503);
    expect(notReady.json().code).toBe('MODEL_NOT_READY');
    current = model;
    const served = await app.inject({ url: '/v1/model', headers: authHeaders('predict') });
    expect(served.json()).toEqual({
      name: 'sentiment',
      version: '7',
      labels: ['NEGATIVE', 'POSITIVE'],
      max_length: 128,
      hidden_size: 4,
    });
    await app.close();
  });

  it('/v1/reviews: 503 KAFKA_UNAVAILABLE with Retry-After when Kafka refuses, and the bound is given back', async () => {
    let kafkaUp = false;
    const app = await bareApp();
    await app.register(reviewsRoutes, {
      publishReviews: async () => {
        if (!kafkaUp) throw new Error('KafkaJSConnectionError');
      },
      limits: { maxTexts: 8, maxTextBytes: 1_000 },
      // Room for one batch of 2: a bound not given back after the failure would refuse the next.
      maxReviewsInFlight: 2,
      now: () => 0,
    });
    const request = {
      method: 'POST',
      url: '/v1/reviews',
      headers: authHeaders('submit'),
      payload: { reviews: [{ text: 'fine' }, { text: 'dull' }] },
    } as const;
    const refused = await app.inject(request);
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['retry-after']).toBe('5');
    expect(refused.json()).toEqual({
      statusCode: 503,
      error: 'Service Unavailable',
      code: 'KAFKA_UNAVAILABLE',
      message: 'reviews could not be published; retry later',
    });
    kafkaUp = true;
    expect((await app.inject(request)).statusCode).toBe(202);
    await app.close();
  });
});

describe('buildApp composition', () => {
  it('answers an unexpected failure with the error shape (500), logs it, frees the bound', async () => {
    const lines: string[] = [];
    const logger = pino(
      { level: 'error' },
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(chunk.toString());
          done();
        },
      }),
    );
    let failures = 1;
    const harness = gatewayHarness(async (texts) => {
      if (failures-- > 0) throw new Error('model worker died');
      return score(texts);
    }, model);
    const app = await buildApp({
      ...harness.deps,
      logger,
      // Room for one text: the failed request must give its text back.
      limits: { ...harness.deps.limits, maxTextsInFlight: 1 },
    });
    const request = {
      method: 'POST',
      url: '/v1/predict',
      headers: authHeaders(),
      payload: { texts: ['fine'] },
    } as const;
    const failed = await app.inject(request);
    expect(failed.statusCode).toBe(500);
    expect(failed.json()).toEqual({
      statusCode: 500,
      error: 'Internal Server Error',
      code: 'ERROR',
      message: 'model worker died',
    });
    expect(lines.map((line) => JSON.parse(line).msg)).toContain('request failed');
    expect(harness.publishedPredictions).toEqual([]);
    expect((await app.inject(request)).statusCode).toBe(200);
    await app.close();
  });

  it('answers a request the HTTP parser refuses with the JSON 400 and closes', async () => {
    const app = await buildApp(gatewayHarness(score, model).deps);
    const url = new URL(await app.listen({ host: '127.0.0.1', port: 0 }));
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(url.port), '127.0.0.1');
      let data = '';
      socket.on('data', (chunk: Buffer) => (data += chunk.toString()));
      socket.on('close', () => resolve(data));
      socket.on('error', reject);
      socket.write('GET /health HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n');
    });
    await app.close();
    const [head, body] = raw.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(head).toMatch(/\r\nConnection: close$/);
    expect(head).toContain(`Content-Length: ${Buffer.byteLength(body!)}`);
    expect(JSON.parse(body!)).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      code: 'BAD_REQUEST',
      message: 'malformed HTTP request',
    });
  });

  it('counts requests by route pattern and status, and texts scored', async () => {
    const harness = gatewayHarness(score, model);
    const app = await buildApp(harness.deps);
    await app.inject({
      method: 'POST',
      url: '/v1/predict',
      headers: authHeaders(),
      payload: { texts: ['fine', 'dull', 'long'] },
    });
    await app.inject({ method: 'POST', url: '/v1/predict', payload: { texts: ['x'] } });
    await app.inject('/no/such/route');
    const text = (await app.inject('/metrics')).body;
    /** The value of the series `name` whose labels include `labels` (in any order). */
    const series = (name: string, labels: Record<string, string> = {}) =>
      text
        .split('\n')
        .filter((line) => line.startsWith(`${name}{`))
        .find((line) =>
          Object.entries(labels).every(([label, value]) => line.includes(`${label}="${value}"`)),
        )
        ?.split(' ')[1];
    expect(series('gateway_requests_total', { route: '/v1/predict', status: '200' })).toBe('1');
    expect(series('gateway_requests_total', { route: '/v1/predict', status: '401' })).toBe('1');
    // Unmatched URLs share one label value: clients cannot grow the series without bound.
    expect(series('gateway_requests_total', { route: 'unknown', status: '404' })).toBe('1');
    expect(text).not.toContain('/no/such/route');
    expect(series('gateway_texts_scored_total')).toBe('3');
    expect(series('gateway_request_duration_seconds_count', { route: '/v1/predict' })).toBe('2');
    await app.close();
  });

  it('documents every route but /metrics, in order, with its error statuses', async () => {
    const app = await buildApp(gatewayHarness(score, model).deps);
    const document = (await app.inject('/docs/json')).json();
    expect(Object.keys(document.paths)).toEqual([
      '/v1/predict',
      '/v1/reviews',
      '/v1/model',
      '/health',
      '/ready',
    ]);
    const responses = (path: string, method: string) =>
      Object.keys(document.paths[path][method].responses);
    expect(responses('/v1/predict', 'post')).toEqual([
      '200',
      '400',
      '401',
      '403',
      '413',
      '415',
      '429',
      '503',
    ]);
    expect(responses('/v1/reviews', 'post')).toEqual([
      '202',
      '400',
      '401',
      '403',
      '413',
      '415',
      '429',
      '503',
    ]);
    expect(responses('/v1/model', 'get')).toEqual(['200', '400', '401', '403', '429', '503']);
    expect(responses('/ready', 'get')).toEqual(['200', '400', '503']);
    for (const [path, method] of [
      ['/v1/predict', 'post'],
      ['/v1/reviews', 'post'],
      ['/v1/model', 'get'],
    ] as const) {
      expect(document.paths[path][method].security, path).toEqual([{ apiKey: [] }]);
    }
    expect(document.paths['/health'].get.security).toBeUndefined();
    expect(document.components.securitySchemes.apiKey).toMatchObject({ scheme: 'bearer' });
    // Each route has its own security list: a shared one shows as YAML anchors and aliases.
    expect((await app.inject('/docs/yaml')).body).not.toMatch(/[&*]a\d/);
    await app.close();
  });

  it('keeps route plugins apart: each app has its own load-shedding bound', async () => {
    let release: () => void = () => undefined;
    const stuck = new Promise<void>((resolve) => (release = resolve));
    const slowScore = async (texts: readonly string[]) => {
      await stuck;
      return score(texts);
    };
    const build = async () => {
      const harness = gatewayHarness(slowScore, model);
      return buildApp({ ...harness.deps, limits: { ...harness.deps.limits, maxTextsInFlight: 2 } });
    };
    const [first, second] = [await build(), await build()];
    const predict = { method: 'POST', url: '/v1/predict', headers: authHeaders() } as const;
    const waiting = first.inject({ ...predict, payload: { texts: ['a', 'b'] } });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const shed = await first.inject({ ...predict, payload: { texts: ['c'] } });
    // The second app's bound is untouched by the texts the first one holds.
    const other = second.inject({ ...predict, payload: { texts: ['c', 'd'] } });
    await new Promise((resolve) => setTimeout(resolve, 20));
    release();
    expect(shed.statusCode).toBe(503);
    expect((await waiting).statusCode).toBe(200);
    expect((await other).statusCode).toBe(200);
    await first.close();
    await second.close();
  });

  it('registers predictRoutes with its own options (no buildApp needed)', async () => {
    const harness = gatewayHarness(score, model);
    const app = await bareApp();
    await app.register(predictRoutes, {
      score,
      model: () => model,
      publishPredictions: (events) => harness.publishedPredictions.push(...events),
      modelName: 'served-name',
      limits: { maxTexts: 2, maxTextBytes: 100 },
      metrics: createMetricsRegistry('plugins-test'),
      now: () => 1_234,
    });
    const response = await app.inject({
      method: 'POST',
      url: '/v1/predict',
      headers: authHeaders('predict'),
      payload: { texts: ['fine'] },
    });
    expect(response.json().model).toEqual({ name: 'served-name', version: '7' });
    expect(harness.publishedPredictions).toHaveLength(1);
    expect(harness.publishedPredictions[0]!.value).toMatchObject({
      modelName: 'served-name',
      modelVersion: '7',
      origin: 'SYNC',
      text: 'fine',
      eventTime: 1_234,
    });
    const tooMany = await app.inject({
      method: 'POST',
      url: '/v1/predict',
      headers: authHeaders('predict'),
      payload: { texts: ['a', 'b', 'c'] },
    });
    expect(tooMany.statusCode).toBe(400);
    await app.close();
  });
});
