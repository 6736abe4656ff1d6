// Source-tree entry of inference worker threads, used only when running from the TypeScript
// sources: registers tsx (workers do not reliably inherit the TypeScript loader of the
// process that starts them), then loads the worker. The build starts worker.js directly.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
