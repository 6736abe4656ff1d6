import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelInfo } from '#shared/model';
import { buildApp } from '../../services/gateway/app.ts';
import { gatewayHarness } from '../support/gateway.ts';

const model = {
  name: 'sentiment',
  version: '1',
  labels: ['NEGATIVE', 'POSITIVE'],
} as unknown as ModelInfo;

describe('gateway request validation (app.inject)', () => {
  let app: FastifyInstance;
  let scoreCalls = 0;
  beforeAll(async () => {
    const harness = gatewayHarness(async () => {
      scoreCalls++;
      throw new Error('invalid requests must not reach the model');
    }, model);
    app = await buildApp(harness.deps);
  });
  afterAll(async () => {
    await app.close();
    expect(scoreCalls).toBe(0);
  });

  const cases: [string, string, RegExp][] = [
    ['empty list', JSON.stringify({ texts: [] }), /texts must NOT have fewer than 1 items/],
    [
      'too many texts',
      JSON.stringify({ texts: Array(9).fill('ok') }),
      /texts must NOT have more than 8 items/,
    ],
    [
      'text too long',
      JSON.stringify({ texts: ['ok', 'é'.repeat(501)] }),
      /texts\[1\] is 1002 bytes, over the limit of 1000/,
    ],
    [
      'whitespace text',
      JSON.stringify({ texts: ['   '] }),
      /texts\[0\] is empty or whitespace only/,
    ],
    ['number instead of string', JSON.stringify({ texts: [42] }), /texts\/0 must be string/],
    ['string instead of list', JSON.stringify({ texts: 'hello' }), /texts must be array/],
    ['missing texts', JSON.stringify({ text: ['hello'] }), /must have required property 'texts'/],
    [
      'wrong flag type',
      JSON.stringify({ texts: ['a'], return_embedding: 'yes' }),
      /return_embedding must be boolean/,
    ],
    ['malformed JSON', '{"texts": ["unterminated', /JSON/i],
  ];

  it.each(cases)('answers 400 with a reason: %s', async (_name, payload, reason) => {
    const response = await app.inject({
      method: 'POST',
      url: '/v1/predict',
      headers: { 'content-type': 'application/json' },
      payload,
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().message).toMatch(reason);
  });

  it('validates the async review path the same way', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/v1/reviews',
      payload: { reviews: [{ text: 'fine', ground_truth: 'MAYBE' }] },
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().message).toMatch(
      /ground_truth must be equal to one of the allowed values/,
    );
  });
});

describe('gateway readiness', () => {
  it('is not ready and refuses predictions until a model is loaded', async () => {
    const harness = gatewayHarness(async () => ({ model, results: [] }));
    const app = await buildApp(harness.deps);
    const notReady = await app.inject('/ready');
    expect(notReady.statusCode).toBe(503);
    expect(notReady.json().checks.model).toBe(false);
    expect(
      (await app.inject({ method: 'POST', url: '/v1/predict', payload: { texts: ['x'] } }))
        .statusCode,
    ).toBe(503);
    harness.setModel(model);
    const ready = await app.inject('/ready');
    expect(ready.statusCode).toBe(200);
    expect((await app.inject('/health')).json()).toEqual({ status: 'ok' });
    await app.close();
  });

  it('publishes reviews on the async path and answers 202 with their ids', async () => {
    const harness = gatewayHarness(async () => ({ model, results: [] }), model);
    const app = await buildApp(harness.deps);
    const response = await app.inject({
      method: 'POST',
      url: '/v1/reviews',
      payload: {
        reviews: [{ text: 'great', review_id: 'r-9', ground_truth: 'POSITIVE' }, { text: 'meh' }],
      },
    });
    expect(response.statusCode).toBe(202);
    expect(response.json().review_ids[0]).toBe('r-9');
    expect(harness.publishedReviews.map((e) => e.value.groundTruth)).toEqual(['POSITIVE', null]);
    await app.close();
  });
});
