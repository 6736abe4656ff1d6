/**
 * Wiring of the registry and retrain commands (loaded by cli.ts for those commands only: it
 * pulls in the model runtime). Each builds its own adapters and closes them.
 */
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import {
  type Env,
  createLogger,
  createMetricsRegistry,
  parseConfig,
  processConfigFields,
} from '#platform/common';
import { driftCalibrationConfigFields } from '#domain/drift';
import { backboneConfigFields, createBackbone } from '#platform/kafka';
import { SentimentEngine, evaluate, modelConfigFields, readLabelledTsv } from '#domain/model';
import { createModelRegistry, registryConfigFields, retrainRequestEvent } from '#domain/registry';
import { clickhouseConfigFields, createClickHouse, migrate } from '#platform/store';
import type { ParsedCommandLine, RegistryCommand } from './commands.ts';
import { runRegistryCommand } from './registry-commands.ts';

const { modelName: modelNameField } = modelConfigFields;

const registrySchema = {
  ...backboneConfigFields,
  ...clickhouseConfigFields,
  ...registryConfigFields,
  // `register` and `bootstrap` calibrate versions for the drift service's windows.
  ...driftCalibrationConfigFields,
  ...processConfigFields,
  modelName: modelNameField,
};
const retrainSchema = {
  ...backboneConfigFields,
  ...processConfigFields,
  modelName: modelNameField,
};

const actorOf = (line: ParsedCommandLine) => line.actor ?? `${userInfo().username}@cli`;
const print = (text: string) => console.log(text);

async function evaluateGolden(folder: string, goldenSetFile: string) {
  const engine = await SentimentEngine.load(folder);
  try {
    return await evaluate((texts) => engine.score(texts), readLabelledTsv(goldenSetFile));
  } finally {
    await engine.release();
  }
}

export async function registryCommand(
  line: ParsedCommandLine,
  command: RegistryCommand,
  env: Env,
): Promise<void> {
  const config = parseConfig(registrySchema, env);
  const logger = createLogger('mlops', config.logLevel, 'stderr');
  await migrate(config, logger);
  const clickhouse = createClickHouse(config);
  const { producer } = createBackbone(config, 'mlops-cli', logger, createMetricsRegistry('mlops'));
  try {
    await producer.connect();
    const { registry } = createModelRegistry({
      clickhouse,
      producer,
      artifactRoot: config.artifactRoot,
      signingKeyFile: config.deploymentSigningKeyFile,
      driftCalibration: { windowSize: config.windowSize, alpha: config.alpha },
      logger,
    });
    await runRegistryCommand(command, {
      registry,
      modelName: line.model ?? config.modelName,
      actor: actorOf(line),
      minF1: config.minF1,
      bootstrapModelDir: resolve(config.bootstrapModelDir),
      evaluateGolden: (folder: string) => evaluateGolden(folder, resolve(config.goldenSetFile)),
      print,
      json: line.json,
    });
  } finally {
    await producer.disconnect();
    await clickhouse.close();
  }
}

export async function retrainCommand(
  line: ParsedCommandLine,
  command: { readonly reason: string; readonly options: Readonly<Record<string, string>> },
  env: Env,
): Promise<void> {
  const config = parseConfig(retrainSchema, env);
  const logger = createLogger('mlops', config.logLevel, 'stderr');
  const { producer } = createBackbone(config, 'mlops-cli', logger, createMetricsRegistry('mlops'));
  await producer.connect();
  try {
    const { requestId, event } = retrainRequestEvent({
      modelName: line.model ?? config.modelName,
      reason: command.reason,
      requestedBy: actorOf(line),
      options: command.options,
    });
    await producer.send('retrain.requests', [event]);
    print(line.json ? JSON.stringify({ requestId }) : `retrain requested: ${requestId}`);
  } finally {
    await producer.disconnect();
  }
}
