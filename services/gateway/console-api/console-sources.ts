/**
 * The console's adapters (wiring for main.ts): ClickHouse reads, the console's own Kafka
 * principal (offsets and lag through the admin API, live drift events through a topic
 * watcher, admin actions through the registry's producer), the services' ops servers. Each
 * piece is a module with its logic elsewhere (pipeline-monitor.ts, drift-feed.ts,
 * live-trial-view.ts, #domain/registry); this file only connects them and owns their start and
 * stop.
 */
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { Admin } from 'kafkajs';
import {
  type Logger,
  PACKAGE_ROOT,
  RUNS_COMPILED,
  type Readiness,
  type Registry,
  describeError,
} from '#platform/common';
import { createBackbone, watchTopic } from '#platform/kafka';
import { loadCatalogue } from '#platform/serde';
import {
  type ClickHouseClient,
  createClickHouse,
  driftCheckHistory,
  driftEpisodes,
  readServedLabelled,
  readShadowPairs,
} from '#platform/store';
import { type LiveTrialSettings, createModelRegistry, retrainRequestEvent } from '#domain/registry';
import type { GatewayConfig } from '../config.ts';
import { AdminActionsDisabledError, type ConsoleSources } from '../routes/console-api.ts';
import { DriftFeed } from './drift-feed.ts';
import { createLiveTrialReader, liveTrialSettingsOf } from './live-trial-view.ts';
import { type KafkaObserver, PipelineMonitor, httpServiceProbe } from './pipeline-monitor.ts';

/** How long the drift watcher waits before it follows drift.events again after a failure. */
const DRIFT_WATCH_RESTART_MS = 5_000;

/** A kafkajs admin client as the pipeline monitor asks it. */
export function kafkaObserverOf(admin: Admin): KafkaObserver {
  return {
    topicOffsets: async (topic) =>
      (await admin.fetchTopicOffsets(topic)).map(({ partition, low, high }) => ({
        partition,
        low,
        high,
      })),
    listGroups: async () => (await admin.listGroups()).groups.map((group) => group.groupId),
    groupOffsets: async (groupId) =>
      (await admin.fetchOffsets({ groupId })).map(({ topic, partitions }) => ({
        topic,
        partitions: partitions.map(({ partition, offset }) => ({ partition, offset })),
      })),
  };
}

/** Where the built console is: CONSOLE_ASSETS_DIR, else beside the build. */
export function consoleAssetsDir(configured: string): string {
  if (configured !== '') return resolve(configured);
  return RUNS_COMPILED ? join(PACKAGE_ROOT, 'console') : join(PACKAGE_ROOT, 'dist', 'console');
}

export interface ConsoleWiring {
  readonly sources: ConsoleSources;
  readonly assetsDir: string;
  /** Connects the console's producer and admin client and starts following drift.events. */
  start(): Promise<void>;
  /** Stops the watcher and the monitor, then closes Kafka and ClickHouse clients. */
  stop(): Promise<void>;
}

