import { readFileSync } from 'node:fs';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '#platform/common';
import { keepOnlyOutputs } from '#domain/model';
import {
  HeadShapeError,
  OnnxHeadError,
  type TanhHead,
  cloneHead,
  headLogits,
  readOnnxHead,
  writeOnnxHead,
} from '../../services/retrainer/training/index.ts';

const { onnx } = onnxProto;
const BOOTSTRAP_ONNX = 'models/sentiment-compact/onnx/model.onnx';
const bytes = new Uint8Array(readFileSync(BOOTSTRAP_ONNX));
const f32 = (values: ArrayLike<number>) => Array.from(Float32Array.from(values));

function perturbed(head: TanhHead, seed: number, scale = 0.05): TanhHead {
  const random = mulberry32(seed);
  const next = cloneHead(head);
  for (const key of ['poolerWeight', 'poolerBias', 'classifierWeight', 'classifierBias'] as const) {
    for (let i = 0; i < next[key].length; i++) next[key][i]! += scale * (2 * random() - 1);
  }
  return next;
}

function expectCode(run: () => unknown, type: new (...args: never[]) => Error, code: string) {
  let error: unknown;
  try {
    run();
  } catch (caught) {
    error = caught;
  }
  expect(error).toBeInstanceOf(type);
  expect((error as { code?: string }).code).toBe(code);
}

describe('ONNX head of the bootstrap model', () => {
  const { head, location } = readOnnxHead(bytes);

  it('is found by walking back from logits', () => {
    expect(location.embeddingTensor).toBe('cls_embedding');
    expect(location.pooler).toMatchObject({
      weight: 'pooler.weight',
      bias: 'pooler.bias',
      transB: true,
    });
    expect(location.classifier).toMatchObject({
      weight: 'classifier.weight',
      bias: 'classifier.bias',
    });
    expect([head.inputDim, head.hiddenDim, head.classes]).toEqual([128, 128, 2]);
    expect(head.poolerWeight.length).toBe(128 * 128);
    expect(head.classifierWeight.length).toBe(2 * 128);
  });

  it('round-trips: the unchanged head gives the same values, a new head reads back as written', () => {
    const same = readOnnxHead(writeOnnxHead(bytes, head)).head;
    expect(Array.from(same.poolerWeight)).toEqual(Array.from(head.poolerWeight));
    expect(Array.from(same.classifierBias)).toEqual(Array.from(head.classifierBias));
    const next = perturbed(head, 1);
    const written = writeOnnxHead(bytes, next);
    const back = readOnnxHead(written).head;
    expect(Array.from(back.poolerWeight)).toEqual(f32(next.poolerWeight));
    expect(Array.from(back.poolerBias)).toEqual(f32(next.poolerBias));
    expect(Array.from(back.classifierWeight)).toEqual(f32(next.classifierWeight));
    expect(Array.from(back.classifierBias)).toEqual(f32(next.classifierBias));
    // Only the four initializers changed: every other initializer and node is the parent's.
    const before = onnx.ModelProto.decode(bytes).graph!;
    const after = onnx.ModelProto.decode(written).graph!;
    expect(after.node?.length).toBe(before.node?.length);
    const headNames = new Set([
      'pooler.weight',
      'pooler.bias',
      'classifier.weight',
      'classifier.bias',
    ]);
    for (const tensor of before.initializer ?? []) {
      if (headNames.has(tensor.name ?? '')) continue;
      const twin = after.initializer?.find((t) => t.name === tensor.name);
      expect(Buffer.from(twin!.rawData!).equals(Buffer.from(tensor.rawData!))).toBe(true);
    }
  });

  it('rejects heads of another shape or with non-finite values (HEAD_SHAPE_MISMATCH)', () => {
    const narrow: TanhHead = {
      ...head,
      hiddenDim: 64,
      poolerWeight: new Float64Array(64 * 128),
      poolerBias: new Float64Array(64),
      classifierWeight: new Float64Array(2 * 64),
    };
    expectCode(() => writeOnnxHead(bytes, narrow), HeadShapeError, 'HEAD_SHAPE_MISMATCH');
    const wrongLength = { ...head, poolerBias: new Float64Array(5) };
    expectCode(() => writeOnnxHead(bytes, wrongLength), HeadShapeError, 'HEAD_SHAPE_MISMATCH');
    const nan = cloneHead(head);
    nan.classifierWeight[7] = NaN;
    expectCode(() => writeOnnxHead(bytes, nan), HeadShapeError, 'HEAD_SHAPE_MISMATCH');
  });

  it('rejects graphs without a head (ONNX_HEAD_INVALID)', () => {
    const noLogits = keepOnlyOutputs(bytes, ['cls_embedding']);
    expectCode(() => readOnnxHead(noLogits), OnnxHeadError, 'ONNX_HEAD_INVALID');
    expectCode(
      () => readOnnxHead(new Uint8Array([1, 2, 3, 4, 5])),
      OnnxHeadError,
      'ONNX_HEAD_INVALID',
    );
    expectCode(
      () => readOnnxHead(bytes, { embeddingTensor: 'last_hidden_state' }),
      OnnxHeadError,
      'ONNX_HEAD_INVALID',
    );
  });
});

