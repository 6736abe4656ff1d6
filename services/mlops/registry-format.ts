/**
 * How the registry commands show the serving plan to people (pure): the DECISION cell of the
 * promotion log (SHADOW, CANARY with its share, a canary's ROLLED_BACK that left production
 * unchanged), a version's live role for `registry show`, the live trial for `registry live`
 * and one line per Deployment for `registry watch`.
 */
import type { LiveAssessment, LiveEvidence, LiveTrialSettings } from '#domain/registry';
import type { Deployment } from '#platform/serde';
import {
  type CandidateAssignment,
  type DecisionRecord,
  type ServingPlan,
  trafficShareOf,
} from '#platform/store';
import { formatAge } from './drift-format.ts';
import { type Colour, type Paint, formatSkippedMessage, iso } from './render.ts';

/** A traffic share as a percentage: 0.1 -> '10%', 0.125 -> '12.5%'. */
export const formatShare = (share: number): string => `${Number((share * 100).toFixed(2))}%`;

/** An F1 (or any score) with 4 decimals; '-' when absent. */
const score = (value: number | null | undefined): string =>
  value === null || value === undefined ? '-' : value.toFixed(4);

/** A difference with its sign and 4 decimals, never '-0.0000'. */
function signed(value: number): string {
  const text = value.toFixed(4);
  if (/^-0\.0+$/.test(text)) return `+${text.slice(1)}`;
  return text.startsWith('-') ? text : `+${text}`;
}

/**
 * A ROLLED_BACK that took a canary out of its share: production did not change (an ordinary
 * rollback always changes it), and the registry marks it `details.canary`.
 */
export function isCanaryRollback(decision: DecisionRecord): boolean {
  return (
    decision.decision === 'ROLLED_BACK' &&
    (decision.details['canary'] === true ||
      (decision.productionBefore !== null &&
        decision.productionBefore === decision.productionAfter))
  );
}

/** The DECISION cell of a log row: 'CANARY 10%', 'ROLLED_BACK canary', else the decision. */
export function decisionLabel(decision: DecisionRecord): string {
  if (decision.decision === 'CANARY') {
    const share = trafficShareOf(decision);
    return share > 0 ? `CANARY ${formatShare(share)}` : 'CANARY';
  }
  if (isCanaryRollback(decision)) return 'ROLLED_BACK canary';
  return decision.decision;
}

/** 'SHADOW' or 'CANARY at 10%'. */
function roleText(candidate: CandidateAssignment): string {
  return candidate.role === 'CANARY'
    ? `CANARY at ${formatShare(candidate.trafficShare)}`
    : candidate.role;
}

/**
 * What `version` is in the serving plan, for `registry show`'s heading: '  (production)',
 * '  (in SHADOW since <time>)', '  (in CANARY at 10% since <time>)', or '' (neither).
 */
export function versionRole(version: string, plan: ServingPlan): string {
  if (plan.production === version) return '  (production)';
  const candidate = plan.candidate;
  if (candidate?.version === version) {
    return `  (in ${roleText(candidate)} since ${iso(candidate.sinceMs)})`;
  }
  return '';
}

const VERDICT_COLOURS: Readonly<Record<string, Colour>> = {
  WAIT: 'yellow',
  PROMOTE: 'green',
  WIDEN: 'green',
  BLOCK: 'red',
  ROLLBACK: 'red',
};

/** What `registry live` shows, and prints as JSON with --json. */
export interface LiveReport {
  readonly modelName: string;
  readonly plan: ServingPlan;
  /** The candidate's trial; null when no candidate holds a live role. */
  readonly assessment: LiveAssessment | null;
  /** The gates' settings the assessment used (this process's environment). */
  readonly settings: LiveTrialSettings;
}

/** '2025-01-31T12:00:00Z (in 3h)', or '... (passed 2h ago)' in red. */
function deadlineText(deadlineMs: number, expired: boolean, nowMs: number, paint: Paint): string {
  return expired || deadlineMs < nowMs
    ? paint('red', `${iso(deadlineMs)} (passed ${formatAge(nowMs - deadlineMs)} ago)`)
    : `${iso(deadlineMs)} (in ${formatAge(deadlineMs - nowMs)})`;
}

/**
 * '+0.0136, 95% interval [-0.0213, +0.0467] (floor -0.0200)'; '- (<pending>)' while the gate
 * has no difference yet.
 */
function differenceText(
  difference: number | null,
  interval: readonly [number, number] | null,
  confidence: number,
  margin: number,
  pending: string,
): string {
  if (difference === null || interval === null) return `- (${pending})`;
  return (
    `${signed(difference)}, ${formatShare(confidence)} interval ` +
    `[${signed(interval[0])}, ${signed(interval[1])}] (floor ${signed(-margin)})`
  );
}

function shadowLines(
  evidence: LiveEvidence,
  settings: LiveTrialSettings,
): (readonly [string, string])[] {
  return [
    [
      'events',
      `${evidence.shadowEvents} shadow-scored (min ${settings.shadowMinEvents}), ` +
        `${evidence.labelledEvents} labelled (min ${settings.shadowMinLabelled}, ` +
        `inconclusive blocks at ${settings.shadowMaxLabelled})`,
    ],
    ['agreement', `${(evidence.agreement * 100).toFixed(1)}% of shadow events`],
    [
      'F1',
      `candidate ${score(evidence.candidateF1)}, production ${score(evidence.productionF1)} ` +
        `(same ${evidence.labelledEvents} labelled events)`,
    ],
    [
      'difference',
      differenceText(
        evidence.f1Difference,
        evidence.f1DifferenceInterval,
        settings.liveConfidence,
        settings.liveMargin,
        'no labelled event yet',
      ),
    ],
  ];
}

