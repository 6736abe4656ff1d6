/** The drift ops tools' pure parts: event lines, status table, message handling, the SQL. */
import { describe, expect, it } from 'vitest';
import { SchemaValidationError } from '#platform/common';
import type { DriftEvent } from '#platform/serde';
import { type DriftStatusRow, latestDriftChecksSql } from '#platform/store';
import { DriftChecksMissingError, runDriftStatus } from '../../services/mlops/drift-commands.ts';
import {
  formatAge,
  formatDriftEvent,
  formatWindow,
  renderDriftStatus,
} from '../../services/mlops/drift-format.ts';
import { describeDriftMessage } from '../../services/mlops/drift-watch.ts';
import { colourWanted, formatNumber, painter } from '../../services/mlops/render.ts';

const T0 = Date.UTC(2025, 0, 31, 12, 0, 0);
const plain = painter(false);
const colour = painter(true);
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[/;

function driftEvent(overrides: Partial<DriftEvent> = {}): DriftEvent {
  return {
    eventId: '00000000-0000-4000-8000-000000000001',
    eventTime: T0,
    modelName: 'sentiment',
    modelVersion: '3',
    segment: '*',
    kind: 'STATE_CHANGE',
    state: 'DRIFT',
    previousState: 'OK',
    predictionDriftState: 'OK',
    statistics: [
      { name: 'input_distance', value: 0.012, threshold: 0.034, exceeded: false },
      { name: 'domain_auc', value: 0.91, threshold: 0.75, exceeded: true },
      { name: 'class_mix', value: 0.01, threshold: 0.05, exceeded: false },
    ],
    windowStart: T0 - 300_000,
    windowEnd: T0 - 1_000,
    windowSize: 200,
    classMix: { POSITIVE: 0.55, NEGATIVE: 0.45 },
    episodeId: 'ep-1',
    reason: 'input OK -> DRIFT (2 windows over)',
    ...overrides,
  };
}

function statusRow(overrides: Partial<DriftStatusRow> = {}): DriftStatusRow {
  return {
    checkId: 'c-1',
    checkTimeMs: T0,
    modelName: 'sentiment',
    modelVersion: '3',
    segment: '*',
    windowStartMs: T0 - 300_000,
    windowEndMs: T0,
    windowSize: 200,
    inputDistance: 0.012,
    inputThreshold: 0.034,
    domainAuc: 0.91,
    domainAucThreshold: 0.75,
    classMixDistance: 0.01,
    classMixThreshold: 0.05,
    positiveShare: 0.55,
    referencePositiveShare: 0.5,
    inputState: 'DRIFT',
    predictionState: 'OK',
    error: null,
    episodeId: '1234567890abcdef',
    ...overrides,
  };
}

describe('drift watch: one line per event', () => {
  it('shows time, model@version, segment, states, statistics vs thresholds, window, mix, episode', () => {
    expect(formatDriftEvent(driftEvent(), plain)).toBe(
      [
        '2025-01-31T12:00:00Z',
        'sentiment@3',
        'segment *',
        'STATE_CHANGE OK -> DRIFT',
        'prediction OK',
        'input_distance 0.01200/0.03400, domain_auc 0.9100/0.7500 OVER, class_mix 0.01000/0.05000',
        'window 200 2025-01-31T11:55:00Z..11:59:59Z',
        'mix NEGATIVE 0.450 POSITIVE 0.550',
        'episode ep-1',
        'reason: input OK -> DRIFT (2 windows over)',
      ].join('  '),
    );
  });

  it('writes a STATUS without arrow, and leaves out what is not set', () => {
    const line = formatDriftEvent(
      driftEvent({
        kind: 'STATUS',
        state: 'INSUFFICIENT_DATA',
        previousState: null,
        predictionDriftState: 'INSUFFICIENT_DATA',
        statistics: [],
        windowSize: 0,
        classMix: {},
        episodeId: null,
        reason: null,
        segment: 'web',
      }),
      plain,
    );
    expect(line).toBe(
      '2025-01-31T12:00:00Z  sentiment@3  segment web  STATUS INSUFFICIENT_DATA  prediction INSUFFICIENT_DATA  stats -  window 0',
    );
  });

  it('marks a recovery and prints the full window end when it is on another day', () => {
    const line = formatDriftEvent(
      driftEvent({ state: 'OK', previousState: 'DRIFT', episodeId: null }),
      plain,
    );
    expect(line).toContain('STATE_CHANGE DRIFT -> OK RECOVERED');
    expect(formatWindow(Date.UTC(2025, 0, 31, 23, 59, 0), Date.UTC(2025, 1, 1, 0, 1, 0))).toBe(
      '2025-01-31T23:59:00Z..2025-02-01T00:01:00Z',
    );
  });

  it('colours state changes by state: red DRIFT, green OK/RECOVERED, yellow, magenta', () => {
    const red = '\u001b[31m';
    const green = '\u001b[32m';
    const yellow = '\u001b[33m';
    const magenta = '\u001b[35m';
    expect(formatDriftEvent(driftEvent(), colour)).toContain(`${red}STATE_CHANGE OK -> DRIFT`);
    expect(formatDriftEvent(driftEvent(), colour)).toContain(`${red}OVER`);
    expect(formatDriftEvent(driftEvent({ state: 'OK', previousState: 'DRIFT' }), colour)).toContain(
      `${green}STATE_CHANGE DRIFT -> OK RECOVERED`,
    );
    expect(
      formatDriftEvent(driftEvent({ state: 'INSUFFICIENT_DATA', previousState: 'OK' }), colour),
    ).toContain(`${yellow}STATE_CHANGE`);
    expect(formatDriftEvent(driftEvent({ state: 'ERROR', previousState: 'OK' }), colour)).toContain(
      `${magenta}STATE_CHANGE`,
    );
    expect(formatDriftEvent(driftEvent({ kind: 'STATUS' }), colour)).toContain(
      `STATUS ${red}DRIFT`,
    );
    expect(formatDriftEvent(driftEvent(), plain)).not.toMatch(ANSI);
  });

  it('colours only a terminal, and never with NO_COLOR set', () => {
    expect(colourWanted({ isTTY: true }, {})).toBe(true);
    expect(colourWanted({ isTTY: true }, { NO_COLOR: '' })).toBe(true);
    expect(colourWanted({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(colourWanted({ isTTY: false }, {})).toBe(false);
    expect(colourWanted({}, {})).toBe(false);
  });

  it('writes numbers with four significant digits', () => {
    expect(formatNumber(0.0123456)).toBe('0.01235');
    expect(formatNumber(0.5)).toBe('0.5000');
    expect(formatNumber(0)).toBe('0');
    expect(formatNumber(0.00001234)).toBe('1.23e-5');
    expect(formatNumber(null)).toBe('-');
  });
});

describe('drift watch: message handling', () => {
  const view = { json: false, paint: plain, now: () => T0 };
  const message = { partition: 0, offset: '17', value: Buffer.from('x') };

  it('turns an undecodable message into a warning line instead of failing', async () => {
    const line = await describeDriftMessage(
      message,
      () => Promise.reject(new SchemaValidationError('Avro body does not decode')),
      view,
    );
    expect(line).toEqual({
      stream: 'err',
      text: '2025-01-31T12:00:00Z  WARNING  drift.events partition 0 offset 17 skipped, not a readable DriftEvent (SCHEMA_INVALID: Avro body does not decode)',
    });
    const plainError = await describeDriftMessage(
      { ...message, timestampMs: T0 - 60_000 },
      () => Promise.reject(new Error('boom')),
      view,
    );
    expect(plainError?.text).toMatch(/^2025-01-31T11:59:00Z {2}WARNING .*\(boom\)$/);
  });

  it('filters by model and prints JSON lines when asked', async () => {
    const decode = () => Promise.resolve(driftEvent());
    expect(await describeDriftMessage(message, decode, { ...view, modelName: 'other' })).toBeNull();
    expect(
      await describeDriftMessage(message, decode, { ...view, modelName: 'sentiment' }),
    ).toEqual({ stream: 'out', text: formatDriftEvent(driftEvent(), plain) });
    const json = await describeDriftMessage(message, decode, { ...view, json: true });
    expect(JSON.parse(json!.text)).toEqual(driftEvent());
  });
});

describe('drift status', () => {
  it('renders the latest check per model version and segment as an aligned table', () => {
    const table = renderDriftStatus(
      [
        statusRow(),
        statusRow({
          segment: 'web',
          checkTimeMs: T0 - 90 * 60_000,
          inputState: 'ERROR',
          predictionState: 'ERROR',
          domainAuc: null,
          domainAucThreshold: null,
          episodeId: null,
          error: 'reference unusable',
        }),
      ],
      T0 + 42_000,
      plain,
    );
    const lines = table.split('\n');
    expect(lines[0]).toMatch(
      /^MODEL +VERSION +SEGMENT +CHECKED +AGE +INPUT +PREDICTION +WINDOW +INPUT DIST\. +DOMAIN AUC +CLASS MIX +POS\.\/REF\. +EPISODE +ERROR$/,
    );
    expect(lines[1]!.split(/ {2,}/)).toEqual([
      'sentiment',
      '3',
      '*',
      '2025-01-31T12:00:00Z',
      '42s',
      'DRIFT',
      'OK',
      '200',
      '0.01200/0.03400',
      '0.9100/0.7500!',
      '0.01000/0.05000',
      '0.550/0.500',
      '12345678',
    ]);
    expect(lines[2]!.split(/ {2,}/)).toEqual([
      'sentiment',
      '3',
      'web',
      '2025-01-31T10:30:00Z',
      '91m',
      'ERROR',
      'ERROR',
      '200',
      '0.01200/0.03400',
      '-',
      '0.01000/0.05000',
      '0.550/0.500',
      '-',
      'reference unusable',
    ]);
    // Columns line up: every row's INPUT cell starts where the header's does.
    const column = lines[0]!.indexOf('INPUT ');
    expect(lines[1]!.slice(column, column + 5)).toBe('DRIFT');
    expect(lines[2]!.slice(column, column + 5)).toBe('ERROR');
  });

  it('keeps columns aligned when states are coloured', () => {
    const lines = renderDriftStatus([statusRow()], T0, colour)
      .split('\n')
      // eslint-disable-next-line no-control-regex
      .map((line) => line.replace(/\u001b\[[0-9;]*m/g, ''));
    expect(lines[1]!.indexOf('DRIFT')).toBe(lines[0]!.indexOf('INPUT '));
  });

  it('prints ages in s, m, h, d', () => {
    expect([5_000, 150_000, 3 * 3_600_000, 3 * 86_400_000].map(formatAge)).toEqual([
      '5s',
      '3m',
      '3h',
      '3d',
    ]);
  });

  it('prints JSON rows, a hint when there are none, and names a missing table', async () => {
    const printed: string[] = [];
    const base = {
      json: false,
      paint: plain,
      now: () => T0,
      print: (t: string) => printed.push(t),
    };
    const queries: unknown[] = [];
    await runDriftStatus({
      ...base,
      modelName: 'm',
      readStatus: (query) => {
        queries.push(query);
        return Promise.resolve([]);
      },
    });
    expect(queries).toEqual([{ modelName: 'm' }]);
    expect(printed.pop()).toBe('no drift checks for model m (is the drift service running?)');

    await runDriftStatus({ ...base, json: true, readStatus: () => Promise.resolve([statusRow()]) });
    expect(JSON.parse(printed.pop()!)).toEqual([statusRow()]);

    await expect(
      runDriftStatus({
        ...base,
        readStatus: () =>
          Promise.reject(
            new Error(
              "Code: 60, e.displayText() = DB::Exception: Table x.drift_checks doesn't exist",
            ),
          ),
      }),
    ).rejects.toBeInstanceOf(DriftChecksMissingError);
  });

  it('escapes the model name in the SQL and keeps to 18.16 syntax', () => {
    const sql = latestDriftChecksSql({ modelName: "it's" });
    expect(sql).toContain("WHERE model_name = 'it\\'s'");
    expect(sql).toContain('LIMIT 1 BY model_name, model_version, segment');
    expect(latestDriftChecksSql()).not.toContain('WHERE model_name');
  });
});
