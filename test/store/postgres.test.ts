// The shared store suites (store-suite.ts, leasing-suite.ts) on PostgreSQL (a throwaway server, a
// fresh database per test), plus what only PostgreSQL has: events relayed between replicas by
// LISTEN/NOTIFY.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventBus, type LogEvent } from '../../src/coordinator/events.js';
import { PgEventRelay } from '../../src/coordinator/pg-events.js';
import { migrateToLatest, openPostgres } from '../../src/store/database.js';
import { postgresUnavailable, startPostgres } from '../helpers/postgres.js';
import { leasingSuite } from './leasing-suite.js';
import type { StoreUnderTest } from './store-env.js';
import { storeSuite } from './store-suite.js';

const unavailable = postgresUnavailable();
const server = unavailable ? null : await startPostgres();
after(async () => server?.stop());

let databases = 0;
const store: StoreUnderTest = {
  dialect: 'postgres',
  ...(unavailable ? { skip: unavailable } : {}),
  async open() {
    const url = await server!.createDatabase(`store_${++databases}`);
    return { handle: openPostgres(url), dispose: async () => {} };
  },
};
storeSuite(store);
leasingSuite(store);

/** Waits until `check` passes or a few seconds went by. */
async function eventually(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('events between replicas (LISTEN/NOTIFY)', { timeout: 60_000, ...(unavailable ? { skip: unavailable } : {}) }, () => {
  test('each replica re-emits the others\' events once, in order; big logs travel by reference', async () => {
    const url = await server!.createDatabase('relay');
    const a = openPostgres(url);
    const b = openPostgres(url);
    await migrateToLatest(a.db);
    const busA = new EventBus();
    const busB = new EventBus();
    const relayA = await PgEventRelay.start({ url, pool: a.pool!, bus: busA, db: a.db });
    const relayB = await PgEventRelay.start({ url, pool: b.pool!, bus: busB, db: b.db });
    try {
      const seenA: string[] = [];
      const seenB: string[] = [];
      const logsB: LogEvent[] = [];
      for (const [bus, seen] of [[busA, seenA], [busB, seenB]] as const) {
        bus.on('job', (id) => seen.push(`job ${id}`));
        bus.on('task', (id, jobId) => seen.push(`task ${id} ${jobId}`));
        bus.on('work', () => seen.push('work'));
        bus.on('log', (e) => seen.push(`log ${e.seq}`));
      }
      busB.on('log', (e) => logsB.push(e));

      busA.emit('job', 'j_1');
      busA.emit('task', 't_1', 'j_1');
      busA.emit('work');
      for (let seq = 1; seq <= 50; seq++) busA.emit('log', { seq, taskId: 't_1', attempt: 1, stream: 'stdout', data: `line ${seq}\n`, time: 'now' });
      await eventually(() => seenB.length === 53, 'the events on replica B');
      assert.deepEqual(seenB.slice(0, 3), ['job j_1', 'task t_1 j_1', 'work']);
      assert.deepEqual(logsB.map((e) => e.seq), Array.from({ length: 50 }, (_, i) => i + 1));
      // A sees its own events once (locally), never echoed back.
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(seenA.length, 53);

      // A log entry too big for a NOTIFY payload: B reads it back from the store.
      await a.db.insertInto('users').values({ id: 'u_1', name: 'u', password_hash: 'x', is_admin: 0, created_at: 'now' }).execute();
      await a.db.insertInto('jobs').values({ id: 'j_1', user_id: 'u_1', name: 'j', kind: 'script', status: 'running', instance_type: 's', cores: 1, max_attempts: 1, task_timeout_seconds: null, image: null, spec: '{}', task_count: 1, priority: 50, held: 0, after_any: 0, requirements: null, created_at: 'now', queued_at: null, started_at: null, finished_at: null }).execute();
      await a.db.insertInto('tasks').values({ id: 't_1', job_id: 'j_1', idx: 1, status: 'running', input_name: 'in', input_sha: null, spec: null, attempt: 1, tries: 1, agent_id: null, lease_expires_at: null, started_at: null, finished_at: null, exit_code: null, error: null, step: 0, progress: null, message: null }).execute();
      const big = 'é'.repeat(20_000);
      const [row] = await a.db.insertInto('task_logs').values({ task_id: 't_1', attempt: 1, stream: 'stderr', data: big, created_at: 'then' }).returning('id').execute();
      const seq = Number(row!.id);
      busA.emit('log', { seq, taskId: 't_1', attempt: 1, stream: 'stderr', data: big, time: 'then' });
      busA.emit('job', 'j_after');
      await eventually(() => seenB.includes('job j_after'), 'the event after the big log');
      const relayed = logsB.at(-1)!;
      assert.equal(relayed.seq, seq);
      assert.equal(relayed.data, big);
      assert.equal(relayed.stream, 'stderr');
      // Order holds across the read-back: the big log came before the job event.
      assert.deepEqual(seenB.slice(-2), [`log ${seq}`, 'job j_after']);
    } finally {
      await relayA.close();
      await relayB.close();
      await a.close();
      await b.close();
    }
  });

  test('a job or work event already waiting to be sent is not queued again; task events all are', async () => {
    const url = await server!.createDatabase('relay_coalesce');
    const a = openPostgres(url);
    const b = openPostgres(url);
    const busA = new EventBus();
    const busB = new EventBus();
    const relayA = await PgEventRelay.start({ url, pool: a.pool!, bus: busA, db: a.db });
    const relayB = await PgEventRelay.start({ url, pool: b.pool!, bus: busB, db: b.db });
    try {
      const seenB: string[] = [];
      busB.on('job', (id) => seenB.push(`job ${id}`));
      busB.on('task', (id) => seenB.push(`task ${id}`));
      busB.on('work', () => seenB.push('work'));
      // As a burst of leases and reports: a task event each, a job and a work event with every one.
      for (let i = 1; i <= 1000; i++) {
        busA.emit('task', `t_${i}`, 'j_1');
        busA.emit('job', 'j_1');
        busA.emit('work');
      }
      busA.emit('job', 'j_end');
      await eventually(() => seenB.includes('job j_end'), 'the last event on replica B');
      assert.deepEqual(seenB.filter((e) => e.startsWith('task ')), Array.from({ length: 1000 }, (_, i) => `task t_${i + 1}`));
      // The first task event went out at once, alone; everything after it waited for that NOTIFY,
      // and the 1,000 job and work events among it as one each.
      assert.equal(seenB.filter((e) => e === 'job j_1').length, 1);
      assert.equal(seenB.filter((e) => e === 'work').length, 1);
    } finally {
      await relayA.close();
      await relayB.close();
      await a.close();
      await b.close();
    }
  });
});
