import {
  ConfigError,
  type Env,
  boolField,
  intField,
  parseConfig,
  processConfigFields,
  stringField,
} from '#platform/common';
import { backboneConfigFields } from '#platform/kafka';
import { clickhouseConfigFields } from '#platform/store';
import { modelConfigFields } from '#domain/model';
import { shadowConfigFields } from '#domain/scoring';
import { consoleLiveTrialConfigFields } from './console-api/live-trial-view.ts';
import { registryConfigFields } from '#domain/registry';

/**
 * The web console (README "Console"): static assets at /console/ and its API under
 * /v1/console/. Its data comes from ClickHouse (CLICKHOUSE_*: drift checks, the registry's
 * tables), Kafka under the console's own principal (live drift events, offsets and lag; admin
 * actions) and the services' ops servers (readiness). Off by default: the local stack and
 * docker-compose turn it on.
 */
export const consoleConfigFields = {
  // The live gates' settings, the promoter's variables: the Models page's live trial shows the
  // verdict the promoter would reach (give both the same values).
  ...consoleLiveTrialConfigFields,
  consoleEnabled: boolField('CONSOLE_ENABLED', 'Serve the web console and its API', {
    default: false,
  }),
  consoleAssetsDir: stringField(
    'CONSOLE_ASSETS_DIR',
    "The console's built assets ('' = console/ beside the compiled gateway, or dist/console from the sources)",
    { default: '' },
  ),
  consoleKafkaUsername: stringField(
    'CONSOLE_KAFKA_USERNAME',
    "The console's Kafka principal (topics/catalogue.json `console`)",
    { default: 'console' },
  ),
  consoleKafkaPasswordFile: stringField(
    'CONSOLE_KAFKA_PASSWORD_FILE',
    "File holding the console principal's password (required when the console is enabled)",
    { default: '' },
  ),
  consoleServices: stringField(
    'CONSOLE_SERVICES',
    'Readiness URLs the pipeline page polls: name=url, comma-separated',
    {
      default:
        'inference=http://127.0.0.1:9464/ready,logger=http://127.0.0.1:9465/ready,' +
        'drift=http://127.0.0.1:9466/ready,retrainer=http://127.0.0.1:9467/ready,' +
        'promoter=http://127.0.0.1:9468/ready',
    },
  ),
  consoleSigningKeyFile: stringField(
    'CONSOLE_SIGNING_KEY_FILE',
    "The registry's deployment signing key for the console's promote and roll back ('' = those " +
      'admin actions are disabled; retrain requests need no key)',
    { default: '' },
  ),
  consoleArtifactRoot: registryConfigFields.artifactRoot,
};

export const gatewayConfigSchema = {
  ...backboneConfigFields,
  ...modelConfigFields,
  ...processConfigFields,
  ...shadowConfigFields,
  ...clickhouseConfigFields,
  ...consoleConfigFields,
  host: stringField('GATEWAY_HOST', 'Listen address (docker-compose sets 0.0.0.0)', {
    default: '127.0.0.1',
  }),
  port: intField('GATEWAY_PORT', 'Listen port', { default: 8080, min: 0, max: 65535 }),
  maxTexts: intField('GATEWAY_MAX_TEXTS', 'Texts per request', {
    default: 64,
    min: 1,
    max: 10_000,
  }),
  maxBatchTexts: intField(
    'GATEWAY_MAX_BATCH_TEXTS',
    'Texts per micro-batch sent to the model worker',
    {
      default: 64,
      min: 1,
    },
  ),
  publishBufferCapacity: intField(
    'GATEWAY_PUBLISH_BUFFER',
    'Predictions held while Kafka is unavailable',
    {
      default: 100_000,
      min: 1,
    },
  ),
  apiKeysFile: stringField(
    'GATEWAY_API_KEYS_FILE',
    'API keys (JSON, sha256 of each key, scopes; re-read on change). Empty: no keys, so only anonymous calls allowed by the options below',
    { default: '' },
  ),
  anonymousPredict: boolField(
    'GATEWAY_ANONYMOUS_PREDICT',
    'Allow /v1/predict and /v1/model without a key (the local stack turns it on)',
    { default: false },
  ),
  anonymousMetrics: boolField(
    'GATEWAY_ANONYMOUS_METRICS',
    '/metrics for every client; otherwise loopback clients and admin keys only',
    { default: false },
  ),
  rateLimitPerMinute: intField(
    'GATEWAY_RATE_LIMIT_PER_MINUTE',
    'Requests per minute per API key without a limit of its own',
    { default: 6_000, min: 1 },
  ),
  anonymousRateLimitPerMinute: intField(
    'GATEWAY_ANONYMOUS_RATE_LIMIT_PER_MINUTE',
    'Requests per minute per client address without a key',
    { default: 600, min: 1 },
  ),
  corsOrigins: stringField(
    'GATEWAY_CORS_ORIGINS',
    'Comma-separated origins allowed by CORS; empty: none',
    { default: '' },
  ),
  maxReviewsInFlight: intField(
    'GATEWAY_MAX_REVIEWS_IN_FLIGHT',
    'Reviews waiting for the Kafka acknowledgement; beyond, /v1/reviews answers 503 with Retry-After',
    { default: 10_000, min: 1 },
  ),
  maxTextsInFlight: intField(
    'GATEWAY_MAX_TEXTS_IN_FLIGHT',
    'Texts waiting for or in the model; beyond, /v1/predict answers 503 with Retry-After (load shedding)',
    { default: 2_048, min: 1 },
  ),
  publishBatchSize: intField('GATEWAY_PUBLISH_BATCH', 'Predictions per Kafka send', {
    default: 500,
    min: 1,
  }),
};

export function parseGatewayConfig(env: Env) {
  const config = parseConfig(gatewayConfigSchema, env);
  const problems: string[] = [];
  if (config.consoleEnabled && config.consoleKafkaPasswordFile === '') {
    problems.push('CONSOLE_KAFKA_PASSWORD_FILE is required when CONSOLE_ENABLED is true');
  }
  const services = parseServiceUrls(config.consoleServices, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({ ...config, consoleServiceUrls: services });
}

export type GatewayConfig = ReturnType<typeof parseGatewayConfig>;

/** `name=url,...` -> entries; each malformed entry is one problem. */
function parseServiceUrls(
  value: string,
  problems: string[],
): readonly { readonly name: string; readonly url: string }[] {
  const entries: { name: string; url: string }[] = [];
  for (const item of value.split(',').map((entry) => entry.trim())) {
    if (item === '') continue;
    const [name = '', url = ''] = item.split(/=(.*)/s, 2);
    if (!/^[a-z][a-z0-9-]*$/.test(name) || !URL.canParse(url)) {
      problems.push(`CONSOLE_SERVICES: "${item}" is not name=url`);
      continue;
    }
    entries.push({ name, url });
  }
  return Object.freeze(entries);
}
