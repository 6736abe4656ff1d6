/**
 * The sentiment model in one thread: transformers.js tokenizer (offline) + onnxruntime-node
 * session. One forward pass gives the logits and the [CLS] embedding. Used inside inference
 * workers (worker.ts), never on a service's main event loop.
 */
import { dirname, basename } from 'node:path';
import {
  AutoTokenizer,
  env as transformersEnv,
  type PreTrainedTokenizer,
} from '@huggingface/transformers';
import * as ort from 'onnxruntime-node';
import { AppError } from '#shared/common';
import { argmax, bucketByLength, padBatch, softmax, truncateIds } from './batching.ts';
import { type ModelInfo, readModelFolder } from './folder.ts';

export interface EngineOptions {
  /** onnxruntime intra-op threads. Default 1: scale out with workers/processes instead. */
  readonly intraOpThreads?: number;
  /** Texts per forward pass. Default 32. */
  readonly maxBatchSize?: number;
  /**
   * Padded tokens per forward pass (texts x longest text). Default 256, by measurement on the
   * production model with one thread (README "Performance"): its throughput peaks near 250
   * tokens per pass (8 medium texts: 76 texts/s, 32 of them: 51; long texts: the same at 1 as
   * at 8, lower above) while latency grows with the batch; short texts still go 20-30 at a
   * time. The compact model is as fast at this budget as at 32 texts.
   */
  readonly maxBatchTokens?: number;
  /** Let idle onnxruntime threads spin (lower latency, burns CPU). Default false. */
  readonly allowSpinning?: boolean;
}

export interface ScoredText {
  readonly labelIndex: number;
  readonly label: string;
  readonly probabilities: number[];
  readonly confidence: number;
  readonly embedding: Float32Array;
  /** The text had more tokens than the model accepts and was cut. */
  readonly truncated: boolean;
  readonly tokens: number;
}

export class ModelLoadError extends AppError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('MODEL_LOAD_FAILED', message, options);
  }
}

export const DEFAULT_MAX_BATCH_TOKENS = 256;

// Never download: a missing local file must fail, not reach for a hub.
transformersEnv.allowRemoteModels = false;
transformersEnv.allowLocalModels = true;

export class SentimentEngine {
  /** Whether the embedding output is [batch, seq, hidden] (else [batch, hidden]). */
  private embeddingIsSequence = false;

  private constructor(
    readonly info: ModelInfo,
    private readonly tokenizer: PreTrainedTokenizer,
    private readonly session: ort.InferenceSession,
    private readonly maxBatchSize: number,
    private readonly maxBatchTokens: number,
  ) {}

  static async load(folder: string, options: EngineOptions = {}): Promise<SentimentEngine> {
    const info = readModelFolder(folder);
    try {
      transformersEnv.localModelPath = `${dirname(info.path)}/`;
      const tokenizer = await AutoTokenizer.from_pretrained(basename(info.path), {
        local_files_only: true,
      });
      const session = await ort.InferenceSession.create(info.onnxPath, {
        intraOpNumThreads: options.intraOpThreads ?? 1,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
        extra: {
          session: {
            'intra_op.allow_spinning': options.allowSpinning ? '1' : '0',
            'inter_op.allow_spinning': '0',
            // Fold the DequantizeLinear of constant weights at load: an int8-weight graph
            // (models/quantize_minilm.py) then computes in fp32 at fp32 speed.
            disable_quant_qdq: '1',
          },
        },
      });
      for (const name of ['logits', info.embeddingOutput]) {
        if (!session.outputNames.includes(name)) {
          throw new ModelLoadError(
            `${info.onnxPath} has no output "${name}" (outputs: ${session.outputNames.join(', ')}); ` +
              'run scripts/prepare-model.ts on a logits-only export',
          );
        }
      }
      const engine = new SentimentEngine(
        info,
        tokenizer,
        session,
        options.maxBatchSize ?? 32,
        options.maxBatchTokens ?? DEFAULT_MAX_BATCH_TOKENS,
      );
      // One warm-up pass, which also tells the embedding output's shape.
      const probe = await engine.run([tokenizer.encode('')]);
      engine.embeddingIsSequence = probe.embedding.dims.length === 3;
      return engine;
    } catch (error) {
      if (error instanceof AppError) throw error;
      throw new ModelLoadError(`cannot load model ${info.path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  /** Token ids the model sees for a text ([CLS] ... [SEP], truncated to maxLength). */
  tokenize(text: string): { ids: number[]; truncated: boolean } {
    return truncateIds(
      this.tokenizer.encode(text),
      this.info.maxLength,
      this.tokenizer.sep_token_id,
    );
  }

  /** Scores texts in length-bucketed batches; results are in input order. */
  async score(texts: readonly string[]): Promise<ScoredText[]> {
    const encoded = texts.map((text) => this.tokenize(text));
    const results = new Array<ScoredText>(texts.length);
    for (const bucket of bucketByLength(
      encoded.map((e) => e.ids.length),
      this.maxBatchSize,
      this.maxBatchTokens,
    )) {
      const { logits, embedding } = await this.run(bucket.map((index) => encoded[index]!.ids));
      const classes = logits.dims[1] ?? 2;
      const hidden = embedding.dims[embedding.dims.length - 1] ?? 0;
      const rowStride = this.embeddingIsSequence ? (embedding.dims[1] ?? 1) * hidden : hidden;
      const logitData = logits.data as Float32Array;
      const embeddingData = embedding.data as Float32Array;
      bucket.forEach((index, row) => {
        const probabilities = softmax(logitData.subarray(row * classes, (row + 1) * classes));
        const labelIndex = argmax(probabilities);
        results[index] = {
          labelIndex,
          label: this.info.labels[labelIndex] ?? String(labelIndex),
          probabilities,
          confidence: probabilities[labelIndex] ?? 0,
          // A copy, so the result owns its memory and can be transferred between threads.
          embedding: embeddingData.slice(row * rowStride, row * rowStride + hidden),
          truncated: encoded[index]!.truncated,
          tokens: encoded[index]!.ids.length,
        };
      });
    }
    return results;
  }

  async release(): Promise<void> {
    await this.session.release();
  }

  private async run(idLists: readonly (readonly number[])[]) {
    const batch = padBatch(idLists, this.tokenizer.pad_token_id ?? 0);
    const dims = [batch.batchSize, batch.sequenceLength];
    const output = await this.session.run({
      input_ids: new ort.Tensor('int64', batch.inputIds, dims),
      attention_mask: new ort.Tensor('int64', batch.attentionMask, dims),
    });
    const logits = output.logits;
    const embedding = output[this.info.embeddingOutput];
    if (!logits || !embedding) throw new ModelLoadError('model returned no logits or embedding');
    return { logits, embedding };
  }
}
