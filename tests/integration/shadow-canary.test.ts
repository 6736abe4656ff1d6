/**
 * Live trials end to end (issue 15) on the local stack, every service a separate process
 * (inference, logger, promoter, gateway), real Kafka, ClickHouse and schema registry:
 *
 *   1. a candidate better on live labelled traffic goes SHADOW -> PROMOTED on live evidence;
 *   2. a candidate better offline (its holdout set) but worse on live labelled traffic is
 *      BLOCKED in shadow;
 *   3. a candidate that passes shadow serves a CANARY share; when its live F1 drops, the
 *      promoter rolls it back on its own.
 * Throughout: no review or request is answered by a version the registry had not put in an
 * answering role (production or canary) by then, shadow answers never reach `predictions`,
 * and no review is scored twice in `predictions`.
 *
 * Candidates are the test model with its head's bias moved (tests/support/candidates.ts):
 * they disagree with production on the texts near the boundary. Which version live labels
 * favour is the test's choice (the labels are the reviews' ground truth): that is how "better
 * offline but worse live" is made. Their golden-set F1 drops with the bias, so the offline
 * gate's golden guardrail is relaxed here and the holdout set decides it.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabelledText } from '#domain/model';
import { routesToCanary } from '#domain/scoring';
import type { Deployment, Prediction, Review } from '#platform/serde';
import { type DecisionRecord, RegistryStore, createClickHouse, servingPlan } from '#platform/store';
import { biasedCandidate, predictedClasses, writeHoldout } from '../support/candidates.ts';
import { inDomainTexts } from '../support/drift.ts';
import { type TestKafka, connectTestKafka, waitUntil } from '../support/kafka.ts';
import { COMPACT_MODEL_DIR } from '../support/model.ts';
import { Loop, runCli } from '../support/loop.ts';
import { startRunner } from '../support/runner.ts';
import { clickhouseUrl } from '../support/stack.ts';

const run = randomUUID().slice(0, 8);
const scratch = mkdtempSync(join(tmpdir(), 'live-trials-'));
const settings = {
  modelName: `sentiment-live-${run}`,
  database: `live_${run}`,
  artifactRoot: mkdtempSync(join(tmpdir(), 'artifacts-')),
  workDir: mkdtempSync(join(tmpdir(), 'retrainer-')),
  extra: {
    // The live gates with small minimums (the feed is ~100 reviews/s, 70 % labelled).
    SHADOW_MIN_EVENTS: '300',
    SHADOW_MIN_LABELLED: '150',
    // Large enough that the test turns the labels (below) before the canary gate can judge.
    CANARY_MIN_LABELLED: '300',
    LIVE_TRIAL_POLL_MS: '1000',
    // The synthetic candidates lose golden F1 with their bias: the holdout decides offline.
    PROMOTION_GOLDEN_GUARDRAIL: '0.3',
  },
};
const CANARY_SHARE = 0.3;
/** Texts of the live feed; the offline holdout sets come from other texts. */
const LIVE = inDomainTexts(2600);
const liveTexts = LIVE.slice(0, 1600).map((row) => row.text);
const holdoutPool = LIVE.slice(1600).map((row) => row.text);

type Classes = number[];

