import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { keepLookupTablesInt8 } from '#domain/model';
import { COMPACT_MODEL_DIR, PRODUCTION_MODEL_DIR } from '../support/model.ts';

const { onnx } = onnxProto;
const { DataType } = onnx.TensorProto;
const { AttributeType } = onnx.AttributeProto;

const ROWS = 6;
const COLUMNS = 4;
// Awkward scales, so a different order of float operations would show in the low bits.
const TABLE = Int8Array.from({ length: ROWS * COLUMNS }, (_, i) => ((i * 37) % 255) - 127);
const ROW_SCALES = Float32Array.from({ length: ROWS }, (_, i) => 0.0137 * (i + 1) + 1e-4 / 3);

function tensor(name: string, dataType: number, dims: number[], raw: ArrayBufferView) {
  return onnx.TensorProto.create({
    name,
    dataType,
    dims,
    rawData: new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength),
  });
}

/**
 * y = Gather(DequantizeLinear(table, scale, zero), ids), optionally with a second reader of
 * the dequantized table, in the layout models/quantize_minilm.py writes.
 */
function tableGraph(
  options: {
    perRow?: boolean;
    zero?: number;
    extraReader?: 'matmul';
    opset?: number;
  } = {},
): Uint8Array {
  const perRow = options.perRow ?? true;
  const scales = perRow ? ROW_SCALES : Float32Array.of(0.0213);
  const zeros = new Int8Array(scales.length).fill(options.zero ?? 0);
  const nodes = [
    onnx.NodeProto.create({
      name: 'dequantize',
      opType: 'DequantizeLinear',
      input: ['table_int8', 'table_scale', 'table_zero'],
      output: ['table'],
      attribute: perRow ? [{ name: 'axis', type: AttributeType.INT, i: 0 }] : [],
    }),
    onnx.NodeProto.create({
      name: 'lookup',
      opType: 'Gather',
      input: ['table', 'ids'],
      output: ['y'],
    }),
  ];
  const outputs = [
    onnx.ValueInfoProto.create({
      name: 'y',
      type: {
        tensorType: {
          elemType: DataType.FLOAT,
          shape: { dim: [{ dimParam: 'n' }, { dimValue: COLUMNS }] },
        },
      },
    }),
  ];
  const initializers = [
    tensor('table_int8', DataType.INT8, [ROWS, COLUMNS], TABLE),
    tensor('table_scale', DataType.FLOAT, perRow ? [ROWS] : [], scales),
    tensor('table_zero', DataType.INT8, perRow ? [ROWS] : [], zeros),
  ];
  if (options.extraReader === 'matmul') {
    initializers.push(
      tensor('ones', DataType.FLOAT, [COLUMNS, 1], new Float32Array(COLUMNS).fill(1)),
    );
    nodes.push(
      onnx.NodeProto.create({
        name: 'sum',
        opType: 'MatMul',
        input: ['table', 'ones'],
        output: ['z'],
      }),
    );
    outputs.push(
      onnx.ValueInfoProto.create({
        name: 'z',
        type: {
          tensorType: {
            elemType: DataType.FLOAT,
            shape: { dim: [{ dimValue: ROWS }, { dimValue: 1 }] },
          },
        },
      }),
    );
  }
  return onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: '', version: options.opset ?? 14 }],
      graph: {
        name: 'table',
        node: nodes,
        initializer: initializers,
        input: [
          onnx.ValueInfoProto.create({
            name: 'ids',
            type: { tensorType: { elemType: DataType.INT64, shape: { dim: [{ dimParam: 'n' }] } } },
          }),
        ],
        output: outputs,
      },
    }),
  ).finish();
}

async function lookup(bytes: Uint8Array, ids: number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes, {
    graphOptimizationLevel: 'all',
    extra: { session: { disable_quant_qdq: '1' } },
  });
  try {
    const output = await session.run({
      ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [ids.length]),
    });
    return output.y!.data as Float32Array;
  } finally {
    await session.release();
  }
}

const IDS = [5, 0, 3, 3, 1, 4, 2];

describe('keepLookupTablesInt8', () => {
  it.each([
    { name: 'per-row scales (the production layout)', perRow: true, opset: 14 },
    { name: 'one scale', perRow: false, opset: 14 },
    { name: 'one scale, opset 11', perRow: false, opset: 11 },
  ])('moves the dequantization after the Gather, bit for bit the same: $name', async (c) => {
    const original = tableGraph({ perRow: c.perRow, opset: c.opset });
    const { bytes, tables } = keepLookupTablesInt8(original);
    expect(tables).toEqual(['table_int8']);
    const graph = onnx.ModelProto.decode(bytes).graph!;
    expect(graph.node!.map((node) => node.opType)).not.toContain('DequantizeLinear');
    // The zero point is no longer read: dropped, so onnxruntime has no unused initializer.
    expect(graph.initializer!.map((t) => t.name)).not.toContain('table_zero');
    const expected = await lookup(original, IDS);
    const actual = await lookup(bytes, IDS);
    expect(Array.from(actual)).toEqual(Array.from(expected));
    // And what DequantizeLinear defines: float(q) * scale of the row.
    IDS.forEach((id, row) => {
      for (let column = 0; column < COLUMNS; column++) {
        const scale = c.perRow ? ROW_SCALES[id]! : Math.fround(0.0213);
        expect(actual[row * COLUMNS + column]).toBe(
          Math.fround(TABLE[id * COLUMNS + column]! * scale),
        );
      }
    });
  });

  it('leaves a graph alone when the table has a non-zero zero point', () => {
    const original = tableGraph({ zero: 3 });
    expect(keepLookupTablesInt8(original)).toEqual({ bytes: original, tables: [] });
  });

  it('leaves a graph alone when something other than a Gather reads the table', () => {
    const original = tableGraph({ extraReader: 'matmul' });
    expect(keepLookupTablesInt8(original)).toEqual({ bytes: original, tables: [] });
  });

  it('keeps the production model’s embedding tables int8, and finds nothing in the fp32 compact model', () => {
    const production = readFileSync(join(PRODUCTION_MODEL_DIR, 'onnx/model.onnx'));
    expect(keepLookupTablesInt8(production).tables.sort()).toEqual([
      'pos.weight_int8',
      'word.emb.weight_int8',
    ]);
    const compact = readFileSync(join(COMPACT_MODEL_DIR, 'onnx/model.onnx'));
    expect(keepLookupTablesInt8(compact).tables).toEqual([]);
  });
});
