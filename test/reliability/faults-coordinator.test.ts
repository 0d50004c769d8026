// The coordinator killed and restarted, stopped on SIGTERM, and out of disk: nothing a user
// submitted is lost, and the store stays whole.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { connect } from 'node:net';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ManagedProcess, api, eventually, startAgent, startServer } from '../helpers/farm.js';
import { type JobJson, adminCli, attemptsOf, fileText, loginToken, makeWorkspace, openStore, tasksOf, waitForJobStatus, type ResultsJson } from '../helpers/reliability.js';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

const sha256Hex = (text: string) => createHash('sha256').update(text).digest('hex');

function integrityOk(dataDir: string): boolean {
  const db = openStore(dataDir);
  try {
    return (db.pragma('integrity_check', { simple: true }) as string) === 'ok';
  } finally {
    db.close();
  }
}

const WORK = `echo "attempt $DROVER_ATTEMPT"\nsleep 3\nmkdir -p run-result\necho "done $(cat "$1")" > run-result/out.txt\n`;

describe('coordinator faults', { timeout: 400_000 }, () => {
  test('the coordinator killed with SIGKILL mid-job and restarted: agents reconnect, the job completes, nothing is lost', async () => {
    let server = await startServer({ leaseSeconds: 4 });
    const { dataDir } = server;
    const port = Number(new URL(server.url).port);
    const agents: ManagedProcess[] = [];
    cleanups.push(async () => {
      await Promise.all(agents.map((a) => a.kill('SIGKILL')));
      await server.kill('SIGKILL');
      await rm(dataDir, { recursive: true, force: true });
    });
    agents.push(await startAgent(server, { name: 'a1' }), await startAgent(server, { name: 'a2' }));
    const cli = await adminCli(server, dataDir);
    const ws = await makeWorkspace({ 'work.sh': WORK, ...Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`in/${i + 1}.txt`, `input ${i + 1}`])) });
    const created = await cli(['job', 'create', '-n', 'survives-restart', '-s', join(ws, 'work.sh'), '-i', join(ws, 'in/*.txt'), '-r', '--json']);
    assert.equal(created.code, 0, created.stderr);
    const job = JSON.parse(created.stdout) as JobJson;
    let token = await loginToken(server.url, 'admin', server.adminPassword);
    const runningAtKill = await eventually(async () => {
      const running = (await tasksOf(server.url, token, job.id)).filter((t) => t.status === 'running');
      return running.length === 2 ? running : null;
    }, 30_000, 'two tasks to run');

    await server.kill('SIGKILL');
    // Down for longer than a lease: the leases ran out meanwhile, yet the agents must get to keep them.
    await new Promise((r) => setTimeout(r, 5000));
    server = await startServer({ dataDir, port });
    assert.equal(server.url, `http://127.0.0.1:${port}`);
    token = await loginToken(server.url, 'admin', server.adminPassword);

    await waitForJobStatus(server.url, token, job.id, 'done', 120_000);
    const results = (await api<ResultsJson>(server.url, token, 'GET', `/jobs/${job.id}/results`)).body;
    assert.equal(results.tasks.length, 5);
    for (const t of results.tasks) {
      assert.deepEqual(t.files.map((f) => f.path).sort(), ['out.txt', 'stderr.txt', 'stdout.txt']);
      const out = t.files.find((f) => f.path === 'out.txt')!;
      assert.equal(await fileText(server.url, token, job.id, out.sha256), `done input ${t.index}\n`);
      const attempts = await attemptsOf(server.url, token, t.id);
      assert.equal(attempts.filter((a) => a.status === 'done').length, 1);
    }
    // The tasks that were running when the coordinator died carried on: no attempt was wasted.
    for (const t of runningAtKill) {
      const attempts = await attemptsOf(server.url, token, t.id);
      assert.deepEqual(attempts.map((a) => a.status), ['done'], `task ${t.index}: ${JSON.stringify(attempts)}`);
    }
    assert.ok(integrityOk(dataDir));
  });

  test('the coordinator shuts down cleanly on SIGTERM, even with open event streams and waiting agents', async () => {
    let server = await startServer({ leaseSeconds: 4 });
    const { dataDir } = server;
    const port = Number(new URL(server.url).port);
    const agent = await startAgent(server, { name: 'waiting' });
    cleanups.push(async () => {
      await agent.kill('SIGKILL');
      await server.kill('SIGKILL');
      await rm(dataDir, { recursive: true, force: true });
    });
    const cli = await adminCli(server, dataDir);
    const ws = await makeWorkspace({ 'q.sh': 'echo quick\n', 'x.txt': 'x' });
    const done = await cli(['job', 'create', '-n', 'before-stop', '-s', join(ws, 'q.sh'), '-i', join(ws, 'x.txt'), '-w', '--json']);
    assert.equal(done.code, 0, done.stderr);
    const job = JSON.parse(done.stdout) as JobJson;
    const token = await loginToken(server.url, 'admin', server.adminPassword);
    // An open SSE stream and the agent's long-poll must not hold the shutdown up.
    const events = new AbortController();
    const stream = await fetch(`${server.url}/api/v1/jobs/${job.id}/events`, { headers: { authorization: `Bearer ${token}` }, signal: events.signal });
    assert.equal(stream.status, 200);
    // And a client whose upload stopped halfway: its body never comes, yet the coordinator stops
    // (requests under way get a few seconds, then their connections are cut).
    const stuck = connect(port, '127.0.0.1');
    cleanups.push(async () => void stuck.destroy());
    await once(stuck, 'connect');
    stuck.write(`PUT /api/v1/blobs/${sha256Hex('never all sent')} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\n${'x'.repeat(10)}`);
    await eventually(async () => stuck.bytesWritten > 0, 5_000, 'the half upload to be sent');
    const exited = server.kill('SIGTERM');
    await eventually(async () => server.proc.exitCode !== null || server.proc.signalCode !== null, 30_000, 'the coordinator to exit');
    await exited;
    events.abort();
    assert.equal(server.proc.exitCode, 0, server.output());
    assert.ok(integrityOk(dataDir));
    // It starts again on the same data, and the agent finds it.
    server = await startServer({ dataDir, port });
    const again = await loginToken(server.url, 'admin', server.adminPassword);
    assert.equal((await api<JobJson>(server.url, again, 'GET', `/jobs/${job.id}`)).body.status, 'done');
    const next = await cli(['job', 'create', '-n', 'after-restart', '-s', join(ws, 'q.sh'), '-i', join(ws, 'x.txt'), '-w']);
    assert.equal(next.code, 0, next.stderr);
  });

  test('a whole farm connecting at once is queued for accept(), not dropped (listen backlog)', async () => {
    const server = await startServer();
    cleanups.push(async () => {
      await server.kill('SIGKILL');
      await rm(server.dataDir, { recursive: true, force: true });
    });
    // After a restart or a job start 1,000 agents connect in one burst: with Node's default queue
    // (511) the kernel dropped the rest of their SYNs, and each such agent waited 1-3 s for its TCP
    // retry. For a listening socket `ss` shows the accept queue's size as Send-Q.
    const port = new URL(server.url).port;
    const [line] = execFileSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' }).trim().split('\n');
    const backlog = Number(line!.trim().split(/\s+/)[2]);
    const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
    assert.equal(backlog, Math.min(4096, somaxconn), line);
    assert.ok(backlog > 1000 || somaxconn <= 1000, `accept queue of ${backlog}`);
  });

  test('the disk fills while results are stored: a clear error, the task is retried, the store is not corrupted', async (t) => {
    // The coordinator's data directory on a small tmpfs, so the disk really fills (ENOSPC).
    const mountPoint = await mkdtemp(join(tmpdir(), 'drover-smalldisk-'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=12m', 'tmpfs', mountPoint]);
    } catch {
      await rm(mountPoint, { recursive: true, force: true });
      t.skip('cannot mount a tmpfs here (needs root)');
      return;
    }
    const dataDir = join(mountPoint, 'data');
    await mkdir(dataDir);
    const agentDir = await mkdtemp(join(tmpdir(), 'drover-agent-'));
    // No reserve: the real ENOSPC path is what is under test.
    const server = await startServer({ dataDir, leaseSeconds: 4, env: { DROVER_MIN_FREE_BYTES: '0' } });
    const agent = await startAgent(server, { name: 'producer', workDir: agentDir });
    cleanups.push(async () => {
      await agent.kill('SIGKILL');
      await server.kill('SIGKILL');
      execFileSync('umount', [mountPoint]);
      await rm(mountPoint, { recursive: true, force: true });
      await rm(agentDir, { recursive: true, force: true });
    });
    const cli = await adminCli(server, agentDir);
    const token = await loginToken(server.url, 'admin', server.adminPassword);
    // A chunked upload (no size announced) that outgrows the disk: the real ENOSPC path.
    const big = randomBytes(20 * 1024 * 1024);
    const sha = createHash('sha256').update(big).digest('hex');
    const chunks = Array.from({ length: 20 }, (_, i) => big.subarray(i * 1024 * 1024, (i + 1) * 1024 * 1024));
    const put = await fetch(`${server.url}/api/v1/blobs/${sha}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
      body: Readable.toWeb(Readable.from(chunks)) as ReadableStream,
      duplex: 'half',
    } as RequestInit).catch((err: Error) => err);
    if (put instanceof Error) assert.fail(`the upload got no answer: ${put.message}`);
    assert.equal(put.status, 507);
    assert.match(((await put.json()) as { error: { message: string } }).error.message, /out of disk space/);
    assert.deepEqual(await readdir(join(dataDir, 'blobs', 'tmp')), []);
    assert.deepEqual((await api<{ missing: string[] }>(server.url, token, 'POST', '/blobs/missing', { hashes: [sha] })).body.missing, [sha]);
    // The first attempt makes a result larger than the whole disk; the retry a small one.
    const ws = await makeWorkspace({
      'big.sh': 'mkdir -p run-result\nif [ "$DROVER_ATTEMPT" = 1 ]; then head -c 20000000 /dev/urandom > run-result/big.bin; else echo small > run-result/small.txt; fi\necho "attempt $DROVER_ATTEMPT"\n',
      'x.txt': 'x',
    });
    const created = await cli(['job', 'create', '-n', 'fills-disk', '-s', join(ws, 'big.sh'), '-i', join(ws, 'x.txt'), '-r', '--json']);
    assert.equal(created.code, 0, created.stderr);
    const job = JSON.parse(created.stdout) as JobJson;
    await waitForJobStatus(server.url, token, job.id, 'done', 120_000);
    const [task] = await tasksOf(server.url, token, job.id);
    const attempts = await attemptsOf(server.url, token, task!.id);
    assert.equal(attempts.length, 2, JSON.stringify(attempts));
    assert.equal(attempts[0]!.status, 'error');
    assert.match(attempts[0]!.error ?? '', /disk space|disk free/);
    assert.equal(attempts[1]!.status, 'done');
    const results = (await api<ResultsJson>(server.url, token, 'GET', `/jobs/${job.id}/results`)).body;
    assert.deepEqual(results.tasks[0]!.files.map((f) => f.path).sort(), ['small.txt', 'stderr.txt', 'stdout.txt']);
    // No half-written blob is left behind, and the database is whole.
    assert.deepEqual(await readdir(join(dataDir, 'blobs', 'tmp')), []);
    assert.ok(integrityOk(dataDir));
    assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
  });
});
