/**
 * Generates TypeScript types from the Avro schemas in schemas/ and the topic catalogue in
 * topics/, so the code's event types cannot drift from what is registered:
 *   npm run gen:types        writes services/platform/serde/events.generated.ts
 *   npm run gen:check        fails if the committed file is out of date (run in CI and tests)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import {
  GENERATED_TYPES_PATH,
  loadCatalogue,
  loadSchemaJson,
  renderEventTypes,
} from '#platform/serde';

const catalogue = loadCatalogue();
const schemaNames = [...new Set(catalogue.topics.map((topic) => topic.valueSchema))].sort();
const source = renderEventTypes(
  schemaNames.map((name) => ({ name, schema: loadSchemaJson(name) })),
  catalogue,
);

if (process.argv.includes('--check')) {
  const current = readFileSync(GENERATED_TYPES_PATH, 'utf8');
  if (current !== source) {
    console.error(`${GENERATED_TYPES_PATH} is out of date: run npm run gen:types`);
    process.exit(1);
  }
  console.log('generated event types are up to date');
} else {
  writeFileSync(GENERATED_TYPES_PATH, source);
  console.log(`wrote ${GENERATED_TYPES_PATH}`);
}
