/**
 * Where the integration tests' local stack lives. It is separate from the development stack
 * (own state folder and ports), so tests never consume a running system's topics or tables.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export const TEST_STACK_ENV = Object.freeze({
  STACK_DIR: process.env.TEST_STACK_DIR ?? resolve(REPO_ROOT, 'var/test-stack'),
  CLICKHOUSE_HTTP_PORT: process.env.TEST_CLICKHOUSE_HTTP_PORT ?? '18123',
  CLICKHOUSE_TCP_PORT: process.env.TEST_CLICKHOUSE_TCP_PORT ?? '19000',
  SCHEMA_REGISTRY_PORT: process.env.TEST_SCHEMA_REGISTRY_PORT ?? '18081',
  KAFKA_PORT: process.env.TEST_KAFKA_PORT ?? '19092',
});

/**
 * Model the plumbing tests' services serve and bootstrap (relative to the repository root):
 * the compact model, 15-20x faster than production's on two cores. Tests of the production
 * model pass MODEL_DIR / BOOTSTRAP_MODEL_DIR themselves.
 */
export const TEST_MODEL_DIR = 'models/sentiment-compact';

export const KAFKA_STATE_DIR = resolve(TEST_STACK_ENV.STACK_DIR, 'kafka');

function readState(path: string): string {
  if (!existsSync(path)) throw new Error(`${path} is missing: is the test stack up?`);
  return readFileSync(path, 'utf8').trim();
}

export function kafkaBrokers(): string[] {
  return readState(resolve(KAFKA_STATE_DIR, 'bootstrap')).split(',');
}

export function schemaRegistryUrl(): string {
  return readState(resolve(TEST_STACK_ENV.STACK_DIR, 'schema-registry/url'));
}

export function clickhouseUrl(): string {
  return `http://127.0.0.1:${TEST_STACK_ENV.CLICKHOUSE_HTTP_PORT}`;
}

/** Environment for child processes (services, fixtures) that should use the test stack. */
export function testStackProcessEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ...TEST_STACK_ENV,
    KAFKA_BROKERS: kafkaBrokers().join(','),
    SCHEMA_REGISTRY_URL: schemaRegistryUrl(),
    CLICKHOUSE_URL: clickhouseUrl(),
    MODEL_DIR: TEST_MODEL_DIR,
    BOOTSTRAP_MODEL_DIR: TEST_MODEL_DIR,
    ...extra,
  };
}
