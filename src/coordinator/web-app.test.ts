// The web app's files as served by a real Fastify server from a real folder: what is on disk when
// asked, not what was there at start (a coordinator that started while the app was being built
// answered its lazily loaded chunks with index.html, and the template form never loaded).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { serveWebApp } from './web-app.js';

const INDEX = '<!doctype html><title>Drover</title><script type="module" src="./assets/index-a1.js"></script>';

test('a web app built after the coordinator started is served whole; missing files are 404s, pages get index.html', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'drover-web-app-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const dist = join(root, 'dist');
  const app = Fastify();
  await serveWebApp(app, dist);
  await app.ready();
  t.after(() => app.close());

  // Not built yet: said plainly, for pages and files alike.
  const none = await app.inject({ method: 'GET', url: '/' });
  assert.equal(none.statusCode, 404);
  assert.match(none.body, /not built: run `npx vite build web`/);

  // Built while the server runs, as `vite build` does: index.html, its entry and a lazy chunk.
  mkdirSync(join(dist, 'assets'), { recursive: true });
  writeFileSync(join(dist, 'index.html'), INDEX);
  writeFileSync(join(dist, 'assets', 'index-a1.js'), 'import("./template-document-b2.js")');
  const home = await app.inject({ method: 'GET', url: '/' });
  assert.equal(home.statusCode, 200);
  assert.equal(home.body, INDEX);
  assert.equal(home.headers['cache-control'], 'no-cache');
  // The chunk appears later still (a rebuild): it is served as the script it is.
  writeFileSync(join(dist, 'assets', 'template-document-b2.js'), 'export const ok = 1;');
  const chunk = await app.inject({ method: 'GET', url: '/assets/template-document-b2.js' });
  assert.equal(chunk.statusCode, 200);
  assert.match(String(chunk.headers['content-type']), /javascript/);
  assert.equal(chunk.body, 'export const ok = 1;');
  assert.match(String(chunk.headers['cache-control']), /immutable/);

  // A page address of the app (its router's) gets index.html, query and all.
  const page = await app.inject({ method: 'GET', url: '/jobs/abc?tab=tasks' });
  assert.equal(page.statusCode, 200);
  assert.equal(page.body, INDEX);

  // A file that is not there is a 404, never index.html in its place.
  for (const url of ['/assets/template-document-old.js', '/favicon.ico']) {
    const missing = await app.inject({ method: 'GET', url });
    assert.equal(missing.statusCode, 404, url);
    assert.match(missing.body, /no such file/, url);
    assert.doesNotMatch(missing.body, /doctype/i, url);
  }

  // The API's unknown addresses stay JSON errors.
  const api = await app.inject({ method: 'GET', url: '/api/v1/nothing-here' });
  assert.equal(api.statusCode, 404);
  assert.deepEqual(api.json(), { error: { code: 'not_found', message: 'no such endpoint: GET /api/v1/nothing-here' } });
  const post = await app.inject({ method: 'POST', url: '/jobs' });
  assert.equal(post.statusCode, 404);
  assert.equal(post.json().error.code, 'not_found');

  // Nothing outside the folder is reachable.
  writeFileSync(join(root, 'secret.txt'), 'no');
  const escape = await app.inject({ method: 'GET', url: '/../secret.txt' });
  assert.notEqual(escape.body, 'no');
  const encoded = await app.inject({ method: 'GET', url: '/%2e%2e/secret.txt' });
  assert.notEqual(encoded.body, 'no');
});
