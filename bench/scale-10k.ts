// Scale to 10,000 agents: the scale bench's simulated agents (bench/scale.ts, the real agent's
// protocol built by src/agent/protocol.ts, with prefetch) in the thousands, with tasks of seconds, on
// SQLite and on PostgreSQL behind 2 coordinator replicas, beside the floor (the same agents against
// canned answers) in the same run. Besides efficiency it reports what each agent costs the
// coordinator: CPU-seconds and KiB of memory, as the farm grows it is per agent that it grows.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HeartbeatAnswer, HeartbeatBody } from '../src/wire/agents.js';
import { SimAgent, fmt, hasBatchEndpoint, procSample, request, sampleProcess, scriptJobSpec, sleep, startCoordinator, upload, type Coordinator, type Leased, type Row } from './lib.js';
import { Timeline, startCannedCoordinator, withPrefetch, type WorkLoops } from './scale.js';

export interface Scale10kOptions {
  agents: number;
  tasks: number;
  taskMs: number;
  /** Each agent's --prefetch (the real agent's loop, bench/scale.ts withPrefetch). */
  prefetch: number;
  /** The coordinator's DROVER_LEASE_SECONDS: agents send heartbeats every quarter of it. */
  leaseSeconds: number;
  /** A row gives up after this many times its ideal time and says how far it got. */
  giveUpAfter: number;
}

/** Where the simulated agents connect, and what to sample while they work. */
interface Farm {
  /** Coordinator URLs; agent i lists urls[i % n] first (a real agent works through its first). */
  urls: string[];
  pids: number[];
  joinToken: string;
  /** Gives the agents work (the job's POST, or the floor's start) and says when that was answered. */
  release(): Promise<number>;
  /** Throws unless the farm's own record says every task is done. */
  check(): Promise<void>;
}

/** Joins `count` agents, spread over the farm's URLs, `parallel` registrations at a time. */
async function joinAgents(farm: Farm, count: number, parallel = 100): Promise<SimAgent[]> {
  const width = String(count).length;
  const agents = Array.from({ length: count }, (_, i) => new SimAgent(farm.urls[i % farm.urls.length]!, `sim-${String(i + 1).padStart(width, '0')}`, 1));
  for (let i = 0; i < agents.length; i += parallel) await Promise.all(agents.slice(i, i + parallel).map((a) => a.register(farm.joinToken)));
  // Each opens its own connection, a few hundred at a time, as agents that start at different times.
  for (let i = 0; i < agents.length; i += parallel) await Promise.all(agents.slice(i, i + parallel).map((a) => a.connect()));
  return agents;
}

/**
 * Every agent's heartbeat, as the real agent sends it (src/agent/heartbeat.ts): the attempts it
 * holds a lease for, running or held, every `heartbeatSeconds` the join answer asked for. Each
 * starts at a random point of its interval, as on a farm whose agents joined at different times
 * (these all joined within seconds, and would otherwise beat at once).
 */
function heartbeats(agents: readonly SimAgent[], work: WorkLoops) {
  let sent = 0;
  let canceled = 0;
  let failed = 0;
  const timers: NodeJS.Timeout[] = [];
  const beat = (a: SimAgent, k: number) => {
    const { running, held } = work.holding!(k);
    const attempt = (t: Leased) => ({ taskId: t.taskId, attempt: t.attempt });
    const body: HeartbeatBody = { tasks: [...(running ? [running] : []), ...held].map(attempt), draining: false, ...(held.length > 0 ? { held: held.map(attempt) } : {}) };
    sent++;
    request<HeartbeatAnswer>(a.url, a.token, 'POST', '/agent/heartbeat', body).then(
      (answer) => (canceled += answer.cancel.length),
      () => failed++,
    );
  };
  agents.forEach((a, k) => {
    const every = a.heartbeatSeconds * 1000;
    const first = setTimeout(() => {
      beat(a, k);
      timers.push(setInterval(() => beat(a, k), every));
    }, Math.random() * every);
    timers.push(first);
  });
  return {
    stop(): { sent: number; canceled: number; failed: number } {
      for (const t of timers) clearTimeout(t);
      return { sent, canceled, failed };
    },
  };
}

