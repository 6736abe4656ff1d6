import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Consumer } from 'kafkajs';
import { type TopicName, loadCatalogue } from '#platform/serde';
import { exampleEvents } from '../support/examples.ts';
import { type TestKafka, connectTestKafka, waitUntil } from '../support/kafka.ts';

describe('event round trip through Kafka and the schema registry', () => {
  let kafka: TestKafka;
  let consumer: Consumer;

  beforeAll(async () => {
    kafka = await connectTestKafka();
  });
  afterAll(async () => {
    await consumer?.disconnect();
    await kafka?.close();
  });

  it('decodes every event type to exactly what was sent', async () => {
    const examples = exampleEvents();
    const catalogue = loadCatalogue();
    const topics = Object.keys(examples) as TopicName[];
    // An example of every value schema the catalogue uses (a new schema needs one).
    const schemaOf = (topic: string) => catalogue.topics.find((t) => t.name === topic)!.valueSchema;
    expect(new Set(topics.map(schemaOf))).toEqual(
      new Set(catalogue.topics.map((t) => t.valueSchema)),
    );
    const received = new Map<string, unknown>();
    const wanted = new Set(topics.map((topic) => (examples[topic] as { eventId: string }).eventId));

    // Other tests share the in-memory broker (some leave poison on these topics): only our
    // keys are decoded.
    const key = `roundtrip-${Date.now()}`;
    consumer = kafka.kafka.consumer({ groupId: key });
    await consumer.connect();
    await consumer.subscribe({ topics, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ topic, message }) => {
        if (message.key?.toString() !== key) return;
        const { value } = await kafka.codec.decode(topic as TopicName, message.value);
        const eventId = (value as { eventId: string }).eventId;
        if (wanted.has(eventId)) received.set(eventId, value);
      },
    });

    for (const topic of topics) {
      // The union of per-topic value types cannot be narrowed by the loop variable.
      await kafka.producer.send(topic, [{ key, value: examples[topic] as never }]);
    }
    await waitUntil(() => received.size === wanted.size, 60_000, 'all example events');
    for (const topic of topics) {
      const sent = examples[topic] as { eventId: string };
      const got = received.get(sent.eventId);
      // Avro floats are 32-bit: the examples use float-exact values, so equality is exact.
      expect(got, topic).toEqual(sent);
    }
  });
});
