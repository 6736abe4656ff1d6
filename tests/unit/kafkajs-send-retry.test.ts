/**
 * The kafkajs patch (patches/kafkajs+2.2.4.patch): a produce request retried after a leader
 * moved sends every partition that no broker acknowledged yet, also to a broker that already
 * answered for other partitions. Unpatched kafkajs 2.2.4 resolved without sending them
 * (tulios/kafkajs#1303): the broker-fault test lost acknowledged reviews that way.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);

interface ProduceCall {
  nodeId: number;
  partitions: number[];
}
interface TopicData {
  topic: string;
  partitions: { partition: number; messages: unknown[] }[];
}
type SendMessages = (options: object) => (request: object) => Promise<{ partition: number }[]>;

const sendMessagesFactory = require('kafkajs/src/producer/sendMessages.js') as SendMessages;
const createRetry = require('kafkajs/src/retry/index.js') as (options: object) => unknown;
const { KafkaJSConnectionError } = require('kafkajs/src/errors.js') as {
  KafkaJSConnectionError: new (message: string) => Error;
};

/** Two partitions led by brokers 1 and 2; a metadata refresh moves partition 0 to broker 2. */
function cluster(failFirstProduceOn: number) {
  const leaders: Record<number, number> = { 0: 1, 1: 2 };
  const calls: ProduceCall[] = [];
  let failed = false;
  const broker = (nodeId: number) => ({
    nodeId,
    produce: async ({ topicData }: { topicData: TopicData[] }) => {
      const partitions = topicData.flatMap((t) => t.partitions.map((p) => p.partition));
      calls.push({ nodeId, partitions });
      if (nodeId === failFirstProduceOn && !failed) {
        failed = true;
        throw new KafkaJSConnectionError('Connection error: read ECONNRESET');
      }
      return {
        topics: topicData.map((t) => ({
          topicName: t.topic,
          partitions: t.partitions.map((p) => ({
            partition: p.partition,
            errorCode: 0,
            baseOffset: '0',
          })),
        })),
      };
    },
  });
  const brokers = new Map([1, 2].map((id) => [id, broker(id)]));
  return {
    calls,
    cluster: {
      targetTopics: new Set<string>(),
      isConnected: () => true,
      refreshMetadataIfNecessary: async () => undefined,
      refreshMetadata: async () => {
        leaders[0] = 2; // the failed leader's partition moved to the broker that answered
      },
      addMultipleTargetTopics: async () => undefined,
      removeBroker: () => undefined,
      findTopicPartitionMetadata: () =>
        Object.entries(leaders).map(([id, leader]) => ({ partitionId: Number(id), leader })),
      findLeaderForPartitions: (_topic: string, partitions: string[]) => {
        const result: Record<number, number[]> = {};
        for (const id of partitions.map(Number)) (result[leaders[id]!] ??= []).push(id);
        return result;
      },
      findBroker: async ({ nodeId }: { nodeId: number | string }) => brokers.get(Number(nodeId)),
    },
  };
}

const eosManager = {
  isTransactional: () => false,
  acquireBrokerLock: async () => undefined,
  releaseBrokerLock: async () => undefined,
  getSequence: () => 0,
  updateSequence: () => undefined,
  getProducerId: () => -1,
  getProducerEpoch: () => 0,
  getTransactionalId: () => undefined,
};
const logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

describe('kafkajs produce retry after a leader moved (patched)', () => {
  it('sends the moved partition to the broker that had already answered', async () => {
    const fake = cluster(1);
    const send = sendMessagesFactory({
      logger,
      cluster: fake.cluster,
      partitioner: ({ message }: { message: { partition: number } }) => message.partition,
      eosManager,
      retrier: createRetry({ retries: 3, initialRetryTime: 1, maxRetryTime: 5 }),
    });
    const result = await send({
      acks: -1,
      timeout: 1000,
      topicMessages: [
        {
          topic: 'reviews',
          messages: [
            { partition: 0, key: 'a', value: 'a' },
            { partition: 1, key: 'b', value: 'b' },
          ],
        },
      ],
    });
    // Attempt 1: p0 to broker 1 (fails), p1 to broker 2 (acknowledged). Attempt 2: p0 alone,
    // now led by broker 2; p1 is not sent again.
    const retried = fake.calls.filter((c) => c.nodeId === 2).map((c) => c.partitions);
    expect(retried).toEqual([[1], [0]]);
    expect(result.map((r) => r.partition).sort()).toEqual([0, 1]);
  });
});
