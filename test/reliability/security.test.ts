// Security promises: hashed passwords and tokens, rate-limited sign-in, no credentials in logs,
// results only for their owner, sanitised result names, agent credentials out of tasks' reach, TLS.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN_PASSWORD, type ManagedProcess, type TestServer, api, runCli, startAgent, startServer } from '../helpers/farm.js';
import { type Cli, type JobJson, type ResultsJson, adminCli, fileText, loginToken, makeWorkspace, openStore, tasksOf } from '../helpers/reliability.js';

describe('security', { timeout: 300_000 }, () => {
  let server: TestServer;
  let agent: ManagedProcess & { workDir: string };
  let cli: Cli;
  let admin: string;
  before(async () => {
    server = await startServer({ env: { DROVER_LOG_REQUESTS: '1' } });
    agent = await startAgent(server, { name: 'guarded' });
    cli = await adminCli(server, server.dataDir);
    admin = await loginToken(server.url, 'admin', server.adminPassword);
  });
  after(async () => {
    await agent?.kill('SIGINT');
    await server?.kill('SIGTERM');
    if (server) await rm(server.dataDir, { recursive: true, force: true });
  });

  test('passwords are stored as scrypt hashes and tokens as sha256 digests, never in clear', async () => {
    await api(server.url, admin, 'POST', '/users', { name: 'hashme', password: 'correct-horse-battery' });
    const token = await loginToken(server.url, 'hashme', 'correct-horse-battery');
    const db = openStore(server.dataDir);
    try {
      const user = db.prepare("SELECT password_hash FROM users WHERE name = 'hashme'").get() as { password_hash: string };
      assert.match(user.password_hash, /^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
      const digest = createHash('sha256').update(token).digest('hex');
      assert.equal((db.prepare('SELECT count(*) AS n FROM api_tokens WHERE token_hash = ?').get(digest) as { n: number }).n, 1);
    } finally {
      db.close();
    }
    // Nowhere in the store's files (database, WAL) do the password or the token appear.
    for (const name of await readdir(server.dataDir)) {
      if (!name.startsWith('drover.sqlite')) continue;
      const bytes = await readFile(join(server.dataDir, name));
      assert.ok(!bytes.includes('correct-horse-battery'), name);
      assert.ok(!bytes.includes(token), name);
    }
  });

  test('sign-in is rate-limited per name and address: 10 failures, then 429 even for the right password', async () => {
    await api(server.url, admin, 'POST', '/users', { name: 'target', password: 'target-password' });
    for (let i = 0; i < 10; i++) assert.equal((await api(server.url, null, 'POST', '/auth/login', { username: 'target', password: `guess-${i}` })).status, 401);
    const limited = await api<{ error: { code: string; message: string } }>(server.url, null, 'POST', '/auth/login', { username: 'target', password: 'target-password' });
    assert.equal(limited.status, 429);
    assert.match(limited.body.error.message, /too many failed sign-ins/);
    // Another name from the same address is not locked out.
    assert.equal((await api(server.url, null, 'POST', '/auth/login', { username: 'admin', password: ADMIN_PASSWORD })).status, 200);
  });

  test('results and logs only for their owner; result names are sanitised; agent credentials stay out of tasks', async () => {
    await api(server.url, admin, 'POST', '/users', { name: 'owner', password: 'owner-password' });
    await api(server.url, admin, 'POST', '/users', { name: 'other', password: 'other-password' });
    const ownerCfg = join(server.dataDir, 'cli-owner.json');
    const ownerCli: Cli = (args, o = {}) => runCli(args, { ...o, env: { DROVER_CONFIG: ownerCfg, DROVER_SERVER: server.url } });
    assert.equal((await ownerCli(['login', '-u', 'owner', '-p', 'owner-password'])).code, 0);
    const owner = await loginToken(server.url, 'owner', 'owner-password');
    const other = await loginToken(server.url, 'other', 'other-password');
    const ws = await makeWorkspace({
      'probe.sh': [
        'mkdir -p run-result/sub',
        'echo kept > run-result/sub/ok.txt',
        "printf 'x' > run-result/$'evil\\nname.txt'",
        'ln -s /etc/passwd run-result/passwd-link',
        // Look for the agent's credentials: in the environment and in files around the task.
        'env > run-result/env.txt',
        'for f in ../../../agent.json ../../agent.json ../agent.json "$HOME/../../../agent.json"; do if cat "$f" >/dev/null 2>&1; then echo "readable: $f"; fi; done > run-result/files.txt',
        'echo secret-log-line',
      ].join('\n'),
      'x.txt': 'x',
    });
    const created = await ownerCli(['job', 'create', '-n', 'probe', '-s', join(ws, 'probe.sh'), '-i', join(ws, 'x.txt'), '-w', '--json']);
    assert.equal(created.code, 0, created.stderr);
    const job = JSON.parse(created.stdout) as JobJson;
    const results = (await api<ResultsJson>(server.url, owner, 'GET', `/jobs/${job.id}/results`)).body;
    const files = results.tasks[0]!.files;
    assert.deepEqual(files.map((f) => f.path).sort(), ['env.txt', 'files.txt', 'stderr.txt', 'stdout.txt', 'sub/ok.txt']);
    const [task] = await tasksOf(server.url, owner, job.id);
    const logText = (await api<{ entries: { data: string }[] }>(server.url, owner, 'GET', `/tasks/${task!.id}/logs`)).body.entries.map((e) => e.data).join('');
    assert.match(logText, /secret-log-line/);
    assert.match(logText, /passwd-link was not kept: it is a symbolic link/);
    assert.match(logText, /was not kept: path .* contains control characters/);

    const identity = JSON.parse(await readFile(join(agent.workDir, 'agent.json'), 'utf8')) as { agentToken: string };
    const env = await fileText(server.url, owner, job.id, files.find((f) => f.path === 'env.txt')!.sha256);
    assert.ok(!env.includes(identity.agentToken) && !env.includes(server.joinToken) && !env.includes('DROVER_AGENT_TOKEN'), env);
    const sandboxed = (await api<{ workers: { name: string; sandbox: boolean }[] }>(server.url, admin, 'GET', '/workers')).body.workers.find((w) => w.name === 'guarded')?.sandbox;
    const readable = await fileText(server.url, owner, job.id, files.find((f) => f.path === 'files.txt')!.sha256);
    // scripts/setup.sh installs bubblewrap, so this agent confines its tasks: one that does not is a failure here.
    assert.equal(sandboxed, true, 'the agent reports its tasks confined (bubblewrap is installed by setup)');
    assert.equal(readable, '', `a confined task could read the agent's credentials: ${readable}`);

    // The other user: 404 for everything of this job, and no way to its logs or files.
    for (const path of [`/jobs/${job.id}/results`, `/jobs/${job.id}/files/${files[0]!.sha256}`, `/tasks/${task!.id}/logs`, `/jobs/${job.id}/results.zip`]) {
      assert.equal((await api(server.url, other, 'GET', path)).status, 404, path);
    }
    // Agents cannot read users' results through the user endpoints either.
    assert.equal((await api(server.url, identity.agentToken, 'GET', `/jobs/${job.id}/results`)).status, 403);
    // The coordinator refuses result paths that escape the task folder, whoever sends them.
    const empty = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
    for (const path of ['../escape.txt', '/etc/passwd', 'a/../../b', 'new\nline']) {
      const r = await api(server.url, identity.agentToken, 'POST', `/agent/tasks/${task!.id}/complete`, { attempt: 1, exitCode: 0, files: [{ path, sha256: empty, size: 0 }], stdout: { sha256: empty, size: 0 }, stderr: { sha256: empty, size: 0 } });
      assert.equal(r.status, 400, path);
    }
  });

  test('credentials never reach the logs of the coordinator (with request logging on) or the agent', async () => {
    const identity = JSON.parse(await readFile(join(agent.workDir, 'agent.json'), 'utf8')) as { agentToken: string };
    const userToken = await loginToken(server.url, 'admin', ADMIN_PASSWORD);
    // Use every credential in requests the log sees: login bodies, bearer headers, cookies.
    await api(server.url, userToken, 'GET', '/jobs');
    await fetch(`${server.url}/api/v1/jobs`, { headers: { cookie: `drover_token=${userToken}` } });
    await api(server.url, null, 'POST', '/auth/login', { username: 'admin', password: 'a-wrong-password-123' });
    const logs = server.output() + agent.output();
    assert.match(server.output(), /"url":"\/api\/v1\/jobs"/, 'request logging is on');
    for (const secret of [ADMIN_PASSWORD, 'a-wrong-password-123', userToken, admin, identity.agentToken, server.joinToken, 'owner-password']) {
      assert.ok(!logs.includes(secret), `a credential is in the logs: ${secret.slice(0, 8)}…`);
    }
  });

  test('TLS: a coordinator on https with a self-signed certificate; the CLI and agents trust it via NODE_EXTRA_CA_CERTS', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'drover-tls-'));
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
    const trust = { NODE_EXTRA_CA_CERTS: cert };
    const tls = await startServer({ dataDir: join(dir, 'data'), args: ['--tls-cert', cert, '--tls-key', key] });
    let tlsAgent: ManagedProcess | null = null;
    try {
      const url = tls.url;
      assert.match(url, /^https:\/\//);
      tlsAgent = await startAgent(tls, { name: 'tls-agent', workDir: join(dir, 'agent'), env: trust });
      const cfg = join(dir, 'cli.json');
      const tlsCli: Cli = (args, o = {}) => runCli(args, { ...o, env: { DROVER_CONFIG: cfg, DROVER_SERVER: url, ...trust, ...o.env } });
      // Without trusting the certificate, the CLI says what is wrong.
      const untrusted = await runCli(['login', '-u', 'admin', '-p', ADMIN_PASSWORD], { env: { DROVER_CONFIG: cfg, DROVER_SERVER: url } });
      assert.equal(untrusted.code, 1);
      assert.match(untrusted.stderr, /TLS certificate is not trusted.*NODE_EXTRA_CA_CERTS/);
      assert.equal((await tlsCli(['login', '-u', 'admin', '-p', ADMIN_PASSWORD])).code, 0);
      const ws = await makeWorkspace({ 'hi.sh': 'mkdir -p run-result; echo over-tls > run-result/out.txt\n', 'x.txt': 'x' });
      const r = await tlsCli(['job', 'create', '-n', 'over-tls', '-s', join(ws, 'hi.sh'), '-i', join(ws, 'x.txt'), '-w', '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal((JSON.parse(r.stdout) as JobJson).status, 'done');
      const dl = await tlsCli(['job', 'download-results', (JSON.parse(r.stdout) as JobJson).id, '-d', join(dir, 'out')]);
      assert.equal(dl.code, 0, dl.stderr);
    } finally {
      await tlsAgent?.kill('SIGINT');
      await tls.kill('SIGTERM');
      await rm(dir, { recursive: true, force: true });
    }
  });
});
