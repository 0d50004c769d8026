// Quotas on a real farm (2 agents, 3 cores each): a user capped at N cores never has more than N
// running however many of their tasks wait, while another user's tasks take the free cores; a spent
// monthly budget holds the user's new tasks (hold) or stops their running ones too (stop, canceled
// with the reason and requeueable), while another user's job runs to the end. Each change is audited.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { type Farm, api, eventually, startFarm } from '../helpers/farm.js';
import { makeWorkspace } from '../helpers/reliability.js';

interface JobJson {
  id: string;
  status: string;
  counts: Record<string, number>;
  waiting: string | null;
}
interface TaskJson {
  id: string;
  status: string;
  error: string | null;
}

const inputs = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`in/job_${String(i + 1).padStart(2, '0')}.txt`, String(i + 1)]));

describe('quotas', { timeout: 600_000 }, () => {
  let farm: Farm;
  let token: string;
  let ws: string;

  before(async () => {
    farm = await startFarm({ agents: 2, slots: 3 });
    token = await farm.adminToken();
    ws = await makeWorkspace({
      'short.sh': 'sleep 1.5\necho ok\n',
      'quick.sh': 'sleep 0.2\necho ok\n',
      'first-long.sh': '[ "$DROVER_ATTEMPT" = 1 ] && sleep 120\necho ok\n',
      ...inputs(12),
    });
  });
  after(async () => {
    await farm?.stop();
  });

  const job = async (id: string) => (await api<JobJson>(farm.url, token, 'GET', `/jobs/${id}`)).body;
  const tasks = async (id: string) => (await api<{ tasks: TaskJson[] }>(farm.url, token, 'GET', `/jobs/${id}/tasks`)).body.tasks;
  const submit = async (cli: Awaited<ReturnType<Farm['userCli']>>, name: string, script: string, n: number) => {
    const glob = n === 12 ? join(ws, 'in/*.txt') : Array.from({ length: n }, (_, i) => join(ws, `in/job_${String(i + 1).padStart(2, '0')}.txt`)).join(',');
    const r = await cli(['job', 'create', '-n', name, '-s', join(ws, script), '-i', glob, '-r', '--json']);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as { id: string }).id;
  };
  const setUser = async (args: string[]) => {
    const r = await farm.cli(['user', 'set', ...args]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };

  test('a user capped at 2 cores never has more than 2 running, says why in the waiting reason, while another user uses the rest', async () => {
    const carol = await farm.userCli('carol');
    const dave = await farm.userCli('dave');
    assert.match(await setUser(['carol', '--max-cores', '2']), /carol: user, at most 2 cores at once/);
    const capped = await submit(carol, 'capped', 'short.sh', 12);
    const other = await submit(dave, 'free', 'short.sh', 8);
    let most = 0;
    let otherRan = false;
    let reason: string | null = null;
    for (;;) {
      const [c, d] = await Promise.all([job(capped), job(other)]);
      // Uploading tasks hold no cores (their agent's slot is free): the cap counts running ones, as agents do.
      const running = c.counts.running ?? 0;
      assert.ok(running <= 2, `carol has ${running} tasks running under a cap of 2 cores`);
      most = Math.max(most, running);
      if (running === 2 && (c.counts.queued ?? 0) > 0 && c.waiting) reason = c.waiting;
      if ((d.counts.running ?? 0) > 0 && running > 0) otherRan = true;
      if (c.status === 'done') break;
      assert.ok(['queued', 'running'].includes(c.status), c.status);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(most, 2, 'the cap was reached, not undershot');
    assert.ok(otherRan, "dave's tasks ran beside carol's: the cap is carol's, not the farm's");
    assert.match(reason ?? '', /carol's running tasks hold 2 of the 2 cores they may use at once/);
    const list = await farm.cli(['user', 'list', '--json']);
    const carolRow = (JSON.parse(list.stdout) as { name: string; quota: { maxCores: number | null; runningCores: number; monthCoreSeconds: number } }[]).find((u) => u.name === 'carol')!;
    assert.equal(carolRow.quota.maxCores, 2);
    assert.ok(carolRow.quota.monthCoreSeconds >= 12 * 1.5, 'this month counts her 12 tasks of 1.5 s');
    const table = await farm.cli(['user', 'list']);
    assert.match(table.stdout, /CORES \(RUNNING\/CAP\)/);
    assert.match(table.stdout, /\ncarol\s+no\s+0\/2\s/);
    await eventually(async () => (await job(other)).status === 'done', 60_000, "dave's job");
    assert.match(await setUser(['carol', '--max-cores', 'none']), /no core cap/);
  });

  test("a spent budget set to hold starts none of the user's new tasks, while another user's job runs to the end", async () => {
    const erin = await farm.userCli('erin');
    const frank = await farm.userCli('frank');
    // 0.001 core-hours = 3.6 core-seconds: spent while the first six 1.5 s tasks run.
    await setUser(['erin', '--monthly-core-hours', '0.001']);
    const held = await submit(erin, 'over budget', 'short.sh', 12);
    const spent = await eventually(async () => {
      const j = await job(held);
      // A task still uploading its results is done later: wait for it too, or `done` moves after this.
      return j.waiting && /monthly budget of 0.001 core-hours is spent/.test(j.waiting) && (j.counts.running ?? 0) + (j.counts.uploading ?? 0) === 0 ? j : null;
    }, 60_000, "erin's budget to be spent and her running tasks to end");
    assert.ok((spent.counts.queued ?? 0) > 0, 'tasks are left waiting');
    const doneBefore = spent.counts.done ?? 0;
    const other = await submit(frank, 'within budget', 'quick.sh', 6);
    await eventually(async () => (await job(other)).status === 'done', 60_000, "frank's job");
    const still = await job(held);
    assert.equal(still.counts.done ?? 0, doneBefore, "no task of erin's started while frank's job ran");
    assert.equal((still.counts.running ?? 0) + (still.counts.uploading ?? 0), 0);
    const view = await erin(['job', 'view', held]);
    assert.match(view.stdout, /waiting: erin's monthly budget of 0.001 core-hours is spent/);
    const list = await farm.cli(['user', 'list']);
    assert.match(list.stdout, /\nerin\s+no\s+0\/-\s+\S+\/0.001 \(spent\)\s+hold/);
    // Lifting the budget lets the rest run.
    await setUser(['erin', '--monthly-core-hours', 'none']);
    await eventually(async () => (await job(held)).status === 'done', 120_000, "erin's job after the budget was lifted");
  });

  test('a spent budget set to stop stops the running tasks too: canceled with the reason, not failed, and requeueable', async () => {
    const gina = await farm.userCli('gina');
    const hank = await farm.userCli('hank');
    await setUser(['gina', '--monthly-core-hours', '0.002', '--over-budget', 'stop']);
    const stopped = await submit(gina, 'long', 'first-long.sh', 2);
    const other = await submit(hank, 'beside', 'quick.sh', 4);
    const ended = await eventually(async () => {
      const ts = await tasks(stopped);
      return ts.every((t) => t.status === 'canceled') ? ts : null;
    }, 60_000, "gina's running tasks to be stopped");
    for (const t of ended) {
      assert.match(t.error ?? '', /stopped: the monthly budget of gina \(0.002 core-hours\) is spent/);
      const attempts = (await api<{ attempts: { status: string }[] }>(farm.url, token, 'GET', `/tasks/${t.id}`)).body.attempts;
      assert.deepEqual(attempts.map((a) => a.status), ['canceled'], 'canceled, not failed');
    }
    await eventually(async () => (await job(other)).status === 'done', 60_000, "hank's job");
    // Canceled time counts: the month now holds at least the 7.2 core-seconds of the budget.
    const usage = JSON.parse((await gina(['usage', '--json'])).stdout) as { users: { coreSeconds: number }[] };
    assert.ok(usage.users[0]!.coreSeconds >= 0.002 * 3600);
    // A new budget, and the tasks are requeued by a person: their second attempt runs to the end.
    await setUser(['gina', '--monthly-core-hours', '10']);
    const retry = await gina(['job', 'retry', stopped]);
    assert.equal(retry.code, 0, retry.stderr);
    await eventually(async () => (await job(stopped)).status === 'done', 60_000, "gina's job after retry");
  });

  test('quota changes are in the audit log; a non-admin cannot set them; bad values are refused in one line', async () => {
    const audit = await farm.cli(['audit', '--action', 'user.quota', '--json']);
    const entries = JSON.parse(audit.stdout) as { user: string; target: string; details: Record<string, unknown> }[];
    assert.ok(entries.some((e) => e.target === 'carol' && e.details.maxCores === 2 && e.user === 'admin'));
    assert.ok(entries.some((e) => e.target === 'carol' && e.details.maxCores === null));
    assert.ok(entries.some((e) => e.target === 'gina' && e.details.overBudget === 'stop' && e.details.monthlyCoreHours === 0.002));
    const carol = await farm.userCli('carol');
    const refused = await carol(['user', 'set', 'carol', '--max-cores', '100']);
    assert.equal(refused.code, 1);
    assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr);
    for (const [flag, value, message] of [
      ['--max-cores', '2.5', /--max-cores must be a whole number of at least 1, or none/],
      ['--monthly-core-hours', '-1', /--monthly-core-hours must be a number above 0, or none/],
      ['--over-budget', 'pause', /--over-budget must be hold or stop/],
    ] as const) {
      const r = await farm.cli(['user', 'set', 'carol', flag, value]);
      assert.equal(r.code, 1, `${flag} ${value}`);
      assert.match(r.stderr, message);
    }
  });
});
