/**
 * Candidate model folders: the parent's folder (same tokenizer, same encoder) with a new head
 * written into its ONNX graph, its own model card, its own drift reference (built from its
 * recent training embeddings, labelled with its own predictions) and the held-out set the
 * promoter scores it on. The graph keeps its shape, so the runtime loads a candidate exactly
 * like any other version.
 */
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { AppError } from '#shared/common';
import {
  type DriftReference,
  buildDriftReference,
  embeddingMatrix,
  loadDriftReference,
  writeDriftReference,
} from '#shared/drift';
import type { LabelledText } from '#shared/model';
import { type Head, headLogits } from './head.ts';

const { onnx } = onnxProto;

export class CandidateBuildError extends AppError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('CANDIDATE_BUILD_FAILED', message, options);
  }
}

/** Initializer names of the head in the bootstrap graph (BertForSequenceClassification). */
export const HEAD_TENSORS = {
  P: 'pooler.weight',
  bp: 'pooler.bias',
  C: 'classifier.weight',
  bc: 'classifier.bias',
} as const;

const FLOAT = 1;

function tensorOf(model: onnxProto.onnx.ModelProto, name: string): onnxProto.onnx.ITensorProto {
  const tensor = model.graph?.initializer?.find((t) => t.name === name);
  if (!tensor) throw new CandidateBuildError(`the model has no initializer ${name}`);
  if (tensor.dataType !== FLOAT || !tensor.rawData?.length) {
    throw new CandidateBuildError(`${name} is not a raw float32 tensor`);
  }
  return tensor;
}

function floats(tensor: onnxProto.onnx.ITensorProto): Float64Array {
  const raw = tensor.rawData!;
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  return Float64Array.from({ length: raw.byteLength / 4 }, (_, i) => view.getFloat32(i * 4, true));
}

function rawFloats(values: Float64Array): Uint8Array {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  values.forEach((value, i) => view.setFloat32(i * 4, value, true));
  return bytes;
}

/** Reads the head from ONNX model bytes. */
export function readHead(modelBytes: Uint8Array): Head {
  const model = onnx.ModelProto.decode(modelBytes);
  const dims = (name: string) => (tensorOf(model, name).dims ?? []).map(Number);
  const [hidden, dim] = dims(HEAD_TENSORS.P) as [number, number];
  const [classes] = dims(HEAD_TENSORS.C) as [number];
  return {
    dim,
    hidden,
    classes,
    P: floats(tensorOf(model, HEAD_TENSORS.P)),
    bp: floats(tensorOf(model, HEAD_TENSORS.bp)),
    C: floats(tensorOf(model, HEAD_TENSORS.C)),
    bc: floats(tensorOf(model, HEAD_TENSORS.bc)),
  };
}

/** Returns the model bytes with the head's initializers replaced (shapes must match). */
export function writeHead(modelBytes: Uint8Array, head: Head): Uint8Array {
  const model = onnx.ModelProto.decode(modelBytes);
  for (const [key, name] of Object.entries(HEAD_TENSORS) as [keyof typeof HEAD_TENSORS, string][]) {
    const tensor = tensorOf(model, name);
    const values = head[key];
    if (tensor.rawData!.byteLength !== values.length * 4) {
      throw new CandidateBuildError(
        `${name} holds ${tensor.rawData!.byteLength / 4} values, the new head ${values.length}`,
      );
    }
    tensor.rawData = rawFloats(values);
  }
  return onnx.ModelProto.encode(model).finish();
}

/** Files of the parent that describe the parent only. */
const PARENT_ONLY = [
  'parity.json',
  'node-check.json',
  'evaluation',
  'reference.json',
  'reference-sample.f32',
];

export interface CandidateInput {
  readonly parentFolder: string;
  readonly folder: string;
  readonly head: Head;
  readonly version: string;
  readonly parentVersion: string;
  /** Recent training embeddings (rows x dim): the candidate's drift reference. */
  readonly referenceEmbeddings: Float32Array;
  readonly holdout: readonly LabelledText[];
  readonly training: Readonly<Record<string, unknown>>;
  readonly createdMs: number;
}

export function buildCandidateFolder(input: CandidateInput): DriftReference {
  rmSync(input.folder, { recursive: true, force: true });
  cpSync(input.parentFolder, input.folder, {
    recursive: true,
    filter: (source) => !PARENT_ONLY.some((name) => source === join(input.parentFolder, name)),
  });
  const onnxPath = join(input.folder, 'onnx/model.onnx');
  writeFileSync(onnxPath, writeHead(readFileSync(onnxPath), input.head));

  const cardPath = join(input.folder, 'model-card.json');
  const card = JSON.parse(readFileSync(cardPath, 'utf8')) as Record<string, unknown>;
  writeFileSync(
    cardPath,
    `${JSON.stringify(
      {
        ...card,
        version: input.version,
        parent_version: input.parentVersion,
        created: new Date(input.createdMs).toISOString(),
        head_training: input.training,
        note: 'encoder and tokenizer of the parent; classification head retrained on recent labelled traffic (services/retrainer)',
      },
      null,
      2,
    )}\n`,
  );

  const { dim } = input.head;
  const rows = input.referenceEmbeddings.length / dim;
  const predicted = Int32Array.from({ length: rows }, (_, r) => {
    const logits = headLogits(input.head, input.referenceEmbeddings, r * dim);
    return logits[1]! > logits[0]! ? 1 : 0;
  });
  const reference = buildDriftReference(
    { embeddings: embeddingMatrix(input.referenceEmbeddings, dim), predicted },
    { sampleSize: rows },
  );
  writeDriftReference(input.folder, reference, {
    model: card.name ?? 'sentiment',
    version: input.version,
    embedding: 'cls_embedding (the parent encoder, frozen)',
    source: { what: 'the candidate recent training rows (labelled live traffic)', rows },
  });
  mkdirSync(join(input.folder, 'evaluation'), { recursive: true });
  writeFileSync(
    join(input.folder, 'evaluation/holdout.tsv'),
    `sentence\tlabel\n${input.holdout.map((row) => `${row.text.replace(/[\t\n\r]+/g, ' ')}\t${row.label}`).join('\n')}\n`,
  );
  return loadDriftReference(input.folder);
}

/** The parent's labelled reference sample (embeddings + true labels), if it has labels. */
export function labelledReferenceSample(
  parentFolder: string,
): { x: Float32Array; y: Int32Array } | null {
  const reference = loadDriftReference(parentFolder);
  const json = JSON.parse(readFileSync(join(parentFolder, 'reference.json'), 'utf8')) as {
    sample?: { rows?: { label?: number }[] };
  };
  const labels = json.sample?.rows?.map((row) => row.label);
  if (!labels || labels.some((label) => label !== 0 && label !== 1)) return null;
  const data = reference.sample.embeddings.data;
  return { x: Float32Array.from(data), y: Int32Array.from(labels as number[]) };
}
