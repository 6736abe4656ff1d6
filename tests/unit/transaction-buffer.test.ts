/**
 * What an exactly-once batch commits: the outputs of the handler calls that succeeded (a
 * failed attempt leaves nothing), plus its dead letters; and produce requests cut below the
 * broker's record-batch limit; which errors mean the group coordinator moved.
 */
import { describe, expect, it } from 'vitest';
import {
  MAX_REQUEST_BYTES,
  type OutgoingEvent,
  type RawOutgoing,
  chunkBySize,
} from '#platform/kafka';
import {
  type ConsumedEvent,
  type HandlerContext,
  TransactionBuffer,
  isCoordinatorMovedError,
} from '#platform/runner';
import { EventCodec, type Review, type RegistryClient, loadCatalogue } from '#platform/serde';

const registry: RegistryClient = {
  register: async () => 7,
  getSchemaText: async () => {
    throw new Error('not used');
  },
};

const context: HandlerContext = {
  heartbeat: async () => undefined,
  signal: new AbortController().signal,
  output: {
    send: async () => {
      throw new Error('the buffer must replace the output');
    },
  },
};

function consumed(offset: number, text: string): ConsumedEvent<Review> {
  return {
    topic: 'reviews',
    partition: 0,
    offset: String(offset),
    key: null,
    value: null,
    headers: {},
    timestamp: '0',
    schemaId: 1,
    event: {
      eventId: `00000000-0000-4000-8000-00000000000${offset}`,
      eventTime: 1,
      reviewId: `r${offset}`,
      source: 'test',
      text,
      groundTruth: null,
      attributes: {},
    },
  };
}

const echo = (event: ConsumedEvent<Review>): OutgoingEvent<'reviews'> => ({
  key: event.event.reviewId,
  value: { ...event.event, source: 'echo' },
});

describe('TransactionBuffer', () => {
  it('keeps the outputs of successful handler calls only', async () => {
    const buffer = new TransactionBuffer(new EventCodec(registry, loadCatalogue()));
    let calls = 0;
    const handler = buffer.wrap<Review>(async (events, { output }) => {
      calls++;
      await output.send('reviews', events.map(echo));
      if (calls === 1) throw new Error('first attempt fails after sending');
      return {};
    });
    const events = [consumed(1, 'a'), consumed(2, 'b')];
    await expect(handler(events, context)).rejects.toThrow(/first attempt/);
    expect(buffer.size).toBe(0);
    await handler(events, context);
    await handler([consumed(3, 'c')], context);
    const [entry] = buffer.contents();
    expect(entry?.topic).toBe('reviews');
    expect(entry?.messages.map((m) => m.key)).toEqual(['r1', 'r2', 'r3']);
    // Encoded in wire format with the registered schema id.
    expect(entry?.messages[0]?.value?.readUInt32BE(1)).toBe(7);
  });

  it('fails the handler call when an output does not match its schema', async () => {
    const buffer = new TransactionBuffer(new EventCodec(registry, loadCatalogue()));
    const handler = buffer.wrap<Review>(async (events, { output }) => {
      await output.send('reviews', [
        { key: 'x', value: { ...events[0]!.event, eventTime: 'soon' as unknown as number } },
      ]);
    });
    await expect(handler([consumed(1, 'a')], context)).rejects.toThrow(/does not match/);
    expect(buffer.size).toBe(0);
  });

  it('adds dead letters beside the outputs', () => {
    const buffer = new TransactionBuffer(new EventCodec(registry, loadCatalogue()));
    buffer.add('dlq.reviews', [{ key: 'k', value: Buffer.from('x') }]);
    expect(buffer.contents()).toEqual([
      { topic: 'dlq.reviews', messages: [{ key: 'k', value: Buffer.from('x') }] },
    ]);
  });
});

describe('chunkBySize', () => {
  const message = (bytes: number): RawOutgoing => ({ key: null, value: Buffer.alloc(bytes) });

  it('cuts requests below the limit, in order, and sends an oversized message alone', () => {
    const messages = [message(400), message(400), message(400), message(2_000), message(10)];
    const chunks = chunkBySize(messages, 1_000);
    expect(chunks.map((chunk) => chunk.map((m) => m.value!.length))).toEqual([
      [400, 400],
      [400],
      [2_000],
      [10],
    ]);
  });

  it('keeps a fetched batch of predictions under the broker limit (1 MiB per record batch)', () => {
    const predictions = Array.from({ length: 6_000 }, () => message(700));
    const chunks = chunkBySize(predictions, MAX_REQUEST_BYTES);
    expect(chunks.flat()).toHaveLength(6_000);
    for (const chunk of chunks) {
      expect(chunk.reduce((sum, m) => sum + m.value!.length, 0)).toBeLessThan(1024 * 1024);
    }
  });
});

describe('isCoordinatorMovedError', () => {
  const protocolError = (type: string) => Object.assign(new Error(type), { type });

  it('recognises kafkajs coordinator errors, also wrapped after retries', () => {
    expect(isCoordinatorMovedError(protocolError('NOT_COORDINATOR_FOR_GROUP'))).toBe(true);
    expect(isCoordinatorMovedError(protocolError('GROUP_LOAD_IN_PROGRESS'))).toBe(true);
    const exhausted = Object.assign(new Error('retries exceeded'), {
      originalError: protocolError('GROUP_COORDINATOR_NOT_AVAILABLE'),
    });
    expect(isCoordinatorMovedError(exhausted)).toBe(true);
  });

  it('leaves rebalances and other errors to kafkajs', () => {
    expect(isCoordinatorMovedError(protocolError('REBALANCE_IN_PROGRESS'))).toBe(false);
    expect(isCoordinatorMovedError(new Error('boom'))).toBe(false);
    expect(isCoordinatorMovedError('NOT_COORDINATOR_FOR_GROUP')).toBe(false);
  });
});
