/**
 * The full local stack's services as separate processes, for the closed-loop tests and the
 * demo: inference, logger, drift, retrainer, promoter and gateway on one database, model name
 * and artifact store, plus the mlops CLI. Each service's output is also appended to
 * `<test stack>/logs/<model name>-<service>.log`.
 */
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { type Child, startTsProcess, stopProcess } from './processes.ts';
import { join } from 'node:path';
import { REPO_ROOT, TEST_STACK_ENV, testStackProcessEnv } from './stack.ts';

export interface LoopSettings {
  readonly modelName: string;
  readonly database: string;
  readonly artifactRoot: string;
  readonly workDir: string;
  readonly extra?: Record<string, string>;
}

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
    ...settings.extra,
    ...extra,
  });
}

export function runCli(
  settings: LoopSettings,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [
        '--import',
        'tsx',
        'services/mlops/cli.ts',
        ...args,
        '--model',
        settings.modelName,
        '--actor',
        'it',
      ],
      { cwd: REPO_ROOT, env: loopEnv(settings), maxBuffer: 16 * 1024 * 1024 },
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
    if (service === 'inference') env.INFERENCE_GROUP_ID = `inference-${this.settings.modelName}`;
    if (service === 'logger') env.LOGGER_GROUP_ID = `logger-${this.settings.modelName}`;
    if (service === 'retrainer') env.RETRAINER_GROUP_ID = `retrainer-${this.settings.modelName}`;
    if (service === 'promoter') env.PROMOTER_GROUP_ID = `promoter-${this.settings.modelName}`;
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
