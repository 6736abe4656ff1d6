/**
 * infra/clickhouse/run.sh against Debian's clickhouse-server 18.16, through the same
 * @clickhouse/client the services use. The server gets its own temporary STACK_DIR and free
 * ports, so this file neither needs nor disturbs the development or test stack.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/stack.ts';

const execFileAsync = promisify(execFile);
const ANALYST_PASSWORD = 'analyst-test-secret';

/** A port nobody listens on right now (the OS picks it; released before the server binds). */
async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

interface ScriptResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

describe('local ClickHouse (infra/clickhouse/run.sh)', () => {
  let stackDir = '';
  let env: NodeJS.ProcessEnv = {};
  let url = '';
  let admin: ClickHouseClient;
  let analyst: ClickHouseClient;

  async function runScript(command: 'start' | 'stop' | 'status'): Promise<ScriptResult> {
    try {
      const { stdout, stderr } = await execFileAsync('bash', ['infra/clickhouse/run.sh', command], {
        cwd: REPO_ROOT,
        env,
        timeout: 90_000,
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code?: unknown; stdout?: string; stderr?: string };
      return {
        code: typeof failed.code === 'number' ? failed.code : -1,
        stdout: failed.stdout ?? '',
        stderr: failed.stderr ?? '',
      };
    }
  }

  async function start(): Promise<void> {
    const result = await runScript('start');
    if (result.code !== 0) throw new Error(`run.sh start failed:\n${result.stderr}`);
  }

  /** The message of the error `promise` rejects with ('' when it resolves). */
  async function failureOf(promise: Promise<unknown>): Promise<string> {
    try {
      await promise;
      return '';
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    }
  }

  beforeAll(async () => {
    stackDir = mkdtempSync(join(tmpdir(), 'clickhouse-local-test-'));
    const httpPort = await freePort();
    let tcpPort = await freePort();
    // The OS may hand out the same free port twice in a row.
    while (tcpPort === httpPort) tcpPort = await freePort();
    env = {
      ...process.env,
      STACK_DIR: stackDir,
      CLICKHOUSE_HTTP_PORT: String(httpPort),
      CLICKHOUSE_TCP_PORT: String(tcpPort),
      CLICKHOUSE_ANALYST_PASSWORD: ANALYST_PASSWORD,
    };
    url = `http://127.0.0.1:${httpPort}`;
    await start();
    // Options that matter on 18.16 are documented in infra/clickhouse/README.md; the defaults
    // of @clickhouse/client 1.x (no compression, no settings in the URL) are what it needs.
    admin = createClient({ url });
    analyst = createClient({
      url,
      username: 'analyst',
      password: ANALYST_PASSWORD,
      // Expected refusals below would otherwise be logged as client errors.
      log: { level: ClickHouseLogLevel.OFF },
    });
  });

  afterAll(async () => {
    await admin?.close();
    await analyst?.close();
    if (stackDir !== '') {
      await runScript('stop');
      rmSync(stackDir, { recursive: true, force: true });
    }
  });

  it('keeps everything under STACK_DIR and reports status', async () => {
    expect(existsSync(join(stackDir, 'clickhouse/data/metadata'))).toBe(true);
    expect(readFileSync(join(stackDir, 'clickhouse/url'), 'utf8').trim()).toBe(url);
    const config = readFileSync(join(stackDir, 'clickhouse/etc/config.xml'), 'utf8');
    expect(config).toContain('<listen_host>127.0.0.1</listen_host>');
    expect(config).not.toContain('interserver_http_port>');
    // The password itself never lands on disk, only its hash.
    expect(readFileSync(join(stackDir, 'clickhouse/etc/users.xml'), 'utf8')).not.toContain(
      ANALYST_PASSWORD,
    );
    const status = await runScript('status');
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^running/);
  });

  it('is idempotent: start while running is a no-op', async () => {
    const pid = readFileSync(join(stackDir, 'clickhouse/clickhouse-server.pid'), 'utf8');
    const again = await runScript('start');
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/already running/);
    expect(readFileSync(join(stackDir, 'clickhouse/clickhouse-server.pid'), 'utf8')).toBe(pid);
  });

  it('creates a table, inserts and selects rows through @clickhouse/client', async () => {
    expect((await admin.ping()).success).toBe(true);
    const version = await admin.query({ query: 'SELECT version() AS v', format: 'JSONEachRow' });
    expect((await version.json<{ v: string }>())[0]?.v).toMatch(/^\d+\./);

    await admin.command({ query: 'CREATE DATABASE IF NOT EXISTS sentiment' });
    await admin.command({
      query: `CREATE TABLE IF NOT EXISTS sentiment.probe (
        id UInt32, label String, at DateTime, embedding Array(Float32)
      ) ENGINE = MergeTree ORDER BY id`,
    });
    // format must be given: the client's default insert format (JSONCompactEachRow) does not
    // exist in 18.16.
    await admin.insert({
      table: 'sentiment.probe',
      format: 'JSONEachRow',
      values: [
        { id: 1, label: 'positive', at: '2024-05-01 12:00:00', embedding: [0.5, 0.25] },
        { id: 2, label: 'negative', at: '2024-05-01 12:00:01', embedding: [-1, 0] },
      ],
    });
    const result = await admin.query({
      query: 'SELECT id, label, at, embedding FROM sentiment.probe ORDER BY id',
      format: 'JSONEachRow',
    });
    expect(await result.json()).toEqual([
      { id: 1, label: 'positive', at: '2024-05-01 12:00:00', embedding: [0.5, 0.25] },
      { id: 2, label: 'negative', at: '2024-05-01 12:00:01', embedding: [-1, 0] },
    ]);
  });

  it('lets the analyst SELECT', async () => {
    const result = await analyst.query({
      query: 'SELECT count() AS n FROM sentiment.probe',
      format: 'JSONEachRow',
    });
    // UInt64 comes back as a JSON string (output_format_json_quote_64bit_integers = 1).
    expect(await result.json()).toEqual([{ n: '2' }]);
  });

  it('refuses the analyst writes, DDL and settings', async () => {
    const readonly = /Code: 164|readonly/i;
    expect(
      await failureOf(
        analyst.insert({
          table: 'sentiment.probe',
          format: 'JSONEachRow',
          values: [{ id: 3, label: 'x', at: '2024-05-01 12:00:02', embedding: [] }],
        }),
      ),
    ).toMatch(readonly);
    expect(
      await failureOf(
        analyst.command({ query: 'CREATE TABLE sentiment.t (x UInt8) ENGINE = Memory' }),
      ),
    ).toMatch(readonly);
    expect(await failureOf(analyst.command({ query: 'DROP TABLE sentiment.probe' }))).toMatch(
      readonly,
    );
    expect(await failureOf(analyst.command({ query: 'SET max_threads = 1' }))).toMatch(readonly);
    // Settings in the URL are refused the same way (readonly = 1, not 2).
    expect(
      await failureOf(
        analyst.query({ query: 'SELECT 1', clickhouse_settings: { max_threads: 1 } }),
      ),
    ).toMatch(readonly);
    // Nothing changed.
    const count = await admin.query({
      query: 'SELECT count() AS n FROM sentiment.probe',
      format: 'JSONEachRow',
    });
    expect(await count.json()).toEqual([{ n: '2' }]);
  });

  it('refuses a wrong analyst password', async () => {
    const intruder = createClient({
      url,
      username: 'analyst',
      password: 'wrong',
      log: { level: ClickHouseLogLevel.OFF },
    });
    try {
      expect(await failureOf(intruder.query({ query: 'SELECT 1' }))).toMatch(/password|Code: 193/i);
    } finally {
      await intruder.close();
    }
  });

  it('keeps data across stop and start', async () => {
    const stopped = await runScript('stop');
    expect(stopped.code).toBe(0);
    const status = await runScript('status');
    expect(status.code).toBe(3);
    expect(status.stdout.trim()).toBe('stopped');
    expect(existsSync(join(stackDir, 'clickhouse/clickhouse-server.pid'))).toBe(false);
    // A second stop is a no-op success.
    expect((await runScript('stop')).code).toBe(0);

    await start();
    const result = await admin.query({
      query: 'SELECT count() AS n FROM sentiment.probe',
      format: 'JSONEachRow',
    });
    expect(await result.json()).toEqual([{ n: '2' }]);
  });
});
