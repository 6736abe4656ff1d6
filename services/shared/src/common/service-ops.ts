/**
 * The operational shell every consumer service has, in one place: `/metrics`, `/health` and
 * `/ready` on its metrics port; an ordered shutdown on SIGTERM/SIGINT (the service's own
 * steps, then the ops server closes last, so readiness stays observable while draining);
 * and `fail`, for errors the service cannot continue after (a consumer that cannot be kept
 * running): logged as fatal, then the same ordered shutdown, exiting with code 1.
 *
 * `fail` exists before `start`, so adapters built before the shutdown steps (which refer to
 * them) can be handed it; a failure before `start` exits at once.
 */
import type { Server } from 'node:http';
import type { Registry } from 'prom-client';
import { describeError } from './errors.ts';
import { type ReadinessChecks, closeServer, startOpsServer } from './http.ts';
import type { Logger } from './logger.ts';
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

export interface ServiceOpsStart {
  readonly metrics: Registry;
  /** 0 picks a free port. */
  readonly metricsPort: number;
  /** Listen address of the ops server; default 127.0.0.1 (docker-compose sets 0.0.0.0). */
  readonly metricsHost?: string;
  readonly readiness: ReadinessChecks;
  /** Shutdown steps in order: stop fetching, drain, flush producers, close clients. */
  readonly steps: readonly ShutdownStep[];
}

export class ServiceOps {
  private shutdownFn: Shutdown | undefined;
  private server: Server | undefined;

  constructor(private readonly options: ServiceOpsOptions) {}

  /** The ops server, once started (tests read its port). */
  get opsServer(): Server | undefined {
    return this.server;
  }

  /** Starts the ops server and installs the signal handlers. */
  async start(start: ServiceOpsStart): Promise<void> {
    const server = await startOpsServer(
      start.metrics,
      start.readiness,
      start.metricsPort,
      start.metricsHost,
    );
    this.server = server;
    this.shutdownFn = createShutdown({
      logger: this.options.logger,
      graceMs: this.options.graceMs,
      ...(this.options.exit ? { exit: this.options.exit } : {}),
      steps: [...start.steps, { name: 'close ops server', run: () => closeServer(server) }],
    });
    (this.options.installSignals ?? installSignalHandlers)(this.shutdownFn);
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
