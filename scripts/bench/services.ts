/**
 * Start time and resident memory of every service, run two ways in the same run:
 *   before: the sources through tsx on the system's Node (20 here), as the stacks ran them;
 *   after:  the compiled build (dist/) with plain node on the project's Node 24.
 * Each service starts alone on the bench stack (infra only; migrations applied by the
 * services themselves); "ready" is the first 200 from its /ready (the gateway's own port,
 * the others' ops port), so it includes loading the model where there is one. RSS is the
 * process's VmRSS (all its threads: the model worker's included) after it has been ready
 * for SETTLE_MS, and its peak (VmHWM). Prints a table and the after/before ratios.
 *
 * `--before-tree DIR` runs "before" from another checkout (e.g. a worktree of the commit
 * before the build existed, with node_modules linked in), so the old code is measured as it was.
 *
 *   npm run bench:services [-- --repeat 2] [-- --before-node /usr/bin/node] [-- --before-tree DIR]
 */
import { type ChildProcess, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';
import type { Kafka } from 'kafkajs';
import { createLogger } from '#platform/common';
import {
  createKafka,
  kafkaSecurityOf,
  localAdminBackboneConfig,
  pinNewGroupAtEnd,
} from '#platform/kafka';
import { progress, table } from './common.ts';
import { type ServiceMode, benchServiceEnv, benchStack, startService } from './stack.ts';

const SERVICES = ['gateway', 'inference', 'logger', 'drift', 'retrainer', 'promoter'] as const;
type Service = (typeof SERVICES)[number];
const SETTLE_MS = 3_000;
const READY_TIMEOUT_MS = 180_000;

const { values } = parseArgs({
  options: {
    repeat: { type: 'string', default: '1' },
    'before-node': { type: 'string', default: '/usr/bin/node' },
    'before-tree': { type: 'string' },
    services: { type: 'string', default: SERVICES.join(',') },
  },
});
const repeat = Number(values.repeat);
const beforeNode = values['before-node'];
const beforeTree = values['before-tree'];
const chosen = values.services.split(',') as Service[];
/** The admin client, made once the stack is up (its address is the stack's). */
let admin: Kafka | undefined;
function adminKafka(): Kafka {
  if (admin) return admin;
  const config = localAdminBackboneConfig(benchServiceEnv({}));
  admin = createKafka(
    { brokers: config.kafkaBrokers, clientId: 'bench-services', ...kafkaSecurityOf(config) },
    createLogger('bench-services', 'warn'),
  );
  return admin;
}

/**
 * The groups a service starts, pinned at the end of their topics first: a fresh group reads
 * from the beginning, and catching up with earlier benchmarks' events would be measured as
 * the service's memory.
 */
async function pinGroups(id: string, mode: ServiceMode): Promise<void> {
  for (const [groupId, topic] of [
    [`logger-${id}-${mode}`, 'predictions'],
    [`retrainer-${id}-${mode}-drift-events`, 'drift.events'],
    [`retrainer-${id}-${mode}-requests`, 'retrain.requests'],
    [`promoter-${id}-${mode}`, 'models.candidates'],
    [`inference-${id}-${mode}`, 'reviews'],
  ] as const) {
    await pinNewGroupAtEnd(adminKafka(), groupId, topic);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function memoryMb(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

async function isReady(port: number): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/ready`)).status === 200;
  } catch {
    return false;
  }
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

interface Measurement {
  readonly startS: number;
  readonly rssMb: number;
  readonly peakMb: number;
}

async function measure(service: Service, mode: ServiceMode, run: number): Promise<Measurement> {
  const port = await freePort();
  const id = `bench-services-${process.pid}-${run}`;
  const env = benchServiceEnv({
    LOG_LEVEL: 'warn',
    ...(service === 'gateway'
      ? { GATEWAY_HOST: '127.0.0.1', GATEWAY_PORT: String(port) }
      : { METRICS_PORT: String(port) }),
    CLICKHOUSE_URL: `http://127.0.0.1:28123`,
    // One database per mode: the code before may know other migration checksums.
    CLICKHOUSE_DATABASE: `bench_services_${mode}`,
    MODEL_NAME: id,
    LOGGER_GROUP_ID: `logger-${id}-${mode}`,
    RETRAINER_GROUP_ID: `retrainer-${id}-${mode}`,
    PROMOTER_GROUP_ID: `promoter-${id}-${mode}`,
    INFERENCE_GROUP_ID: `inference-${id}-${mode}`,
  });
  await pinGroups(id, mode);
  const started = performance.now();
  const child = startService(
    service,
    env,
    undefined,
    mode,
    mode === 'source' ? beforeNode : undefined,
    mode === 'source' ? beforeTree : undefined,
  );
  try {
    while (!(await isReady(port))) {
      if (child.exitCode !== null)
        throw new Error(`${service} (${mode}) exited with ${child.exitCode}`);
      if (performance.now() - started > READY_TIMEOUT_MS)
        throw new Error(`${service} (${mode}) not ready after ${READY_TIMEOUT_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const startS = (performance.now() - started) / 1000;
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const memory = memoryMb(child.pid!);
    return { startS, rssMb: memory.rss, peakMb: memory.peak };
  } finally {
    await stop(child);
  }
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

progress('bench stack up (infra only; builds dist/ when a source is newer)');
benchStack('up');
const rows: Record<string, string | number>[] = [];
for (const service of chosen) {
  const results: Record<ServiceMode, Measurement[]> = { source: [], build: [] };
  for (let run = 0; run < repeat; run++) {
    for (const mode of ['source', 'build'] as const) {
      progress(`${service}: ${mode} (run ${run + 1}/${repeat})`);
      results[mode].push(await measure(service, mode, run));
    }
  }
  const summary = (mode: ServiceMode) => ({
    startS: median(results[mode].map((m) => m.startS)),
    rssMb: median(results[mode].map((m) => m.rssMb)),
    peakMb: median(results[mode].map((m) => m.peakMb)),
  });
  const before = summary('source');
  const after = summary('build');
  rows.push({
    service,
    'start before (s)': before.startS.toFixed(2),
    'start after (s)': after.startS.toFixed(2),
    'start x': (after.startS / before.startS).toFixed(2),
    'RSS before (MB)': before.rssMb.toFixed(0),
    'RSS after (MB)': after.rssMb.toFixed(0),
    'RSS x': (after.rssMb / before.rssMb).toFixed(2),
    'peak before (MB)': before.peakMb.toFixed(0),
    'peak after (MB)': after.peakMb.toFixed(0),
  });
}
const beforeVersion = execFileSync(beforeNode, ['--version'], { encoding: 'utf8' }).trim();
console.log(
  `\nbefore: sources${beforeTree ? ` of ${beforeTree}` : ''} through tsx on ${beforeNode} ${beforeVersion}; after: dist/ with plain ` +
    `node ${process.version}; median of ${repeat} run(s); ready = first 200 from /ready`,
);
console.log(table(rows));
process.exit(0); // the admin client's sockets would keep the process alive
