/**
 * Defaults for the local development stack: when KAFKA_BROKERS or SCHEMA_REGISTRY_URL are
 * not set, read the addresses the local stack wrote under its state folder (the ports
 * depend on the stack's KAFKA_PORT and SCHEMA_REGISTRY_PORT); when the deployment key files
 * and the gateway's API key file are not set, use those the local stack generated under
 * `secrets/` (only if they exist: there is no built-in key). Production sets every variable explicitly and never reaches
 * the files.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Env } from '#shared/common';
import { REPO_ROOT } from '#shared/serde';

/** The local stack's deployment key pair, relative to its state folder (infra/local-stack.sh). */
export const LOCAL_SIGNING_KEY = 'secrets/deployment-signing.key';
export const LOCAL_TRUSTED_KEYS = 'secrets/deployment-trusted.pub';
/** The local stack's gateway API keys (hashes) and its development key (scripts/api-keys.ts). */
export const LOCAL_API_KEYS = 'secrets/api-keys.json';
export const LOCAL_DEV_API_KEY = 'secrets/dev-api-key';

const ifExists = (path: string): string | undefined => (existsSync(path) ? path : undefined);

export function withLocalStackDefaults(env: Env): Env {
  const stackDir = resolve(REPO_ROOT, env.STACK_DIR ?? 'var');
  const fromFile = (path: string): string | undefined =>
    existsSync(path) ? readFileSync(path, 'utf8').trim() || undefined : undefined;
  return {
    ...env,
    KAFKA_BROKERS: env.KAFKA_BROKERS || fromFile(resolve(stackDir, 'kafka/bootstrap')),
    SCHEMA_REGISTRY_URL:
      env.SCHEMA_REGISTRY_URL || fromFile(resolve(stackDir, 'schema-registry/url')),
    DEPLOYMENT_SIGNING_KEY_FILE:
      env.DEPLOYMENT_SIGNING_KEY_FILE || ifExists(resolve(stackDir, LOCAL_SIGNING_KEY)),
    DEPLOYMENT_TRUSTED_KEYS_FILE:
      env.DEPLOYMENT_TRUSTED_KEYS_FILE || ifExists(resolve(stackDir, LOCAL_TRUSTED_KEYS)),
    GATEWAY_API_KEYS_FILE: env.GATEWAY_API_KEYS_FILE || ifExists(resolve(stackDir, LOCAL_API_KEYS)),
  };
}
