/**
 * The gateway's access controls through app.inject: each attack of issue 12 on the HTTP API
 * (anonymous writes, anonymous labels, over-limit writes, a flood of reviews Kafka cannot take),
 * refused with the status and code a client can act on.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ModelInfo, ScoredBatch } from '#domain/model';
import {
  ApiKeyRing,
  createApiKey,
  hashApiKey,
  parseApiKeys,
} from '../../services/gateway/api-keys.ts';
import { buildApp } from '../../services/gateway/app.ts';
import type { SecurityOptions } from '../../services/gateway/security.ts';
import { authHeaders, gatewayHarness, testSecurity } from '../support/gateway.ts';

const model = {
  name: 'sentiment',
  version: '1',
  labels: ['NEGATIVE', 'POSITIVE'],
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

async function gateway(security: Partial<SecurityOptions> = {}, publish?: () => Promise<void>) {
  const harness = gatewayHarness(score, model);
  const app = await buildApp({
    ...harness.deps,
    ...(publish ? { publishReviews: publish } : {}),
    security: testSecurity(security),
  });
  return { app, harness };
}

const predict = {
  method: 'POST',
  url: '/v1/predict',
  payload: { texts: ['a fine film'] },
} as const;
const submit = {
  method: 'POST',
  url: '/v1/reviews',
  payload: { reviews: [{ text: 'fine' }] },
} as const;
const label = {
  method: 'POST',
  url: '/v1/reviews',
  payload: { reviews: [{ text: 'fine', ground_truth: 'POSITIVE' }] },
} as const;

describe('gateway access control', () => {
  it('refuses anonymous predictions and writes with 401 and a reason', async () => {
    const { app, harness } = await gateway();
    for (const request of [predict, submit, label]) {
      const response = await app.inject(request);
      expect(response.statusCode, request.url).toBe(401);
      expect(response.json().code).toBe('API_KEY_REQUIRED');
      expect(response.headers['www-authenticate']).toMatch(/^Bearer/);
    }
    expect(harness.publishedReviews).toEqual([]);
    await app.close();
  });

  it('anonymous prediction when configured (local stack), still no anonymous writes', async () => {
    const { app } = await gateway({ anonymousPredict: true });
    expect((await app.inject(predict)).statusCode).toBe(200);
    expect((await app.inject(submit)).statusCode).toBe(401);
    await app.close();
  });

  it('a presented key that is wrong is 401, never anonymous', async () => {
    const { app } = await gateway({ anonymousPredict: true });
    const forged = `smk_00000000_${'A'.repeat(43)}`;
    for (const authorization of [`Bearer ${forged}`, 'Bearer not-a-key']) {
      const response = await app.inject({ ...predict, headers: { authorization } });
      expect(response.statusCode).toBe(401);
      expect(response.json().code).toBe('API_KEY_INVALID');
    }
    await app.close();
  });

  it('scopes: predict keys cannot write, submit keys cannot label, labellers can', async () => {
    const { app, harness } = await gateway();
    expect((await app.inject({ ...predict, headers: authHeaders('predict') })).statusCode).toBe(
      200,
    );
    const write = await app.inject({ ...submit, headers: authHeaders('predict') });
    expect(write.statusCode).toBe(403);
    expect(write.json().code).toBe('SCOPE_MISSING');
    expect((await app.inject({ ...submit, headers: authHeaders('submit') })).statusCode).toBe(202);
    const poisoned = await app.inject({ ...label, headers: authHeaders('submit') });
    expect(poisoned.statusCode).toBe(403);
    expect(poisoned.json().message).toMatch(/scope label/);
    expect((await app.inject({ ...label, headers: authHeaders('labeller') })).statusCode).toBe(202);
    expect(harness.publishedReviews.map((r) => r.value.groundTruth)).toEqual([null, 'POSITIVE']);
    // X-API-Key works as well as the bearer header.
    const viaHeader = await app.inject({
      ...predict,
      headers: { 'x-api-key': authHeaders('admin').authorization!.slice(7) },
    });
    expect(viaHeader.statusCode).toBe(200);
    await app.close();
  });

  it('rate limits per key: 429 with Retry-After over the limit, other keys unaffected', async () => {
    const { app } = await gateway({ rateLimitPerMinute: 3 });
    const codes: number[] = [];
    for (let i = 0; i < 5; i++) {
      codes.push((await app.inject({ ...predict, headers: authHeaders('predict') })).statusCode);
    }
    expect(codes).toEqual([200, 200, 200, 429, 429]);
    const limited = await app.inject({ ...predict, headers: authHeaders('predict') });
    expect(limited.json().code).toBe('RATE_LIMITED');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect((await app.inject({ ...predict, headers: authHeaders('admin') })).statusCode).toBe(200);
    await app.close();
  });

  it('answers 503 with Retry-After when too many reviews wait for Kafka', async () => {
    let release: () => void = () => undefined;
    const stuck = new Promise<void>((resolve) => (release = resolve));
    const { app } = await gateway({}, () => stuck);
    const many = { method: 'POST', url: '/v1/reviews', headers: authHeaders('submit') } as const;
    const first = app.inject({
      ...many,
      payload: { reviews: Array.from({ length: 8 }, (_, i) => ({ text: `review ${i}` })) },
    });
    // The harness allows 1,000 reviews in flight: fill it, then one more batch is refused.
    const fillers = Array.from({ length: 124 }, () =>
      app.inject({
        ...many,
        payload: { reviews: Array.from({ length: 8 }, (_, i) => ({ text: `review ${i}` })) },
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    const refused = await app.inject({ ...many, payload: { reviews: [{ text: 'one more' }] } });
    expect(refused.statusCode).toBe(503);
    expect(refused.json().code).toBe('OVERLOADED');
    expect(refused.headers['retry-after']).toBe('1');
    release();
    expect((await first).statusCode).toBe(202);
    expect(new Set((await Promise.all(fillers)).map((r) => r.statusCode))).toEqual(new Set([202]));
    await app.close();
  });

  it('sheds /v1/predict load with 503 and Retry-After past maxTextsInFlight', async () => {
    let release: () => void = () => undefined;
    const stuck = new Promise<void>((resolve) => (release = resolve));
    const harness = gatewayHarness(async (texts) => {
      await stuck;
      return score(texts);
    }, model);
    const app = await buildApp({
      ...harness.deps,
      limits: { ...harness.deps.limits, maxTextsInFlight: 4 },
    });
    const request = (n: number) =>
      app.inject({
        method: 'POST',
        url: '/v1/predict',
        headers: authHeaders('predict'),
        payload: { texts: Array.from({ length: n }, (_, i) => `text ${i}`) },
      });
    const waiting = request(3);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const shed = await request(2);
    expect(shed.statusCode).toBe(503);
    expect(shed.json().code).toBe('OVERLOADED');
    expect(shed.headers['retry-after']).toBe('1');
    release();
    expect((await waiting).statusCode).toBe(200);
    // The capacity is back once the batch is answered.
    expect((await request(4)).statusCode).toBe(200);
    await app.close();
  });

  it('sends security headers; CORS closed unless origins are configured', async () => {
    const closed = await gateway();
    const response = await closed.app.inject({
      ...predict,
      headers: { ...authHeaders(), origin: 'https://evil.example' },
    });
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['content-security-policy']).toMatch(/default-src 'self'/);
    expect(response.headers['access-control-allow-origin']).toBeUndefined();
    await closed.app.close();
    const open = await gateway({ corsOrigins: ['https://console.example'] });
    const allowed = await open.app.inject({
      ...predict,
      headers: { ...authHeaders(), origin: 'https://console.example' },
    });
    expect(allowed.headers['access-control-allow-origin']).toBe('https://console.example');
    await open.app.close();
  });

  it('/metrics: loopback clients and admin keys only', async () => {
    const { app } = await gateway();
    expect((await app.inject('/metrics')).statusCode).toBe(200);
    const remote = { url: '/metrics', remoteAddress: '203.0.113.9' } as const;
    expect((await app.inject(remote)).statusCode).toBe(401);
    expect((await app.inject({ ...remote, headers: authHeaders('predict') })).statusCode).toBe(403);
    expect((await app.inject({ ...remote, headers: authHeaders('admin') })).statusCode).toBe(200);
    await app.close();
  });
});

describe('API keys', () => {
  it('stores only the hash; a key file is re-read when it changes (rotation, revocation)', () => {
    const folder = mkdtempSync(join(tmpdir(), 'api-keys-'));
    const path = join(folder, 'keys.json');
    const first = createApiKey('first', ['predict']);
    expect(first.record.sha256).toBe(hashApiKey(first.key));
    expect(JSON.stringify(first.record)).not.toContain(first.key.split('_')[2]);
    writeFileSync(path, JSON.stringify({ keys: [first.record] }));
    let clock = 0;
    const ring = ApiKeyRing.fromFile(path, { now: () => clock });
    expect(ring.authenticate(first.key)).toMatchObject({ id: first.record.id, anonymous: false });
    const second = createApiKey('second', ['submit'], { expiresAt: '1970-01-01T00:00:10Z' });
    writeFileSync(path, JSON.stringify({ keys: [second.record] }));
    clock = 2_000;
    expect(ring.authenticate(first.key)).toBe('unknown');
    expect(ring.authenticate(second.key)).toMatchObject({ name: 'second' });
    clock = 10_000;
    expect(ring.authenticate(second.key)).toBe('expired');
  });

  it('reports every problem of a bad key file at once', () => {
    expect(() =>
      parseApiKeys(
        JSON.stringify({
          keys: [
            { id: 'xyz', name: '', sha256: 'nothex', scopes: ['root'], rateLimitPerMinute: -1 },
          ],
        }),
      ),
    ).toThrow(/id must be 8 hex[\s\S]*name is required[\s\S]*sha256[\s\S]*scopes[\s\S]*rateLimit/);
  });
});
