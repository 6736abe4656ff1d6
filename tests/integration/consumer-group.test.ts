import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestKafka, connectTestKafka, makeReview, waitUntil } from '../support/kafka.ts';
import { type Child, startTsProcess, stopProcess } from '../support/processes.ts';
import { testStackProcessEnv } from '../support/stack.ts';

const MEMBER = 'tests/fixtures/group-member.ts';

function processedIds(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

// One batch at a time per partition (every consumer's default), and pipelined (the logger's:
// several batches of a partition in flight, offsets committed in order).
describe.each([1, 3])(
  'consumer group (%i batches in flight per partition): two members, one SIGKILLed mid-stream',
  (batchesInFlight) => {
    let kafka: TestKafka;
    const children: Child[] = [];
    const dir = mkdtempSync(join(tmpdir(), 'consumer-group-'));
    const groupId = `test-group-${randomUUID()}`;

    function member(name: string, prefix: string, batchDelayMs: number): Child {
      const child = startTsProcess(
        MEMBER,
        testStackProcessEnv({
          GROUP_ID: groupId,
          OUT_FILE: join(dir, `${name}.txt`),
          RUN_PREFIX: prefix,
          BATCH_DELAY_MS: String(batchDelayMs),
          BATCHES_IN_FLIGHT: String(batchesInFlight),
        }),
      );
      children.push(child);
      return child;
    }

    async function produce(prefix: string, from: number, to: number): Promise<string[]> {
      const ids: string[] = [];
      for (let start = from; start < to; start += 100) {
        const batch = Array.from(
          { length: Math.min(100, to - start) },
          (_, i) => `${prefix}-${start + i}`,
        );
        await kafka.producer.send(
          'reviews',
          batch.map((id) => ({ key: id, value: makeReview(id) })),
        );
        ids.push(...batch);
      }
      return ids;
    }

    beforeAll(async () => {
      kafka = await connectTestKafka();
    });
    afterAll(async () => {
      for (const child of children) await stopProcess(child, 'SIGKILL');
      await kafka?.close();
    });

    it('processes every message at least once, skips none, and resumes from committed offsets', async () => {
      const prefix = `cg-${randomUUID().slice(0, 8)}`;
      const a = member('a', prefix, 40);
      const b = member('b', prefix, 40);
      await Promise.all([a.waitFor('started', 60_000), b.waitFor('started', 60_000)]);

      const total = 3_000;
      const firstHalf = await produce(prefix, 0, total / 2);
      // Kill A once it has done part of the work, not at a moment of its choosing.
      await waitUntil(
        () => processedIds(join(dir, 'a.txt')).length >= 200,
        120_000,
        'member A to make progress',
      );
      a.process.kill('SIGKILL');
      await a.exited;
      const secondHalf = await produce(prefix, total / 2, total);
      const sent = [...firstHalf, ...secondHalf];

      const seen = () =>
        new Set([...processedIds(join(dir, 'a.txt')), ...processedIds(join(dir, 'b.txt'))]);
      await waitUntil(
        () => sent.every((id) => seen().has(id)),
        120_000,
        'member B to cover all partitions',
      );
      const all = [...processedIds(join(dir, 'a.txt')), ...processedIds(join(dir, 'b.txt'))];
      const missing = sent.filter((id) => !seen().has(id));
      expect(missing).toEqual([]);
      // At-least-once: redelivery after the kill is allowed, loss is not.
      expect(all.length).toBeGreaterThanOrEqual(total);
      expect(processedIds(join(dir, 'b.txt')).length).toBeGreaterThan(0);

      // Graceful stop commits; a restarted group resumes after the committed offsets.
      await stopProcess(b, 'SIGTERM');
      expect(b.process.exitCode).toBe(0);
      const later = await produce(`${prefix}-later`, 0, 300);
      const c = member('c', prefix, 0);
      await c.waitFor('started', 60_000);
      await waitUntil(
        () => later.every((id) => processedIds(join(dir, 'c.txt')).includes(id)),
        120_000,
        'restarted member to process the new messages',
      );
      const replayed = processedIds(join(dir, 'c.txt')).filter((id) => sent.includes(id));
      expect(replayed).toEqual([]);
    });
  },
);
