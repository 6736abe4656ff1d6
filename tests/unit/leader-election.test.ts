import { describe, expect, it } from 'vitest';
import { chooseOwner } from '#platform/kafka';

describe('single-owner assignment', () => {
  it('keeps the longest-standing leader', () => {
    expect(
      chooseOwner([
        { memberId: 'a', leaderSince: null },
        { memberId: 'z', leaderSince: 2_000 },
        { memberId: 'm', leaderSince: 1_000 },
      ]),
    ).toBe('m');
  });

  it('without a leader, picks the lowest member id (deterministic across members)', () => {
    expect(
      chooseOwner([
        { memberId: 'c', leaderSince: null },
        { memberId: 'b', leaderSince: null },
      ]),
    ).toBe('b');
    expect(chooseOwner([])).toBeUndefined();
  });
});
