import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MicroBatcher, ModelHost } from '#domain/model';
import { buildApp } from '../../services/gateway/app.ts';
import { authHeaders, gatewayHarness } from '../support/gateway.ts';
import { COMPACT_MODEL_DIR, copyModelAsVersion, parityCases, softmax } from '../support/model.ts';

describe('gateway with the real model (app.inject)', () => {
  let host: ModelHost;
  let app: FastifyInstance;
  let harness: ReturnType<typeof gatewayHarness>;

  beforeAll(async () => {
    host = await ModelHost.start(COMPACT_MODEL_DIR);
    const batcher = new MicroBatcher(host);
    harness = gatewayHarness((texts) => batcher.score(texts), host.model);
    app = await buildApp({ ...harness.deps, model: () => host.model });
  });
  afterAll(async () => {
    await app?.close();
    await host?.close();
  });

  it('gives the probabilities of the PyTorch export check (parity within 1e-5) and publishes them', async () => {
    const cases = parityCases();
    const response = await app.inject({
      method: 'POST',
      headers: authHeaders(),
      url: '/v1/predict',
      payload: { texts: cases.slice(0, 8).map((c) => c.text), return_embedding: true },
    });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    body.results.forEach(
      (result: { probabilities: Record<string, number>; embedding: number[] }, i: number) => {
        const expected = softmax(cases[i]!.logits);
        expect(Math.abs(result.probabilities.NEGATIVE! - expected[0]!)).toBeLessThan(1e-5);
        expect(Math.abs(result.probabilities.POSITIVE! - expected[1]!)).toBeLessThan(1e-5);
        expect(result.embedding).toHaveLength(cases[i]!.cls_embedding.length);
      },
    );
    const published = harness.publishedPredictions.slice(-8);
    expect(published.map((p) => p.value.text)).toEqual(cases.slice(0, 8).map((c) => c.text));
    expect(
      published.every(
        (p) => p.value.origin === 'SYNC' && p.value.modelVersion === body.model.version,
      ),
    ).toBe(true);
  });

  it('hot-swaps under continuous load with no failed request', async () => {
    const next = copyModelAsVersion('gateway-swap');
    const statuses: number[] = [];
    const versions: string[] = [];
    let running = true;
    const clients = Array.from({ length: 4 }, async () => {
      while (running) {
        const response = await app.inject({
          method: 'POST',
          headers: authHeaders(),
          url: '/v1/predict',
          payload: { texts: ['a fine film'] },
        });
        statuses.push(response.statusCode);
        if (response.statusCode === 200) versions.push(response.json().model.version);
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await host.swap(next);
    await new Promise((resolve) => setTimeout(resolve, 300));
    running = false;
    await Promise.all(clients);
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
    expect(versions).toContain('gateway-swap');
    // Requests started after the swap are all served by the new version.
    expect(versions.slice(-10).every((version) => version === 'gateway-swap')).toBe(true);
    expect((await app.inject({ url: '/v1/model', headers: authHeaders() })).json().version).toBe(
      'gateway-swap',
    );
  });
});
