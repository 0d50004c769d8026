// Accounts end to end, with a real coordinator and the real CLI: named API tokens (created,
// used by the CLI, revoked: then 401), passwords and roles, the audit log, other users kept out,
// and the store's files readable by their owner only.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Farm, api, eventually, runCli, startFarm, startServer } from '../helpers/farm.js';

interface AuditEntry {
  time: string;
  user: string;
  action: string;
  target: string;
  details: Record<string, unknown>;
}

const mode = async (path: string) => (await stat(path)).mode & 0o777;

describe('accounts', () => {
  let farm: Farm;
  let alice: Awaited<ReturnType<Farm['userCli']>>;
  let bob: Awaited<ReturnType<Farm['userCli']>>;
  let scratch: string;
  /** A CLI with a config file of its own and no saved token. */
  const bareCli = (name: string, env: Record<string, string> = {}) => (args: string[]) =>
    runCli(args, { env: { DROVER_CONFIG: join(scratch, `${name}.json`), DROVER_SERVER: farm.url, ...env } });

  before(async () => {
    farm = await startFarm({ agents: 0 });
    alice = await farm.userCli('alice');
    bob = await farm.userCli('bob');
    scratch = await mkdtemp(join(tmpdir(), 'drover-accounts-'));
  });
  after(async () => {
    await farm?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  test('a named token works from the CLI until it is revoked, then 401', async () => {
    const created = await alice(['token', 'create', 'ci', '--expires', '30d', '--json']);
    assert.equal(created.code, 0, created.stderr);
    const token = JSON.parse(created.stdout) as { id: string; name: string; token: string; expiresAt: string };
    assert.equal(token.name, 'ci');
    assert.match(token.token, /^drv_u_/);
    const days = (Date.parse(token.expiresAt) - Date.now()) / 86400_000;
    assert.ok(days > 29.9 && days <= 30, `expires in ${days} days`);

    // Listed by name, never with its secret.
    const listed = await alice(['token', 'list', '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.ok(!listed.stdout.includes(token.token));
    assert.deepEqual((JSON.parse(listed.stdout) as { name: string }[]).map((t) => t.name), ['ci']);
    assert.equal((await alice(['token', 'create', 'ci'])).code, 1, 'a second live token of the same name is refused');

    // As the CLI's credential: in DROVER_TOKEN, and saved by `login --token`.
    const byEnv = await bareCli('env', { DROVER_TOKEN: token.token })(['job', 'list', '--json']);
    assert.equal(byEnv.code, 0, byEnv.stderr);
    const ci = bareCli('ci');
    const login = await ci(['login', '--token', token.token]);
    assert.equal(login.code, 0, login.stderr);
    assert.match(login.stdout, /as alice/);
    assert.equal((await ci(['job', 'list'])).code, 0);
    const wrong = await bareCli('wrong')(['login', '--token', 'drv_u_not-a-token']);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /^error: .*\n$/);

    // Bob sees none of Alice's tokens and cannot revoke them.
    assert.match((await bob(['token', 'list'])).stdout, /no named tokens/);
    const bobRevoke = await bob(['token', 'revoke', token.id]);
    assert.equal(bobRevoke.code, 1);
    assert.match(bobRevoke.stderr, /does not exist/);
    const bobToken = JSON.parse((await bob(['token', 'create', 'bobs', '--json'])).stdout) as { token: string };
    assert.equal((await api(farm.url, bobToken.token, 'GET', '/users/alice/tokens')).status, 403);
    assert.equal((await api(farm.url, bobToken.token, 'GET', '/tokens')).status, 200);

    // Revoked: the next request with it is 401, from the CLI and the API.
    const revoked = await alice(['token', 'revoke', 'ci']);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout, new RegExp(`revoked token ci \\(${token.id}\\)`));
    const after = await ci(['job', 'list']);
    assert.equal(after.code, 1);
    assert.match(after.stderr, /run `drover login`/);
    assert.equal((await api(farm.url, token.token, 'GET', '/jobs')).status, 401);

    // Bad input: one clear line each.
    for (const args of [['token', 'create', 'x', '--expires', 'soon'], ['token', 'create', 'bad name']]) {
      const r = await alice(args);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^error: .+\n$/);
    }
  });

  test('a user changes their password: other sign-ins end, named tokens stay', async () => {
    const carol = await farm.userCli('carol', 'carol-old');
    const token = (JSON.parse((await carol(['token', 'create', 'build', '--json'])).stdout) as { token: string }).token;
    const otherLogin = (await api<{ token: string }>(farm.url, null, 'POST', '/auth/login', { username: 'carol', password: 'carol-old' })).body.token;

    const wrong = await carol(['password', '--current', 'nope', '--new', 'carol-new']);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /current password is wrong/);
    const changed = await carol(['password', '--current', 'carol-old', '--new', 'carol-new']);
    assert.equal(changed.code, 0, changed.stderr);

    assert.equal((await api(farm.url, otherLogin, 'GET', '/jobs')).status, 401, 'the other sign-in ended');
    assert.equal((await api(farm.url, token, 'GET', '/jobs')).status, 200, 'the named token still works');
    assert.equal((await carol(['job', 'list'])).code, 0, 'the sign-in that changed it goes on');
    assert.equal((await api(farm.url, null, 'POST', '/auth/login', { username: 'carol', password: 'carol-old' })).status, 401);
    assert.equal((await api(farm.url, null, 'POST', '/auth/login', { username: 'carol', password: 'carol-new' })).status, 200);
  });

  test('admins change roles', async () => {
    assert.equal((await alice(['user', 'list'])).code, 1);
    const up = await farm.cli(['user', 'set', 'alice', '--admin']);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, /user alice: admin/);
    assert.equal((await alice(['user', 'list'])).code, 0);
    const down = await farm.cli(['user', 'set', 'alice', '--no-admin']);
    assert.equal(down.code, 0, down.stderr);
    const refused = await alice(['user', 'set', 'bob', '--admin']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /only an admin/);
    const nothing = await farm.cli(['user', 'set', 'alice']);
    assert.equal(nothing.code, 1);
    assert.match(nothing.stderr, /say what to change/);
  });

  test("the audit log shows people's actions, filtered by user and time; admins only", async () => {
    const since = new Date().toISOString();
    const created = await alice(['job', 'create', '-n', 'audited', '-s', 'examples/hello/count_words.py', '-i', 'examples/hello/texts/poem_1.txt', '--json']);
    assert.equal(created.code, 0, created.stderr);
    const jobId = (JSON.parse(created.stdout) as { id: string }).id;
    for (const action of ['start', 'stop', 'retry']) {
      const r = await alice(['job', action, jobId]);
      assert.equal(r.code, 0, `${action}: ${r.stderr}`);
    }
    await farm.cli(['job', 'stop', jobId]);

    const mine = await farm.cli(['audit', '--user', 'alice', '--since', since, '--json']);
    assert.equal(mine.code, 0, mine.stderr);
    const entries = JSON.parse(mine.stdout) as AuditEntry[];
    assert.deepEqual(entries.map((e) => e.action).reverse(), ['job.create', 'job.start', 'job.stop', 'job.retry']);
    assert.ok(entries.every((e) => e.user === 'alice' && e.target === jobId && Date.parse(e.time) >= Date.parse(since)));
    assert.equal(entries.at(-1)!.details.name, 'audited');

    const all = JSON.parse((await farm.cli(['audit', '--json', '--limit', '1000'])).stdout) as AuditEntry[];
    const has = (user: string, action: string, target?: string) => all.some((e) => e.user === user && e.action === action && (target === undefined || e.target === target));
    assert.ok(has('admin', 'job.stop', jobId), 'the admin stopping her job');
    assert.ok(has('admin', 'user.create', 'alice'));
    assert.ok(has('admin', 'user.role', 'alice'));
    assert.ok(has('alice', 'token.create') && has('alice', 'token.revoke'));
    assert.ok(has('carol', 'password.change', 'carol'));
    assert.ok(!JSON.stringify(all).includes('drv_u_'), 'no token in the log');

    const text = await farm.cli(['audit', '--user', 'alice', '--action', 'job.create']);
    assert.match(text.stdout, /TIME\s+USER\s+ACTION\s+TARGET/);
    assert.match(text.stdout, new RegExp(`alice\\s+job\\.create\\s+${jobId}\\s+name=audited`));
    assert.match((await farm.cli(['audit', '--since', '2999-01-01'])).stdout, /no audit entries/);
    const badDate = await farm.cli(['audit', '--since', 'yesterday-ish']);
    assert.equal(badDate.code, 1);
    assert.match(badDate.stderr, /since must be a date/);
    const notAdmin = await bob(['audit']);
    assert.equal(notAdmin.code, 1);
    assert.match(notAdmin.stderr, /only an admin/);
  });

  test('the store and blob files are readable by their owner only, and an older farm is fixed at start', async () => {
    const data = farm.dataDir;
    assert.equal(await mode(data), 0o700);
    assert.equal(await mode(join(data, 'drover.sqlite')), 0o600);
    assert.equal(await mode(join(data, 'drover.sqlite-wal')), 0o600);
    assert.equal(await mode(join(data, 'blobs')), 0o700);
    const blobFiles = await filesUnder(join(data, 'blobs'));
    const stored = blobFiles.filter((f) => /\/[0-9a-f]{2}\/[0-9a-f]{62}$/.test(f));
    assert.ok(stored.length >= 2, `the job's files are stored: ${blobFiles.join(', ')}`);
    for (const f of stored) assert.equal(await mode(f), 0o600, f);

    // A farm made before this fix: world-readable files and folders, fixed when it starts again.
    const old = await mkdtemp(join(tmpdir(), 'drover-old-farm-'));
    try {
      const first = await startServer({ dataDir: old });
      await first.kill('SIGTERM');
      const blobDir = join(old, 'blobs', 'ab');
      await mkdir(blobDir, { recursive: true });
      await writeFile(join(blobDir, 'c'.repeat(62)), 'old blob', { mode: 0o644 });
      await rm(join(old, 'blobs', '.private-modes'), { force: true });
      for (const [p, m] of [[old, 0o755], [join(old, 'drover.sqlite'), 0o644], [join(old, 'blobs'), 0o755], [blobDir, 0o755]] as const) await chmod(p, m);
      const second = await startServer({ dataDir: old });
      try {
        assert.equal(await mode(old), 0o700);
        assert.equal(await mode(join(old, 'drover.sqlite')), 0o600);
        assert.equal(await mode(join(old, 'blobs')), 0o700);
        await eventually(async () => (await mode(join(blobDir, 'c'.repeat(62)))) === 0o600, 10_000, 'the old blob made private');
        assert.equal(await mode(blobDir), 0o700);
      } finally {
        await second.kill('SIGTERM');
      }
    } finally {
      await rm(old, { recursive: true, force: true });
    }
  });
});

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else out.push(p);
  }
  return out;
}
