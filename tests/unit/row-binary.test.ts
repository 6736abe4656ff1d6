import { describe, expect, it } from 'vitest';
import {
  ClickHouseInsertError,
  PREDICTION_COLUMNS,
  RowBinaryWriter,
  RowEncodingError,
  parseServerCode,
  toPredictionRow,
  writePredictionRow,
} from '#platform/store';

const bytes = (write: (w: RowBinaryWriter) => void): number[] => {
  const writer = new RowBinaryWriter(16);
  writer.row(write);
  return [...writer.toBuffer()];
};

describe('RowBinaryWriter: byte layout', () => {
  it('writes integers little-endian, DateTime as UInt32 seconds, UInt64 from decimal strings', () => {
    expect(bytes((w) => w.uint8('c', 7))).toEqual([7]);
    expect(bytes((w) => w.uint32('c', 0x01020304))).toEqual([4, 3, 2, 1]);
    expect(bytes((w) => w.dateTime('c', 1))).toEqual([1, 0, 0, 0]);
    expect(bytes((w) => w.uint64('c', '18446744073709551615'))).toEqual(Array(8).fill(0xff));
    expect(bytes((w) => w.uint64('c', 258))).toEqual([2, 1, 0, 0, 0, 0, 0, 0]);
  });

  it('writes floats as IEEE 754 little-endian', () => {
    expect(bytes((w) => w.float32('c', 1))).toEqual([0, 0, 0x80, 0x3f]);
    expect(bytes((w) => w.float64('c', -2))).toEqual([0, 0, 0, 0, 0, 0, 0, 0xc0]);
  });

  it('prefixes strings with their UTF-8 byte length as LEB128', () => {
    expect(bytes((w) => w.string('c', 'ab'))).toEqual([2, 0x61, 0x62]);
    expect(bytes((w) => w.string('c', 'é'))).toEqual([2, 0xc3, 0xa9]);
    const long = bytes((w) => w.string('c', 'x'.repeat(300)));
    expect(long.slice(0, 2)).toEqual([0xac, 0x02]); // 300 = 0b10_0101100
    expect(long).toHaveLength(302);
  });

  it('writes Nullable as a null flag byte and Array(Float32) as count + values', () => {
    expect(bytes((w) => w.nullableString('c', null))).toEqual([1]);
    expect(bytes((w) => w.nullableString('c', 'a'))).toEqual([0, 1, 0x61]);
    expect(bytes((w) => w.float32Array('c', [1, -2]))).toEqual([
      2, 0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0,
    ]);
    expect(bytes((w) => w.float32Array('c', []))).toEqual([0]);
  });

  it('grows past its initial size', () => {
    const writer = new RowBinaryWriter(16);
    for (let i = 0; i < 1_000; i++) writer.row((w) => w.float32Array('c', [i, i, i, i]));
    expect(writer.rows).toBe(1_000);
    expect(writer.byteLength).toBe(1_000 * 17);
    expect(writer.toBuffer().readFloatLE(999 * 17 + 1)).toBe(999);
  });
});

describe('RowBinaryWriter: values that do not fit', () => {
  it('refuses them with RowEncodingError naming the column, and drops the partial row', () => {
    const writer = new RowBinaryWriter(16);
    writer.row((w) => w.uint8('ok', 1));
    const attempts: [string, (w: RowBinaryWriter) => void][] = [
      ['event_time', (w) => w.dateTime('event_time', -1)],
      ['event_time', (w) => w.dateTime('event_time', 2 ** 32)],
      ['kafka_offset', (w) => w.uint64('kafka_offset', '-1')],
      ['kafka_offset', (w) => w.uint64('kafka_offset', '18446744073709551616')],
      ['truncated', (w) => w.uint8('truncated', 1.5)],
      ['confidence', (w) => w.float32('confidence', Number.NaN)],
      ['embedding', (w) => w.float32Array('embedding', [1, Number.POSITIVE_INFINITY])],
    ];
    for (const [column, write] of attempts) {
      expect(() =>
        writer.row((w) => {
          w.string('before', 'partial row');
          write(w);
        }),
      ).toThrow(new RegExp(`column ${column}`));
    }
    expect(() => writer.row((w) => w.uint32('schema_id', -1))).toThrow(RowEncodingError);
    expect(new RowEncodingError('c', 'x')).toMatchObject({
      code: 'ROW_UNENCODABLE',
      retriable: false,
    });
    expect(writer.rows).toBe(1);
    expect([...writer.toBuffer()]).toEqual([1]);
  });
});

