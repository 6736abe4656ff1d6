/**
 * Schema registry dev server: parse config, open the store, build the app, listen, install
 * the ordered shutdown, then announce the URL in `<dataDir>/url` (scripts wait for it).
 */
import { rmSync } from 'node:fs';
import { type AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import {
  createLogger,
  createShutdown,
  describeError,
  installSignalHandlers,
  parseConfig,
} from '#platform/common';
import { buildRegistryApp } from './app.ts';
import { registryConfigSchema, registryUrl } from './config.ts';
import { createFileStore, writeFileAtomic } from './store.ts';

const config = parseConfig(registryConfigSchema, process.env);
const logger = createLogger('schema-registry', config.logLevel);
const dataDir = resolve(config.dataDir);
const urlFile = join(dataDir, 'url');

try {
  const app = buildRegistryApp({ store: createFileStore(dataDir), logger });
  await app.listen({ host: config.host, port: config.port });
  installSignalHandlers(
    createShutdown({
      logger,
      graceMs: 5_000,
      steps: [
        // Stop advertising first, so nothing new finds a server that is going away.
        { name: 'remove url file', run: () => rmSync(urlFile, { force: true }) },
        { name: 'close http server', run: () => app.close() },
      ],
    }),
  );
  // Written only once listening, so a fresh file means a ready server. A stale file of a
  // killed run is for the starter to remove first (local-stack.sh does): removing it here
  // would also hide a running instance's URL whenever this one fails to listen.
  const url = registryUrl(config.host, (app.server.address() as AddressInfo).port);
  writeFileAtomic(urlFile, `${url}\n`);
  logger.info({ url, dataDir }, 'schema registry listening');
} catch (error) {
  logger.fatal({ err: error, code: 'SCHEMA_REGISTRY_START_FAILED' }, describeError(error));
  process.exit(1);
}
