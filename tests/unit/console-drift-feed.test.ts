/**
 * DriftFeed (services/gateway/console-api/drift-feed.ts), the console's live drift view: decodes
 * `drift.events` messages, keeps the gateway's model only, keeps the newest `keep` for late
 * subscribers (oldest first) and fans each one out; a message that does not decode is counted,
 * logged and skipped, never thrown (a throw would stop the topic watcher).
 */
import { describe, expect, it, vi } from 'vitest';
import type { WatchedMessage } from '#platform/kafka';
import type { DriftEvent } from '#platform/serde';
import {
  DriftFeed,
  type DriftFeedEvent,
  type DriftFeedOptions,
  toFeedEvent,
} from '../../services/gateway/console-api/drift-feed.ts';
import { makeDriftEvent } from '../support/examples.ts';
import { capturedLogger } from '../support/logs.ts';

const MODEL = 'sentiment';

function driftEvent(id: string, overrides: Partial<DriftEvent> = {}): DriftEvent {
  return makeDriftEvent({
    eventId: id,
    eventTime: 1_700_000_000_000,
    modelName: MODEL,
    modelVersion: '3',
    episodeId: `episode-${id}`,
    reason: 'domain AUC above threshold',
    ...overrides,
  });
}

let offset = 0;
/** A watched message carrying `event` as JSON (the fake decoder's wire format). */
function message(event: DriftEvent): WatchedMessage {
  return { partition: 0, offset: String(offset++), value: Buffer.from(JSON.stringify(event)) };
}

/** Decodes the JSON `message` writes; anything else throws, as the Avro codec would. */
const decode: DriftFeedOptions['decode'] = async (value) => {
  if (value === null) throw new Error('no value (tombstone)');
  const text = value.toString('utf8');
  if (!text.startsWith('{')) throw new Error('not in wire format');
  return JSON.parse(text) as DriftEvent;
};

function feed(overrides: Partial<DriftFeedOptions> = {}): DriftFeed {
  return new DriftFeed({ modelName: MODEL, decode, ...overrides });
}

const ids = (events: readonly DriftFeedEvent[]) => events.map((event) => event.eventId);

describe('DriftFeed', () => {
  it('shows only the gateway model events, without the statistics', async () => {
    const drift = feed();
    const seen: DriftFeedEvent[] = [];
    drift.subscribe((event) => seen.push(event));

    await drift.accept(message(driftEvent('a', { modelName: 'other-model' })));
    await drift.accept(message(driftEvent('b')));

    expect(ids(drift.recent())).toEqual(['b']);
    expect(ids(seen)).toEqual(['b']);
    expect(seen[0]).toEqual({
      eventId: 'b',
      eventTime: 1_700_000_000_000,
      modelName: MODEL,
      modelVersion: '3',
      segment: '*',
      kind: 'STATE_CHANGE',
      state: 'DRIFT',
      previousState: 'OK',
      predictionDriftState: 'OK',
      episodeId: 'episode-b',
      reason: 'domain AUC above threshold',
    });
    expect(seen[0]).toEqual(toFeedEvent(driftEvent('b')));
    expect(seen[0]).not.toHaveProperty('statistics');
    expect(seen[0]).not.toHaveProperty('classMix');
    expect(drift.undecodableCount).toBe(0);
  });

  it('keeps at most `keep` events, dropping the oldest', async () => {
    const drift = feed({ keep: 3 });
    for (const id of ['1', '2', '3', '4', '5']) await drift.accept(message(driftEvent(id)));
    expect(ids(drift.recent())).toEqual(['3', '4', '5']);

    drift.publish(toFeedEvent(driftEvent('6')));
    expect(ids(drift.recent())).toEqual(['4', '5', '6']);
  });

  it('keeps 100 events by default', async () => {
    const drift = feed();
    for (let i = 0; i < 120; i += 1) drift.publish(toFeedEvent(driftEvent(String(i))));
    const kept = ids(drift.recent());
    expect(kept).toHaveLength(100);
    expect(kept[0]).toBe('20');
    expect(kept.at(-1)).toBe('119');
  });

  it('recent() is oldest first, and a copy', async () => {
    const drift = feed();
    await drift.accept(message(driftEvent('x')));
    await drift.accept(message(driftEvent('y')));
    await drift.accept(message(driftEvent('z')));

    const recent = drift.recent();
    expect(ids(recent)).toEqual(['x', 'y', 'z']);
    (recent as DriftFeedEvent[]).length = 0;
    expect(ids(drift.recent())).toEqual(['x', 'y', 'z']);
  });

  it('fans out to every subscriber until it unsubscribes; the kept events are not replayed', async () => {
    const drift = feed();
    await drift.accept(message(driftEvent('before')));

    const first = vi.fn<(event: DriftFeedEvent) => void>();
    const second = vi.fn<(event: DriftFeedEvent) => void>();
    const unsubscribeFirst = drift.subscribe(first);
    drift.subscribe(second);
    // Subscribing does not replay: the route sends recent() itself.
    expect(first).not.toHaveBeenCalled();

    await drift.accept(message(driftEvent('one')));
    unsubscribeFirst();
    await drift.accept(message(driftEvent('two')));

    expect(first.mock.calls.map(([event]) => event.eventId)).toEqual(['one']);
    expect(second.mock.calls.map(([event]) => event.eventId)).toEqual(['one', 'two']);
    // Unsubscribing twice is harmless.
    unsubscribeFirst();
    expect(ids(drift.recent())).toEqual(['before', 'one', 'two']);
  });

  it('counts, logs and skips a message that does not decode, and goes on', async () => {
    const { logger, lines } = capturedLogger();
    const drift = feed({ logger });
    const listener = vi.fn<(event: DriftFeedEvent) => void>();
    drift.subscribe(listener);

    await expect(
      drift.accept({ partition: 2, offset: '41', value: Buffer.from('garbage') }),
    ).resolves.toBeUndefined();
    await expect(drift.accept({ partition: 2, offset: '42', value: null })).resolves.toBe(
      undefined,
    );
    await drift.accept(message(driftEvent('good')));

    expect(drift.undecodableCount).toBe(2);
    expect(ids(drift.recent())).toEqual(['good']);
    expect(listener).toHaveBeenCalledTimes(1);
    const warnings = lines.filter((line) => line.level === 40);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatchObject({
      partition: 2,
      offset: '41',
      msg: 'drift event not shown: it does not decode',
    });
  });

  it('skips an undecodable message without a logger too', async () => {
    const drift = feed();
    await drift.accept({ partition: 0, offset: '0', value: Buffer.from('?') });
    expect(drift.undecodableCount).toBe(1);
    expect(drift.recent()).toEqual([]);
  });
});
