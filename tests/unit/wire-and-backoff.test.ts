import { describe, expect, it } from 'vitest';
import { UndecodableMessageError, backoffDelay } from '#platform/common';
import { frame, parseFrame } from '#platform/serde';

describe('Confluent wire format', () => {
  it('frames with magic byte 0 and a big-endian schema id', () => {
    const bytes = frame(258, Buffer.from([7, 8]));
    expect([...bytes]).toEqual([0, 0, 0, 1, 2, 7, 8]);
    expect(parseFrame(bytes)).toEqual({ schemaId: 258, body: Buffer.from([7, 8]) });
  });

  it.each([
    ['null', null, /no value/],
    ['empty', Buffer.alloc(0), /no value/],
    ['short', Buffer.from([0, 0, 1]), /shorter than the 5-byte/],
    ['wrong magic byte', Buffer.from('{"json":true}'), /0x7b, not the Confluent magic byte/],
  ])('rejects %s values as undecodable', (_name, bytes, message) => {
    expect(() => parseFrame(bytes)).toThrow(UndecodableMessageError);
    expect(() => parseFrame(bytes)).toThrow(message);
  });
});

describe('backoffDelay', () => {
  const policy = { initialMs: 100, maxMs: 1_000, factor: 2 };
  it('grows exponentially up to the cap (full jitter upper bound)', () => {
    const upper = (attempt: number) => backoffDelay(attempt, policy, () => 0.999_999);
    expect([1, 2, 3, 4, 5, 10].map(upper)).toEqual([99, 199, 399, 799, 999, 999]);
  });
  it('is jittered down to zero', () => {
    expect(backoffDelay(3, policy, () => 0)).toBe(0);
  });
});
