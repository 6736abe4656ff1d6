/**
 * Badge and timeline colours of the registry's values (#platform/store VersionStatus and
 * Decision, the live roles and the live gates' verdicts), one scheme for the whole Models page:
 * blue registered, green into production (or on its way), orange rolled back, red blocked,
 * violet shadow, cyan canary. Anything else is gray.
 */
import type { LiveRole, LiveVerdictKind } from './types.ts';

export const ROLE_COLOR: Record<LiveRole, string> = {
  SHADOW: 'violet',
  CANARY: 'cyan',
};

const COLORS: Record<string, string> = {
  REGISTERED: 'blue',
  PROMOTED: 'green',
  ROLLED_BACK: 'orange',
  BLOCKED: 'red',
  ...ROLE_COLOR,
};

/** A version's status or a decision's kind. */
export function registryColor(value: string): string {
  return COLORS[value.toUpperCase()] ?? 'gray';
}

/** WAIT gray; PROMOTE and WIDEN green (toward production); BLOCK red; ROLLBACK orange. */
export const VERDICT_COLOR: Record<LiveVerdictKind, string> = {
  WAIT: 'gray',
  PROMOTE: 'green',
  WIDEN: 'green',
  BLOCK: 'red',
  ROLLBACK: 'orange',
};

/** What the promoter does on each verdict at its next round (services/promoter/live-trials.ts). */
export const VERDICT_MEANING: Record<LiveVerdictKind, string> = {
  WAIT: 'the trial goes on',
  PROMOTE: 'passes shadow: the promoter starts its canary, or promotes it',
  BLOCK: 'the promoter blocks it: it leaves shadow',
  WIDEN: 'the promoter gives it all traffic (promoted)',
  ROLLBACK: 'the promoter rolls the canary back: production keeps all traffic',
};
