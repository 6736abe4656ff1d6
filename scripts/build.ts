/**
 * Builds the production artifact into OUT (default dist/), the only thing the local stack,
 * docker-compose and the image run (with plain `node`, no TypeScript loader):
 *   1. tsc -p tsconfig.build.json: the services, the mlops CLI, worker-thread modules, the
 *      operational scripts the stacks run and the local schema registry, as ES modules with
 *      source maps, in the sources' layout;
 *   2. the assets that code reads, copied beside it in the same layout (common/paths.ts):
 *      topics/catalogue.json, schemas/*.avsc, infra/clickhouse/migrations/*.sql;
 *   3. the web console (services/gateway/console, Vite) as static files in OUT/console, which
 *      the gateway serves at /console/;
 *   4. OUT/package.json: ESM, and the `#platform/*` and `#domain/*` imports maps pointing at the compiled
 *      modules (the repository's maps it to the sources).
 * Models, data and state are not part of the build: services find them through config.
 * A build outside the repository (the integration tests') gets a link to the repository's
 * node_modules, which Node would otherwise not find; the image installs them beside it.
 *
 *   node --import tsx scripts/build.ts [OUT]     (make build)
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const ASSETS = ['topics/catalogue.json', 'schemas', 'infra/clickhouse/migrations'] as const;

export function build(out: string, log: (line: string) => void = console.log): void {
  const started = Date.now();
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  log(`build: compiling (tsc -p tsconfig.build.json) into ${out}`);
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', out], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  for (const asset of ASSETS) {
    cpSync(join(ROOT, asset), join(out, asset), { recursive: true });
  }
  log(`build: assets copied (${ASSETS.join(', ')})`);
  log('build: the web console (vite build) into console/');
  // vite's bin is not among its package exports; its package.json is.
  const vite = join(
    dirname(createRequire(import.meta.url).resolve('vite/package.json')),
    'bin/vite.js',
  );
  execFileSync(
    process.execPath,
    [
      vite,
      'build',
      '--config',
      'services/gateway/console/vite.config.ts',
      '--outDir',
      join(out, 'console'),
      '--logLevel',
      'warn',
    ],
    { cwd: ROOT, stdio: 'inherit' },
  );
  const source = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    name: string;
    version: string;
    engines: Record<string, string>;
  };
  const manifest = {
    name: source.name,
    version: source.version,
    private: true,
    description: 'Compiled build (scripts/build.ts); dependencies: the repository package.json.',
    type: 'module',
    engines: source.engines,
    imports: {
      '#platform/*': './services/platform/*/index.js',
      '#domain/*': './services/domain/*/index.js',
    },
  };
  writeFileSync(join(out, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  if (relative(ROOT, out).startsWith('..')) {
    symlinkSync(join(ROOT, 'node_modules'), join(out, 'node_modules'), 'dir');
    log('build: node_modules linked (a build outside the repository)');
  }
  log(`build: done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  build(resolve(process.argv[2] ?? join(ROOT, 'dist')));
}
