/**
 * `prepare`: makes a standard sequence-classification ONNX export (only `logits`) usable by
 * this project, which needs the encoder's hidden state as well. The [CLS] row is what BERT's
 * pooler (and DistilBERT's classifier) reads with a Gather(axis=1, index 0) on the last
 * hidden state; that Gather's input is exposed as a new graph output `last_hidden_state`
 * through an Identity node, so one forward pass gives both. Nothing else in the graph changes.
 */
import { cpSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type onnxProto from 'onnx-proto';
import { AppError } from '#platform/common';
import { onnxSchema } from './onnx-schema.ts';

export const HIDDEN_STATE_OUTPUT = 'last_hidden_state';

export class ModelPrepareError extends AppError {
  constructor(message: string) {
    super('MODEL_PREPARE_FAILED', message);
  }
}

function scalarZero(graph: onnxProto.onnx.IGraphProto, name: string): boolean {
  const isZero = (tensor: onnxProto.onnx.ITensorProto | null | undefined): boolean => {
    if (!tensor || (tensor.dims?.length ?? 0) > 1 || Number(tensor.dims?.[0] ?? 1) !== 1)
      return false;
    if (tensor.int64Data?.length) return Number(tensor.int64Data[0]) === 0;
    if (tensor.int32Data?.length) return tensor.int32Data[0] === 0;
    if (tensor.rawData?.length) return tensor.rawData.every((byte) => byte === 0);
    return false;
  };
  if (graph.initializer?.some((tensor) => tensor.name === name && isZero(tensor))) return true;
  return (
    graph.node?.some(
      (node) =>
        node.opType === 'Constant' &&
        node.output?.[0] === name &&
        isZero(node.attribute?.find((a) => a.name === 'value')?.t),
    ) ?? false
  );
}

/** Returns the model bytes with `last_hidden_state` added as an output (unchanged if present). */
export function addHiddenStateOutput(modelBytes: Uint8Array): {
  bytes: Uint8Array;
  hiddenTensor: string;
} {
  const onnx = onnxSchema();
  const model = onnx.ModelProto.decode(modelBytes);
  const graph = model.graph;
  if (!graph) throw new ModelPrepareError('ONNX file has no graph');
  graph.output ??= [];
  graph.node ??= [];
  const existing = graph.output.find((output) => output.name === HIDDEN_STATE_OUTPUT);
  if (existing) return { bytes: modelBytes, hiddenTensor: HIDDEN_STATE_OUTPUT };
  const clsGather = graph.node.find(
    (node) =>
      node.opType === 'Gather' &&
      Number(node.attribute?.find((attribute) => attribute.name === 'axis')?.i ?? 0) === 1 &&
      typeof node.input?.[1] === 'string' &&
      scalarZero(graph, node.input[1]),
  );
  const hiddenTensor = clsGather?.input?.[0];
  if (!hiddenTensor) {
    throw new ModelPrepareError(
      'no Gather(axis=1, index 0) on a hidden state found: is this a BERT-style sequence-classification export?',
    );
  }
  graph.node.push(
    onnx.NodeProto.create({
      name: 'prepare/expose_last_hidden_state',
      opType: 'Identity',
      input: [hiddenTensor],
      output: [HIDDEN_STATE_OUTPUT],
    }),
  );
  graph.output.push(
    onnx.ValueInfoProto.create({
      name: HIDDEN_STATE_OUTPUT,
      type: {
        tensorType: {
          elemType: onnx.TensorProto.DataType.FLOAT,
          shape: { dim: [{ dimParam: 'batch' }, { dimParam: 'sequence' }, { dimParam: 'hidden' }] },
        },
      },
    }),
  );
  return { bytes: onnx.ModelProto.encode(model).finish(), hiddenTensor };
}

/** Removes graph outputs other than `keep` (used to make logits-only exports in tests). */
export function keepOnlyOutputs(modelBytes: Uint8Array, keep: readonly string[]): Uint8Array {
  const onnx = onnxSchema();
  const model = onnx.ModelProto.decode(modelBytes);
  if (!model.graph) throw new ModelPrepareError('ONNX file has no graph');
  model.graph.output = (model.graph.output ?? []).filter((output) =>
    keep.includes(output.name ?? ''),
  );
  return onnx.ModelProto.encode(model).finish();
}

/**
 * Copies a model folder to `destination` with the hidden state exposed, and records in
 * model-card.json which output holds the embedding.
 */
export function prepareModelFolder(source: string, destination: string): { hiddenTensor: string } {
  const onnx = onnxSchema();
  const from = resolve(source);
  const to = resolve(destination);
  if (from !== to) cpSync(from, to, { recursive: true });
  const onnxPath = join(to, 'onnx/model.onnx');
  const { bytes, hiddenTensor } = addHiddenStateOutput(readFileSync(onnxPath));
  writeFileSync(onnxPath, bytes);
  const cardPath = join(to, 'model-card.json');
  const card: Record<string, unknown> = existsSync(cardPath)
    ? JSON.parse(readFileSync(cardPath, 'utf8'))
    : {};
  const outputs = onnx.ModelProto.decode(bytes).graph?.output?.map((output) => output.name) ?? [];
  // Prefer a native [CLS] output when the export has one; else the exposed hidden state.
  card.embeddingOutput = outputs.includes('cls_embedding') ? 'cls_embedding' : HIDDEN_STATE_OUTPUT;
  writeFileSync(cardPath, `${JSON.stringify(card, null, 2)}\n`);
  return { hiddenTensor };
}
