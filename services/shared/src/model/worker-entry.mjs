// Entry of inference worker threads. Workers do not reliably inherit the TypeScript loader
// of the process that starts them (a test runner, `node --import tsx`, ...), so the worker
// registers tsx itself before loading the TypeScript worker module.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
