// One suite of store and service behaviour, run on SQLite (sqlite.test.ts) and on PostgreSQL
// (postgres.test.ts): the real services on a real ServiceContext, so both dialects must agree on
// every state transition, count and ordering — and on PostgreSQL, hold up under concurrency.
import { after, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { coordinatorConfig } from '../../src/coordinator/config.js';
import { EventBus } from '../../src/coordinator/events.js';
import { HttpError } from '../../src/coordinator/errors.js';
import { buildServer } from '../../src/coordinator/server.js';
import { createUser, ensureAdmin, type UserPrincipal } from '../../src/coordinator/services/accounts.js';
import { heartbeat, registerAgent, type AgentPrincipal } from '../../src/coordinator/services/agents.js';
import type { ServiceContext } from '../../src/coordinator/services/context.js';
import { createScriptJob, stopJob } from '../../src/coordinator/services/jobs.js';
import { completeTask, expireLeases, releaseTask, type LeasedTask } from '../../src/coordinator/services/leasing.js';
import { completeTasks, leaseTasks } from '../../src/coordinator/services/dispatch.js';
import { appendTaskLogs, readTaskLogs } from '../../src/coordinator/services/task-logs.js';
import { DiskBlobStore } from '../../src/store/blob-store.js';
import { migrateToLatest, type DatabaseHandle } from '../../src/store/database.js';
import * as blobsRepo from '../../src/store/repositories/blobs.js';
import * as jobsRepo from '../../src/store/repositories/jobs.js';
import * as tasksRepo from '../../src/store/repositories/tasks.js';
import * as usersRepo from '../../src/store/repositories/users.js';

export interface StoreUnderTest {
  dialect: 'sqlite' | 'postgres';
  /** A fresh, empty store (not yet migrated) and how to throw it away. */
  open(): Promise<{ handle: DatabaseHandle; dispose(): Promise<void> }>;
  /** Called once after the suite. */
  teardown?(): Promise<void>;
  /** Why the suite cannot run here (it is then skipped with this message). */
  skip?: string;
}

const JOIN = 'drv_join_test';
const sha = (text: string) => createHash('sha256').update(text).digest('hex');
const OUT = { sha256: sha('stdout'), size: 6 };
const ERR = { sha256: sha('stderr'), size: 6 };

interface Env {
  ctx: ServiceContext;
  handle: DatabaseHandle;
  events: { type: string; args: unknown[] }[];
  user: UserPrincipal;
  dispose(): Promise<void>;
}

async function newEnv(store: StoreUnderTest): Promise<Env> {
  const { handle, dispose } = await store.open();
  await migrateToLatest(handle.db);
  const dir = await mkdtemp(join(tmpdir(), 'drover-store-'));
  const blobs = new DiskBlobStore(join(dir, 'blobs'));
  await blobs.init();
  const bus = new EventBus();
  const events: Env['events'] = [];
  for (const type of ['job', 'task', 'log', 'work'] as const) bus.on(type, (...args: unknown[]) => events.push({ type, args }));
  const config = coordinatorConfig({ dataDir: dir, leaseSeconds: 30, instanceCores: { s: 1, m: 2, l: 4, xl: 8 }, adminPassword: 'admin-pw', logLimitBytes: 1000 });
  const ctx: ServiceContext = { db: handle.db, blobs, bus, config };
  const view = await createUser(ctx, 'alice', 'alice-pw', false);
  const user: UserPrincipal = { kind: 'user', id: view.id, name: view.name, admin: false, tokenId: 'k_test' };
  for (const s of [OUT, ERR]) await blobsRepo.recordBlob(ctx.db, s.sha256, s.size, new Date().toISOString());
  return {
    ctx,
    handle,
    events,
    user,
    async dispose() {
      await handle.close();
      await dispose();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function addAgent(ctx: ServiceContext, name: string, slots = 4): Promise<AgentPrincipal> {
  const { agentId } = await registerAgent(ctx, JOIN, JOIN, { name, cores: slots, memoryBytes: 8 * 1024 ** 3, labels: {}, slots, sandbox: false, version: 'test' });
  return { kind: 'agent', id: agentId, name };
}

/** A started script job of `tasks` tasks whose files the user owns. */
async function scriptJob(env: Env, name: string, tasks: number, opts: { instanceType?: 's' | 'm' | 'l' | 'xl'; maxAttempts?: number; start?: boolean } = {}): Promise<string> {
  const script = { name: 'run.py', sha256: sha(`script ${name}`) };
  const inputs = Array.from({ length: tasks }, (_, i) => ({ name: `in_${i + 1}.txt`, sha256: sha(`input ${name} ${i}`) }));
  for (const f of [script, ...inputs]) {
    await blobsRepo.recordBlob(env.ctx.db, f.sha256, 1, new Date().toISOString());
    await blobsRepo.recordBlobOwner(env.ctx.db, env.user.id, f.sha256);
  }
  return createScriptJob(env.ctx, env.user, {
    kind: 'script',
    name,
    script,
    inputs,
    ...(opts.instanceType ? { instanceType: opts.instanceType } : {}),
    maxAttempts: opts.maxAttempts ?? 3,
    start: opts.start ?? true,
  });
}

const done = (t: LeasedTask) => ({ attempt: t.attempt, exitCode: 0, files: [], stdout: OUT, stderr: ERR });
const failed = (t: LeasedTask) => ({ attempt: t.attempt, exitCode: 1, files: [], stdout: OUT, stderr: ERR });

async function jobStatus(env: Env, id: string): Promise<string> {
  return (await jobsRepo.findJob(env.ctx.db, id))!.status;
}

async function isLeaseLost(p: Promise<unknown>): Promise<boolean> {
  try {
    await p;
    return false;
  } catch (err) {
    if (err instanceof HttpError && err.status === 409) return true;
    throw err;
  }
}

export function storeSuite(store: StoreUnderTest): void {
  describe(`store on ${store.dialect}`, { timeout: 120_000, ...(store.skip ? { skip: store.skip } : {}) }, () => {
    let env: Env;
    beforeEach(async () => {
      await env?.dispose();
      env = await newEnv(store);
    });
    after(async () => {
      await env?.dispose();
      await store.teardown?.();
    });

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

    test('leasing respects core fit, backfills small tasks, and skips created jobs', async () => {
      const big = await scriptJob(env, 'big', 3, { instanceType: 'm' });
      const small = await scriptJob(env, 'small', 2, { instanceType: 's' });
      await scriptJob(env, 'not started', 2, { start: false });
      const agent = await addAgent(env.ctx, 'a1');
      assert.deepEqual(await leaseTasks(env.ctx, agent, 0, 10), []);
      const first = await leaseTasks(env.ctx, agent, 3, 10);
      // One 2-core task of the older job, then the next one does not fit; a 1-core task backfills.
      assert.deepEqual(first.map((t) => [t.jobId, t.index, t.cores]), [[big, 1, 2], [small, 1, 1]]);
      const oneCore = await leaseTasks(env.ctx, agent, 1, 10);
      assert.deepEqual(oneCore.map((t) => [t.jobId, t.index]), [[small, 2]]);
      assert.deepEqual(await leaseTasks(env.ctx, agent, 1, 10), []);
      const rest = await leaseTasks(env.ctx, agent, 8, 10);
      assert.deepEqual(rest.map((t) => [t.jobId, t.index]), [[big, 2], [big, 3]]);
      assert.equal(await jobStatus(env, big), 'running');
      const running = await env.ctx.db.selectFrom('tasks').select(['status', 'attempt', 'agent_id']).where('job_id', '=', big).execute();
      assert.ok(running.every((t) => t.status === 'running' && t.attempt === 1 && t.agent_id === agent.id));
      assert.ok(env.events.some((e) => e.type === 'task'));
    });

    test('concurrent lease calls from many agents never lease a task twice', async () => {
      const id = await scriptJob(env, 'crowd', 40);
      const agents = await Promise.all(Array.from({ length: 5 }, (_, i) => addAgent(env.ctx, `agent-${i}`)));
      const got = new Map<string, string>();
      let rounds = 0;
      while (got.size < 40 && rounds++ < 50) {
        const calls = Array.from({ length: 20 }, (_, i) => agents[i % agents.length]!).map(async (a) => ({ a, tasks: await leaseTasks(env.ctx, a, 2, 2) }));
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
      const first = await Promise.all(agents.map(async (a) => ({ a, t: (await leaseTasks(env.ctx, a, 1, 1))[0]! })));
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
    });

    test('an agent blocklisted for a job, asking with others, gets none of its tasks but still gets work', async () => {
      const older = await scriptJob(env, 'blocked-for-one', 4);
      const newer = await scriptJob(env, 'open-to-all', 4);
      const [bad, good] = await Promise.all([addAgent(env.ctx, 'bad'), addAgent(env.ctx, 'good')]);
      await env.ctx.db.insertInto('job_agent_failures').values({ job_id: older, agent_id: bad.id, failures: env.ctx.config.agentFailureLimit }).execute();
      const [forBad, forGood] = await Promise.all([leaseTasks(env.ctx, bad, 2, 2), leaseTasks(env.ctx, good, 2, 2)]);
      assert.deepEqual(forBad.map((t) => t.jobId), [newer, newer]);
      assert.deepEqual(forGood.map((t) => t.jobId), [older, older]);
    });

    test('complete, retry after failure, error after the last attempt, release', async () => {
      const id = await scriptJob(env, 'flow', 3, { maxAttempts: 2 });
      const agent = await addAgent(env.ctx, 'worker');
      const [t1, t2, t3] = await leaseTasks(env.ctx, agent, 3, 3);
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

      const again = await leaseTasks(env.ctx, agent, 3, 3);
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
      const leased = await leaseTasks(env.ctx, agent, 2, 2);
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
      const [first] = await leaseTasks(env.ctx, agent, 1, 1);
      await env.ctx.db.updateTable('tasks').set({ lease_expires_at: new Date(Date.now() - 1000).toISOString() }).where('job_id', '=', id).execute();
      assert.equal(await expireLeases(env.ctx), 1);
      const [second] = await leaseTasks(env.ctx, agent, 1, 1);
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
        const [t] = await leaseTasks(env.ctx, agent, 1, 1);
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
        for (const a of agents) leased.push({ a, t: (await leaseTasks(env.ctx, a, 1, 1))[0]! });
        await Promise.all(leased.map(({ a, t }) => completeTask(env.ctx, a, t.taskId, done(t))));
        assert.equal(await jobStatus(env, id), 'done');
      }
    });

    test('stopping a job cancels its tasks; a running task learns it lost the lease', async () => {
      const id = await scriptJob(env, 'stopme', 2);
      const agent = await addAgent(env.ctx, 'w');
      const [t] = await leaseTasks(env.ctx, agent, 1, 1);
      await stopJob(env.ctx, env.user, id);
      assert.equal(await jobStatus(env, id), 'canceled');
      const statuses = (await tasksRepo.listTasks(env.ctx.db, id, { offset: 0, limit: 10 })).map((r) => r.status);
      assert.deepEqual(statuses, ['canceled', 'canceled']);
      assert.ok(await isLeaseLost(completeTask(env.ctx, agent, t!.taskId, done(t!))));
      assert.deepEqual(await leaseTasks(env.ctx, agent, 4, 4), []);
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
      assert.deepEqual(counts.get(ids[0]!), { queued: 1, running: 0, done: 0, error: 0, canceled: 0 });
      assert.equal(await usersRepo.countUsers(env.ctx.db), 2);
    });

    test('/metrics reads the farm from the store', async () => {
      const id = await scriptJob(env, 'measured', 3, { instanceType: 'm' });
      await scriptJob(env, 'waiting', 2, { start: false });
      const agent = await addAgent(env.ctx, 'm1', 4);
      await addAgent(env.ctx, 'm2', 4);
      const [t1, t2] = await leaseTasks(env.ctx, agent, 4, 2);
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
      const [t] = await leaseTasks(env.ctx, agent, 1, 1);
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
      const [t2] = await leaseTasks(env.ctx, agent, 1, 1);
      await appendTaskLogs(env.ctx, agent, t2!.taskId, 2, [{ stream: 'stdout', data: 'second attempt\n' }]);
      assert.deepEqual((await readTaskLogs(env.ctx, t2!.taskId, { attempt: 2 })).map((l) => l.data), ['second attempt\n']);
      // A stale attempt cannot write into the log any more.
      assert.ok(await isLeaseLost(appendTaskLogs(env.ctx, agent, t!.taskId, 1, [{ stream: 'stdout', data: 'late' }])));
    });
  });
}
