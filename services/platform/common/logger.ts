import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs (one object per line), with the service name on every line, on stdout
 * (services) or stderr (command-line tools, whose stdout is their output). Level from the
 * caller's config; callers add topic/partition/offset as child fields.
 */
export function createLogger(
  service: string,
  level: string = 'info',
  stream: 'stdout' | 'stderr' = 'stdout',
): Logger {
  const options = { level, base: { service }, timestamp: pino.stdTimeFunctions.isoTime };
  return stream === 'stdout'
    ? pino(options)
    : pino(options, pino.destination({ dest: 2, sync: true }));
}
