/** A local stack of its own for benchmarks (state in var/bench-stack, own ports). */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { REPO_ROOT } from '#shared/serde';

export const BENCH_STACK_ENV = {
  STACK_DIR: resolve(REPO_ROOT, 'var/bench-stack'),
  CLICKHOUSE_HTTP_PORT: '28123',
  CLICKHOUSE_TCP_PORT: '29000',
  SCHEMA_REGISTRY_PORT: '28081',
};

export function benchStack(command: 'up' | 'down'): void {
  execFileSync(
    'bash',
    ['infra/local-stack.sh', command, ...(command === 'up' ? ['--infra-only'] : [])],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, ...BENCH_STACK_ENV },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
}

export function benchServiceEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const dir = BENCH_STACK_ENV.STACK_DIR;
  return {
    ...process.env,
    ...BENCH_STACK_ENV,
    KAFKA_BROKERS: readFileSync(`${dir}/kafka/bootstrap`, 'utf8').trim(),
    SCHEMA_REGISTRY_URL: readFileSync(`${dir}/schema-registry/url`, 'utf8').trim(),
    LOG_LEVEL: 'warn',
    ...extra,
  };
}

export function startService(name: string, env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', `services/${name}/main.ts`], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}
