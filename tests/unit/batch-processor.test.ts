import { describe, expect, it } from 'vitest';
import {
  AppError,
  DependencyUnavailableError,
  InvalidMessageError,
  SchemaValidationError,
  UndecodableMessageError,
} from '#platform/common';
import {
  type BatchHandler,
  type BatchProcessorDeps,
  type DeadLetterRequest,
  type RawMessage,
  isTransientError,
  processBatch,
} from '#platform/runner';

function message(offset: number, text: string): RawMessage {
  return {
    partition: 0,
    offset: String(offset),
    key: Buffer.from(`k${offset}`),
    value: Buffer.from(text),
    headers: {},
    timestamp: '0',
  };
}

/** Decodes "ok:<x>" to x; "bad" is undecodable; "invalid" fails schema validation. */
async function decode(raw: RawMessage): Promise<{ schemaId: number; event: string }> {
  const text = raw.value?.toString() ?? '';
  if (text === 'bad') throw new UndecodableMessageError('not framed');
  if (text === 'invalid') throw new SchemaValidationError('bad avro');
  return { schemaId: 1, event: text.replace(/^ok:/, '') };
}

function harness(
  handler: BatchHandler<string>,
  overrides: Partial<BatchProcessorDeps<string>> = {},
) {
  const deadLetters: DeadLetterRequest[] = [];
  const sleeps: number[] = [];
  let running = true;
  const deps: BatchProcessorDeps<string> = {
    topic: 'reviews',
    decode,
    handler,
    deadLetter: async (requests) => {
      deadLetters.push(...requests);
    },
    output: {
      send: async () => {
        throw new Error('this handler derives no events');
      },
    },
    heartbeat: async () => undefined,
    isRunning: () => running,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    signal: new AbortController().signal,
    maxAttempts: 3,
    backoff: { initialMs: 10, maxMs: 100, factor: 2 },
    isTransient: isTransientError,
    ...overrides,
  };
  return { deps, deadLetters, sleeps, stop: () => (running = false) };
}

describe('processBatch (the consumer contract)', () => {
  it('hands decoded events to the handler and commits after the last offset', async () => {
    const seen: string[] = [];
    const { deps, deadLetters } = harness(async (events) => {
      seen.push(...events.map((event) => event.event));
    });
    const outcome = await processBatch([message(5, 'ok:a'), message(6, 'ok:b')], deps);
    expect(seen).toEqual(['a', 'b']);
    expect(deadLetters).toEqual([]);
    expect(outcome).toEqual({ kind: 'done', commitOffset: '7', processed: 2, deadLettered: 0 });
  });

  it('dead-letters undecodable and schema-invalid messages with their bytes, and goes on', async () => {
    const seen: string[] = [];
    const { deps, deadLetters } = harness(async (events) => {
      seen.push(...events.map((event) => event.event));
    });
    const outcome = await processBatch(
      [message(1, 'bad'), message(2, 'ok:a'), message(3, 'invalid'), message(4, 'ok:b')],
      deps,
    );
    expect(seen).toEqual(['a', 'b']);
    expect(
      deadLetters.map((d) => [d.message.offset, d.errorCode, d.message.value?.toString()]),
    ).toEqual([
      ['1', 'MESSAGE_UNDECODABLE', 'bad'],
      ['3', 'SCHEMA_INVALID', 'invalid'],
    ]);
    expect(outcome).toMatchObject({ kind: 'done', commitOffset: '5', deadLettered: 2 });
  });

  it('dead-letters events the handler rejects for their content', async () => {
    const { deps, deadLetters } = harness(async (events) => ({
      rejected: events
        .filter((event) => event.event === 'empty')
        .map((event) => ({
          event,
          error: new InvalidMessageError('TEXT_EMPTY', 'review text is empty'),
        })),
    }));
    await processBatch([message(1, 'ok:x'), message(2, 'ok:empty')], deps);
    expect(deadLetters.map((d) => [d.message.offset, d.errorCode, d.reason])).toEqual([
      ['2', 'TEXT_EMPTY', 'review text is empty'],
    ]);
  });

  it('retries transient failures without limit and never dead-letters them', async () => {
    let calls = 0;
    const { deps, deadLetters, sleeps } = harness(async () => {
      calls++;
      if (calls <= 10) throw new DependencyUnavailableError('clickhouse', 'connection refused');
    });
    const outcome = await processBatch([message(1, 'ok:a')], deps);
    expect(calls).toBe(11);
    expect(sleeps).toHaveLength(10);
    expect(deadLetters).toEqual([]);
    expect(outcome.kind).toBe('done');
  });

  it('isolates a poison event after maxAttempts and processes its neighbours', async () => {
    const processed: string[] = [];
    const { deps, deadLetters } = harness(async (events) => {
      if (events.some((event) => event.event === 'poison'))
        throw new TypeError('cannot read x of undefined');
      processed.push(...events.map((event) => event.event));
    });
    const outcome = await processBatch(
      [message(1, 'ok:a'), message(2, 'ok:poison'), message(3, 'ok:c')],
      deps,
    );
    expect(processed).toEqual(['a', 'c']);
    expect(deadLetters).toHaveLength(1);
    expect(deadLetters[0]).toMatchObject({
      errorCode: 'RETRIES_EXHAUSTED:UNEXPECTED',
      attempts: 3,
    });
    expect(deadLetters[0]?.reason).toMatch(/gave up after 3 attempts: cannot read x/);
    expect(outcome).toMatchObject({ kind: 'done', commitOffset: '4' });
  });

  it('abandons the batch without committing when the consumer stops mid-retry', async () => {
    const h = harness(async () => {
      h.stop();
      throw new DependencyUnavailableError('clickhouse', 'down');
    });
    expect(await processBatch([message(1, 'ok:a')], h.deps)).toEqual({ kind: 'aborted' });
    expect(h.deadLetters).toEqual([]);
  });

  it('retries dead-lettering until the DLQ accepts (no silent loss)', async () => {
    let dlqCalls = 0;
    const { deps } = harness(async () => undefined, {
      deadLetter: async () => {
        dlqCalls++;
        if (dlqCalls < 3) throw new AppError('X', 'broker said no');
      },
    });
    const outcome = await processBatch([message(1, 'bad')], deps);
    expect(dlqCalls).toBe(3);
    expect(outcome).toMatchObject({ kind: 'done', deadLettered: 1 });
  });
});

describe('isTransientError', () => {
  it('classifies outages as transient and bugs or bad data as not', () => {
    const kafkaError = Object.assign(new Error('leader not available'), {
      name: 'KafkaJSProtocolError',
    });
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(isTransientError(kafkaError)).toBe(true);
    expect(isTransientError(refused)).toBe(true);
    expect(isTransientError(new Error('wrapped', { cause: refused }))).toBe(true);
    expect(isTransientError(new DependencyUnavailableError('x', 'y'))).toBe(true);
    expect(isTransientError(new TypeError('bug'))).toBe(false);
    expect(isTransientError(new SchemaValidationError('bad'))).toBe(false);
  });
});
