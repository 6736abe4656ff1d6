/**
 * A writer for ClickHouse's RowBinary input format (pure; the same layout on 18.16 and on
 * current servers): integers and floats little-endian, String as LEB128 length + UTF-8 bytes,
 * Array(T) as LEB128 element count + elements, Nullable(T) as one byte (1 = NULL) followed by
 * the value when not NULL, DateTime as UInt32 seconds. Inserting it is far cheaper than JSON
 * for both sides: no number formatting here, no number parsing in the server.
 *
 * Every method checks that the value fits its column type and throws RowEncodingError when
 * it does not (RowBinary has no way to report a bad value: it would store a wrapped number).
 * `row` makes a row atomic: when the callback throws, the row's bytes are discarded.
 */
import { AppError } from '#platform/common';

/** A value does not fit its column type; the row cannot be written. */
export class RowEncodingError extends AppError {
  constructor(column: string, message: string) {
    super('ROW_UNENCODABLE', `column ${column}: ${message}`, { retriable: false });
  }
}

const UINT32_MAX = 0xffff_ffff;
const UINT64_MAX = 0xffff_ffff_ffff_ffffn;

export class RowBinaryWriter {
  private buffer: Buffer;
  private view: DataView;
  private length = 0;
  private rowCount = 0;

  constructor(initialBytes = 64 * 1024) {
    this.buffer = Buffer.allocUnsafe(Math.max(16, initialBytes));
    this.view = viewOf(this.buffer);
  }

  /** Rows written so far. */
  get rows(): number {
    return this.rowCount;
  }

  get byteLength(): number {
    return this.length;
  }

  /**
   * Writes one row with `write`; when it throws, the partial row is dropped and the error
   * rethrown, so the output holds whole rows only.
   */
  row(write: (writer: this) => void): void {
    const start = this.length;
    try {
      write(this);
    } catch (error) {
      this.length = start;
      throw error;
    }
    this.rowCount++;
  }

  /** The rows written so far: a view of the writer's memory, valid until the next write. */
  toBuffer(): Buffer {
    return this.buffer.subarray(0, this.length);
  }

  uint8(column: string, value: number): void {
    checkInteger(column, value, 0, 0xff);
    this.reserve(1);
    this.buffer[this.length++] = value;
  }

  uint32(column: string, value: number): void {
    checkInteger(column, value, 0, UINT32_MAX);
    this.reserve(4);
    this.view.setUint32(this.length, value, true);
    this.length += 4;
  }

  /** UInt64 from a number (safe integers only) or a decimal string such as a Kafka offset. */
  uint64(column: string, value: number | string | bigint): void {
    let big: bigint;
    if (typeof value === 'number') {
      if (!Number.isSafeInteger(value) || value < 0)
        throw new RowEncodingError(column, `${value} is not a UInt64`);
      big = BigInt(value);
    } else if (typeof value === 'string') {
      if (!/^\d{1,20}$/.test(value)) throw new RowEncodingError(column, `${value} is not a UInt64`);
      big = BigInt(value);
    } else {
      big = value;
    }
    if (big < 0n || big > UINT64_MAX) throw new RowEncodingError(column, `${big} is not a UInt64`);
    this.reserve(8);
    this.view.setBigUint64(this.length, big, true);
    this.length += 8;
  }

  /** DateTime: whole seconds since the epoch, 1970-01-01 .. 2106-02-07 (UInt32). */
  dateTime(column: string, seconds: number): void {
    this.uint32(column, seconds);
  }

  float32(column: string, value: number): void {
    checkNumber(column, value);
    this.reserve(4);
    this.view.setFloat32(this.length, value, true);
    this.length += 4;
  }

  float64(column: string, value: number): void {
    checkNumber(column, value);
    this.reserve(8);
    this.view.setFloat64(this.length, value, true);
    this.length += 8;
  }

  string(column: string, value: string): void {
    if (typeof value !== 'string') throw new RowEncodingError(column, 'not a string');
    const bytes = Buffer.byteLength(value, 'utf8');
    this.reserve(bytes + 5);
    this.varint(bytes);
    this.length += this.buffer.write(value, this.length, bytes, 'utf8');
  }

  nullableString(column: string, value: string | null): void {
    if (value === null) {
      this.reserve(1);
      this.buffer[this.length++] = 1;
      return;
    }
    this.reserve(1);
    this.buffer[this.length++] = 0;
    this.string(column, value);
  }

  /** Array(Float32) of finite numbers (JSON could not carry NaN or infinity either). */
  float32Array(column: string, values: readonly number[]): void {
    if (!Array.isArray(values)) throw new RowEncodingError(column, 'not an array');
    const count = values.length;
    this.reserve(10 + 4 * count);
    this.varint(count);
    const view = this.view;
    let offset = this.length;
    for (let i = 0; i < count; i++) {
      const value = values[i]!;
      if (!Number.isFinite(value)) {
        throw new RowEncodingError(
          column,
          `element ${i} (${String(value)}) is not a finite number`,
        );
      }
      view.setFloat32(offset, value, true);
      offset += 4;
    }
    this.length = offset;
  }

  /** LEB128, as RowBinary prefixes lengths. */
  private varint(value: number): void {
    let rest = value;
    while (rest >= 0x80) {
      this.buffer[this.length++] = (rest & 0x7f) | 0x80;
      rest = Math.floor(rest / 128);
    }
    this.buffer[this.length++] = rest;
  }

  private reserve(bytes: number): void {
    const needed = this.length + bytes;
    if (needed <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < needed) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buffer.copy(next, 0, 0, this.length);
    this.buffer = next;
    this.view = viewOf(next);
  }
}

function viewOf(buffer: Buffer): DataView {
  return new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

function checkInteger(column: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RowEncodingError(column, `${String(value)} is outside ${min}..${max}`);
  }
}

function checkNumber(column: string, value: number): void {
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new RowEncodingError(column, `${String(value)} is not a number`);
  }
}
