import { describe, expect, it } from 'vitest';
import type { DriftEvent } from '#shared/serde';
import { nextVersion, seedOf } from '../../services/retrainer/retrain.ts';
import { isHeldOut, triggerFromDriftEvent } from '../../services/retrainer/triggers.ts';

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
