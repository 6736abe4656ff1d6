/**
 * Drift ops tools end to end on the local stack: `mlops drift status` (a separate process)
 * reads the latest check per model version and segment from drift_checks rows inserted here;
 * `mlops drift watch` (a separate process) prints DriftEvents published to drift.events, warns
 * about a malformed message and goes on, and stops cleanly on SIGINT; the queries of
 * dashboards/drift.json run as the read-only analyst user.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '#platform/common';
import type { DriftEvent } from '#platform/serde';
import {
  type DriftCheckRow,
  type DriftStatusRow,
  createClickHouse,
  migrate,
} from '#platform/store';
import { insertDriftChecks } from '../../services/drift/drift-store.ts';
import { processCommand } from '../support/build.ts';
import { type TestKafka, connectTestKafka, waitUntil } from '../support/kafka.ts';
import { REPO_ROOT, clickhouseUrl, testStackProcessEnv } from '../support/stack.ts';

const run = randomUUID().slice(0, 8);
const database = `drift_ops_${run}`;
const MODEL = `drift-ops-${run}`;
const OTHER_MODEL = `drift-ops-other-${run}`;
const ANALYST_PASSWORD = process.env.CLICKHOUSE_ANALYST_PASSWORD ?? 'analyst';
const NOW = Math.floor(Date.now() / 1000) * 1000;
const MINUTE = 60_000;
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[/;

const cliEnv = () => {
  const env = testStackProcessEnv({ CLICKHOUSE_DATABASE: database });
  delete env.NO_COLOR;
  return env;
};

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const command = processCommand('services/mlops/cli.ts', cliEnv());
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...command.args, ...args],
      { cwd: command.cwd, env: command.env },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** A long-running CLI process with its stdout and stderr kept apart. */
interface Watcher {
  readonly process: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly lines: () => string[];
  readonly exited: Promise<number | null>;
}

