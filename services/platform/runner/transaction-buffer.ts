/**
 * What one batch commits in its Kafka transaction (exactly-once mode of the consumer runner):
 * the events derived by the handler calls that succeeded, and the batch's dead letters.
 *
 * The batch processor may call the handler more than once for a batch (retries, then one
 * event at a time). Each call gets a sink of its own, kept only if the call resolves, so a
 * failed attempt leaves nothing behind: the transaction holds exactly the outputs of the
 * successful handling. Events are encoded when sent, so a schema problem fails the handler
 * call, as a direct send would.
 */
import { type EventSink, type RawOutgoing, encodeEvents } from '#platform/kafka';
import type { EventCodec } from '#platform/serde';
import type { BatchHandler } from './batch-processor.ts';

export class TransactionBuffer {
  private readonly byTopic = new Map<string, RawOutgoing[]>();

  constructor(private readonly codec: EventCodec) {}

  /** The handler, with a sink per call whose events are kept only when the call succeeds. */
  wrap<T>(handler: BatchHandler<T>): BatchHandler<T> {
    return async (events, context) => {
      const attempt = new Map<string, RawOutgoing[]>();
      const output: EventSink = {
        send: async (topic, derived) => {
          append(attempt, topic, await encodeEvents(this.codec, topic, derived));
        },
      };
      const result = await handler(events, { ...context, output });
      for (const [topic, messages] of attempt) append(this.byTopic, topic, messages);
      return result;
    };
  }

  /** Adds encoded messages (dead letters) to the transaction. */
  add(topic: string, messages: readonly RawOutgoing[]): void {
    append(this.byTopic, topic, messages);
  }

  /** Everything to send, by topic, in the order it was added. */
  contents(): { topic: string; messages: RawOutgoing[] }[] {
    return [...this.byTopic].map(([topic, messages]) => ({ topic, messages }));
  }

  get size(): number {
    let total = 0;
    for (const messages of this.byTopic.values()) total += messages.length;
    return total;
  }
}

function append(
  target: Map<string, RawOutgoing[]>,
  topic: string,
  messages: readonly RawOutgoing[],
): void {
  const existing = target.get(topic);
  if (existing) existing.push(...messages);
  else target.set(topic, [...messages]);
}
