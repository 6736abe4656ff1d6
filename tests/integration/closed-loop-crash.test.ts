/**
 * Crashes in the closed loop (retrainer and promoter as separate processes, real ClickHouse
 * and Kafka; labelled IMDB predictions with real embeddings written to ClickHouse):
 *   - the retrainer SIGKILLed mid-training retrains that trigger once after its restart;
 *   - the promoter SIGKILLed after deciding (before its offset is committed: a test hook
 *     holds the commit) does not decide twice after its restart.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deployment, ModelCandidate, RetrainStatus } from '#platform/serde';
import { RegistryStore, createClickHouse } from '#platform/store';
import { embedTexts, imdbTexts, insertPredictions } from '../support/drift.ts';
import { type TestKafka, connectTestKafka, waitUntil } from '../support/kafka.ts';
import { Loop, runCli } from '../support/loop.ts';
import { startRunner } from '../support/runner.ts';
import { clickhouseUrl } from '../support/stack.ts';

const run = randomUUID().slice(0, 8);
const settings = {
  modelName: `sentiment-crash-${run}`,
  database: `crash_${run}`,
  artifactRoot: mkdtempSync(join(tmpdir(), 'artifacts-')),
  workDir: mkdtempSync(join(tmpdir(), 'retrainer-')),
  extra: { RETRAIN_MIN_LABELS: '300', PROMOTER_TEST_DELAY_AFTER_DECISION_MS: '8000' },
};

describe('closed loop under crashes', () => {
  const loop = new Loop(settings);
  let kafka: TestKafka;
  const stops: { stop(): Promise<void> }[] = [];
  const candidates: ModelCandidate[] = [];
  const deployments: Deployment[] = [];
  const statuses: RetrainStatus[] = [];
  const clickhouse = createClickHouse({
    clickhouseUrl: clickhouseUrl(),
    clickhouseUser: 'default',
    clickhousePassword: '',
    clickhouseDatabase: settings.database,
  });
  const store = new RegistryStore(clickhouse);
  let requestId = '';

  beforeAll(async () => {
    kafka = await connectTestKafka();
    for (const [topic, sink] of [
      ['models.candidates', candidates],
      ['models.deployments', deployments],
      ['retrain.status', statuses],
    ] as const) {
      const collector = startRunner(kafka, topic, async (events) => {
        for (const { event } of events) {
          if (event.modelName === settings.modelName) (sink as unknown[]).push(event);
        }
      });
      stops.push(collector.runner);
      await collector.started;
    }
    const bootstrap = await runCli(settings, 'registry', 'bootstrap');
    expect(bootstrap.code, bootstrap.stderr).toBe(0);
    const labelled = await embedTexts(imdbTexts(800, 20_000));
    await insertPredictions(clickhouse, {
      modelName: settings.modelName,
      modelVersion: '1',
      source: 'web',
      texts: labelled,
      startMs: Date.now() - 600_000,
      stepMs: 100,
    });
    await loop.start('retrainer');
    await loop.start('promoter');
    await loop.children.get('retrainer')!.waitFor('retrainer running', 90_000);
    await loop.children.get('promoter')!.waitFor('promoter running', 90_000);
  });

  afterAll(async () => {
    for (const stop of stops) await stop.stop();
    await loop.stopAll();
    await kafka?.close();
    await clickhouse
      .command({ query: `DROP DATABASE IF EXISTS ${settings.database}` })
      .catch(() => {});
    await clickhouse.close();
  });

  it(
    'a retrainer killed mid-training trains that request exactly once after restart',
    { timeout: 300_000 },
    async () => {
      const requested = await runCli(settings, 'retrain', '--reason', 'crash test', '--json');
      expect(requested.code, requested.stderr).toBe(0);
      requestId = (JSON.parse(requested.stdout) as { requestId: string }).requestId;
      await waitUntil(
        () => statuses.some((s) => s.triggerId === requestId && s.state === 'TRAINING'),
        120_000,
        'training to start',
      );
      await loop.stop('retrainer', 'SIGKILL');
      expect(await store.versions(settings.modelName)).toHaveLength(1); // nothing registered yet
      await loop.start('retrainer');
      await waitUntil(
        () => statuses.some((s) => s.triggerId === requestId && s.state === 'CANDIDATE'),
        240_000,
        'the candidate after the restart',
      );
      const versions = (await store.versions(settings.modelName)).filter(
        (v) => v.trainingData.triggerId === requestId,
      );
      expect(versions.map((v) => v.version)).toEqual(['2']);
      // Training started twice (killed, then once more), one candidate came out of it.
      expect(
        statuses.filter(
          (s) => s.triggerId === requestId && s.state === 'TRAINING' && s.progress === 0,
        ).length,
      ).toBe(2);
      // The status and the candidate travel on different topics to different collectors:
      // the CANDIDATE status can arrive first.
      const announced = () => candidates.filter((c) => c.requestId === requestId);
      await waitUntil(() => announced().length > 0, 30_000, 'the candidate announcement');
      expect(announced().map((c) => c.modelVersion)).toEqual(['2']);
    },
  );

  it('a promoter killed after deciding does not decide twice', { timeout: 240_000 }, async () => {
    const decisionRows = async () => {
      const result = await clickhouse.query({
        query: `SELECT decision, decision_id FROM promotion_log
                WHERE model_name = '${settings.modelName}' AND candidate_version = '2'
                  AND decision IN ('PROMOTED', 'BLOCKED', 'SHADOW')`,
        format: 'JSONEachRow',
      });
      return result.json<{ decision: string; decision_id: string }>();
    };
    // The hook holds the offset commit 8 s after the decision: kill inside that time.
    await waitUntil(async () => (await decisionRows()).length > 0, 180_000, 'the decision');
    await loop.stop('promoter', 'SIGKILL');
    const [first] = await decisionRows();
    const restarted = await loop.start('promoter');
    await restarted.waitFor('candidate already decided; not deciding again', 120_000);
    expect(await decisionRows()).toEqual([first]);
    // A candidate that passed the offline gate enters SHADOW (the live gate decides later,
    // on traffic this test does not send); one that did not is BLOCKED.
    if (first!.decision !== 'BLOCKED') {
      const ofVersion2 = () =>
        deployments.filter((d) => d.modelVersion === '2' || d.candidate?.modelVersion === '2');
      await waitUntil(() => ofVersion2().length > 0, 20_000, 'deployment');
      expect(new Set(ofVersion2().map((d) => d.eventId)).size).toBe(1);
    }
  });
});
