// Two coordinator replicas on one PostgreSQL database, one shared blob directory and one join token
// file, with agents that know both: a job submitted through replica A finishes through replica B
// after A is killed, B's event stream hears of A's work (LISTEN/NOTIFY), and /metrics reports it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN_PASSWORD, type CliOptions, type TestServer, api, eventually, runCli, startAgent, startServer } from '../helpers/farm.js';
import { postgresUnavailable, startPostgres, type TestPostgres } from '../helpers/postgres.js';

const unavailable = postgresUnavailable();

const SCRIPT = `
import os, sys, time
data = open(sys.argv[1]).read()
time.sleep(1.2)
os.makedirs('run-result', exist_ok=True)
open('run-result/upper.txt', 'w').write(data.upper())
print('did', sys.argv[1])
`;

interface JobJson {
  id: string;
  status: string;
  counts: Record<string, number>;
}

/** Reads a server-sent event stream until `stop` says so; returns every (event, data) seen. */
async function followEvents(url: string, token: string, signal: AbortSignal, onEvent: (event: string, data: unknown) => boolean): Promise<void> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal });
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event && data && onEvent(event, JSON.parse(data))) return;
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

describe('coordinator replicas on PostgreSQL', { timeout: 280_000, ...(unavailable ? { skip: unavailable } : {}) }, () => {
  let pg: TestPostgres;
  let shared: string;
  let replicaA: TestServer;
  let replicaB: TestServer;
  const agents: Awaited<ReturnType<typeof startAgent>>[] = [];

  before(async () => {
    pg = await startPostgres();
    shared = await mkdtemp(join(tmpdir(), 'drover-shared-'));
    const tokenFile = join(shared, 'agent-token');
    const args = ['--db', pg.url, '--blobs', join(shared, 'blobs'), '--join-token-file', tokenFile];
    // Both start at once: migrations, the admin account and the join token must not race.
    [replicaA, replicaB] = await Promise.all([startServer({ args, joinTokenFile: tokenFile }), startServer({ args, joinTokenFile: tokenFile })]);
  });

  after(async () => {
    await Promise.all(agents.map((a) => a.kill('SIGKILL')));
    await replicaA?.kill('SIGKILL');
    await replicaB?.kill('SIGTERM');
    await pg?.stop();
    if (!process.env.DROVER_KEEP_TEST_DATA) {
      for (const dir of [shared, replicaA?.dataDir, replicaB?.dataDir]) if (dir) await rm(dir, { recursive: true, force: true });
    }
  });

  test('a job submitted through A completes through B after A is killed; B streams it and serves the results', async () => {
    assert.equal(replicaA.joinToken, replicaB.joinToken, 'both replicas use the shared join token');
    assert.match(replicaA.output() + replicaB.output(), /store: PostgreSQL/);
    assert.doesNotMatch(replicaA.output() + replicaB.output(), /postgres:\/\//, 'the database URL is never printed');

    // Agents know both replicas; they talk to A (the first) until it fails.
    const both = { url: `${replicaA.url},${replicaB.url}`, joinToken: replicaA.joinToken, dataDir: shared };
    agents.push(...(await Promise.all(['agent-1', 'agent-2'].map((name) => startAgent(both, { name, slots: 1, extraArgs: ['--no-sandbox'] })))));

    const configFile = join(replicaA.dataDir, 'cli.json');
    const cliOn = (server: TestServer) => (args: string[], o: CliOptions = {}) => runCli(args, { ...o, env: { DROVER_CONFIG: configFile, DROVER_SERVER: server.url, ...o.env } });
    const viaA = cliOn(replicaA);
    const viaB = cliOn(replicaB);
    const login = await viaA(['login', '-u', 'admin', '-p', ADMIN_PASSWORD]);
    assert.equal(login.code, 0, login.stderr);
    const token = (JSON.parse(await readFile(configFile, 'utf8')) as { token: string }).token;

    const ws = await mkdtemp(join(tmpdir(), 'drover-ws-'));
    await writeFile(join(ws, 'upper.py'), SCRIPT);
    await mkdir(join(ws, 'data'));
    const TASKS = 8;
    for (let i = 1; i <= TASKS; i++) await writeFile(join(ws, 'data', `part_${i}.txt`), `part ${i} of the job\n`);
    const created = await viaA(['job', 'create', '-n', 'replicated', '-s', join(ws, 'upper.py'), '-i', join(ws, 'data/part_*.txt'), '-r', '--json']);
    assert.equal(created.code, 0, created.stderr);
    const job = JSON.parse(created.stdout) as JobJson;
    const submittedAt = Date.now();

    // B's event stream, opened before anything ran: all agent traffic goes to A, so whatever B
    // hears about the tasks reached it through LISTEN/NOTIFY.
    const streamAbort = new AbortController();
    const seenOnB: { event: string; status: string; at: number }[] = [];
    let finalOnB: JobJson | null = null;
    const streaming = followEvents(`${replicaB.url}/api/v1/jobs/${job.id}/events`, token, streamAbort.signal, (event, data) => {
      const status = (data as { status: string }).status;
      seenOnB.push({ event, status, at: Date.now() });
      if (event === 'job' && status === 'done') {
        finalOnB = data as JobJson;
        return true;
      }
      return false;
    }).catch((err: Error) => {
      if (err.name !== 'AbortError') throw err;
    });

    // B must hear of tasks that A completed, then A is killed mid-job.
    await eventually(async () => seenOnB.some((e) => e.event === 'task' && e.status === 'done'), 60_000, 'replica B to stream a task completed through replica A');
    const { body: before } = await api<JobJson>(replicaB.url, token, 'GET', `/jobs/${job.id}`);
    assert.ok((before.counts.done ?? 0) < TASKS, 'the job is still running when A is killed');
    const killedAt = Date.now();
    console.log(`[replicas] killing replica A ${killedAt - submittedAt} ms after the job was submitted`);
    await replicaA.kill('SIGKILL');

    let timer: NodeJS.Timeout | undefined;
    await Promise.race([streaming, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('B never streamed the job as done')), 90_000)))]);
    clearTimeout(timer);
    console.log(`[replicas] the job ended ${Date.now() - killedAt} ms after replica A was killed`);
    assert.equal(finalOnB!.status, 'done');
    assert.equal(finalOnB!.counts.done, TASKS);

    // The agents moved to B; the results (written by both replicas into the shared blob directory) download from B.
    const out = await mkdtemp(join(tmpdir(), 'drover-results-'));
    const dl = await viaB(['job', 'download-results', job.id, '-d', out]);
    assert.equal(dl.code, 0, dl.stderr);
    for (let i = 1; i <= TASKS; i++) {
      const folder = join(out, job.id, `task-${String(i).padStart(4, '0')}`);
      assert.equal(await readFile(join(folder, 'upper.txt'), 'utf8'), `PART ${i} OF THE JOB\n`);
      assert.equal(await readFile(join(folder, 'stdout.txt'), 'utf8'), `did part_${i}.txt\n`);
    }
    const workers = await api<{ workers: { name: string; status: string }[] }>(replicaB.url, token, 'GET', '/workers');
    assert.deepEqual(workers.body.workers.map((w) => [w.name, w.status]).sort(), [['agent-1', 'online'], ['agent-2', 'online']]);

    // A second job through B alone, followed with --wait: B keeps the farm going by itself.
    const again = await viaB(['job', 'create', '-n', 'after-failover', '-s', join(ws, 'upper.py'), '-i', join(ws, 'data/part_1.txt'), '-w', '--json']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal((JSON.parse(again.stdout) as JobJson).status, 'done');
    await rm(out, { recursive: true, force: true });
    await rm(ws, { recursive: true, force: true });
  });

  test('/metrics on the surviving replica names the farm, its tasks and its requests', async () => {
    const res = await fetch(`${replicaB.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const value = (series: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      assert.ok(line, `no series ${series} in:\n${text}`);
      return Number(line.slice(series.length + 1));
    };
    for (const family of ['drover_tasks', 'drover_agents', 'drover_jobs', 'drover_task_attempt_duration_seconds', 'drover_http_request_duration_seconds']) {
      assert.match(text, new RegExp(`^# TYPE ${family} (gauge|histogram)$`, 'm'));
    }
    assert.equal(value('drover_jobs{status="done"}'), 2);
    assert.equal(value('drover_jobs{status="running"}'), 0);
    assert.equal(value('drover_agents{status="online"}'), 2);
    assert.equal(value('drover_tasks{instance_type="s",status="queued"}'), 0);
    assert.equal(value('drover_tasks{instance_type="s",status="running"}'), 0);
    const doneCount = value('drover_task_attempt_duration_seconds_count{status="done"}');
    assert.ok(doneCount >= 9, `9 successful attempts at least, got ${doneCount}`);
    assert.equal(value('drover_task_attempt_duration_seconds_bucket{status="done",le="+Inf"}'), doneCount);
    // Every task slept 1.2 s: none is in the 1 s bucket, all are within 15 s.
    assert.equal(value('drover_task_attempt_duration_seconds_bucket{status="done",le="1"}'), 0);
    assert.equal(value('drover_task_attempt_duration_seconds_bucket{status="done",le="15"}'), doneCount);
    assert.ok(value('drover_task_attempt_duration_seconds_sum{status="done"}') >= doneCount * 1.2);
    // Request latency is labelled by route pattern, never by a concrete id.
    assert.match(text, /^drover_http_request_duration_seconds_count\{method="POST",route="\/api\/v1\/agent\/heartbeat",status="200"\} \d+$/m);
    assert.doesNotMatch(text, /route="[^"]*j_[A-Za-z0-9]/);
  });
});
