/**
 * Defaults for the local development stack: when KAFKA_BROKERS or SCHEMA_REGISTRY_URL are
 * not set, read the addresses the local stack wrote under its state folder (the ports
 * depend on the stack's KAFKA_PORT and SCHEMA_REGISTRY_PORT). Production sets both variables
 * explicitly and never reaches the files.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Env } from '#shared/common';
import { REPO_ROOT } from '#shared/serde';

export function withLocalStackDefaults(env: Env): Env {
  const stackDir = resolve(REPO_ROOT, env.STACK_DIR ?? 'var');
  const fromFile = (path: string): string | undefined =>
    existsSync(path) ? readFileSync(path, 'utf8').trim() || undefined : undefined;
  return {
    ...env,
    KAFKA_BROKERS: env.KAFKA_BROKERS || fromFile(resolve(stackDir, 'kafka/bootstrap')),
    SCHEMA_REGISTRY_URL:
      env.SCHEMA_REGISTRY_URL || fromFile(resolve(stackDir, 'schema-registry/url')),
  };
}
