/**
 * The logger keeps served and shadow predictions apart: `predictions` takes served ones
 * (STREAM, SYNC), `predictions.shadow` only SHADOW ones that name the served prediction they
 * shadow; any other is rejected (PREDICTION_ORIGIN_MISPLACED) and the rest of the batch stored.
 */
import { describe, expect, it } from 'vitest';
import type { ConsumedEvent, HandlerContext } from '#platform/runner';
import type { Prediction, PredictionOrigin } from '#platform/serde';
import { RowBinaryWriter, toPredictionRow, writePredictionRow } from '#platform/store';
import {
  EmbeddingWidths,
  checkOrigin,
  createPredictionHandler,
} from '../../services/logger/prediction-handler.ts';

const INGEST = 1_763_800_002_000;

function prediction(origin: PredictionOrigin, patch: Partial<Prediction> = {}): Prediction {
  return {
    eventId: `e-${origin}`,
    eventTime: 1_763_800_000_000,
    reviewId: 'r-1',
    reviewEventId: null,
    origin,
    source: 'test',
    text: 'fine',
    modelName: 'sentiment',
    modelVersion: origin === 'SHADOW' ? '2' : '1',
    label: 'POSITIVE',
    probabilities: [0.25, 0.75],
    confidence: 0.75,
    embedding: [0.5, 0.25, 0.125],
    latencyMs: 1,
    truncated: false,
    groundTruth: null,
    scoredAt: 1_763_800_001_000,
    shadowOf: origin === 'SHADOW' ? 'e-served' : null,
    ...patch,
  };
}

function consumed(
  topic: 'predictions' | 'predictions.shadow',
  offset: number,
  event: Prediction,
): ConsumedEvent<Prediction> {
  return {
    topic,
    partition: 0,
    offset: String(offset),
    key: null,
    value: null,
    headers: {},
    timestamp: '0',
    schemaId: 1,
    event: { ...event, eventId: `${event.eventId}-${offset}` },
  };
}

const context: HandlerContext = {
  heartbeat: async () => undefined,
  signal: new AbortController().signal,
  output: {
    send: async () => {
      throw new Error('the logger derives no events');
    },
  },
};

/** Runs the handler of `topic` over `events`; returns the rejections and what was stored. */
async function handle(
  topic: 'predictions' | 'predictions.shadow',
  events: readonly ConsumedEvent<Prediction>[],
) {
  const stored: { chunk: Buffer; rows: number }[] = [];
  const handler = createPredictionHandler({
    topic,
    embeddingWidths: new EmbeddingWidths(8),
    store: async (chunk, rows) => {
      stored.push({ chunk, rows });
    },
    now: () => INGEST,
  });
  const result = await handler(events, context);
  const rejected = (result?.rejected ?? []).map((r) => [
    r.event.offset,
    (r.error as { code?: string }).code,
  ]);
  return { stored, rejected };
}

/** The chunk the handler must store for exactly `events`. */
function chunkOf(events: readonly ConsumedEvent<Prediction>[]): Buffer {
  const writer = new RowBinaryWriter();
  for (const event of events)
    writePredictionRow(writer, toPredictionRow(event.event, event, INGEST));
  return writer.toBuffer();
}

describe('checkOrigin', () => {
  it('predictions takes served predictions only (STREAM, SYNC)', () => {
    expect(checkOrigin(prediction('STREAM'), 'predictions')).toBeUndefined();
    expect(checkOrigin(prediction('SYNC'), 'predictions')).toBeUndefined();
    expect(checkOrigin(prediction('SHADOW'), 'predictions')).toMatchObject({
      code: 'PREDICTION_ORIGIN_MISPLACED',
      retriable: false,
    });
    expect(checkOrigin(prediction('SHADOW', { shadowOf: null }), 'predictions')?.code).toBe(
      'PREDICTION_ORIGIN_MISPLACED',
    );
  });

  it('predictions.shadow takes SHADOW predictions that name the served one only', () => {
    expect(checkOrigin(prediction('SHADOW'), 'predictions.shadow')).toBeUndefined();
    for (const misplaced of [
      prediction('STREAM'),
      prediction('SYNC'),
      prediction('STREAM', { shadowOf: 'e-served' }),
      prediction('SHADOW', { shadowOf: null }),
      prediction('SHADOW', { shadowOf: '' }),
    ]) {
      const problem = checkOrigin(misplaced, 'predictions.shadow');
      expect(problem, JSON.stringify([misplaced.origin, misplaced.shadowOf])).toMatchObject({
        code: 'PREDICTION_ORIGIN_MISPLACED',
        retriable: false,
      });
    }
    expect(
      checkOrigin(prediction('SHADOW', { shadowOf: null }), 'predictions.shadow')?.message,
    ).toMatch(/without shadowOf/);
  });
});

describe('prediction handler: origin per topic', () => {
  it('predictions rejects a SHADOW prediction and stores the rest', async () => {
    const events = [
      consumed('predictions', 0, prediction('STREAM')),
      consumed('predictions', 1, prediction('SHADOW')),
      consumed('predictions', 2, prediction('SYNC')),
    ];
    const { stored, rejected } = await handle('predictions', events);
    expect(rejected).toEqual([['1', 'PREDICTION_ORIGIN_MISPLACED']]);
    expect(stored).toHaveLength(1);
    expect(stored[0]!.rows).toBe(2);
    expect(stored[0]!.chunk).toEqual(chunkOf([events[0]!, events[2]!]));
  });

  it('predictions.shadow rejects a STREAM prediction and stores the rest', async () => {
    const events = [
      consumed('predictions.shadow', 0, prediction('SHADOW')),
      consumed('predictions.shadow', 1, prediction('STREAM')),
      consumed('predictions.shadow', 2, prediction('SHADOW', { shadowOf: null })),
      consumed('predictions.shadow', 3, prediction('SHADOW', { shadowOf: 'e-other' })),
    ];
    const { stored, rejected } = await handle('predictions.shadow', events);
    expect(rejected).toEqual([
      ['1', 'PREDICTION_ORIGIN_MISPLACED'],
      ['2', 'PREDICTION_ORIGIN_MISPLACED'],
    ]);
    expect(stored[0]!.rows).toBe(2);
    expect(stored[0]!.chunk).toEqual(chunkOf([events[0]!, events[3]!]));
    // The stored shadow rows carry the served prediction's id.
    expect(toPredictionRow(events[3]!.event, events[3]!, INGEST).shadow_of).toBe('e-other');
  });

  it('a misplaced prediction does not set its version embedding width', async () => {
    const events = [
      // Rejected for its origin: its width (2) must not become version 2's width.
      consumed('predictions', 0, prediction('SHADOW', { embedding: [1, 2] })),
      consumed('predictions', 1, prediction('STREAM', { modelVersion: '2' })),
    ];
    const { stored, rejected } = await handle('predictions', events);
    expect(rejected).toEqual([['0', 'PREDICTION_ORIGIN_MISPLACED']]);
    expect(stored[0]!.rows).toBe(1);
  });
});
