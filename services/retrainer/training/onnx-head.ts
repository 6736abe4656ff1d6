/**
 * The classification head of a BERT-style ONNX export, read and replaced in place.
 *
 * The head is the subgraph between the [CLS] embedding and the logits:
 *
 *   embedding -> Gemm(pooler.weight, pooler.bias) -> Tanh -> Gemm(classifier.weight,
 *   classifier.bias) -> logits
 *
 * It is found by walking back from the `logits` output (names of initializers do not matter),
 * so a retrained head of the same shape is the parent graph with four new initializer values:
 * the encoder, its embeddings and the runtime path stay exactly those of the parent.
 *
 * In memory a head is always in PyTorch layout: weights are [out, in] row-major (Float64).
 * A Gemm with transB = 0 stores [in, out]; reading and writing transpose as needed.
 */
import onnxProto from 'onnx-proto';
import { AppError } from '#platform/common';

const { onnx } = onnxProto;

/** The graph is not a head this module understands (no Gemm -> Tanh -> Gemm before logits). */
export class OnnxHeadError extends AppError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('ONNX_HEAD_INVALID', message, options);
  }
}

/** A head given to write does not have the parent graph's shapes, or holds non-finite values. */
export class HeadShapeError extends AppError {
  constructor(message: string) {
    super('HEAD_SHAPE_MISMATCH', message);
  }
}

/** A tanh MLP head: logits = Wc tanh(Wp x + bp) + bc. Weights [out, in], row-major. */
export interface TanhHead {
  /** Embedding width (input of the pooler). */
  readonly inputDim: number;
  /** Pooler width (output of the pooler, input of the classifier). */
  readonly hiddenDim: number;
  readonly classes: number;
  /** [hiddenDim, inputDim] */
  readonly poolerWeight: Float64Array;
  /** [hiddenDim] */
  readonly poolerBias: Float64Array;
  /** [classes, hiddenDim] */
  readonly classifierWeight: Float64Array;
  /** [classes] */
  readonly classifierBias: Float64Array;
}

/** Where the head lives in the graph. */
export interface OnnxHeadLocation {
  /** Tensor the pooler Gemm reads (the [CLS] embedding). */
  readonly embeddingTensor: string;
  readonly logitsOutput: string;
  readonly pooler: GemmLocation;
  readonly classifier: GemmLocation;
}

export interface GemmLocation {
  readonly node: string;
  readonly weight: string;
  readonly bias: string;
  /** Whether the stored weight is [out, in] (transB = 1, PyTorch's export) or [in, out]. */
  readonly transB: boolean;
}

export interface OnnxHead {
  readonly head: TanhHead;
  readonly location: OnnxHeadLocation;
}

export interface OnnxHeadOptions {
  /** Graph output holding the logits. Default 'logits'. */
  readonly logitsOutput?: string;
  /** When given, the pooler Gemm must read this tensor (e.g. the model card's embeddingOutput). */
  readonly embeddingTensor?: string;
}

type Graph = onnxProto.onnx.IGraphProto;
type Node = onnxProto.onnx.INodeProto;
type Tensor = onnxProto.onnx.ITensorProto;

function decode(bytes: Uint8Array): onnxProto.onnx.ModelProto {
  try {
    return onnx.ModelProto.decode(bytes);
  } catch (error) {
    throw new OnnxHeadError(`not an ONNX model: ${(error as Error).message}`, { cause: error });
  }
}

function attribute(node: Node, name: string, fallback: number): number {
  const found = node.attribute?.find((a) => a.name === name);
  if (!found) return fallback;
  // alpha / beta are floats, transA / transB ints.
  return found.type === onnx.AttributeProto.AttributeType.FLOAT ? (found.f ?? 0) : Number(found.i);
}

function producer(graph: Graph, tensor: string): Node | undefined {
  return graph.node?.find((node) => node.output?.includes(tensor));
}

function uses(graph: Graph, tensor: string): number {
  let count = 0;
  for (const node of graph.node ?? [])
    for (const input of node.input ?? []) if (input === tensor) count++;
  return count;
}

function initializer(graph: Graph, name: string): Tensor {
  const tensor = graph.initializer?.find((t) => t.name === name);
  if (!tensor) throw new OnnxHeadError(`head parameter "${name}" is not an initializer`);
  if (tensor.dataType !== onnx.TensorProto.DataType.FLOAT) {
    throw new OnnxHeadError(
      `head parameter "${name}" is not float32 (data type ${tensor.dataType})`,
    );
  }
  if (tensor.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    throw new OnnxHeadError(`head parameter "${name}" is stored as external data`);
  }
  return tensor;
}

