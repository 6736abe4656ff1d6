/**
 * The web console's page and assets (services/gateway/console, built by Vite into
 * `assetsDir`) at /console/, same origin as the API so the browser sends the same API keys
 * and helmet's content security policy (scripts and styles from 'self') holds. `/` and
 * `/console` redirect to `/console/`. Without a build, /console/ answers 503 CONSOLE_NOT_BUILT
 * naming the command that builds it; the API works either way.
 */
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { sendError } from './errors.ts';

export interface ConsoleAssetsOptions {
  /** Folder holding the built index.html and assets/. */
  readonly assetsDir: string;
}

async function consoleAssetsPlugin(app: FastifyInstance, options: ConsoleAssetsOptions) {
  const hide = { schema: { hide: true } } as const;
  app.get('/', hide, async (_request, reply) => reply.redirect('/console/'));
  app.get('/console', hide, async (_request, reply) => reply.redirect('/console/'));
  if (!existsSync(join(options.assetsDir, 'index.html'))) {
    app.get('/console/*', hide, async (_request, reply) =>
      sendError(
        reply,
        503,
        'CONSOLE_NOT_BUILT',
        `no console build in ${options.assetsDir} (make build, or CONSOLE_ASSETS_DIR)`,
      ),
    );
    return;
  }
  await app.register(fastifyStatic, {
    root: options.assetsDir,
    prefix: '/console/',
    // Hashed file names under assets/ never change; index.html must be revalidated. The
    // plugin's own cache-control would overwrite ours after setHeaders, so it is off.
    cacheControl: false,
    setHeaders: (response, path) => {
      const inside = relative(options.assetsDir, path);
      response.setHeader(
        'cache-control',
        inside.startsWith(join('assets', '')) ? 'public, max-age=31536000, immutable' : 'no-cache',
      );
    },
    schemaHide: true,
  });
}

export const consoleAssetsRoutes = fp(consoleAssetsPlugin, {
  name: 'gateway-console-assets',
  fastify: '5.x',
  encapsulate: true,
  dependencies: ['gateway-errors'],
});
