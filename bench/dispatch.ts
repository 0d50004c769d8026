// Dispatch throughput: N no-op tasks through the full agent protocol (HTTP, leases, results) with
// several simulated agents, on SQLite and PostgreSQL; beside it the same workload through pg-boss
// and graphile-worker (PostgreSQL) and BullMQ (Redis).
import { spawn } from 'node:child_process';
import { freePort } from '../test/helpers/postgres.js';
import { createRequire } from 'node:module';
import { queueBacklog } from './backlog.js';
import { nextLeaseRequest } from '../src/agent/protocol.js';
import { EMPTY_SHA, SimAgent, fmt, hasBatchEndpoint, sampleProcess, scriptJobSpec, sleep, startCoordinator, timeJob, upload, type Leased, type Row } from './lib.js';

export interface DispatchOptions {
  tasks: number;
  agents: number;
  /** Tasks an agent leases (and reports) at once. */
  batch: number;
  /** Per-task completion endpoint even when the batch endpoint exists (for a before/after). */
  perTask?: boolean;
  /** Jobs queued ahead that no agent here can run (bench/backlog.ts); 0 or absent: none. */
  backlog?: number;
}

export interface DispatchResult extends Row {}

/** Drover on `db` (undefined: SQLite in the data dir). */
export async function droverDispatch(label: string, opts: DispatchOptions, db?: string): Promise<DispatchResult> {
  const c = await startCoordinator(db ? { db } : {});
  try {
    const batchEndpoint = !opts.perTask && (await hasBatchEndpoint(c));
    const agents = Array.from({ length: opts.agents }, (_, i) => new SimAgent(c.url, `sim-${i + 1}`, opts.batch));
    for (const a of agents) {
      await a.register(c.joinToken);
      a.batchEndpoint = batchEndpoint;
    }
    await upload(c, agents[0]!.token, Buffer.alloc(0));
    const backlogTasks = opts.backlog ? await queueBacklog(c, opts.backlog) : 0;
    const spec = await scriptJobSpec(c, c.admin, opts.tasks, `bench dispatch ${opts.tasks}`);
    let done = 0;
    let stopping = false;
    // Agents long-poll before the job exists, as real ones do.
    // Each is the real agent with `batch` slots running no-op tasks: it reports those that ended and
    // leases the next in one request, and long-polls when it has nothing to report.
    const wish = nextLeaseRequest({ slots: opts.batch, usedCores: 0, held: 0, holding: 0, prefetch: 0, prefetchAsked: false });
    const loops = agents.map(async (a) => {
      let ended: Leased[] = [];
      while (!stopping) {
        const tasks = await a.ask(ended, wish);
        done += ended.length;
        if (done >= opts.tasks) stopping = true;
        ended = tasks; // no-op tasks end as soon as they arrive
      }
    });
    await sleep(300);
    const { submitSeconds, seconds, stats } = await timeJob(c, spec, opts.tasks, () => done).finally(() => (stopping = true));
    // Wake the long-polls so the loops end.
    await Promise.race([Promise.all(loops), sleep(3000)]);
    return {
      system: label,
      protocol: `${batchEndpoint ? `agent protocol, ${opts.batch} slots (reports+lease in 1 req)` : `lease ${opts.batch}, 1 req/completion`}${opts.backlog ? `; ${fmt(opts.backlog)} jobs (${fmt(backlogTasks)} tasks) of mixed priorities and requirements queued` : ''}`,
      agents: String(opts.agents),
      tasks: fmt(opts.tasks),
      'submit s': fmt(submitSeconds, 2),
      'dispatch s': fmt(seconds, 2),
      'tasks/s': fmt(opts.tasks / seconds),
      'server CPU %': fmt(stats.cpuPercent),
      'tasks per server CPU-s': fmt(opts.tasks / stats.cpuSeconds),
      'server peak RSS MiB': fmt(stats.peakRssMiB),
    };
  } finally {
    await c.stop();
  }
}

/** A row for a queue library whose server (PostgreSQL) is not measured: its times and throughput only. */
function queueRow(system: string, protocol: string, opts: DispatchOptions, t: { t0: number; tSubmitted: number; tDone: number }, handled: number): DispatchResult {
  const seconds = (t.tDone - t.tSubmitted) / 1000;
  return {
    system,
    protocol,
    agents: String(opts.agents),
    tasks: fmt(opts.tasks),
    'submit s': fmt((t.tSubmitted - t.t0) / 1000, 2),
    'dispatch s': fmt(seconds, 2),
    'tasks/s': fmt(opts.tasks / seconds),
    'server CPU %': '–',
    'tasks per server CPU-s': '–',
    'server peak RSS MiB': '–',
    _handled: String(handled),
  };
}

export async function pgBossDispatch(opts: DispatchOptions, url: string): Promise<DispatchResult> {
  const { default: PgBoss } = await import('pg-boss');
  const pg = (await import('pg')).default;
  const boss = new PgBoss({ connectionString: url, max: opts.agents + 2, supervise: false, schedule: false, migrate: true });
  boss.on('error', (err: Error) => console.error(`[pg-boss] ${err.message}`));
  await boss.start();
  const queue = 'bench';
  await boss.createQueue(queue);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    let handled = 0;
    for (let i = 0; i < opts.agents; i++) {
      await boss.work(queue, { batchSize: opts.batch, pollingIntervalSeconds: 0.5 }, async (jobs: unknown[]) => {
        handled += jobs.length;
      });
    }
    await sleep(300);
    const t0 = performance.now();
    const jobs = Array.from({ length: opts.tasks }, (_, i) => ({ name: queue, data: { input: `in-${i + 1}` } }));
    for (let i = 0; i < jobs.length; i += 5000) await boss.insert(jobs.slice(i, i + 5000));
    const tSubmitted = performance.now();
    // pg-boss completes without waiting: done is when every job is in state completed.
    for (;;) {
      const r = await client.query(`select count(*)::int as n from pgboss.job where name = $1 and state = 'completed'`, [queue]);
      if (r.rows[0].n >= opts.tasks) break;
      await sleep(10);
    }
    const tDone = performance.now();
    return queueRow('pg-boss 10 (PostgreSQL 15)', `work(batchSize ${opts.batch})`, opts, { t0, tSubmitted, tDone }, handled);
  } finally {
    await client.end();
    await boss.stop({ graceful: false, wait: true, timeout: 5000 }).catch(() => {});
  }
}


