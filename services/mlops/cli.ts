/**
 * mlops: the operators' command line (`npm run mlops -- <command>`; `--help` lists them).
 * Wiring only: parse the command line and config, build adapters (ClickHouse, Kafka, the
 * artifact store), run one command, close everything. Exit codes: 0 done, 1 failed, 2 usage.
 */
import { randomUUID } from 'node:crypto';
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import {
  AppError,
  createLogger,
  createMetricsRegistry,
  describeError,
  parseConfig,
  processConfigFields,
} from '#shared/common';
import { backboneConfigFields, createBackbone, withLocalStackDefaults } from '#shared/kafka';
import {
  ArtifactStore,
  GOLDEN_SET_PATH,
  SentimentEngine,
  evaluate,
  modelConfigFields,
  readLabelledTsv,
} from '#shared/model';
import { ModelRegistry, registryConfigFields } from '#shared/registry';
import { REPO_ROOT } from '#shared/serde';
import { RegistryStore, clickhouseConfigFields, createClickHouse, migrate } from '#shared/store';
import { UsageError, parseCommandLine } from './commands.ts';
import { runRegistryCommand } from './registry-commands.ts';

const { modelName: modelNameField } = modelConfigFields;
const schema = {
  ...backboneConfigFields,
  ...clickhouseConfigFields,
  ...registryConfigFields,
  ...processConfigFields,
  modelName: modelNameField,
};

async function evaluateGolden(folder: string) {
  const engine = await SentimentEngine.load(folder);
  try {
    return await evaluate(
      (texts) => engine.score(texts),
      readLabelledTsv(resolve(REPO_ROOT, GOLDEN_SET_PATH)),
    );
  } finally {
    await engine.release();
  }
}

async function main(argv: readonly string[]): Promise<void> {
  const line = parseCommandLine(argv);
  const config = parseConfig(schema, {
    LOG_LEVEL: 'warn',
    ...withLocalStackDefaults(process.env),
  });
  const logger = createLogger('mlops', config.logLevel, 'stderr');
  await migrate(config, logger);
  const clickhouse = createClickHouse(config);
  const { codec, producer } = createBackbone(
    config,
    'mlops-cli',
    logger,
    createMetricsRegistry('mlops'),
  );
  try {
    await producer.connect();
    const registry = new ModelRegistry({
      store: new RegistryStore(clickhouse),
      artifacts: new ArtifactStore(resolve(REPO_ROOT, config.artifactRoot)),
      publishDeployment: async (deployment) => {
        await codec.schemaIdFor('models.deployments');
        await producer.send('models.deployments', [
          { key: deployment.modelName, value: deployment },
        ]);
      },
      logger,
      baseDir: REPO_ROOT,
    });
    if (line.command.kind === 'retrain') {
      const requestId = randomUUID();
      await producer.send('retrain.requests', [
        {
          key: requestId,
          value: {
            eventId: randomUUID(),
            eventTime: Date.now(),
            requestId,
            modelName: line.model ?? config.modelName,
            trigger: 'MANUAL',
            reason: line.command.reason,
            requestedBy: line.actor ?? `${userInfo().username}@cli`,
            episodeId: null,
            options: line.command.options,
          },
        },
      ]);
      console.log(line.json ? JSON.stringify({ requestId }) : `retrain requested: ${requestId}`);
      return;
    }
    await runRegistryCommand(line.command, {
      registry,
      modelName: line.model ?? config.modelName,
      actor: line.actor ?? `${userInfo().username}@cli`,
      minF1: config.minF1,
      bootstrapModelDir: resolve(REPO_ROOT, config.bootstrapModelDir),
      evaluateGolden,
      print: (text) => console.log(text),
      json: line.json,
    });
  } finally {
    await producer.disconnect();
    await clickhouse.close();
  }
}

try {
  await main(process.argv.slice(2));
} catch (error) {
  if (error instanceof UsageError) {
    console.error(error.helpRequested ? error.message : `error: ${error.message}`);
    process.exitCode = error.helpRequested ? 0 : 2;
  } else {
    const code = error instanceof AppError ? `${error.code}: ` : '';
    console.error(`error: ${code}${describeError(error)}`);
    process.exitCode = 1;
  }
}