function startCli(...args: string[]): Watcher {
  const command = processCommand('services/mlops/cli.ts', cliEnv());
  const child = spawn(process.execPath, [...command.args, ...args], {
    cwd: command.cwd,
    env: command.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  return {
    process: child,
    stdout: () => stdout,
    stderr: () => stderr,
    lines: () => stdout.split('\n').filter((line) => line !== ''),
    exited,
  };
}

async function stopWatcher(watcher: Watcher | undefined, signal: NodeJS.Signals = 'SIGINT') {
  if (!watcher || watcher.process.exitCode !== null || watcher.process.signalCode !== null) {
    return watcher?.process.exitCode ?? null;
  }
  watcher.process.kill(signal);
  return watcher.exited;
}

function check(overrides: Partial<DriftCheckRow> & Pick<DriftCheckRow, 'checkId'>): DriftCheckRow {
  return {
    checkTimeMs: NOW - 50 * MINUTE,
    modelName: MODEL,
    modelVersion: '1',
    segment: '*',
    windowStartMs: NOW - 60 * MINUTE,
    windowEndMs: NOW - 51 * MINUTE,
    windowSize: 200,
    inputDistance: 0.012,
    inputThreshold: 0.034,
    domainAuc: 0.61,
    domainAucThreshold: 0.75,
    classMixDistance: 0.01,
    classMixThreshold: 0.05,
    positiveShare: 0.52,
    referencePositiveShare: 0.5,
    inputState: 'OK',
    predictionState: 'OK',
    error: null,
    episodeId: null,
    ...overrides,
  };
}

const EPISODE = `episode-${run}`;
const checks: DriftCheckRow[] = [
  check({ checkId: `${run}-1` }),
  check({
    checkId: `${run}-2`,
    checkTimeMs: NOW - 40 * MINUTE,
    windowStartMs: NOW - 45 * MINUTE,
    windowEndMs: NOW - 41 * MINUTE,
    domainAuc: 0.91,
    inputDistance: 0.05,
    inputState: 'DRIFT',
    episodeId: EPISODE,
  }),
  check({
    checkId: `${run}-3`,
    segment: 'web',
    checkTimeMs: NOW - 45 * MINUTE,
    windowSize: 0,
    inputDistance: 0,
    domainAuc: null,
    domainAucThreshold: null,
    classMixDistance: 0,
    inputState: 'ERROR',
    predictionState: 'ERROR',
    error: 'reference unusable',
  }),
  check({
    checkId: `${run}-4`,
    modelVersion: '2',
    checkTimeMs: NOW - 30 * MINUTE,
    windowSize: 12,
    inputDistance: 0,
    domainAuc: null,
    domainAucThreshold: null,
    classMixDistance: 0,
    inputState: 'INSUFFICIENT_DATA',
    predictionState: 'INSUFFICIENT_DATA',
  }),
  check({ checkId: `${run}-5`, modelName: OTHER_MODEL, checkTimeMs: NOW - 20 * MINUTE }),
];

function driftEvent(overrides: Partial<DriftEvent> = {}): DriftEvent {
  return {
    eventId: randomUUID(),
    eventTime: NOW,
    modelName: MODEL,
    modelVersion: '1',
    segment: '*',
    kind: 'STATUS',
    state: 'OK',
    previousState: null,
    predictionDriftState: 'OK',
    statistics: [
      { name: 'class_conditional_cosine', value: 0.012, threshold: 0.034, exceeded: false },
      { name: 'domain_auc', value: 0.91, threshold: 0.75, exceeded: true },
      { name: 'class_mix', value: 0.01, threshold: 0.05, exceeded: false },
    ],
    windowStart: NOW - 5 * MINUTE,
    windowEnd: NOW - 1_000,
    windowSize: 200,
    classMix: { NEGATIVE: 0.4, POSITIVE: 0.6 },
    episodeId: null,
    reason: null,
    ...overrides,
  };
}

async function analystQuery(sql: string): Promise<Record<string, unknown>[]> {
  const response = await fetch(`${clickhouseUrl()}/`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`analyst:${ANALYST_PASSWORD}`).toString('base64')}`,
    },
    body: `${sql}\nFORMAT JSON`,
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`HTTP ${response.status}: ${text}`);
  return (JSON.parse(text) as { data: Record<string, unknown>[] }).data;
}

describe('drift ops: mlops drift status, drift watch, the drift dashboard', () => {
  const settings = {
    clickhouseUrl: clickhouseUrl(),
    clickhouseUser: 'default',
    clickhousePassword: '',
    clickhouseDatabase: database,
  };
  const clickhouse = createClickHouse(settings);
  let kafka: TestKafka;
  const watchers: Watcher[] = [];

  beforeAll(async () => {
    await migrate(settings, createLogger('drift-ops-test', 'fatal'));
    // The DRIFT check twice (a retried insert): status shows it once.
    await insertDriftChecks(clickhouse, [...checks, checks[1]!]);
    kafka = await connectTestKafka();
  });

  afterAll(async () => {
    for (const watcher of watchers) await stopWatcher(watcher, 'SIGKILL');
    await kafka?.close();
    await clickhouse.command({ query: `DROP DATABASE IF EXISTS ${database}` }).catch(() => {});
    await clickhouse.close();
  });

  it('drift status --json: the latest check per model version and segment, de-duplicated', async () => {
    const result = await cli('drift', 'status', '--json', '--model', MODEL);
    expect(result.code, result.stderr).toBe(0);
    const rows = JSON.parse(result.stdout) as DriftStatusRow[];
    const expected = [checks[1]!, checks[2]!, checks[3]!];
    expect(rows).toEqual(
      expected.map((c) => ({
        ...c,
        windowStartMs: Math.floor(c.windowStartMs / 1000) * 1000,
        windowEndMs: Math.floor(c.windowEndMs / 1000) * 1000,
        episodeId: c.episodeId ?? null,
      })),
    );

    const all = await cli('drift', 'status', '--json');
    expect(all.code, all.stderr).toBe(0);
    expect((JSON.parse(all.stdout) as DriftStatusRow[]).map((r) => r.checkId)).toEqual([
      `${run}-2`,
      `${run}-3`,
      `${run}-4`,
      `${run}-5`,
    ]);
  });

  it('drift status: an aligned table without colour when stdout is not a terminal', async () => {
    const result = await cli('drift', 'status', '--model', MODEL);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).not.toMatch(ANSI);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^MODEL +VERSION +SEGMENT +CHECKED +AGE +INPUT +PREDICTION/);
    const cells = lines.slice(1).map((line) => line.split(/ {2,}/));
    expect(cells.map((c) => [c[1], c[2], c[5], c[6]])).toEqual([
      ['1', '*', 'DRIFT', 'OK'],
      ['1', 'web', 'ERROR', 'ERROR'],
      ['2', '*', 'INSUFFICIENT_DATA', 'INSUFFICIENT_DATA'],
    ]);
    expect(lines[1]).toContain('0.9100/0.7500!');
    expect(lines[1]).toContain(EPISODE.slice(0, 8));
    expect(lines[2]).toMatch(/reference unusable$/);

    const none = await cli('drift', 'status', '--model', `nobody-${run}`);
    expect(none.code, none.stderr).toBe(0);
    expect(none.stdout).toContain(`no drift checks for model nobody-${run}`);
  });

  it('drift watch: one line per event from now on, a warning for a malformed message, clean stop', async () => {
    const before = driftEvent({ reason: 'published before the watcher started' });
    await kafka.producer.send('drift.events', [{ key: '1', value: before }]);

    const watcher = startCli('drift', 'watch', '--model', MODEL);
    watchers.push(watcher);
    await waitUntil(
      () => watcher.stderr().includes('watching drift.events'),
      60_000,
      `the watcher to start; stderr:\n${watcher.stderr()}`,
    );

    const change = driftEvent({
      kind: 'STATE_CHANGE',
      state: 'DRIFT',
      previousState: 'OK',
      episodeId: EPISODE,
      reason: 'input OK -> DRIFT (DRIFT_DETECTED)',
    });
    const status = driftEvent({ state: 'DRIFT', episodeId: EPISODE, segment: 'web' });
    await kafka.producer.send('drift.events', [{ key: '1', value: change }]);
    await kafka.producer.sendRaw('drift.events', [
      { key: Buffer.from('1'), value: Buffer.from('not a drift event') },
    ]);
    await kafka.producer.send('drift.events', [
      { key: '1', value: driftEvent({ modelName: OTHER_MODEL }) },
      { key: '1', value: status },
    ]);
    await waitUntil(() => watcher.lines().length >= 2, 30_000, 'two event lines');
    await waitUntil(() => watcher.stderr().includes('WARNING'), 10_000, 'the warning');

    const lines = watcher.lines();
    expect(lines, watcher.stdout()).toHaveLength(2);
    expect(watcher.stdout()).not.toMatch(ANSI);
    expect(lines[0]).toContain(`${MODEL}@1  segment *  STATE_CHANGE OK -> DRIFT  prediction OK`);
    expect(lines[0]).toContain(
      'class_conditional_cosine 0.01200/0.03400, domain_auc 0.9100/0.7500 OVER, class_mix 0.01000/0.05000',
    );
    expect(lines[0]).toMatch(
      /window 200 \d{4}-\d\d-\d\dT[\d:]+Z\.\.[\d:TZ-]+ {2}mix NEGATIVE 0\.400 POSITIVE 0\.600/,
    );
    expect(lines[0]).toContain(`episode ${EPISODE}  reason: input OK -> DRIFT (DRIFT_DETECTED)`);
    expect(lines[1]).toContain(`${MODEL}@1  segment web  STATUS DRIFT  prediction OK`);
    expect(watcher.stderr()).toMatch(
      /WARNING {2}drift\.events partition 0 offset \d+ skipped, not a readable DriftEvent \(MESSAGE_UNDECODABLE: /,
    );

    expect(await stopWatcher(watcher, 'SIGINT')).toBe(0);
    expect(watcher.stderr()).toContain('SIGINT: stopping');
    expect(watcher.stderr()).not.toMatch(/^error:/m);

    // From the beginning, as JSON: the event published before the first watcher started too.
    const replay = startCli('drift', 'watch', '--from-beginning', '--json', '--model', MODEL);
    watchers.push(replay);
    await waitUntil(() => replay.lines().length >= 3, 60_000, 'the replayed events');
    const replayed = replay.lines().map((line) => JSON.parse(line) as DriftEvent);
    expect(replayed.map((e) => e.eventId)).toEqual([
      before.eventId,
      change.eventId,
      status.eventId,
    ]);
    expect(replayed[1]).toEqual(change);
    expect(await stopWatcher(replay, 'SIGTERM')).toBe(0);
  });

  it('runs the queries of dashboards/drift.json as the read-only analyst', async () => {
    const dashboard = JSON.parse(
      readFileSync(join(REPO_ROOT, 'dashboards/drift.json'), 'utf8'),
    ) as {
      panels: { title: string; targets: { rawSql: string }[] }[];
      templating: { list: { name: string; query: string }[] };
    };
    const queries = [
      ...dashboard.templating.list.map((variable) => ({
        title: `variable ${variable.name}`,
        sql: variable.query,
      })),
      ...dashboard.panels.flatMap((panel) =>
        panel.targets.map((target) => ({ title: panel.title, sql: target.rawSql })),
      ),
    ];
    expect(queries.length).toBeGreaterThanOrEqual(9);
    // Grafana's expansion: the time range ("last 7 days"), the model, and the segment both
    // as a selection and as "All" ($__conditionalAll -> 1=1).
    const expand = (sql: string, allSegments: boolean) =>
      sql
        .replace(/\$__timeFilter\((\w+)\)/g, '$1 >= now() - INTERVAL 7 DAY AND $1 <= now()')
        .replace(/\$__conditionalAll\((.*), \$segment\)/g, allSegments ? '1=1' : '$1')
        .replace(/\$\{segment:singlequote\}/g, "'*', 'web'")
        .replace(/\$\{model:singlequote\}/g, `'${MODEL}'`)
        .replace(/\bsentiment\./g, `${database}.`);
    for (const query of queries) {
      for (const allSegments of [false, true]) {
        const sql = expand(query.sql, allSegments);
        expect(sql, query.title).not.toContain('$');
        const rows = await analystQuery(sql);
        expect(rows.length, `${query.title}: ${sql}`).toBeGreaterThan(0);
      }
    }
    const latest = dashboard.panels.find((panel) => panel.title.startsWith('Current state'))!;
    const rows = await analystQuery(expand(latest.targets[0]!.rawSql, true));
    expect(rows.map((row) => [row.model_version, row.segment, row.input_state])).toEqual([
      ['1', '*', 'DRIFT'],
      ['1', 'web', 'ERROR'],
      ['2', '*', 'INSUFFICIENT_DATA'],
    ]);
  });
});