describe('live trials: shadow -> promoted or blocked, canary -> rolled back', () => {
  const loop = new Loop(settings);
  let kafka: TestKafka;
  const stops: { stop(): Promise<void> }[] = [];
  const served: Prediction[] = [];
  const shadow: Prediction[] = [];
  const deployments: Deployment[] = [];
  const syncAnswers: { version: string; atMs: number }[] = [];
  const clickhouse = createClickHouse({
    clickhouseUrl: clickhouseUrl(),
    clickhouseUser: 'default',
    clickhousePassword: '',
    clickhouseDatabase: settings.database,
  });
  const store = new RegistryStore(clickhouse);
  /** The ground truth each live text gets now (null: published unlabelled). */
  let labelOf: (textIndex: number, reviewId: string) => number | null = () => null;
  let sent = 0;
  const predictions = new Map<string, Classes>();

  const decisions = () => store.decisions(settings.modelName);
  const decided = async (version: string, decision: DecisionRecord['decision']) =>
    (await decisions()).find((d) => d.candidateVersion === version && d.decision === decision);

  /**
   * A candidate `version` from the test model with `shift`, registered with the CLI and
   * announced on models.candidates. Its holdout set favours it over `production`: the texts
   * where the two disagree labelled as the candidate predicts, as many where they agree.
   */
  async function announceCandidate(version: string, shift: number, production: Classes) {
    const folder = biasedCandidate(COMPACT_MODEL_DIR, join(scratch, `v${version}`), version, shift);
    const own = await predictedClasses(folder, holdoutPool);
    const disagree = holdoutPool.flatMap((text, i) =>
      own[i] !== production[i] ? [{ text, label: own[i]! }] : [],
    );
    const agree = holdoutPool
      .flatMap((text, i) => (own[i] === production[i] ? [{ text, label: own[i]! }] : []))
      .slice(0, disagree.length);
    const holdout: LabelledText[] = [...disagree, ...agree];
    expect(disagree.length).toBeGreaterThan(30);
    writeHoldout(folder, holdout);
    predictions.set(version, await predictedClasses(folder, liveTexts));
    const registered = await runCli(
      settings,
      'registry',
      'register',
      folder,
      '--version',
      version,
      '--parent',
      '1',
    );
    expect(registered.code, registered.stderr).toBe(0);
    const record = (await store.version(settings.modelName, version))!;
    await kafka.producer.send('models.candidates', [
      {
        key: version,
        value: {
          eventId: randomUUID(),
          eventTime: Date.now(),
          modelName: settings.modelName,
          modelVersion: version,
          parentVersion: '1',
          artifactUri: record.artifactUri,
          artifactSha256: record.artifactSha256,
          metrics: {},
          requestId: null,
          episodeId: null,
        },
      },
    ]);
    return own;
  }

  /** Labels every live review (70 % of them) as `version` predicts its text. */
  function labelLike(version: string) {
    const classes = predictions.get(version)!;
    labelOf = (index) => (Math.random() < 0.7 ? classes[index]! : null);
  }

  function review(index: number): Review {
    const reviewId = `${run}-${sent++}`;
    const label = labelOf(index, reviewId);
    return {
      eventId: randomUUID(),
      eventTime: Date.now(),
      reviewId,
      source: 'web',
      text: liveTexts[index]!,
      groundTruth: label === null ? null : label === 1 ? 'POSITIVE' : 'NEGATIVE',
      attributes: {},
    };
  }

  /** ~100 reviews/s to Kafka and ~4 sync requests/s to the gateway until the test ends. */
  function startTraffic(): void {
    let running = true;
    let cursor = 0;
    const reviews = (async () => {
      while (running) {
        const batch = Array.from({ length: 25 }, () => review(cursor++ % liveTexts.length));
        await kafka.producer.send(
          'reviews',
          batch.map((value) => ({ key: value.reviewId, value })),
        );
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    })();
    const requests = (async () => {
      while (running) {
        const texts = [
          liveTexts[cursor % liveTexts.length]!,
          liveTexts[(cursor + 7) % liveTexts.length]!,
        ];
        const response = await fetch(`${loop.gatewayUrl}/v1/predict`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ texts }),
        }).catch(() => undefined);
        if (response?.ok) {
          const body = (await response.json()) as { model: { version: string } };
          syncAnswers.push({ version: body.model.version, atMs: Date.now() });
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    })();
    stops.push({
      stop: async () => {
        running = false;
        await Promise.all([reviews, requests]);
      },
    });
  }

  beforeAll(async () => {
    kafka = await connectTestKafka();
    const mine = (modelName: string) => modelName === settings.modelName;
    const collectors = [
      startRunner(kafka, 'predictions', async (events) => {
        for (const { event } of events) if (mine(event.modelName)) served.push(event);
      }),
      startRunner(kafka, 'predictions.shadow', async (events) => {
        for (const { event } of events) if (mine(event.modelName)) shadow.push(event);
      }),
      startRunner(kafka, 'models.deployments', async (events) => {
        for (const { event } of events) if (mine(event.modelName)) deployments.push(event);
      }),
    ];
    for (const collector of collectors) stops.push(collector.runner);
    await Promise.all(collectors.map((collector) => collector.started));

    const bootstrap = await runCli(settings, 'registry', 'bootstrap');
    expect(bootstrap.code, bootstrap.stderr).toBe(0);
    predictions.set('1', await predictedClasses(COMPACT_MODEL_DIR, liveTexts));
    await Promise.all(
      (['inference', 'logger', 'promoter', 'gateway'] as const).map((service) =>
        loop.start(service),
      ),
    );
    await loop.children.get('promoter')!.waitFor('promoter running', 90_000);
    await waitUntil(async () => (await loop.gatewayVersion()) === '1', 90_000, 'gateway on 1');
    startTraffic();
    await waitUntil(() => served.length > 200, 60_000, 'served predictions of version 1');
  }, 300_000);

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
    'promotes a candidate that is better on live labelled traffic: SHADOW -> PROMOTED',
    { timeout: 400_000 },
    async () => {
      await announceCandidate('2', 1.5, await predictedClasses(COMPACT_MODEL_DIR, holdoutPool));
      labelLike('2');
      await waitUntil(async () => (await decided('2', 'SHADOW')) !== undefined, 120_000, 'SHADOW');
      const entered = (await decided('2', 'SHADOW'))!;
      expect(entered.actor).toBe('promoter');
      expect(entered.reason).toMatch(/^passed the offline gate, live trial in shadow: /);
      await waitUntil(() => shadow.length > 100, 60_000, 'shadow predictions of version 2');

      await waitUntil(
        async () => (await decided('2', 'PROMOTED')) !== undefined,
        180_000,
        'PROMOTED on live evidence',
      );
      const promoted = (await decided('2', 'PROMOTED'))!;
      console.log(`PROMOTED 2: ${promoted.reason}`);
      expect(promoted.reason).toMatch(/^promoted on live evidence: live F1 /);
      expect(promoted.productionBefore).toBe('1');
      const live = promoted.details['live'] as Record<string, number>;
      expect(live['labelledEvents']).toBeGreaterThanOrEqual(150);
      expect(live['shadowEvents']).toBeGreaterThanOrEqual(300);
      expect(live['candidateF1']).toBeGreaterThan(live['productionF1']!);
      expect(promoted.details['offline']).toMatchObject({ productionVersion: '1' });

      // Shadow rows joined to production's in ClickHouse, with labels.
      const result = await clickhouse.query({
        query: `SELECT count() AS n, countIf(isNotNull(p.ground_truth)) AS labelled
        FROM (SELECT shadow_of AS pair_id FROM predictions WHERE model_version = '2' AND origin = 'SHADOW') AS s
        ANY INNER JOIN (SELECT event_id AS pair_id, ground_truth FROM predictions WHERE model_version = '1' AND origin != 'SHADOW') AS p
        USING (pair_id)`,
        format: 'JSONEachRow',
      });
      const [pairs] = await result.json<{ n: string; labelled: string }>();
      expect(Number(pairs!.n)).toBeGreaterThanOrEqual(300);
      expect(Number(pairs!.labelled)).toBeGreaterThanOrEqual(150);

      await waitUntil(async () => (await loop.gatewayVersion()) === '2', 60_000, 'gateway on 2');
      await waitUntil(() => served.at(-1)?.modelVersion === '2', 60_000, 'stream on 2');
    },
  );

  it(
    'blocks in shadow a candidate better offline but worse on live labelled traffic',
    { timeout: 400_000 },
    async () => {
      const production = await predictedClasses(join(scratch, 'v2'), holdoutPool);
      await announceCandidate('3', -1.5, production);
      // Live labels agree with production (version 2): the candidate loses live.
      labelLike('2');
      await waitUntil(async () => (await decided('3', 'SHADOW')) !== undefined, 120_000, 'SHADOW');
      const offline = (await decided('3', 'SHADOW'))!;
      expect(offline.reason).toMatch(/at least as good as production/);
      await waitUntil(
        async () => (await decided('3', 'BLOCKED')) !== undefined,
        180_000,
        'BLOCKED in shadow',
      );
      const blocked = (await decided('3', 'BLOCKED'))!;
      console.log(`BLOCKED 3: ${blocked.reason}`);
      expect(blocked.reason).toMatch(/^blocked in shadow: live F1 .* lies below -0\.020/);
      expect(blocked.actor).toBe('promoter');
      expect((await store.version(settings.modelName, '3'))!.status).toBe('BLOCKED');
      expect(servingPlan(await decisions())).toMatchObject({ production: '2', candidate: null });
      // The serving processes drop the candidate: its shadow predictions stop.
      // The plan is published right after the decision is logged.
      const blockDeployment = () =>
        deployments.find((d) => d.action === 'BLOCK' && d.candidate === null);
      await waitUntil(() => blockDeployment() !== undefined, 30_000, 'the BLOCK deployment');
      expect(blockDeployment()!.modelVersion).toBe('2');
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      const count = shadow.filter((p) => p.modelVersion === '3').length;
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      expect(shadow.filter((p) => p.modelVersion === '3').length).toBe(count);
    },
  );

  it('rolls back on its own a canary whose live F1 drops', { timeout: 500_000 }, async () => {
    await loop.stop('promoter');
    await loop.start('promoter', { CANARY_TRAFFIC_SHARE: String(CANARY_SHARE) });
    await loop.children.get('promoter')!.waitFor('promoter running', 90_000);
    const production = await predictedClasses(join(scratch, 'v2'), holdoutPool);
    await announceCandidate('4', 3, production);
    labelLike('4');
    await waitUntil(async () => (await decided('4', 'CANARY')) !== undefined, 240_000, 'CANARY');
    // Its live F1 drops: from now on the labels agree with production.
    labelLike('2');
    const dropAt = Date.now();
    const canary = (await decided('4', 'CANARY'))!;
    console.log(`CANARY 4: ${canary.reason}`);
    expect(canary.details['trafficShare']).toBe(CANARY_SHARE);
    await waitUntil(() => served.some((p) => p.modelVersion === '4'), 60_000, 'canary answers');
    await waitUntil(
      async () => (await decided('4', 'ROLLED_BACK')) !== undefined,
      240_000,
      'canary rolled back',
    );
    const rolledBack = (await decided('4', 'ROLLED_BACK'))!;
    console.log(`ROLLED_BACK 4: ${rolledBack.reason}`);
    expect(rolledBack.actor).toBe('promoter');
    expect(rolledBack.reason).toMatch(/^canary rolled back: live F1 dropped: canary live F1 /);
    expect(rolledBack).toMatchObject({ productionBefore: '2', productionAfter: '2' });
    expect(rolledBack.timeMs).toBeGreaterThan(dropAt);
    expect(servingPlan(await decisions())).toMatchObject({ production: '2', candidate: null });

    // The canary answered its share by review id, and only while it was a canary.
    const canaryAnswers = served.filter((p) => p.modelVersion === '4' && p.origin === 'STREAM');
    expect(canaryAnswers.length).toBeGreaterThan(0);
    for (const p of canaryAnswers) expect(routesToCanary(p.reviewId, CANARY_SHARE)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 8_000));
    const after = served.filter((p) => p.modelVersion === '4' && p.scoredAt! > Date.now() - 4_000);
    expect(after).toHaveLength(0);
  });

  it('answered every review and request only by a version in an answering role, and each review once', async () => {
    const log = await decisions();
    /** When a version first got an answering role (production or canary). */
    const answeringSince = new Map<string, number>([['1', 0]]);
    for (const d of log) {
      if (
        (d.decision === 'PROMOTED' || d.decision === 'CANARY') &&
        !answeringSince.has(d.candidateVersion)
      ) {
        answeringSince.set(d.candidateVersion, d.timeMs);
      }
    }
    const shadowSince = new Map(
      log.filter((d) => d.decision === 'SHADOW').map((d) => [d.candidateVersion, d.timeMs]),
    );
    expect(served.length).toBeGreaterThan(1000);
    for (const p of served) {
      expect(p.origin).not.toBe('SHADOW');
      expect(p.shadowOf).toBeNull();
      const since = answeringSince.get(p.modelVersion);
      expect(since, `version ${p.modelVersion} answered review ${p.reviewId}`).toBeDefined();
      expect(p.scoredAt!).toBeGreaterThanOrEqual(since!);
    }
    expect(new Set(served.map((p) => p.modelVersion))).toEqual(new Set(['1', '2', '4']));
    for (const answer of syncAnswers) {
      const since = answeringSince.get(answer.version);
      expect(since, `sync answer by ${answer.version}`).toBeDefined();
      expect(answer.atMs).toBeGreaterThanOrEqual(since!);
    }
    expect(new Set(syncAnswers.map((a) => a.version)).has('3')).toBe(false);
    // Shadow answers: only versions the registry put in SHADOW, after it did, each paired.
    expect(shadow.length).toBeGreaterThan(0);
    const servedIds = new Set(served.map((p) => p.eventId));
    for (const p of shadow) {
      expect(p.origin).toBe('SHADOW');
      expect(p.scoredAt!).toBeGreaterThanOrEqual(shadowSince.get(p.modelVersion)!);
      expect(servedIds.has(p.shadowOf!)).toBe(true);
    }
    // One served answer per review: redeliveries repeat the same prediction, never another.
    const byReview = new Map<string, Set<string>>();
    for (const p of served) {
      const ids = byReview.get(p.reviewId) ?? new Set<string>();
      ids.add(`${p.modelVersion}/${p.eventId}`);
      byReview.set(p.reviewId, ids);
    }
    const twice = [...byReview].filter(([, ids]) => ids.size > 1);
    expect(twice).toEqual([]);
  });
});
