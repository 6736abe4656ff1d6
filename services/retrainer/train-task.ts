/**
 * The training task (run in a worker thread by the retrainer): the parent's head, the recent
 * labelled rows plus a stratified sample of the labelled reference data (the bootstrap
 * model's SST-2 sentences, so the head does not forget the original domain), trained with
 * L2-SP and early stopping, then written into a candidate folder.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mulberry32, sampleWithoutReplacement, shuffleInPlace } from '#shared/drift';
import type { LabelledText } from '#shared/model';
import { buildCandidateFolder, labelledReferenceSample, readHead } from './candidate.ts';
import { trainHead } from './head.ts';

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
  /** Reference rows mixed in per recent row (default 1, capped by the sample). */
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
  const started = performance.now();
  const parent = readHead(readFileSync(join(input.parentFolder, 'onnx/model.onnx')));
  const { dim } = parent;
  const random = mulberry32(input.seed);
  const recentRows = input.recentY.length;
  const recentY = Int32Array.from(input.recentY);
  // Test hook: labels shuffled across rows, a candidate that has learnt nothing useful.
  if (input.shuffleLabels) shuffleInPlace(recentY, random);

  const reference = labelledReferenceSample(input.labelledReferenceFolder);
  const take = reference
    ? Math.min(reference.y.length, Math.round(recentRows * input.referenceRatio))
    : 0;
  // Stratified by true label, in the reference's own proportions.
  const chosen: number[] = [];
  if (reference && take > 0) {
    for (const label of [0, 1]) {
      const members = Array.from(reference.y.keys()).filter((i) => reference.y[i] === label);
      const share = Math.round((take * members.length) / reference.y.length);
      chosen.push(...sampleWithoutReplacement(random, members, Math.min(share, members.length)));
    }
  }
  const rows = recentRows + chosen.length;
  const x = new Float32Array(rows * dim);
  const y = new Int32Array(rows);
  x.set(input.recentX);
  y.set(recentY);
  chosen.forEach((index, i) => {
    x.set(reference!.x.subarray(index * dim, (index + 1) * dim), (recentRows + i) * dim);
    y[recentRows + i] = reference!.y[index]!;
  });

  const result = trainHead(
    parent,
    { x, y },
    {
      seed: input.seed,
      l2sp: input.l2sp,
      maxEpochs: input.maxEpochs,
      onEpoch: (epoch, maxEpochs, trainLoss, valLoss) =>
        progress({
          fraction: epoch / maxEpochs,
          message: `epoch ${epoch}/${maxEpochs}: train loss ${trainLoss.toFixed(4)}, validation loss ${valLoss.toFixed(4)}`,
        }),
    },
  );
  const summary = {
    examples: rows,
    recentExamples: recentRows,
    referenceExamples: chosen.length,
    epochs: result.epochs,
    bestEpoch: result.bestEpoch,
    validationLoss: Number(result.valLoss.toFixed(5)),
    validationAccuracy: Number(result.valAccuracy.toFixed(5)),
    l2sp: input.l2sp,
    seed: input.seed,
    shuffledLabels: String(input.shuffleLabels),
    trainingSeconds: Number(((performance.now() - started) / 1000).toFixed(2)),
  };
  const driftReference = buildCandidateFolder({
    parentFolder: input.parentFolder,
    folder: input.outputFolder,
    head: result.head,
    version: input.version,
    parentVersion: input.parentVersion,
    referenceEmbeddings: input.recentX,
    holdout: input.holdout,
    training: { ...summary, ...input.description },
    createdMs: input.createdMs,
  });
  progress({ fraction: 1, message: `trained in ${summary.trainingSeconds} s` });
  return {
    folder: input.outputFolder,
    summary,
    referenceCentroid: Array.from(driftReference.mean),
    referenceRows: chosen.length,
  };
}
