// Webhooks end to end: a real coordinator, agent and CLI, and a real HTTP receiver on the loopback
// that checks each POST's HMAC-SHA256 signature. Private addresses are refused unless the server
// allows them; a receiver that fails twice gets the third try; deliveries survive a coordinator
// restart; other users cannot see a user's webhooks; replicas on PostgreSQL deliver each event once.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN_PASSWORD, type TestServer, api, eventually, runCli, startAgent, startServer } from '../helpers/farm.js';
import { postgresUnavailable, startPostgres, type TestPostgres } from '../helpers/postgres.js';

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** An HTTP server on 127.0.0.1 that records every request; `answer` decides each status. */
async function startReceiver(answer: (path: string, nth: number) => number, delayMs = 0): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const path = req.url ?? '/';
      received.push({ path, headers: req.headers, body });
      const status = answer(path, received.filter((r) => r.path === path).length);
      setTimeout(() => res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'not now'), delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, received, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

const signature = (body: string, secret: string) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

interface WebhookJson {
  id: string;
  url: string;
  events: string[];
  secret: string;
}

interface DeliveryJson {
  id: string;
  event: string;
  jobId: string;
  status: string;
  attempts: number;
  tries: { status: number | null; error: string | null }[];
}

describe('webhooks', { timeout: 600_000 }, () => {
  let dataDir: string;
  let server: TestServer;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let downIsUp = false;
  const env = { DROVER_WEBHOOK_RETRY_BASE_SECONDS: '0.5' };
  const cliAs = (user: string) => (args: string[]) => runCli(args, { env: { DROVER_CONFIG: join(dataDir, `cli-${user}.json`), DROVER_SERVER: server.url } });
  const alice = cliAs('alice');
  const bob = cliAs('bob');
  let aliceToken: string;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'drover-webhooks-'));
    receiver = await startReceiver((path, nth) => (path === '/flaky' ? (nth <= 2 ? 500 : 200) : path === '/down' ? (downIsUp ? 200 : 503) : 200));
  });
  after(async () => {
    await server?.kill('SIGTERM');
    await receiver?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  test('by default, webhooks to loopback and private addresses are refused', async () => {
    server = await startServer({ dataDir, env });
    const admin = cliAs('admin');
    assert.equal((await admin(['login', '-u', 'admin', '-p', ADMIN_PASSWORD])).code, 0);
    for (const name of ['alice', 'bob']) {
      assert.equal((await admin(['user', 'add', name, '--password', `${name}-pw`])).code, 0);
      assert.equal((await cliAs(name)(['login', '-u', name, '-p', `${name}-pw`])).code, 0);
    }
    for (const url of [`${receiver.url}/ok`, 'http://localhost:9/x', 'http://10.1.2.3/x', 'http://192.168.0.10/x', 'http://169.254.169.254/latest', 'http://[::1]:9/x']) {
      const r = await alice(['webhook', 'add', url]);
      assert.equal(r.code, 1, url);
      assert.match(r.stderr, /^error: webhook refused: .*private address.*\n$/, url);
    }
    for (const [args, message] of [
      [['webhook', 'add', 'ftp://example.com/x'], /http:\/\/ or https:\/\//],
      [['webhook', 'add', 'not a url'], /is not a URL/],
      [['webhook', 'add', 'https://example.com/x', '--events', 'job.done,job.started'], /unknown event "job.started"/],
    ] as const) {
      const r = await alice([...args]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, message);
    }
    assert.match((await alice(['webhook', 'list'])).stdout, /no webhooks/, 'nothing half stored');
    await server.kill('SIGTERM');
  });

  test('a signed POST for each job end; a receiver that fails twice gets the third try', async () => {
    server = await startServer({ dataDir, env, args: ['--allow-private-webhooks'] });
    const agent = await startAgent(server, { name: 'hooks-agent' });
    try {
      aliceToken = (JSON.parse(await readFile(join(dataDir, 'cli-alice.json'), 'utf8')) as { token: string }).token;
      const ok = JSON.parse((await alice(['webhook', 'add', `${receiver.url}/ok`, '--events', 'job.done,job.canceled', '--json'])).stdout) as WebhookJson;
      assert.match(ok.id, /^w_/);
      assert.match(ok.secret, /^whsec_/);
      assert.deepEqual(ok.events, ['job.done', 'job.canceled']);
      const flaky = JSON.parse((await alice(['webhook', 'add', `${receiver.url}/flaky`, '--events', 'job.done', '--json'])).stdout) as WebhookJson;
      const listed = await alice(['webhook', 'list', '--json']);
      assert.deepEqual((JSON.parse(listed.stdout) as WebhookJson[]).map((w) => w.id), [ok.id, flaky.id]);
      assert.ok(!listed.stdout.includes(ok.secret), 'the secret is shown once, at creation');

      // Bob sees nothing of Alice's.
      assert.match((await bob(['webhook', 'list'])).stdout, /no webhooks/);
      for (const args of [['webhook', 'deliveries', ok.id], ['webhook', 'remove', ok.id]]) {
        const r = await bob(args);
        assert.equal(r.code, 1);
        assert.match(r.stderr, /does not exist/);
      }

      const run = await alice(['job', 'create', '-n', 'hooked', '-s', 'examples/hello/count_words.py', '-i', 'examples/hello/texts/poem_1.txt', '-r', '-w', '--json']);
      assert.equal(run.code, 0, run.stderr);
      const jobId = (JSON.parse(run.stdout) as { id: string }).id;

      const post = await eventually(async () => receiver.received.find((r) => r.path === '/ok'), 30_000, 'the POST to /ok');
      assert.equal(post.headers['content-type'], 'application/json');
      assert.equal(post.headers['x-drover-event'], 'job.done');
      assert.equal(post.headers['x-drover-signature'], signature(post.body, ok.secret), 'signed with the webhook secret');
      assert.notEqual(post.headers['x-drover-signature'], signature(post.body, flaky.secret));
      const payload = JSON.parse(post.body) as { event: string; time: string; delivery: string; job: Record<string, unknown> };
      assert.equal(payload.event, 'job.done');
      assert.ok(Number.isFinite(Date.parse(payload.time)));
      assert.equal(payload.delivery, post.headers['x-drover-delivery']);
      // The job as `job view --json` shows it.
      const view = JSON.parse((await alice(['job', 'view', jobId, '--json'])).stdout) as Record<string, unknown>;
      assert.deepEqual(Object.keys(payload.job).sort(), Object.keys(view).sort());
      for (const key of ['id', 'name', 'status', 'counts', 'owner', 'finishedAt', 'tasks']) assert.deepEqual(payload.job[key], view[key], key);

      // The flaky receiver: 500, 500, then 200 — the same signed bytes each time.
      await eventually(async () => receiver.received.filter((r) => r.path === '/flaky').length >= 3, 60_000, 'three tries to /flaky');
      const tries = receiver.received.filter((r) => r.path === '/flaky');
      assert.equal(new Set(tries.map((t) => t.body)).size, 1);
      for (const t of tries) assert.equal(t.headers['x-drover-signature'], signature(t.body, flaky.secret));
      const log = await eventually(async () => {
        const d = JSON.parse((await alice(['webhook', 'deliveries', flaky.id, '--json'])).stdout) as DeliveryJson[];
        return d[0]?.status === 'delivered' ? d : null;
      }, 30_000, 'the delivery logged as delivered');
      assert.equal(log.length, 1);
      assert.equal(log[0]!.attempts, 3);
      assert.equal(log[0]!.jobId, jobId);
      assert.deepEqual(log[0]!.tries.map((t) => t.status), [500, 500, 200]);
      assert.match(log[0]!.tries[0]!.error!, /answered 500/);
      const table = await alice(['webhook', 'deliveries', flaky.id]);
      assert.match(table.stdout, new RegExp(`job\\.done\\s+${jobId}\\s+delivered\\s+3`));

      // A job stopped before it ran: job.canceled to /ok, not to /flaky (it asked for job.done only).
      const idle = JSON.parse((await alice(['job', 'create', '-n', 'stopped', '-s', 'examples/hello/count_words.py', '-i', 'examples/hello/texts/poem_2.txt', '--json'])).stdout) as { id: string };
      assert.equal((await alice(['job', 'stop', idle.id])).code, 0);
      const canceled = await eventually(async () => receiver.received.find((r) => r.path === '/ok' && r.headers['x-drover-event'] === 'job.canceled'), 30_000, 'job.canceled');
      assert.equal((JSON.parse(canceled.body) as { job: { id: string; status: string } }).job.id, idle.id);
      assert.equal(receiver.received.filter((r) => r.path === '/flaky').length, 3);
      assert.equal(receiver.received.filter((r) => r.path === '/ok').length, 2, 'each event once');

      // Removed: no more calls, and it is gone from the list.
      assert.equal((await alice(['webhook', 'remove', flaky.id])).code, 0);
      assert.deepEqual((JSON.parse((await alice(['webhook', 'list', '--json'])).stdout) as WebhookJson[]).map((w) => w.id), [ok.id]);
      const audit = JSON.parse((await cliAs('admin')(['audit', '--user', 'alice', '--json'])).stdout) as { action: string; target: string }[];
      assert.ok(audit.some((e) => e.action === 'webhook.add' && e.target === ok.id));
      assert.ok(audit.some((e) => e.action === 'webhook.remove' && e.target === flaky.id));
    } finally {
      await agent.kill('SIGINT');
    }
  });

  test('a delivery still pending when the coordinator stops is delivered after it starts again', async () => {
    const down = JSON.parse((await alice(['webhook', 'add', `${receiver.url}/down`, '--events', 'job.canceled', '--json'])).stdout) as WebhookJson;
    const job = JSON.parse((await alice(['job', 'create', '-n', 'restart', '-s', 'examples/hello/count_words.py', '-i', 'examples/hello/texts/poem_3.txt', '--json'])).stdout) as { id: string };
    assert.equal((await alice(['job', 'stop', job.id])).code, 0);
    await eventually(async () => receiver.received.some((r) => r.path === '/down'), 30_000, 'a first (failing) try');
    await server.kill('SIGTERM');
    downIsUp = true;
    server = await startServer({ dataDir, env, args: ['--allow-private-webhooks'] });
    const delivered = await eventually(async () => {
      const d = (await api<{ deliveries: DeliveryJson[] }>(server.url, aliceToken, 'GET', `/webhooks/${down.id}/deliveries`)).body.deliveries;
      return d[0]?.status === 'delivered' ? d[0] : null;
    }, 60_000, 'the delivery after the restart');
    assert.equal(delivered.jobId, job.id);
    assert.ok(delivered.attempts >= 2);
    const posts = receiver.received.filter((r) => r.path === '/down');
    assert.equal(new Set(posts.map((p) => p.headers['x-drover-delivery'])).size, 1, 'one delivery, tried until it went through');
    assert.equal(posts.at(-1)!.headers['x-drover-signature'], signature(posts.at(-1)!.body, down.secret));
  });
});

const noPostgres = postgresUnavailable();

describe('webhooks with coordinator replicas on PostgreSQL', { skip: noPostgres ?? false, timeout: 600_000 }, () => {
  let pg: TestPostgres;
  let shared: string;
  let replicas: TestServer[] = [];
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  before(async () => {
    pg = await startPostgres();
    shared = await mkdtemp(join(tmpdir(), 'drover-hooks-pg-'));
    // A slow receiver, so both replicas poll while deliveries are in flight.
    receiver = await startReceiver(() => 200, 300);
  });
  after(async () => {
    await Promise.all(replicas.map((r) => r.kill('SIGTERM')));
    await receiver?.close();
    await pg?.stop();
    if (shared) await rm(shared, { recursive: true, force: true });
  });

  test('each event is delivered once, whichever replica sends it', async () => {
    const tokenFile = join(shared, 'agent-token');
    const args = ['--db', pg.url, '--blobs', join(shared, 'blobs'), '--join-token-file', tokenFile, '--allow-private-webhooks'];
    replicas = await Promise.all([startServer({ args, joinTokenFile: tokenFile }), startServer({ args, joinTokenFile: tokenFile })]);
    const [a, b] = replicas as [TestServer, TestServer];
    const token = (await api<{ token: string }>(a.url, null, 'POST', '/auth/login', { username: 'admin', password: ADMIN_PASSWORD })).body.token;
    const hook = await api<WebhookJson>(b.url, token, 'POST', '/webhooks', { url: `${receiver.url}/hook`, events: ['job.canceled'] });
    assert.equal(hook.status, 201, JSON.stringify(hook.body));
    const sha = createHash('sha256').update('print(1)\n').digest('hex');
    const upload = await fetch(`${a.url}/api/v1/blobs/${sha}`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' }, body: 'print(1)\n' });
    assert.ok(upload.ok);
    const jobs: string[] = [];
    for (let i = 0; i < 8; i++) {
      const created = await api<{ id: string }>(a.url, token, 'POST', '/jobs', { kind: 'script', name: `j${i}`, script: { name: 's.py', sha256: sha }, inputs: [{ name: 'in.txt', sha256: sha }] });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      // Stopped through either replica.
      assert.equal((await api(i % 2 ? a.url : b.url, token, 'POST', `/jobs/${created.body.id}/stop`)).status, 200);
      jobs.push(created.body.id);
    }
    await eventually(async () => new Set(receiver.received.map((r) => (JSON.parse(r.body) as { job: { id: string } }).job.id)).size === jobs.length, 60_000, 'every job end delivered');
    // Both replicas kept polling for a while more: still nothing twice.
    await new Promise((r) => setTimeout(r, 3000));
    const ids = receiver.received.map((r) => r.headers['x-drover-delivery']);
    assert.equal(ids.length, jobs.length, `deliveries: ${ids.join(', ')}`);
    assert.equal(new Set(ids).size, jobs.length);
    for (const r of receiver.received) assert.equal(r.headers['x-drover-signature'], signature(r.body, hook.body.secret));
  });
});
