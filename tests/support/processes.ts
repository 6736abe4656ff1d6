/** Child processes for tests: services and fixtures run as real, separate processes. */
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { processCommand } from './build.ts';

export interface Child {
  readonly process: ChildProcess;
  readonly output: () => string;
  /** Resolves when the process printed `text` on stdout/stderr. */
  readonly waitFor: (text: string | RegExp, timeoutMs?: number) => Promise<void>;
  readonly exited: Promise<number | null>;
}

/**
 * Starts `script` (relative to the repository): services, the CLI and the schema registry
 * from the compiled build, fixtures from the sources (support/build.ts). `logFile`: the
 * output is appended there too, for a look after the test.
 */
export function startTsProcess(script: string, env: NodeJS.ProcessEnv, logFile?: string): Child {
  const command = processCommand(script, env);
  const child = spawn(process.execPath, command.args, {
    cwd: command.cwd,
    env: command.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    if (logFile !== undefined) appendFileSync(logFile, chunk);
    for (const listener of listeners) listener();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  return {
    process: child,
    output: () => output,
    exited,
    waitFor: (text, timeoutMs = 30_000) =>
      new Promise<void>((resolve, reject) => {
        const matches = () =>
          typeof text === 'string' ? output.includes(text) : text.test(output);
        if (matches()) return resolve();
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(
            new Error(`timed out waiting for ${String(text)}; output:\n${output.slice(-2000)}`),
          );
        }, timeoutMs);
        const check = () => {
          if (!matches()) return;
          clearTimeout(timer);
          listeners.delete(check);
          resolve();
        };
        listeners.add(check);
        void exited.then(() => {
          if (!matches()) {
            clearTimeout(timer);
            reject(
              new Error(
                `process exited before printing ${String(text)}; output:\n${output.slice(-2000)}`,
              ),
            );
          }
        });
      }),
  };
}

export async function stopProcess(
  child: Child | undefined,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<void> {
  if (!child || child.process.exitCode !== null || child.process.signalCode !== null) return;
  child.process.kill(signal);
  await child.exited;
}
