/**
 * mlops: the operators' command line (`npm run mlops -- <command>`; `--help` lists them).
 * Wiring only: parse the command line, then each command parses the config it needs and
 * builds only its own adapters (registry: ClickHouse + migrations, Kafka producer, artifact
 * store; registry live: ClickHouse + migrations; registry watch and drift watch: a consumer;
 * retrain: producer; drift status: ClickHouse, read-only), runs, and closes them. The registry
 * wiring (model runtime included) is loaded only for registry and retrain commands, so the
 * drift commands start quickly.
 * Exit codes: 0 done, 1 failed, 2 usage.
 */
import {
  AppError,
  type Env,
  describeError,
  parseConfig,
  processConfigFields,
} from '#platform/common';
import { backboneConfigFields, withLocalStackDefaults } from '#platform/kafka';
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
import { runWatch } from './watch-frame.ts';

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

async function driftWatchCommand(
  line: ParsedCommandLine,
  command: Extract<DriftCommand, { kind: 'drift.watch' }>,
  env: Env,
): Promise<void> {
  const config = parseConfig(driftWatchSchema, env);
  await runWatch(config, 'mlops-drift-watch', ({ kafka, codec }, signal) =>
    watchDriftEvents({
      kafka,
      decode: async (value) => (await codec.decode('drift.events', value)).value,
      fromBeginning: command.fromBeginning,
      ...(line.model === undefined ? {} : { modelName: line.model }),
      json: line.json,
      paint: painter(colourWanted(process.stdout, process.env)),
      now: Date.now,
      signal,
      print,
      warn: (text) => console.error(text),
    }),
  );
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
    case 'registry.live':
      return (await import('./registry-wiring.ts')).registryLiveCommand(line, env);
    case 'registry.watch':
      return (await import('./registry-wiring.ts')).registryWatchCommand(line, command, env);
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