/**
 * graphile-worker (the fastest PostgreSQL job queue in TypeScript): `addJobs` then one runner per
 * simulated agent, each running `batch` jobs at once and fetching them `batch` at a time through
 * its local queue, completions batched too: the nearest it has to Drover's batch protocol.
 */
export async function graphileWorkerDispatch(opts: DispatchOptions, url: string): Promise<DispatchResult> {
  const { Logger, makeWorkerUtils, run } = await import('graphile-worker');
  const pg = (await import('pg')).default;
  const version = (createRequire(import.meta.url)('graphile-worker/package.json') as { version: string }).version;
  const quiet = { logger: new Logger(() => () => {}) };
  const utils = await makeWorkerUtils({ connectionString: url, ...quiet });
  await utils.migrate();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  let handled = 0;
  const runners = await Promise.all(
    Array.from({ length: opts.agents }, () =>
      run({
        connectionString: url,
        concurrency: opts.batch,
        maxPoolSize: 4,
        noHandleSignals: true,
        pollInterval: 500,
        taskList: {
          noop: async () => {
            handled++;
          },
        },
        preset: { worker: { localQueue: { size: opts.batch }, completeJobBatchDelay: 0 } },
        ...quiet,
      }),
    ),
  );
  try {
    await sleep(300);
    const t0 = performance.now();
    for (let i = 0; i < opts.tasks; i += 5000) {
      await utils.addJobs(Array.from({ length: Math.min(5000, opts.tasks - i) }, (_, j) => ({ identifier: 'noop', payload: { input: `in-${i + j + 1}` } })));
    }
    const tSubmitted = performance.now();
    // A job that succeeded is deleted: done is when none is left.
    for (;;) {
      const r = await client.query('select count(*)::int as n from graphile_worker.jobs');
      if (r.rows[0].n === 0) break;
      await sleep(10);
    }
    const tDone = performance.now();
    return queueRow(`graphile-worker ${version} (PostgreSQL 15)`, `run(concurrency ${opts.batch}, localQueue ${opts.batch})`, opts, { t0, tSubmitted, tDone }, handled);
  } finally {
    await client.end();
    await Promise.all(runners.map((r) => r.stop().catch(() => {})));
    await utils.release();
  }
}


export async function startRedis(): Promise<{ port: number; pid: number; stop(): Promise<void> }> {
  const port = await freePort();
  const proc = spawn('/usr/bin/redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d));
  const deadline = Date.now() + 10_000;
  while (!/Ready to accept connections/.test(out)) {
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`redis-server did not start:\n${out}`);
    await sleep(50);
  }
  return {
    port,
    pid: proc.pid!,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}

/** Why BullMQ cannot run here (it needs a Redis client package: ioredis, or node-redis), or null. */
export function bullmqUnavailable(): string | null {
  const require = createRequire(import.meta.url);
  for (const client of ['ioredis', 'redis', '@redis/client']) {
    try {
      require.resolve(client);
      return null;
    } catch {
      /* next */
    }
  }
  return 'BullMQ needs a Redis client package (ioredis or node-redis) and none is installed (npm install was not allowed for this run)';
}

export async function bullmqDispatch(opts: DispatchOptions, port: number, redisPid: number): Promise<DispatchResult> {
  const { Queue, Worker } = await import('bullmq');
  const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null };
  const queue = new Queue('bench', { connection });
  let done = 0;
  const workers = Array.from(
    { length: opts.agents },
    () =>
      new Worker(
        'bench',
        async () => {
          done++;
        },
        { connection, concurrency: opts.batch, removeOnComplete: { count: 0 }, autorun: true },
      ),
  );
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  try {
    await sleep(300);
    const sampler = sampleProcess(redisPid);
    const t0 = performance.now();
    for (let i = 0; i < opts.tasks; i += 5000) {
      await queue.addBulk(Array.from({ length: Math.min(5000, opts.tasks - i) }, (_, j) => ({ name: 'noop', data: { input: `in-${i + j + 1}` } })));
    }
    const tSubmitted = performance.now();
    while (done < opts.tasks) await sleep(5);
    const tDone = performance.now();
    const stats = sampler.stop();
    const seconds = (tDone - tSubmitted) / 1000;
    return {
      system: 'BullMQ 6 (Redis 7)',
      protocol: `Worker(concurrency ${opts.batch})`,
      agents: String(opts.agents),
      tasks: fmt(opts.tasks),
      'submit s': fmt((tSubmitted - t0) / 1000, 2),
      'dispatch s': fmt(seconds, 2),
      'tasks/s': fmt(opts.tasks / seconds),
      'server CPU %': `${fmt(stats.cpuPercent)} (redis)`,
      'tasks per server CPU-s': `${fmt(opts.tasks / stats.cpuSeconds)} (redis)`,
      'server peak RSS MiB': `${fmt(stats.peakRssMiB)} (redis)`,
    };
  } finally {
    await Promise.all(workers.map((w) => w.close(true)));
    await queue.close();
  }
}

export { EMPTY_SHA };
