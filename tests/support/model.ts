/** The committed bootstrap model and the data the model tests use. */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { REPO_ROOT } from './stack.ts';

export const BOOTSTRAP_MODEL_DIR = resolve(REPO_ROOT, 'models/sentiment-bootstrap');

export interface ParityCase {
  readonly text: string;
  readonly input_ids: number[];
  readonly logits: number[];
  readonly cls_embedding: number[];
}

/** PyTorch outputs written by the training recipe at export time. */
export function parityCases(): ParityCase[] {
  return (
    JSON.parse(readFileSync(join(BOOTSTRAP_MODEL_DIR, 'parity.json'), 'utf8')) as {
      cases: ParityCase[];
    }
  ).cases;
}

export function softmax(logits: readonly number[]): number[] {
  const max = Math.max(...logits);
  const exps = logits.map((value) => Math.exp(value - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((value) => value / sum);
}

export function sst2Dev(): { text: string; label: number }[] {
  return readFileSync(resolve(REPO_ROOT, 'data/sst2/dev.tsv'), 'utf8')
    .split('\n')
    .slice(1)
    .filter(Boolean)
    .map((line) => {
      const [text, label] = line.split('\t');
      return { text: text!, label: Number(label) };
    });
}

/** A copy of the bootstrap model with another version in its card (for swap tests). */
export function copyModelAsVersion(version: string): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'model-')), `sentiment-v${version}`);
  cpSync(BOOTSTRAP_MODEL_DIR, dir, { recursive: true });
  const cardPath = join(dir, 'model-card.json');
  const card = JSON.parse(readFileSync(cardPath, 'utf8')) as Record<string, unknown>;
  writeFileSync(cardPath, JSON.stringify({ ...card, version }));
  return dir;
}
