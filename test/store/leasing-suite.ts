// Leases and results on SQLite and PostgreSQL (run by sqlite.test.ts and postgres.test.ts): core fit
// and backfill, many agents at once, grouped results, blocklists, retries, lease expiry racing
// completions, heartbeats and stopped jobs, with the real services on a real ServiceContext.
import type { JobRequirements } from '../../src/core/job-requirements.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpError } from '../../src/coordinator/errors.js';
import { heartbeat, type AgentPrincipal } from '../../src/coordinator/services/agents.js';
import { stopJob } from '../../src/coordinator/services/jobs.js';
import { completeTask, releaseTask } from '../../src/coordinator/services/completion.js';
import { expireLeases } from '../../src/coordinator/services/lease-expiry.js';
import type { LeasedTask } from '../../src/coordinator/services/leasing.js';
import { completeTasks, leaseTasks } from '../../src/coordinator/services/dispatch.js';
import { settleStrandedJobs } from '../../src/coordinator/services/job-settling.js';
import { Readable } from 'node:stream';
import { createRenderJob } from '../../src/coordinator/kinds/render/render-jobs.js';
import type { PreviewTaskSpec } from '../../src/coordinator/kinds/render/preview.js';
import { recordFrameUpload } from '../../src/coordinator/services/frames.js';
import { jobViewFor } from '../../src/coordinator/services/jobs.js';
import { deleteJob } from '../../src/coordinator/services/job-deletion.js';
import { setUserQuota } from '../../src/coordinator/services/quotas.js';
import { usageReport } from '../../src/coordinator/services/usage.js';
import * as blobsRepo from '../../src/store/repositories/blobs.js';
import * as framesRepo from '../../src/store/repositories/frames.js';
import * as tasksRepo from '../../src/store/repositories/tasks.js';
import { type StoreUnderTest, addAgent, describeStore, done, failed, isLeaseLost, jobStatus, scriptJob, sha } from './store-env.js';