/** Runs the job through `count` agents on `farm` and makes its row. */
async function measure(label: string, farm: Farm, opts: Scale10kOptions): Promise<Row> {
  const idleRss = farm.pids.reduce((sum, pid) => sum + procSample(pid).rssBytes, 0);
  const joined0 = performance.now();
  const agents = await joinAgents(farm, opts.agents);
  const joinSeconds = (performance.now() - joined0) / 1000;
  const batch = await hasBatchEndpoint({ url: farm.urls[0]! });
  for (const a of agents) a.batchEndpoint = batch;
  const timeline = new Timeline();
  const work = withPrefetch(agents, { agents: opts.agents, tasks: opts.tasks, taskMs: opts.taskMs, prefetch: opts.prefetch }, timeline);
  const beats = heartbeats(agents, work);
  try {
    // Every agent opens its connection and sits in its long-poll (thousands of connects queue up).
    await sleep(1000 + opts.agents / 5);
    const samplers = farm.pids.map((pid) => sampleProcess(pid, 100));
    const client0 = process.cpuUsage();
    const t0 = performance.now();
    const released = await farm.release();
    const ideal = (Math.ceil(opts.tasks / opts.agents) * opts.taskMs) / 1000;
    // A farm that cannot keep up gets a row that says so, not a bench that runs for an hour.
    const deadline = released + opts.giveUpAfter * ideal * 1000;
    while (work.done() < opts.tasks && performance.now() < deadline) await sleep(5);
    // From when the farm had the job: the POST's answer, or the first task's start if that came
    // first (a job of 100,000 tasks is leased from before its POST is answered on PostgreSQL).
    const from = Math.min(released, timeline.firstStart());
    const seconds = (performance.now() - from) / 1000;
    const finished = work.done() >= opts.tasks;
    const stats = samplers.map((s) => s.stop());
    const client = process.cpuUsage(client0);
    const hb = beats.stop();
    if (finished) await farm.check();
    const time = timeline.summary(from, opts.taskMs);
    const cpu = stats.reduce((sum, s) => sum + s.cpuSeconds, 0);
    const peakRssMiB = stats.reduce((sum, s) => sum + s.peakRssMiB, 0);
    const perProcess = stats.length > 1 ? ` (${stats.map((s) => fmt(s.cpuSeconds, 1)).join(' + ')})` : '';
    const kib = (mib: number) => fmt((mib * 1024) / opts.agents, 1);
    return {
      coordinator: label,
      agents: fmt(opts.agents),
      tasks: `${fmt(opts.tasks)} × ${fmt(opts.taskMs)} ms`,
      'agents joined in': `${fmt(joinSeconds, 1)} s`,
      'submit s': label.startsWith('floor') ? '–' : fmt((released - t0) / 1000, 2),
      'ideal s': fmt(ideal, 2),
      'measured s': finished ? fmt(seconds, 2) : `gave up after ${fmt(seconds, 1)}: ${fmt(work.done())} tasks reported`,
      efficiency: finished ? `${fmt((100 * ideal) / seconds, 1)} %` : `under ${fmt((100 * ideal) / seconds, 1)} %`,
      'first task starts, p50 / last agent': `${fmt(time.firstP50)} / ${fmt(time.firstMax)} ms`,
      'idle between tasks, mean per agent': `${fmt(time.idleMean)} ms`,
      'tasks per agent, fewest / most': `${fmt(time.tasksMin)} / ${fmt(time.tasksMax)}`,
      'last task ends': `${fmt(time.lastEnd / 1000, 2)} s`,
      heartbeats: `${fmt(hb.sent)} (${fmt(hb.sent / seconds)}/s)${hb.canceled || hb.failed ? `, ${fmt(hb.canceled)} attempts canceled, ${fmt(hb.failed)} failed` : ''}`,
      'coordinator CPU': `${fmt(cpu, 1)} s${perProcess} (${fmt((100 * cpu) / seconds)} % of 1 core)`,
      'coordinator RSS, peak': `${fmt(peakRssMiB)} MiB (${fmt(idleRss / 2 ** 20)} MiB before the agents joined)`,
      'CPU-s per agent': fmt(cpu / opts.agents, 4),
      'RSS per agent': `${kib(peakRssMiB)} KiB (${kib(peakRssMiB - idleRss / 2 ** 20)} KiB above idle)`,
      'agents process CPU': `${fmt((client.user + client.system) / 1e6, 1)} s`,
    };
  } finally {
    beats.stop();
    await work.stop();
  }
}