/** x -> Identity -> cls_embedding -> Gemm(transB 0) -> Tanh -> Gemm(transB 0) -> logits, floatData storage. */
function tinyModel(head: TanhHead): Uint8Array {
  const FLOAT = onnx.TensorProto.DataType.FLOAT;
  const transpose = (values: Float64Array, rows: number, cols: number) =>
    Array.from(
      { length: values.length },
      (_, i) => values[(i % rows) * cols + Math.floor(i / rows)]!,
    );
  const tensor = (name: string, dims: number[], values: number[]) =>
    onnx.TensorProto.create({ name, dims, dataType: FLOAT, floatData: values });
  const info = (name: string, width: number) =>
    onnx.ValueInfoProto.create({
      name,
      type: {
        tensorType: {
          elemType: FLOAT,
          shape: { dim: [{ dimParam: 'batch' }, { dimValue: width }] },
        },
      },
    });
  const gemm = (name: string, inputs: string[], output: string) =>
    onnx.NodeProto.create({
      name,
      opType: 'Gemm',
      input: inputs,
      output: [output],
      attribute: [{ name: 'transB', type: onnx.AttributeProto.AttributeType.INT, i: 0 }],
    });
  const { inputDim: d, hiddenDim: h, classes: k } = head;
  const model = onnx.ModelProto.create({
    irVersion: 7,
    opsetImport: [{ version: 14 }],
    graph: {
      name: 'tiny',
      input: [info('x', d)],
      output: [info('logits', k), info('cls_embedding', d)],
      initializer: [
        // [in, out] storage, as a Gemm with transB = 0 reads it.
        tensor('w1', [d, h], transpose(head.poolerWeight, h, d)),
        tensor('b1', [h], Array.from(head.poolerBias)),
        tensor('w2', [h, k], transpose(head.classifierWeight, k, h)),
        tensor('b2', [k], Array.from(head.classifierBias)),
      ],
      node: [
        onnx.NodeProto.create({ opType: 'Identity', input: ['x'], output: ['cls_embedding'] }),
        gemm('pool', ['cls_embedding', 'w1', 'b1'], 'z'),
        onnx.NodeProto.create({ opType: 'Tanh', input: ['z'], output: ['a'] }),
        gemm('classify', ['a', 'w2', 'b2'], 'logits'),
      ],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

describe('ONNX head with transB = 0 and floatData storage', () => {
  const random = mulberry32(7);
  const values = (n: number) => Float64Array.from({ length: n }, () => Math.fround(random() - 0.5));
  const head: TanhHead = {
    inputDim: 3,
    hiddenDim: 4,
    classes: 2,
    poolerWeight: values(12),
    poolerBias: values(4),
    classifierWeight: values(8),
    classifierBias: values(2),
  };

  it('reads [in, out] weights into [out, in] and writes them back in the graph layout', async () => {
    const model = tinyModel(head);
    const read = readOnnxHead(model);
    expect(read.location.pooler.transB).toBe(false);
    expect(Array.from(read.head.poolerWeight)).toEqual(Array.from(head.poolerWeight));
    expect(Array.from(read.head.classifierWeight)).toEqual(Array.from(head.classifierWeight));

    const next = perturbed(head, 3, 0.5);
    const written = writeOnnxHead(model, next);
    const x = Float32Array.from([0.3, -1.2, 2.0, 1.5, 0.1, -0.7]);
    const session = await ort.InferenceSession.create(written);
    try {
      const output = await session.run({ x: new ort.Tensor('float32', x, [2, 3]) });
      const runtime = Array.from(output.logits!.data as Float32Array);
      const expected = headLogits(next, x);
      runtime.forEach((v, i) => expect(Math.abs(v - expected[i]!)).toBeLessThan(1e-5));
    } finally {
      await session.release();
    }
  });
});
