import type { ScoredText } from './engine.ts';
import type { ModelInfo } from './folder.ts';

export type WorkerRequest =
  | { readonly type: 'score'; readonly id: number; readonly texts: readonly string[] }
  | { readonly type: 'release' };

export type WorkerReply =
  | { readonly type: 'ready'; readonly info: ModelInfo }
  | { readonly type: 'scored'; readonly id: number; readonly results: ScoredText[] }
  | { readonly type: 'failed'; readonly id: number; readonly message: string }
  | { readonly type: 'fatal'; readonly message: string; readonly code: string };
