/**
 * The full local stack's services as separate processes, for the closed-loop tests and the
 * demo: inference, logger, drift, retrainer, promoter and gateway on one database, model name
 * and artifact store, plus the mlops CLI. Each service's output is also appended to
 * `<test stack>/logs/<model name>-<service>.log`.
 *
 * The services read a new group's topic from the beginning, as in production; the test
 * stack's Kafka keeps every earlier test's events (hundreds of thousands of reviews), so the
 * loop starts each of its new groups at the current end of its topic instead.
 */
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { processCommand } from './build.ts';
import { type Child, startTsProcess, stopProcess } from './processes.ts';
import { join } from 'node:path';
import { createLogger } from '#platform/common';
import { createKafka, pinNewGroupAtEnd } from '#platform/kafka';
import { TEST_STACK_ENV, testKafkaSettings, testStackProcessEnv } from './stack.ts';

export interface LoopSettings {
  readonly modelName: string;
  readonly database: string;
  readonly artifactRoot: string;
  readonly workDir: string;
  readonly extra?: Record<string, string>;
}

/** The consumer groups (of `main.ts`) that each service starts from the beginning. */
const GROUPS: Record<LoopService, (model: string) => { groupId: string; topic: string }[]> = {
  inference: (model) => [{ groupId: `inference-${model}`, topic: 'reviews' }],
  logger: (model) => [
    { groupId: `logger-${model}`, topic: 'predictions' },
    { groupId: `logger-${model}-shadow`, topic: 'predictions.shadow' },
  ],
  retrainer: (model) => [
    { groupId: `retrainer-${model}-drift-events`, topic: 'drift.events' },
    { groupId: `retrainer-${model}-requests`, topic: 'retrain.requests' },
  ],
  promoter: (model) => [{ groupId: `promoter-${model}`, topic: 'models.candidates' }],
  drift: () => [],
  gateway: () => [],
};

export function loopEnv(
  settings: LoopSettings,
  extra: Record<string, string> = {},
): NodeJS.ProcessEnv {
  return testStackProcessEnv({
    CLICKHOUSE_DATABASE: settings.database,
    ARTIFACT_ROOT: settings.artifactRoot,
    MODEL_NAME: settings.modelName,
    METRICS_PORT: '0',
    LOG_LEVEL: 'info',
    // Drift as shipped (AUC, W = 200, k = 2, m = 3), rounds exactly every W predictions.
    DRIFT_POLL_MS: '250',
    DRIFT_INTERVAL_MS: '600000',
    DRIFT_LEADER_SESSION_MS: '6000',
    RETRAIN_WORK_DIR: settings.workDir,
    // A candidate in SHADOW or CANARY is assessed every 2 s (default 15 s).
    LIVE_TRIAL_POLL_MS: '2000',
    // No shedding of shadow work for production load: the loop's traffic is far below
    // capacity, and on two cores shared with Kafka, ClickHouse, drift calibrations and the test
    // itself, production's busy share measures CPU contention instead (a CI run shed shadow
    // work for two minutes). Shedding is covered by unit tests and `npm run bench:shadow`.
    SHADOW_MAX_PRODUCTION_LOAD: '1',
    ...settings.extra,
    ...extra,
  });
}

export function runCli(
  settings: LoopSettings,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  const command = processCommand('services/mlops/cli.ts', loopEnv(settings));
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...command.args, ...args, '--model', settings.modelName, '--actor', 'it'],
      { cwd: command.cwd, env: command.env, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export type LoopService = 'inference' | 'logger' | 'drift' | 'retrainer' | 'promoter' | 'gateway';

export class Loop {
  readonly children = new Map<LoopService, Child>();
  gatewayUrl = '';

  constructor(readonly settings: LoopSettings) {}

  async start(service: LoopService, extra: Record<string, string> = {}): Promise<Child> {
    const env: Record<string, string> = { ...extra };
    const model = this.settings.modelName;
    if (service === 'inference') env.INFERENCE_GROUP_ID = `inference-${model}`;
    if (service === 'logger') env.LOGGER_GROUP_ID = `logger-${model}`;
    if (service === 'retrainer') env.RETRAINER_GROUP_ID = `retrainer-${model}`;
    if (service === 'promoter') env.PROMOTER_GROUP_ID = `promoter-${model}`;
    await this.startGroupsAtEnd(GROUPS[service](model));
    if (service === 'gateway') {
      const port = await freePort();
      this.gatewayUrl = `http://127.0.0.1:${port}`;
      Object.assign(env, { GATEWAY_HOST: '127.0.0.1', GATEWAY_PORT: String(port) });
    }
    const child = startTsProcess(
      `services/${service}/main.ts`,
      loopEnv(this.settings, env),
      join(TEST_STACK_ENV.STACK_DIR, 'logs', `${this.settings.modelName}-${service}.log`),
    );
    this.children.set(service, child);
    return child;
  }

  /** Pins the groups that have no offsets yet (a restarted service keeps its own). */
  private async startGroupsAtEnd(groups: readonly { groupId: string; topic: string }[]) {
    if (groups.length === 0) return;
    const kafka = createKafka(testKafkaSettings('loop-setup'), createLogger('loop-setup', 'fatal'));
    for (const { groupId, topic } of groups) await pinNewGroupAtEnd(kafka, groupId, topic);
  }

  async stop(service: LoopService, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await stopProcess(this.children.get(service), signal);
    this.children.delete(service);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.children.keys()].map((service) => this.stop(service)));
  }

  async gatewayVersion(): Promise<string | undefined> {
    const response = await fetch(`${this.gatewayUrl}/v1/model`).catch(() => undefined);
    if (!response?.ok) return undefined;
    return ((await response.json()) as { version: string }).version;
  }
}
