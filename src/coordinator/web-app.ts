// The web app's static files (web/dist, made by `npx vite build web`), served as they are on disk
// when asked for, not as they were when the coordinator started: a build made or replaced while
// the coordinator runs (a deploy, a test suite rebuilding it) is served whole, its lazily loaded
// chunks included. Page addresses the app routes itself get index.html; a missing file is a 404,
// never index.html in its place (a script answered with HTML fails with a misleading type error).
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { errorBody } from './errors.js';

/** Whether a path names a file (`/assets/index-1a2b.js`, `/favicon.ico`) rather than a page. */
function namesFile(path: string): boolean {
  return path.startsWith('/assets/') || /\.[a-z0-9]+$/i.test(path.slice(path.lastIndexOf('/') + 1));
}

export async function serveWebApp(app: FastifyInstance, dir: string): Promise<void> {
  await app.register(fastifyStatic, {
    root: dir,
    // Looked up per request (a route per file found at start would miss files built later).
    wildcard: true,
    cacheControl: false, // set below, per file
    setHeaders(res, path) {
      // Hashed file names never change content; index.html names the current ones.
      if (path.includes('/assets/')) res.setHeader('cache-control', 'public, max-age=31536000, immutable');
      else res.setHeader('cache-control', 'no-cache');
    },
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '/';
    if (path.startsWith('/api/') || (request.method !== 'GET' && request.method !== 'HEAD')) {
      return reply.code(404).send(errorBody('not_found', `no such endpoint: ${request.method} ${path}`));
    }
    if (!existsSync(join(dir, 'index.html'))) return reply.code(404).type('text/plain').send('The web app is not built: run `npx vite build web`.');
    if (namesFile(path)) return reply.code(404).type('text/plain').send(`no such file: ${path}`);
    return reply.header('cache-control', 'no-cache').sendFile('index.html');
  });
}
