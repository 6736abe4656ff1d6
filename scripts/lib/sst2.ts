/**
 * SST-2 helpers shared by the reference builder, the drift benchmark and the tests: the
 * committed train file, its full sentences, and the fixed split of those sentences into the
 * drift reference and held-out in-domain traffic.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { mulberry32, sampleWithoutReplacement } from '#platform/common';
import { REPO_ROOT } from './repo.ts';

export const SST2_TRAIN = 'data/sst2/train.tsv';
export const SST2_DEV = 'data/sst2/dev.tsv';

export interface LabelledRow {
  readonly text: string;
  readonly label: number;
}

export function readSst2(path: string): LabelledRow[] {
  return readFileSync(resolve(REPO_ROOT, path), 'utf8')
    .split('\n')
    .slice(1)
    .filter(Boolean)
    .map((line) => {
      const tab = line.lastIndexOf('\t');
      return { text: line.slice(0, tab), label: Number(line.slice(tab + 1)) };
    });
}

/**
 * Maximal phrases (train rows contained, as a token span, in no other row): SST-2's full
 * sentences. Row indices, first occurrence of each text.
 */
export function maximalPhrases(texts: readonly string[]): number[] {
  const trimmed = texts.map((text) => text.trim());
  const all = new Set(trimmed);
  const contained = new Set<string>();
  for (const text of trimmed) {
    const tokens = text.split(' ');
    for (let i = 0; i < tokens.length; i++) {
      let span = '';
      for (let j = i; j < tokens.length; j++) {
        span = j === i ? tokens[i]! : `${span} ${tokens[j]}`;
        if (!(i === 0 && j === tokens.length - 1) && all.has(span)) contained.add(span);
      }
    }
  }
  const seen = new Set<string>();
  const out: number[] = [];
  trimmed.forEach((text, i) => {
    if (!contained.has(text) && !seen.has(text)) {
      seen.add(text);
      out.push(i);
    }
  });
  return out;
}

/**
 * The reference's sentences (`count` full train sentences drawn with `seed`) and the held-out
 * ones, as train row indices. Same draw as docs/drift.md's sentence reference.
 */
export function referenceSentences(
  count = 4000,
  seed = 2024,
): { rows: LabelledRow[]; selected: number[]; heldOut: number[] } {
  const rows = readSst2(SST2_TRAIN);
  const sentences = maximalPhrases(rows.map((row) => row.text));
  const order = sampleWithoutReplacement(mulberry32(seed), sentences, sentences.length);
  return {
    rows,
    selected: Array.from(order.subarray(0, count)),
    heldOut: Array.from(order.subarray(count)),
  };
}
