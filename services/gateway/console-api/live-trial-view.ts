/**
 * The console's view of a candidate's live trial (GET /v1/console/models/live): the serving
 * plan and, while a candidate is in SHADOW or CANARY, its assessment by #domain/registry
 * `assessLiveTrial`, the function the promoter decides with, so the Models page shows the
 * figures the promoter acts on (under the same settings: `consoleLiveTrialConfigFields`, the
 * gate settings of `liveTrialConfigFields`, read from the gateway's environment).
 *
 * An assessment reads up to tens of thousands of predictions and bootstraps the F1 difference,
 * in the gateway's process: the reader runs one at a time and reuses a recent result
 * (`maxAgeMs`), so however many consoles poll, the gateway assesses at most once per period.
 */
import { type ConfigField, parseConfig } from '#platform/common';
import type { CandidateAssignment, ServingPlan } from '#platform/store';
import {
  type LiveAssessment,
  type LiveEvidenceSource,
  type LiveTrialSettings,
  assessLiveTrial,
  liveTrialConfigFields,
} from '#domain/registry';

/**
 * The live gates' settings the console's assessment needs (the promoter's names and
 * defaults): spread into the gateway's config schema, they are read from its environment.
 */
export const consoleLiveTrialConfigFields = {
  shadowMinEvents: liveTrialConfigFields.shadowMinEvents,
  shadowMinLabelled: liveTrialConfigFields.shadowMinLabelled,
  shadowMaxLabelled: liveTrialConfigFields.shadowMaxLabelled,
  shadowMaxWaitMs: liveTrialConfigFields.shadowMaxWaitMs,
  liveMargin: liveTrialConfigFields.liveMargin,
  liveConfidence: liveTrialConfigFields.liveConfidence,
  canaryMinLabelled: liveTrialConfigFields.canaryMinLabelled,
  canaryMargin: liveTrialConfigFields.canaryMargin,
  canaryMaxWaitMs: liveTrialConfigFields.canaryMaxWaitMs,
} satisfies Record<keyof LiveTrialSettings, ConfigField<number>>;

/** The fields' defaults (the promoter's defaults). */
export const DEFAULT_LIVE_TRIAL_SETTINGS: LiveTrialSettings = Object.freeze(
  parseConfig(consoleLiveTrialConfigFields, {}),
);

/**
 * The live gates' settings in a parsed config: each field the config holds (a config whose
 * schema spreads `consoleLiveTrialConfigFields`), the default for any it lacks.
 */
export function liveTrialSettingsOf(config: object): LiveTrialSettings {
  const given = config as Readonly<Record<string, unknown>>;
  const settings: Record<string, number> = {};
  for (const [key, fallback] of Object.entries(DEFAULT_LIVE_TRIAL_SETTINGS)) {
    const value = given[key];
    settings[key] = typeof value === 'number' && Number.isFinite(value) ? value : fallback;
  }
  return Object.freeze(settings as unknown as LiveTrialSettings);
}

/** What the reader answers: the plan, the assessment (null without a candidate) and when. */
export interface LiveTrialSnapshot {
  /** When it was assessed (ms). */
  readonly time: number;
  readonly plan: ServingPlan;
  readonly assessment: LiveAssessment | null;
  readonly settings: LiveTrialSettings;
}

export interface LiveTrialReader {
  /** The latest snapshot, assessed now unless one at most `maxAgeMs` old exists. */
  current(): Promise<LiveTrialSnapshot>;
}

