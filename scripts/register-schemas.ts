/**
 * Registers every topic's value schema under `<topic>-value` (idempotent: an unchanged
 * schema keeps its id). Run at stack start-up and by the docker-compose init service.
 *   SCHEMA_REGISTRY_URL=http://... npm run schemas:register
 */
import { parseConfig, urlField } from '#platform/common';
import { withLocalStackDefaults } from '#platform/kafka';
import { EventCodec, kafkajsRegistryClient, loadCatalogue, valueSubject } from '#platform/serde';

const config = parseConfig(
  { registryUrl: urlField('SCHEMA_REGISTRY_URL', 'Schema registry base URL') },
  withLocalStackDefaults(process.env, 'admin'),
);
const codec = new EventCodec(kafkajsRegistryClient(config.registryUrl), loadCatalogue());
const ids = await codec.registerAll();
for (const [topic, id] of ids) console.log(`${valueSubject(topic).padEnd(32)} id ${id}`);
