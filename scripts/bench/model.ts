/**
 * Model benchmark: throughput and latency of the production runtime path (transformers.js
 * tokenizer + onnxruntime-node, length-bucketed batches) by batch size and text length,
 * against a naive baseline measured in the same run: transformers.js
 * `pipeline('sentiment-analysis')` on the same model, one text at a time.
 * Also: the padded-token budget per forward pass (MAX_BATCH_TOKENS) against none on the same
 * long texts, and the event-loop delay of the calling thread while a worker scores 64 long
 * texts (the services score in worker threads).
 *   npm run bench:model [-- --model models/sentiment-minilm --seconds 3 --threads 1 --tokens 2048]
 */
import { parseArgs } from 'node:util';
import { pipeline, type TextClassificationPipeline } from '@huggingface/transformers';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { DEFAULT_MAX_BATCH_TOKENS, ModelHost, SentimentEngine } from '#domain/model';
import { REPO_ROOT } from '../lib/repo.ts';
import { percentile, progress, sst2Sentences, table } from './common.ts';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/sentiment-minilm' },
    seconds: { type: 'string', default: '3' },
    threads: { type: 'string', default: '1' },
    tokens: { type: 'string', default: String(DEFAULT_MAX_BATCH_TOKENS) },
  },
});
const seconds = Number(values.seconds);
const engine = await SentimentEngine.load(`${REPO_ROOT}${values.model}`, {
  intraOpThreads: Number(values.threads),
  maxBatchSize: 1024,
  maxBatchTokens: Infinity,
});

const sentences = sst2Sentences('train');
const byWords = (min: number, max: number) =>
  sentences.filter((s) => s.split(' ').length >= min && s.split(' ').length <= max);
const lengths = {
  short: byWords(3, 8),
  medium: byWords(18, 30),
  long: byWords(45, 200).map((s) => `${s} ${s} ${s}`), // ~128 tokens after truncation
};

async function measure(
  texts: string[],
  batchSize: number,
  scorer: { score(texts: readonly string[]): Promise<unknown> } = engine,
): Promise<{ textsPerSecond: number; p50: number; p99: number }> {
  const latencies: number[] = [];
  let done = 0;
  const started = performance.now();
  for (let i = 0; performance.now() - started < seconds * 1000; i += batchSize) {
    const batch = Array.from({ length: batchSize }, (_, k) => texts[(i + k) % texts.length]!);
    const t0 = performance.now();
    await scorer.score(batch);
    latencies.push(performance.now() - t0);
    done += batchSize;
  }
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    textsPerSecond: done / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

const rows: Record<string, string | number>[] = [];
for (const [name, texts] of Object.entries(lengths)) {
  for (const batchSize of [1, 8, 16, 32, 64]) {
    progress(`runtime: ${name} texts, batch ${batchSize}`);
    const result = await measure(texts, batchSize);
    rows.push({
      texts: name,
      batch: batchSize,
      'texts/s': result.textsPerSecond,
      'batch p50 ms': result.p50,
      'batch p99 ms': result.p99,
    });
  }
}

progress(`long texts, batch 64, at most ${values.tokens} padded tokens per forward pass`);
const budgeted = await SentimentEngine.load(`${REPO_ROOT}${values.model}`, {
  intraOpThreads: Number(values.threads),
  maxBatchSize: 64,
  maxBatchTokens: Number(values.tokens),
});
const withBudget = await measure(lengths.long, 64, budgeted);
await budgeted.release();

progress('event-loop delay while a worker scores 64 long texts');
const host = await ModelHost.start(`${REPO_ROOT}${values.model}`, {
  intraOpThreads: Number(values.threads),
});
const histogram = monitorEventLoopDelay({ resolution: 5 });
histogram.enable();
for (let i = 0; i < 5; i++) await host.score(lengths.long.slice(i * 64, (i + 1) * 64));
histogram.disable();
await host.close();

progress('baseline: transformers.js pipeline, one text at a time (medium texts)');
const classifier = (await pipeline('sentiment-analysis', `${REPO_ROOT}${values.model}`, {
  local_files_only: true,
  session_options: { intraOpNumThreads: Number(values.threads) },
})) as TextClassificationPipeline;
const baselineLatencies: number[] = [];
const baselineStart = performance.now();
for (let i = 0; performance.now() - baselineStart < seconds * 1000; i++) {
  const t0 = performance.now();
  await classifier(lengths.medium[i % lengths.medium.length]!);
  baselineLatencies.push(performance.now() - t0);
}
const baselineRate = baselineLatencies.length / ((performance.now() - baselineStart) / 1000);
baselineLatencies.sort((a, b) => a - b);
const best = rows
  .filter((row) => row.texts === 'medium')
  .reduce((a, b) => ((a['texts/s'] as number) > (b['texts/s'] as number) ? a : b));
const single = rows.find((row) => row.texts === 'short' && row.batch === 1)!;

console.log(
  `\nModel: ${engine.info.name} v${engine.info.version}, ${values.threads} intra-op thread(s)\n`,
);
console.log(table(rows));
console.log(
  `\nbaseline pipeline('sentiment-analysis'), one medium text at a time: ${baselineRate.toFixed(0)} texts/s, ` +
    `p50 ${percentile(baselineLatencies, 50).toFixed(2)} ms, p99 ${percentile(baselineLatencies, 99).toFixed(2)} ms`,
);
console.log(
  `runtime best on medium texts: ${(best['texts/s'] as number).toFixed(0)} texts/s at batch ${best.batch} ` +
    `= ${((best['texts/s'] as number) / baselineRate).toFixed(2)}x the baseline`,
);
const noBudget = rows.find((row) => row.texts === 'long' && row.batch === 64)!;
console.log(
  `long texts, batch 64: no token budget ${(noBudget['texts/s'] as number).toFixed(0)} texts/s ` +
    `(p50 ${(noBudget['batch p50 ms'] as number).toFixed(0)} ms); at most ${values.tokens} tokens per pass ` +
    `${withBudget.textsPerSecond.toFixed(0)} texts/s (p50 ${withBudget.p50.toFixed(0)} ms) = ` +
    `${(withBudget.textsPerSecond / (noBudget['texts/s'] as number)).toFixed(2)}x`,
);
console.log(
  `event-loop delay while a worker scores 5 x 64 long texts: max ${(histogram.max / 1e6).toFixed(1)} ms, ` +
    `p99 ${(histogram.percentile(99) / 1e6).toFixed(1)} ms`,
);
console.log(`single short text latency p50 ${(single['batch p50 ms'] as number).toFixed(2)} ms`);
await engine.release();
