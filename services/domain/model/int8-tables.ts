/**
 * Keeps int8 lookup tables int8 in memory.
 *
 * The production graph stores its weights as int8 + a float scale, each followed by a
 * DequantizeLinear node (models/quantize_minilm.py); the engine lets onnxruntime fold those
 * nodes at session start (`disable_quant_qdq`), so MatMuls run in fp32 at fp32 speed. Folding
 * also turns the word-piece embedding table (30,522 x 384) into fp32: 47 MB resident in every
 * worker for a table of which a forward pass reads only the rows of its tokens
 * (scripts/bench/model-memory.ts measures it).
 *
 * This rewrite, applied to the model bytes in memory before the session is created (the
 * file and its signature are untouched), moves such a DequantizeLinear after its Gathers:
 *
 *   Gather(DequantizeLinear(q, scale, 0), ids)
 *     -> Mul(Cast<float>(Gather(q, ids)), Unsqueeze(Gather(scale, ids), -1))   (per-row scale)
 *     -> Mul(Cast<float>(Gather(q, ids)), scale)                              (one scale)
 *
 * so the table stays int8 (12 MB) and only the gathered rows are dequantized. The result is
 * bitwise the same: DequantizeLinear computes float(q - 0) * scale, as Cast then Mul does.
 * Only the pattern above is rewritten (zero points all zero, a table read by Gathers on axis 0
 * and nothing else); any other graph is returned unchanged.
 */
import type onnxProto from 'onnx-proto';
import { onnxSchema } from './onnx-schema.ts';

type Graph = onnxProto.onnx.IGraphProto;
type Node = onnxProto.onnx.INodeProto;
type TensorProto = onnxProto.onnx.ITensorProto;

// The enums' values, from onnx.proto (a type-only import keeps onnx-proto unloaded here).
const DataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT64: 7 } as const;
const AttributeType = { INT: 2, GRAPH: 5, GRAPHS: 10 } as const;

function isDefaultDomain(node: Node): boolean {
  return !node.domain || node.domain === 'ai.onnx';
}

function intAttribute(node: Node, name: string, fallback: number): number {
  const attribute = node.attribute?.find((a) => a.name === name);
  return attribute?.i === undefined || attribute.i === null ? fallback : Number(attribute.i);
}

function elementCount(tensor: TensorProto): number {
  return (tensor.dims ?? []).reduce<number>((product, dim) => product * Number(dim), 1);
}

/** Whether every element of an int8/uint8 tensor is zero (the only zero point rewritten). */
function allZero(tensor: TensorProto): boolean {
  if (tensor.rawData && tensor.rawData.length > 0) return tensor.rawData.every((b) => b === 0);
  // int8/uint8 values that are not in raw_data are stored in int32_data.
  return (tensor.int32Data ?? []).every((value) => value === 0);
}

/** What a DequantizeLinear of a constant 2-D int8 table looks like, when it can be moved. */
function tableOf(
  node: Node,
  initializers: ReadonlyMap<string, TensorProto>,
): { table: string; scale: string; perRow: boolean } | undefined {
  if (node.opType !== 'DequantizeLinear' || !isDefaultDomain(node)) return undefined;
  const [table, scale, zero] = node.input ?? [];
  const q = table ? initializers.get(table) : undefined;
  const s = scale ? initializers.get(scale) : undefined;
  if (!q || !s || (q.dims?.length ?? 0) !== 2) return undefined;
  if (q.dataType !== DataType.INT8 && q.dataType !== DataType.UINT8) return undefined;
  if (s.dataType !== DataType.FLOAT) return undefined;
  if (zero) {
    const z = initializers.get(zero);
    if (!z || !allZero(z)) return undefined;
  }
  const rows = Number(q.dims![0]);
  const scales = elementCount(s);
  if (scales === 1) return { table: table!, scale: scale!, perRow: false };
  // Per-axis scales along axis 0 (one per row): a Gather on axis 0 picks them with the rows.
  if (intAttribute(node, 'axis', 1) === 0 && (s.dims?.length ?? 0) === 1 && scales === rows) {
    return { table: table!, scale: scale!, perRow: true };
  }
  return undefined;
}

function hasSubgraphs(graph: Graph): boolean {
  return (graph.node ?? []).some((node) =>
    (node.attribute ?? []).some(
      (a) => a.type === AttributeType.GRAPH || a.type === AttributeType.GRAPHS,
    ),
  );
}

/**
 * Returns the model with every int8 lookup table kept int8 (see the module comment), and the
 * names of the tables it rewrote; `bytes` is the input itself when it rewrote none.
 */
