/**
 * Wiring of the registry and retrain commands (loaded by cli.ts for those commands only: it
 * pulls in the model runtime). Each builds its own adapters and closes them: `registry live`
 * only ClickHouse (it reads), `registry watch` only a consumer.
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
import {
  createModelRegistry,
  liveTrialConfigFields,
  registryConfigFields,
  retrainRequestEvent,
} from '#domain/registry';
import {
  RegistryStore,
  clickhouseConfigFields,
  createClickHouse,
  migrate,
  readServedLabelled,
  readShadowPairs,
  servingPlan,
} from '#platform/store';
import type { ParsedCommandLine, RegistryCommand } from './commands.ts';
import { type RegistryChangeCommand, runRegistryCommand } from './registry-commands.ts';
import { runRegistryLive } from './registry-live.ts';
import { watchDeployments } from './registry-watch.ts';
import { colourWanted, painter } from './render.ts';
import { runWatch } from './watch-frame.ts';

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
const registryLiveSchema = {
  ...clickhouseConfigFields,
  ...processConfigFields,
  modelName: modelNameField,
};
const registryWatchSchema = {
  ...backboneConfigFields,
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
  command: RegistryChangeCommand,
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

/**
 * `registry live`: the plan from the promotion log and the candidate's assessment from the
 * predictions table, under the gate settings of this process's environment (the promoter's
 * field names and defaults).
 */
export async function registryLiveCommand(line: ParsedCommandLine, env: Env): Promise<void> {
  const config = parseConfig(registryLiveSchema, env);
  const settings = parseConfig(liveTrialConfigFields, env);
  const logger = createLogger('mlops', config.logLevel, 'stderr');
  await migrate(config, logger);
  const clickhouse = createClickHouse(config);
  try {
    const store = new RegistryStore(clickhouse);
    await runRegistryLive({
      modelName: line.model ?? config.modelName,
      readPlan: async (modelName) => servingPlan(await store.decisions(modelName)),
      evidence: {
        shadowPairs: (query) => readShadowPairs(clickhouse, query),
        servedLabelled: (query) => readServedLabelled(clickhouse, query),
      },
      settings,
      json: line.json,
      paint: painter(colourWanted(process.stdout, process.env)),
      now: Date.now,
      print,
    });
  } finally {
    await clickhouse.close();
  }
}

/** `registry watch`: the model's plan changes on models.deployments until Ctrl-C. */
export async function registryWatchCommand(
  line: ParsedCommandLine,
  command: Extract<RegistryCommand, { kind: 'registry.watch' }>,
  env: Env,
): Promise<void> {
  const config = parseConfig(registryWatchSchema, env);
  await runWatch(config, 'mlops-registry-watch', ({ kafka, codec }, signal) =>
    watchDeployments({
      kafka,
      decode: async (value) => (await codec.decode('models.deployments', value)).value,
      fromBeginning: command.fromBeginning,
      modelName: line.model ?? config.modelName,
      json: line.json,
      paint: painter(colourWanted(process.stdout, process.env)),
      now: Date.now,
      signal,
      print,
      warn: (text) => console.error(text),
    }),
  );
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
