// Source-tree entry of task worker threads (runInWorker), used only when running from the
// TypeScript sources: registers tsx (workers do not reliably inherit the TypeScript loader of
// the process that starts them), then runs the task worker. The build starts task-worker.js.
import { register } from 'tsx/esm/api';

register();
await import('./task-worker.ts');
