/**
 * Defaults for tools run against a local development stack (the mlops CLI, set-up scripts,
 * benchmarks, tests), only when STACK_DIR names the stack's state folder (relative: to the
 * working directory; `npm run mlops` sets it to var/): when KAFKA_BROKERS or
 * SCHEMA_REGISTRY_URL are not set, read the addresses the stack wrote under that folder (the ports
 * depend on the stack's KAFKA_PORT and SCHEMA_REGISTRY_PORT); when the deployment key files
 * and the gateway's API key file are not set, use those the local stack generated under
 * `secrets/` (only if they exist: there is no built-in key); when KAFKA_USERNAME is not set,
 * the caller's principal, with the password file the local stack generated for it
 * (`secrets/kafka/<principal>.password`). Without STACK_DIR the environment is returned
 * as it is. Services never use this: they read only their environment, which the local stack
 * (infra/local-stack.sh), docker-compose and tests set explicitly.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { type Env, parseConfig } from '#platform/common';
import { backboneConfigFields } from './backbone.ts';

/** The local stack's deployment key pair, relative to its state folder (infra/local-stack.sh). */
export const LOCAL_SIGNING_KEY = 'secrets/deployment-signing.key';
export const LOCAL_TRUSTED_KEYS = 'secrets/deployment-trusted.pub';
/** The local stack's gateway API keys (hashes) and its development key (scripts/api-keys.ts). */
export const LOCAL_API_KEYS = 'secrets/api-keys.json';
export const LOCAL_DEV_API_KEY = 'secrets/dev-api-key';
/** The local stack's Kafka passwords, one file per principal (scripts/kafka-access.ts). */
export const LOCAL_KAFKA_PASSWORDS = 'secrets/kafka';

export function localKafkaPasswordFile(stackDir: string, principal: string): string {
  return resolve(stackDir, LOCAL_KAFKA_PASSWORDS, `${principal}.password`);
}

const ifExists = (path: string): string | undefined => (existsSync(path) ? path : undefined);

/**
 * @param principal the caller's Kafka principal in the local stack: the service's name
 *   (topics/catalogue.json `principals`), `mlops` for the CLI, `admin` for set-up scripts.
 */
export function withLocalStackDefaults(env: Env, principal: string): Env {
  if (!env.STACK_DIR) return env;
  const stackDir = resolve(env.STACK_DIR);
  const kafkaUsername = env.KAFKA_USERNAME || principal;
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
    KAFKA_USERNAME: kafkaUsername,
    KAFKA_PASSWORD_FILE:
      env.KAFKA_PASSWORD_FILE || ifExists(localKafkaPasswordFile(stackDir, kafkaUsername)),
  };
}

/**
 * The backbone config of a tool on a local stack (benchmarks, the demo, tests' own clients):
 * the stack's addresses from `env` (its STACK_DIR) and the `admin` super user's credentials.
 * Services never use it: each connects as its own principal.
 */
export function localAdminBackboneConfig(env: Env) {
  return parseConfig(
    backboneConfigFields,
    withLocalStackDefaults({ ...env, KAFKA_USERNAME: 'admin', KAFKA_PASSWORD_FILE: '' }, 'admin'),
  );
}
