/**
 * A candidate model version as a folder: the parent's folder (tokenizer, config, encoder) with
 * a retrained head written into onnx/model.onnx, its own model card, and its own drift
 * reference built from the embeddings it was trained on with the labels the new head
 * predicts for them. The result loads through the same runtime path as every other version
 * (readModelFolder / SentimentEngine.load) and its reference through loadDriftReference.
 */
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { AppError } from '#platform/common';
import {
  DRIFT_CALIBRATION_FILE,
  type DriftReference,
  type ReferenceMetadata,
  buildDriftReference,
  embeddingMatrix,
  writeDriftReference,
} from '#domain/drift';
import { HIDDEN_STATE_OUTPUT, readModelFolder } from '#domain/model';
import { type HeadTrainingSummary, headPredict } from './head-trainer.ts';
import { type TanhHead, readOnnxHead, writeOnnxHead } from './onnx-head.ts';

export class CandidateFolderError extends AppError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('CANDIDATE_FOLDER_FAILED', message, options);
  }
}

/**
 * Files of a parent folder that describe the parent's outputs only; not copied. The shipped
 * drift calibration belongs to the parent's reference; a candidate's is calibrated for its own.
 */
export const PARENT_ONLY_FILES: readonly string[] = [
  'parity.json',
  'node-check.json',
  DRIFT_CALIBRATION_FILE,
];

export interface CandidateFolderInput {
  readonly parentFolder: string;
  /** Must not exist (unless `overwrite`). Written through a temporary sibling, then renamed. */
  readonly outputFolder: string;
  readonly head: TanhHead;
  readonly version: string;
  /** Default: the parent's name. */
  readonly name?: string;
  /** Default: now. */
  readonly created?: Date;
  /** trainHead's summary. */
  readonly training: HeadTrainingSummary;
  /** What the training data was (sources, row counts, time range, ...); written into the card. */
  readonly data: Readonly<Record<string, unknown>>;
  /**
   * The embeddings the head was trained on (rows x hidden, row-major): the candidate's drift
   * reference (mean, std, class centroids by the new head's predictions, sample) comes from them.
   */
  readonly referenceEmbeddings: Float32Array | Float64Array;
  /** Per row of referenceEmbeddings: fields kept on the sample rows (e.g. source, true label). */
  readonly referenceRowMetadata?: readonly ReferenceMetadata[];
  /** Top-level fields of reference.json (e.g. where the rows came from). */
  readonly referenceMetadata?: ReferenceMetadata;
  /** Rows kept in reference-sample.f32. Default 4000. */
  readonly referenceSampleSize?: number;
  /** Extra model-card fields (e.g. evaluation metrics of the candidate). */
  readonly card?: Readonly<Record<string, unknown>>;
  /** Replace an existing output folder. Default false. */
  readonly overwrite?: boolean;
}

export interface CandidateFolder {
  readonly folder: string;
  readonly name: string;
  readonly version: string;
  readonly parentVersion: string;
  readonly onnxSha256: string;
  readonly reference: DriftReference;
}

type Json = Record<string, unknown>;

