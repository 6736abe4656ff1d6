import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import avro from 'avsc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DeadLetter,
  DeploymentSigner,
  type Prediction,
  frame,
  loadSchemaJson,
} from '#platform/serde';
import { folderDigest } from '#domain/model';
import { type TestKafka, connectTestKafka, makeReview, waitUntil } from '../support/kafka.ts';
import { COMPACT_MODEL_DIR, copyModelAsVersion, parityCases, softmax } from '../support/model.ts';
import { type Child, startTsProcess, stopProcess } from '../support/processes.ts';
import { startRunner } from '../support/runner.ts';
import { DEPLOYMENT_SIGNING_KEY_FILE, testStackProcessEnv } from '../support/stack.ts';

describe('inference service (separate process): reviews -> predictions', () => {
  let kafka: TestKafka;
  let service: Child;
  const stops: { stop(): Promise<void> }[] = [];
  const modelName = `sentiment-it-${randomUUID().slice(0, 8)}`;
  const predictions = new Map<string, Prediction[]>();
  const deadLetters = new Map<string, DeadLetter>();
  const run = randomUUID().slice(0, 8);

  beforeAll(async () => {
    kafka = await connectTestKafka();
    service = startTsProcess(
      'services/inference/main.ts',
      testStackProcessEnv({
        MODEL_DIR: COMPACT_MODEL_DIR,
        MODEL_NAME: modelName,
        INFERENCE_GROUP_ID: `inference-it-${run}`,
        METRICS_PORT: '0',
        MAX_TEXT_BYTES: '2000',
        LOG_LEVEL: 'warn',
      }),
    );
    const collector = startRunner(kafka, 'predictions', async (events) => {
      for (const { event } of events) {
        if (!event.reviewId.startsWith(run)) continue;
        predictions.set(event.reviewId, [...(predictions.get(event.reviewId) ?? []), event]);
      }
    });
    const dlq = startRunner(kafka, 'dlq.reviews', async (events) => {
      for (const { event } of events) {
        const key = event.key?.toString() ?? '';
        if (key.startsWith(run)) deadLetters.set(key, event);
      }
    });
    stops.push(collector.runner, dlq.runner);
    await Promise.all([collector.started, dlq.started]);
    // The service's group starts at the latest offsets once it has joined: poke it until it
    // answers, so the test's reviews are not produced before it listens.
    const warmup = `${run}-warmup`;
    await waitUntil(
      async () => {
        await kafka.producer.send('reviews', [
          { key: warmup, value: makeReview(warmup, 'warm up') },
        ]);
        await new Promise((resolve) => setTimeout(resolve, 500));
        return predictions.has(warmup);
      },
      90_000,
      `the inference service to answer (output: ${service.output().slice(-500)})`,
    );
  });

  afterAll(async () => {
    for (const stop of stops) await stop.stop();
    await stopProcess(service);
    await kafka?.close();
  });

  it('scores reviews with the same probabilities as the export check and carries the review fields', async () => {
    // Texts the service would refuse (empty, U+FFFD) are the dead-letter test's business.
    const cases = parityCases().filter((c) => c.text.trim() !== '' && !c.text.includes('\uFFFD'));
    const reviews = cases.map((c, i) => ({
      ...makeReview(`${run}-parity-${i}`, c.text),
      groundTruth: 'POSITIVE' as const,
    }));
    await kafka.producer.send(
      'reviews',
      reviews.map((review) => ({ key: review.reviewId, value: review })),
    );
    await waitUntil(() => reviews.every((r) => predictions.has(r.reviewId)), 60_000, 'predictions');
    reviews.forEach((review, i) => {
      const [prediction] = predictions.get(review.reviewId)!;
      const expected = softmax(cases[i]!.logits);
      expect(Math.abs(prediction!.probabilities[0]! - expected[0]!)).toBeLessThan(1e-5);
      expect(Math.abs(prediction!.probabilities[1]! - expected[1]!)).toBeLessThan(1e-5);
      expect(prediction).toMatchObject({
        reviewEventId: review.eventId,
        origin: 'STREAM',
        source: review.source,
        text: review.text,
        modelName,
        groundTruth: 'POSITIVE',
      });
      expect(prediction!.embedding).toHaveLength(cases[i]!.cls_embedding.length);
      expect(prediction!.latencyMs).toBeGreaterThan(0);
    });
    const long = reviews.findIndex((r) => r.text.split(' ').length > 150);
    if (long >= 0) expect(predictions.get(reviews[long]!.reviewId)![0]!.truncated).toBe(true);
  });

  it('dead-letters reviews with no usable text and goes on', async () => {
    const empty = makeReview(`${run}-empty`, '');
    const blank = makeReview(`${run}-blank`, ' \n\t ');
    const tooLong = makeReview(`${run}-too-long`, 'long review. '.repeat(200));
    const after = makeReview(`${run}-after`, 'still scoring after the bad ones');
    await kafka.producer.send(
      'reviews',
      [empty, blank, tooLong].map((review) => ({ key: review.reviewId, value: review })),
    );
    // Invalid UTF-8 cannot come from a JS string: patch the encoded Avro bytes.
    const invalidUtf8 = makeReview(`${run}-invalid-utf8`, 'XX bytes');
    const type = avro.Type.forSchema(loadSchemaJson('review') as avro.Schema);
    const body = type.toBuffer(invalidUtf8);
    body.set([0xc3, 0x28], body.indexOf('XX bytes'));
    const schemaId = await kafka.codec.schemaIdFor('reviews');
    await kafka.producer.sendRaw('reviews', [
      { key: invalidUtf8.reviewId, value: frame(schemaId, body) },
    ]);
    await kafka.producer.send('reviews', [{ key: after.reviewId, value: after }]);

    await waitUntil(
      () => deadLetters.size >= 4 && predictions.has(after.reviewId),
      60_000,
      'dead letters',
    );
    expect(deadLetters.get(empty.reviewId)?.errorCode).toBe('TEXT_EMPTY');
    expect(deadLetters.get(blank.reviewId)?.errorCode).toBe('TEXT_EMPTY');
    expect(deadLetters.get(tooLong.reviewId)?.errorCode).toBe('TEXT_TOO_LONG');
    expect(deadLetters.get(invalidUtf8.reviewId)?.errorCode).toBe('TEXT_INVALID_UTF8');
    expect(deadLetters.get(invalidUtf8.reviewId)?.value?.subarray(5).equals(body)).toBe(true);
    for (const id of [empty, blank, tooLong, invalidUtf8].map((r) => r.reviewId))
      expect(predictions.has(id)).toBe(false);
  });

  it('hot-swaps on a deployment under load: no review lost, none scored by both versions', async () => {
    const nextDir = copyModelAsVersion('stream-swap');
    const ids: string[] = [];
    let running = true;
    const traffic = (async () => {
      for (let i = 0; running; i++) {
        const batch = Array.from({ length: 10 }, (_, j) =>
          makeReview(`${run}-swap-${i}-${j}`, `steady review ${i} ${j}`),
        );
        await kafka.producer.send(
          'reviews',
          batch.map((review) => ({ key: review.reviewId, value: review })),
        );
        ids.push(...batch.map((review) => review.reviewId));
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    await kafka.producer.send('models.deployments', [
      {
        key: modelName,
        // Signed with the test stack's registry key, as the registry signs its deployments.
        value: DeploymentSigner.fromFile(DEPLOYMENT_SIGNING_KEY_FILE).sign({
          eventId: randomUUID(),
          eventTime: Date.now(),
          modelName,
          modelVersion: 'stream-swap',
          previousVersion: '1',
          action: 'PROMOTE',
          artifactUri: pathToFileURL(nextDir).href,
          artifactSha256: await folderDigest(nextDir),
          actor: 'integration-test',
          reason: 'hot swap under load',
          candidate: null,
        }),
      },
    ]);
    await waitUntil(
      () =>
        [...predictions.values()].some((list) =>
          list.some((p) => p.modelVersion === 'stream-swap'),
        ),
      60_000,
      'predictions by the new version',
    );
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    running = false;
    await traffic;
    await waitUntil(() => ids.every((id) => predictions.has(id)), 60_000, 'every review scored');
    const versionsPerReview = ids.map(
      (id) => new Set(predictions.get(id)!.map((p) => p.modelVersion)),
    );
    expect(versionsPerReview.filter((versions) => versions.size > 1)).toEqual([]);
    const last = predictions.get(ids[ids.length - 1]!)![0]!;
    expect(last.modelVersion).toBe('stream-swap');
  });
});