export function createConsole(options: {
  readonly config: GatewayConfig;
  /** The gateway's own readiness (its tile on the pipeline page). */
  readonly gatewayReadiness: () => Promise<Readiness>;
  readonly logger: Logger;
  readonly metrics: Registry;
  /**
   * The live gates' settings the Models page assesses a candidate's trial under (they should
   * be the promoter's). Default: the config's fields of `consoleLiveTrialConfigFields`, where
   * the gateway's config schema has them, else their defaults.
   */
  readonly liveTrial?: LiveTrialSettings;
}): ConsoleWiring {
  const { config, logger } = options;
  const clickhouse: ClickHouseClient = createClickHouse(config);
  const { kafka, codec, producer } = createBackbone(
    {
      ...config,
      kafkaUsername: config.consoleKafkaUsername,
      kafkaPasswordFile: config.consoleKafkaPasswordFile,
    },
    `console-${hostname()}`,
    logger,
    options.metrics,
  );
  const admin = kafka.admin();
  const catalogue = loadCatalogue();
  const topicNames = catalogue.topics.map((topic) => topic.name);
  const monitor = new PipelineMonitor({
    observer: kafkaObserverOf(admin),
    topics: topicNames.filter((name) => !name.startsWith('dlq.')),
    deadLetterTopics: topicNames.filter((name) => name.startsWith('dlq.')),
    services: [
      { name: 'gateway', readiness: options.gatewayReadiness },
      ...config.consoleServiceUrls.map(({ name, url }) => httpServiceProbe(name, url)),
    ],
    logger,
  });
  const feed = new DriftFeed({
    modelName: config.modelName,
    decode: async (value) => (await codec.decode('drift.events', value)).value,
    logger,
  });
  const { registry } = createModelRegistry({
    clickhouse,
    producer,
    artifactRoot: config.consoleArtifactRoot,
    ...(config.consoleSigningKeyFile === ''
      ? {}
      : { signingKeyFile: config.consoleSigningKeyFile }),
    logger,
  });
  const requireSigningKey = () => {
    if (config.consoleSigningKeyFile === '') {
      throw new AdminActionsDisabledError(
        'this gateway holds no deployment signing key (CONSOLE_SIGNING_KEY_FILE): promote and roll back with the mlops CLI',
      );
    }
  };
  const watching = new AbortController();
  let watcher: Promise<void> = Promise.resolve();

  const followDriftEvents = async () => {
    while (!watching.signal.aborted) {
      try {
        await watchTopic({
          kafka,
          topic: 'drift.events',
          groupPrefix: `${config.consoleKafkaUsername}-drift-feed`,
          fromBeginning: false,
          signal: watching.signal,
          onMessage: (message) => feed.accept(message),
        });
      } catch (error) {
        logger.warn(
          { err: describeError(error) },
          `console: following drift.events failed; again in ${DRIFT_WATCH_RESTART_MS / 1000} s`,
        );
        await new Promise((done) => setTimeout(done, DRIFT_WATCH_RESTART_MS));
      }
    }
  };

  const modelName = config.modelName;
  const sources: ConsoleSources = {
    modelName,
    pipeline: monitor,
    drift: {
      history: (sinceMs) => driftCheckHistory(clickhouse, { modelName, sinceMs }),
      episodes: () => driftEpisodes(clickhouse, modelName),
      recent: () => feed.recent(),
      subscribe: (listener) => feed.subscribe(listener),
    },
    registry: {
      list: () => registry.list(modelName),
      log: () => registry.log(modelName),
      plan: () => registry.plan(modelName),
      promote: async (version, input) => {
        requireSigningKey();
        return registry.promote(version, { modelName, ...input });
      },
      rollback: async (input) => {
        requireSigningKey();
        return registry.rollback({ modelName, ...input });
      },
    },
    live: createLiveTrialReader({
      modelName,
      plan: () => registry.plan(modelName),
      evidence: {
        shadowPairs: (query) => readShadowPairs(clickhouse, query),
        servedLabelled: (query) => readServedLabelled(clickhouse, query),
      },
      settings: options.liveTrial ?? liveTrialSettingsOf(config),
    }),
    requestRetrain: async (input) => {
      const { requestId, event } = retrainRequestEvent({
        modelName,
        reason: input.reason,
        requestedBy: input.actor,
      });
      await producer.send('retrain.requests', [event]);
      return { requestId };
    },
  };

  return {
    sources,
    assetsDir: consoleAssetsDir(config.consoleAssetsDir),
    async start() {
      await admin.connect();
      await producer.connect();
      watcher = followDriftEvents();
    },
    async stop() {
      watching.abort();
      monitor.close();
      await watcher;
      await producer.disconnect();
      await admin.disconnect();
      await clickhouse.close();
    },
  };
}
