// One suite of store behaviour, run on SQLite (sqlite.test.ts) and on PostgreSQL (postgres.test.ts):
// the real services on a real ServiceContext, so both dialects must agree on migrations, jobs stored
// whole, job lists, metrics and logs. Leasing and results are in leasing-suite.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildServer } from '../../src/coordinator/server.js';
import { createUser, ensureAdmin } from '../../src/coordinator/services/accounts.js';
import { completeTask } from '../../src/coordinator/services/completion.js';
import { leaseTasks } from '../../src/coordinator/services/dispatch.js';
import { appendTaskLogs, readTaskLogs } from '../../src/coordinator/services/task-logs.js';
import { migrateToLatest } from '../../src/store/database.js';
import * as framesRepo from '../../src/store/repositories/frames.js';
import * as jobsRepo from '../../src/store/repositories/jobs.js';
import * as tasksRepo from '../../src/store/repositories/tasks.js';
import * as usersRepo from '../../src/store/repositories/users.js';
import { type StoreUnderTest, addAgent, describeStore, done, failed, isLeaseLost, JOIN, jobStatus, scriptJob } from './store-env.js';

export function storeSuite(store: StoreUnderTest): void {
  describeStore(store, 'store', (env) => {
    test('migrations apply, run again as a no-op, and give numbers (not strings) for bigint and counts', async () => {
      await migrateToLatest(env.ctx.db);
      const tables = ['users', 'api_tokens', 'agents', 'jobs', 'tasks', 'task_attempts', 'task_logs', 'task_files', 'blobs', 'blob_owners'] as const;
      for (const t of tables) await env.ctx.db.selectFrom(t).selectAll().limit(1).execute();
      const agent = await addAgent(env.ctx, 'big');
      const row = await env.ctx.db.selectFrom('agents').select('memory_bytes').where('id', '=', agent.id).executeTakeFirstOrThrow();
      assert.equal(row.memory_bytes, 8 * 1024 ** 3);
      const count = await env.ctx.db.selectFrom('users').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
      assert.equal(typeof count.n, 'number');
    });

    test('two admin bootstraps at once create one admin and neither fails', async () => {
      await env.ctx.db.deleteFrom('users').execute();
      const results = await Promise.all([ensureAdmin(env.ctx), ensureAdmin(env.ctx), ensureAdmin(env.ctx)]);
      const admins = await env.ctx.db.selectFrom('users').selectAll().where('name', '=', 'admin').execute();
      assert.equal(admins.length, 1);
      assert.ok(results.filter((r) => r.created).length <= 1);
      assert.equal((await ensureAdmin(env.ctx)).created, false);
    });

    test('a job and its tasks are stored in one transaction; a failing insert stores nothing', async () => {
      const id = await scriptJob(env, 'whole', 3, { start: false });
      assert.equal(await jobStatus(env, id), 'created');
      assert.equal(await tasksRepo.countTasks(env.ctx.db, id), 3);
      const tasks = await tasksRepo.listTasks(env.ctx.db, id, { offset: 0, limit: 10 });
      assert.deepEqual(tasks.map((t) => [t.idx, t.input_name, t.status]), [[1, 'in_1.txt', 'queued'], [2, 'in_2.txt', 'queued'], [3, 'in_3.txt', 'queued']]);

      const job = (await jobsRepo.findJob(env.ctx.db, id))!;
      const task = tasks[0]!;
      const { agent_name: _unused, ...taskRow } = task;
      await assert.rejects(
        env.ctx.db.transaction().execute(async (trx) => {
          await jobsRepo.insertJob(trx, { ...job, id: 'j_broken', name: 'broken' });
          // The same (job, index) twice: the unique constraint fails the second row.
          await tasksRepo.insertTasks(trx, [{ ...taskRow, id: 't_one', job_id: 'j_broken' }, { ...taskRow, id: 't_two', job_id: 'j_broken' }]);
        }),
      );
      assert.equal(await jobsRepo.findJob(env.ctx.db, 'j_broken'), undefined);
      assert.equal(await tasksRepo.countTasks(env.ctx.db, 'j_broken'), 0);
    });

    test('job lists: newest first, counts by status, paging and a literal search', async () => {
      const names = ['render 50% done', 'render 50 frames', 'under_score', 'underXscore', 'Plain'];
      const ids: string[] = [];
      for (const n of names) ids.push(await scriptJob(env, n, 1, { start: false }));
      await scriptJob(env, 'running one', 1);
      const other = await createUser(env.ctx, 'bob', 'bob-pw', false);

      const all = await jobsRepo.listJobs(env.ctx.db, { userId: env.user.id, offset: 0, limit: 100 });
      assert.equal(all.total, 6);
      assert.equal(all.countsByStatus.all, 6);
      assert.equal(all.countsByStatus.created, 5);
      assert.equal(all.countsByStatus.queued, 1);
      assert.equal(all.rows[0]!.name, 'running one');
      assert.equal(all.rows[0]!.owner, 'alice');

      const page = await jobsRepo.listJobs(env.ctx.db, { userId: env.user.id, offset: 2, limit: 2 });
      assert.equal(page.rows.length, 2);
      assert.deepEqual(page.rows.map((r) => r.id), all.rows.slice(2, 4).map((r) => r.id));

      const percent = await jobsRepo.listJobs(env.ctx.db, { userId: env.user.id, nameContains: '50%', offset: 0, limit: 10 });
      assert.deepEqual(percent.rows.map((r) => r.name), ['render 50% done']);
      const underscore = await jobsRepo.listJobs(env.ctx.db, { userId: env.user.id, nameContains: 'under_', offset: 0, limit: 10 });
      assert.deepEqual(underscore.rows.map((r) => r.name), ['under_score']);
      const caseless = await jobsRepo.listJobs(env.ctx.db, { userId: env.user.id, nameContains: 'PLAIN', offset: 0, limit: 10 });
      assert.deepEqual(caseless.rows.map((r) => r.name), ['Plain']);
      const queued = await jobsRepo.listJobs(env.ctx.db, { userId: env.user.id, status: 'queued', offset: 0, limit: 10 });
      assert.equal(queued.total, 1);

      assert.equal((await jobsRepo.listJobs(env.ctx.db, { userId: other.id, offset: 0, limit: 10 })).total, 0);
      assert.equal((await jobsRepo.listJobs(env.ctx.db, { userId: null, offset: 0, limit: 10 })).total, 6);
      const counts = await jobsRepo.taskCountsFor(env.ctx.db, ids);
      assert.deepEqual(counts.get(ids[0]!), { pending: 0, queued: 1, running: 0, done: 0, error: 0, canceled: 0 });
      assert.equal(await usersRepo.countUsers(env.ctx.db), 2);
    });

    test('job lists sort by progress and by duration: stable ties, not-started jobs last, pages that join up', async () => {
      // Progress: the share of tasks done (4 tasks each: 0, 1, 2, 4 done; two at 2 tie).
      const p0 = await scriptJob(env, 'p0', 4, { start: false });
      const p1 = await scriptJob(env, 'p1', 4);
      const p2a = await scriptJob(env, 'p2a', 4);
      const p2b = await scriptJob(env, 'p2b', 4);
      const p4 = await scriptJob(env, 'p4', 4);
      const markDone = async (job: string, n: number) => {
        const tasks = await tasksRepo.listTasks(env.ctx.db, job, { offset: 0, limit: 10 });
        for (const t of tasks.slice(0, n)) await tasksRepo.updateTask(env.ctx.db, t.id, { status: 'done' });
      };
      await markDone(p1, 1);
      await markDone(p2a, 2);
      await markDone(p2b, 2);
      await markDone(p4, 4);
      const list = async (sort: 'progress' | 'duration', order: 'asc' | 'desc', offset = 0, limit = 100, now?: string) =>
        (await jobsRepo.listJobs(env.ctx.db, { userId: env.user.id, sort, order, offset, limit, ...(now ? { now } : {}) })).rows.map((r) => r.name);
      // Ties go by submission, newest first (p2b before p2a), in both orders.
      assert.deepEqual(await list('progress', 'desc'), ['p4', 'p2b', 'p2a', 'p1', 'p0']);
      assert.deepEqual(await list('progress', 'asc'), ['p0', 'p1', 'p2b', 'p2a', 'p4']);
      // Pages of two join up into the whole list, nothing twice, nothing left out.
      const paged = [...(await list('progress', 'asc', 0, 2)), ...(await list('progress', 'asc', 2, 2)), ...(await list('progress', 'asc', 4, 2))];
      assert.deepEqual(paged, await list('progress', 'asc'));

      // Duration: finished jobs from start to end; running ones up to now; not started: last.
      const at = (minutes: number) => new Date(Date.UTC(2026, 0, 1, 12, minutes)).toISOString();
      await jobsRepo.updateJob(env.ctx.db, p1, { started_at: at(0), finished_at: at(30) }); // 30 min
      await jobsRepo.updateJob(env.ctx.db, p2a, { started_at: at(10), finished_at: at(20) }); // 10 min
      await jobsRepo.updateJob(env.ctx.db, p2b, { started_at: at(40), finished_at: null }); // running since 12:40
      await jobsRepo.updateJob(env.ctx.db, p4, { started_at: at(50), finished_at: at(55) }); // 5 min
      // At 12:50 the running job has run 10 min: it ties with p2a and goes first (newer).
      assert.deepEqual(await list('duration', 'desc', 0, 100, at(50)), ['p1', 'p2b', 'p2a', 'p4', 'p0']);
      assert.deepEqual(await list('duration', 'asc', 0, 100, at(50)), ['p4', 'p2b', 'p2a', 'p1', 'p0']);
      // At 13:30 it has run 50 min: the longest of all.
      assert.deepEqual(await list('duration', 'desc', 0, 100, at(90)), ['p2b', 'p1', 'p2a', 'p4', 'p0']);
      const pages = [...(await list('duration', 'desc', 0, 3, at(90))), ...(await list('duration', 'desc', 3, 3, at(90)))];
      assert.deepEqual(pages, await list('duration', 'desc', 0, 100, at(90)));
    });

    test("a big job's whole-job reads (counts, step counts, frames, attempt times) give what the small-job reads give", async () => {
      const id = await scriptJob(env, 'timed', 4);
      const agent = await addAgent(env.ctx, 'timer', 4);
      const leased = await leaseTasks(env.ctx, agent, { freeCores: 4, maxTasks: 3 });
      // Attempts of known lengths: 90 s and 1.5 s done, 2.25 s failed (then queued again).
      const lengths = [90_000, 1_500, 2_250];
      for (const [i, t] of leased.entries()) {
        await env.ctx.db.updateTable('task_attempts').set({ started_at: new Date(Date.now() - lengths[i]!).toISOString() }).where('task_id', '=', t.taskId).execute();
      }
      await completeTask(env.ctx, agent, leased[0]!.taskId, done(leased[0]!));
      await completeTask(env.ctx, agent, leased[1]!.taskId, done(leased[1]!));
      await completeTask(env.ctx, agent, leased[2]!.taskId, failed(leased[2]!));
      // What each attempt took, from its two times, as a person would add them up.
      const attempts = await env.ctx.db.selectFrom('task_attempts').select(['status', 'started_at', 'finished_at']).where('task_id', 'in', leased.map((t) => t.taskId)).execute();
      const ms = (a: (typeof attempts)[number]) => Date.parse(a.finished_at!) - Date.parse(a.started_at);
      const doneMs = attempts.filter((a) => a.status === 'done').map(ms);
      for (const big of [false, true]) {
        const timing = await jobsRepo.jobTimingStats(env.ctx.db, id, big);
        assert.equal(timing.attemptMs, attempts.map(ms).reduce((a, b) => a + b, 0), `attempt time (big: ${big})`);
        assert.equal(timing.meanDoneMs, (doneMs[0]! + doneMs[1]!) / 2, `mean done time (big: ${big})`);
        assert.ok(timing.attemptMs >= 93_750);
        const counts = (await jobsRepo.taskCountsFor(env.ctx.db, [id], undefined, big)).get(id)!;
        assert.deepEqual([counts.done, counts.queued, counts.running], [2, 2, 0], `counts (big: ${big})`);
        const steps = await jobsRepo.stepCountsFor(env.ctx.db, id, big);
        assert.deepEqual([...steps.keys()], [0]);
        assert.equal(steps.get(0)!.done, 2);
        assert.deepEqual(await framesRepo.frameStats(env.ctx.db, id, big), { total: 0, done: 0 });
      }
      // A job nobody ran has no attempt time yet.
      const idle = await scriptJob(env, 'idle', 2);
      assert.deepEqual(await jobsRepo.jobTimingStats(env.ctx.db, idle, true), { meanDoneMs: null, attemptMs: 0 });
    });

    test('/metrics reads the farm from the store', async () => {
      const id = await scriptJob(env, 'measured', 3, { instanceType: 'm' });
      await scriptJob(env, 'waiting', 2, { start: false });
      const agent = await addAgent(env.ctx, 'm1', 4);
      await addAgent(env.ctx, 'm2', 4);
      const [t1, t2] = await leaseTasks(env.ctx, agent, { freeCores: 4, maxTasks: 2 });
      await env.ctx.db.updateTable('task_attempts').set({ started_at: new Date(Date.now() - 90_000).toISOString() }).where('task_id', '=', t1!.taskId).execute();
      await completeTask(env.ctx, agent, t1!.taskId, done(t1!));
      await completeTask(env.ctx, agent, t2!.taskId, failed(t2!));
      await env.ctx.db.updateTable('agents').set({ status: 'offline' }).where('name', '=', 'm2').execute();

      const app = await buildServer(env.ctx, JOIN);
      try {
        assert.equal((await app.inject({ method: 'GET', url: `/api/v1/jobs/${id}` })).statusCode, 401);
        const res = await app.inject({ method: 'GET', url: '/metrics' });
        assert.equal(res.statusCode, 200);
        const lines = res.body.split('\n');
        const value = (series: string) => {
          const line = lines.find((l) => l.startsWith(`${series} `));
          assert.ok(line, `no ${series} in\n${res.body}`);
          return Number(line.slice(series.length + 1));
        };
        // The failed task went back to the queue; the created job's tasks are not queued yet.
        assert.equal(value('drover_tasks{instance_type="m",status="queued"}'), 2);
        assert.equal(value('drover_tasks{instance_type="m",status="running"}'), 0);
        assert.equal(value('drover_tasks{instance_type="s",status="queued"}'), 0);
        assert.equal(value('drover_agents{status="online"}'), 1);
        assert.equal(value('drover_agents{status="offline"}'), 1);
        assert.equal(value('drover_jobs{status="running"}'), 1);
        assert.equal(value('drover_jobs{status="created"}'), 1);
        assert.equal(value('drover_task_attempt_duration_seconds_count{status="done"}'), 1);
        assert.equal(value('drover_task_attempt_duration_seconds_bucket{status="done",le="60"}'), 0);
        assert.equal(value('drover_task_attempt_duration_seconds_bucket{status="done",le="120"}'), 1);
        assert.ok(Math.abs(value('drover_task_attempt_duration_seconds_sum{status="done"}') - 90) < 5);
        assert.equal(value('drover_task_attempt_duration_seconds_count{status="error"}'), 1);
        assert.equal(value('drover_task_attempt_duration_seconds_bucket{status="error",le="1"}'), 1);
        assert.equal(value('drover_http_request_duration_seconds_count{method="GET",route="/api/v1/jobs/:id",status="401"}'), 1);
      } finally {
        await app.close();
      }
    });

    test('logs are read back in the order they were appended, per attempt, and capped', async () => {
      await scriptJob(env, 'chatty', 1, { maxAttempts: 3 });
      const agent = await addAgent(env.ctx, 'talker');
      const [t] = await leaseTasks(env.ctx, agent, { freeCores: 1, maxTasks: 1 });
      for (let batch = 0; batch < 5; batch++) {
        await appendTaskLogs(env.ctx, agent, t!.taskId, 1, [
          { stream: 'stdout', data: `out ${batch}\n` },
          { stream: 'stderr', data: `err ${batch}\n` },
        ]);
      }
      const logs = await readTaskLogs(env.ctx, t!.taskId, {});
      assert.deepEqual(logs.map((l) => l.data), [0, 1, 2, 3, 4].flatMap((b) => [`out ${b}\n`, `err ${b}\n`]));
      assert.ok(logs.every((l, i) => i === 0 || l.seq > logs[i - 1]!.seq));
      const tail = await readTaskLogs(env.ctx, t!.taskId, { after: logs[5]!.seq });
      assert.deepEqual(tail.map((l) => l.seq), logs.slice(6).map((l) => l.seq));
      const logEvents = env.events.filter((e) => e.type === 'log');
      assert.equal(logEvents.length, 10);

      // Past the cap (1000 bytes here) one system line says so and the rest is dropped.
      await appendTaskLogs(env.ctx, agent, t!.taskId, 1, [{ stream: 'stdout', data: 'x'.repeat(2000) }]);
      await appendTaskLogs(env.ctx, agent, t!.taskId, 1, [{ stream: 'stdout', data: 'more' }]);
      const capped = await readTaskLogs(env.ctx, t!.taskId, { attempt: 1 });
      assert.equal(capped.length, 11);
      assert.equal(capped.at(-1)!.stream, 'system');

      await completeTask(env.ctx, agent, t!.taskId, failed(t!));
      const [t2] = await leaseTasks(env.ctx, agent, { freeCores: 1, maxTasks: 1 });
      await appendTaskLogs(env.ctx, agent, t2!.taskId, 2, [{ stream: 'stdout', data: 'second attempt\n' }]);
      assert.deepEqual((await readTaskLogs(env.ctx, t2!.taskId, { attempt: 2 })).map((l) => l.data), ['second attempt\n']);
      // A stale attempt cannot write into the log any more.
      assert.ok(await isLeaseLost(appendTaskLogs(env.ctx, agent, t!.taskId, 1, [{ stream: 'stdout', data: 'late' }])));
    });
  });
}
