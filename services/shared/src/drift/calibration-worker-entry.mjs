// Entry of calibration worker threads: registers tsx (workers do not reliably inherit the
// TypeScript loader of the process that starts them), then loads the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
await import('./calibration-worker.ts');
