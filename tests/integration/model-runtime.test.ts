import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelHost, SentimentEngine, keepOnlyOutputs, prepareModelFolder } from '#shared/model';
import {
  BOOTSTRAP_MODEL_DIR,
  copyModelAsVersion,
  parityCases,
  softmax,
  sst2Dev,
} from '../support/model.ts';

describe('model runtime on the committed bootstrap model', () => {
  let host: ModelHost;
  beforeAll(async () => {
    host = await ModelHost.start(BOOTSTRAP_MODEL_DIR);
  });
  afterAll(async () => {
    await host?.close();
  });

  it('reaches >= 0.82 accuracy on SST-2 dev through the production path (tokenizer + onnxruntime)', async () => {
    const dev = sst2Dev();
    expect(dev).toHaveLength(872);
    const { results } = await host.score(dev.map((row) => row.text));
    const correct = results.filter((result, i) => result.labelIndex === dev[i]!.label).length;
    const accuracy = correct / dev.length;
    console.log(
      `SST-2 dev accuracy through the runtime: ${accuracy.toFixed(4)} (${correct}/${dev.length})`,
    );
    expect(accuracy).toBeGreaterThanOrEqual(0.82);
  });

  it('matches the PyTorch export check: probabilities within 1e-5, embedding within 1e-5', async () => {
    const cases = parityCases();
    const { results } = await host.score(cases.map((c) => c.text));
    cases.forEach((c, i) => {
      const expected = softmax(c.logits);
      results[i]!.probabilities.forEach((p, k) =>
        expect(Math.abs(p - expected[k]!)).toBeLessThan(1e-5),
      );
      const embedding = results[i]!.embedding;
      c.cls_embedding.forEach((v, k) => expect(Math.abs(embedding[k]! - v)).toBeLessThan(1e-5));
    });
  });

  it('truncates texts over the model maximum and flags them, padding never changes a result', async () => {
    const long = 'a wonderful , moving and utterly convincing film . '.repeat(40);
    const alone = await host.score(['bad']);
    const { results } = await host.score([long, 'bad', 'good fun']);
    expect(results[0]!.truncated).toBe(true);
    expect(results[0]!.tokens).toBe(host.model.maxLength);
    expect(results[1]!.truncated).toBe(false);
    expect(results[1]!.probabilities[0]).toBeCloseTo(alone.results[0]!.probabilities[0]!, 6);
  });

  it('keeps the event loop responsive (< 50 ms delay) while 64 long texts are scored', async () => {
    const texts = Array.from(
      { length: 64 },
      (_, i) => `${'an overlong , rambling review that goes on . '.repeat(30)} ${i}`,
    );
    const histogram = monitorEventLoopDelay({ resolution: 5 });
    histogram.enable();
    await host.score(texts);
    histogram.disable();
    const maxMs = histogram.max / 1e6;
    console.log(
      `event-loop delay while scoring 64 long texts: max ${maxMs.toFixed(1)} ms, p99 ${(histogram.percentile(99) / 1e6).toFixed(1)} ms`,
    );
    expect(maxMs).toBeLessThan(50);
  });

  it('hot-swaps under load: no failed request, each scored once by one version, memory bounded', async () => {
    const versions = ['swap-a', 'swap-b'].map((version) => copyModelAsVersion(version));
    const seen: string[] = [];
    let failures = 0;
    let running = true;
    const load = (async () => {
      while (running) {
        try {
          const { model, results } = await host.score(['steady traffic during a swap']);
          expect(results).toHaveLength(1);
          seen.push(model.version);
        } catch {
          failures++;
        }
      }
    })();
    await host.swap(versions[0]!);
    await host.swap(versions[1]!);
    running = false;
    await load;
    console.log(`hot swap under load: ${seen.length} requests, ${failures} failed`);
    expect(failures).toBe(0);
    expect(seen.filter((version) => !['1', 'swap-a', 'swap-b'].includes(version))).toEqual([]);
    expect(seen[seen.length - 1]).toBe('swap-b');

    // Memory: a leaked model would add ~50 MB per swap; after warm-up RSS must plateau.
    const rssBefore = process.memoryUsage().rss;
    for (let i = 0; i < 10; i++) {
      await host.swap(versions[i % 2]!);
      await host.score(['after a swap']);
    }
    const growthMb = (process.memoryUsage().rss - rssBefore) / 1e6;
    console.log(`RSS growth over 10 more swaps: ${growthMb.toFixed(1)} MB`);
    expect(growthMb).toBeLessThan(40);
  });
});

describe('prepare: a logits-only export gets its hidden state exposed', () => {
  it('loads and gives the same embedding and logits as the export with a [CLS] output', async () => {
    const logitsOnly = copyModelAsVersion('logits-only');
    const onnxPath = join(logitsOnly, 'onnx/model.onnx');
    writeFileSync(onnxPath, keepOnlyOutputs(readFileSync(onnxPath), ['logits']));
    const card = JSON.parse(readFileSync(join(logitsOnly, 'model-card.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    delete card.embeddingOutput;
    writeFileSync(join(logitsOnly, 'model-card.json'), JSON.stringify(card));
    await expect(SentimentEngine.load(logitsOnly)).rejects.toThrow(/no output "cls_embedding"/);

    prepareModelFolder(logitsOnly, logitsOnly);
    const prepared = await SentimentEngine.load(logitsOnly);
    const original = await SentimentEngine.load(BOOTSTRAP_MODEL_DIR);
    const texts = parityCases().map((c) => c.text);
    const [a, b] = [await prepared.score(texts), await original.score(texts)];
    a.forEach((result, i) => {
      expect(result.probabilities[1]).toBeCloseTo(b[i]!.probabilities[1]!, 6);
      result.embedding.forEach((v, k) =>
        expect(Math.abs(v - b[i]!.embedding[k]!)).toBeLessThan(1e-6),
      );
    });
    expect(prepared.info.embeddingOutput).toBe('last_hidden_state');
    await prepared.release();
    await original.release();
  });
});
