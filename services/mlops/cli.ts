/**
 * mlops: the operators' command line (`npm run mlops -- <command>`; `--help` lists them).
 * Wiring only: parse the command line, then each command parses the config it needs and
 * builds only its own adapters (registry: ClickHouse + migrations, Kafka producer, artifact
 * store; retrain: producer; drift status: ClickHouse, read-only; drift watch: a consumer),
 * runs, and closes them. The registry wiring (model runtime included) is loaded only for
 * registry and retrain commands, so the drift commands start quickly.
 * Exit codes: 0 done, 1 failed, 2 usage.
 */
import {
  AppError,
  type Env,
  createLogger,
  createMetricsRegistry,
  describeError,
  parseConfig,
  processConfigFields,
} from '#platform/common';
import { backboneConfigFields, createBackbone, withLocalStackDefaults } from '#platform/kafka';
import {
  classifyClickHouseError,
  clickhouseConfigFields,
  createClickHouse,
  latestDriftChecks,
} from '#platform/store';
import {
  type DriftCommand,
  type ParsedCommandLine,
  UsageError,
  parseCommandLine,
} from './commands.ts';
import { runDriftStatus } from './drift-commands.ts';
import { watchDriftEvents } from './drift-watch.ts';
import { colourWanted, painter } from './render.ts';

const driftStatusSchema = { ...clickhouseConfigFields, ...processConfigFields };
const driftWatchSchema = { ...backboneConfigFields, ...processConfigFields };

const print = (text: string) => console.log(text);

async function driftStatusCommand(line: ParsedCommandLine, env: Env): Promise<void> {
  const config = parseConfig(driftStatusSchema, env);
  const clickhouse = createClickHouse(config);
  try {
    await runDriftStatus({
      readStatus: async (query) => {
        try {
          return await latestDriftChecks(clickhouse, query);
        } catch (error) {
          throw classifyClickHouseError(error);
        }
      },
      ...(line.model === undefined ? {} : { modelName: line.model }),
      json: line.json,
      paint: painter(colourWanted(process.stdout, process.env)),
      now: Date.now,
      print,
    });
  } finally {
    await clickhouse.close();
  }
}

/** Grace for stopping the consumer after Ctrl-C; a second Ctrl-C exits at once. */
const WATCH_STOP_GRACE_MS = 10_000;

async function driftWatchCommand(
  line: ParsedCommandLine,
  command: Extract<DriftCommand, { kind: 'drift.watch' }>,
  env: Env,
): Promise<void> {
  const config = parseConfig(driftWatchSchema, env);
  const logger = createLogger('mlops', config.logLevel, 'stderr');
  const { kafka, codec } = createBackbone(
    config,
    'mlops-drift-watch',
    logger,
    createMetricsRegistry('mlops'),
  );
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (stop.signal.aborted) {
      console.error(`${signal} again: exiting without a clean stop`);
      process.exit(130);
    }
    console.error(`${signal}: stopping`);
    stop.abort();
    setTimeout(() => {
      console.error(`error: consumer did not stop within ${WATCH_STOP_GRACE_MS} ms`);
      process.exit(1);
    }, WATCH_STOP_GRACE_MS).unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await watchDriftEvents({
      kafka,
      decode: async (value) => (await codec.decode('drift.events', value)).value,
      fromBeginning: command.fromBeginning,
      ...(line.model === undefined ? {} : { modelName: line.model }),
      json: line.json,
      paint: painter(colourWanted(process.stdout, process.env)),
      now: Date.now,
      signal: stop.signal,
      print,
      warn: (text) => console.error(text),
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function main(argv: readonly string[]): Promise<void> {
  const line = parseCommandLine(argv);
  const env: Env = { LOG_LEVEL: 'warn', ...withLocalStackDefaults(process.env, 'mlops') };
  const { command } = line;
  switch (command.kind) {
    case 'drift.status':
      return driftStatusCommand(line, env);
    case 'drift.watch':
      return driftWatchCommand(line, command, env);
    case 'retrain':
      return (await import('./registry-wiring.ts')).retrainCommand(line, command, env);
    default:
      return (await import('./registry-wiring.ts')).registryCommand(line, command, env);
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