export function leasingSuite(store: StoreUnderTest): void {
  describeStore(store, 'leases and results', (env) => {
    test('leasing respects core fit, backfills small tasks, and skips created jobs', async () => {
      const big = await scriptJob(env, 'big', 3, { instanceType: 'm' });
      const small = await scriptJob(env, 'small', 2, { instanceType: 's' });
      await scriptJob(env, 'not started', 2, { start: false });
      const agent = await addAgent(env.ctx, 'a1');
      assert.deepEqual(await leaseTasks(env.ctx, agent, { freeCores: 0, maxTasks: 10 }), []);
      const first = await leaseTasks(env.ctx, agent, { freeCores: 3, maxTasks: 10 });
      // One 2-core task of the older job, then the next one does not fit; a 1-core task backfills.
      assert.deepEqual(first.map((t) => [t.jobId, t.index, t.cores]), [[big, 1, 2], [small, 1, 1]]);
      const oneCore = await leaseTasks(env.ctx, agent, { freeCores: 1, maxTasks: 10 });
      assert.deepEqual(oneCore.map((t) => [t.jobId, t.index]), [[small, 2]]);
      assert.deepEqual(await leaseTasks(env.ctx, agent, { freeCores: 1, maxTasks: 10 }), []);
      const rest = await leaseTasks(env.ctx, agent, { freeCores: 8, maxTasks: 10 });
      assert.deepEqual(rest.map((t) => [t.jobId, t.index]), [[big, 2], [big, 3]]);
      assert.equal(await jobStatus(env, big), 'running');
      const running = await env.ctx.db.selectFrom('tasks').select(['status', 'attempt', 'agent_id']).where('job_id', '=', big).execute();
      assert.ok(running.every((t) => t.status === 'running' && t.attempt === 1 && t.agent_id === agent.id));
      assert.ok(env.events.some((e) => e.type === 'task'));
    });

    test('a queue of higher-priority jobs no agent here meets does not starve the work behind it', async () => {
      // More of their tasks than the candidate window (256) holds: they used to fill it, and the
      // agent leased nothing at all although a job it could run was queued.
      for (let i = 0; i < 70; i++) await scriptJob(env, `gpu ${i}`, 4, { priority: 90, requirements: i % 2 ? { gpus: 1 } : { labels: { pool: 'gpu' } } });
      const plain = await scriptJob(env, 'plain', 2, { priority: 50 });
      const agent = await addAgent(env.ctx, 'cpu-only');
      const leased = await leaseTasks(env.ctx, agent, { freeCores: 4, maxTasks: 2 });
      assert.deepEqual(leased.map((t) => [t.jobId, t.index]), [[plain, 1], [plain, 2]]);
    });

    test('an agent leases the jobs whose GPUs, memory and labels it meets, in priority order, and none of those asking more', async () => {
      // The jobs it cannot run outrank all the others: a wrong match or a skipped job shows.
      const meets = {
        oneGpu: await scriptJob(env, 'one gpu', 1, { priority: 90, requirements: { gpus: 1 } }),
        memory: await scriptJob(env, '4 GiB', 1, { priority: 89, requirements: { memoryMiB: 4096 } }),
        label: await scriptJob(env, 'pool a', 1, { priority: 88, requirements: { labels: { pool: 'a' } } }),
        all: await scriptJob(env, 'all three', 1, { priority: 87, requirements: { gpus: 1, memoryMiB: 8192, labels: { pool: 'a' } } }),
      };
      const beyond: JobRequirements[] = [{ gpus: 2 }, { memoryMiB: 9000 }, { labels: { pool: 'b' } }, { gpus: 1, labels: { tier: 'x' } }];
      for (const requirements of beyond) {
        await scriptJob(env, `beyond ${JSON.stringify(requirements)}`, 1, { priority: 95, requirements });
      }
      const plain = await scriptJob(env, 'plain', 1, { priority: 10 });
      const agent = await addAgent(env.ctx, 'gpu-a', 8, { gpus: 1, labels: { pool: 'a' } });
      const leased = await leaseTasks(env.ctx, agent, { freeCores: 8, maxTasks: 10 });
      assert.deepEqual(leased.map((t) => t.jobId), [meets.oneGpu, meets.memory, meets.label, meets.all, plain]);
      // An agent with no GPUs and no labels takes none of those; nothing is left that it could run.
      const job = await scriptJob(env, 'gpu again', 1, { priority: 90, requirements: { gpus: 1 } });
      const bare = await addAgent(env.ctx, 'bare', 8);
      assert.deepEqual(await leaseTasks(env.ctx, bare, { freeCores: 8, maxTasks: 10 }), []);
      assert.deepEqual((await leaseTasks(env.ctx, agent, { freeCores: 8, maxTasks: 10 })).map((t) => t.jobId), [job]);
    });

    test('prefetch fills an agent\'s hold up to its slot, one waiting task and its share of the queue (queued / online agents)', async () => {
      const id = await scriptJob(env, 'prefetched', 13);
      const [a, b, c] = await Promise.all(['p-a', 'p-b', 'p-c'].map((name) => addAgent(env.ctx, name, 1)));
      const ask = (agent: typeof a, freeCores: number, holding: number) => leaseTasks(env.ctx, agent!, { freeCores, maxTasks: 1, prefetch: 3, holding }).then((ts) => ts.map((t) => t.index));
      // 3 online agents, 1 slot each. a holds nothing and takes one to run now: of the 12 then queued
      // its share is 4, so it may hold 1 + 1 + 4 = 6; its prefetch of 3 is granted in full.
      assert.deepEqual(await ask(a, 1, 0), [1, 2, 3, 4]);
      // b is busy with one task: 9 queued, a share of 3, a hold of up to 5: it gets 3 more.
      assert.deepEqual(await ask(b, 0, 1), [5, 6, 7]);
      // Holding 4 with 6 queued (a share of 2, a hold of up to 4): nothing more.
      assert.deepEqual(await ask(b, 0, 4), []);
      // Two of them ran: it holds 2 and may hold 4 again.
      assert.deepEqual(await ask(b, 0, 2), [8, 9]);
      // c is idle: one task to run now, then 3 queued (a share of 1, a hold of up to 3): 2 more.
      assert.deepEqual(await ask(c, 1, 0), [10, 11, 12]);
      // Near the end every agent holds a task running and one waiting: b, down to 1, gets the last.
      assert.deepEqual(await ask(b, 0, 1), [13]);
      const rows = await env.ctx.db.selectFrom('tasks').select(['idx', 'status', 'agent_id']).where('job_id', '=', id).orderBy('idx').execute();
      const holder = { [a!.id]: 'a', [b!.id]: 'b', [c!.id]: 'c' };
      assert.deepEqual(
        rows.map((r) => [r.idx, r.status, holder[r.agent_id!]]),
        [1, 2, 3, 4].map((i) => [i, 'running', 'a']).concat([5, 6, 7, 8, 9, 13].map((i) => [i, 'running', 'b'])).concat([10, 11, 12].map((i) => [i, 'running', 'c'])).sort((x, y) => (x[0] as number) - (y[0] as number)),
      );
    });

    test('the prefetch share counts only work that could run now: not the tasks of a job not started', async () => {
      await scriptJob(env, 'not started', 1000, { start: false });
      await scriptJob(env, 'started', 4);
      const [a] = await Promise.all(['s-a', 's-b'].map((name) => addAgent(env.ctx, name, 1)));
      // 3 queued after the one to run now, 2 agents: a share of 1, a hold of up to 3. Counting the
      // 1,000 tasks of the job not started, the share was 501 and a took all 4.
      const got = await leaseTasks(env.ctx, a!, { freeCores: 1, maxTasks: 1, prefetch: 3, holding: 0 });
      assert.deepEqual(got.map((t) => t.index), [1, 2, 3]);
    });

    test('prefetch: held tasks each fit the agent, and reporting leases the next in the same request', async () => {
      await scriptJob(env, 'two cores', 10, { instanceType: 'm' });
      const small = await addAgent(env.ctx, 'one-core', 1);
      assert.deepEqual(await leaseTasks(env.ctx, small, { freeCores: 0, maxTasks: 1, prefetch: 3 }), [], 'a 2-core task never runs on a 1-core agent');
      const id = await scriptJob(env, 'one core', 12);
      const [t1, t2] = await leaseTasks(env.ctx, small, { freeCores: 1, maxTasks: 1, prefetch: 1 });
      assert.deepEqual([t1?.jobId, t2?.jobId], [id, id]);
      const answer = await completeTasks(env.ctx, small, [{ taskId: t1!.taskId, ...done(t1!) }], { freeCores: 0, maxTasks: 1, prefetch: 2 });
      assert.deepEqual(answer.results, [{ taskId: t1!.taskId, accepted: true }]);
      assert.deepEqual(answer.tasks!.map((t) => t.index), [3, 4]);
    });

    test('concurrent lease calls from many agents never lease a task twice', async () => {
      const id = await scriptJob(env, 'crowd', 40);
      const agents = await Promise.all(Array.from({ length: 5 }, (_, i) => addAgent(env.ctx, `agent-${i}`)));
      const got = new Map<string, string>();
      let rounds = 0;
      while (got.size < 40 && rounds++ < 50) {
        const calls = Array.from({ length: 20 }, (_, i) => agents[i % agents.length]!).map(async (a) => ({ a, tasks: await leaseTasks(env.ctx, a, { freeCores: 2, maxTasks: 2 }) }));
        for (const { a, tasks } of await Promise.all(calls)) {
          for (const t of tasks) {
            assert.equal(got.has(t.taskId), false, `task ${t.taskId} was leased twice`);
            got.set(t.taskId, a.id);
          }
        }
      }
      assert.equal(got.size, 40);
      const rows = await env.ctx.db.selectFrom('tasks').select(['id', 'status', 'attempt', 'agent_id']).where('job_id', '=', id).execute();
      for (const r of rows) {
        assert.equal(r.status, 'running');
        assert.equal(r.attempt, 1);
        assert.equal(r.agent_id, got.get(r.id));
      }
      const attempts = await env.ctx.db.selectFrom('task_attempts').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      assert.equal(Number(attempts.n), 40);
    });

    test('results and leases of many agents at once are served together, each as if alone', async () => {
      const id = await scriptJob(env, 'group', 30);
      const agents = await Promise.all(Array.from({ length: 10 }, (_, i) => addAgent(env.ctx, `g-${i}`)));
      const first = await Promise.all(agents.map(async (a) => ({ a, t: (await leaseTasks(env.ctx, a, { freeCores: 1, maxTasks: 1 }))[0]! })));
      assert.equal(new Set(first.map((f) => f.t.taskId)).size, 10, 'ten agents asking at once get ten different tasks');
      // All report at once and ask for the next task in the same request; one also reports a task
      // it does not hold, and one reports the same task twice in two requests.
      const [x, y] = first;
      const calls = first.map(({ a, t }) => completeTasks(env.ctx, a, [{ taskId: t.taskId, ...done(t) }], { freeCores: 1, maxTasks: 1 }));
      calls.push(completeTasks(env.ctx, x!.a, [{ taskId: y!.t.taskId, ...done(y!.t) }]));
      calls.push(completeTasks(env.ctx, x!.a, [{ taskId: x!.t.taskId, ...done(x!.t) }]));
      const answers = await Promise.all(calls);
      for (const answer of answers.slice(0, 10)) assert.deepEqual(answer.results.map((r) => r.accepted), [true]);
      for (const answer of answers.slice(10)) {
        const [r] = answer.results;
        assert.equal(r!.accepted, false);
        assert.equal(!r!.accepted && r!.status, 409);
        assert.equal(answer.tasks, undefined, 'no lease was asked for');
      }
      const second = answers.slice(0, 10).map((a, k) => ({ a: agents[k]!, t: a.tasks![0]! }));
      const leased = [...first, ...second].map((l) => l.t.taskId);
      assert.equal(new Set(leased).size, 20, 'no task was leased twice');
      const rows = await env.ctx.db.selectFrom('tasks').select(['id', 'status', 'agent_id', 'attempt']).where('job_id', '=', id).execute();
      const byId = new Map(rows.map((r) => [r.id, r]));
      for (const { a, t } of first) assert.deepEqual({ ...byId.get(t.taskId) }, { id: t.taskId, status: 'done', agent_id: a.id, attempt: 1 });
      for (const { a, t } of second) assert.deepEqual({ ...byId.get(t.taskId) }, { id: t.taskId, status: 'running', agent_id: a.id, attempt: 1 });
      assert.equal(rows.filter((r) => r.status === 'queued').length, 10);
      const files = await env.ctx.db.selectFrom('task_files').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      assert.equal(Number(files.n), 20, 'stdout and stderr of each of the ten, stored once');
      const attempts = await env.ctx.db.selectFrom('task_attempts').select(['status']).execute();
      assert.deepEqual(attempts.map((r) => r.status).sort(), [...Array(10).fill('done'), ...Array(10).fill('running')]);
      // The usage ledger: each accepted attempt once, with what its attempt row, job and owner say
      // (the batch reads those facts with the tasks it checks; nothing is read back after the update).
      const ended = await env.ctx.db
        .selectFrom('task_attempts')
        .innerJoin('tasks', 'tasks.id', 'task_attempts.task_id')
        .innerJoin('jobs', 'jobs.id', 'tasks.job_id')
        .innerJoin('users', 'users.id', 'jobs.user_id')
        .select(['task_attempts.task_id', 'task_attempts.attempt', 'task_attempts.agent_id', 'task_attempts.started_at', 'task_attempts.finished_at', 'jobs.name as job_name', 'jobs.cores', 'users.id as user_id', 'users.name as user_name'])
        .where('task_attempts.status', '=', 'done')
        .execute();
      const ledger = await env.ctx.db.selectFrom('usage_ledger').selectAll().orderBy('task_id').execute();
      assert.deepEqual(
        ledger.map((r) => ({ ...r, seconds: Number(r.seconds), core_seconds: Number(r.core_seconds), gpu_seconds: Number(r.gpu_seconds) })),
        ended
          .sort((a, b) => a.task_id.localeCompare(b.task_id))
          .map((a) => {
            const seconds = (Date.parse(a.finished_at!) - Date.parse(a.started_at)) / 1000;
            return { task_id: a.task_id, attempt: 1, day: a.started_at.slice(0, 10), job_id: id, job_name: a.job_name, user_id: a.user_id, user_name: a.user_name, agent_id: a.agent_id, status: 'done', seconds, cores: a.cores, gpus: 0, core_seconds: seconds * a.cores, gpu_seconds: 0, ended_at: a.finished_at };
          }),
      );
      assert.deepEqual(new Set(ledger.map((r) => r.agent_id)), new Set(first.map((f) => f.a.id)));
    });

    test('an agent blocklisted for a job, asking with others, gets none of its tasks but still gets work', async () => {
      const older = await scriptJob(env, 'blocked-for-one', 4);
      const newer = await scriptJob(env, 'open-to-all', 4);
      const [bad, good] = await Promise.all([addAgent(env.ctx, 'bad'), addAgent(env.ctx, 'good')]);
      await env.ctx.db.insertInto('job_agent_failures').values({ job_id: older, agent_id: bad.id, failures: env.ctx.config.agentFailureLimit }).execute();
      const [forBad, forGood] = await Promise.all([leaseTasks(env.ctx, bad, { freeCores: 2, maxTasks: 2 }), leaseTasks(env.ctx, good, { freeCores: 2, maxTasks: 2 })]);
      assert.deepEqual(forBad.map((t) => t.jobId), [newer, newer]);
      assert.deepEqual(forGood.map((t) => t.jobId), [older, older]);
    });

    test('a blocklisted agent asking for a task to start now is served before the prefetch of others', async () => {
      const older = await scriptJob(env, 'blocked-for-one', 1);
      const open = await scriptJob(env, 'open-to-all', 8);
      const [busy, bad] = await Promise.all([addAgent(env.ctx, 'busy', 1), addAgent(env.ctx, 'bad', 1)]);
      await env.ctx.db.insertInto('job_agent_failures').values({ job_id: older, agent_id: bad.id, failures: env.ctx.config.agentFailureLimit }).execute();
      // One group: the busy agent asks first, to hold 2; the blocklisted one for a task to run now.
      const [held, now] = await Promise.all([leaseTasks(env.ctx, busy, { freeCores: 0, maxTasks: 1, prefetch: 2 }), leaseTasks(env.ctx, bad, { freeCores: 1, maxTasks: 1 })]);
      assert.deepEqual(now.map((t) => [t.jobId, t.index]), [[open, 1]]);
      assert.deepEqual(held.map((t) => [t.jobId, t.index]), [[older, 1], [open, 2]]);
    });

    test('complete, retry after failure, error after the last attempt, release', async () => {
      const id = await scriptJob(env, 'flow', 3, { maxAttempts: 2 });
      const agent = await addAgent(env.ctx, 'worker');
      const [t1, t2, t3] = await leaseTasks(env.ctx, agent, { freeCores: 3, maxTasks: 3 });
      await completeTask(env.ctx, agent, t1!.taskId, done(t1!));
      assert.equal((await tasksRepo.findTask(env.ctx.db, t1!.taskId))!.status, 'done');
      // A result from an attempt the agent no longer holds is refused.
      assert.ok(await isLeaseLost(completeTask(env.ctx, agent, t1!.taskId, done(t1!))));

      await completeTask(env.ctx, agent, t2!.taskId, failed(t2!));
      assert.equal((await tasksRepo.findTask(env.ctx.db, t2!.taskId))!.status, 'queued');
      await releaseTask(env.ctx, agent, t3!.taskId, t3!.attempt, 'shutting down');
      const released = (await tasksRepo.findTask(env.ctx.db, t3!.taskId))!;
      assert.equal(released.status, 'queued');
      assert.equal(released.tries, 0);

      const again = await leaseTasks(env.ctx, agent, { freeCores: 3, maxTasks: 3 });
      assert.deepEqual(again.map((t) => [t.index, t.attempt]), [[2, 2], [3, 2]]);
      await completeTask(env.ctx, agent, again[0]!.taskId, failed(again[0]!));
      assert.equal((await tasksRepo.findTask(env.ctx.db, t2!.taskId))!.status, 'error');
      assert.equal(await jobStatus(env, id), 'running');
      await completeTask(env.ctx, agent, again[1]!.taskId, done(again[1]!));
      assert.equal(await jobStatus(env, id), 'error');
      const attempts = await tasksRepo.listAttempts(env.ctx.db, t2!.taskId);
      assert.deepEqual(attempts.map((a) => [a.attempt, a.status]), [[1, 'error'], [2, 'error']]);
      assert.deepEqual(
        (await tasksRepo.listAttempts(env.ctx.db, t3!.taskId)).map((a) => [a.attempt, a.status]),
        [[1, 'interrupted'], [2, 'done']],
      );
    });

    test('expired leases are requeued once, even by several checkers at once, and the late result is refused', async () => {
      const id = await scriptJob(env, 'expiry', 2);
      const agent = await addAgent(env.ctx, 'silent');
      const leased = await leaseTasks(env.ctx, agent, { freeCores: 2, maxTasks: 2 });
      await env.ctx.db.updateTable('tasks').set({ lease_expires_at: new Date(Date.now() - 1000).toISOString() }).where('job_id', '=', id).execute();
      // Several replicas run the checker at the same moment.
      await Promise.all([expireLeases(env.ctx), expireLeases(env.ctx), expireLeases(env.ctx)]);
      for (const t of leased) {
        const row = (await tasksRepo.findTask(env.ctx.db, t.taskId))!;
        assert.equal(row.status, 'queued');
        assert.equal(row.agent_id, null);
        const attempts = await tasksRepo.listAttempts(env.ctx.db, t.taskId);
        assert.deepEqual(attempts.map((a) => [a.attempt, a.status]), [[1, 'lost']]);
        assert.ok(await isLeaseLost(completeTask(env.ctx, agent, t.taskId, done(t))));
      }
      assert.equal(await expireLeases(env.ctx), 0);
    });

    test('a heartbeat names the lost attempt, not the task: a later attempt on the same agent keeps its lease', async () => {
      const id = await scriptJob(env, 'again', 1);
      const agent = await addAgent(env.ctx, 'twice');
      const [first] = await leaseTasks(env.ctx, agent, { freeCores: 1, maxTasks: 1 });
      await env.ctx.db.updateTable('tasks').set({ lease_expires_at: new Date(Date.now() - 1000).toISOString() }).where('job_id', '=', id).execute();
      assert.equal(await expireLeases(env.ctx), 1);
      const [second] = await leaseTasks(env.ctx, agent, { freeCores: 1, maxTasks: 1 });
      assert.equal(second!.taskId, first!.taskId);
      assert.equal(second!.attempt, 2);
      // The agent still runs attempt 1 (it has not heard) beside attempt 2.
      const answer = await heartbeat(env.ctx, agent, [
        { taskId: first!.taskId, attempt: 1 },
        { taskId: first!.taskId, attempt: 2 },
      ], false);
      assert.deepEqual(answer.cancel, [{ taskId: first!.taskId, attempt: 1 }]);
      assert.deepEqual(answer.endedJobs, []);
      const row = (await tasksRepo.findTask(env.ctx.db, first!.taskId))!;
      assert.equal(row.status, 'running');
      assert.ok(Date.parse(row.lease_expires_at!) > Date.now(), 'attempt 2 has its lease extended');
      // Warm sessions: the agent asks which of its jobs ended (a job that does not exist has).
      const other = await scriptJob(env, 'other', 1);
      assert.deepEqual((await heartbeat(env.ctx, agent, [], false, [id, other, 'j_gone'])).endedJobs, ['j_gone']);
      await completeTask(env.ctx, agent, second!.taskId, done(second!));
      assert.deepEqual((await heartbeat(env.ctx, agent, [], false, [id, other])).endedJobs, [id]);
    });

    test('a completion racing the lease-expiry checker: exactly one of them wins', async () => {
      const agent = await addAgent(env.ctx, 'racer');
      for (let round = 0; round < 5; round++) {
        const id = await scriptJob(env, `race-${round}`, 1);
        const [t] = await leaseTasks(env.ctx, agent, { freeCores: 1, maxTasks: 1 });
        await env.ctx.db.updateTable('tasks').set({ lease_expires_at: new Date(Date.now() - 1000).toISOString() }).where('job_id', '=', id).execute();
        const [completion] = await Promise.allSettled([completeTask(env.ctx, agent, t!.taskId, done(t!)), expireLeases(env.ctx)]);
        const row = (await tasksRepo.findTask(env.ctx.db, t!.taskId))!;
        const attempts = await tasksRepo.listAttempts(env.ctx.db, t!.taskId);
        if (completion.status === 'fulfilled') {
          assert.equal(row.status, 'done');
          assert.deepEqual(attempts.map((a) => a.status), ['done']);
          assert.equal(await jobStatus(env, id), 'done');
        } else {
          assert.ok(completion.reason instanceof HttpError && completion.reason.status === 409, String(completion.reason));
          assert.equal(row.status, 'queued');
          assert.deepEqual(attempts.map((a) => a.status), ['lost']);
          // Out of the way of the next round's lease.
          await stopJob(env.ctx, env.user, id);
        }
      }
    });

    test('the last tasks of a job finishing at once leave the job done', async () => {
      const agents = await Promise.all([addAgent(env.ctx, 'p1'), addAgent(env.ctx, 'p2'), addAgent(env.ctx, 'p3')]);
      for (let round = 0; round < 5; round++) {
        const id = await scriptJob(env, `finale-${round}`, 3);
        const leased: { a: AgentPrincipal; t: LeasedTask }[] = [];
        for (const a of agents) leased.push({ a, t: (await leaseTasks(env.ctx, a, { freeCores: 1, maxTasks: 1 }))[0]! });
        await Promise.all(leased.map(({ a, t }) => completeTask(env.ctx, a, t.taskId, done(t))));
        assert.equal(await jobStatus(env, id), 'done');
      }
    });

    test('the last tasks of a job reported through two replicas at once leave the job done; a running job left with nothing to run is settled by housekeeping', async () => {
      // Two service contexts on one store: two replicas, each serving its own groups of reports (on
      // PostgreSQL the job's status is derived after each group commits, without a job-row lock).
      const replicaB = { ...env.ctx };
      const [p, q] = await Promise.all([addAgent(env.ctx, 'r1'), addAgent(env.ctx, 'r2')]);
      for (let round = 0; round < 5; round++) {
        const id = await scriptJob(env, `replicas-finale-${round}`, 2);
        const [tp] = await leaseTasks(env.ctx, p, { freeCores: 1, maxTasks: 1 });
        const [tq] = await leaseTasks(replicaB, q, { freeCores: 1, maxTasks: 1 });
        const answers = await Promise.all([completeTasks(env.ctx, p, [{ taskId: tp!.taskId, ...done(tp!) }]), completeTasks(replicaB, q, [{ taskId: tq!.taskId, ...done(tq!) }])]);
        assert.deepEqual(answers.map((a) => a.results[0]!.accepted), [true, true]);
        assert.equal(await jobStatus(env, id), 'done');
      }
      // A coordinator stopped between a group's commit and the job's settling: the job says running
      // with every task done, until housekeeping (at a coordinator's start, then every round) settles it.
      const id = await scriptJob(env, 'stranded', 1);
      const [t] = await leaseTasks(env.ctx, p, { freeCores: 1, maxTasks: 1 });
      await completeTasks(env.ctx, p, [{ taskId: t!.taskId, ...done(t!) }]);
      await env.ctx.db.updateTable('jobs').set({ status: 'running', finished_at: null }).where('id', '=', id).execute();
      assert.ok((await settleStrandedJobs(env.ctx)) >= 1);
      assert.equal(await jobStatus(env, id), 'done');
    });

    test('a render job ends with its preview task, queued once every chunk has started and leased as `preview`; a preview whose attempts ran out leaves the job done', async () => {
      const now = new Date().toISOString();
      const blend = await env.ctx.blobs.put(Readable.from([Buffer.from(`BLENDER-v300${'x'.repeat(64)}ENDB`, 'latin1')]));
      await blobsRepo.recordBlob(env.ctx.db, blend.sha256, blend.size, now);
      await blobsRepo.recordBlobOwner(env.ctx.db, env.user.id, blend.sha256);
      const id = await createRenderJob(env.ctx, env.user, { kind: 'render', name: 'shot', project: { files: [{ path: 'a.blend', sha256: blend.sha256 }], blend: 'a.blend' }, frames: '1-2', fps: 12, maxAttempts: 1, start: true });
      const agent = await addAgent(env.ctx, 'renderer', 4);
      // The preview task waits for the chunks to start: only they are leased, and that queues it.
      const chunks = await leaseTasks(env.ctx, agent, { freeCores: 4, maxTasks: 4 });
      assert.deepEqual(chunks.map((t) => [t.index, t.kind]), [[1, 'render'], [2, 'render']]);
      const queued = (await jobViewFor(env.ctx, env.user, id)) as Awaited<ReturnType<typeof jobViewFor>> & { render: { previewTask: { status: string } | null } };
      assert.equal(queued.render.previewTask?.status, 'queued');
      for (const [i, t] of chunks.entries()) {
        const frame = sha(`frame ${i + 1}`);
        await blobsRepo.recordBlob(env.ctx.db, frame, 10, now);
        await recordFrameUpload(env.ctx, agent, t.taskId, { attempt: t.attempt, frame: i + 1, path: `frames/frame_${i + 1}.png`, sha256: frame, size: 10 });
        await completeTask(env.ctx, agent, t.taskId, done(t));
      }
      const [preview] = await leaseTasks(env.ctx, agent, { freeCores: 4, maxTasks: 4 });
      assert.equal(preview!.kind, 'preview');
      assert.equal(preview!.index, 3);
      assert.deepEqual(preview!.files, []);
      const spec = preview!.taskSpec as PreviewTaskSpec;
      assert.deepEqual([spec.fps, spec.frames.map((f) => [f.frame, f.path, f.sha256])], [12, [[1, 'frames/frame_1.png', sha('frame 1')], [2, 'frames/frame_2.png', sha('frame 2')]]]);
      // The job counts its chunks; the preview shows as the preview, being made.
      let view = (await jobViewFor(env.ctx, env.user, id)) as Awaited<ReturnType<typeof jobViewFor>> & { render: { preview: { status: string; error: string | null } | null; previewTask: { status: string; warning: string | null } | null } };
      assert.deepEqual([view.status, view.taskCount, view.counts.done, view.counts.running], ['running', 2, 2, 0]);
      assert.equal(view.render.preview?.status, 'pending');
      // The agent goes silent and the preview task has no attempt left: the render is still done.
      await env.ctx.db.updateTable('tasks').set({ lease_expires_at: new Date(Date.now() - 1000).toISOString() }).where('id', '=', preview!.taskId).execute();
      assert.equal(await expireLeases(env.ctx), 1);
      view = (await jobViewFor(env.ctx, env.user, id)) as typeof view;
      assert.equal(view.status, 'done');
      assert.equal(view.render.preview?.status, 'unavailable');
      assert.match(view.render.preview?.error ?? '', /the lease expired/);
      assert.equal(view.render.previewTask?.status, 'done');
      assert.match(view.render.previewTask?.warning ?? '', /^no preview: the lease expired/);
      assert.equal((await framesRepo.findPreview(env.ctx.db, id))?.sha256, null);
    });

    test('stopping a job cancels its tasks; a running task learns it lost the lease', async () => {
      const id = await scriptJob(env, 'stopme', 2);
      const agent = await addAgent(env.ctx, 'w');
      const [t] = await leaseTasks(env.ctx, agent, { freeCores: 1, maxTasks: 1 });
      await stopJob(env.ctx, env.user, id);
      assert.equal(await jobStatus(env, id), 'canceled');
      const statuses = (await tasksRepo.listTasks(env.ctx.db, id, { offset: 0, limit: 10 })).map((r) => r.status);
      assert.deepEqual(statuses, ['canceled', 'canceled']);
      assert.ok(await isLeaseLost(completeTask(env.ctx, agent, t!.taskId, done(t!))));
      assert.deepEqual(await leaseTasks(env.ctx, agent, { freeCores: 4, maxTasks: 4 }), []);
    });

    test('a user capped at 3 cores gets no more than 3 running from agents leasing at once, one more as one ends, all once the cap is lifted', async () => {
      const admin = { ...env.user, admin: true };
      await setUserQuota(env.ctx, env.user.name, { maxCores: 3 }, admin);
      const capped = await scriptJob(env, 'capped', 10);
      const agents = await Promise.all(['q-a', 'q-b', 'q-c'].map((n) => addAgent(env.ctx, n, 4)));
      const got = await Promise.all(agents.map((a) => leaseTasks(env.ctx, a, { freeCores: 4, maxTasks: 4 })));
      const leased = got.flat();
      assert.equal(leased.length, 3, 'three 1-core tasks, however many agents asked');
      const reason = (await jobViewFor(env.ctx, env.user, capped)).waiting;
      assert.match(reason ?? '', /alice's running tasks hold 3 of the 3 cores they may use at once/);
      // One ends: room for exactly one more.
      await completeTask(env.ctx, agents[0]!, leased[0]!.taskId, done(leased[0]!));
      assert.equal((await leaseTasks(env.ctx, agents[1]!, { freeCores: 4, maxTasks: 4 })).length, 1);
      assert.equal((await leaseTasks(env.ctx, agents[2]!, { freeCores: 4, maxTasks: 4 })).length, 0);
      await setUserQuota(env.ctx, env.user.name, { maxCores: null }, admin);
      assert.equal((await leaseTasks(env.ctx, agents[2]!, { freeCores: 4, maxTasks: 4 })).length, 4, 'the cap removed, the rest may run');
    });

    test('each ended attempt is in the usage ledger (failed ones too) and stays when the job is deleted; a spent budget holds new tasks', async () => {
      const admin = { ...env.user, admin: true };
      const id = await scriptJob(env, 'metered', 3, { instanceType: 'm', maxAttempts: 2 });
      const agent = await addAgent(env.ctx, 'meter', 8);
      const [a, b] = await leaseTasks(env.ctx, agent, { freeCores: 4, maxTasks: 2 });
      await new Promise((r) => setTimeout(r, 20));
      await completeTask(env.ctx, agent, a!.taskId, done(a!));
      await completeTask(env.ctx, agent, b!.taskId, failed(b!));
      const attempts = await env.ctx.db.selectFrom('task_attempts').selectAll().where('finished_at', 'is not', null).execute();
      const ledger = await env.ctx.db.selectFrom('usage_ledger').selectAll().orderBy('task_id').execute();
      assert.equal(ledger.length, 2);
      for (const row of ledger) {
        const at = attempts.find((x) => x.task_id === row.task_id && x.attempt === row.attempt)!;
        const seconds = (Date.parse(at.finished_at!) - Date.parse(at.started_at)) / 1000;
        assert.ok(Math.abs(row.core_seconds - seconds * 2) < 1e-9, `${row.core_seconds} = ${seconds} s × 2 cores`);
        assert.equal(row.user_name, 'alice');
        assert.equal(row.gpus, 0);
      }
      assert.deepEqual(ledger.map((r) => r.status).sort(), ['done', 'error']);
      // A budget smaller than what was used: nothing more starts.
      await setUserQuota(env.ctx, env.user.name, { monthlyCoreHours: 0.000001 }, admin);
      assert.deepEqual(await leaseTasks(env.ctx, agent, { freeCores: 8, maxTasks: 4 }), []);
      assert.match((await jobViewFor(env.ctx, env.user, id)).waiting ?? '', /alice's monthly budget of 0.000001 core-hours is spent/);
      await setUserQuota(env.ctx, env.user.name, { monthlyCoreHours: null }, admin);
      const rest = await leaseTasks(env.ctx, agent, { freeCores: 8, maxTasks: 4 });
      assert.equal(rest.length, 2, 'task 3 and the retry of the failed one');
      for (const t of rest) await completeTask(env.ctx, agent, t.taskId, done(t));
      const used = await usageReport(env.ctx, env.user, {});
      await deleteJob(env.ctx, env.user, id);
      assert.equal((await env.ctx.db.selectFrom('task_attempts').select('task_id').execute()).length, 0);
      const kept = await usageReport(env.ctx, env.user, {});
      assert.deepEqual([kept.users, kept.days], [used.users, used.days]);
      assert.equal(used.users[0]!.attempts, 4);
      assert.deepEqual([used.jobs[0]!.deleted, kept.jobs[0]!.deleted], [false, true]);
    });
  });
}
