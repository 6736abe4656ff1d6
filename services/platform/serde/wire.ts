/**
 * Confluent wire format: magic byte 0, schema id as a 4-byte big-endian int, then the Avro
 * binary body. Shared with Confluent's Java/Python/librdkafka-based clients.
 */
import { UndecodableMessageError } from '#platform/common';

export const MAGIC_BYTE = 0;
export const HEADER_LENGTH = 5;

export interface FramedMessage {
  readonly schemaId: number;
  readonly body: Buffer;
}

export function parseFrame(bytes: Buffer | null): FramedMessage {
  if (bytes === null || bytes.length === 0) {
    throw new UndecodableMessageError('message has no value (null or empty)');
  }
  if (bytes.length < HEADER_LENGTH) {
    throw new UndecodableMessageError(
      `message is ${bytes.length} bytes, shorter than the ${HEADER_LENGTH}-byte Confluent header`,
    );
  }
  if (bytes[0] !== MAGIC_BYTE) {
    throw new UndecodableMessageError(
      `message starts with byte 0x${bytes[0]?.toString(16).padStart(2, '0')}, not the Confluent magic byte 0x00`,
    );
  }
  return { schemaId: bytes.readUInt32BE(1), body: bytes.subarray(HEADER_LENGTH) };
}

export function frame(schemaId: number, body: Buffer): Buffer {
  const header = Buffer.alloc(HEADER_LENGTH);
  header.writeUInt8(MAGIC_BYTE, 0);
  header.writeUInt32BE(schemaId, 1);
  return Buffer.concat([header, body]);
}