function readJsonFile(path: string): Json {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Json;
  } catch (error) {
    throw new CandidateFolderError(`cannot read ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** Fields of a card that describe how the parent itself was trained or measured. */
const PARENT_TRAINING_FIELDS = [
  'training_data',
  'hyper_parameters',
  'seed',
  'training_history',
  'training_time_sec',
  'training_environment',
  'teachers',
  'pretrained_inputs',
  'not_used_for_training',
];

function candidateCard(
  parentCard: Json,
  input: CandidateFolderInput,
  parent: { name: string; version: string },
  onnxSha256: string,
  reference: DriftReference,
): Json {
  const card: Json = { ...parentCard };
  // The encoder is the parent's, unchanged: keep how it was trained, once, under `encoder`.
  const encoder: Json =
    typeof parentCard.encoder === 'object' && parentCard.encoder !== null
      ? (parentCard.encoder as Json)
      : {
          version: parent.version,
          frozen: true,
          ...Object.fromEntries(
            PARENT_TRAINING_FIELDS.filter((f) => f in parentCard).map((f) => [f, parentCard[f]]),
          ),
        };
  for (const field of [...PARENT_TRAINING_FIELDS, 'metrics', 'head_training', 'reference_format']) {
    delete card[field];
  }
  const files: Json =
    typeof parentCard.files === 'object' && parentCard.files !== null
      ? { ...(parentCard.files as Json) }
      : {};
  delete files.parity;
  files.onnx_sha256 = onnxSha256;
  files.reference =
    `reference.json + reference-sample.f32 (drift reference of this version: ${reference.count} ` +
    `training embeddings, classes predicted by this version's head)`;
  const created = (input.created ?? new Date()).toISOString();
  return {
    ...card,
    name: input.name ?? parent.name,
    version: input.version,
    parent_version: parent.version,
    created,
    files,
    encoder,
    head_training: { ...input.training, data: input.data },
    parent_metrics: parentCard.metrics ?? parentCard.parent_metrics ?? null,
    reference_format: {
      'reference.json':
        'format 1 (services/domain/drift/reference.ts): mean/std/centroid of the embedding ' +
        `over the ${reference.count} rows the head was trained on, by_predicted centroids and ` +
        'counts by this head',
      'reference-sample.f32': `float32 little-endian, row-major [${reference.sample.embeddings.rows}, ${reference.dim}]`,
    },
    ...input.card,
  };
}

function candidateReadme(name: string, version: string, parentVersion: string): string {
  return [
    `# ${name} ${version} — retrained head`,
    '',
    `The encoder, tokenizer and configuration of version ${parentVersion}, unchanged, with a new`,
    'classification head (pooler + classifier) trained on the [CLS] embeddings of recent',
    'labelled traffic and of the reference training data (services/retrainer/training/,',
    'docs/retraining.md). The training run, its data and its validation figures are in',
    '`model-card.json` (`head_training`); the drift reference (`reference.json`,',
    '`reference-sample.f32`) is built from the same training embeddings.',
    '',
  ].join('\n');
}

/** Builds the candidate folder described in the module comment. */
export function buildCandidateFolder(input: CandidateFolderInput): CandidateFolder {
  const parentFolder = resolve(input.parentFolder);
  const output = resolve(input.outputFolder);
  if (output === parentFolder) throw new CandidateFolderError('output folder is the parent folder');
  if (existsSync(output) && !input.overwrite) {
    throw new CandidateFolderError(`${output} already exists`);
  }
  const info = readModelFolder(parentFolder);
  const parentBytes = readFileSync(info.onnxPath);
  const { location } = readOnnxHead(parentBytes);
  if (
    location.embeddingTensor !== info.embeddingOutput &&
    info.embeddingOutput !== HIDDEN_STATE_OUTPUT
  ) {
    throw new CandidateFolderError(
      `the head reads "${location.embeddingTensor}" but the runtime's embedding is ` +
        `"${info.embeddingOutput}": embeddings would not be the head's input`,
    );
  }
  const bytes = writeOnnxHead(parentBytes, input.head);
  const dim = input.head.inputDim;
  const embeddings = embeddingMatrix(input.referenceEmbeddings, dim);
  const predicted = headPredict(input.head, input.referenceEmbeddings);
  const reference = buildDriftReference(
    { embeddings, predicted },
    {
      classLabels: info.labels,
      sampleSize: input.referenceSampleSize ?? 4000,
      seed: input.training.seed,
    },
  );
  const rowMetadata = input.referenceRowMetadata;
  if (rowMetadata && rowMetadata.length !== embeddings.rows) {
    throw new CandidateFolderError(
      `${rowMetadata.length} row metadata entries for ${embeddings.rows} reference rows`,
    );
  }
  const sampleMetadata = rowMetadata
    ? Array.from(reference.sampleRows ?? [], (r) => rowMetadata[r] ?? {})
    : [];

  const parentCardPath = join(parentFolder, 'model-card.json');
  const parentCard = existsSync(parentCardPath) ? readJsonFile(parentCardPath) : {};
  const onnxSha256 = createHash('sha256').update(bytes).digest('hex');
  const name = input.name ?? info.name;
  const card = candidateCard(
    parentCard,
    input,
    { name: info.name, version: info.version },
    onnxSha256,
    reference,
  );

  const staging = join(
    dirname(output),
    `.${basename(output)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`,
  );
  try {
    cpSync(parentFolder, staging, {
      recursive: true,
      filter: (source) =>
        !PARENT_ONLY_FILES.includes(resolve(source).slice(parentFolder.length + 1)),
    });
    writeFileSync(join(staging, 'onnx/model.onnx'), bytes);
    writeDriftReference(
      staging,
      reference,
      {
        model: name,
        version: input.version,
        embedding: info.embeddingOutput,
        source: input.data,
        ...input.referenceMetadata,
      },
      sampleMetadata,
    );
    writeFileSync(join(staging, 'model-card.json'), `${JSON.stringify(card, null, 2)}\n`);
    writeFileSync(join(staging, 'README.md'), candidateReadme(name, input.version, info.version));
    if (existsSync(output)) rmSync(output, { recursive: true, force: true });
    renameSync(staging, output);
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    if (error instanceof AppError) throw error;
    throw new CandidateFolderError(`cannot write ${output}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return {
    folder: output,
    name,
    version: input.version,
    parentVersion: info.version,
    onnxSha256,
    reference,
  };
}
