// Property-based: every endpoint of the OpenAPI document, driven with random paths, query strings
// and bodies (valid-looking and not), with and without credentials, never answers 5xx and never
// brings the coordinator down.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import fc from 'fast-check';
import { type TestServer, api, startServer } from '../helpers/farm.js';
import { loginToken } from '../helpers/reliability.js';

const RUNS_PER_ENDPOINT = 30;
const REQUEST_TIMEOUT_MS = 5000;

interface Endpoint {
  method: string;
  path: string;
}

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('API fuzzing', { timeout: 240_000 }, () => {
  let server: TestServer;
  const tokens: Record<string, string | null> = {};
  let endpoints: Endpoint[] = [];
  const known: { jobId: string; taskId: string; sha: string } = { jobId: '', taskId: '', sha: '' };

  before(async () => {
    server = await startServer();
    const admin = await loginToken(server.url, 'admin', server.adminPassword);
    await api(server.url, admin, 'POST', '/users', { name: 'fuzzer', password: 'fuzzer-password' });
    tokens.user = await loginToken(server.url, 'fuzzer', 'fuzzer-password');
    tokens.admin = admin;
    tokens.none = null;
    tokens.garbage = 'drv_u_garbage';
    const agent = await api<{ agentToken: string }>(server.url, server.joinToken, 'POST', '/agents/register', { name: 'fuzz-agent', cores: 1, memoryBytes: 1, labels: {}, slots: 1, sandbox: false, version: 'test' });
    tokens.agent = agent.body.agentToken;
    // Real IDs, so some requests go past "not found" into the handlers.
    const body = 'echo fuzz\n';
    await fetch(`${server.url}/api/v1/blobs/${sha(body)}`, { method: 'PUT', headers: { authorization: `Bearer ${tokens.user}`, 'content-type': 'application/octet-stream' }, body });
    const job = await api<{ id: string }>(server.url, tokens.user, 'POST', '/jobs', { kind: 'script', name: 'fuzz', script: { name: 's.sh', sha256: sha(body) }, inputs: [{ name: 'i.txt', sha256: sha(body) }] });
    known.jobId = job.body.id;
    known.taskId = (await api<{ tasks: { id: string }[] }>(server.url, tokens.user, 'GET', `/jobs/${known.jobId}/tasks`)).body.tasks[0]!.id;
    known.sha = sha(body);
    const doc = (await api<{ paths: Record<string, Record<string, unknown>> }>(server.url, null, 'GET', '/openapi.json')).body;
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const method of Object.keys(methods)) {
        if (['get', 'post', 'put', 'delete', 'patch'].includes(method)) endpoints.push({ method: method.toUpperCase(), path });
      }
    }
  });
  after(async () => {
    await server?.kill('SIGTERM');
    if (server) await rm(server.dataDir, { recursive: true, force: true });
  });

  const segment = () =>
    fc.oneof(
      fc.constantFrom(known.jobId, known.taskId, known.sha, 'admin', 'j_x', '..', '%2e%2e', '%00', '0'.repeat(64)),
      fc.string({ maxLength: 80 }),
      fc.stringMatching(/^[0-9a-f]{64}$/),
    );
  const jsonish = fc.oneof(
    fc.jsonValue({ maxDepth: 3 }),
    fc.dictionary(fc.constantFrom('name', 'kind', 'script', 'inputs', 'hashes', 'freeCores', 'waitSeconds', 'tasks', 'attempt', 'exitCode', 'files', 'stdout', 'stderr', 'username', 'password', 'chunks', 'admin', 'start'), fc.jsonValue({ maxDepth: 2 })),
    fc.record({ kind: fc.constant('script'), name: fc.string(), script: fc.record({ name: fc.string(), sha256: fc.constant(sha('echo fuzz\n')) }), inputs: fc.array(fc.record({ name: fc.string(), sha256: fc.constant(sha('echo fuzz\n')) }), { maxLength: 3 }) }),
  );
  const body = fc.oneof(
    jsonish.map((v) => ({ type: 'application/json', data: JSON.stringify(v) })),
    fc.string({ maxLength: 200 }).map((s) => ({ type: 'application/json', data: s })),
    fc.uint8Array({ maxLength: 512 }).map((b) => ({ type: 'application/octet-stream', data: Buffer.from(b) })),
    fc.constant(null),
  );
  const query = fc.dictionary(fc.constantFrom('status', 'q', 'offset', 'limit', 'attempt', 'after', 'x', 'limit[]'), fc.oneof(fc.string({ maxLength: 30 }), fc.integer().map(String), fc.constant('1e309'), fc.constant('-1')), { maxKeys: 4 });

  test('no endpoint answers 5xx to random input, and the coordinator stays healthy', async () => {
    assert.ok(endpoints.length >= 20, `only ${endpoints.length} endpoints in the OpenAPI document`);
    const failures: string[] = [];
    for (const ep of endpoints) {
      // Logging out would revoke the shared tokens: that endpoint gets throwaway ones.
      const isLogout = ep.path === '/auth/logout';
      await fc.assert(
        fc.asyncProperty(fc.constantFrom('user', 'admin', 'agent', 'none', 'garbage'), fc.array(segment(), { minLength: 4, maxLength: 4 }), query, body, async (who, segs, q, b) => {
          let i = 0;
          const path = ep.path.replace(/:[A-Za-z0-9_]+|\{[^}]+\}/g, () => encodeURIComponent(segs[i++] ?? 'x'));
          const qs = new URLSearchParams(q).toString();
          const token = isLogout ? await loginToken(server.url, 'fuzzer', 'fuzzer-password') : tokens[who];
          const headers: Record<string, string> = {};
          if (token && (!isLogout || who !== 'none')) headers.authorization = `Bearer ${token}`;
          if (b && ep.method !== 'GET') headers['content-type'] = b.type;
          const controller = new AbortController();
          const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
          try {
            const res = await fetch(`${server.url}/api/v1${path}${qs ? `?${qs}` : ''}`, {
              method: ep.method,
              headers,
              ...(b && ep.method !== 'GET' ? { body: b.data } : {}),
              signal: controller.signal,
            });
            if (res.status >= 500) failures.push(`${ep.method} ${path}?${qs} as ${who} → ${res.status}: ${await res.text()}`);
            // Event streams and long polls stay open: the status is all we need.
            await res.body?.cancel();
          } catch (err) {
            // A long-poll or event stream still open when we give up is fine; anything else is not.
            if ((err as Error).name !== 'AbortError') failures.push(`${ep.method} ${path} as ${who}: ${(err as Error).message}`);
          } finally {
            clearTimeout(timer);
          }
          return true;
        }),
        { numRuns: RUNS_PER_ENDPOINT },
      );
    }
    assert.deepEqual(failures.slice(0, 10), []);
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
    assert.equal(server.proc.exitCode, null, 'the coordinator is still running');
  });
});