/**
 * `registry live` for people: the plan in one line; while a candidate is in SHADOW or CANARY,
 * the gate's verdict and reason and the figures it decided on (SHADOW: shadow and labelled
 * events, agreement, both F1s on the same labelled events, their difference and interval;
 * CANARY: each version's F1 on its own labelled traffic, the difference and interval), and
 * the trial's deadline.
 */
export function renderLive(report: LiveReport, nowMs: number, paint: Paint): string {
  const { modelName, plan, assessment, settings } = report;
  if (plan.production === null) {
    return `${modelName}: no production version (run: npm run mlops -- registry bootstrap)`;
  }
  const candidate = plan.candidate;
  if (candidate === null) {
    return `${modelName}: production ${plan.production} serves alone (no candidate in SHADOW or CANARY)`;
  }
  const heading =
    `${modelName}: production ${plan.production}, candidate ${candidate.version} in ` +
    `${roleText(candidate)}${candidate.role === 'CANARY' ? ' of traffic' : ''} since ` +
    `${iso(candidate.sinceMs)} (${formatAge(nowMs - candidate.sinceMs)} ago)`;
  if (assessment === null) return heading;
  const verdict = assessment.verdict;
  const colour = VERDICT_COLOURS[verdict.kind];
  const kind = colour === undefined ? verdict.kind : paint(colour, verdict.kind);
  let rows: (readonly [string, string])[];
  let maxWaitMs: number;
  if (assessment.role === 'SHADOW') {
    rows = shadowLines(assessment.verdict.evidence, settings);
    maxWaitMs = settings.shadowMaxWaitMs;
  } else {
    const evidence = assessment.verdict.evidence;
    rows = [
      [
        'canary',
        `F1 ${score(evidence.canaryF1)} on ${evidence.canaryLabelled} labelled ` +
          `(min ${settings.canaryMinLabelled})`,
      ],
      [
        'production',
        `F1 ${score(evidence.productionF1)} on ${evidence.productionLabelled} labelled`,
      ],
      [
        'difference',
        differenceText(
          evidence.f1Difference,
          evidence.f1DifferenceInterval,
          settings.liveConfidence,
          settings.canaryMargin,
          `compared once the canary served ${settings.canaryMinLabelled} labelled and production 1`,
        ),
      ],
    ];
    maxWaitMs = settings.canaryMaxWaitMs;
  }
  rows = [
    ['verdict', `${paint('bold', kind)}  ${verdict.reason}`],
    ...rows,
    ['deadline', deadlineText(candidate.sinceMs + maxWaitMs, assessment.expired, nowMs, paint)],
  ];
  const width = Math.max(...rows.map(([key]) => key.length));
  return [heading, ...rows.map(([key, value]) => `  ${key.padEnd(width)}  ${value}`)].join('\n');
}

const ACTION_COLOURS: Readonly<Record<string, Colour>> = {
  PROMOTE: 'green',
  ROLLBACK: 'yellow',
  BLOCK: 'red',
  CANARY: 'yellow',
};

/** A ROLLBACK event that left production as it was: a canary taken out of its share. */
const isCanaryRollbackEvent = (event: Deployment) =>
  event.action === 'ROLLBACK' && event.previousVersion === event.modelVersion;

/**
 * One Deployment (a change of the serving plan) as one line: time, model, action, production
 * (before -> after when it changed), the candidate with its role and share (or none), the
 * actor, UNSIGNED for an event without a signature (no serving process loads it), and the
 * reason.
 */
export function formatDeployment(event: Deployment, paint: Paint): string {
  const action = isCanaryRollbackEvent(event) ? 'ROLLBACK canary' : event.action;
  const colour = ACTION_COLOURS[event.action];
  const production =
    event.previousVersion !== null && event.previousVersion !== event.modelVersion
      ? `production ${event.previousVersion} -> ${event.modelVersion}`
      : `production ${event.modelVersion}`;
  const candidate =
    event.candidate === null
      ? 'no candidate'
      : `candidate ${event.candidate.modelVersion} ${event.candidate.role}` +
        (event.candidate.role === 'CANARY' ? ` ${formatShare(event.candidate.trafficShare)}` : '');
  return [
    iso(event.eventTime),
    event.modelName,
    paint('bold', colour === undefined ? action : paint(colour, action)),
    production,
    candidate,
    `by ${event.actor}`,
    ...(event.signature === null ? [paint('red', 'UNSIGNED')] : []),
    ...(event.reason === '' ? [] : [`reason: ${event.reason}`]),
  ].join('  ');
}

/** The warning printed instead of a message that is not a readable Deployment. */
export function formatMalformedDeployment(
  message: { readonly partition: number; readonly offset: string },
  error: { readonly code?: string; readonly message: string },
  timeMs: number,
): string {
  return formatSkippedMessage('models.deployments', 'Deployment', message, error, timeMs);
}
