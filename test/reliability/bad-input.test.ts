// Bad input is refused with a 4xx and a clear message, and nothing is stored half-way. (Unsafe
// zips — ../ paths, absolute paths, symlinks, bombs — are refused by src/render/project.ts, proved
// in src/render/project.test.ts.)
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import SQLite from 'better-sqlite3';
import { type TestServer, api, startServer } from '../helpers/farm.js';
import { type Cli, type JobJson, adminCli, loginToken, makeWorkspace } from '../helpers/reliability.js';

type ErrorBody = { error: { code: string; message: string } };
const MAX_UPLOAD = 4096;
const sha = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

async function put(url: string, token: string, hash: string, body: Buffer, chunked: boolean) {
  const res = await fetch(`${url}/api/v1/blobs/${hash}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
    body: chunked ? (Readable.toWeb(Readable.from([body])) as ReadableStream) : body,
    duplex: 'half',
  } as RequestInit);
  return { status: res.status, body: (await res.json()) as ErrorBody };
}

describe('bad input', { timeout: 170_000 }, () => {
  let server: TestServer;
  let cli: Cli;
  let admin: string;
  let jobCount: () => Promise<number>;
  before(async () => {
    server = await startServer({ env: { DROVER_MAX_UPLOAD_BYTES: String(MAX_UPLOAD) } });
    cli = await adminCli(server, server.dataDir);
    admin = await loginToken(server.url, 'admin', server.adminPassword);
    jobCount = async () => (await api<{ total: number }>(server.url, admin, 'GET', '/jobs')).body.total;
  });
  after(async () => {
    await server?.kill('SIGTERM');
    if (server) await rm(server.dataDir, { recursive: true, force: true });
  });

  test('malformed JSON and unknown fields: 400 with a message, no job stored', async () => {
    const before = await jobCount();
    const malformed = await api<ErrorBody>(server.url, admin, 'POST', '/jobs', '{"kind": "script", "name": ');
    assert.equal(malformed.status, 400);
    assert.equal(malformed.body.error.code, 'invalid_request');
    assert.match(malformed.body.error.message, /JSON/i);
    const script = sha('echo hi\n');
    const unknown = await api<ErrorBody>(server.url, admin, 'POST', '/jobs', { kind: 'script', name: 'x', script: { name: 's.sh', sha256: script }, inputs: [{ name: 'i', sha256: script }], sneaky: true });
    assert.equal(unknown.status, 400);
    assert.match(unknown.body.error.message, /additional properties.*"sneaky"/);
    const wrongType = await api<ErrorBody>(server.url, admin, 'POST', '/jobs', { kind: 'script', name: 42 });
    assert.equal(wrongType.status, 400);
    const login = await api<ErrorBody>(server.url, null, 'POST', '/auth/login', { username: 'admin', password: 'x', remember: true });
    assert.equal(login.status, 400);
    assert.match(login.body.error.message, /"remember"/);
    const notJson = await fetch(`${server.url}/api/v1/jobs`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'text/plain' }, body: 'hello' });
    // Fastify parses text/plain as a string, which the job schema then refuses.
    assert.ok([400, 415].includes(notJson.status), String(notJson.status));
    assert.equal(await jobCount(), before);
  });

  test('oversize uploads are refused (declared or streamed) and nothing is kept', async () => {
    const big = Buffer.alloc(MAX_UPLOAD + 1, 7);
    for (const chunked of [false, true]) {
      const r = await put(server.url, admin, sha(big), big, chunked);
      assert.equal(r.status, 413, `chunked=${chunked}`);
      assert.equal(r.body.error.code, 'too_large');
      assert.match(r.body.error.message, /limit/);
    }
    assert.deepEqual((await api<{ missing: string[] }>(server.url, admin, 'POST', '/blobs/missing', { hashes: [sha(big)] })).body.missing, [sha(big)]);
    assert.deepEqual(await readdir(join(server.dataDir, 'blobs', 'tmp')), []);
    // Bytes that do not hash to the name they are sent under.
    const lie = await put(server.url, admin, sha('something else'), Buffer.from('these bytes'), false);
    assert.equal(lie.status, 400);
    assert.match(lie.body.error.message, /hash to/);
    // Through the CLI: a clear error, no job.
    const before = await jobCount();
    const ws = await makeWorkspace({ 'run.sh': 'echo hi\n', 'big.bin': 'x'.repeat(MAX_UPLOAD * 2) });
    const r = await cli(['job', 'create', '-n', 'too-big', '-s', join(ws, 'run.sh'), '-i', join(ws, 'big.bin')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: .*limit is 4096/m);
    assert.equal(await jobCount(), before);
  });

  test('the CLI refuses globs that match nothing, scripts that are not files, and names with control characters', async () => {
    const before = await jobCount();
    const ws = await makeWorkspace({ 'run.sh': 'echo hi\n', 'in/a.txt': 'a' });
    await mkdir(join(ws, 'a-dir'));
    const cases: [string[], RegExp][] = [
      [['-s', join(ws, 'run.sh'), '-i', join(ws, 'nothing/*.txt')], /the input glob ".*nothing\/\*\.txt" matches no file/],
      [['-s', join(ws, 'a-dir'), '-i', join(ws, 'in/*.txt')], /a-dir is not a file/],
      [['-s', join(ws, 'missing.sh'), '-i', join(ws, 'in/*.txt')], /missing\.sh does not exist/],
    ];
    for (const [args, message] of cases) {
      const r = await cli(['job', 'create', '-n', 'refused', ...args]);
      assert.equal(r.code, 1, r.stdout);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /^\s+at /m, 'a message, not a stack trace');
    }
    const bell = await cli(['job', 'create', '-n', 'ring\u0007bell', '-s', join(ws, 'run.sh'), '-i', join(ws, 'in/*.txt')]);
    assert.equal(bell.code, 1);
    assert.match(bell.stderr, /control characters/);
    assert.equal(await jobCount(), before);
  });

  test('the API refuses control characters in job, file and user names', async () => {
    const script = Buffer.from('echo hi\n');
    assert.equal((await put(server.url, admin, sha(script), script, false)).status, 201);
    const ref = (name: string) => ({ name, sha256: sha(script) });
    const before = await jobCount();
    for (const body of [
      { kind: 'script', name: 'tab\there', script: ref('s.sh'), inputs: [ref('i.txt')] },
      { kind: 'script', name: 'ok', script: ref('s\n.sh'), inputs: [ref('i.txt')] },
      { kind: 'script', name: 'ok', script: ref('s.sh'), inputs: [ref('i\u001b[31m.txt')] },
      { kind: 'script', name: 'ok', script: ref('s.sh'), inputs: [ref('../escape.txt')] },
      { kind: 'script', name: 'ok', script: ref('s.sh'), inputs: [ref('s.sh')] },
    ]) {
      const r = await api<ErrorBody>(server.url, admin, 'POST', '/jobs', body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.ok(r.body.error.message.length > 10);
    }
    assert.equal(await jobCount(), before);
    const user = await api<ErrorBody>(server.url, admin, 'POST', '/users', { name: 'eve\u0000', password: 'secret-pass' });
    assert.equal(user.status, 400);
    const users = (await api<{ users: { name: string }[] }>(server.url, admin, 'GET', '/users')).body.users;
    assert.ok(!users.some((u) => u.name.startsWith('eve')));
  });

  test('expired, revoked, malformed and wrong-kind tokens are refused', async () => {
    await api(server.url, admin, 'POST', '/users', { name: 'tina', password: 'tina-password' });
    const expired = await loginToken(server.url, 'tina', 'tina-password');
    assert.equal((await api(server.url, expired, 'GET', '/auth/me')).status, 200);
    // Let the token run out, straight in the store (tokens live DROVER_TOKEN_TTL_DAYS).
    const db = new SQLite(join(server.dataDir, 'drover.sqlite'));
    db.pragma('busy_timeout = 5000');
    const { createHash: h } = await import('node:crypto');
    const changed = db.prepare('UPDATE api_tokens SET expires_at = ? WHERE token_hash = ?').run('2000-01-01T00:00:00.000Z', h('sha256').update(expired).digest('hex')).changes;
    db.close();
    assert.equal(changed, 1);
    const r = await api<ErrorBody>(server.url, expired, 'GET', '/auth/me');
    assert.equal(r.status, 401);
    assert.equal(r.body.error.code, 'unauthorized');

    const revoked = await loginToken(server.url, 'tina', 'tina-password');
    assert.equal((await api(server.url, revoked, 'POST', '/auth/logout')).status, 204);
    assert.equal((await api(server.url, revoked, 'GET', '/jobs')).status, 401);

    for (const garbage of ['drv_u_not-a-real-token', 'drv_a_nope', 'x'.repeat(2000), 'Bearer', '']) {
      assert.equal((await api(server.url, garbage || null, 'GET', '/jobs')).status, 401, garbage.slice(0, 20));
    }
    // A user token is not an agent credential and vice versa.
    const lease = await api<ErrorBody>(server.url, admin, 'POST', '/agent/lease', { freeCores: 1 });
    assert.equal(lease.status, 403);
    const register = await api<ErrorBody>(server.url, admin, 'POST', '/agents/register', { name: 'x', cores: 1, memoryBytes: 1, labels: {}, slots: 1, sandbox: false, version: '1' });
    assert.equal(register.status, 401);
  });

  test('with the disk reserve reached (DROVER_MIN_FREE_BYTES), uploads are refused with 507 and a clear message', async () => {
    const full = await startServer({ env: { DROVER_MIN_FREE_BYTES: String(1e15) } });
    try {
      const fullCli = await adminCli(full, full.dataDir);
      const ws = await makeWorkspace({ 'run.sh': 'echo hi\n', 'x.txt': 'x' });
      await writeFile(join(ws, 'x.txt'), 'x');
      const r = await fullCli(['job', 'create', '-n', 'no-room', '-s', join(ws, 'run.sh'), '-i', join(ws, 'x.txt')]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^error: the coordinator has \d+ bytes of disk free and keeps 1000000000000000 in reserve/m);
      const token = await loginToken(full.url, 'admin', full.adminPassword);
      assert.equal((await api<{ total: number }>(full.url, token, 'GET', '/jobs')).body.total, 0);
      assert.deepEqual(await readdir(join(full.dataDir, 'blobs', 'tmp')), []);
    } finally {
      await full.kill('SIGTERM');
      await rm(full.dataDir, { recursive: true, force: true });
    }
  });

  test("other users' jobs, tasks and files answer 404, exactly like IDs that do not exist", async () => {
    const ws = await makeWorkspace({ 'a.sh': 'echo hi\n', 'i.txt': 'i' });
    const created = await cli(['job', 'create', '-n', 'admins-own', '-s', join(ws, 'a.sh'), '-i', join(ws, 'i.txt'), '--json']);
    const job = JSON.parse(created.stdout) as JobJson;
    const task = (await api<{ tasks: { id: string }[] }>(server.url, admin, 'GET', `/jobs/${job.id}/tasks`)).body.tasks[0]!;
    await api(server.url, admin, 'POST', '/users', { name: 'mallory', password: 'mallory-password' });
    const mallory = await loginToken(server.url, 'mallory', 'mallory-password');
    const fileSha = sha('echo hi\n');
    const paths = (jobId: string, taskId: string): [string, string][] => [
      ['GET', `/jobs/${jobId}`],
      ['GET', `/jobs/${jobId}/tasks`],
      ['GET', `/jobs/${jobId}/results`],
      ['GET', `/jobs/${jobId}/results.zip`],
      ['GET', `/jobs/${jobId}/files/${fileSha}`],
      ['GET', `/jobs/${jobId}/events`],
      ['POST', `/jobs/${jobId}/start`],
      ['POST', `/jobs/${jobId}/stop`],
      ['POST', `/jobs/${jobId}/retry`],
      ['GET', `/tasks/${taskId}`],
      ['GET', `/tasks/${taskId}/logs`],
      ['GET', `/tasks/${taskId}/logs/stream`],
    ];
    const theirs = paths(job.id, task.id);
    const nobodys = paths('j_doesnotexist0', 't_doesnotexist0');
    for (let i = 0; i < theirs.length; i++) {
      const [method, path] = theirs[i]!;
      const a = await api<ErrorBody>(server.url, mallory, method, path);
      const b = await api<ErrorBody>(server.url, mallory, method, nobodys[i]![1]);
      assert.equal(a.status, 404, `${method} ${path}`);
      assert.equal(b.status, 404, `${method} ${nobodys[i]![1]}`);
      assert.equal(a.body.error.code, b.body.error.code);
      assert.equal(a.body.error.message.replace(job.id, 'ID').replace(task.id, 'ID'), b.body.error.message.replace('j_doesnotexist0', 'ID').replace('t_doesnotexist0', 'ID'));
    }
    // The job is untouched: still created, not started or stopped by mallory.
    assert.equal((await api<JobJson>(server.url, admin, 'GET', `/jobs/${job.id}`)).body.status, 'created');
  });
});
