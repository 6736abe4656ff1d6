/** Schema registry dev server: parse config, build the app, listen, install shutdown. */
import { renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  createLogger,
  createShutdown,
  installSignalHandlers,
  intField,
  parseConfig,
  stringField,
} from '#shared/common';
import { buildRegistryApp } from './app.ts';
import { fileStore } from './store.ts';

const config = parseConfig(
  {
    host: stringField('SCHEMA_REGISTRY_HOST', 'Listen address', { default: '127.0.0.1' }),
    port: intField('SCHEMA_REGISTRY_PORT', 'Listen port (0 = any free port)', { default: 8081, min: 0, max: 65535 }),
    dataDir: stringField('SCHEMA_REGISTRY_DATA_DIR', 'State folder', { default: 'var/schema-registry' }),
    logLevel: stringField('LOG_LEVEL', 'Log level', { default: 'info' }),
  },
  process.env,
);
const logger = createLogger('schema-registry', config.logLevel);
const dataDir = resolve(config.dataDir);
const app = buildRegistryApp({ store: fileStore(dataDir), logger });
const address = await app.listen({ host: config.host, port: config.port });
// Written last and atomically: scripts wait for this file to know the registry is ready.
writeFileSync(join(dataDir, 'url.tmp'), `${address}\n`);
renameSync(join(dataDir, 'url.tmp'), join(dataDir, 'url'));
logger.info({ address, dataDir }, 'schema registry listening');

installSignalHandlers(
  createShutdown({
    logger,
    graceMs: 5_000,
    steps: [{ name: 'close http server', run: () => app.close() }],
  }),
);
