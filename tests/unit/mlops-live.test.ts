/**
 * `mlops registry live`: the serving plan and the live assessment of its candidate, through
 * the promoter's own function (assessLiveTrial) on evidence served by a fake source, rendered
 * for people and as JSON. Verdicts WAIT, PROMOTE, BLOCK (SHADOW) and WAIT, WIDEN, ROLLBACK
 * (CANARY) come from the real gates on constructed evidence.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '#platform/common';
import { type LiveTrialSettings, liveTrialConfigFields } from '#domain/registry';
import type {
  ServedLabelled,
  ServedLabelledQuery,
  ServingPlan,
  ShadowPair,
  ShadowPairsQuery,
} from '#platform/store';
import { type LiveReport, renderLive } from '../../services/mlops/registry-format.ts';
import { liveReport, runRegistryLive } from '../../services/mlops/registry-live.ts';
import { painter } from '../../services/mlops/render.ts';

const T0 = Date.UTC(2025, 0, 31, 12, 0, 0);
const HOUR = 3_600_000;
const plain = painter(false);
/** The CLI's settings when its environment sets none: the promoter's defaults. */
const DEFAULTS = parseConfig(liveTrialConfigFields, {});

const label = (positive: boolean) => (positive ? 'POSITIVE' : 'NEGATIVE');

/**
 * `count` shadow events, the first `labelled` with a label. Truth alternates; production is
 * wrong on every tenth event (F1 0.9091); the candidate differs from production where `flip`.
 */
function shadowPairs(count: number, labelled: number, flip: (i: number) => boolean): ShadowPair[] {
  return Array.from({ length: count }, (_, i) => {
    const truth = i % 2 === 0;
    const production = i % 10 === 3 ? !truth : truth;
    return {
      eventId: `e${i}`,
      production: label(production),
      candidate: label(flip(i) ? !production : production),
      groundTruth: i < labelled ? label(truth) : null,
    };
  });
}

/** `count` labelled predictions a version served, wrong where `wrong`. */
function served(count: number, wrong: (i: number) => boolean, prefix: string): ServedLabelled[] {
  return Array.from({ length: count }, (_, i) => {
    const truth = i % 2 === 0;
    return {
      eventId: `${prefix}${i}`,
      label: label(wrong(i) ? !truth : truth),
      groundTruth: label(truth),
    };
  });
}
const likeProduction = (i: number) => i % 10 === 3;

function plan(role: 'SHADOW' | 'CANARY', sinceMs: number): ServingPlan {
  return {
    production: '2',
    candidate: {
      version: '3',
      role,
      trafficShare: role === 'CANARY' ? 0.1 : 0,
      sinceMs,
      decisionId: 'decision-3',
    },
  };
}

interface Scenario {
  readonly plan: ServingPlan;
  readonly pairs?: ShadowPair[];
  readonly canary?: ServedLabelled[];
  readonly production?: ServedLabelled[];
  readonly settings?: LiveTrialSettings;
}

function deps(scenario: Scenario, printed: string[] = [], json = false) {
  const queries: { shadow: ShadowPairsQuery[]; served: ServedLabelledQuery[]; plans: string[] } = {
    shadow: [],
    served: [],
    plans: [],
  };
  return {
    queries,
    deps: {
      modelName: 'sentiment',
      readPlan: async (modelName: string) => {
        queries.plans.push(modelName);
        return scenario.plan;
      },
      evidence: {
        shadowPairs: async (query: ShadowPairsQuery) => {
          queries.shadow.push(query);
          return scenario.pairs ?? [];
        },
        servedLabelled: async (query: ServedLabelledQuery) => {
          queries.served.push(query);
          return (query.version === '3' ? scenario.canary : scenario.production) ?? [];
        },
      },
      settings: scenario.settings ?? DEFAULTS,
      json,
      paint: plain,
      now: () => T0,
      print: (text: string) => void printed.push(text),
    },
  };
}

async function render(scenario: Scenario): Promise<{ text: string; report: LiveReport }> {
  const report = await liveReport(deps(scenario).deps);
  return { text: renderLive(report, T0, plain), report };
}

/** The value of one `  key  value` line of the rendering. */
function field(text: string, key: string): string {
  const line = text.split('\n').find((l) => l.trimStart().startsWith(`${key} `));
  expect(line, `line ${key} in\n${text}`).toBeDefined();
  return line!.trim().slice(key.length).trim();
}

describe('registry live: without a candidate', () => {
  it('says production serves alone, or that there is no production', async () => {
    const alone = await render({ plan: { production: '2', candidate: null } });
    expect(alone.text).toBe(
      'sentiment: production 2 serves alone (no candidate in SHADOW or CANARY)',
    );
    expect(alone.report.assessment).toBeNull();
    const none = await render({ plan: { production: null, candidate: null } });
    expect(none.text).toBe(
      'sentiment: no production version (run: npm run mlops -- registry bootstrap)',
    );
  });
});