/** The job of `opts.tasks` tasks posted through the first coordinator; checked through the last. */
async function jobOn(coordinators: readonly Coordinator[], opts: Scale10kOptions): Promise<Pick<Farm, 'release' | 'check'>> {
  const first = coordinators[0]!;
  const last = coordinators[coordinators.length - 1]!;
  const spec = await scriptJobSpec(first, first.admin, opts.tasks, `bench scale10k ${opts.agents}x${opts.tasks}`);
  let jobId = '';
  return {
    async release() {
      jobId = (await request<{ id: string }>(first.url, first.admin, 'POST', '/jobs', spec)).id;
      return performance.now();
    },
    async check() {
      const view = await request<{ status: string; counts: Record<string, number> }>(last.url, last.admin, 'GET', `/jobs/${jobId}`);
      if (view.status !== 'done' || view.counts.done !== opts.tasks) throw new Error(`job ended ${view.status} with counts ${JSON.stringify(view.counts)}`);
    },
  };
}

async function onCoordinators(label: string, coordinators: Coordinator[], opts: Scale10kOptions): Promise<Row> {
  const first = coordinators[0]!;
  // Every completion names the empty blob as its stdout and stderr: it must exist.
  await upload(first, first.admin, Buffer.alloc(0));
  const job = await jobOn(coordinators, opts);
  return measure(label, { urls: coordinators.map((c) => c.url), pids: coordinators.map((c) => c.pid), joinToken: first.joinToken, ...job }, opts);
}

/** One `drover server` on SQLite. */
export async function scale10kSqlite(opts: Scale10kOptions): Promise<Row> {
  const c = await startCoordinator({ leaseSeconds: opts.leaseSeconds });
  try {
    return await onCoordinators('Drover, SQLite', [c], opts);
  } finally {
    await c.stop();
  }
}

/** Two `drover server` replicas on one PostgreSQL database, one blob directory and one join token. */
export async function scale10kPostgres(opts: Scale10kOptions, db: string): Promise<Row> {
  const shared = await mkdtemp(join(tmpdir(), 'drover-bench-shared-'));
  const joinTokenFile = join(shared, 'agent-token');
  const start = () => startCoordinator({ db, leaseSeconds: opts.leaseSeconds, joinTokenFile, args: ['--blobs', join(shared, 'blobs')] });
  // One first, so that the second finds the schema, the admin and the join token made.
  const a = await start();
  const b = await start().catch(async (err: unknown) => {
    await a.stop();
    throw err;
  });
  try {
    return await onCoordinators('Drover, PostgreSQL 15, 2 replicas', [a, b], opts);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
    await rm(shared, { recursive: true, force: true });
  }
}

/** The same agents, heartbeats and loop against canned answers: the harness's own ceiling. */
export async function scale10kFloor(opts: Scale10kOptions): Promise<Row> {
  const { proc, url } = await startCannedCoordinator([String(opts.tasks), String(opts.leaseSeconds / 4)]);
  try {
    const base = url;
    return await measure('floor: canned answers, no store (node:http)', {
      urls: [base],
      pids: [proc.pid!],
      joinToken: 'drv_j_canned',
      // Its answer comes after the waiting long-polls are answered: timed from the request.
      release: async () => {
        const sent = performance.now();
        await request(base, null, 'POST', '/start', {});
        return sent;
      },
      check: async () => {},
    }, opts);
  } finally {
    proc.kill('SIGKILL');
  }
}

/** What the section's rows measure, printed above its table. */
export const SCALE_10K_NOTE = (o: Scale10kOptions) =>
  `The agents of the scale section (bench/scale.ts: 1 slot each, its own kept-alive HTTP/1.1 connection, requests built by src/agent/protocol.ts as \`drover agent --prefetch ${o.prefetch}\` builds them: every task that ended reported with the next lease in one request), ${fmt(o.agents)} of them in this one process, each also sending the real agent's heartbeat (the attempts it holds) every ${fmt(o.leaseSeconds / 4)} s as the join answer asks (lease ${fmt(o.leaseSeconds)} s), starting at a random point of that interval as agents that joined at different times would. PostgreSQL: 2 \`drover server\` replicas on one database, one blob directory and one join token file; agent i lists replica i mod 2 first and works through it (a real agent uses its first \`--server\` URL until a request fails), the job is posted through replica 1 and checked through replica 2. Ideal time = ceil(tasks/agents) × task time; measured from the job's POST answered, or from its first task's start where that came first (the floor: from its start signal), until every task's report was accepted; *submit s* is the POST's own time. A row gives up after ${fmt(o.giveUpAfter)} × the ideal time and says how many tasks were reported by then. Coordinator CPU from /proc/PID/stat over that time, summed over replicas; RSS the peak of /proc/PID/status (summed over replicas), also before the agents joined; per agent: divided by the agents. PostgreSQL's own CPU is not counted. The floor row runs the same agents, loop and heartbeats against \`bench/canned-coordinator.ts\` (canned answers, no store): the most this harness reaches on this machine.\n`;
