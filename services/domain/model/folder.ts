/**
 * A model folder in Hugging Face layout (config.json, tokenizer.json, tokenizer_config.json,
 * onnx/model.onnx) plus this project's optional model-card.json. Reading it never touches
 * the network.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { AppError } from '#platform/common';

export class ModelFolderError extends AppError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('MODEL_FOLDER_INVALID', message, options);
  }
}

export interface ModelInfo {
  readonly path: string;
  readonly name: string;
  readonly version: string;
  /** Class labels by index (config.json id2label). */
  readonly labels: readonly string[];
  /** Tokens per text the graph accepts, [CLS] and [SEP] included. */
  readonly maxLength: number;
  readonly hiddenSize: number;
  readonly onnxPath: string;
  /** Output holding the [CLS] embedding ([batch, hidden]) or the last hidden state ([batch, seq, hidden]). */
  readonly embeddingOutput: string;
}

interface HfConfig {
  id2label?: Record<string, string>;
  max_position_embeddings?: number;
  hidden_size?: number;
  dim?: number;
}

function readJson<T>(path: string): T {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (error) {
    throw new ModelFolderError(`cannot read ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

export function readModelFolder(folder: string): ModelInfo {
  const path = resolve(folder);
  for (const file of [
    'config.json',
    'tokenizer.json',
    'tokenizer_config.json',
    'onnx/model.onnx',
  ]) {
    if (!existsSync(join(path, file))) throw new ModelFolderError(`${path} has no ${file}`);
  }
  const config = readJson<HfConfig>(join(path, 'config.json'));
  const tokenizerConfig = readJson<{ model_max_length?: number }>(
    join(path, 'tokenizer_config.json'),
  );
  const id2label = config.id2label ?? { 0: 'NEGATIVE', 1: 'POSITIVE' };
  const labels = Object.keys(id2label)
    .map(Number)
    .sort((a, b) => a - b)
    .map((index) => (id2label[String(index)] ?? String(index)).toUpperCase());
  const positions = config.max_position_embeddings ?? 512;
  const tokenizerMax = tokenizerConfig.model_max_length ?? positions;
  const card = existsSync(join(path, 'model-card.json'))
    ? readJson<{ name?: string; version?: string | number; embeddingOutput?: string }>(
        join(path, 'model-card.json'),
      )
    : {};
  const onnxPath = join(path, 'onnx/model.onnx');
  return {
    path,
    name: card.name ?? basename(path),
    // Without a card, the content decides the version: two different graphs never share one.
    version:
      card.version !== undefined
        ? String(card.version)
        : createHash('sha256').update(readFileSync(onnxPath)).digest('hex').slice(0, 12),
    labels,
    maxLength: Math.min(positions, tokenizerMax),
    hiddenSize: config.hidden_size ?? config.dim ?? 768,
    onnxPath,
    embeddingOutput: card.embeddingOutput ?? 'cls_embedding',
  };
}