export function keepLookupTablesInt8(modelBytes: Uint8Array): {
  bytes: Uint8Array;
  tables: string[];
} {
  const onnx = onnxSchema();
  const model = onnx.ModelProto.decode(modelBytes);
  const graph = model.graph;
  // Nodes in subgraphs could read a tensor from the outer scope: leave such graphs alone.
  if (!graph?.node || hasSubgraphs(graph)) return { bytes: modelBytes, tables: [] };
  const initializers = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  const graphOutputs = new Set((graph.output ?? []).map((output) => output.name));
  // Older exports list initializers as graph inputs too (overridable): those must stay.
  const graphInputs = new Set((graph.input ?? []).map((input) => input.name));
  const consumers = new Map<string, Node[]>();
  for (const node of graph.node) {
    for (const input of node.input ?? []) {
      if (input) consumers.set(input, [...(consumers.get(input) ?? []), node]);
    }
  }

  const replaced = new Map<Node, Node[]>();
  const removed = new Set<Node>();
  const tables: string[] = [];
  const unused = new Set<string>();
  let unsqueezeAxes: string | undefined;
  for (const node of graph.node) {
    const found = tableOf(node, initializers);
    const dequantized = node.output?.[0];
    if (!found || !dequantized || graphOutputs.has(dequantized)) continue;
    const readers = consumers.get(dequantized) ?? [];
    const movable =
      readers.length > 0 &&
      readers.every(
        (reader) =>
          reader.opType === 'Gather' &&
          isDefaultDomain(reader) &&
          intAttribute(reader, 'axis', 0) === 0 &&
          reader.input?.[0] === dequantized &&
          reader.input[1] !== dequantized,
      );
    if (!movable) continue;
    for (const gather of readers) {
      const indices = gather.input![1]!;
      const output = gather.output![0]!;
      const prefix = `${gather.name || output}/int8_table`;
      const nodes: Node[] = [
        onnx.NodeProto.create({
          name: `${prefix}/gather`,
          opType: 'Gather',
          input: [found.table, indices],
          output: [`${prefix}/rows`],
          attribute: [{ name: 'axis', type: AttributeType.INT, i: 0 }],
        }),
        onnx.NodeProto.create({
          name: `${prefix}/cast`,
          opType: 'Cast',
          input: [`${prefix}/rows`],
          output: [`${prefix}/rows_float`],
          attribute: [{ name: 'to', type: AttributeType.INT, i: DataType.FLOAT }],
        }),
      ];
      let scale = found.scale;
      if (found.perRow) {
        nodes.push(
          onnx.NodeProto.create({
            name: `${prefix}/gather_scale`,
            opType: 'Gather',
            input: [found.scale, indices],
            output: [`${prefix}/scales`],
            attribute: [{ name: 'axis', type: AttributeType.INT, i: 0 }],
          }),
        );
        if (!unsqueezeAxes) {
          unsqueezeAxes = `${prefix}/last_axis`;
          graph.initializer ??= [];
          graph.initializer.push(
            onnx.TensorProto.create({
              name: unsqueezeAxes,
              dataType: DataType.INT64,
              dims: [1],
              int64Data: [-1],
            }),
          );
        }
        // Axes as an input: per-axis DequantizeLinear exists from opset 13, as does this form.
        nodes.push(
          onnx.NodeProto.create({
            name: `${prefix}/unsqueeze`,
            opType: 'Unsqueeze',
            input: [`${prefix}/scales`, unsqueezeAxes],
            output: [`${prefix}/scale_column`],
          }),
        );
        scale = `${prefix}/scale_column`;
      }
      nodes.push(
        onnx.NodeProto.create({
          name: `${prefix}/dequantize`,
          opType: 'Mul',
          input: [`${prefix}/rows_float`, scale],
          output: [output],
        }),
      );
      replaced.set(gather, nodes);
    }
    removed.add(node);
    tables.push(found.table);
    // An initializer no node reads makes onnxruntime log a warning at every load.
    const zero = node.input?.[2];
    if (zero && !graphInputs.has(zero) && consumers.get(zero)?.every((r) => r === node)) {
      unused.add(zero);
    }
  }
  if (tables.length === 0) return { bytes: modelBytes, tables };
  // Each Gather's replacement takes its place, so the node list stays topologically sorted
  // (its inputs are initializers and the Gather's own indices).
  graph.node = graph.node.flatMap((node) =>
    removed.has(node) ? [] : (replaced.get(node) ?? [node]),
  );
  graph.initializer = (graph.initializer ?? []).filter((t) => !unused.has(t.name ?? ''));
  return { bytes: onnx.ModelProto.encode(model).finish(), tables };
}
