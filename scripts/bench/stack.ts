/**
 * A local stack of its own for benchmarks (state in var/bench-stack, own ports). A benchmark
 * that runs beside the others passes a `BenchStack` of its own (another state folder and
 * ports); every helper defaults to the shared bench stack.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { withLocalStackDefaults } from '#platform/kafka';
import { REPO_ROOT } from '../lib/repo.ts';

export interface BenchStack {
  readonly STACK_DIR: string;
  readonly CLICKHOUSE_HTTP_PORT: string;
  readonly CLICKHOUSE_TCP_PORT: string;
  readonly SCHEMA_REGISTRY_PORT: string;
  readonly KAFKA_PORT: string;
}

export const BENCH_STACK_ENV: BenchStack = {
  STACK_DIR: resolve(REPO_ROOT, 'var/bench-stack'),
  CLICKHOUSE_HTTP_PORT: '28123',
  CLICKHOUSE_TCP_PORT: '29000',
  SCHEMA_REGISTRY_PORT: '28081',
  KAFKA_PORT: '39092',
};

export function benchStack(command: 'up' | 'down', stack: BenchStack = BENCH_STACK_ENV): void {
  execFileSync(
    'bash',
    ['infra/local-stack.sh', command, ...(command === 'up' ? ['--infra-only'] : [])],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, ...stack },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
}

export function benchServiceEnv(
  extra: Record<string, string>,
  stack: BenchStack = BENCH_STACK_ENV,
): NodeJS.ProcessEnv {
  const dir = stack.STACK_DIR;
  return {
    ...process.env,
    ...stack,
    KAFKA_BROKERS: readFileSync(`${dir}/kafka/bootstrap`, 'utf8').trim(),
    SCHEMA_REGISTRY_URL: readFileSync(`${dir}/schema-registry/url`, 'utf8').trim(),
    LOG_LEVEL: 'warn',
    // The benchmarks load the gateway anonymously: prediction without a key, and a per-address
    // limit no load test reaches (the limiter itself still runs on every request).
    GATEWAY_ANONYMOUS_PREDICT: 'true',
    GATEWAY_ANONYMOUS_RATE_LIMIT_PER_MINUTE: '100000000',
    ...extra,
  };
}

/** How a benchmark runs a service: the build with plain node (as the stacks do), or the sources through tsx. */
export type ServiceMode = 'build' | 'source';

/**
 * The command line of service `name`: `build` runs dist/services/<name>/main.js (built by
 * the stack's `up`) with this Node; `source` runs services/<name>/main.ts through tsx with
 * `node` (another Node binary, e.g. the system's, to measure against).
 */
export function serviceCommand(
  name: string,
  mode: ServiceMode = 'build',
  node: string = process.execPath,
): { command: string; args: string[] } {
  return mode === 'build'
    ? { command: node, args: [resolve(REPO_ROOT, 'dist/services', name, 'main.js')] }
    : { command: node, args: ['--import', 'tsx', `services/${name}/main.ts`] };
}

/**
 * Starts service `name` as its own Kafka principal with the stack's key files (services read
 * only their environment; the stack's `secrets/` supply it, as infra/local-stack.sh does);
 * its stdout (the log) goes to `logFile` when given.
 */
export function startService(
  name: string,
  env: NodeJS.ProcessEnv,
  logFile?: string,
  mode: ServiceMode = 'build',
  node?: string,
  /** Another checkout to run `source` mode from (its working directory). */
  tree: string = REPO_ROOT,
): ChildProcess {
  const { command, args } = serviceCommand(name, mode, node);
  const serviceEnv = withLocalStackDefaults(
    { ...env, KAFKA_USERNAME: '', KAFKA_PASSWORD_FILE: '' },
    name,
  );
  return spawn(command, args, {
    cwd: mode === 'source' ? tree : REPO_ROOT,
    env: { ...serviceEnv, STACK_DIR: undefined },
    stdio: ['ignore', logFile === undefined ? 'ignore' : openSync(logFile, 'a'), 'inherit'],
  });
}
