/**
 * Flood benchmark (issue 12): the gateway, with its own local stack, loaded at twice what it
 * can serve on /v1/predict and /v1/reviews at once for 60 s. It shows:
 * - what answers the clients got (only 2xx, 429 and 503 are acceptable: no 5xx other than the
 *   documented 503 OVERLOADED / KAFKA_UNAVAILABLE, no resets, no timeouts);
 * - the gateway's resident memory before, at most during, and after the flood (bounded: the
 *   in-flight limits shed load instead of queueing it);
 * - how long after the flood the gateway answers normally again (10 consecutive 200s within
 *   twice the idle p50).
 * Capacity is measured first, in the same run: req/s at 16 connections for 10 s per route.
 *
 * The gateway's in-flight limits (GATEWAY_MAX_TEXTS_IN_FLIGHT, GATEWAY_MAX_REVIEWS_IN_FLIGHT)
 * are set to `--max-in-flight` (64): about one second of this machine's capacity, which is how
 * they should be sized (capacity x the queueing delay clients accept). With the defaults
 * (2,048 texts, 10,000 reviews) the 256 connections of the flood never reach them: the
 * excess waits in the queue (p99 2.6 s here) instead of being refused.
 *
 *   npm run bench:flood [-- --seconds 60 --factor 2 --max-in-flight 64 --model models/sentiment-minilm]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { createApiKey } from '../../services/gateway/api-keys.ts';
import { progress, sst2Sentences, table } from './common.ts';
import { benchServiceEnv, benchStack, startService } from './stack.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    factor: { type: 'string', default: '2' },
    port: { type: 'string', default: '28091' },
    'max-in-flight': { type: 'string', default: '64' },
    model: { type: 'string', default: 'models/sentiment-minilm' },
  },
});
const SECONDS = Number(values.seconds);
const FACTOR = Number(values.factor);
const url = `http://127.0.0.1:${values.port}`;
const texts = sst2Sentences('dev').slice(0, 200);

// One key for the load, with a rate limit no flood reaches: this measures overload shedding,
// not the per-key limit (tests/unit/gateway-security.test.ts covers that).
const keys = mkdtempSync(join(tmpdir(), 'flood-keys-'));
const { key, record } = createApiKey('flood', ['predict', 'submit'], {
  rateLimitPerMinute: 100_000_000,
});
writeFileSync(join(keys, 'api-keys.json'), JSON.stringify({ keys: [record] }));
const headers = { 'content-type': 'application/json', authorization: `Bearer ${key}` };

const routes = {
  predict: {
    path: '/v1/predict',
    body: (i: number) => JSON.stringify({ texts: [texts[i % texts.length]!] }),
  },
  reviews: {
    path: '/v1/reviews',
    body: (i: number) =>
      JSON.stringify({ reviews: [{ text: texts[i % texts.length]!, source: 'flood' }] }),
  },
} as const;
type Route = keyof typeof routes;

function load(route: Route, options: { connections: number; seconds: number; rate?: number }) {
  let i = 0;
  return autocannon({
    url: `${url}${routes[route].path}`,
    method: 'POST',
    headers,
    connections: options.connections,
    duration: options.seconds,
    timeout: 10,
    ...(options.rate ? { overallRate: options.rate } : {}),
    requests: [{ setupRequest: (request) => ({ ...request, body: routes[route].body(i++) }) }],
  });
}

function rssMb(pid: number): number {
  const kb = Number(execFileSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8' }));
  return kb / 1024;
}

async function probe(): Promise<{ ok: boolean; ms: number }> {
  const started = performance.now();
  const response = await fetch(`${url}/v1/predict`, {
    method: 'POST',
    headers,
    body: routes.predict.body(0),
  }).catch(() => undefined);
  return { ok: response?.status === 200, ms: performance.now() - started };
}

progress('starting the bench stack and the gateway');
benchStack('up');
const gateway = startService(
  'gateway',
  benchServiceEnv({
    GATEWAY_PORT: values.port,
    GATEWAY_HOST: '127.0.0.1',
    GATEWAY_API_KEYS_FILE: join(keys, 'api-keys.json'),
    GATEWAY_MAX_TEXTS_IN_FLIGHT: values['max-in-flight'],
    GATEWAY_MAX_REVIEWS_IN_FLIGHT: values['max-in-flight'],
    MODEL_DIR: values.model,
  }),
);
try {
  for (let ready = false; !ready;) {
    await new Promise((resolve) => setTimeout(resolve, 300));
    ready = await fetch(`${url}/ready`).then(
      (r) => r.ok,
      () => false,
    );
  }
  const idle: number[] = [];
  for (let i = 0; i < 50; i++) idle.push((await probe()).ms);
  idle.sort((a, b) => a - b);
  const idleP50 = idle[25]!;
  const rssBefore = rssMb(gateway.pid!);

  const capacity: Record<Route, number> = { predict: 0, reviews: 0 };
  for (const route of Object.keys(routes) as Route[]) {
    progress(`capacity of ${routes[route].path}: 16 connections, 10 s`);
    capacity[route] = (await load(route, { connections: 16, seconds: 10 })).requests.average;
  }

  progress(
    `flood: ${FACTOR}x capacity on both routes for ${SECONDS} s ` +
      `(${Math.round(capacity.predict * FACTOR)} + ${Math.round(capacity.reviews * FACTOR)} req/s)`,
  );
  let rssMax = rssBefore;
  const sampler = setInterval(() => {
    rssMax = Math.max(rssMax, rssMb(gateway.pid!));
  }, 1_000);
  const [predict, reviews] = await Promise.all(
    (Object.keys(routes) as Route[]).map((route) =>
      load(route, {
        connections: 256,
        seconds: SECONDS,
        rate: Math.round(capacity[route] * FACTOR),
      }),
    ),
  );
  clearInterval(sampler);

  const floodEnded = performance.now();
  let streak = 0;
  while (streak < 10 && performance.now() - floodEnded < 60_000) {
    const { ok, ms } = await probe();
    streak = ok && ms <= 2 * idleP50 + 5 ? streak + 1 : 0;
  }
  const recoverySeconds = (performance.now() - floodEnded) / 1000;
  const rssAfter = rssMb(gateway.pid!);

  const rows = [predict!, reviews!].map((result, index) => {
    const route = (Object.keys(routes) as Route[])[index]!;
    const codes = result.statusCodeStats as unknown as Record<string, { count: number }>;
    const count = (code: string) => codes[code]?.count ?? 0;
    const other = Object.entries(codes)
      .filter(([code]) => !['200', '202', '429', '503'].includes(code))
      .reduce((sum, [, { count: n }]) => sum + n, 0);
    return {
      route: routes[route].path,
      'capacity req/s': Math.round(capacity[route]),
      'offered req/s': Math.round(capacity[route] * FACTOR),
      'served 2xx/s': Math.round((count('200') + count('202')) / SECONDS),
      '429': count('429'),
      '503': count('503'),
      'other status': other,
      'errors/timeouts': result.errors + result.timeouts,
      'p99 ms (all answers)': result.latency.p99,
    };
  });
  console.log(`\n${table(rows)}\n`);
  console.log(
    table([
      {
        'in-flight limit': values['max-in-flight'],
        'idle p50 ms': idleP50.toFixed(1),
        'RSS before MB': rssBefore.toFixed(0),
        'RSS max during MB': rssMax.toFixed(0),
        'RSS after MB': rssAfter.toFixed(0),
        'max / before': (rssMax / rssBefore).toFixed(2),
        'back to normal after s': recoverySeconds.toFixed(1),
      },
    ]),
  );
} finally {
  gateway.kill('SIGTERM');
  await new Promise((resolve) => gateway.once('exit', resolve));
  benchStack('down');
}