describe('registry live: a candidate in SHADOW', () => {
  const since = T0 - 2 * HOUR;

  it('WAIT: every figure, what is missing and the deadline', async () => {
    const { text, report } = await render({
      plan: plan('SHADOW', since),
      pairs: shadowPairs(320, 80, () => false),
    });
    expect(report.assessment?.verdict.kind).toBe('WAIT');
    expect(text).toBe(
      [
        'sentiment: production 2, candidate 3 in SHADOW since 2025-01-31T10:00:00Z (2h ago)',
        '  verdict     WAIT  waiting for live evidence: shadow events 320 of 500 needed (180 more); labelled events 80 of 200 needed (120 more)',
        '  events      320 shadow-scored (min 500), 80 labelled (min 200, inconclusive blocks at 2000)',
        '  agreement   100.0% of shadow events',
        '  F1          candidate 0.9091, production 0.9091 (same 80 labelled events)',
        '  difference  +0.0000, 95% interval [+0.0000, +0.0000] (floor -0.0200)',
        '  deadline    2025-02-01T10:00:00Z (in 22h)',
      ].join('\n'),
    );
  });

  it('WAIT before any label: no F1, no difference', async () => {
    const { text } = await render({
      plan: plan('SHADOW', since),
      pairs: shadowPairs(50, 0, (i) => i % 5 === 0),
    });
    expect(field(text, 'verdict')).toMatch(/^WAIT {2}waiting for live evidence/);
    expect(field(text, 'agreement')).toBe('80.0% of shadow events');
    expect(field(text, 'F1')).toBe('candidate -, production - (same 0 labelled events)');
    expect(field(text, 'difference')).toBe('- (no labelled event yet)');
  });

  it('PROMOTE: identical answers, the interval [0, 0] stays above the floor', async () => {
    const { text, report } = await render({
      plan: plan('SHADOW', since),
      pairs: shadowPairs(600, 300, () => false),
    });
    expect(report.assessment?.verdict.kind).toBe('PROMOTE');
    expect(field(text, 'verdict')).toMatch(/^PROMOTE {2}live F1 0\.909 vs production 0\.909/);
    expect(field(text, 'events')).toBe(
      '600 shadow-scored (min 500), 300 labelled (min 200, inconclusive blocks at 2000)',
    );
    expect(field(text, 'difference')).toBe(
      '+0.0000, 95% interval [+0.0000, +0.0000] (floor -0.0200)',
    );
  });

  it('BLOCK: the candidate is clearly worse; its F1, the difference and its interval', async () => {
    const { text, report } = await render({
      plan: plan('SHADOW', since),
      pairs: shadowPairs(600, 300, (i) => i % 3 === 0),
    });
    expect(report.assessment?.verdict.kind).toBe('BLOCK');
    expect(field(text, 'verdict')).toMatch(/^BLOCK {2}live F1 0\.645 .* lies below -0\.020/);
    expect(field(text, 'agreement')).toBe('66.7% of shadow events');
    expect(field(text, 'F1')).toBe(
      'candidate 0.6452, production 0.9091 (same 300 labelled events)',
    );
    const [lower, upper] = report.assessment!.verdict.evidence.f1DifferenceInterval!;
    expect(field(text, 'difference')).toBe(
      `-0.2639, 95% interval [${lower.toFixed(4)}, ${upper.toFixed(4)}] (floor -0.0200)`,
    );
    expect(upper).toBeLessThan(-0.02);
  });

  it("decides under the CLI environment's settings (the promoter's field names)", async () => {
    const scenario = {
      plan: plan('SHADOW', since),
      pairs: shadowPairs(600, 250, (i) => i % 20 === 0),
    };
    expect((await render(scenario)).report.assessment?.verdict.kind).toBe('BLOCK');
    const settings = parseConfig(liveTrialConfigFields, {
      LIVE_GATE_MARGIN: '0.1',
      LIVE_GATE_CONFIDENCE: '0.9',
    });
    const { text, report } = await render({ ...scenario, settings });
    expect(report.assessment?.verdict.kind).toBe('PROMOTE');
    expect(field(text, 'difference')).toMatch(/90% interval \[.*\] \(floor -0\.1000\)$/);
    const waiting = parseConfig(liveTrialConfigFields, { SHADOW_MIN_EVENTS: '1000' });
    expect((await render({ ...scenario, settings: waiting })).report.assessment?.verdict.kind).toBe(
      'WAIT',
    );
  });

  it('past the deadline without enough evidence: BLOCK, and the deadline shown as passed', async () => {
    const { text, report } = await render({
      plan: plan('SHADOW', T0 - 30 * HOUR),
      pairs: shadowPairs(100, 10, () => false),
    });
    expect(report.assessment?.expired).toBe(true);
    expect(field(text, 'verdict')).toMatch(
      /^BLOCK {2}not enough live evidence before the deadline/,
    );
    expect(field(text, 'deadline')).toBe('2025-01-31T06:00:00Z (passed 6h ago)');
  });

  it('reads the pairs of the candidate and production since the trial began', async () => {
    const { deps: d, queries } = deps({ plan: plan('SHADOW', since), pairs: [] });
    await liveReport(d);
    expect(queries.plans).toEqual(['sentiment']);
    expect(queries.shadow).toEqual([
      expect.objectContaining({
        modelName: 'sentiment',
        productionVersion: '2',
        candidateVersion: '3',
        sinceMs: since,
      }),
    ]);
  });
});

