/**
 * The committed models and the data the model tests use.
 *
 * PRODUCTION_MODEL_DIR is what the registry bootstraps and the services serve by default
 * (all-MiniLM-L6-v2 fine-tuned, int8). COMPACT_MODEL_DIR is the small fast alternative; the
 * integration tests of the plumbing (Kafka, ClickHouse, registry, gateway) run it, through
 * testStackProcessEnv, because it scores 15-20x faster on CI's two cores. The production
 * model is tested by the model-runtime and closed-loop tests.
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { REPO_ROOT, TEST_MODEL_DIR } from './stack.ts';

export const PRODUCTION_MODEL_DIR = resolve(REPO_ROOT, 'models/sentiment-minilm');
export const COMPACT_MODEL_DIR = resolve(REPO_ROOT, TEST_MODEL_DIR);

export interface ParityCase {
  readonly text: string;
  readonly input_ids: number[];
  readonly logits: number[];
  readonly cls_embedding: number[];
}

/** Outputs written by the model build (parity.json) that the Node runtime must reproduce. */
export function parityCases(folder: string = COMPACT_MODEL_DIR): ParityCase[] {
  return (
    JSON.parse(readFileSync(join(folder, 'parity.json'), 'utf8')) as {
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

/** A copy of the compact model with another version in its card (for swap tests). */
export function copyModelAsVersion(version: string): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'model-')), `sentiment-v${version}`);
  cpSync(COMPACT_MODEL_DIR, dir, { recursive: true });
  const cardPath = join(dir, 'model-card.json');
  const card = JSON.parse(readFileSync(cardPath, 'utf8')) as Record<string, unknown>;
  writeFileSync(cardPath, JSON.stringify({ ...card, version }));
  return dir;
}