function dims(tensor: Tensor): number[] {
  return (tensor.dims ?? []).map((d) => Number(d));
}

function floats(tensor: Tensor): Float64Array {
  const expected = dims(tensor).reduce((a, b) => a * b, 1);
  let values: Float64Array;
  if (tensor.rawData && tensor.rawData.length > 0) {
    const raw = tensor.rawData;
    if (raw.length !== expected * 4) {
      throw new OnnxHeadError(`${tensor.name}: ${raw.length} bytes for ${expected} floats`);
    }
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    values = new Float64Array(expected);
    for (let i = 0; i < expected; i++) values[i] = view.getFloat32(i * 4, true);
  } else {
    values = Float64Array.from(tensor.floatData ?? []);
  }
  if (values.length !== expected) {
    throw new OnnxHeadError(`${tensor.name}: ${values.length} values for shape [${dims(tensor)}]`);
  }
  return values;
}

function setFloats(tensor: Tensor, values: Float64Array): void {
  const raw = new Uint8Array(values.length * 4);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true);
  tensor.rawData = raw;
  tensor.floatData = [];
}

/** [rows, cols] row-major -> [cols, rows] row-major. */
function transpose(values: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(values.length);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c]!;
  return out;
}

function gemm(graph: Graph, node: Node, role: string): GemmLocation {
  const [, weight, bias] = node.input ?? [];
  if (node.opType !== 'Gemm' || !weight || !bias) {
    throw new OnnxHeadError(
      `the ${role} is ${node.opType ?? '?'} "${node.name ?? ''}", expected Gemm(x, weight, bias)`,
    );
  }
  if (attribute(node, 'transA', 0) !== 0) throw new OnnxHeadError(`${role} Gemm has transA = 1`);
  for (const name of ['alpha', 'beta']) {
    if (attribute(node, name, 1) !== 1) {
      throw new OnnxHeadError(`${role} Gemm has ${name} = ${attribute(node, name, 1)}, expected 1`);
    }
  }
  for (const tensor of [weight, bias]) {
    initializer(graph, tensor);
    if (uses(graph, tensor) !== 1) {
      throw new OnnxHeadError(`head parameter "${tensor}" is shared with other nodes`);
    }
  }
  return { node: node.name ?? '', weight, bias, transB: attribute(node, 'transB', 0) === 1 };
}

function locate(graph: Graph, options: OnnxHeadOptions): OnnxHeadLocation {
  const logitsOutput = options.logitsOutput ?? 'logits';
  if (!graph.output?.some((o) => o.name === logitsOutput)) {
    throw new OnnxHeadError(`the graph has no output "${logitsOutput}"`);
  }
  const classifierNode = producer(graph, logitsOutput);
  if (!classifierNode) throw new OnnxHeadError(`no node produces "${logitsOutput}"`);
  const classifier = gemm(graph, classifierNode, 'classifier');
  const tanhInput = classifierNode.input?.[0] ?? '';
  const tanh = producer(graph, tanhInput);
  if (tanh?.opType !== 'Tanh') {
    throw new OnnxHeadError(
      `the classifier reads ${tanh?.opType ?? 'a graph input'}, expected Tanh`,
    );
  }
  const poolerNode = producer(graph, tanh.input?.[0] ?? '');
  if (!poolerNode) throw new OnnxHeadError('no node feeds the Tanh');
  const pooler = gemm(graph, poolerNode, 'pooler');
  const embeddingTensor = poolerNode.input?.[0] ?? '';
  if (options.embeddingTensor !== undefined && embeddingTensor !== options.embeddingTensor) {
    throw new OnnxHeadError(
      `the pooler reads "${embeddingTensor}", expected "${options.embeddingTensor}"`,
    );
  }
  // Intermediate tensors of the head must feed nothing else, or a new head changes more.
  for (const tensor of [tanhInput, tanh.input?.[0] ?? '']) {
    if (uses(graph, tensor) !== 1) {
      throw new OnnxHeadError(`head tensor "${tensor}" is also read outside the head`);
    }
  }
  return { embeddingTensor, logitsOutput, pooler, classifier };
}

/** Reads one Gemm's weight in [out, in] layout and its bias. */
function readGemm(graph: Graph, at: GemmLocation) {
  const weightTensor = initializer(graph, at.weight);
  const biasTensor = initializer(graph, at.bias);
  const shape = dims(weightTensor);
  if (shape.length !== 2)
    throw new OnnxHeadError(`${at.weight} has shape [${shape}], expected 2-D`);
  const [a, b] = shape as [number, number];
  const [outDim, inDim] = at.transB ? [a, b] : [b, a];
  const raw = floats(weightTensor);
  const weight = at.transB ? raw : transpose(raw, inDim, outDim);
  const bias = floats(biasTensor);
  if (bias.length !== outDim) {
    throw new OnnxHeadError(`${at.bias} has ${bias.length} values, expected ${outDim}`);
  }
  return { weight, bias, outDim, inDim };
}

