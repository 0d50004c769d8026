// Blobs in S3-compatible storage (s3rver): the store itself against a real S3 API, then a real
// coordinator started with `--blobs s3://…` and a real agent that fetches job files by presigned URL.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import {
  BlobHashMismatchError,
  BlobStoreUnavailableError,
  BlobTooLargeError,
  parseBlobsLocation,
  withLocalBlob,
} from '../../src/store/blob-store.js';
import { S3BlobStore, s3ClientFromEnv } from '../../src/store/s3-blob-store.js';
import { ADMIN_PASSWORD, type CliOptions, type CliResult, type TestServer, eventually, runCli, startAgent, startServer } from '../helpers/farm.js';
import { freePort } from '../helpers/postgres.js';
import { type TestS3, startS3 } from '../helpers/s3.js';

const sha = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
const keyOf = (prefix: string, hash: string) => `${prefix}/${hash.slice(0, 2)}/${hash.slice(2)}`;

interface JobJson {
  id: string;
  status: string;
  counts: Record<string, number>;
  tasks: { index: number; status: string; error: string | null }[];
}

describe('parseBlobsLocation', () => {
  test('directories, S3 URLs and malformed S3 URLs', () => {
    assert.deepEqual(parseBlobsLocation('/mnt/farm/blobs'), { kind: 'disk', dir: '/mnt/farm/blobs' });
    assert.deepEqual(parseBlobsLocation('s3://bucket-1/a/b/'), { kind: 's3', bucket: 'bucket-1', prefix: 'a/b' });
    assert.deepEqual(parseBlobsLocation('s3://bucket-1'), { kind: 's3', bucket: 'bucket-1', prefix: '' });
    assert.throws(() => parseBlobsLocation('s3:///prefix'), /names no bucket/);
    assert.throws(() => parseBlobsLocation('s3://'), /names no bucket/);
    assert.throws(() => parseBlobsLocation('s3:bucket'), /s3:\/\/bucket\/prefix/);
    assert.throws(() => parseBlobsLocation('s3://a/x'), /invalid bucket name/);
    assert.throws(() => parseBlobsLocation('s3://bucket/../x'), /"\.\."/);
    // A URL with credentials in it is refused without being repeated.
    assert.throws(() => parseBlobsLocation('s3://AKIAKEY:sup3r-s3cret@bucket/p'), (err: Error) => /carries credentials/.test(err.message) && !err.message.includes('sup3r-s3cret'));
  });
});

