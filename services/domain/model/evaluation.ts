/**
 * Evaluation of a model on labelled text: accuracy, and precision / recall / F1 of the
 * POSITIVE class (label index 1). The golden set is SST-2 dev (`data/sst2/dev.tsv`, 872
 * sentences), committed to the repo, so every evaluation runs offline and gives the same
 * number for the same model.
 */
import { readFileSync } from 'node:fs';
import { AppError } from '#platform/common';
import { ModelWorker } from './model-worker.ts';

/**
 * Where a candidate's model folder keeps its held-out recent data (a labelled TSV, as
 * `readLabelledTsv` reads): written by the retrainer, scored by the promoter.
 */
export const HOLDOUT_FILE = 'evaluation/holdout.tsv';

export interface LabelledText {
  readonly text: string;
  /** 0 = NEGATIVE, 1 = POSITIVE. */
  readonly label: number;
}

export interface ClassificationMetrics {
  readonly accuracy: number;
  readonly f1: number;
  readonly precision: number;
  readonly recall: number;
  readonly n: number;
}

export class EvaluationDataError extends AppError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('EVALUATION_DATA_INVALID', message, options);
  }
}

/** The golden set's usual place (GOLDEN_SET_FILE's default; relative: to the working directory). */
export const GOLDEN_SET_PATH = 'data/sst2/dev.tsv';

/** Reads a `sentence<TAB>label` file with a header line (the SST-2 / GLUE layout). */
export function readLabelledTsv(path: string): LabelledText[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new EvaluationDataError(`cannot read ${path}`, { cause: error });
  }
  return text
    .split('\n')
    .slice(1)
    .filter((line) => line.trim() !== '')
    .map((line, index) => {
      const tab = line.lastIndexOf('\t');
      const label = Number(line.slice(tab + 1));
      if (tab < 0 || (label !== 0 && label !== 1)) {
        throw new EvaluationDataError(`${path}:${index + 2}: expected "sentence<TAB>0|1"`);
      }
      return { text: line.slice(0, tab), label };
    });
}

/**
 * Metrics of predicted vs true label indices (1 = positive). Undefined ratios (no positive
 * predictions, say) count as 0, so a degenerate model scores F1 = 0 instead of NaN.
 */
export function classificationMetrics(
  predicted: readonly number[],
  truth: readonly number[],
): ClassificationMetrics {
  if (predicted.length !== truth.length) {
    throw new RangeError(`${predicted.length} predictions for ${truth.length} labels`);
  }
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let correct = 0;
  predicted.forEach((p, i) => {
    const t = truth[i];
    if (p === t) correct++;
    if (p === 1 && t === 1) tp++;
    if (p === 1 && t !== 1) fp++;
    if (p !== 1 && t === 1) fn++;
  });
  const ratio = (a: number, b: number) => (b === 0 ? 0 : a / b);
  const precision = ratio(tp, tp + fp);
  const recall = ratio(tp, tp + fn);
  return {
    accuracy: ratio(correct, predicted.length),
    f1: ratio(2 * precision * recall, precision + recall),
    precision,
    recall,
    n: predicted.length,
  };
}

/** Scores `data` with `score` (any engine: SentimentEngine, ModelHost, a worker) in chunks. */
export async function evaluate(
  score: (texts: string[]) => Promise<readonly { readonly labelIndex: number }[]>,
  data: readonly LabelledText[],
  chunkSize = 256,
): Promise<ClassificationMetrics> {
  const predicted: number[] = [];
  for (let start = 0; start < data.length; start += chunkSize) {
    const chunk = data.slice(start, start + chunkSize);
    const results = await score(chunk.map((row) => row.text));
    predicted.push(...results.map((result) => result.labelIndex));
  }
  return classificationMetrics(
    predicted,
    data.map((row) => row.label),
  );
}

/** Scores a model folder on labelled texts in a worker thread (the caller's event loop stays free). */
export async function evaluateInWorker(
  folder: string,
  data: readonly LabelledText[],
): Promise<ClassificationMetrics> {
  const worker = await ModelWorker.start(folder);
  try {
    return await evaluate((texts) => worker.score(texts), data);
  } finally {
    await worker.retire();
  }
}
