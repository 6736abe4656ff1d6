/**
 * onnx-proto (protobufjs and the whole ONNX schema: about 10 MB resident per thread,
 * scripts/bench/model-memory.ts), loaded on first use. Every service imports the model layer;
 * only the threads that read or rewrite a graph (a model worker, the model tools) need it.
 */
import { createRequire } from 'node:module';
import type onnxProto from 'onnx-proto';

export type Onnx = typeof onnxProto.onnx;

const require = createRequire(import.meta.url);
let loaded: Onnx | undefined;

export function onnxSchema(): Onnx {
  loaded ??= (require('onnx-proto') as typeof onnxProto).onnx;
  return loaded;
}
