// Usage on a real farm: core- and GPU-seconds per user, day and job equal the attempts' own
// durations (failed attempts too) times the cores and GPUs they held, as the API records them;
// people see only their own; deleting a job keeps what it used.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { type Farm, api, startFarm } from '../helpers/farm.js';
import { makeWorkspace } from '../helpers/reliability.js';
import type { UsageReport } from '../../src/wire/usage.js';

interface AttemptJson {
  status: string;
  startedAt: string;
  finishedAt: string | null;
}
interface JobJson {
  id: string;
  status: string;
  tasks: { id: string }[];
}

const inputs = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`in/job_${i + 1}.txt`, String(i + 1)]));
/** Seconds of floating error allowed between the ledger and the attempts (the ledger stores what the attempts say). */
const EPSILON = 0.001;

describe('usage', { timeout: 300_000 }, () => {
  let farm: Farm;
  let token: string;
  let alice: Awaited<ReturnType<Farm['userCli']>>;
  let bob: Awaited<ReturnType<Farm['userCli']>>;
  let aliceJob: string;
  let bobJob: string;

  /** Sum over the job's attempts of their recorded duration, in seconds, and how many there were. */
  async function attemptSeconds(jobId: string): Promise<{ seconds: number; attempts: number; statuses: string[] }> {
    const job = (await api<JobJson>(farm.url, token, 'GET', `/jobs/${jobId}`)).body;
    const tasks = (await api<{ tasks: { id: string }[] }>(farm.url, token, 'GET', `/jobs/${jobId}/tasks`)).body.tasks ?? job.tasks;
    let seconds = 0;
    const statuses: string[] = [];
    for (const t of tasks) {
      for (const a of (await api<{ attempts: AttemptJson[] }>(farm.url, token, 'GET', `/tasks/${t.id}`)).body.attempts) {
        assert.ok(a.finishedAt, 'every attempt has ended');
        seconds += (Date.parse(a.finishedAt) - Date.parse(a.startedAt)) / 1000;
        statuses.push(a.status);
      }
    }
    return { seconds, attempts: statuses.length, statuses };
  }

  async function usageJson(cli: (args: string[]) => Promise<{ code: number; stdout: string; stderr: string }>, args: string[] = []): Promise<UsageReport> {
    const r = await cli(['usage', '--json', ...args]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as UsageReport;
  }

  before(async () => {
    farm = await startFarm({ agents: 1, slots: 4, agentArgs: ['--gpus', '1'] });
    token = await farm.adminToken();
    alice = await farm.userCli('alice');
    bob = await farm.userCli('bob');
    // alice: 2-core tasks, one of which fails on every attempt (2 attempts): failed time counts too.
    const ws = await makeWorkspace({
      'work.sh': 'sleep 0.4\n[ "$(cat "$1")" = 3 ] && { echo "task 3 always fails" >&2; exit 2; }\necho ok\n',
      'gpu.sh': 'sleep 0.3\necho rendered\n',
      ...inputs(3),
    });
    const a = await alice(['job', 'create', '-n', 'alice-work', '-s', join(ws, 'work.sh'), '-i', join(ws, 'in/*.txt'), '--cores', '2', '--max-attempts', '2', '-r', '-w', '--json']);
    assert.notEqual(a.code, 0, 'a task failed: the job ends in error');
    aliceJob = (JSON.parse(a.stdout) as JobJson).id;
    // bob: 1-core tasks asking for a GPU.
    const b = await bob(['job', 'create', '-n', 'bob-gpu', '-s', join(ws, 'gpu.sh'), '-i', `${join(ws, 'in/job_1.txt')},${join(ws, 'in/job_2.txt')}`, '--gpus', '1', '-r', '-w', '--json']);
    assert.equal(b.code, 0, b.stderr);
    bobJob = (JSON.parse(b.stdout) as JobJson).id;
  });

  after(async () => {
    await farm?.stop();
  });

  test("core-seconds are the attempts' durations times the cores, failed attempts included; GPU-seconds likewise", async () => {
    const aliceAttempts = await attemptSeconds(aliceJob);
    assert.equal(aliceAttempts.attempts, 4, 'tasks 1 and 2 once, task 3 twice');
    assert.deepEqual(aliceAttempts.statuses.filter((s) => s === 'error').length, 2);
    const mine = await usageJson(alice);
    assert.deepEqual(mine.users.map((u) => u.user), ['alice'], 'alice sees her own usage only');
    const row = mine.users[0]!;
    assert.ok(Math.abs(row.coreSeconds - aliceAttempts.seconds * 2) < EPSILON, `alice: ${row.coreSeconds} core-seconds, attempts say ${aliceAttempts.seconds * 2}`);
    assert.ok(row.coreSeconds >= 4 * 0.4 * 2, 'each attempt slept 0.4 s on 2 cores');
    assert.equal(row.gpuSeconds, 0);
    assert.equal(row.jobs, 1);
    assert.equal(row.tasks, 3);
    assert.equal(row.attempts, 4);

    const bobAttempts = await attemptSeconds(bobJob);
    const all = await usageJson(farm.cli);
    const bobRow = all.users.find((u) => u.user === 'bob')!;
    assert.deepEqual(all.users.map((u) => u.user), ['alice', 'bob'], 'admins see everyone');
    assert.ok(Math.abs(bobRow.coreSeconds - bobAttempts.seconds) < EPSILON, `bob: ${bobRow.coreSeconds} core-seconds, attempts say ${bobAttempts.seconds}`);
    assert.ok(Math.abs(bobRow.gpuSeconds - bobAttempts.seconds) < EPSILON, 'one GPU held for as long as each attempt ran');
    assert.equal(bobRow.tasks, 2);
    // Per day: today's rows add up to the totals; per job: one row each.
    const today = new Date().toISOString().slice(0, 10);
    const dayTotal = all.days.filter((d) => d.user === 'alice').reduce((n, d) => n + d.coreSeconds, 0);
    assert.ok(Math.abs(dayTotal - row.coreSeconds) < EPSILON);
    assert.ok(all.days.some((d) => d.day === today || d.day === new Date(Date.now() - 3_600_000).toISOString().slice(0, 10)));
    assert.deepEqual(all.jobs.map((j) => [j.jobId, j.user, j.deleted]).sort(), [[aliceJob, 'alice', false], [bobJob, 'bob', false]].sort());
    // The table says the same in core-hours.
    const text = await farm.cli(['usage']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /USER\s+CORE-H\s+GPU-H\s+JOBS\s+TASKS/);
    assert.match(text.stdout, /\nalice\s/);
  });

  test("another user's usage is refused to a non-admin in one line; dates are checked", async () => {
    const r = await alice(['usage', '--user', 'bob']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /only admins see other people's usage/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    const own = await usageJson(alice, ['--user', 'alice']);
    assert.deepEqual(own.users.map((u) => u.user), ['alice']);
    const bobOnly = await usageJson(farm.cli, ['--user', 'bob']);
    assert.deepEqual(bobOnly.users.map((u) => u.user), ['bob']);
    const bad = await alice(['usage', '--since', 'last tuesday']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /since must be a date such as 2026-12-01/);
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const none = await usageJson(alice, ['--since', tomorrow]);
    assert.deepEqual(none.users, []);
    assert.equal(none.since, tomorrow);
  });

  test('deleting a job keeps its usage', async () => {
    const before = (await usageJson(farm.cli)).users;
    const d = await alice(['job', 'delete', aliceJob]);
    assert.equal(d.code, 0, d.stderr);
    assert.equal((await api(farm.url, token, 'GET', `/jobs/${aliceJob}`)).status, 404);
    const afterDelete = await usageJson(farm.cli);
    assert.deepEqual(afterDelete.users, before);
    assert.equal(afterDelete.jobs.find((j) => j.jobId === aliceJob)?.deleted, true);
    const text = await alice(['usage', '--jobs']);
    assert.match(text.stdout, new RegExp(`${aliceJob} \\(deleted\\)\\s+alice-work`));
  });
});
