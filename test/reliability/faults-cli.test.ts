// The CLI against faults: a coordinator restart in the middle of a download and of `-w`, a hostile
// destination folder, task output full of terminal escapes, a closed pipe, and the smaller holes
// found by trying the API as an adversary would.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BIN, type CliResult, type ManagedProcess, type TestServer, api, eventually, runCli, startAgent, startServer } from '../helpers/farm.js';
import { type Cli, type JobJson, adminCli, loginToken, makeWorkspace } from '../helpers/reliability.js';

const run = promisify(execFile);
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

/** Every file below `dir` (relative paths), symbolic links included, not followed. */
async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) out.push(join(e.parentPath, e.name).slice(dir.length + 1));
  return out.sort();
}

const NO_STACK = /\n\s+at /;

describe('the CLI against faults', { timeout: 600_000 }, () => {
  let server: TestServer;
  let agent: ManagedProcess;
  let cli: Cli;
  let token: string;
  let dataDir: string;

  before(async () => {
    server = await startServer({ leaseSeconds: 4 });
    dataDir = server.dataDir;
    agent = await startAgent(server, { name: 'worker', slots: 2 });
    cleanups.push(async () => {
      await agent.kill('SIGKILL');
      await server.kill('SIGKILL');
      await rm(dataDir, { recursive: true, force: true });
    });
    cli = await adminCli(server, dataDir);
    token = await loginToken(server.url, 'admin', server.adminPassword);
  });

  async function finishedJob(name: string, files: Record<string, string>, opts: { cli?: Cli } = {}): Promise<JobJson> {
    const ws = await makeWorkspace(files);
    const inputs = Object.keys(files).filter((f) => f.startsWith('in/')).length > 0 ? join(ws, 'in/*') : join(ws, 'x.txt');
    const r = await (opts.cli ?? cli)(['job', 'create', '-n', name, '-s', join(ws, 'work.sh'), '-i', inputs, '-w', '--json']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as JobJson;
  }

  test('download-results, -w and logs -f ride out a 40 s coordinator outage: no stack, no .part, every file whole', async () => {
    // Four results of 40 MB: a kill while the first one streams cuts the download mid-file.
    const big = await finishedJob('big', { 'work.sh': 'mkdir -p run-result\nfor i in 1 2 3 4; do head -c 40000000 /dev/urandom > run-result/part-$i.bin; done\n', 'x.txt': 'x' });
    const results = (await api<{ files: { path: string; sha256: string }[] }>(server.url, token, 'GET', `/jobs/${big.id}/results`)).body.files;
    const ws = await makeWorkspace({ 'slow.sh': 'sleep 20\necho slept\n', 'x.txt': 'x' });
    let waitingSaid = '';
    const waiting = cli(['job', 'create', '-n', 'waits', '-s', join(ws, 'slow.sh'), '-i', join(ws, 'x.txt'), '-w'], { timeoutMs: 300_000, onStderr: (all) => (waitingSaid = all) });
    const slow = await eventually(async () => ((await api<{ jobs: JobJson[] }>(server.url, token, 'GET', '/jobs?status=running')).body.jobs ?? [])[0], 30_000, 'the waited job to run');
    const following = cli(['job', 'logs', slow.id, '--task', '1', '-f'], { timeoutMs: 300_000 });

    const dest = await mkdtemp(join(tmpdir(), 'drover-dl-'));
    cleanups.push(() => rm(dest, { recursive: true, force: true }));
    const downloading = cli(['job', 'download-results', big.id, '-d', dest], { timeoutMs: 300_000 });
    const taskDir = join(dest, big.id, 'task-0001');
    await eventually(async () => (await readdir(taskDir).catch(() => [] as string[])).some((f) => f.endsWith('.part')), 60_000, 'the download to be under way');
    // -w rides out an outage once the job is submitted: on a loaded machine the CLI can still be
    // reading the submission's answer when the job already runs, and a kill then is a failed submission.
    await eventually(async () => /"waits": 1 task\(s\)/.test(waitingSaid), 60_000, 'the -w command to follow its job');
    const port = Number(new URL(server.url).port);
    await server.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 40_000));
    server = await startServer({ dataDir, port });
    token = await loginToken(server.url, 'admin', server.adminPassword);

    const [dl, w, f] = (await Promise.all([downloading, waiting, following])) as [CliResult, CliResult, CliResult];
    assert.equal(dl.code, 0, dl.stderr);
    assert.match(dl.stderr, /cannot be reached; retrying until it is back/);
    assert.doesNotMatch(dl.stderr, NO_STACK);
    for (const f of results) {
      const bytes = await readFile(join(dest, big.id, ...f.path.split('/')));
      assert.equal(createHash('sha256').update(bytes).digest('hex'), f.sha256, f.path);
    }
    assert.deepEqual((await listTree(dest)).filter((p) => p.includes('.part')), []);
    assert.equal(w.code, 0, w.stderr);
    assert.match(w.stderr, /following job [^:]+: it cannot be reached; retrying/);
    assert.match(w.stdout, new RegExp(`job ${slow.id} done`));
    // Following a task's log: it reconnects and ends with the task (what the task printed during
    // the outage may be missing from the live log; stdout.txt has it).
    assert.equal(f.code, 0, f.stderr);
    // (The outage may come while it still looks the task up: it waits then too.)
    assert.match(f.stderr, /following the log of (task 1|job [^:]+): it cannot be reached; retrying/);
    assert.doesNotMatch(f.stderr, NO_STACK);
  });

  test('a hostile destination: symbolic links are neither followed nor replaced, a 255-byte name fits, every other file is written', async () => {
    const longName = `${'n'.repeat(251)}.txt`;
    const job = await finishedJob('hostile', {
      'work.sh': `mkdir -p run-result\necho "from $(cat "$1")" > run-result/a.txt\nif [ "$DROVER_TASK_INDEX" = 1 ]; then echo long > run-result/${longName}; fi\n`,
      'in/1.txt': 'one',
      'in/2.txt': 'two',
      'in/3.txt': 'three',
    });
    const dest = await mkdtemp(join(tmpdir(), 'drover-hostile-'));
    const elsewhere = await mkdtemp(join(tmpdir(), 'drover-elsewhere-'));
    cleanups.push(() => rm(dest, { recursive: true, force: true }), () => rm(elsewhere, { recursive: true, force: true }));
    await mkdir(join(dest, job.id, 'task-0003'), { recursive: true });
    await symlink(elsewhere, join(dest, job.id, 'task-0002'));
    await writeFile(join(elsewhere, 'victim.txt'), 'untouched');
    await symlink(join(elsewhere, 'victim.txt'), join(dest, job.id, 'task-0003', 'stdout.txt'));

    const r = await cli(['job', 'download-results', job.id, '-d', dest]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /task-0002 is a symbolic link: not followed/);
    assert.match(r.stderr, /task-0003\/stdout\.txt is a symbolic link: not followed or replaced/);
    assert.match(r.stderr, /result file\(s\) were not written/);
    assert.doesNotMatch(r.stderr, NO_STACK);
    assert.deepEqual((await readdir(elsewhere)).sort(), ['victim.txt']);
    assert.equal(await readFile(join(elsewhere, 'victim.txt'), 'utf8'), 'untouched');
    assert.equal(await readFile(join(dest, job.id, 'task-0001', longName), 'utf8'), 'long\n');
    assert.equal(await readFile(join(dest, job.id, 'task-0001', 'a.txt'), 'utf8'), 'from one\n');
    assert.equal(await readFile(join(dest, job.id, 'task-0003', 'a.txt'), 'utf8'), 'from three\n');
    assert.ok((await readFile(join(dest, job.id, 'index.json'), 'utf8')).includes(job.id));
    assert.deepEqual((await listTree(dest)).filter((p) => p.includes('.part')), []);
  });

  test("a task's terminal escapes are shown, not obeyed, on a terminal (even to an admin); --raw and pipes keep them byte-exact", async () => {
    const mallory = await adminCli(server, dataDir);
    await mallory(['user', 'add', 'mallory', '--password', 'mallory-password']);
    const asMallory: Cli = (args, o = {}) => mallory(args, { ...o, env: { DROVER_CONFIG: join(dataDir, 'cli-mallory.json'), ...o.env } });
    assert.equal((await asMallory(['login', '-u', 'mallory', '-p', 'mallory-password'])).code, 0);
    const job = await finishedJob('escapes', { 'work.sh': "printf 'title\\033]0;pwned\\007 clear\\033[2J done\\n'\n", 'x.txt': 'x' }, { cli: asMallory });

    // The admin's CLI under a real pseudo-terminal (`script`), as a person reading the log.
    const config = (await readdir(dataDir)).find((f) => f.startsWith('cli-admin-'))!;
    const onTty = async (extra: string) => {
      const cmd = `${process.execPath} ${BIN} job logs ${job.id} ${extra}`;
      const { stdout } = await run('script', ['-qec', cmd, '/dev/null'], { env: { ...process.env, DROVER_CONFIG: join(dataDir, config), DROVER_SERVER: server.url } });
      return stdout;
    };
    const shown = await onTty('');
    assert.match(shown, /title\^\[\]0;pwned\^G clear\^\[\[2J done/);
    assert.ok(!shown.includes('\x1b'), JSON.stringify(shown));
    assert.ok((await onTty('--raw')).includes('title\x1b]0;pwned\x07 clear\x1b[2J done'));
    const piped = await cli(['job', 'logs', job.id]);
    assert.ok(piped.stdout.includes('title\x1b]0;pwned\x07 clear\x1b[2J done'), JSON.stringify(piped.stdout));
  });

  test('`job view | head` ends quietly (no EPIPE stack)', async () => {
    // 1,500 inputs of one content: uploaded once; the view is far longer than a pipe holds.
    const files: Record<string, string> = { 'work.sh': 'true\n' };
    for (let i = 1; i <= 1500; i++) files[`in/${i}.txt`] = 'same';
    const ws = await makeWorkspace(files);
    const created = await cli(['job', 'create', '-n', 'long-view', '-s', join(ws, 'work.sh'), '-i', join(ws, 'in/*'), '--json']);
    assert.equal(created.code, 0, created.stderr);
    const job = JSON.parse(created.stdout) as JobJson;
    const config = (await readdir(dataDir)).find((f) => f.startsWith('cli-admin-'))!;
    const { stdout, stderr } = await run('bash', ['-c', `${process.execPath} ${BIN} job view ${job.id} | head -n 1; echo "status \${PIPESTATUS[0]}"`], {
      env: { ...process.env, DROVER_CONFIG: join(dataDir, config), DROVER_SERVER: server.url },
    });
    assert.match(stdout, new RegExp(`^job ${job.id}`));
    assert.match(stdout, /status 0/);
    assert.equal(stderr, '');
  });

  test('a coordinator setting that cannot be used is one line naming it, with no stack', async () => {
    for (const [env, message] of [
      [{ DROVER_ADMIN_PASSWORD: 'x' }, /^error: DROVER_ADMIN_PASSWORD: a password has at least 4 characters\n$/],
      [{ DROVER_LEASE_SECONDS: 'soon' }, /^error: DROVER_LEASE_SECONDS must be a positive number, not "soon"\n$/],
    ] as const) {
      const data = await mkdtemp(join(tmpdir(), 'drover-bad-setting-'));
      const r = await runCli(['server', '--data', data, '--port', '0'], { env: { ...env } });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, message);
    }
  });

  test('wrong JSON types are refused, not coerced; anonymous uploads are 401; the CLI takes a list of replicas', async () => {
    const script = Buffer.from('echo hi\n');
    const sha = createHash('sha256').update(script).digest('hex');
    const put = await fetch(`${server.url}/api/v1/blobs/${sha}`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' }, body: script });
    assert.equal(put.status, 201);
    const body = (name: unknown) => ({ kind: 'script', name, script: { name: 's.sh', sha256: sha }, inputs: [{ name: 'i.sh', sha256: sha }] });
    const wrong = await api<{ error: { message: string } }>(server.url, token, 'POST', '/jobs', body(123));
    assert.equal(wrong.status, 400);
    assert.match(wrong.body.error.message, /name/);
    assert.equal((await api(server.url, token, 'POST', '/jobs', { ...body('typed'), maxAttempts: '2' })).status, 400);
    assert.equal((await api(server.url, token, 'POST', '/jobs', body('typed'))).status, 201);

    assert.equal((await api(server.url, null, 'POST', '/blobs/missing', { hashes: [sha] })).status, 401);
    assert.equal((await api(server.url, null, 'POST', '/blobs/missing', { nonsense: true })).status, 401);
    assert.equal((await fetch(`${server.url}/api/v1/blobs/${sha}`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: script })).status, 401);

    // The first replica is down: the CLI moves on to the next, as agents do.
    const config = join(dataDir, 'cli-replicas.json');
    // No DROVER_SERVER: the list saved by login is what the next command uses.
    const env = { DROVER_CONFIG: config, DROVER_SERVER: '' };
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const login = await cli(['login', '--server', `http://127.0.0.1:${deadPort},${server.url}`, '-u', 'admin', '-p', server.adminPassword], { env });
    assert.equal(login.code, 0, login.stderr);
    const list = await cli(['job', 'list'], { env });
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /typed/);
    const bad = await cli(['login', '--server', 'not a url,also bad', '-u', 'admin', '-p', 'x'], { env });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^error: "not a url" is not a coordinator URL/);
    assert.doesNotMatch(bad.stderr, NO_STACK);
  });
});

