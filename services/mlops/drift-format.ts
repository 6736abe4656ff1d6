/**
 * How the drift commands show things to people (pure): one line per DriftEvent for
 * `drift watch`, the latest check per model version and segment as a table for
 * `drift status`.
 */
import type { DriftEvent } from '#platform/serde';
import type { DriftStatusRow } from '#platform/store';
import {
  type Colour,
  type Paint,
  formatNumber,
  formatSkippedMessage,
  iso,
  renderTable,
} from './render.ts';

const STATE_COLOURS: Readonly<Record<string, Colour>> = {
  OK: 'green',
  RECOVERED: 'green',
  DRIFT: 'red',
  INSUFFICIENT_DATA: 'yellow',
  ERROR: 'magenta',
};

/** A state word in its colour (unknown states, e.g. from a newer detector, unpainted). */
export function paintState(state: string, paint: Paint): string {
  const colour = STATE_COLOURS[state];
  return colour === undefined ? state : paint(colour, state);
}

/** `value/threshold`, with OVER when the statistic exceeded its threshold. */
function statistic(name: string, value: number, threshold: number, over: boolean, paint: Paint) {
  const text = `${name} ${formatNumber(value)}/${formatNumber(threshold)}`;
  return over ? `${text} ${paint('red', 'OVER')}` : text;
}

/** '2025-01-31T12:00:00Z..12:05:00Z': the end's date only when it differs from the start's. */
export function formatWindow(startMs: number, endMs: number): string {
  const start = iso(startMs);
  const end = iso(endMs);
  return `${start}..${end.slice(0, 10) === start.slice(0, 10) ? end.slice(11) : end}`;
}

/** Whether a state change ended a drift: DRIFT -> OK. */
export const isRecovery = (event: Pick<DriftEvent, 'previousState' | 'state'>): boolean =>
  event.previousState === 'DRIFT' && event.state === 'OK';

function stateText(event: DriftEvent, paint: Paint): string {
  if (event.kind !== 'STATE_CHANGE') return `STATUS ${paintState(event.state, paint)}`;
  const changed = event.previousState !== null && event.previousState !== event.state;
  const colour = STATE_COLOURS[isRecovery(event) ? 'RECOVERED' : event.state];
  const text = [
    'STATE_CHANGE',
    ...(changed ? [`${event.previousState} ->`] : []),
    event.state,
    ...(isRecovery(event) ? ['RECOVERED'] : []),
  ].join(' ');
  return colour === undefined ? paint('bold', text) : paint('bold', paint(colour, text));
}

/**
 * One DriftEvent as one line: time, model@version, segment, state (and the prediction-drift
 * state), each statistic against its threshold, the window, the class mix, the episode and
 * the detector's reason. Colour through `paint` (identity when colour is off).
 */
export function formatDriftEvent(event: DriftEvent, paint: Paint): string {
  const statistics =
    event.statistics.length === 0
      ? 'stats -'
      : event.statistics
          .map((s) => statistic(s.name, s.value, s.threshold, s.exceeded, paint))
          .join(', ');
  const mix = Object.entries(event.classMix)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([label, share]) => `${label} ${share.toFixed(3)}`)
    .join(' ');
  const window =
    event.windowSize === 0
      ? 'window 0'
      : `window ${event.windowSize} ${formatWindow(event.windowStart, event.windowEnd)}`;
  return [
    iso(event.eventTime),
    `${event.modelName}@${event.modelVersion}`,
    `segment ${event.segment}`,
    stateText(event, paint),
    `prediction ${paintState(event.predictionDriftState, paint)}`,
    statistics,
    window,
    ...(mix === '' ? [] : [`mix ${mix}`]),
    ...(event.episodeId === null ? [] : [`episode ${event.episodeId}`]),
    ...(event.reason === null || event.reason === '' ? [] : [`reason: ${event.reason}`]),
  ].join('  ');
}

/** The warning printed instead of a message that could not be decoded (at its broker time). */
export function formatMalformed(
  message: { readonly partition: number; readonly offset: string },
  error: { readonly code?: string; readonly message: string },
  timeMs: number,
): string {
  return formatSkippedMessage('drift.events', 'DriftEvent', message, error, timeMs);
}

/** '42s', '5m', '3h', '2d': how long ago a check ran. */
export function formatAge(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 120 * 60) return `${Math.round(seconds / 60)}m`;
  if (seconds < 48 * 3600) return `${Math.round(seconds / 3600)}h`;
  return `${Math.round(seconds / 86_400)}d`;
}

/** `value/threshold`, '!' when over, '-' without a value (no domain classifier ran). */
function cell(value: number | null, threshold: number | null): string {
  if (value === null || threshold === null) return '-';
  return `${formatNumber(value)}/${formatNumber(threshold)}${value > threshold ? '!' : ''}`;
}

const MAX_ERROR = 100;

/**
 * The latest check of each model version and segment as an aligned table; statistics as
 * value/threshold, '!' marking one over its threshold.
 */
export function renderDriftStatus(
  rows: readonly DriftStatusRow[],
  nowMs: number,
  paint: Paint,
): string {
  return renderTable(
    [
      'MODEL',
      'VERSION',
      'SEGMENT',
      'CHECKED',
      'AGE',
      'INPUT',
      'PREDICTION',
      'WINDOW',
      'INPUT DIST.',
      'DOMAIN AUC',
      'CLASS MIX',
      'POS./REF.',
      'EPISODE',
      'ERROR',
    ],
    rows.map((row) => [
      row.modelName,
      row.modelVersion,
      row.segment,
      iso(row.checkTimeMs),
      formatAge(nowMs - row.checkTimeMs),
      paintState(row.inputState, paint),
      paintState(row.predictionState, paint),
      String(row.windowSize),
      cell(row.inputDistance, row.inputThreshold),
      cell(row.domainAuc, row.domainAucThreshold),
      cell(row.classMixDistance, row.classMixThreshold),
      `${row.positiveShare.toFixed(3)}/${row.referencePositiveShare.toFixed(3)}`,
      row.episodeId === null ? '-' : row.episodeId.slice(0, 8),
      row.error === null
        ? ''
        : row.error.length > MAX_ERROR
          ? `${row.error.slice(0, MAX_ERROR - 3)}...`
          : row.error,
    ]),
  );
}

/** What `drift status` prints when there is nothing to show. */
export function noChecksMessage(modelName: string | undefined): string {
  return modelName === undefined
    ? 'no drift checks yet (is the drift service running?)'
    : `no drift checks for model ${modelName} (is the drift service running?)`;
}
