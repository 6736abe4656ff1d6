/**
 * The serving plan replayed from the promotion log (#platform/store `servingPlan`): production
 * as the production alias says, and the candidate in a live role (SHADOW or CANARY) until a
 * production change or a BLOCKED of that candidate ends its trial.
 */
import { describe, expect, it } from 'vitest';
import {
  type Decision,
  type DecisionRecord,
  productionHistory,
  rollbackTarget,
  servingPlan,
  trafficShareOf,
} from '#platform/store';

let clock = 0;
function decision(
  kind: Decision,
  candidate: string,
  production: { before?: string | null; after?: string | null } = {},
  details: Record<string, unknown> = {},
): DecisionRecord {
  clock += 1000;
  return {
    decisionId: `d${clock}`,
    timeMs: clock,
    modelName: 'm',
    actor: 'test',
    decision: kind,
    candidateVersion: candidate,
    productionBefore: production.before ?? null,
    productionAfter: production.after ?? null,
    candidateScore: null,
    productionScore: null,
    reason: 'r',
    details,
  };
}

/** A log where '1' is production, promoted over '0' (so a rollback target exists). */
function withProduction(): DecisionRecord[] {
  return [
    decision('REGISTERED', '0'),
    decision('PROMOTED', '0', { after: '0' }),
    decision('REGISTERED', '1'),
    decision('PROMOTED', '1', { before: '0', after: '1' }),
    decision('REGISTERED', '2', { before: '1', after: '1' }),
  ];
}

