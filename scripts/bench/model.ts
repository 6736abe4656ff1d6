/**
 * Model benchmark: throughput and latency of the production runtime path (transformers.js
 * tokenizer + onnxruntime-node, length-bucketed batches) by batch size and text length,
 * against a naive baseline measured in the same run: transformers.js
 * `pipeline('sentiment-analysis')` on the same model, one text at a time.
 *   npm run bench:model [-- --model models/sentiment-bootstrap --seconds 3]
 */
import { parseArgs } from 'node:util';
import { pipeline, type TextClassificationPipeline } from '@huggingface/transformers';
import { SentimentEngine } from '#shared/model';
import { REPO_ROOT } from '#shared/serde';
import { percentile, progress, sst2Sentences, table } from './common.ts';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/sentiment-bootstrap' },
    seconds: { type: 'string', default: '3' },
    threads: { type: 'string', default: '1' },
  },
});
const seconds = Number(values.seconds);
const engine = await SentimentEngine.load(`${REPO_ROOT}${values.model}`, {
  intraOpThreads: Number(values.threads),
  maxBatchSize: 1024,
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
): Promise<{ textsPerSecond: number; p50: number; p99: number }> {
  const latencies: number[] = [];
  let done = 0;
  const started = performance.now();
  for (let i = 0; performance.now() - started < seconds * 1000; i += batchSize) {
    const batch = Array.from({ length: batchSize }, (_, k) => texts[(i + k) % texts.length]!);
    const t0 = performance.now();
    await engine.score(batch);
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
  for (const batchSize of [1, 8, 32, 64]) {
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
console.log(`single short text latency p50 ${(single['batch p50 ms'] as number).toFixed(2)} ms`);
await engine.release();
