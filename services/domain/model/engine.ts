/**
 * The sentiment model in one thread: the model folder's tokenizer (@huggingface/tokenizers,
 * tokenizer.ts) + an onnxruntime-node session. One forward pass gives the logits and the [CLS]
 * embedding. Used inside inference workers (worker.ts), never on a service's main event loop.
 *
 * onnxruntime-node is imported by `load`, not by this module: every service imports the model
 * layer (#domain/model) for its types and helpers, and only threads that load a model should
 * map onnxruntime's native library (scripts/bench/model-memory.ts).
 */
import { readFileSync } from 'node:fs';
import type * as Ort from 'onnxruntime-node';
import { AppError } from '#platform/common';
import { argmax, bucketByLength, padBatch, softmax, truncateIds } from './batching.ts';
import { type ModelInfo, readModelFolder } from './folder.ts';
import { keepLookupTablesInt8 } from './int8-tables.ts';
import { type TextTokenizer, loadTokenizer } from './tokenizer.ts';

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
  /**
   * onnxruntime's CPU memory arena (`enableCpuMemArena`): activations are carved from blocks it
   * keeps, and it grows to the largest forward pass and never shrinks. Default true: without
   * it, the same activations go through malloc, which keeps freed memory as well and ends
   * higher on long texts (scripts/bench/model-memory.ts); maxBatchTokens bounds the peak.
   */
  readonly cpuMemArena?: boolean;
  /**
   * Keep int8 lookup tables (the word-piece embeddings) int8 in memory instead of letting
   * onnxruntime fold them to fp32 at load (int8-tables.ts): same outputs, bit for bit, 35 MB
   * less for the production model. Default true.
   */
  readonly int8LookupTables?: boolean;
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

/**
 * What onnxruntime loads: the file's path (onnxruntime reads it itself), or, when lookup tables
 * are kept int8 and the graph has one, the rewritten bytes. Either way the file is unchanged.
 */
function modelSource(onnxPath: string, options: EngineOptions): string | Uint8Array {
  if (options.int8LookupTables === false) return onnxPath;
  const file = readFileSync(onnxPath);
  const { bytes, tables } = keepLookupTablesInt8(file);
  discard(file);
  return tables.length > 0 ? bytes : onnxPath;
}

/**
 * Frees a buffer's memory now. The model's bytes (23 MB, twice while rewriting) are garbage
 * once the session exists, but a worker that only scores rarely runs the major GC that would
 * free them: they stayed resident (scripts/bench/model-memory.ts). Detaching the ArrayBuffer
 * (ES2024 `transfer`) releases its memory at once; only a buffer the array spans whole is
 * detached (a pooled one is shared).
 */
function discard(bytes: Uint8Array): void {
  const buffer = bytes.buffer as ArrayBuffer & { transfer?: (length: number) => ArrayBuffer };
  if (bytes.byteOffset === 0 && bytes.byteLength === buffer.byteLength) buffer.transfer?.(0);
}

export class SentimentEngine {
  /** Whether the embedding output is [batch, seq, hidden] (else [batch, hidden]). */
  private embeddingIsSequence = false;

  private constructor(
    readonly info: ModelInfo,
    private readonly tokenizer: TextTokenizer,
    private readonly ort: typeof Ort,
    private readonly session: Ort.InferenceSession,
    private readonly maxBatchSize: number,
    private readonly maxBatchTokens: number,
  ) {}

  static async load(folder: string, options: EngineOptions = {}): Promise<SentimentEngine> {
    const info = readModelFolder(folder);
    try {
      const tokenizer = await loadTokenizer(info.path);
      const ort = await import('onnxruntime-node');
      const sessionOptions: Ort.InferenceSession.SessionOptions = {
        intraOpNumThreads: options.intraOpThreads ?? 1,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
        enableCpuMemArena: options.cpuMemArena ?? true,
        extra: {
          session: {
            'intra_op.allow_spinning': options.allowSpinning ? '1' : '0',
            'inter_op.allow_spinning': '0',
            // Fold the DequantizeLinear of constant weights at load: an int8-weight graph
            // (models/quantize_minilm.py) then computes in fp32 at fp32 speed.
            disable_quant_qdq: '1',
          },
        },
      };
      const source = modelSource(info.onnxPath, options);
      const session =
        typeof source === 'string'
          ? await ort.InferenceSession.create(source, sessionOptions)
          : await ort.InferenceSession.create(source, sessionOptions);
      // onnxruntime copied what it needs (loading is synchronous inside create).
      if (typeof source !== 'string') discard(source);
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
        ort,
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
    return truncateIds(this.tokenizer.encode(text), this.info.maxLength, this.tokenizer.sepTokenId);
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
    const batch = padBatch(idLists, this.tokenizer.padTokenId);
    const dims = [batch.batchSize, batch.sequenceLength];
    const output = await this.session.run({
      input_ids: new this.ort.Tensor('int64', batch.inputIds, dims),
      attention_mask: new this.ort.Tensor('int64', batch.attentionMask, dims),
    });
    const logits = output.logits;
    const embedding = output[this.info.embeddingOutput];
    if (!logits || !embedding) throw new ModelLoadError('model returned no logits or embedding');
    return { logits, embedding };
  }
}
