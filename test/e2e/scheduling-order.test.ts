// Scheduling with real agents, the order in which work runs: priority, then fair share between
// users, then age; and jobs that run after others (--after, --after-any). Split from
// scheduling.test.ts so the two spread over the test runner's slots.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { api, eventually } from '../helpers/farm.js';
import { makeWorkspace } from '../helpers/reliability.js';
import { type JobJson, attemptsOf, farmOf, inputs, viewJson } from '../helpers/scheduling.js';

describe('priority and fair share', { timeout: 600_000 }, () => {
  test('a one-slot agent runs the highest priority first, then the oldest; job set changes it while queued', async () => {
    const farm = await farmOf(1);
    // The agent is held by a job until the test stops it.
    const ws = await makeWorkspace({ 'block.sh': 'sleep 600\n', 'quick.sh': 'echo done\n', 'x.txt': 'x' });
    const create = async (name: string, script: string, input: string, extra: string[]) => {
      const r = await farm.cli(['job', 'create', '-n', name, '-s', join(ws, script), '-i', join(ws, input), '-r', '--json', '--no-network', ...extra]);
      assert.equal(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout) as JobJson & { priority: number }).id;
    };
    const blocker = await create('blocker', 'block.sh', 'x.txt', []);
    await eventually(async () => (await viewJson(farm, blocker)).status === 'running', 30_000, 'the blocker to start');
    const low = await create('low', 'quick.sh', 'x.txt', ['--priority', '10']);
    const normal = await create('normal', 'quick.sh', 'x.txt', []);
    const normal2 = await create('normal-2', 'quick.sh', 'x.txt', []);
    const urgent = await create('urgent', 'quick.sh', 'x.txt', ['--priority', '90']);
    // Raised while queued: now ahead of the other normal one, behind the urgent one.
    const raised = await farm.cli(['job', 'set', normal2, '--priority', '60']);
    assert.equal(raised.code, 0, raised.stderr);
    assert.match(raised.stdout, /priority 60/);
    const setAudit = JSON.parse((await farm.cli(['audit', '--action', 'job.set', '--json'])).stdout) as { target: string; details: { priority: number } }[];
    assert.deepEqual(setAudit.map((e) => [e.target, e.details.priority]), [[normal2, 60]], 'job set is in the audit log');
    assert.equal((await viewJson(farm, low)).waiting, '3 jobs of higher priority ahead');
    assert.equal((await viewJson(farm, normal)).waiting, '2 jobs of higher priority ahead');
    const bad = await farm.cli(['job', 'set', low, '--priority', '101']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--priority must be a whole number from 0 to 100/);
    const api400 = await api<{ message: string }>(farm.url, await farm.adminToken(), 'PATCH', `/jobs/${low}`, { priority: -1 });
    assert.equal(api400.status, 400);

    assert.equal((await farm.cli(['job', 'stop', blocker])).code, 0);
    const order = [urgent, normal2, normal, low];
    const started: [string, string][] = [];
    for (const id of order) {
      const job = await eventually(async () => {
        const j = await viewJson(farm, id);
        return j.status === 'done' ? j : null;
      }, 60_000, `job ${id} to finish`);
      started.push([id, (await attemptsOf(farm, job.tasks![0]!.id))[0]!.startedAt]);
    }
    const byStart = [...started].sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0)).map(([id]) => id);
    assert.deepEqual(byStart, order);
    const view = await farm.cli(['job', 'view', urgent]);
    assert.match(view.stdout, /priority: 90/);
  });

  test('fair share: two users at equal priority take turns on the farm\'s slots', async () => {
    const farm = await farmOf(1, 2);
    // Both slots are held by a job until the test stops it.
    const ws = await makeWorkspace({ 'block.sh': 'sleep 600\n', 'work.sh': 'sleep 1\n', ...inputs(4), 'hold/1.txt': '1', 'hold/2.txt': '2' });
    const blocker = await farm.cli(['job', 'create', '-n', 'blocker', '-s', join(ws, 'block.sh'), '-i', join(ws, 'hold/*.txt'), '-r', '--json']);
    assert.equal(blocker.code, 0, blocker.stderr);
    const blockerId = (JSON.parse(blocker.stdout) as JobJson).id;
    await eventually(async () => (await viewJson(farm, blockerId)).counts.running === 2, 30_000, 'the blocker to hold both slots');
    const jobs = new Map<string, string>();
    for (const user of ['alice', 'bob']) {
      const cli = await farm.userCli(user);
      const r = await cli(['job', 'create', '-n', `${user}-work`, '-s', join(ws, 'work.sh'), '-i', join(ws, 'in/*.txt'), '-r', '--json']);
      assert.equal(r.code, 0, r.stderr);
      jobs.set((JSON.parse(r.stdout) as JobJson).id, user);
    }
    // Bob sees where his job stands without seeing alice's.
    const bob = await farm.userCli('bob');
    const bobList = JSON.parse((await bob(['job', 'list', '--json'])).stdout) as JobJson[];
    assert.equal(bobList.length, 1);
    assert.equal(bobList[0]!.waiting, '1 job ahead in the queue');

    assert.equal((await farm.cli(['job', 'stop', blockerId])).code, 0);
    const starts: [string, string][] = [];
    for (const [id, user] of jobs) {
      const job = await eventually(async () => {
        const j = await viewJson(farm, id);
        return j.status === 'done' ? j : null;
      }, 90_000, `${user}'s job to finish`);
      for (const t of job.tasks!) starts.push([user, (await attemptsOf(farm, t.id))[0]!.startedAt]);
    }
    starts.sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
    // Oldest first alone would give alice both slots until her job ran out; fair share alternates.
    let alice = 0;
    let bobs = 0;
    for (const [user] of starts) {
      if (user === 'alice') alice++;
      else bobs++;
      if (alice < 4 && bobs < 4) assert.ok(Math.abs(alice - bobs) <= 1, `starts: ${starts.map(([u]) => u).join(', ')}`);
    }
  });
});

