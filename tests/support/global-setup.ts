/**
 * Builds the services outside the repository (support/build.ts: tests run them as production
 * does) and starts the local stack's infrastructure for the integration tests (ClickHouse,
 * the 3-node Kafka cluster, schema registry, from that build) with the test state folder and
 * ports, and stops it
 * afterwards if this run started it. Set TEST_KEEP_STACK=1 to leave it running between runs
 * (faster iteration).
 *
 * A run that starts the stack starts Kafka from empty storage, as CI's fresh clone does:
 * tests read topics from the beginning with new groups, and a previous run's events would
 * only slow them down. ClickHouse keeps its data (tests use their own ids).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { TEST_BUILD_DIR } from './build.ts';
import { KAFKA_STATE_DIR, REPO_ROOT, TEST_STACK_ENV } from './stack.ts';

function stack(command: string, ...args: string[]): void {
  execFileSync('bash', ['infra/local-stack.sh', command, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...TEST_STACK_ENV, BUILD_DIR: TEST_BUILD_DIR },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}

function kafkaRunning(): boolean {
  const status = spawnSync('bash', ['infra/kafka/run.sh', 'status'], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...TEST_STACK_ENV, BUILD_DIR: TEST_BUILD_DIR },
    stdio: 'ignore',
  });
  return status.status === 0;
}

/** The build the stack and the services run from, outside the repository (support/build.ts). */
function buildServices(): void {
  execFileSync(process.execPath, ['--import', 'tsx', 'scripts/build.ts', TEST_BUILD_DIR], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}

export default function setup(): () => void {
  buildServices();
  const wasRunning = kafkaRunning();
  if (!wasRunning) {
    // Stop whatever part is left (a node killed by an interrupted fault test), then start empty.
    execFileSync('bash', ['infra/kafka/run.sh', 'stop'], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...TEST_STACK_ENV, BUILD_DIR: TEST_BUILD_DIR },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    rmSync(KAFKA_STATE_DIR, { recursive: true, force: true });
  }
  stack('up', '--infra-only');
  return () => {
    if (!wasRunning && process.env.TEST_KEEP_STACK !== '1') stack('down');
  };
}