describe('S3BlobStore against s3rver', { timeout: 120_000 }, () => {
  let s3: TestS3;
  let spool: string;
  const prefix = 'unit';

  const store = (opts: { presign?: boolean; partSize?: number; env?: NodeJS.ProcessEnv; bucket?: string } = {}) => {
    const { client } = s3ClientFromEnv(opts.env ?? s3.env);
    return new S3BlobStore({ location: { bucket: opts.bucket ?? s3.bucket, prefix }, client, spoolDir: spool, ...(opts.presign === false ? { presign: false } : {}), ...(opts.partSize ? { partSize: opts.partSize } : {}) });
  };

  before(async () => {
    s3 = await startS3();
    spool = await mkdtemp(join(tmpdir(), 'drover-spool-'));
  });
  after(async () => {
    await s3?.stop();
    await rm(spool, { recursive: true, force: true });
  });

  test('put, has, size, read, materialize and a presigned URL round trip', async () => {
    const blobs = store();
    await blobs.init();
    const data = `hello from the blob store ${randomBytes(8).toString('hex')}\n`;
    const hash = sha(data);
    assert.equal(await blobs.has(hash), false);
    assert.equal(await blobs.size(hash), null);
    const stored = await blobs.put(Readable.from([Buffer.from(data)]), hash);
    assert.deepEqual(stored, { sha256: hash, size: Buffer.byteLength(data) });
    assert.deepEqual(await s3.list(`${prefix}/`), [{ key: keyOf(prefix, hash), size: Buffer.byteLength(data) }]);
    assert.equal(await blobs.has(hash), true);
    assert.equal(await blobs.size(hash), Buffer.byteLength(data));
    assert.equal(await text(blobs.read(hash)), data);
    assert.equal(await withLocalBlob(blobs, hash, (path) => readFile(path, 'utf8')), data);
    // The presigned URL works without any credentials and says nothing of the secret.
    const url = await blobs.downloadUrl(hash);
    assert.ok(url && !url.includes(s3.secretAccessKey));
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), data);
    assert.equal(await store({ presign: false }).downloadUrl(hash), null);
    // Without an expected hash, put names the blob by what it received.
    assert.equal((await blobs.put(Readable.from([Buffer.from(data)]))).sha256, hash);
    assert.deepEqual(await readdir(spool), [], 'spool files are removed');
  });

  test('a file larger than a part goes up in parts and comes back whole', async () => {
    const blobs = store({ partSize: 5 * 1024 ** 2 });
    const data = randomBytes(11 * 1024 ** 2 + 123);
    const hash = sha(data);
    // Many small chunks, so part boundaries fall inside chunks.
    const chunks = Array.from({ length: Math.ceil(data.length / 70_001) }, (_, i) => data.subarray(i * 70_001, (i + 1) * 70_001));
    await blobs.put(Readable.from(chunks), hash);
    assert.equal(await blobs.size(hash), data.length);
    const back = Buffer.concat(await blobs.read(hash).toArray());
    assert.equal(sha(back), hash);
    assert.ok(s3.requests.some((r) => r.method === 'PUT' && r.path.endsWith(hash.slice(2))), 'parts were sent');
  });

  test('a hash mismatch and an oversized file are refused and nothing is stored', async () => {
    const blobs = store();
    const before_ = await s3.list(`${prefix}/`);
    const data = Buffer.from('these bytes do not hash to what the sender claims');
    const claimed = sha('something else');
    await assert.rejects(blobs.put(Readable.from([data]), claimed), BlobHashMismatchError);
    await assert.rejects(blobs.put(Readable.from([Buffer.alloc(2048, 1)]), undefined, 1000), BlobTooLargeError);
    const big = Buffer.alloc(2048, 2);
    await assert.rejects(blobs.put(Readable.from([big]), sha(big), 1000), BlobTooLargeError);
    assert.deepEqual(await s3.list(`${prefix}/`), before_);
    assert.equal(await blobs.has(claimed), false);
    assert.equal(await blobs.has(sha(data)), false);
    assert.deepEqual(await readdir(spool), []);
  });

  test('a missing object reads as an error; a corrupted one is refused as a local file', async () => {
    const blobs = store();
    const missing = sha('never stored');
    await assert.rejects(text(blobs.read(missing)), (err: Error) => /NoSuchKey|does not exist|404/i.test(`${err.name} ${err.message}`));
    await assert.rejects(withLocalBlob(blobs, missing, async () => 'unreachable'));
    const data = 'the original bytes';
    const hash = sha(data);
    await blobs.put(Readable.from([Buffer.from(data)]), hash);
    await s3.put(keyOf(prefix, hash), 'the damaged bytes!');
    await assert.rejects(withLocalBlob(blobs, hash, async () => 'unreachable'), /corrupted/);
  });

  test('init refuses a missing bucket and an unreachable endpoint, naming neither secret', async () => {
    await assert.rejects(store({ bucket: 'no-such-bucket' }).init(), (err: Error) => err instanceof BlobStoreUnavailableError && /"no-such-bucket".*does not exist/.test(err.message));
    const dead = `http://127.0.0.1:${await freePort()}`;
    await assert.rejects(store({ env: { ...s3.env, DROVER_S3_ENDPOINT: dead } }).init(), (err: Error) => {
      assert.ok(err instanceof BlobStoreUnavailableError, String(err));
      assert.match(err.message, /cannot use the S3 bucket/);
      assert.ok(!err.message.includes(s3.secretAccessKey));
      return true;
    });
  });
});