describe('serving plan replayed from the promotion log', () => {
  it('production alone when no candidate was put in a role', () => {
    expect(servingPlan(withProduction())).toEqual({ production: '1', candidate: null });
    expect(servingPlan([])).toEqual({ production: null, candidate: null });
  });

  it('SHADOW puts its version in shadow, with share 0, its time and decision id', () => {
    const log = withProduction();
    const shadow = decision('SHADOW', '2', { before: '1', after: '1' });
    const plan = servingPlan([...log, shadow]);
    expect(plan).toEqual({
      production: '1',
      candidate: {
        version: '2',
        role: 'SHADOW',
        trafficShare: 0,
        sinceMs: shadow.timeMs,
        decisionId: shadow.decisionId,
      },
    });
  });

  it('CANARY puts its version in canary with details.trafficShare, replacing the shadow role', () => {
    const log = withProduction();
    const shadow = decision('SHADOW', '2', { before: '1', after: '1' });
    const canary = decision('CANARY', '2', { before: '1', after: '1' }, { trafficShare: 0.1 });
    const plan = servingPlan([...log, shadow, canary]);
    expect(plan.production).toBe('1');
    expect(plan.candidate).toEqual({
      version: '2',
      role: 'CANARY',
      trafficShare: 0.1,
      sinceMs: canary.timeMs,
      decisionId: canary.decisionId,
    });
  });

  it('a SHADOW decision never carries a share, even if its details name one', () => {
    const log = withProduction();
    const shadow = decision('SHADOW', '2', {}, { trafficShare: 0.5 });
    expect(servingPlan([...log, shadow]).candidate).toMatchObject({
      role: 'SHADOW',
      trafficShare: 0,
    });
  });

  it('trafficShareOf: a number in (0, 1), else 0', () => {
    const share = (value: unknown) =>
      trafficShareOf(
        decision('CANARY', '2', {}, value === undefined ? {} : { trafficShare: value }),
      );
    expect(share(0.25)).toBe(0.25);
    for (const bad of [undefined, 0, 1, -0.1, 1.5, '0.2', null, Number.NaN]) {
      expect(share(bad), String(bad)).toBe(0);
    }
  });

  it('PROMOTED ends the trial: the candidate becomes production and no candidate is left', () => {
    const log = [
      ...withProduction(),
      decision('CANARY', '2', { before: '1', after: '1' }, { trafficShare: 0.2 }),
      decision('PROMOTED', '2', { before: '1', after: '2' }),
    ];
    expect(servingPlan(log)).toEqual({ production: '2', candidate: null });
  });

  it('a production ROLLED_BACK ends the trial', () => {
    const log = [
      ...withProduction(),
      decision('SHADOW', '2', { before: '1', after: '1' }),
      decision('ROLLED_BACK', '0', { before: '1', after: '0' }),
    ];
    expect(servingPlan(log)).toEqual({ production: '0', candidate: null });
  });

  it('a canary ROLLED_BACK (production before = after) clears it; production and the rollback target stay', () => {
    const log = [
      ...withProduction(),
      decision('CANARY', '2', { before: '1', after: '1' }, { trafficShare: 0.05 }),
    ];
    const before = { history: productionHistory(log), target: rollbackTarget(log) };
    expect(before).toEqual({ history: ['0', '1'], target: '0' });
    log.push(decision('ROLLED_BACK', '2', { before: '1', after: '1' }));
    expect(servingPlan(log)).toEqual({ production: '1', candidate: null });
    expect(productionHistory(log)).toEqual(before.history);
    expect(rollbackTarget(log)).toBe(before.target);
  });

  it('BLOCKED of the candidate in its role clears it; BLOCKED of another version does not', () => {
    const log = withProduction();
    const canary = decision('CANARY', '2', { before: '1', after: '1' }, { trafficShare: 0.1 });
    log.push(canary);
    log.push(decision('REGISTERED', '3'), decision('BLOCKED', '3', { before: '1', after: '1' }));
    expect(servingPlan(log).candidate).toMatchObject({ version: '2', role: 'CANARY' });
    expect(servingPlan(log).candidate?.decisionId).toBe(canary.decisionId);
    log.push(decision('BLOCKED', '2', { before: '1', after: '1' }));
    expect(servingPlan(log)).toEqual({ production: '1', candidate: null });
  });

  it('a later trial of another version replaces the candidate', () => {
    const log = [
      ...withProduction(),
      decision('SHADOW', '2', { before: '1', after: '1' }),
      decision('SHADOW', '3', { before: '1', after: '1' }),
    ];
    expect(servingPlan(log).candidate).toMatchObject({ version: '3', role: 'SHADOW' });
    // Blocking the replaced version later does not end the trial of the one in the role.
    log.push(decision('BLOCKED', '2', { before: '1', after: '1' }));
    expect(servingPlan(log).candidate).toMatchObject({ version: '3', role: 'SHADOW' });
  });

  it('replays in log order (time, then id), not in the order rows came back in', () => {
    const log = withProduction();
    const shadow = decision('SHADOW', '2', { before: '1', after: '1' });
    const blocked = decision('BLOCKED', '2', { before: '1', after: '1' });
    // Rows back in any order: shadow then block, so no candidate; production '1' (not '0').
    expect(servingPlan([...log, blocked, shadow])).toEqual({ production: '1', candidate: null });
    expect(servingPlan([blocked, shadow, ...log].reverse())).toEqual({
      production: '1',
      candidate: null,
    });

    // The same millisecond: the decision id orders them.
    const at = clock + 1000;
    const same = (kind: Decision, id: string): DecisionRecord => ({
      ...decision(kind, '2', { before: '1', after: '1' }),
      timeMs: at,
      decisionId: id,
    });
    const blockThenShadow = [same('SHADOW', 'b'), same('BLOCKED', 'a')];
    expect(servingPlan([...log, ...blockThenShadow]).candidate).toMatchObject({
      version: '2',
      decisionId: 'b',
    });
    const shadowThenBlock = [same('BLOCKED', 'b'), same('SHADOW', 'a')];
    expect(servingPlan([...log, ...shadowThenBlock]).candidate).toBeNull();
    expect(servingPlan([...log, ...shadowThenBlock].reverse()).candidate).toBeNull();
  });
});
