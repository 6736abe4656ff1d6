/** A pino logger that writes into memory, for unit tests that check what a module logged. */
import { Writable } from 'node:stream';
import { pino } from 'pino';

/** One log line as pino writes it: level, message and whatever fields the call added. */
export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [field: string]: unknown;
}

export function capturedLogger() {
  const lines: LogLine[] = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()) as LogLine);
        done();
      },
    }),
  );
  const warnings = () => lines.filter((line) => line.level === 40);
  return { logger, lines, warnings };
}
