import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiClient, ApiError } from './api-client.js';

async function listen(handler: http.RequestListener): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** A handler that always answers `status` with `body` as JSON. */
const json = (status: number, body: unknown): http.RequestListener => (_req, res) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};
const answer = (name: string) => json(200, { from: name });

test('a request that is not retried still moves the next one to another replica when its own is down', async (t) => {
  const dead = await listen(answer('dead'));
  await dead.close(); // nothing listens there any more
  const alive = await listen(answer('alive'));
  t.after(() => alive.close());
  const client = new ApiClient([dead.url, alive.url]);
  await assert.rejects(client.json('POST', '/agent/heartbeat', {}));
  assert.deepEqual(await client.json('POST', '/agent/heartbeat', {}), { from: 'alive' });
});

test('with retries, the request itself goes on to the next replica', async (t) => {
  const failing = await listen(json(503, { error: { code: 'unavailable', message: 'shutting down' } }));
  const alive = await listen(answer('alive'));
  t.after(() => Promise.all([failing.close(), alive.close()]));
  const client = new ApiClient([failing.url, alive.url]);
  assert.deepEqual(await client.json('GET', '/x', undefined, { retryForMs: 5000 }), { from: 'alive' });
});

test('a refusal (4xx) is the answer, not a reason to change replicas', async (t) => {
  const refusing = await listen(json(409, { error: { code: 'lease_lost', message: 'lost' } }));
  const other = await listen(answer('other'));
  t.after(() => Promise.all([refusing.close(), other.close()]));
  const client = new ApiClient([refusing.url, other.url]);
  await assert.rejects(client.json('POST', '/x', {}), (err) => err instanceof ApiError && err.status === 409);
  assert.equal(client.baseUrl, refusing.url);
});

test('with failover (the CLI), a refused connection goes on to the next replica even without retries', async (t) => {
  const dead = await listen(answer('dead'));
  await dead.close();
  const alive = await listen(answer('alive'));
  t.after(() => alive.close());
  const client = new ApiClient([dead.url, alive.url], { failover: true });
  assert.deepEqual(await client.json('POST', '/auth/login', {}), { from: 'alive' });
  // A 5xx may have been acted on: without retries it stays the answer.
  const failing = await listen(json(503, { error: { code: 'unavailable', message: 'busy' } }));
  t.after(() => failing.close());
  const second = new ApiClient([failing.url, alive.url], { failover: true });
  await assert.rejects(second.json('POST', '/jobs', {}), (err) => err instanceof ApiError && err.status === 503);
});
