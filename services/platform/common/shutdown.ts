/**
 * Ordered graceful shutdown. Steps run one after another in the order given (stop
 * fetching, drain in-flight work, flush producers, close clients); if they have not all
 * finished after `graceMs`, the process is force-exited with a ShutdownTimeoutError logged.
 */
import { ShutdownTimeoutError, describeError } from './errors.ts';
import type { Logger } from './logger.ts';

export interface ShutdownStep {
  readonly name: string;
  readonly run: () => Promise<void> | void;
}

export interface ShutdownOptions {
  readonly steps: readonly ShutdownStep[];
  readonly graceMs: number;
  readonly logger: Logger;
  /** Injected for tests; defaults to process.exit. */
  readonly exit?: (code: number) => void;
}

/** Starts the shutdown; `exitCode` 1 for a failure (a step that fails also makes it 1). */
export type Shutdown = (reason: string, exitCode?: number) => Promise<number>;

/** Runs the steps once; later calls return the same promise. Resolves with the exit code. */
export function createShutdown(options: ShutdownOptions): Shutdown {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let running: Promise<number> | undefined;
  return (reason: string, requestedExitCode = 0) => {
    running ??= (async () => {
      options.logger.info({ reason }, 'shutting down');
      let current = 'start';
      let exitCode = requestedExitCode;
      const timer = setTimeout(() => {
        const error = new ShutdownTimeoutError(options.graceMs, current);
        options.logger.error({ err: error, code: error.code }, error.message);
        exit(1);
      }, options.graceMs);
      timer.unref();
      for (const step of options.steps) {
        current = step.name;
        try {
          await step.run();
          options.logger.info({ step: step.name }, 'shutdown step done');
        } catch (error) {
          exitCode = 1;
          options.logger.error(
            { step: step.name, err: describeError(error) },
            'shutdown step failed',
          );
        }
      }
      clearTimeout(timer);
      exit(exitCode);
      return exitCode;
    })();
    return running;
  };
}

/** Wires SIGTERM and SIGINT to the shutdown function. */
export function installSignalHandlers(shutdown: Shutdown): void {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => void shutdown(signal));
  }
}