describe('prediction rows in RowBinary', () => {
  it('writes every column of PREDICTION_COLUMNS in order', () => {
    const writer = new RowBinaryWriter();
    const row = toPredictionRow(
      {
        eventId: 'e',
        eventTime: 2_500,
        reviewId: 'r',
        reviewEventId: null,
        origin: 'SYNC',
        source: 's',
        text: 't',
        modelName: 'm',
        modelVersion: 'v',
        label: 'NEGATIVE',
        probabilities: [0.5, 0.5],
        confidence: 0.5,
        embedding: [1],
        latencyMs: 2,
        truncated: false,
        groundTruth: 'POSITIVE',
        scoredAt: 3_250,
        shadowOf: null,
      },
      { schemaId: 3, partition: 4, offset: '5' },
      7_000,
    );
    writePredictionRow(writer, row);
    const expected = Buffer.concat([
      Buffer.from([1, 0x65, 1, 0x72, 1]), // event_id, review_id, review_event_id NULL
      Buffer.from([4, ...Buffer.from('SYNC'), 1, 0x73, 1, 0x74, 1, 0x6d, 1, 0x76]),
      Buffer.from([8, ...Buffer.from('NEGATIVE')]),
      Buffer.from([2, 0, 0, 0, 0x3f, 0, 0, 0, 0x3f]), // probabilities
      Buffer.from([0, 0, 0, 0x3f]), // confidence
      Buffer.from([1, 0, 0, 0x80, 0x3f]), // embedding
      Buffer.from([0, 0, 0, 0, 0, 0, 0, 0x40]), // latency_ms
      Buffer.from([0]), // truncated
      Buffer.from([0, 8, ...Buffer.from('POSITIVE')]), // ground_truth
      Buffer.from([2, 0, 0, 0]), // event_time (s)
      Buffer.from([0xc4, 0x09, 0, 0, 0, 0, 0, 0]), // event_time_ms 2500
      Buffer.from([7, 0, 0, 0]), // ingest_time (s)
      Buffer.from([3, 0, 0, 0]), // scored_at (s)
      Buffer.from([0xb2, 0x0c, 0, 0, 0, 0, 0, 0]), // scored_at_ms 3250
      Buffer.from([1]), // shadow_of NULL
      Buffer.from([3, 0, 0, 0, 4, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0]),
    ]);
    expect(writer.toBuffer()).toEqual(expected);
    expect(PREDICTION_COLUMNS).toHaveLength(24);
  });
});

describe('ClickHouse insert errors', () => {
  it('parse the server code and treat overload as retriable, data errors as not', () => {
    expect(parseServerCode('Code: 33, e.displayText() = DB::Exception: Cannot read')).toBe(33);
    expect(parseServerCode('Code: 252. DB::Exception: Too many parts')).toBe(252);
    expect(parseServerCode('<html>bad gateway</html>')).toBeUndefined();
    expect(new ClickHouseInsertError(500, 'Code: 33, e.displayText() = x')).toMatchObject({
      code: 'CLICKHOUSE_INSERT_REFUSED',
      retriable: false,
      serverCode: 33,
    });
    expect(
      new ClickHouseInsertError(500, 'Code: 252. DB::Exception: Too many parts'),
    ).toMatchObject({ retriable: true });
  });
});
