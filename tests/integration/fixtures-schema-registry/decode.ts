/**
 * Decodes one Confluent-framed message with a fresh @kafkajs/confluent-schema-registry client
 * and prints the value as JSON on stdout. Run as its own process, so nothing is cached from
 * the process that encoded the message: the writer schema must come from the registry by id.
 *   SCHEMA_REGISTRY_URL=http://... MESSAGE_HEX=00000000... node --import tsx decode.ts
 */
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { parseConfig, stringField, urlField } from '#platform/common';

const config = parseConfig(
  {
    registryUrl: urlField('SCHEMA_REGISTRY_URL', 'schema registry base URL'),
    messageHex: stringField('MESSAGE_HEX', 'the framed message, hex-encoded'),
  },
  process.env,
);
const registry = new SchemaRegistry({ host: config.registryUrl });
const value: unknown = await registry.decode(Buffer.from(config.messageHex, 'hex'));
process.stdout.write(`${JSON.stringify(value)}\n`);
