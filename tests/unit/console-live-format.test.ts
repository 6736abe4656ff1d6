/**
 * The Models page's live-trial figures (services/gateway/console/src): differences written as
 * the gates' reasons write them, and one colour scheme for statuses, decisions and verdicts.
 */
import { describe, expect, it } from 'vitest';
import { formatFixed, formatSigned } from '../../services/gateway/console/src/format.ts';
import {
  ROLE_COLOR,
  VERDICT_COLOR,
  registryColor,
} from '../../services/gateway/console/src/registry-colors.ts';

describe('live trial figures', () => {
  it.each([
    [0.91234, '0.912'],
    [-0.0004, '0.000'],
    [-0.02, '-0.020'],
    [0, '0.000'],
    [Number.NaN, '—'],
  ])('formatFixed(%d) is %s', (value, text) => {
    expect(formatFixed(value)).toBe(text);
  });

  it.each([
    [0.0361, '+0.036'],
    [-0.0252, '-0.025'],
    [-0.0001, '0.000'],
    [0, '0.000'],
    [Number.POSITIVE_INFINITY, '—'],
  ])('formatSigned(%d) is %s', (value, text) => {
    expect(formatSigned(value)).toBe(text);
  });

  it('colours a live role the same as a status or decision, anything unknown gray', () => {
    for (const role of ['SHADOW', 'CANARY'] as const) {
      expect(registryColor(role)).toBe(ROLE_COLOR[role]);
      expect(registryColor(role.toLowerCase())).toBe(ROLE_COLOR[role]);
    }
    expect(registryColor('PROMOTED')).toBe('green');
    expect(registryColor('ROLLED_BACK')).toBe(VERDICT_COLOR.ROLLBACK);
    expect(registryColor('BLOCKED')).toBe(VERDICT_COLOR.BLOCK);
    expect(registryColor('SOMETHING_NEW')).toBe('gray');
  });
});
