import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDriftReference } from '#domain/drift';
import { SentimentEngine, readModelFolder } from '#domain/model';
import {
  CandidateFolderError,
  type CandidateFolder,
  type HeadTrainingResult,
  buildCandidateFolder,
  headLogits,
  headPredict,
  headTrainingSets,
  readLabelledReference,
  readOnnxHead,
  trainHead,
} from '../../services/retrainer/training/index.ts';

const BOOTSTRAP = 'models/sentiment-compact';
const scratch = mkdtempSync(join(tmpdir(), 'training-candidate-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const TEXTS = [
  'a gripping, beautifully acted film.',
  'dull and overlong',
  'The battery died after only three hours.',
  'not bad at all, though the ending drags',
  'I would not recommend this restaurant to anyone.',
  'an utterly charming and funny romance',
];

describe('candidate model folder', () => {
  const parent = readOnnxHead(readFileSync(join(BOOTSTRAP, 'onnx/model.onnx'))).head;
  const reference = readLabelledReference(BOOTSTRAP);
  let trained: HeadTrainingResult;
  let candidate: CandidateFolder;
  let trainX: Float32Array;

  beforeAll(() => {
    // A real (if small) retraining: 600 reference rows with flipped labels as "recent
    // traffic", so the new head really differs from the parent's.
    const recent = {
      x: reference.x.slice(0, 600 * reference.dim),
      dim: reference.dim,
      y: Int32Array.from(reference.y.slice(0, 600), (label) => 1 - label),
    };
    const sets = headTrainingSets(recent, reference, { referenceRatio: 1, seed: 5 });
    trained = trainHead(sets.train, parent, {
      seed: 5,
      maxEpochs: 3,
      patience: 10,
      learningRate: 1e-2,
      l2sp: 0,
      validation: sets.validation,
    });
    trainX = Float32Array.from(sets.train.x);
    candidate = buildCandidateFolder({
      parentFolder: BOOTSTRAP,
      outputFolder: join(scratch, 'candidate'),
      head: trained.head,
      version: '2',
      created: new Date('2026-01-02T03:04:05Z'),
      training: trained.summary,
      data: { recent: 'test rows', referenceRows: sets.train.referenceRows },
      referenceEmbeddings: sets.train.x,
      referenceRowMetadata: sets.train.source.map((source, r) => ({
        source,
        label: sets.train.y[r],
      })),
      referenceSampleSize: 500,
    });
  });

  it('has the parent files, a new head, its own card and no parent-only files', () => {
    const folder = candidate.folder;
    for (const file of [
      'config.json',
      'tokenizer.json',
      'tokenizer_config.json',
      'onnx/model.onnx',
    ]) {
      expect(existsSync(join(folder, file))).toBe(true);
    }
    expect(existsSync(join(folder, 'parity.json'))).toBe(false);
    expect(existsSync(join(folder, 'node-check.json'))).toBe(false);
    const info = readModelFolder(folder);
    expect(info.version).toBe('2');
    expect(info.name).toBe('sentiment');
    const card = JSON.parse(readFileSync(join(folder, 'model-card.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(card.parent_version).toBe('1');
    expect(card.created).toBe('2026-01-02T03:04:05.000Z');
    expect(card).not.toHaveProperty('metrics');
    expect(card.parent_metrics).toMatchObject({ sst2_dev: { n: 872 } });
    expect(card.head_training).toMatchObject({
      seed: 5,
      epochs: 3,
      trainRows: trained.summary.trainRows,
      data: { recent: 'test rows' },
    });
    expect(card.encoder).toMatchObject({ version: '1', frozen: true, seed: 13 });
    expect((card.files as Record<string, unknown>).onnx_sha256).toBe(candidate.onnxSha256);
    expect((card.files as Record<string, unknown>).parity).toBeUndefined();
    const head = readOnnxHead(readFileSync(join(folder, 'onnx/model.onnx'))).head;
    expect(Array.from(head.classifierWeight)).toEqual(
      Array.from(Float32Array.from(trained.head.classifierWeight)),
    );
  });

  it('has its own drift reference, from its training rows and its own predictions', () => {
    const loaded = loadDriftReference(candidate.folder);
    expect(loaded.count).toBe(trainX.length / 128);
    expect(loaded.sample.embeddings.rows).toBe(500);
    const predicted = headPredict(trained.head, trainX);
    const positives = predicted.reduce((a, b) => a + b, 0);
    expect(loaded.classCounts).toEqual([predicted.length - positives, positives]);
    // Mean of the training embeddings (stored to 6 significant digits).
    let mean0 = 0;
    for (let r = 0; r < loaded.count; r++) mean0 += trainX[r * 128]!;
    expect(loaded.mean[0]).toBeCloseTo(mean0 / loaded.count, 4);
    const json = JSON.parse(readFileSync(join(candidate.folder, 'reference.json'), 'utf8')) as {
      version: string;
      sample: { rows: { source: string; label: number; predicted: number }[] };
    };
    expect(json.version).toBe('2');
    expect(json.sample.rows[0]).toHaveProperty('source');
    expect(json.sample.rows[0]).toHaveProperty('label');
  });

  it('loads in the production runtime with logits equal to the TS forward pass of the head', async () => {
    const engine = await SentimentEngine.load(candidate.folder);
    const parentEngine = await SentimentEngine.load(BOOTSTRAP);
    const session = await ort.InferenceSession.create(join(candidate.folder, 'onnx/model.onnx'));
    try {
      const scored = await engine.score(TEXTS);
      const parentScored = await parentEngine.score(TEXTS);
      let largestChange = 0;
      for (const [i, result] of scored.entries()) {
        // Same frozen encoder: the same embedding as the parent's.
        const parentEmbedding = parentScored[i]!.embedding;
        result.embedding.forEach((v, j) =>
          expect(Math.abs(v - parentEmbedding[j]!)).toBeLessThan(1e-5),
        );
        const logits = headLogits(trained.head, result.embedding);
        const max = Math.max(logits[0]!, logits[1]!);
        const z = Math.exp(logits[0]! - max) + Math.exp(logits[1]! - max);
        expect(Math.abs(result.probabilities[1]! - Math.exp(logits[1]! - max) / z)).toBeLessThan(
          1e-4,
        );
        largestChange = Math.max(
          largestChange,
          Math.abs(result.probabilities[1]! - parentScored[i]!.probabilities[1]!),
        );
        // The raw logits, straight from the candidate graph.
        const { ids } = engine.tokenize(TEXTS[i]!);
        const tensor = (values: number[]) =>
          new ort.Tensor(
            'int64',
            BigInt64Array.from(values, (v) => BigInt(v)),
            [1, ids.length],
          );
        const output = await session.run({
          input_ids: tensor(ids),
          attention_mask: tensor(ids.map(() => 1)),
        });
        const raw = output.logits!.data as Float32Array;
        expect(Math.abs(raw[0]! - logits[0]!)).toBeLessThan(1e-4);
        expect(Math.abs(raw[1]! - logits[1]!)).toBeLessThan(1e-4);
      }
      // The head really changed what the model says.
      expect(largestChange).toBeGreaterThan(0.05);
    } finally {
      await session.release();
      await engine.release();
      await parentEngine.release();
    }
  });

  it('refuses to overwrite a folder or to write over its parent (CANDIDATE_FOLDER_FAILED)', () => {
    const input = {
      parentFolder: BOOTSTRAP,
      head: trained.head,
      version: '3',
      training: trained.summary,
      data: {},
      referenceEmbeddings: trainX,
    };
    for (const outputFolder of [candidate.folder, BOOTSTRAP]) {
      let error: unknown;
      try {
        buildCandidateFolder({ ...input, outputFolder });
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(CandidateFolderError);
      expect((error as CandidateFolderError).code).toBe('CANDIDATE_FOLDER_FAILED');
    }
    expect(readModelFolder(candidate.folder).version).toBe('2');
  });
});
