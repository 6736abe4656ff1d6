/**
 * Inference worker thread: owns one SentimentEngine and scores requests one after another,
 * so the main thread (HTTP, Kafka heartbeats) never runs tokenisation or the graph.
 * Protocol: parent -> {type:'score', id, texts}; worker -> {type:'ready'|'scored'|'failed'|'fatal'}.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type EngineOptions, SentimentEngine } from './engine.ts';
import type { WorkerReply, WorkerRequest } from './protocol.ts';

const { folder, options } = workerData as { folder: string; options: EngineOptions };
const port = parentPort;
if (!port) throw new Error('worker.ts must run in a worker thread');

try {
  const engine = await SentimentEngine.load(folder, options);
  let queue: Promise<void> = Promise.resolve();
  port.on('message', (request: WorkerRequest) => {
    if (request.type === 'release') {
      queue = queue.then(async () => {
        await engine.release();
        port.close();
      });
      return;
    }
    queue = queue.then(async () => {
      try {
        const results = await engine.score(request.texts);
        const reply: WorkerReply = { type: 'scored', id: request.id, results };
        port.postMessage(
          reply,
          results.map((result) => result.embedding.buffer as ArrayBuffer),
        );
      } catch (error) {
        const reply: WorkerReply = {
          type: 'failed',
          id: request.id,
          message: (error as Error).message,
        };
        port.postMessage(reply);
      }
    });
  });
  const ready: WorkerReply = { type: 'ready', info: engine.info };
  port.postMessage(ready);
} catch (error) {
  const fatal: WorkerReply = {
    type: 'fatal',
    message: (error as Error).message,
    code: (error as { code?: string }).code ?? 'MODEL_LOAD_FAILED',
  };
  port.postMessage(fatal);
}
