/**
 * The training task (run in a worker thread by the retrainer), on the shared training library
 * (docs/retraining.md): the parent's head; the recent labelled rows plus a stratified sample
 * of the labelled reference data (the bootstrap model's SST-2 sentences, so the head keeps the
 * original domain); L2-SP toward the parent and early stopping on held-apart recent rows; the
 * candidate folder with its own drift reference built from the recent rows only (the traffic
 * it will serve) and the held-out set the promoter scores it on.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mulberry32, shuffleInPlace } from '#platform/common';
import { HOLDOUT_FILE, type LabelledText } from '#domain/model';
import {
  buildCandidateFolder,
  headTrainingSets,
  readLabelledReference,
  readOnnxHead,
  trainHead,
} from './training/index.ts';

export interface TrainTaskInput {
  readonly parentFolder: string;
  /** Folder whose reference sample carries true labels (the bootstrap model). */
  readonly labelledReferenceFolder: string;
  readonly outputFolder: string;
  readonly recentX: Float32Array;
  readonly recentY: Int32Array;
  readonly seed: number;
  readonly shuffleLabels: boolean;
  readonly version: string;
  readonly parentVersion: string;
  readonly holdout: readonly LabelledText[];
  readonly description: Readonly<Record<string, unknown>>;
  /** Reference rows mixed in per recent row. */
  readonly referenceRatio: number;
  readonly l2sp: number;
  readonly maxEpochs: number;
  readonly createdMs: number;
}

export interface TrainTaskResult {
  readonly folder: string;
  readonly summary: Record<string, number | string>;
  readonly referenceCentroid: number[];
  readonly referenceRows: number;
}

export interface TrainProgress {
  readonly fraction: number;
  readonly message: string;
}

export function run(
  input: TrainTaskInput,
  progress: (value: TrainProgress) => void,
): TrainTaskResult {
  const { head: parent } = readOnnxHead(readFileSync(join(input.parentFolder, 'onnx/model.onnx')));
  const dim = parent.inputDim;
  const { train, validation } = headTrainingSets(
    { x: input.recentX, dim, y: Int32Array.from(input.recentY) },
    readLabelledReference(input.labelledReferenceFolder),
    { referenceRatio: input.referenceRatio, seed: input.seed },
  );
  // Test hook: every training label shuffled across rows, the labelled reference's too, so
  // the candidate has learnt nothing useful. (Shuffling only the recent rows left the
  // reference's true labels in the mix: a closed-loop run saw such a candidate tie production
  // on the held-out rows and pass the gate.)
  if (input.shuffleLabels) shuffleInPlace(train.y, mulberry32(input.seed));
  const result = trainHead(train, parent, {
    seed: input.seed,
    maxEpochs: input.maxEpochs,
    // The shuffled-label hook must produce a head that learnt the noise: early stopping on
    // (shuffled) validation rows would keep the parent, an identical and passable candidate.
    ...(input.shuffleLabels
      ? { l2sp: 0, patience: input.maxEpochs, validation: train }
      : { l2sp: input.l2sp, validation }),
    onProgress: (p) =>
      progress({
        fraction: p.epoch / p.maxEpochs,
        message: `epoch ${p.epoch}/${p.maxEpochs}: validation loss ${p.valLoss.toFixed(4)}, F1 ${p.valF1.toFixed(4)}`,
      }),
  });
  const candidate = buildCandidateFolder({
    parentFolder: input.parentFolder,
    outputFolder: input.outputFolder,
    head: result.head,
    version: input.version,
    created: new Date(input.createdMs),
    training: result.summary,
    data: {
      ...input.description,
      recentRows: train.recentRows,
      referenceRows: train.referenceRows,
      validationRows: validation.y.length,
      heldOutRows: input.holdout.length,
    },
    referenceEmbeddings: input.recentX,
    referenceMetadata: { source: { what: 'recent labelled traffic the candidate trained on' } },
    overwrite: true,
  });
  mkdirSync(join(candidate.folder, 'evaluation'), { recursive: true });
  writeFileSync(
    join(candidate.folder, HOLDOUT_FILE),
    `sentence\tlabel\n${input.holdout
      .map((row) => `${row.text.replace(/[\t\n\r]+/g, ' ')}\t${row.label}`)
      .join('\n')}\n`,
  );
  const { summary } = result;
  progress({ fraction: 1, message: `trained in ${summary.seconds.toFixed(1)} s` });
  return {
    folder: candidate.folder,
    summary: {
      trainRows: summary.trainRows,
      validationRows: summary.validationRows,
      epochs: summary.epochs,
      bestEpoch: summary.bestEpoch,
      stoppedBy: summary.stoppedBy,
      l2sp: summary.l2sp,
      seed: summary.seed,
      validationF1: Number(summary.validation.f1.toFixed(5)),
      parentValidationF1: Number(summary.parentValidation.f1.toFixed(5)),
      seconds: Number(summary.seconds.toFixed(2)),
      shuffledLabels: String(input.shuffleLabels),
    },
    referenceCentroid: Array.from(candidate.reference.mean),
    referenceRows: train.referenceRows,
  };
}
