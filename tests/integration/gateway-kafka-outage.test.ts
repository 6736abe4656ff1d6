import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, createMetricsRegistry } from '#platform/common';
import { MicroBatcher, ModelHost } from '#domain/model';
import { buildApp } from '../../services/gateway/app.ts';
import { PredictionPublisher } from '../../services/gateway/publisher.ts';
import { authHeaders, testSecurity } from '../support/gateway.ts';
import type { Admin } from 'kafkajs';
import { NODE_IDS, healCluster, killNode, startAllNodes } from '../support/kafka-cluster.ts';
import { type TestKafka, connectTestKafka, waitUntil } from '../support/kafka.ts';
import { COMPACT_MODEL_DIR } from '../support/model.ts';
import { startRunner } from '../support/runner.ts';

/**
 * The whole Kafka cluster dies (all three nodes SIGKILLed) while the gateway serves, and
 * restarts from its data on disk.
 */
describe('gateway while Kafka is unavailable', () => {
  let kafka: TestKafka;
  let admin: Admin;
  let host: ModelHost;
  let app: FastifyInstance;
  let publisher: PredictionPublisher;
  let down = false;
  const stops: { stop(): Promise<void> }[] = [];

  beforeAll(async () => {
    kafka = await connectTestKafka();
    admin = kafka.kafka.admin();
    await admin.connect();
    host = await ModelHost.start(COMPACT_MODEL_DIR);
    const metrics = createMetricsRegistry('gateway-outage');
    publisher = new PredictionPublisher({
      send: (events) => kafka.producer.send('predictions', events),
      capacity: 1_000,
      batchSize: 100,
      logger: createLogger('publisher', process.env.TEST_LOG_LEVEL ?? 'fatal'),
      metrics,
      stallMs: 2_000,
    });
    publisher.start();
    const batcher = new MicroBatcher(host);
    app = await buildApp({
      score: (texts) => batcher.score(texts),
      model: () => host.model,
      publishPredictions: (events) => publisher.enqueue(events),
      publisherStatus: () => publisher.status(),
      publishReviews: (events) => kafka.producer.send('reviews', events),
      kafkaConnected: () => true,
      metrics,
      limits: { maxTexts: 16, maxTextBytes: 5_000, maxReviewsInFlight: 10_000 },
      security: testSecurity(),
      modelName: 'sentiment',
    });
  });
  afterAll(async () => {
    if (down) await healCluster(admin, ['predictions', '__consumer_offsets']);
    await admin?.disconnect();
    for (const stop of stops) await stop.stop();
    await app?.close();
    await publisher?.flushAndStop(5_000);
    await host?.close();
    await kafka?.close();
  });

  it('keeps answering, buffers and reports the backlog, then publishes every prediction', async () => {
    const marker = `outage-${randomUUID().slice(0, 8)}`;
    const published = new Set<string>();
    const collector = startRunner(kafka, 'predictions', async (events) => {
      for (const { event } of events) if (event.text.startsWith(marker)) published.add(event.text);
    });
    stops.push(collector.runner);
    await collector.started;

    for (const id of NODE_IDS) killNode(id);
    down = true;
    const texts: string[] = [];
    const started = Date.now();
    while (Date.now() - started < 8_000) {
      const batch = [
        `${marker} ${texts.length} a fine film`,
        `${marker} ${texts.length + 1} a dull film`,
      ];
      const response = await app.inject({
        method: 'POST',
        headers: authHeaders(),
        url: '/v1/predict',
        payload: { texts: batch },
      });
      expect(response.statusCode).toBe(200);
      texts.push(...batch);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const ready = await app.inject('/ready');
    expect(ready.statusCode).toBe(503);
    expect(ready.json().checks.kafka).toBe(false);
    expect(ready.json().publisher.buffered).toBeGreaterThan(0);
    expect(await (await app.inject('/metrics')).body).toMatch(
      /gateway_publish_buffer_events\{service="gateway-outage"\} [1-9]/,
    );

    const restarted = Date.now();
    startAllNodes();
    down = false;
    console.log(
      `gateway outage: the cluster served again ${Date.now() - restarted} ms after restart`,
    );
    await waitUntil(() => publisher.status().buffered === 0, 90_000, 'the publish buffer to drain');
    await waitUntil(
      () => texts.every((text) => published.has(text)),
      60_000,
      'every sync prediction in Kafka',
    );
    expect(publisher.status().dropped).toBe(0);
    const after = await app.inject('/ready');
    expect(after.statusCode, after.body).toBe(200);
  });
});