export function createLiveTrialReader(options: {
  readonly modelName: string;
  /** The serving plan now (#domain/registry ModelRegistry.plan). */
  readonly plan: () => Promise<ServingPlan>;
  readonly evidence: LiveEvidenceSource;
  readonly settings: LiveTrialSettings;
  /** A snapshot this recent is answered again (default 3 s; 0: assess on every call). */
  readonly maxAgeMs?: number;
  readonly now?: () => number;
}): LiveTrialReader {
  const now = options.now ?? Date.now;
  const maxAgeMs = options.maxAgeMs ?? 3_000;
  let latest: LiveTrialSnapshot | null = null;
  let running: Promise<LiveTrialSnapshot> | null = null;

  const assess = async (): Promise<LiveTrialSnapshot> => {
    const plan = await options.plan();
    const time = now();
    const assessment = await assessLiveTrial(
      options.modelName,
      plan,
      options.evidence,
      options.settings,
      time,
    );
    return { time, plan, assessment, settings: options.settings };
  };

  return {
    current() {
      if (latest !== null && maxAgeMs > 0 && now() - latest.time < maxAgeMs) {
        return Promise.resolve(latest);
      }
      // One assessment at a time: callers arriving meanwhile share it. A failure is not kept.
      running ??= assess().then(
        (snapshot) => {
          latest = snapshot;
          running = null;
          return snapshot;
        },
        (error: unknown) => {
          running = null;
          throw error;
        },
      );
      return running;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The JSON shape

/** The plan's candidate as the console API shows it (`since`: ms, like every console time). */
export function candidateView(candidate: CandidateAssignment | null) {
  return candidate === null
    ? null
    : {
        version: candidate.version,
        role: candidate.role,
        trafficShare: candidate.trafficShare,
        since: candidate.sinceMs,
        decisionId: candidate.decisionId,
      };
}

function assessmentView(assessment: LiveAssessment, settings: LiveTrialSettings) {
  const { candidate, verdict } = assessment;
  if (assessment.role === 'SHADOW') {
    const evidence = assessment.verdict.evidence;
    return {
      role: assessment.role,
      expired: assessment.expired,
      deadline: candidate.sinceMs + settings.shadowMaxWaitMs,
      verdict: { kind: verdict.kind, reason: verdict.reason },
      evidence: {
        shadowEvents: evidence.shadowEvents,
        agreement: evidence.agreement,
        labelledEvents: evidence.labelledEvents,
        productionLabelled: null,
        candidateF1: evidence.candidateF1,
        productionF1: evidence.productionF1,
        f1Difference: evidence.f1Difference,
        f1DifferenceInterval: evidence.f1DifferenceInterval && [...evidence.f1DifferenceInterval],
      },
      gate: {
        margin: settings.liveMargin,
        confidence: settings.liveConfidence,
        minShadowEvents: settings.shadowMinEvents,
        minLabelledEvents: settings.shadowMinLabelled,
        maxLabelledEvents: settings.shadowMaxLabelled,
        maxWaitMs: settings.shadowMaxWaitMs,
      },
    };
  }
  const evidence = assessment.verdict.evidence;
  return {
    role: assessment.role,
    expired: assessment.expired,
    deadline: candidate.sinceMs + settings.canaryMaxWaitMs,
    verdict: { kind: verdict.kind, reason: verdict.reason },
    evidence: {
      shadowEvents: null,
      agreement: null,
      labelledEvents: evidence.canaryLabelled,
      productionLabelled: evidence.productionLabelled,
      candidateF1: evidence.canaryF1,
      productionF1: evidence.productionF1,
      f1Difference: evidence.f1Difference,
      f1DifferenceInterval: evidence.f1DifferenceInterval && [...evidence.f1DifferenceInterval],
    },
    gate: {
      margin: settings.canaryMargin,
      confidence: settings.liveConfidence,
      minShadowEvents: null,
      minLabelledEvents: settings.canaryMinLabelled,
      maxLabelledEvents: null,
      maxWaitMs: settings.canaryMaxWaitMs,
    },
  };
}

/** The body of GET /v1/console/models/live (its schema: `liveTrialResponseSchema`). */
export function liveTrialView(modelName: string, snapshot: LiveTrialSnapshot) {
  return {
    modelName,
    time: snapshot.time,
    production: snapshot.plan.production,
    candidate: candidateView(snapshot.plan.candidate),
    assessment:
      snapshot.assessment === null ? null : assessmentView(snapshot.assessment, snapshot.settings),
  };
}

const nullableNumber = (description: string) =>
  ({ type: ['number', 'null'], description }) as const;

/** The schema of a candidate in a live role (also in GET /v1/console/models). */
export function candidateSchema() {
  return {
    type: ['object', 'null'],
    description:
      'The candidate in a live role beside production; null when production serves alone',
    required: ['version', 'role', 'trafficShare', 'since', 'decisionId'],
    additionalProperties: false,
    properties: {
      version: { type: 'string' },
      role: { type: 'string', enum: ['SHADOW', 'CANARY'] },
      trafficShare: {
        type: 'number',
        description: 'CANARY: the share of reviews and requests it answers, in (0, 1); SHADOW: 0',
      },
      since: { type: 'number', description: 'When it entered the role (ms since the epoch)' },
      decisionId: { type: 'string', description: 'The promotion-log decision that put it there' },
    },
  } as const;
}

/**
 * The 200 answer of GET /v1/console/models/live. A new object per call: one shared object
 * would appear in /docs/yaml as a YAML anchor and aliases.
 */
export function liveTrialResponseSchema() {
  return {
    type: 'object',
    description:
      "The serving plan and the live trial of its candidate, as the promoter's gate assesses it",
    required: ['modelName', 'time', 'production', 'candidate', 'assessment'],
    additionalProperties: false,
    properties: {
      modelName: { type: 'string' },
      time: { type: 'number', description: 'When this was assessed (ms since the epoch)' },
      production: { type: ['string', 'null'], description: 'The production version' },
      candidate: candidateSchema(),
      assessment: {
        type: ['object', 'null'],
        description: 'The gate on live evidence; null without a candidate (or a production)',
        required: ['role', 'expired', 'deadline', 'verdict', 'evidence', 'gate'],
        additionalProperties: false,
        properties: {
          role: { type: 'string', enum: ['SHADOW', 'CANARY'] },
          expired: {
            type: 'boolean',
            description: 'The trial ran past its deadline: undecided, it is blocked or rolled back',
          },
          deadline: { type: 'number', description: 'since + the longest wait (ms)' },
          verdict: {
            type: 'object',
            required: ['kind', 'reason'],
            additionalProperties: false,
            properties: {
              kind: {
                type: 'string',
                enum: ['WAIT', 'PROMOTE', 'BLOCK', 'WIDEN', 'ROLLBACK'],
                description: 'SHADOW: WAIT, PROMOTE or BLOCK; CANARY: WAIT, WIDEN or ROLLBACK',
              },
              reason: { type: 'string', description: 'The gate’s reason, with its figures' },
            },
          },
          evidence: {
            type: 'object',
            required: [
              'shadowEvents',
              'agreement',
              'labelledEvents',
              'productionLabelled',
              'candidateF1',
              'productionF1',
              'f1Difference',
              'f1DifferenceInterval',
            ],
            additionalProperties: false,
            properties: {
              shadowEvents: nullableNumber('SHADOW: events both versions scored; CANARY: null'),
              agreement: nullableNumber(
                'SHADOW: share of those where both predict the same label; CANARY: null',
              ),
              labelledEvents: {
                type: 'number',
                description:
                  'SHADOW: shadow events with a ground-truth label; CANARY: labelled predictions the canary served',
              },
              productionLabelled: nullableNumber(
                'CANARY: labelled predictions production served; SHADOW: null (the same events)',
              ),
              candidateF1: nullableNumber('F1 of the candidate (POSITIVE); null with no label'),
              productionF1: nullableNumber('F1 of production (POSITIVE); null with no label'),
              f1Difference: nullableNumber('candidateF1 − productionF1; null until comparable'),
              f1DifferenceInterval: {
                type: ['array', 'null'],
                description:
                  'Bootstrap interval [lower, upper] of the difference at gate.confidence; null until comparable',
                items: { type: 'number' },
                minItems: 2,
                maxItems: 2,
              },
            },
          },
          gate: {
            type: 'object',
            description: 'The settings the verdict was reached under',
            required: [
              'margin',
              'confidence',
              'minShadowEvents',
              'minLabelledEvents',
              'maxLabelledEvents',
              'maxWaitMs',
            ],
            additionalProperties: false,
            properties: {
              margin: {
                type: 'number',
                description:
                  'The difference may go down to −margin: SHADOW passes when the interval stays at or above it, CANARY rolls back when it lies wholly below',
              },
              confidence: { type: 'number', description: 'Two-sided, of the interval' },
              minShadowEvents: nullableNumber('SHADOW: events needed; CANARY: null'),
              minLabelledEvents: { type: 'number', description: 'Labelled events needed' },
              maxLabelledEvents: nullableNumber(
                'SHADOW: labelled events after which an inconclusive comparison blocks; CANARY: null',
              ),
              maxWaitMs: { type: 'number', description: 'The longest the trial may run' },
            },
          },
        },
      },
    },
  } as const;
}