/** Reads the head (weights in [out, in] layout) and where it sits in the graph. */
export function readOnnxHead(modelBytes: Uint8Array, options: OnnxHeadOptions = {}): OnnxHead {
  const graph = decode(modelBytes).graph;
  if (!graph) throw new OnnxHeadError('the ONNX model has no graph');
  const location = locate(graph, options);
  return { location, head: headOf(graph, location) };
}

function headOf(graph: Graph, location: OnnxHeadLocation): TanhHead {
  const pooler = readGemm(graph, location.pooler);
  const classifier = readGemm(graph, location.classifier);
  if (classifier.inDim !== pooler.outDim) {
    throw new OnnxHeadError(
      `classifier expects ${classifier.inDim} inputs, pooler gives ${pooler.outDim}`,
    );
  }
  return {
    inputDim: pooler.inDim,
    hiddenDim: pooler.outDim,
    classes: classifier.outDim,
    poolerWeight: pooler.weight,
    poolerBias: pooler.bias,
    classifierWeight: classifier.weight,
    classifierBias: classifier.bias,
  };
}

/** Throws HeadShapeError unless `head` is internally consistent and all finite. */
export function validateHead(head: TanhHead): void {
  const problems: string[] = [];
  const check = (name: string, values: Float64Array, expected: number) => {
    if (values.length !== expected) {
      problems.push(`${name} has ${values.length} values, expected ${expected}`);
      return;
    }
    const bad = values.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) problems.push(`${name}[${bad}] is ${values[bad]}`);
  };
  for (const [name, value] of [
    ['inputDim', head.inputDim],
    ['hiddenDim', head.hiddenDim],
    ['classes', head.classes],
  ] as const) {
    if (!Number.isInteger(value) || value <= 0) problems.push(`${name} must be a positive integer`);
  }
  check('poolerWeight', head.poolerWeight, head.hiddenDim * head.inputDim);
  check('poolerBias', head.poolerBias, head.hiddenDim);
  check('classifierWeight', head.classifierWeight, head.classes * head.hiddenDim);
  check('classifierBias', head.classifierBias, head.classes);
  if (problems.length > 0)
    throw new HeadShapeError(`invalid head:\n  - ${problems.join('\n  - ')}`);
}

/**
 * Returns the model bytes with the head's four initializers replaced by `head` (float32,
 * in the graph's own weight layout). The head must have exactly the graph's shapes.
 */
export function writeOnnxHead(
  modelBytes: Uint8Array,
  head: TanhHead,
  options: OnnxHeadOptions = {},
): Uint8Array {
  validateHead(head);
  const model = decode(modelBytes);
  const graph = model.graph;
  if (!graph) throw new OnnxHeadError('the ONNX model has no graph');
  const location = locate(graph, options);
  const current = headOf(graph, location);
  const mismatches = (['inputDim', 'hiddenDim', 'classes'] as const)
    .filter((key) => current[key] !== head[key])
    .map((key) => `${key} ${head[key]} != graph's ${current[key]}`);
  if (mismatches.length > 0) {
    throw new HeadShapeError(`head does not fit the graph: ${mismatches.join(', ')}`);
  }
  const put = (
    at: GemmLocation,
    weight: Float64Array,
    bias: Float64Array,
    out: number,
    inp: number,
  ) => {
    setFloats(initializer(graph, at.weight), at.transB ? weight : transpose(weight, out, inp));
    setFloats(initializer(graph, at.bias), bias);
  };
  put(location.pooler, head.poolerWeight, head.poolerBias, head.hiddenDim, head.inputDim);
  put(
    location.classifier,
    head.classifierWeight,
    head.classifierBias,
    head.classes,
    head.hiddenDim,
  );
  return onnx.ModelProto.encode(model).finish();
}

/** A deep copy of a head. */
export function cloneHead(head: TanhHead): TanhHead {
  return {
    inputDim: head.inputDim,
    hiddenDim: head.hiddenDim,
    classes: head.classes,
    poolerWeight: Float64Array.from(head.poolerWeight),
    poolerBias: Float64Array.from(head.poolerBias),
    classifierWeight: Float64Array.from(head.classifierWeight),
    classifierBias: Float64Array.from(head.classifierBias),
  };
}
