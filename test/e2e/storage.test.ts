// Deleting jobs gives their storage back: the blobs no other job, upload or claim refers to are
// removed from disk and from S3, shared ones stay and still download byte for byte, a user about to
// use content another user's deleted job had loses nothing, and a crash's leftovers go at start.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN_PASSWORD, type CliResult, type Farm, api, eventually, runCli, startAgent, startFarm, startServer } from '../helpers/farm.js';
import { makeWorkspace as workspace } from '../helpers/reliability.js';
import { type TestS3, startS3 } from '../helpers/s3.js';
import { postgresUnavailable, startPostgres } from '../helpers/postgres.js';

const sha = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
/** Seconds a claim (a missing-check, an upload) protects a blob in these tests. */
const GRACE_SECONDS = 6;
const pastGrace = () => new Promise((r) => setTimeout(r, GRACE_SECONDS * 1000 + 500));

interface JobJson {
  id: string;
  status: string;
}
interface ResultsJson {
  files: { path: string; sha256: string; size: number }[];
}
type Cli = (args: string[]) => Promise<CliResult>;

// Every job writes its own upper-cased input and one file that is the same in every job.
const SCRIPT = `mkdir -p run-result
tr a-z A-Z < "$1" > run-result/own.txt
for i in $(seq 1 2000); do echo "the same in every job"; done > run-result/shared.txt
echo "did $(basename "$1")"
`;

/** Bytes of the blobs in a disk blob store (its tmp/ aside). */
async function diskBytes(root: string): Promise<number> {
  let total = 0;
  for (const dir of await readdir(root).catch(() => [] as string[])) {
    if (!/^[0-9a-f]{2}$/.test(dir)) continue;
    for (const f of await readdir(join(root, dir))) total += (await stat(join(root, dir, f))).size;
  }
  return total;
}

/**
 * Two jobs sharing their script and a result; deleting the first frees exactly what only it used,
 * measured by `storedBytes`; the second's results still download, each file sha256-correct.
 */