describe('registry live: a candidate in CANARY', () => {
  const since = T0 - 5 * HOUR;

  it('WAIT: the canary has served too few labelled predictions yet', async () => {
    const { text, report } = await render({
      plan: plan('CANARY', since),
      canary: served(40, likeProduction, 'c'),
      production: served(400, likeProduction, 'p'),
    });
    expect(report.assessment?.verdict.kind).toBe('WAIT');
    expect(text).toBe(
      [
        'sentiment: production 2, candidate 3 in CANARY at 10% of traffic since 2025-01-31T07:00:00Z (5h ago)',
        '  verdict     WAIT  waiting for live evidence: canary labelled 40 of 100 needed',
        '  canary      F1 0.9091 on 40 labelled (min 100)',
        '  production  F1 0.9091 on 400 labelled',
        '  difference  - (compared once the canary served 100 labelled and production 1)',
        '  deadline    2025-02-01T07:00:00Z (in 19h)',
      ].join('\n'),
    );
  });

  it('WIDEN: live F1 holds against production on their own traffic', async () => {
    const { text, report } = await render({
      plan: plan('CANARY', since),
      canary: served(300, likeProduction, 'c'),
      production: served(1200, likeProduction, 'p'),
    });
    expect(report.assessment?.verdict.kind).toBe('WIDEN');
    expect(field(text, 'verdict')).toMatch(/^WIDEN {2}live F1 holds: /);
    expect(field(text, 'canary')).toBe('F1 0.9091 on 300 labelled (min 100)');
    expect(field(text, 'production')).toBe('F1 0.9091 on 1200 labelled');
    expect(field(text, 'difference')).toMatch(
      /^\+0\.0000, 95% interval \[-0\.0\d{3}, \+0\.0\d{3}\] \(floor -0\.0500\)$/,
    );
  });

  it('ROLLBACK: live F1 dropped past the limit', async () => {
    const { text, report } = await render({
      plan: plan('CANARY', since),
      canary: served(300, (i) => i % 2 === 0, 'c'),
      production: served(1200, likeProduction, 'p'),
    });
    expect(report.assessment?.verdict.kind).toBe('ROLLBACK');
    expect(field(text, 'verdict')).toMatch(/^ROLLBACK {2}live F1 dropped: /);
    expect(field(text, 'canary')).toBe('F1 0.0000 on 300 labelled (min 100)');
    expect(field(text, 'difference')).toMatch(/^-0\.9091, 95% interval \[-0\.9\d{3}, -0\.8\d{3}\]/);
  });

  it("reads each version's labelled traffic since the canary began", async () => {
    const { deps: d, queries } = deps({ plan: plan('CANARY', since) });
    await liveReport(d);
    expect(queries.served.map((q) => [q.version, q.sinceMs]).sort()).toEqual([
      ['2', since],
      ['3', since],
    ]);
  });
});

describe('registry live: output', () => {
  it('colours the verdict: WAIT yellow, PROMOTE and WIDEN green, BLOCK and ROLLBACK red', async () => {
    const colour = painter(true);
    const shadow = await liveReport(
      deps({ plan: plan('SHADOW', T0), pairs: shadowPairs(600, 300, () => false) }).deps,
    );
    expect(renderLive(shadow, T0, colour)).toContain('\u001b[32mPROMOTE\u001b[39m');
    const rollback = await liveReport(
      deps({
        plan: plan('CANARY', T0),
        canary: served(300, (i) => i % 2 === 0, 'c'),
        production: served(300, likeProduction, 'p'),
      }).deps,
    );
    expect(renderLive(rollback, T0, colour)).toContain('\u001b[31mROLLBACK\u001b[39m');
  });

  it('--json prints the plan, the assessment and the settings it used', async () => {
    const printed: string[] = [];
    const { deps: d } = deps(
      {
        plan: plan('CANARY', T0 - HOUR),
        canary: served(300, likeProduction, 'c'),
        production: served(300, likeProduction, 'p'),
      },
      printed,
      true,
    );
    await runRegistryLive(d);
    expect(printed).toHaveLength(1);
    const report = JSON.parse(printed[0]!) as LiveReport;
    expect(report.modelName).toBe('sentiment');
    expect(report.plan.candidate).toMatchObject({
      version: '3',
      role: 'CANARY',
      trafficShare: 0.1,
    });
    expect(report.assessment).toMatchObject({
      role: 'CANARY',
      production: '2',
      expired: false,
      verdict: { kind: 'WIDEN', evidence: { canaryLabelled: 300, productionLabelled: 300 } },
    });
    expect(report.settings.canaryMargin).toBe(DEFAULTS.canaryMargin);
  });

  it('prints the rendering without --json', async () => {
    const printed: string[] = [];
    await runRegistryLive(deps({ plan: { production: '2', candidate: null } }, printed).deps);
    expect(printed).toEqual([
      'sentiment: production 2 serves alone (no candidate in SHADOW or CANARY)',
    ]);
  });
});
