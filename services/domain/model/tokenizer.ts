/**
 * The model folder's tokenizer (tokenizer.json + tokenizer_config.json) through
 * @huggingface/tokenizers, the library transformers.js itself tokenizes with (transformers.js
 * 4.3 bundles @huggingface/tokenizers 0.2.0; its PreTrainedTokenizer.encode is
 * `new Tokenizer(json, config).encode(text).ids`, and its special-token ids are read from the
 * config as below). Importing transformers.js instead costs about 180 MB per thread (a 1.3 MB
 * bundle with onnxruntime-web inside, and sharp's native image library), for a tokenizer
 * (scripts/bench/model-memory.ts). tests/unit/model-tokenizer.test.ts checks the ids equal
 * transformers.js's.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TextTokenizer {
  /** Token ids of a text, special tokens included ([CLS] ... [SEP] for BERT). */
  encode(text: string): number[];
  readonly sepTokenId: number;
  readonly padTokenId: number;
}

type TokenizerConfig = Record<string, unknown>;

/** A special token's text from tokenizer_config.json: a string or an AddedToken object. */
function specialToken(config: TokenizerConfig, ...keys: string[]): string | undefined {
  for (const key of keys) {
    const item = config[key];
    if (!item) continue;
    if (typeof item === 'string') return item;
    if (typeof item === 'object' && typeof (item as { content?: unknown }).content === 'string') {
      return (item as { content: string }).content;
    }
    throw new Error(`tokenizer_config.json: cannot read ${key}`);
  }
  return undefined;
}

/** Loads the folder's tokenizer; reads local files only, never a hub. */
export async function loadTokenizer(folder: string): Promise<TextTokenizer> {
  // Imported here, not at the top: a thread that never loads a model does not pay for it.
  const { Tokenizer } = await import('@huggingface/tokenizers');
  const json = JSON.parse(readFileSync(join(folder, 'tokenizer.json'), 'utf8')) as object;
  const config = JSON.parse(
    readFileSync(join(folder, 'tokenizer_config.json'), 'utf8'),
  ) as TokenizerConfig;
  const tokenizer = new Tokenizer(json, config);
  const idOf = (token: string | undefined) =>
    token === undefined ? undefined : tokenizer.token_to_id(token);
  const sepTokenId = idOf(specialToken(config, 'sep_token'));
  if (sepTokenId === undefined) {
    throw new Error('tokenizer has no sep_token: texts could not be truncated the BERT way');
  }
  // As transformers.js: the pad token, else the end-of-sequence token; else id 0 (never read:
  // the attention mask hides padding).
  const padTokenId = idOf(specialToken(config, 'pad_token', 'eos_token')) ?? 0;
  return {
    encode: (text) => tokenizer.encode(text).ids,
    sepTokenId,
    padTokenId,
  };
}
