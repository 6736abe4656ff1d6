/**
 * Starts the local stack's infrastructure for the integration tests (ClickHouse, dev broker,
 * schema registry) with the test state folder and ports, and stops it afterwards if this run
 * started it. Set TEST_KEEP_STACK=1 to leave it running between runs (faster iteration).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { REPO_ROOT, TEST_STACK_ENV } from './stack.ts';

function stack(command: string, ...args: string[]): void {
  execFileSync('bash', ['infra/local-stack.sh', command, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...TEST_STACK_ENV },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}

function brokerRunning(): boolean {
  const pidFile = resolve(TEST_STACK_ENV.STACK_DIR, 'pids/dev-broker.pid');
  if (!existsSync(pidFile)) return false;
  try {
    process.kill(Number(readFileSync(pidFile, 'utf8')), 0);
    return true;
  } catch {
    return false;
  }
}

export default function setup(): () => void {
  const wasRunning = brokerRunning();
  stack('up', '--infra-only');
  return () => {
    if (!wasRunning && process.env.TEST_KEEP_STACK !== '1') stack('down');
  };
}
