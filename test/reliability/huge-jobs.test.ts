// Huge jobs: a per-job task limit named in the refusal, jobs past the batching threshold stored
// whole and stopped whole, and a per-user rate limit on job creation. (How smoothly a
// 1,000,000-task job goes in while others are served is measured by bench/huge-job.ts: timing
// belongs in benchmarks.)
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type TestServer, api, eventually, startServer } from '../helpers/farm.js';
import { type JobJson, loginToken, openStore } from '../helpers/reliability.js';
import { makeScene } from '../helpers/scenes.js';
import { type TestPostgres, postgresUnavailable, startPostgres } from '../helpers/postgres.js';

const LIMIT = 20_000;

const pgUnavailable = postgresUnavailable();

for (const store of ['sqlite', 'postgres'] as const) describe(`huge jobs (${store})`, { timeout: 300_000, ...(store === 'postgres' && pgUnavailable ? { skip: pgUnavailable } : {}) }, () => {
  let server: TestServer;
  let pg: TestPostgres | null = null;
  let admin: string;
  let blendSha: string;
  let userToken: string;

  const upload = async (token: string, bytes: Buffer, sha: string) => {
    const res = await fetch(`${server.url}/api/v1/blobs/${sha}`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' }, body: new Uint8Array(bytes) });
    assert.ok(res.status === 201 || res.status === 200, `upload: ${res.status}`);
  };
  const render = (frames: string, extra: Record<string, unknown> = {}) => ({ kind: 'render', name: `frames ${frames}`, project: { files: [{ path: 'scene.blend', sha256: blendSha }], blend: 'scene.blend' }, frames, chunk: 1, ...extra });

  before(async () => {
    if (store === 'postgres') pg = await startPostgres();
    server = await startServer({ env: { DROVER_MAX_TASKS_PER_JOB: String(LIMIT), DROVER_JOB_CREATE_PER_MINUTE: '3' }, ...(pg ? { args: ['--db', pg.url] } : {}) });
    admin = await loginToken(server.url, 'admin', server.adminPassword);
    const blend = await readFile(await makeScene(join(server.dataDir, 'project'), { frames: [1, 10] }));
    blendSha = createHash('sha256').update(blend).digest('hex');
    await upload(admin, blend, blendSha);
    assert.equal((await api(server.url, admin, 'POST', '/users', { name: 'busy', password: 'busy-password-1' })).status, 201);
    userToken = await loginToken(server.url, 'busy', 'busy-password-1');
    await upload(userToken, blend, blendSha);
  });
  after(async () => {
    await server?.kill('SIGKILL');
    await pg?.stop();
    if (server) await rm(server.dataDir, { recursive: true, force: true });
  });

  test('a job over the per-job task limit is refused, naming the limit; nothing is stored', async () => {
    const r = await api<{ error: { message: string } }>(server.url, admin, 'POST', '/jobs', render(`1-${LIMIT + 1}`));
    assert.equal(r.status, 400);
    assert.match(r.body.error.message, /would have 20,001 tasks; this coordinator allows at most 20,000 per job \(DROVER_MAX_TASKS_PER_JOB\)/);
    // The same frames in chunks of 2 fit.
    const ok = await api<JobJson & { taskCount: number }>(server.url, admin, 'POST', '/jobs', render(`1-${LIMIT + 1}`, { chunk: 2 }));
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    assert.equal(ok.body.taskCount, Math.ceil((LIMIT + 1) / 2));
    const list = await api<{ jobs: JobJson[]; total: number }>(server.url, admin, 'GET', '/jobs');
    assert.equal(list.body.total, 1, 'the refused job left nothing behind');
  });

  test('a job past the batching threshold is stored whole, and stopped whole', async () => {
    const n = 12_000;
    const created = await api<JobJson & { taskCount: number; render: { frameCount: number } }>(server.url, admin, 'POST', '/jobs', render(`1-${n}`, { start: true }));
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.taskCount, n);
    assert.equal(created.body.counts.queued, n);
    assert.equal(created.body.render.frameCount, n);
    const last = await api<{ tasks: { index: number; input: string }[]; total: number }>(server.url, admin, 'GET', `/jobs/${created.body.id}/tasks?offset=${n - 1}&limit=1`);
    assert.equal(last.body.total, n);
    assert.deepEqual(last.body.tasks.map((t) => [t.index, t.input]), [[n, `frames ${n}`]]);
    assert.equal((await api(server.url, admin, 'POST', `/jobs/${created.body.id}/stop`)).status, 200);
    const stopped = await eventually(async () => {
      const job = (await api<JobJson>(server.url, admin, 'GET', `/jobs/${created.body.id}`)).body;
      return job.counts.canceled === n ? job : null;
    }, 60_000, 'every task to be canceled');
    assert.equal(stopped.status, 'canceled');
    assert.equal(stopped.counts.queued, 0);
  });

  test('a coordinator killed while it stores a big job: the half-stored job is removed at the next start', { skip: store !== 'sqlite' && 'the store is read directly: SQLite' }, async () => {
    const port = Number(new URL(server.url).port);
    const posting = api(server.url, admin, 'POST', '/jobs', render(`1-${LIMIT}`)).catch(() => null);
    // Caught while its tasks go in (half a second or more): the job is there, hidden (status
    // `inserting`). Polled every few ms, the store opened read-only beside the coordinator.
    const db0 = openStore(server.dataDir);
    try {
      const inserting = db0.prepare("select count(*) as n from jobs where status = 'inserting'");
      const deadline = Date.now() + 30_000;
      while ((inserting.get() as { n: number }).n === 0) {
        assert.ok(Date.now() < deadline, 'the job was never seen half-stored');
        await new Promise((r) => setTimeout(r, 5));
      }
    } finally {
      db0.close();
    }
    await server.kill('SIGKILL');
    await posting;
    server = await startServer({ dataDir: server.dataDir, port, env: { DROVER_MAX_TASKS_PER_JOB: String(LIMIT), DROVER_JOB_CREATE_PER_MINUTE: '3' } });
    assert.match(server.output(), /removing job j_\S+: its tasks were still being stored/);
    admin = await loginToken(server.url, 'admin', server.adminPassword);
    const db = openStore(server.dataDir);
    try {
      assert.deepEqual(db.prepare("select status, count(*) as n from jobs group by status order by status").all(), [{ status: 'canceled', n: 1 }, { status: 'created', n: 1 }]);
      const orphans = db.prepare('select count(*) as n from tasks where job_id not in (select id from jobs)').get() as { n: number };
      assert.equal(orphans.n, 0);
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    } finally {
      db.close();
    }
  });

  test('job creation is rate-limited per user, with the limit named', async () => {
    const statuses: number[] = [];
    let last: { error?: { message: string } } = {};
    for (let i = 0; i < 4; i++) {
      const r = await api<{ error?: { message: string } }>(server.url, userToken, 'POST', '/jobs', render('1-2'));
      statuses.push(r.status);
      last = r.body;
    }
    assert.deepEqual(statuses, [201, 201, 201, 429]);
    assert.match(last.error!.message, /at most 3 a minute per user \(DROVER_JOB_CREATE_PER_MINUTE\); try again in \d+ s/);
    // Another user (here the admin) is not held up by this one's limit.
    assert.equal((await api(server.url, admin, 'POST', '/jobs', render('1-2'))).status, 201);
  });
});
