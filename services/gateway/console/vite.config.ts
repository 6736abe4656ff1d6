/**
 * Builds the web console (a static single-page app) that the gateway serves at /console/.
 *
 *   npx vite build --config services/gateway/console/vite.config.ts [--outDir <dir>]
 *
 * `root` is this folder; the output goes to dist/console (relative to the repository root)
 * unless --outDir names another directory, which is taken relative to the current directory
 * (Vite alone would take it relative to `root`). The output directory is emptied first.
 */
import { dirname, parse, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { type Plugin, defineConfig } from 'vite';

const CONSOLE_DIR = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = resolve(CONSOLE_DIR, '../../..');
const DEFAULT_OUT_DIR = resolve(REPO_ROOT, 'dist/console');

/** True when `dir` is `other` or contains it. */
function containsOrIs(dir: string, other: string): boolean {
  const path = relative(dir, other);
  return path === '' || (!path.startsWith('..') && parse(path).root === '');
}

/**
 * Resolves a relative --outDir from the current directory, and refuses an output directory
 * whose emptying would delete sources (the repository, this folder, or a folder holding them).
 */
function outDirFromCwd(): Plugin {
  return {
    name: 'console-out-dir',
    config(config) {
      const requested = config.build?.outDir ?? DEFAULT_OUT_DIR;
      const outDir = resolve(process.cwd(), requested);
      if (containsOrIs(outDir, CONSOLE_DIR) || containsOrIs(outDir, REPO_ROOT)) {
        throw new Error(`console build: refusing to empty ${outDir}: it holds sources`);
      }
      return { build: { outDir } };
    },
  };
}

export default defineConfig({
  root: CONSOLE_DIR,
  base: '/console/',
  plugins: [react(), outDirFromCwd()],
  build: {
    outDir: DEFAULT_OUT_DIR,
    emptyOutDir: true,
    // Charts (Recharts and its d3 modules) load on first use, in their own chunk.
    chunkSizeWarningLimit: 600,
  },
});
