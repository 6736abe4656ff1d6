/**
 * The one start-up and shutdown every service has (the gateway included), in one place:
 *
 * - `ServiceOps.create(name, config)`: the service's logger and metrics registry;
 * - `start({ readiness, steps })`: the ops server (`/metrics`, `/health`, `/ready` on the
 *   metrics port; not for the gateway, which serves the same paths from Fastify through
 *   `readiness()`), and the ordered shutdown on SIGTERM/SIGINT (the service's own steps, then
 *   the ops server closes last, so readiness stays observable while draining);
 * - `run(steps)`: the start-up steps in order (migrations, connect producers, register
 *   schemas, start consumers). `/health` answers and `/ready` says which part is not ready
 *   while they run; the first step that fails is fatal;
 * - `fail(error)`, the fatal path, for errors the service cannot continue after (a start-up
 *   step, a consumer that cannot be kept running): logged as fatal, then the same ordered
 *   shutdown, exiting with code 1.
 *
 * Readiness is a set of named probes of the real parts (common/http.ts ReadinessProbe),
 * asked on every `/ready`.
 *
 * `fail` exists before `start`, so adapters built before the shutdown steps (which refer to
 * them) can be handed it; a failure before `start` exits at once.
 */
import type { Server } from 'node:http';
import type { Registry } from 'prom-client';
import { describeError } from './errors.ts';
import {
  type Readiness,
  type ReadinessChecks,
  closeServer,
  evaluateReadiness,
  startOpsServer,
} from './http.ts';
import { type Logger, createLogger } from './logger.ts';
import { createMetricsRegistry } from './metrics.ts';
import {
  type Shutdown,
  type ShutdownStep,
  createShutdown,
  installSignalHandlers,
} from './shutdown.ts';

export interface ServiceOpsOptions {
  readonly logger: Logger;
  /** Force-exit after this long if the steps have not finished (ShutdownTimeoutError). */
  readonly graceMs: number;
  /** Injected for tests; defaults to process.exit. */
  readonly exit?: (code: number) => void;
  /** Injected for tests; defaults to SIGTERM/SIGINT handlers on this process. */
  readonly installSignals?: (shutdown: Shutdown) => void;
}

/** What `create` reads from a service's config (processConfigFields and the metrics port). */
export interface ServiceProcessConfig {
  readonly logLevel: string;
  readonly shutdownGraceMs: number;
  readonly metricsPort?: number;
  readonly metricsHost?: string;
}

export interface ServiceOpsStart {
  /** The service's registry; default: the one `create` made. */
  readonly metrics?: Registry;
  /**
   * Port of the ops server (0 picks a free port); default: the config's METRICS_PORT. None
   * for a service that serves /metrics, /health and /ready itself (the gateway).
   */
  readonly metricsPort?: number;
  /** Listen address of the ops server; default 127.0.0.1 (docker-compose sets 0.0.0.0). */
  readonly metricsHost?: string;
  readonly readiness: ReadinessChecks;
  /** Shutdown steps in order: stop fetching, drain, flush producers, close clients. */
  readonly steps: readonly ShutdownStep[];
}

export interface StartStep {
  readonly name: string;
  readonly run: () => Promise<unknown> | unknown;
}

export class ServiceOps {
  private shutdownFn: Shutdown | undefined;
  private server: Server | undefined;
  private checks: ReadinessChecks = {};
  private config: ServiceProcessConfig | undefined;
  private registry: Registry | undefined;
  private name = 'service';

  constructor(private readonly options: ServiceOpsOptions) {}

  /** A service's ops with its logger (named after it) and metrics registry. */
  static create(
    name: string,
    config: ServiceProcessConfig,
    options: Partial<Omit<ServiceOpsOptions, 'logger' | 'graceMs'>> = {},
  ): ServiceOps {
    const ops = new ServiceOps({
      ...options,
      logger: createLogger(name, config.logLevel),
      graceMs: config.shutdownGraceMs,
    });
    ops.config = config;
    ops.name = name;
    ops.registry = createMetricsRegistry(name);
    return ops;
  }

  get logger(): Logger {
    return this.options.logger;
  }

  /** The metrics registry `create` made. */
  get metrics(): Registry {
    if (!this.registry) throw new Error('ServiceOps.metrics: made by ServiceOps.create only');
    return this.registry;
  }

  /** The ops server, once started (tests read its port). */
  get opsServer(): Server | undefined {
    return this.server;
  }

  /** Starts the ops server (where the service has one) and installs the signal handlers. */
  async start(start: ServiceOpsStart): Promise<void> {
    this.checks = start.readiness;
    const port = start.metricsPort ?? this.config?.metricsPort;
    const host = start.metricsHost ?? this.config?.metricsHost;
    const metrics = start.metrics ?? this.registry;
    const steps: ShutdownStep[] = [...start.steps];
    if (port !== undefined) {
      if (!metrics) throw new Error('ServiceOps.start: an ops server needs a metrics registry');
      const server = await startOpsServer(metrics, () => this.readiness(), port, host);
      this.server = server;
      steps.push({ name: 'close ops server', run: () => closeServer(server) });
    }
    this.shutdownFn = createShutdown({
      logger: this.options.logger,
      graceMs: this.options.graceMs,
      ...(this.options.exit ? { exit: this.options.exit } : {}),
      steps,
    });
    (this.options.installSignals ?? installSignalHandlers)(this.shutdownFn);
  }

  /** Every readiness probe's answer now (what `/ready` serves). */
  readiness(): Promise<Readiness> {
    return evaluateReadiness(this.checks);
  }

  /**
   * Runs the start-up steps in order, after `start`. The first failure is fatal (`fail`:
   * ordered shutdown, exit code 1); resolves false then, true when all succeeded, after
   * logging `<service> running` with `fields`.
   */
  async run(steps: readonly StartStep[], fields: Record<string, unknown> = {}): Promise<boolean> {
    for (const step of steps) {
      try {
        await step.run();
      } catch (error) {
        this.options.logger.error({ step: step.name, err: describeError(error) }, 'start failed');
        this.fail(error);
        return false;
      }
    }
    this.options.logger.info(fields, `${this.name} running`);
    return true;
  }

  /** Runs the ordered shutdown once (later calls share it); resolves with the exit code. */
  shutdown(reason: string): Promise<number> {
    if (this.shutdownFn) return this.shutdownFn(reason);
    (this.options.exit ?? process.exit)(0);
    return Promise.resolve(0);
  }

  /** The service cannot continue: log it as fatal and shut down in order, exit code 1. */
  readonly fail = (error: unknown): void => {
    this.options.logger.fatal({ err: describeError(error) }, 'service cannot continue');
    if (!this.shutdownFn) {
      (this.options.exit ?? process.exit)(1);
      return;
    }
    void this.shutdownFn('fatal error', 1);
  };
}
