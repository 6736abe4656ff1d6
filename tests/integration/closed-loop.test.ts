/**
 * The closed loop end to end on the full local stack, every service a separate process:
 * in-domain traffic (no drift) -> shifted-domain (IMDB) traffic carrying labels -> DRIFT ->
 * retraining -> candidate -> SHADOW (offline gate passed) -> PROMOTED on live evidence (the
 * shadow gate, defaults 500 shadow events / 200 labelled) -> new predictions carry the new version on both
 * prediction paths -> drift back to OK against the new version's reference. Then a candidate
 * trained on shuffled labels is BLOCKED, and a rollback restores the previous version.
 *
 * It runs the test stack's compact model (models/sentiment-compact), on which retraining the
 * head on logged embeddings gains 8 F1 points on IMDB. With the production model (MiniLM) the
 * same loop runs end to end (README "Closed loop") but a head retrained on about a thousand
 * labels does not improve IMDB F1 (measured -0.6 points), and no retraining above a frozen
 * lower encoder reaches issue 11's "+3 points" (the whole last block: +1.8, README).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  GOLDEN_SET_PATH,
  SentimentEngine,
  artifactFolder,
  evaluate,
  readLabelledTsv,
} from '#domain/model';
import type {
  Deployment,
  DriftEvent,
  ModelCandidate,
  Prediction,
  RetrainStatus,
  Review,
} from '#platform/serde';
import { RegistryStore, createClickHouse } from '#platform/store';
import { imdbTexts, inDomainTexts } from '../support/drift.ts';
import { type TestKafka, connectTestKafka, waitUntil } from '../support/kafka.ts';
import { COMPACT_MODEL_DIR } from '../support/model.ts';
import { Loop, runCli } from '../support/loop.ts';
import { startRunner } from '../support/runner.ts';
import { REPO_ROOT, clickhouseUrl } from '../support/stack.ts';

const run = randomUUID().slice(0, 8);
const settings = {
  modelName: `sentiment-loop-${run}`,
  database: `loop_${run}`,
  artifactRoot: mkdtempSync(join(tmpdir(), 'artifacts-')),
  workDir: mkdtempSync(join(tmpdir(), 'retrainer-')),
};
const STREAMED_IMDB = 6000;

describe('closed loop: drift -> retrain -> gated promotion -> serving -> drift OK', () => {
  const loop = new Loop(settings);
  let kafka: TestKafka;
  const stops: { stop(): Promise<void> }[] = [];
  const drift: DriftEvent[] = [];
  const candidates: ModelCandidate[] = [];
  const deployments: Deployment[] = [];
  const statuses: RetrainStatus[] = [];
  const versionsSeen = new Map<string, number>();
  let latestPrediction: Prediction | undefined;
  const clickhouse = createClickHouse({
    clickhouseUrl: clickhouseUrl(),
    clickhouseUser: 'default',
    clickhousePassword: '',
    clickhouseDatabase: settings.database,
  });
  const store = new RegistryStore(clickhouse);
  let feeding: Promise<void> | undefined;
  let feed: { texts: { text: string; label: number }[]; source: string } | null = null;
  let sent = 0;

  function review(text: string, label: number, source: string): Review {
    const reviewId = `${run}-${sent++}`;
    return {
      eventId: randomUUID(),
      eventTime: Date.now(),
      reviewId,
      source,
      text,
      groundTruth: label === 1 ? 'POSITIVE' : 'NEGATIVE',
      attributes: {},
    };
  }

  /** Streams the current feed at about 100 reviews/s, cycling through its texts. */
  function startFeeding(): void {
    let cursor = 0;
    let running = true;
    feeding = (async () => {
      while (running) {
        const current = feed;
        if (current) {
          const batch = Array.from({ length: 25 }, () => {
            const row = current.texts[cursor++ % current.texts.length]!;
            return review(row.text, row.label, current.source);
          });
          await kafka.producer.send(
            'reviews',
            batch.map((value) => ({ key: value.reviewId, value })),
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    })();
    stops.push({
      stop: async () => {
        running = false;
        await feeding;
      },
    });
  }

  const driftChange = (version: string, state: string) =>
    drift.find(
      (e) =>
        e.modelVersion === version &&
        e.segment === '*' &&
        (e.kind === 'STATE_CHANGE' || e.kind === 'STATUS') &&
        e.state === state,
    );

  beforeAll(async () => {
    kafka = await connectTestKafka();
    const collect = <T>(
      topic: 'drift.events' | 'models.candidates' | 'models.deployments' | 'retrain.status',
      sink: T[],
    ) => {
      const collector = startRunner(kafka, topic, async (events) => {
        for (const { event } of events) {
          if ((event as { modelName: string }).modelName === settings.modelName) {
            sink.push(event as T);
          }
        }
      });
      stops.push(collector.runner);
      return collector.started;
    };
    const predictions = startRunner(kafka, 'predictions', async (events) => {
      for (const { event } of events) {
        if (!event.reviewId.startsWith(run)) continue;
        versionsSeen.set(event.modelVersion, (versionsSeen.get(event.modelVersion) ?? 0) + 1);
        latestPrediction = event;
      }
    });
    stops.push(predictions.runner);
    await Promise.all([
      collect('drift.events', drift),
      collect('models.candidates', candidates),
      collect('models.deployments', deployments),
      collect('retrain.status', statuses),
      predictions.started,
    ]);

    const bootstrap = await runCli(settings, 'registry', 'bootstrap');
    expect(bootstrap.code, bootstrap.stderr).toBe(0);
    // The retrainer keeps its default minimum of 1,000 labels (docs/retraining.md): with 500
    // a draw can gain under 2 F1 points, or early stopping can keep the parent's head.
    await Promise.all(
      (['inference', 'logger', 'drift', 'retrainer', 'promoter', 'gateway'] as const).map(
        (service) => loop.start(service),
      ),
    );
    await loop.children.get('drift')!.waitFor('drift detector active', 90_000);
    await loop.children.get('retrainer')!.waitFor('retrainer running', 90_000);
    await loop.children.get('promoter')!.waitFor('promoter running', 90_000);
    await waitUntil(async () => (await loop.gatewayVersion()) === '1', 90_000, 'gateway on 1');
    startFeeding();
  });

  afterAll(async () => {
    for (const stop of stops.reverse()) await stop.stop();
    await loop.stopAll();
    await kafka?.close();
    await clickhouse
      .command({ query: `DROP DATABASE IF EXISTS ${settings.database}` })
      .catch(() => {});
    await clickhouse.close();
  });

  it(
    'detects the shift, retrains, promotes, serves the new version, and drift returns to OK',
    { timeout: 1_200_000 },
    async () => {
      const timeline: string[] = [];
      const started = Date.now();
      const mark = (what: string) =>
        timeline.push(`${((Date.now() - started) / 1000).toFixed(1)} s  ${what}`);

      feed = { texts: inDomainTexts(4000), source: 'web' };
      // Version 1's thresholds ship with the model folder (drift-calibration.json), so the
      // first round comes once W predictions are stored; a calibration at the first round took
      // 145 s here and 216 s in a CI run.
      await waitUntil(
        () => driftChange('1', 'OK') !== undefined,
        420_000,
        'in-domain traffic judged OK',
      );
      mark('in-domain traffic: drift OK');
      expect(drift.some((e) => e.state === 'DRIFT')).toBe(false);

      feed = { texts: imdbTexts(STREAMED_IMDB), source: 'web' };
      mark('switched to IMDB reviews (labelled)');
      await waitUntil(() => driftChange('1', 'DRIFT') !== undefined, 120_000, 'DRIFT');
      const episode = driftChange('1', 'DRIFT')!;
      mark(`DRIFT (episode ${episode.episodeId})`);
      expect(episode.episodeId).toBeTruthy();

      // 132 s on an idle machine; 364 s in a CI run (2026-12-01) where the candidate's drift
      // calibration ran beside six services, three Kafka nodes and the 100 reviews/s feed.
      await waitUntil(() => candidates.length > 0, 600_000, 'a candidate');
      const candidate = candidates[0]!;
      mark(
        `candidate ${candidate.modelVersion} (holdout F1 ${candidate.metrics.holdout_f1?.toFixed(4)})`,
      );
      expect(candidate).toMatchObject({ parentVersion: '1', episodeId: episode.episodeId });

      // The candidate goes through SHADOW first: loaded by both serving processes, then 500
      // shadow-scored events of which 200 labelled (the defaults), assessed every 2 s.
      await waitUntil(
        () => deployments.some((d) => d.modelVersion === candidate.modelVersion),
        300_000,
        'the promotion deployment',
      );
      mark(`PROMOTED ${candidate.modelVersion}`);
      await waitUntil(
        () => latestPrediction?.modelVersion === candidate.modelVersion,
        60_000,
        'stream predictions by the new version',
      );
      await waitUntil(
        async () => (await loop.gatewayVersion()) === candidate.modelVersion,
        60_000,
        'the gateway on the new version',
      );
      mark('both prediction paths serve the new version');
      await waitUntil(
        () => driftChange(candidate.modelVersion, 'OK') !== undefined,
        180_000,
        'drift OK against the new reference',
      );
      mark('drift OK against the new version');
      console.log(timeline.join('\n'));

      // One candidate for the episode (a redelivered trigger announces the same one again,
      // with the same event id), one decision, logged with both scores.
      const forEpisode = candidates.filter((c) => c.episodeId === episode.episodeId);
      expect(new Set(forEpisode.map((c) => c.modelVersion))).toEqual(
        new Set([candidate.modelVersion]),
      );
      expect(new Set(forEpisode.map((c) => c.eventId)).size).toBe(1);
      const log = await store.decisions(settings.modelName);
      const promoted = log.filter(
        (d) => d.decision === 'PROMOTED' && d.candidateVersion === candidate.modelVersion,
      );
      expect(promoted).toHaveLength(1);
      expect(promoted[0]).toMatchObject({ actor: 'promoter', productionBefore: '1' });
      expect(promoted[0]!.candidateScore).toBeGreaterThanOrEqual(promoted[0]!.productionScore!);
      const record = (await store.version(settings.modelName, candidate.modelVersion))!;
      expect(record.parentVersion).toBe('1');
      expect(record.trainingData).toMatchObject({ episodeId: episode.episodeId, kind: 'DRIFT' });
      expect(record.driftThreshold).toBeGreaterThan(0.5);

      // Quality on shifted-domain data the loop never saw, and on the golden set.
      const test = imdbTexts(1000, STREAMED_IMDB);
      const golden = readLabelledTsv(join(REPO_ROOT, GOLDEN_SET_PATH));
      const score = async (folder: string) => {
        const engine = await SentimentEngine.load(folder);
        try {
          return {
            imdb: await evaluate((texts) => engine.score(texts), test),
            sst2: await evaluate((texts) => engine.score(texts), golden),
          };
        } finally {
          await engine.release();
        }
      };
      const before = await score(COMPACT_MODEL_DIR);
      const after = await score(artifactFolder(record.artifactUri, REPO_ROOT));
      console.log(
        `held-out IMDB F1 ${before.imdb.f1.toFixed(4)} -> ${after.imdb.f1.toFixed(4)} ` +
          `(+${((after.imdb.f1 - before.imdb.f1) * 100).toFixed(1)} points); SST-2 dev F1 ` +
          `${before.sst2.f1.toFixed(4)} -> ${after.sst2.f1.toFixed(4)}`,
      );
      expect(after.imdb.f1 - before.imdb.f1).toBeGreaterThanOrEqual(0.03);
      expect(before.sst2.f1 - after.sst2.f1).toBeLessThanOrEqual(0.02);
    },
  );

  it(
    'blocks a candidate trained on shuffled labels; production and serving stay',
    { timeout: 900_000 },
    async () => {
      const production = (await store.decisions(settings.modelName))
        .filter((d) => d.decision === 'PROMOTED')
        .at(-1)!.candidateVersion;
      const requested = await runCli(
        settings,
        'retrain',
        '--reason',
        'test hook: shuffled labels',
        '--shuffle-labels',
        '--json',
      );
      expect(requested.code, requested.stderr).toBe(0);
      const { requestId } = JSON.parse(requested.stdout) as { requestId: string };
      await waitUntil(
        () => statuses.some((s) => s.triggerId === requestId && s.state === 'CANDIDATE'),
        // Training takes seconds to minutes (all labelled rows since the test began); registering
        // the version calibrates its drift thresholds (150-165 s with six services on two
        // cores, measured 2026-12-01).
        600_000,
        'the shuffled-label candidate',
      );
      const version = statuses.find(
        (s) => s.triggerId === requestId && s.state === 'CANDIDATE',
      )!.candidateVersion!;
      await waitUntil(
        async () =>
          (await store.decisions(settings.modelName)).some(
            (d) => d.candidateVersion === version && d.decision === 'BLOCKED',
          ),
        180_000,
        'the BLOCKED decision',
      );
      const blocked = (await store.decisions(settings.modelName)).find(
        (d) => d.candidateVersion === version && d.decision === 'BLOCKED',
      )!;
      console.log(`BLOCKED ${version}: ${blocked.reason}`);
      expect(blocked.reason).toMatch(/not better than production|guardrail/);
      expect((await store.version(settings.modelName, version))!.status).toBe('BLOCKED');
      expect(deployments.some((d) => d.modelVersion === version)).toBe(false);
      expect(await loop.gatewayVersion()).toBe(production);
      await waitUntil(
        () => latestPrediction?.modelVersion === production,
        30_000,
        'stream on production',
      );
    },
  );

  it(
    'a rollback after the promotion restores the previous version on both prediction paths',
    { timeout: 120_000 },
    async () => {
      const rolledBack = await runCli(
        settings,
        'registry',
        'rollback',
        '--reason',
        'closed-loop test',
      );
      expect(rolledBack.code, rolledBack.stderr).toBe(0);
      const started = Date.now();
      await waitUntil(
        async () => (await loop.gatewayVersion()) === '1' && latestPrediction?.modelVersion === '1',
        // The registry test holds the 10 s bound on a quiet stack; here six services share
        // two cores with the traffic.
        30_000,
        'both paths back on version 1',
      );
      console.log(`rollback reached both paths in ${Date.now() - started} ms`);
    },
  );
});
