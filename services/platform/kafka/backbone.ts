/**
 * The event backbone a service needs, built from one place: Kafka client, Avro codec bound to
 * the schema registry, and the typed producer.
 */
import type { Kafka } from 'kafkajs';
import { type Logger, type Registry, listField, urlField } from '#platform/common';
import { EventCodec, kafkajsRegistryClient, loadCatalogue } from '#platform/serde';
import {
  type KafkaSecurityConfig,
  createKafka,
  kafkaSecurityConfigFields,
  kafkaSecurityOf,
} from './client.ts';
import { EventProducer } from './producer.ts';

/** Config fields of every service on the backbone. */
export const backboneConfigFields = {
  kafkaBrokers: listField('KAFKA_BROKERS', 'Kafka bootstrap servers (comma-separated)'),
  schemaRegistryUrl: urlField('SCHEMA_REGISTRY_URL', 'Schema registry base URL'),
  ...kafkaSecurityConfigFields,
};

export interface Backbone {
  readonly kafka: Kafka;
  readonly codec: EventCodec;
  readonly producer: EventProducer;
}

export function createBackbone(
  config: KafkaSecurityConfig & {
    readonly kafkaBrokers: readonly string[];
    readonly schemaRegistryUrl: string;
  },
  clientId: string,
  logger: Logger,
  metrics: Registry,
): Backbone {
  const kafka = createKafka(
    { brokers: config.kafkaBrokers, clientId, ...kafkaSecurityOf(config) },
    logger,
  );
  const codec = new EventCodec(kafkajsRegistryClient(config.schemaRegistryUrl), loadCatalogue());
  const producer = new EventProducer(kafka, codec, metrics, (error) =>
    logger.warn(
      { err: error instanceof Error ? error.message : String(error) },
      'the broker refused the idempotent producer; replaced it (the failed batch is sent again)',
    ),
  );
  return { kafka, codec, producer };
}
