/**
 * Where the running code is, and the assets shipped with it.
 *
 * The same modules run from the TypeScript sources (development scripts and tests, through
 * tsx) and from the compiled build (`make build` -> dist/, started with plain `node`). The
 * build keeps the sources' layout and carries, beside the code, the assets the code reads
 * (topics/catalogue.json, schemas/, infra/clickhouse/migrations: scripts/build.ts copies
 * them), so one rule finds them in both: relative to this package's root. Everything else a
 * service reads (models, data, keys, state) is a path from its config, resolved against the
 * working directory, never against the code's location.
 */
import { fileURLToPath } from 'node:url';

/** The root of the running package: the repository from sources, the build folder from dist. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** True when this process runs the compiled build (`.js`), false under tsx (`.ts`). */
export const RUNS_COMPILED = import.meta.url.endsWith('.js');

/**
 * The module `relative` (named as in the sources, `./task.ts`) next to the module `base`
 * (its `import.meta.url`): the compiled `.js` when `base` is compiled. For modules handed to
 * worker threads, which are loaded by URL at run time and so are not rewritten by the build.
 */
export function siblingModule(relative: string, base: string): URL {
  const url = new URL(relative, base);
  if (!base.endsWith('.js') || !url.pathname.endsWith('.ts')) return url;
  return new URL(url.href.replace(/\.ts$/, '.js'));
}

/**
 * The entry a worker thread starts from to run the module `relative` next to `base`. Compiled,
 * the module itself. From sources, the `.mjs` loader entry `sourceEntry` beside it, which
 * registers tsx before importing the TypeScript module: worker threads do not reliably
 * inherit the TypeScript loader of the process that starts them (a test runner,
 * `node --import tsx`).
 */
export function workerEntry(relative: string, sourceEntry: string, base: string): URL {
  return base.endsWith('.js') ? siblingModule(relative, base) : new URL(sourceEntry, base);
}
