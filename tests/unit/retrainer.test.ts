import { describe, expect, it } from 'vitest';
import { createLogger } from '#platform/common';
import type { ConsumedEvent, HandlerContext } from '#platform/runner';
import type { DriftEvent } from '#platform/serde';
import { nextVersion, seedOf } from '../../services/retrainer/retrain.ts';
import {
  createSerialiser,
  createTriggerHandler,
} from '../../services/retrainer/trigger-handler.ts';
import {
  type Trigger,
  isHeldOut,
  triggerFromDriftEvent,
} from '../../services/retrainer/triggers.ts';

function driftEvent(overrides: Partial<DriftEvent> = {}): DriftEvent {
  return {
    eventId: 'e',
    eventTime: 2_000,
    modelName: 'sentiment',
    modelVersion: '1',
    segment: '*',
    kind: 'STATE_CHANGE',
    state: 'DRIFT',
    previousState: 'OK',
    predictionDriftState: 'OK',
    statistics: [],
    windowStart: 1_000,
    windowEnd: 2_000,
    windowSize: 200,
    classMix: {},
    episodeId: 'ep-1',
    reason: 'input OK -> DRIFT',
    ...overrides,
  };
}

describe('retraining triggers', () => {
  const policy = { modelName: 'sentiment', segments: ['*'] };
  it('a DRIFT state change of a watched segment starts at the drifted window', () => {
    expect(triggerFromDriftEvent(driftEvent(), policy)).toMatchObject({
      id: 'ep-1',
      kind: 'DRIFT',
      sinceMs: 1_000,
      modelVersion: '1',
    });
  });
  it('status events, recoveries, other segments and other models do not retrain', () => {
    for (const overrides of [
      { kind: 'STATUS' as const },
      { state: 'OK' as const },
      { segment: 'shop' },
      { modelName: 'other' },
      { episodeId: null },
    ]) {
      expect(triggerFromDriftEvent(driftEvent(overrides), policy)).toBeNull();
    }
  });
  it('the held-out split is a stable function of the event id, near its fraction', () => {
    const ids = Array.from({ length: 4000 }, (_, i) => `event-${i}`);
    const held = ids.filter((id) => isHeldOut(id, 0.25));
    expect(held.length / ids.length).toBeGreaterThan(0.22);
    expect(held.length / ids.length).toBeLessThan(0.28);
    expect(ids.filter((id) => isHeldOut(id, 0.25))).toEqual(held);
  });
  it('versions are numbered after the highest integer version; seeds follow the trigger', () => {
    expect(nextVersion([{ version: '1' }, { version: '3' }, { version: 'exp' }])).toBe('4');
    expect(nextVersion([])).toBe('1');
    expect(seedOf('ep-1')).toBe(seedOf('ep-1'));
    expect(seedOf('ep-1')).not.toBe(seedOf('ep-2'));
    expect(seedOf('ep-1', '42')).toBe(42);
  });
});

describe('trigger handler', () => {
  const policy = { modelName: 'sentiment', segments: ['*'] };
  const context: HandlerContext = {
    heartbeat: async () => undefined,
    signal: new AbortController().signal,
    output: {
      send: async () => {
        throw new Error('the trigger handler derives no events');
      },
    },
  };
  const consumed = (event: DriftEvent): ConsumedEvent<DriftEvent> => ({
    topic: 'drift.events',
    partition: 0,
    offset: '0',
    key: null,
    value: null,
    headers: {},
    timestamp: '0',
    schemaId: 1,
    event,
  });

  it('retrains each trigger of a batch, skipping non-triggers and triggers older than the limit', async () => {
    const trained: string[] = [];
    const handler = createTriggerHandler<DriftEvent>({
      toTrigger: (event) => triggerFromDriftEvent(event, policy),
      retrain: async (trigger) => void trained.push(trigger.id),
      serialise: createSerialiser(),
      maxAgeMs: 10_000,
      now: () => 20_000,
      logger: createLogger('test', 'silent'),
    });
    await handler(
      [
        consumed(driftEvent({ episodeId: 'old', eventTime: 5_000 })), // 15 s old: skipped
        consumed(driftEvent({ episodeId: 'status', kind: 'STATUS' })), // not a trigger
        consumed(driftEvent({ episodeId: 'fresh', eventTime: 15_000 })),
      ],
      context,
    );
    expect(trained).toEqual(['fresh']);
  });

  it('handlers sharing a serialiser train one trigger at a time, and a failure does not block the next', async () => {
    const serialise = createSerialiser();
    let running = 0;
    let most = 0;
    const log: string[] = [];
    const retrain = async (trigger: Trigger) => {
      running++;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, 5));
      running--;
      log.push(trigger.id);
      if (trigger.id === 'a') throw new Error('training failed');
    };
    const handler = (id: string) =>
      createTriggerHandler<DriftEvent>({
        toTrigger: (event) => triggerFromDriftEvent(event, policy),
        retrain,
        serialise,
        maxAgeMs: 60_000,
        now: () => 2_000,
        logger: createLogger('test', 'silent'),
      })([consumed(driftEvent({ episodeId: id }))], context);
    const results = await Promise.allSettled([handler('a'), handler('b')]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled']);
    expect(log).toEqual(['a', 'b']);
    expect(most).toBe(1);
  });
});
