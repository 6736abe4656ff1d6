/**
 * Gateway benchmark: autocannon against the gateway process (with its own local stack) at
 * several concurrencies: requests/s, p50, p99, and p50 over the raw model's single-text
 * latency measured in the same run.
 *   npm run bench:gateway [-- --seconds 5]
 */
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { SentimentEngine } from '#domain/model';
import { REPO_ROOT } from '../lib/repo.ts';
import { percentile, progress, sst2Sentences, table } from './common.ts';
import { benchServiceEnv, benchStack, startService } from './stack.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    port: { type: 'string', default: '28080' },
    model: { type: 'string', default: 'models/sentiment-minilm' },
  },
});
const text = sst2Sentences('dev').find((s) => s.split(' ').length === 20)!;

progress('raw model single-text latency');
const engine = await SentimentEngine.load(`${REPO_ROOT}${values.model}`);
const raw: number[] = [];
for (let i = 0; i < 500; i++) {
  const t0 = performance.now();
  await engine.score([text]);
  raw.push(performance.now() - t0);
}
raw.sort((a, b) => a - b);
const rawP50 = percentile(raw, 50);
await engine.release();

progress('starting the bench stack and the gateway');
benchStack('up');
const gateway = startService(
  'gateway',
  benchServiceEnv({ GATEWAY_PORT: values.port, GATEWAY_HOST: '127.0.0.1' }),
);
const url = `http://127.0.0.1:${values.port}`;
for (let ready = false; !ready;) {
  await new Promise((resolve) => setTimeout(resolve, 300));
  ready = await fetch(`${url}/ready`).then(
    (r) => r.ok,
    () => false,
  );
}

const rows: Record<string, string | number>[] = [];
for (const connections of [1, 4, 16, 64]) {
  progress(`autocannon: ${connections} connections, ${values.seconds} s`);
  const result = await autocannon({
    url: `${url}/v1/predict`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ texts: [text] }),
    connections,
    duration: Number(values.seconds),
  });
  rows.push({
    connections,
    'req/s': result.requests.average,
    'p50 ms': result.latency.p50,
    'p99 ms': result.latency.p99,
    errors: result.errors + result.non2xx,
    'p50 / raw model p50': result.latency.p50 / rawP50,
  });
}
console.log(
  `\nraw model single text (${text.split(' ').length} words): p50 ${rawP50.toFixed(2)} ms\n`,
);
console.log(table(rows));
gateway.kill('SIGTERM');
await new Promise((resolve) => gateway.once('exit', resolve));
benchStack('down');
