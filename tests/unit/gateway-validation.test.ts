import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelInfo } from '#domain/model';
import { buildApp } from '../../services/gateway/app.ts';
import { authHeaders, gatewayHarness } from '../support/gateway.ts';

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
      /texts\[1\]: text is 1002 bytes, over the limit of 1000/,
    ],
    [
      'whitespace text',
      JSON.stringify({ texts: ['   '] }),
      /texts\[0\]: text is empty or whitespace only/,
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

  // The texts inference would dead-letter: the same rule (#domain/scoring checkText) on both
  // routes, so /v1/reviews never answers 202 for a review that cannot be scored.
  const unscoreable: [string, string, string][] = [
    ['a literal U+FFFD', 'fine \uFFFD film', 'TEXT_INVALID_UTF8'],
    ['a lone surrogate', 'fine \uD800 film', 'TEXT_INVALID_UTF8'],
    ['zero-width characters only', '\u200B\u200C\u200D\uFEFF\u2060', 'TEXT_NO_VISIBLE_CHARACTERS'],
    [
      'format and combining characters only',
      '\u200E\u0301\u034F \u3164',
      'TEXT_NO_VISIBLE_CHARACTERS',
    ],
  ];

  it.each(unscoreable)('answers 400 on both routes for %s', async (_name, text, code) => {
    const predict = await app.inject({
      method: 'POST',
      url: '/v1/predict',
      headers: authHeaders(),
      payload: { texts: [text] },
    });
    expect(predict.statusCode).toBe(400);
    expect(predict.json().code).toBe(code);
    const reviews = await app.inject({
      method: 'POST',
      url: '/v1/reviews',
      headers: authHeaders(),
      payload: { reviews: [{ text }] },
    });
    expect(reviews.statusCode).toBe(400);
    expect(reviews.json().code).toBe(code);
  });

  it('rejects empty review_id and source', async () => {
    for (const review of [
      { text: 'fine', review_id: '' },
      { text: 'fine', source: '' },
    ]) {
      const response = await app.inject({
        method: 'POST',
        url: '/v1/reviews',
        headers: authHeaders(),
        payload: { reviews: [review] },
      });
      expect(response.statusCode).toBe(400);
    }
  });

  it.each(cases)('answers 400 with a reason: %s', async (_name, payload, reason) => {
    const response = await app.inject({
      method: 'POST',
      url: '/v1/predict',
      headers: { ...authHeaders(), 'content-type': 'application/json' },
      payload,
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().message).toMatch(reason);
  });

  it('validates the async review path the same way', async () => {
    const response = await app.inject({
      method: 'POST',
      headers: authHeaders(),
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
      (
        await app.inject({
          method: 'POST',
          url: '/v1/predict',
          headers: authHeaders(),
          payload: { texts: ['x'] },
        })
      ).statusCode,
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
      headers: authHeaders(),
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
