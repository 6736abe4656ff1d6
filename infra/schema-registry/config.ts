/** Configuration of the schema registry dev server (parsed once in main.ts). */
import { enumField, intField, stringField } from '#platform/common';

export const registryConfigSchema = {
  host: stringField('SCHEMA_REGISTRY_HOST', 'listen address', { default: '127.0.0.1' }),
  port: intField('SCHEMA_REGISTRY_PORT', 'listen port (0: any free port)', {
    default: 8081,
    min: 0,
    max: 65_535,
  }),
  dataDir: stringField(
    'SCHEMA_REGISTRY_DATA_DIR',
    'state folder: registry.json (schemas, ids, configs) and url (written once listening)',
    { default: 'var/schema-registry' },
  ),
  logLevel: enumField(
    'LOG_LEVEL',
    'pino log level',
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    { default: 'info' },
  ),
};

/** The URL clients should use; a wildcard listen address is reachable on loopback. */
export function registryUrl(host: string, port: number): string {
  const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`;
}
