/**
 * Candidate model folders for live-trial tests: the parent's folder with its classification
 * head's bias moved toward POSITIVE (positive shift) or NEGATIVE (negative), under another
 * version. Such a candidate disagrees with its parent on the texts near the decision boundary
 * and nowhere else, so a test can steer which version live labels favour. Its holdout set
 * (evaluation/holdout.tsv, what the promoter's offline gate scores both versions on) is given
 * by the test: the offline picture and the live one are set apart on purpose.
 */
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { HOLDOUT_FILE, type LabelledText, SentimentEngine } from '#domain/model';
import { cloneHead, readOnnxHead, writeOnnxHead } from '../../services/retrainer/training/index.ts';

export function biasedCandidate(
  parentFolder: string,
  outputFolder: string,
  version: string,
  positiveShift: number,
): string {
  cpSync(parentFolder, outputFolder, { recursive: true });
  const onnxPath = join(outputFolder, 'onnx/model.onnx');
  const bytes = readFileSync(onnxPath);
  const head = cloneHead(readOnnxHead(bytes).head);
  head.classifierBias[0]! -= positiveShift / 2;
  head.classifierBias[1]! += positiveShift / 2;
  writeFileSync(onnxPath, writeOnnxHead(bytes, head));
  const cardPath = join(outputFolder, 'model-card.json');
  const card = JSON.parse(readFileSync(cardPath, 'utf8')) as Record<string, unknown>;
  writeFileSync(cardPath, JSON.stringify({ ...card, version }, null, 2));
  return outputFolder;
}

/** Writes the folder's offline holdout set (sentence<TAB>label, with a header line). */
export function writeHoldout(folder: string, rows: readonly LabelledText[]): void {
  const path = join(folder, HOLDOUT_FILE);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(
    path,
    [
      'sentence\tlabel',
      ...rows.map((row) => `${row.text.replace(/\s+/g, ' ')}\t${row.label}`),
    ].join('\n') + '\n',
  );
}

/** Each text's predicted class (0 NEGATIVE, 1 POSITIVE) by the model in `folder`. */
export async function predictedClasses(
  folder: string,
  texts: readonly string[],
): Promise<number[]> {
  const engine = await SentimentEngine.load(folder);
  try {
    const out: number[] = [];
    for (let i = 0; i < texts.length; i += 64) {
      const results = await engine.score(texts.slice(i, i + 64));
      for (const result of results) out.push(result.label === 'POSITIVE' ? 1 : 0);
    }
    return out;
  } finally {
    await engine.release();
  }
}