describe('job dependencies', { timeout: 600_000 }, () => {
  test('--after runs a job once the jobs it names are done, cancels it when one fails or is deleted unrun; --after-any waits for any end', async () => {
    const farm = await farmOf(1);
    const ws = await makeWorkspace({
      'first.sh': 'sleep 3\nmkdir -p run-result\necho first > run-result/out.txt\n',
      'fails.sh': 'sleep 3\necho "broken" >&2\nexit 1\n',
      'quick.sh': 'mkdir -p run-result\necho ok > run-result/out.txt\n',
      'x.txt': 'x',
    });
    const create = async (name: string, script: string, extra: string[], cli = farm.cli, run = true) => {
      const r = await cli(['job', 'create', '-n', name, '-s', join(ws, script), '-i', join(ws, 'x.txt'), ...(run ? ['-r'] : []), '--json', '--max-attempts', '1', ...extra]);
      return r;
    };
    const idOf = (r: { code: number; stdout: string; stderr: string }) => {
      assert.equal(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout) as JobJson).id;
    };
    // The first job is started only once the dependent is seen waiting: on a busy machine a CLI
    // call can outlast a short task, and the dependent would then find it done already.
    const first = idOf(await create('first', 'first.sh', [], farm.cli, false));
    const second = idOf(await create('second', 'quick.sh', ['--after', first]));
    const held = await viewJson(farm, second);
    assert.equal(held.status, 'queued');
    assert.equal(held.counts.queued, 1);
    assert.equal(held.waiting, `waiting for job ${first}`);
    assert.match((await farm.cli(['job', 'view', second])).stdout, new RegExp(`after: ${first} \\(once they are done\\)`));
    assert.equal((await farm.cli(['job', 'start', first])).code, 0);
    const done = await eventually(async () => {
      const j = await viewJson(farm, second);
      return j.status === 'done' ? j : null;
    }, 60_000, 'the dependent job to be done');
    const firstTask = (await viewJson(farm, first)).tasks![0]!;
    const firstEnd = (await api<{ finishedAt: string }>(farm.url, await farm.adminToken(), 'GET', `/tasks/${firstTask.id}`)).body.finishedAt;
    const secondStart = (await attemptsOf(farm, done.tasks![0]!.id))[0]!.startedAt;
    assert.ok(secondStart >= firstEnd, `the dependent started at ${secondStart}, before ${firstEnd}`);

    // One it waits for fails: --after cancels with the reason, --after-any runs anyway.
    const failing = idOf(await create('fails', 'fails.sh', [], farm.cli, false));
    const strict = idOf(await create('strict', 'quick.sh', ['--after', `${first},${failing}`]));
    const lenient = idOf(await create('lenient', 'quick.sh', ['--after', failing, '--after-any']));
    assert.equal((await farm.cli(['job', 'start', failing])).code, 0);
    const canceled = await eventually(async () => {
      const j = await viewJson(farm, strict);
      return j.status === 'canceled' ? j : null;
    }, 60_000, 'the strict dependent to be canceled');
    assert.match(canceled.tasks![0]!.error ?? '', new RegExp(`job ${failing}, which it waits for \\(--after\\), ended error`));
    await eventually(async () => (await viewJson(farm, lenient)).status === 'done', 60_000, 'the lenient dependent to run');

    // Refused with a reason: a job that can never be done, another user's job, --after-any alone.
    const never = await create('never', 'quick.sh', ['--after', failing]);
    assert.notEqual(never.code, 0);
    assert.match(never.stderr, new RegExp(`job ${failing} ended error; it can never be done`));
    const bob = await farm.userCli('bob');
    const foreign = await create('foreign', 'quick.sh', ['--after', first], bob);
    assert.notEqual(foreign.code, 0);
    assert.match(foreign.stderr, new RegExp(`job ${first} does not exist or is not yours`));
    const alone = await create('alone', 'quick.sh', ['--after-any']);
    assert.notEqual(alone.code, 0);
    assert.match(alone.stderr, /--after-any goes with --after/);

    // One it waits for is deleted before it ran: --after can never be met and cancels with the
    // reason (the dependency row goes with the job; it used to release the dependent); --after-any runs.
    const unstarted = idOf(await create('never started', 'quick.sh', [], farm.cli, false));
    const orphan = idOf(await create('orphan', 'quick.sh', ['--after', unstarted]));
    const relaxed = idOf(await create('relaxed', 'quick.sh', ['--after', unstarted, '--after-any']));
    assert.equal((await viewJson(farm, orphan)).waiting, `waiting for job ${unstarted}`);
    const deleted = await farm.cli(['job', 'delete', unstarted]);
    assert.equal(deleted.code, 0, deleted.stderr);
    const orphaned = await eventually(async () => {
      const j = await viewJson(farm, orphan);
      return j.status === 'canceled' ? j : null;
    }, 60_000, 'the dependent of a deleted job to be canceled');
    assert.match(orphaned.tasks![0]!.error ?? '', new RegExp(`job ${unstarted}, which it waits for \\(--after\\), was deleted before it was done`));
    await eventually(async () => (await viewJson(farm, relaxed)).status === 'done', 60_000, 'the --after-any dependent of a deleted job to run');
  });
});