async function deleteSharedScenario(cli: Cli, storedBytes: () => Promise<number>, api_: { url: string; token: string }): Promise<void> {
  const inputA = `only in job A ${randomBytes(20_000).toString('hex')}\n`;
  const inputB = `only in job B ${randomBytes(2_000).toString('hex')}\n`;
  const ws = await workspace({ 'work.sh': SCRIPT, 'a/in-a.txt': inputA, 'b/in-b.txt': inputB });
  const run = async (name: string, input: string) => {
    const r = await cli(['job', 'create', '-n', name, '-s', join(ws, 'work.sh'), '-i', join(ws, input), '-w', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const job = JSON.parse(r.stdout) as JobJson;
    assert.equal(job.status, 'done');
    return job;
  };
  const a = await run('shared-a', 'a/in-a.txt');
  const b = await run('shared-b', 'b/in-b.txt');
  const results = async (id: string) => (await api<ResultsJson>(api_.url, api_.token, 'GET', `/jobs/${id}/results`)).body.files;
  const used = new Map<string, number>();
  const aFiles = [...(await results(a.id)), { sha256: sha(inputA), size: Buffer.byteLength(inputA) }];
  const bShas = new Set([...(await results(b.id)).map((f) => f.sha256), sha(inputB), sha(SCRIPT)]);
  for (const f of aFiles) if (!bShas.has(f.sha256)) used.set(f.sha256, f.size);
  const onlyA = [...used.values()].reduce((n, s) => n + s, 0);
  assert.ok(onlyA > 40_000, `job A alone uses its input and results (${onlyA} bytes)`);
  assert.ok(aFiles.some((f) => bShas.has(f.sha256)), 'the jobs share blobs');

  await pastGrace();
  const before = await storedBytes();
  const del = await cli(['job', 'delete', a.id, '--json']);
  assert.equal(del.code, 0, del.stderr);
  assert.deepEqual(JSON.parse(del.stdout), { action: 'delete', results: [{ id: a.id, ok: true, status: 'deleted', archived: false, error: null }] });
  assert.match((await cli(['job', 'view', a.id])).stderr, new RegExp(`job ${a.id} does not exist`));
  const audited = JSON.parse((await cli(['audit', '--action', 'job.delete', '--json'])).stdout) as { target: string }[];
  assert.ok(audited.some((e) => e.target === a.id), 'the deletion is in the audit log');
  // Collected right after the deletion; exactly what only job A used.
  await eventually(async () => (await storedBytes()) === before - onlyA, 20_000, `the stored bytes to go down by ${onlyA}`);
  const collect = JSON.parse((await cli(['storage', 'collect', '--json'])).stdout) as { blobs: number };
  assert.equal(collect.blobs, 0, 'nothing else was collectable');
  assert.equal(await storedBytes(), before - onlyA);

  // Job B is whole: every result downloads and matches its sha256.
  const out = await mkdtemp(join(tmpdir(), 'drover-results-'));
  const dl = await cli(['job', 'download-results', b.id, '-d', out]);
  assert.equal(dl.code, 0, dl.stderr);
  for (const f of await results(b.id)) assert.equal(sha(await readFile(join(out, b.id, f.path))), f.sha256, f.path);
  assert.equal(await readFile(join(out, b.id, 'task-0001', 'own.txt'), 'utf8'), inputB.toUpperCase());
}

describe('deleting jobs and collecting their blobs (disk)', { timeout: 600_000 }, () => {
  let farm: Farm;
  before(async () => {
    farm = await startFarm({ agents: 1, env: { DROVER_COLLECT_GRACE_SECONDS: String(GRACE_SECONDS) } });
  });
  after(async () => farm?.stop());

  test('deleting a job frees what only it used; a job sharing its blobs keeps them, sha256-correct', async () => {
    await deleteSharedScenario(farm.cli, () => diskBytes(join(farm.dataDir, 'blobs')), { url: farm.url, token: await farm.adminToken() });
  });

  test('only the owner (or an admin) deletes a job; a running one must be stopped first', async () => {
    const alice = await farm.userCli('alice');
    const ws = await workspace({ 'slow.sh': 'sleep 60\n', 'in.txt': 'x' });
    const r = await alice(['job', 'create', '-n', 'alices', '-s', join(ws, 'slow.sh'), '-i', join(ws, 'in.txt'), '-r', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const job = JSON.parse(r.stdout) as JobJson;
    const bob = await farm.userCli('bob');
    const refused = await bob(['job', 'delete', job.id]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`job ${job.id} does not exist`));
    const bobToken = JSON.parse(await readFile(join(farm.dataDir, 'cli-bob.json'), 'utf8')).token as string;
    assert.equal((await api(farm.url, bobToken, 'DELETE', `/jobs/${job.id}`)).status, 404);
    assert.equal((await api(farm.url, bobToken, 'GET', '/storage')).status, 403);
    const running = await alice(['job', 'delete', job.id]);
    assert.equal(running.code, 1);
    assert.match(running.stderr, /stop it first/);
    assert.equal((await alice(['job', 'stop', job.id])).code, 0);
    const del = await alice(['job', 'delete', '--name-contains', 'alices']);
    assert.equal(del.code, 0, del.stderr);
    assert.match(del.stdout, new RegExp(`job ${job.id}: deleted`));
  });

  test('a user about to use content that a deleted job of another user had loses nothing', async () => {
    const alice = await farm.userCli('alice');
    const content = `content both users have ${randomBytes(8_000).toString('hex')}\n`;
    const hash = sha(content);
    const ws = await workspace({ 'work.sh': SCRIPT, 'in/same.txt': content });
    const made = await alice(['job', 'create', '-n', 'alice-same', '-s', join(ws, 'work.sh'), '-i', join(ws, 'in/same.txt'), '-w', '--json']);
    assert.equal(made.code, 0, made.stderr);
    const aliceJob = JSON.parse(made.stdout) as JobJson;

    // Bob uploaded the same content long ago: it is his too, so his next submission sends nothing.
    await farm.userCli('bob');
    const bobToken = JSON.parse(await readFile(join(farm.dataDir, 'cli-bob.json'), 'utf8')).token as string;
    const put = await fetch(`${farm.url}/api/v1/blobs/${hash}`, { method: 'PUT', headers: { authorization: `Bearer ${bobToken}`, 'content-type': 'application/octet-stream' }, body: content });
    assert.equal(put.status, 201);
    const script = await fetch(`${farm.url}/api/v1/blobs/${sha(SCRIPT)}`, { method: 'PUT', headers: { authorization: `Bearer ${bobToken}`, 'content-type': 'application/octet-stream' }, body: SCRIPT });
    assert.equal(script.status, 201);
    await pastGrace();

    // Bob's submission starts: the farm tells him it has both files...
    const missing = await api<{ missing: string[] }>(farm.url, bobToken, 'POST', '/blobs/missing', { hashes: [hash, sha(SCRIPT)] });
    assert.deepEqual(missing.body.missing, []);
    // ...and meanwhile Alice deletes the only job that used them, and the farm collects (through the
    // API: well within the grace period Bob's question started).
    const aliceToken = JSON.parse(await readFile(join(farm.dataDir, 'cli-alice.json'), 'utf8')).token as string;
    assert.equal((await api(farm.url, aliceToken, 'DELETE', `/jobs/${aliceJob.id}`)).status, 200);
    assert.equal((await api(farm.url, await farm.adminToken(), 'POST', '/storage/collect')).status, 200);
    assert.ok(await stat(join(farm.dataDir, 'blobs', hash.slice(0, 2), hash.slice(2))), 'the content Bob is about to use is kept');

    // Bob's job is created from what the farm said it has, runs, and delivers the right result.
    const job = await api<JobJson>(farm.url, bobToken, 'POST', '/jobs', { kind: 'script', name: 'bob-same', script: { name: 'work.sh', sha256: sha(SCRIPT) }, inputs: [{ name: 'same.txt', sha256: hash }], start: true });
    assert.equal(job.status, 201, JSON.stringify(job.body));
    const done = await eventually(async () => {
      const v = await api<JobJson>(farm.url, bobToken, 'GET', `/jobs/${job.body.id}`);
      return v.body.status === 'done' || v.body.status === 'error' ? v.body : null;
    }, 60_000, "Bob's job to end");
    assert.equal(done.status, 'done');
    const files = (await api<ResultsJson>(farm.url, bobToken, 'GET', `/jobs/${job.body.id}/results`)).body.files;
    const own = files.find((f) => f.path.endsWith('own.txt'))!;
    assert.equal(own.sha256, sha(content.toUpperCase()));
    const bytes = Buffer.from(await (await fetch(`${farm.url}/api/v1/jobs/${job.body.id}/files/${own.sha256}`, { headers: { authorization: `Bearer ${bobToken}` } })).arrayBuffer());
    assert.equal(sha(bytes), own.sha256);
  });

  test('drover storage shows bytes per user and what collection would free', async () => {
    const r = await farm.cli(['storage', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const view = JSON.parse(r.stdout) as { total: { bytes: number; blobs: number }; users: { user: string; bytes: number; jobs: number }[]; collectable: { blobs: number; bytes: number; graceSeconds: number } };
    assert.equal(view.total.bytes, await diskBytes(join(farm.dataDir, 'blobs')));
    const bob = view.users.find((u) => u.user === 'bob')!;
    assert.ok(bob.bytes > 16_000 && bob.jobs === 1, JSON.stringify(bob));
    assert.equal(view.collectable.graceSeconds, GRACE_SECONDS);
    const text = await farm.cli(['storage']);
    assert.match(text.stdout, /^bob\s+1\s+0\s+\d+/m);
    assert.match(text.stdout, /collection would free/);
  });
});

describe('deleting jobs and collecting their blobs (S3)', { timeout: 600_000 }, () => {
  let s3: TestS3;
  let stop: () => Promise<void>;
  let cli: Cli;
  let url: string;
  let token: string;
  const prefix = 'gc';
  before(async () => {
    s3 = await startS3();
    const env = { ...s3.env, DROVER_COLLECT_GRACE_SECONDS: String(GRACE_SECONDS) };
    const server = await startServer({ args: ['--blobs', `s3://${s3.bucket}/${prefix}`], env });
    const agent = await startAgent(server, { name: 's3-gc-agent', extraArgs: ['--no-sandbox'] });
    const configFile = join(server.dataDir, 'cli.json');
    cli = (args) => runCli(args, { env: { DROVER_CONFIG: configFile, DROVER_SERVER: server.url } });
    assert.equal((await cli(['login', '-u', 'admin', '-p', ADMIN_PASSWORD])).code, 0);
    url = server.url;
    token = (JSON.parse(await readFile(configFile, 'utf8')) as { token: string }).token;
    stop = async () => {
      await agent.kill('SIGINT');
      await server.kill('SIGTERM');
      await s3.stop();
    };
  });
  after(async () => stop?.());

  test('the bytes in the bucket go down by what only the deleted job used', async () => {
    const bucketBytes = async () => (await s3.list(`${prefix}/`)).reduce((n, o) => n + o.size, 0);
    await deleteSharedScenario(cli, bucketBytes, { url, token });
  });
});

describe('deleting jobs and collecting their blobs (two replicas on PostgreSQL)', { timeout: 600_000, skip: postgresUnavailable() ?? false }, () => {
  const stops: (() => Promise<void>)[] = [];
  after(async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  });

  test('replicas share the store and the blob directory: collections on both at once remove exactly what only the deleted job used', async () => {
    const pg = await startPostgres();
    stops.push(() => pg.stop());
    const shared = await mkdtemp(join(tmpdir(), 'drover-shared-'));
    const tokenFile = join(shared, 'agent-token');
    const args = ['--db', pg.url, '--blobs', join(shared, 'blobs'), '--join-token-file', tokenFile];
    const env = { DROVER_COLLECT_GRACE_SECONDS: String(GRACE_SECONDS) };
    const [a, b] = await Promise.all([startServer({ args, joinTokenFile: tokenFile, env }), startServer({ args, joinTokenFile: tokenFile, env })]);
    stops.push(() => a.kill('SIGTERM'), () => b.kill('SIGTERM'));
    const agent = await startAgent({ url: `${a.url},${b.url}`, joinToken: a.joinToken, dataDir: shared }, { name: 'pg-gc-agent', extraArgs: ['--no-sandbox'] });
    stops.push(() => agent.kill('SIGINT'));
    const configFile = join(a.dataDir, 'cli.json');
    const cli: Cli = (argv) => runCli(argv, { env: { DROVER_CONFIG: configFile, DROVER_SERVER: a.url } });
    assert.equal((await cli(['login', '-u', 'admin', '-p', ADMIN_PASSWORD])).code, 0);
    const token = (JSON.parse(await readFile(configFile, 'utf8')) as { token: string }).token;
    // Both replicas collect while the scenario deletes through A (A also collects after the deletion).
    let collecting = true;
    const collections: Promise<unknown>[] = [];
    const keepCollecting = async () => {
      while (collecting) {
        const answers = await Promise.all([a.url, b.url].map((url) => api(url, token, 'POST', '/storage/collect')));
        for (const r of answers) assert.equal(r.status, 200, JSON.stringify(r.body));
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    collections.push(keepCollecting());
    try {
      await deleteSharedScenario(cli, () => diskBytes(join(shared, 'blobs')), { url: b.url, token });
    } finally {
      collecting = false;
      await Promise.all(collections);
    }
  });
});

describe('after a crash', { timeout: 120_000 }, () => {
  test('partial uploads in blobs/tmp and files without a record are removed at start; retention archives old jobs', async () => {
    const data = await mkdtemp(join(tmpdir(), 'drover-crash-'));
    // A grace period longer than a start takes: the fresh blob below is still within it.
    const env = { DROVER_COLLECT_GRACE_SECONDS: '60', DROVER_COLLECT_INTERVAL_SECONDS: '1' };
    const first = await startServer({ dataDir: data, env });
    await first.kill('SIGKILL');
    // What a crash leaves: half an upload, and a blob whose record was removed before its bytes.
    const partial = join(data, 'blobs', 'tmp', '12345-abcdef');
    await writeFile(partial, 'half an upl');
    const orphan = sha('orphaned bytes');
    await mkdir(join(data, 'blobs', orphan.slice(0, 2)), { recursive: true });
    const orphanPath = join(data, 'blobs', orphan.slice(0, 2), orphan.slice(2));
    await writeFile(orphanPath, 'orphaned bytes');
    const old = new Date(Date.now() - 3600_000);
    await utimes(orphanPath, old, old);
    // A blob written a moment ago (an upload about to be recorded) is left alone.
    const fresh = sha('fresh bytes');
    await mkdir(join(data, 'blobs', fresh.slice(0, 2)), { recursive: true });
    await writeFile(join(data, 'blobs', fresh.slice(0, 2), fresh.slice(2)), 'fresh bytes');

    const second = await startServer({ dataDir: data, env, args: ['--retain-finished-days', String(4 / 86_400), '--retain-action', 'archive'] });
    try {
      assert.deepEqual(await readdir(join(data, 'blobs', 'tmp')), []);
      await eventually(async () => !(await stat(orphanPath).catch(() => null)), 20_000, 'the unrecorded blob to be removed');
      assert.ok(await stat(join(data, 'blobs', fresh.slice(0, 2), fresh.slice(2))));

      // Retention: a finished (here: stopped) job is archived once it is older than the period.
      const cli = (args: string[]) => runCli(args, { env: { DROVER_CONFIG: join(data, 'cli.json'), DROVER_SERVER: second.url } });
      assert.equal((await cli(['login', '-u', 'admin', '-p', ADMIN_PASSWORD])).code, 0);
      const ws = await workspace({ 'x.sh': 'true\n', 'in.txt': 'x' });
      const job = JSON.parse((await cli(['job', 'create', '-n', 'old', '-s', join(ws, 'x.sh'), '-i', join(ws, 'in.txt'), '--json'])).stdout) as JobJson;
      assert.equal((await cli(['job', 'stop', job.id])).code, 0);
      await eventually(async () => {
        const archived = JSON.parse((await cli(['job', 'list', '--archived', '--json'])).stdout) as JobJson[];
        return archived.some((j) => j.id === job.id);
      }, 30_000, 'the stopped job to be archived by retention');
      assert.equal((await cli(['job', 'view', job.id, '--json'])).code, 0);
    } finally {
      await second.kill('SIGTERM');
    }
  });
});