describe('a farm with its blobs in S3', { timeout: 400_000 }, () => {
  let s3: TestS3;
  let server: TestServer;
  let agent: Awaited<ReturnType<typeof startAgent>>;
  let cli: (args: string[], o?: CliOptions) => Promise<CliResult>;
  const prefix = 'farm-a';
  const dirs: string[] = [];

  async function workspace(files: Record<string, string>): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'drover-ws-'));
    dirs.push(dir);
    for (const [name, content] of Object.entries(files)) {
      await mkdir(join(dir, name, '..'), { recursive: true });
      await writeFile(join(dir, name), content);
    }
    return dir;
  }

  const allOutput = () => server.output() + agent.output();

  before(async () => {
    s3 = await startS3();
    server = await startServer({ args: ['--blobs', `s3://${s3.bucket}/${prefix}`], env: s3.env });
    // The agent gets no AWS settings at all: whatever it reads from S3 comes by presigned URL.
    agent = await startAgent(server, { name: 's3-agent', extraArgs: ['--no-sandbox'] });
    const configFile = join(server.dataDir, 'cli.json');
    cli = (args, o = {}) => runCli(args, { ...o, env: { DROVER_CONFIG: configFile, DROVER_SERVER: server.url, ...o.env } });
    const login = await cli(['login', '-u', 'admin', '-p', ADMIN_PASSWORD]);
    assert.equal(login.code, 0, login.stderr);
  });

  after(async () => {
    await agent?.kill('SIGINT');
    await server?.kill('SIGTERM');
    await s3?.stop();
    if (!process.env.DROVER_KEEP_TEST_DATA) for (const d of [...dirs, server?.dataDir]) if (d) await rm(d, { recursive: true, force: true });
  });

  test('a script job end to end: inputs and results live in the bucket, the agent reads them by presigned URL', async () => {
    assert.match(server.output(), new RegExp(`blobs: s3://${s3.bucket}/${prefix}`));
    const inputs: Record<string, string> = {};
    for (let i = 1; i <= 3; i++) inputs[`in/part_${i}.txt`] = `part ${i} ${randomBytes(4).toString('hex')}\n`;
    const script = "import os, sys\ndata = open(sys.argv[1]).read()\nos.makedirs('run-result', exist_ok=True)\nopen('run-result/upper.txt', 'w').write(data.upper())\nprint('did', sys.argv[1])\n";
    const ws = await workspace({ 'upper.py': script, ...inputs });
    const created = await cli(['job', 'create', '-n', 's3-job', '-s', join(ws, 'upper.py'), '-i', join(ws, 'in/part_*.txt'), '-r', '-w', '--json']);
    assert.equal(created.code, 0, created.stderr);
    const job = JSON.parse(created.stdout) as JobJson;
    assert.equal(job.status, 'done');
    assert.equal(job.counts.done, 3);

    // Every input and the script are objects in the bucket, named by hash.
    const keys = new Set((await s3.list(`${prefix}/`)).map((o) => o.key));
    const sent = [script, ...Object.values(inputs)].map((c) => sha(c));
    for (const h of sent) assert.ok(keys.has(keyOf(prefix, h)), `object for ${h} in the bucket`);
    // Results too (what the tasks wrote, and their captured stdout).
    for (let i = 1; i <= 3; i++) {
      assert.ok(keys.has(keyOf(prefix, sha(inputs[`in/part_${i}.txt`]!.toUpperCase()))), `result ${i} in the bucket`);
      assert.ok(keys.has(keyOf(prefix, sha(`did part_${i}.txt\n`))), `stdout ${i} in the bucket`);
    }
    // The coordinator kept no blob on its own disk; its upload spool is empty.
    assert.equal(existsSync(join(server.dataDir, 'blobs')), false);
    assert.deepEqual(await readdir(join(server.dataDir, 'blob-spool')), []);

    // The agent fetched each of them with a presigned GET and sent no credentials of its own.
    for (const h of sent) {
      const gets = s3.requests.filter((r) => r.method === 'GET' && r.path === `/${s3.bucket}/${keyOf(prefix, h)}`);
      assert.ok(gets.some((r) => r.presigned && r.authorization === undefined), `a presigned GET of ${h}: ${JSON.stringify(gets)}`);
    }
    assert.ok(!s3.requests.some((r) => r.authorization?.startsWith('Bearer')), 'no Drover token ever reached S3');

    // Results download through the coordinator, byte for byte.
    const out = await mkdtemp(join(tmpdir(), 'drover-results-'));
    dirs.push(out);
    const dl = await cli(['job', 'download-results', job.id, '-d', out]);
    assert.equal(dl.code, 0, dl.stderr);
    for (let i = 1; i <= 3; i++) {
      const folder = join(out, job.id, `task-${String(i).padStart(4, '0')}`);
      assert.equal(await readFile(join(folder, 'upper.txt'), 'utf8'), inputs[`in/part_${i}.txt`]!.toUpperCase());
      assert.equal(await readFile(join(folder, 'stdout.txt'), 'utf8'), `did part_${i}.txt\n`);
    }
    assert.ok(!allOutput().includes(s3.secretAccessKey), 'the secret key is never printed');
  });

  /** Creates a held job over one fresh input, lets `damage` act on its object, then runs it. */
  async function jobWithDamagedInput(name: string, damage: (key: string, content: string) => Promise<void>): Promise<JobJson> {
    const content = `input of ${name} ${randomBytes(6).toString('hex')}\n`;
    const ws = await workspace({ 'cat.sh': 'cat "$1"\n', 'in.txt': content });
    const created = await cli(['job', 'create', '-n', name, '-s', join(ws, 'cat.sh'), '-i', join(ws, 'in.txt'), '--max-attempts', '1', '--json']);
    assert.equal(created.code, 0, created.stderr);
    const job = JSON.parse(created.stdout) as JobJson;
    const key = keyOf(prefix, sha(content));
    assert.deepEqual(await s3.get(key), Buffer.from(content));
    await damage(key, content);
    const start = await cli(['job', 'start', job.id]);
    assert.equal(start.code, 0, start.stderr);
    return eventually(async () => {
      const v = JSON.parse((await cli(['job', 'view', job.id, '--json'])).stdout) as JobJson;
      return v.status === 'error' ? v : null;
    }, 90_000, `job ${name} to end in error`);
  }

  test('a corrupted object is a task error', async () => {
    const job = await jobWithDamagedInput('corrupt', (key, content) => s3.put(key, content.replace('input', 'INPUT')));
    assert.equal(job.tasks[0]!.status, 'error');
    assert.match(job.tasks[0]!.error ?? '', /arrived corrupted/);
  });

  test('a missing object is a task error', async () => {
    const job = await jobWithDamagedInput('missing', (key) => s3.remove(key));
    assert.equal(job.tasks[0]!.status, 'error');
    assert.match(job.tasks[0]!.error ?? '', /does not exist/);
  });

  test('with DROVER_S3_PRESIGN=0 the coordinator streams files to agents itself', async () => {
    const other = await startServer({ args: ['--blobs', `s3://${s3.bucket}/farm-b`], env: { ...s3.env, DROVER_S3_PRESIGN: '0' } });
    dirs.push(other.dataDir);
    const otherAgent = await startAgent(other, { name: 'streamed-agent', extraArgs: ['--no-sandbox'] });
    try {
      const configFile = join(other.dataDir, 'cli.json');
      const otherCli = (args: string[]) => runCli(args, { env: { DROVER_CONFIG: configFile, DROVER_SERVER: other.url } });
      assert.equal((await otherCli(['login', '-u', 'admin', '-p', ADMIN_PASSWORD])).code, 0);
      const content = `streamed ${randomBytes(6).toString('hex')}\n`;
      const ws = await workspace({ 'copy.sh': 'mkdir -p run-result; cp "$1" run-result/copy.txt\n', 'in.txt': content });
      const r = await otherCli(['job', 'create', '-n', 'streamed', '-s', join(ws, 'copy.sh'), '-i', join(ws, 'in.txt'), '-r', '-w', '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal((JSON.parse(r.stdout) as JobJson).status, 'done');
      const path = `/${s3.bucket}/${keyOf('farm-b', sha(content))}`;
      const gets = s3.requests.filter((q) => q.method === 'GET' && q.path === path);
      assert.ok(gets.length > 0, 'the coordinator read the input from S3');
      assert.ok(gets.every((q) => !q.presigned && q.authorization?.startsWith('AWS4-HMAC-SHA256')), 'only signed requests of the coordinator');
    } finally {
      await otherAgent.kill('SIGINT');
      await other.kill('SIGTERM');
    }
  });

  test('a bad S3 URL or an unusable bucket stops the server at start with a clear message', async () => {
    const data = await mkdtemp(join(tmpdir(), 'drover-bad-'));
    dirs.push(data);
    const start = (blobs: string, env: Record<string, string> = s3.env) => runCli(['server', '--port', '0', '--data', data, '--blobs', blobs], { env, timeoutMs: 60_000 });
    const noBucket = await start('s3:///prefix');
    assert.notEqual(noBucket.code, 0);
    assert.match(noBucket.stderr, /^error: --blobs: the S3 blob store URL names no bucket/m);
    const viaEnv = await runCli(['server', '--port', '0', '--data', data], { env: { ...s3.env, DROVER_BLOBS: 's3://' }, timeoutMs: 60_000 });
    assert.notEqual(viaEnv.code, 0);
    assert.match(viaEnv.stderr, /^error: the S3 blob store URL names no bucket/m);
    const missing = await start('s3://missing-bucket/x');
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /^error: cannot use the S3 bucket "missing-bucket" at http:\/\/127\.0\.0\.1:\d+: it does not exist$/m);
    const dead = await start(`s3://${s3.bucket}/x`, { ...s3.env, DROVER_S3_ENDPOINT: `http://127.0.0.1:${await freePort()}` });
    assert.notEqual(dead.code, 0);
    assert.match(dead.stderr, /^error: cannot use the S3 bucket/m);
    for (const r of [noBucket, viaEnv, missing, dead]) {
      assert.doesNotMatch(r.stdout, /listening on/);
      assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
      assert.ok(!(r.stdout + r.stderr).includes(s3.secretAccessKey));
    }
    assert.equal(existsSync(join(data, 'drover.sqlite')), false, 'nothing was created before the blob store was checked');
  });
});
