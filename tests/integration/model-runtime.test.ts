import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ModelHost,
  type ScoredText,
  SentimentEngine,
  keepOnlyOutputs,
  prepareModelFolder,
} from '#domain/model';
import {
  COMPACT_MODEL_DIR,
  PRODUCTION_MODEL_DIR,
  copyModelAsVersion,
  parityCases,
  softmax,
  sst2Dev,
} from '../support/model.ts';

/**
 * Both committed models through the production path. Accuracy floors: production (all-MiniLM-L6-v2
 * fine-tuned, int8) 0.88 as issue 11 asks; compact 0.82. Parity: parity.json holds what the
 * model build computed for the served graph (PyTorch for the compact fp32 graph, onnxruntime's
 * Python build of the same version for the int8 graph).
 */
describe.each([
  {
    name: 'production (sentiment-minilm)',
    folder: PRODUCTION_MODEL_DIR,
    minAccuracy: 0.88,
    // int8 weights, fp32 compute: padding and batch neighbours change the outputs only at
    // float rounding. (Dynamic int8, which quantizes activations per batch, flipped the label of
    // 2 % of SST-2 dev sentences between alone and batched: models/README.md.)
    batchTolerance: 1e-5,
  },
  {
    name: 'compact (sentiment-compact)',
    folder: COMPACT_MODEL_DIR,
    minAccuracy: 0.82,
    batchTolerance: 1e-6,
  },
])('model runtime: $name', ({ folder, minAccuracy, batchTolerance }) => {
  let host: ModelHost;
  beforeAll(async () => {
    host = await ModelHost.start(folder);
  });
  afterAll(async () => {
    await host?.close();
  });

  it('reaches the accuracy floor on SST-2 dev through the production path (tokenizer + onnxruntime)', async () => {
    const dev = sst2Dev();
    expect(dev).toHaveLength(872);
    const { results } = await host.score(dev.map((row) => row.text));
    const correct = results.filter((result, i) => result.labelIndex === dev[i]!.label).length;
    const accuracy = correct / dev.length;
    console.log(
      `${host.model.path}: SST-2 dev accuracy through the runtime ${accuracy.toFixed(4)} (${correct}/${dev.length})`,
    );
    expect(accuracy).toBeGreaterThanOrEqual(minAccuracy);
  });

  it("matches the model build's outputs: probabilities within 1e-5, embedding within 1e-5", async () => {
    const cases = parityCases(folder);
    // One text per forward pass, as the build computed them.
    const results: ScoredText[] = [];
    for (const c of cases) results.push(...(await host.score([c.text])).results);
    cases.forEach((c, i) => {
      const expected = softmax(c.logits);
      results[i]!.probabilities.forEach((p, k) =>
        expect(Math.abs(p - expected[k]!)).toBeLessThan(1e-5),
      );
      const embedding = results[i]!.embedding;
      expect(embedding).toHaveLength(host.model.hiddenSize);
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
    expect(
      Math.abs(results[1]!.probabilities[0]! - alone.results[0]!.probabilities[0]!),
    ).toBeLessThan(batchTolerance);
  });

  it('scores a text the same alone or in a batch (label always, probability within float rounding)', async () => {
    const texts = sst2Dev()
      .slice(0, 300)
      .map((row) => row.text);
    const batched = (await host.score(texts)).results;
    let flips = 0;
    let maxDiff = 0;
    for (let i = 0; i < texts.length; i++) {
      const [alone] = (await host.score([texts[i]!])).results;
      if (alone!.labelIndex !== batched[i]!.labelIndex) flips++;
      maxDiff = Math.max(
        maxDiff,
        Math.abs(alone!.probabilities[1]! - batched[i]!.probabilities[1]!),
      );
    }
    console.log(
      `${host.model.path}: ${texts.length} dev sentences alone vs batched: ${flips} label flips, ` +
        `max |probability diff| ${maxDiff.toExponential(2)}`,
    );
    expect(flips).toBe(0);
    expect(maxDiff).toBeLessThan(batchTolerance);
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
});

describe('model runtime: hot swap (compact model)', () => {
  let host: ModelHost;
  beforeAll(async () => {
    host = await ModelHost.start(COMPACT_MODEL_DIR);
  });
  afterAll(async () => {
    await host?.close();
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
    const original = await SentimentEngine.load(COMPACT_MODEL_DIR);
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
