// Scale: many simulated agents (one process multiplexes them) working tasks that each "run" for a
// fixed time; parallel efficiency = ideal time / measured time, with the coordinator's CPU and memory.
// Beside it, the floor: the same agents against a stand-in coordinator with canned answers
// (canned-coordinator.ts), which is what this harness can reach on this machine at all.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { queueBacklog } from './backlog.js';
import { nextLeaseRequest } from '../src/agent/protocol.js';
import { SimAgent, fmt, hasBatchEndpoint, percentile, request, sampleProcess, scriptJobSpec, sleep, startCoordinator, timeJob, upload, type Leased, type Row } from './lib.js';

export interface ScaleOptions {
  agents: number;
  tasks: number;
  taskMs: number;
  /**
   * Tasks each agent holds at most besides the one it runs (0: one task at a time), asked for as the
   * real agent asks (src/agent/protocol.ts): once per task ending, with that task's report.
   */
  prefetch: number;
  /**
   * Tasks of a job run through the same agents before the measured one (0: none): a coordinator
   * that has been up has run the lease and report paths before, as V8 has compiled them.
   */
  warmTasks?: number;
  /** Jobs queued ahead that no agent here can run (bench/backlog.ts); 0 or absent: none. */
  backlog?: number;
  /** A PostgreSQL database URL for the coordinator; absent: SQLite in its data dir. */
  db?: string;
}

interface TimelineSummary {
  firstP50: number;
  firstMax: number;
  idleMean: number;
  tasksMin: number;
  tasksMax: number;
  /** When the last task ended: the rest of the measured time is reporting it. */
  lastEnd: number;
}

/** When each agent started each of its tasks (performance.now()), for where the time went. */
export class Timeline {
  private readonly starts = new Map<number, number[]>();
  clear(): void {
    this.starts.clear();
  }
  started(agent: number, at: number): void {
    const mine = this.starts.get(agent);
    if (mine) mine.push(at);
    else this.starts.set(agent, [at]);
  }
  /** When the first task of all started (Infinity before any did). */
  firstStart(): number {
    return Math.min(...[...this.starts.values()].map((xs) => xs[0]!));
  }
  /**
   * The first task's start after t0 (p50 and slowest agent), each agent's mean idle time between
   * tasks, and the fewest and most tasks an agent ran (the job ends with the agents that ran most).
   */
  summary(t0: number, taskMs: number): TimelineSummary {
    const firsts = [...this.starts.values()].map((xs) => xs[0]! - t0);
    const idle = [...this.starts.values()].map((xs) => xs.slice(1).reduce((sum, x, i) => sum + Math.max(0, x - xs[i]! - taskMs), 0));
    const ran = [...this.starts.values()].map((xs) => xs.length);
    return {
      firstP50: percentile(firsts, 50),
      firstMax: Math.max(...firsts),
      idleMean: idle.reduce((a, b) => a + b, 0) / Math.max(1, idle.length),
      tasksMin: Math.min(...ran),
      tasksMax: Math.max(...ran),
      lastEnd: Math.max(...[...this.starts.values()].map((xs) => xs[xs.length - 1]! - t0)) + taskMs,
    };
  }
}

const protocolOf = (opts: ScaleOptions, batch: boolean) =>
  opts.prefetch > 0
    ? `agent protocol, prefetch ${opts.prefetch}: reports + lease in 1 req`
    : batch
      ? 'agent protocol, 1 slot: report + lease in 1 req'
      : '1 task at a time: complete, then lease';

function workLoops(agents: readonly SimAgent[], opts: ScaleOptions, batch: boolean, timeline: Timeline): WorkLoops {
  return opts.prefetch > 0 ? withPrefetch(agents, opts, timeline) : oneAtATime(agents, opts, batch, timeline);
}

/**
 * One task at a time, as the real agent with one slot: it long-polls for a task, runs it, then
 * reports it and leases the next in one request, idle while that request is answered.
 */
export function oneAtATime(agents: readonly SimAgent[], opts: ScaleOptions, _batch: boolean, timeline: Timeline): WorkLoops {
  let done = 0;
  let stopping = false;
  const wish = nextLeaseRequest({ slots: 1, usedCores: 0, held: 0, holding: 0, prefetch: 0, prefetchAsked: false });
  const loops = agents.map(async (a, k) => {
    let ended: Leased[] = [];
    while (!stopping) {
      const tasks = await a.ask(ended, wish);
      done += ended.length;
      if (done >= opts.tasks) stopping = true;
      ended = [];
      if (tasks.length === 0) continue;
      timeline.started(k, performance.now());
      await sleep(opts.taskMs); // the task runs
      ended = tasks;
    }
  });
  return { done: () => done, stop: () => settle(loops, () => (stopping = true)) };
}

/**
 * With prefetch, as the real agent with one slot and `--prefetch N` (its loop, event-driven): it
 * starts a held task the moment one ends, and talks to the coordinator with one request at a time,
 * whose content src/agent/protocol.ts decides: every task that ended, with a lease for now when it
 * has nothing to run (a long-poll if it has nothing to report either), or to hold more, asked once
 * per change (a task ending).
 */
export function withPrefetch(agents: readonly SimAgent[], opts: ScaleOptions, timeline: Timeline): WorkLoops {
  let done = 0;
  let stopping = false;
  const prefetch = opts.prefetch;
  // What each agent holds a lease for (running or waiting): what its heartbeat names.
  const holds = agents.map(() => ({ held: [] as Leased[], running: null as Leased | null }));
  const loops = agents.map(
    (a, k) =>
      new Promise<void>((ended) => {
        const held = holds[k]!.held;
        const ran: Leased[] = [];
        let running = false;
        let inFlight = false;
        let changes = 0;
        let prefetchAskedAt = -1;
        // A held task starts when the one before it ended: 1,000 agents share this process's event
        // loop, and its lag in noticing a timer is this harness's, not the farm's.
        const start = (at: number) => {
          if (running || stopping || held.length === 0) return;
          const task = held.shift()!;
          running = true;
          holds[k]!.running = task;
          timeline.started(k, at);
          const end = at + opts.taskMs;
          setTimeout(() => {
            running = false;
            holds[k]!.running = null;
            ran.push(task);
            changes++;
            if (held.length > 0) start(end);
            talk();
          }, end - performance.now());
        };
        const talk = () => {
          if (inFlight) return;
          if (stopping) return ended();
          const wish = nextLeaseRequest({ slots: 1, usedCores: running ? 1 : 0, held: held.length, holding: held.length + (running ? 1 : 0), prefetch, prefetchAsked: prefetchAskedAt === changes });
          if (ran.length === 0 && !wish) return; // until a task ends
          if (wish && wish.freeCores === 0) prefetchAskedAt = changes;
          inFlight = true;
          const reported = ran.splice(0);
          void a.ask(reported, wish).then(
            (tasks) => {
              inFlight = false;
              done += reported.length;
              if (done >= opts.tasks) stopping = true;
              held.push(...tasks);
              start(performance.now());
              talk();
            },
            // Once stopped, a long-poll the coordinator's end cuts off is no failure (the floor's
            // canned coordinator is killed under them: that ended `npm run bench` unrecorded).
            (err: unknown) => {
              if (!stopping) throw err;
              ended();
            },
          );
        };
        talk();
      }),
  );
  return { done: () => done, stop: () => settle(loops, () => (stopping = true)), holding: (k) => ({ running: holds[k]!.running, held: [...holds[k]!.held] }) };
}

export interface WorkLoops {
  done(): number;
  stop(): Promise<void>;
  /** The task agent `k` runs and those it holds, as its heartbeat names them (prefetch loops only). */
  holding?(k: number): { running: Leased | null; held: Leased[] };
}

async function settle(loops: Promise<void>[], stop: () => void): Promise<void> {
  stop();
  await Promise.race([Promise.all(loops), sleep(6000)]);
}

async function registerAll(url: string, joinToken: string, count: number): Promise<SimAgent[]> {
  const agents = Array.from({ length: count }, (_, i) => new SimAgent(url, `sim-${String(i + 1).padStart(4, '0')}`, 1));
  for (let i = 0; i < agents.length; i += 50) await Promise.all(agents.slice(i, i + 50).map((a) => a.register(joinToken)));
  return agents;
}

function row(
  opts: ScaleOptions,
  protocol: string,
  submitSeconds: string,
  measured: number,
  stats: { cpuSeconds: number; cpuPercent: number; peakRssMiB: number; meanRssMiB: number },
  clientCpuUs: NodeJS.CpuUsage,
  time: TimelineSummary,
): Row {
  const ideal = (Math.ceil(opts.tasks / opts.agents) * opts.taskMs) / 1000;
  return {
    agents: fmt(opts.agents),
    tasks: `${fmt(opts.tasks)} × ${opts.taskMs} ms`,
    protocol,
    'submit s': submitSeconds,
    'ideal s': fmt(ideal, 2),
    'measured s': fmt(measured, 2),
    efficiency: `${fmt((100 * ideal) / measured, 1)} %`,
    'first task starts, p50 / last agent': `${fmt(time.firstP50)} / ${fmt(time.firstMax)} ms`,
    'idle between tasks, mean per agent': `${fmt(time.idleMean)} ms`,
    'tasks per agent, fewest / most': `${fmt(time.tasksMin)} / ${fmt(time.tasksMax)}`,
    'last task ends': `${fmt(time.lastEnd / 1000, 2)} s`,
    'coordinator CPU': `${fmt(stats.cpuSeconds, 1)} s (${fmt(stats.cpuPercent)} % of 1 core)`,
    'coordinator RSS': `peak ${fmt(stats.peakRssMiB)} MiB, mean ${fmt(stats.meanRssMiB)} MiB`,
    'agents process CPU': `${fmt((clientCpuUs.user + clientCpuUs.system) / 1e6, 1)} s`,
  };
}

export async function scale(opts: ScaleOptions): Promise<Row> {
  const c = await startCoordinator(opts.db ? { db: opts.db } : {});
  try {
    const batch = await hasBatchEndpoint(c);
    const agents = await registerAll(c.url, c.joinToken, opts.agents);
    for (const a of agents) a.batchEndpoint = batch;
    await upload(c, agents[0]!.token, Buffer.alloc(0));
    const backlogTasks = opts.backlog ? await queueBacklog(c, opts.backlog) : 0;
    const spec = await scriptJobSpec(c, c.admin, opts.tasks, `bench scale ${opts.agents}x${opts.tasks}`);
    const warm = opts.warmTasks ?? 0;
    const timeline = new Timeline();
    const work = workLoops(agents, { ...opts, tasks: warm + opts.tasks }, batch, timeline);
    await sleep(1000); // every agent is in its long-poll
    if (warm > 0) {
      await request(c.url, c.admin, 'POST', '/jobs', await scriptJobSpec(c, c.admin, warm, 'bench scale warm-up'));
      while (work.done() < warm) await sleep(5);
      await sleep(1000); // back in their long-polls
      timeline.clear();
    }
    const client0 = process.cpuUsage();
    const { submitted, submitSeconds, seconds, stats } = await timeJob(c, spec, opts.tasks, () => work.done() - warm, 100).finally(() => work.stop());
    const protocol = `${opts.db ? 'PostgreSQL 15; ' : ''}${protocolOf(opts, batch)}${warm > 0 ? `; warm: after a job of ${fmt(warm)} tasks` : '; cold: first job'}${opts.backlog ? `; ${fmt(opts.backlog)} jobs (${fmt(backlogTasks)} tasks) of mixed priorities and requirements queued` : ''}`;
    return row(opts, protocol, fmt(submitSeconds, 2), seconds, stats, process.cpuUsage(client0), timeline.summary(submitted, opts.taskMs));
  } finally {
    await c.stop();
  }
}

/** Starts bench/canned-coordinator.ts with `args`; its process and URL once it listens. */
export async function startCannedCoordinator(args: string[]): Promise<{ proc: ChildProcess; url: string }> {
  const script = fileURLToPath(new URL('./canned-coordinator.ts', import.meta.url));
  const proc = spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  proc.stdout!.on('data', (d: Buffer) => (output += d));
  let url: string | undefined;
  for (let waited = 0; !(url = /listening on (\S+)/.exec(output)?.[1]); waited += 50) {
    if (proc.exitCode !== null || waited > 30_000) {
      proc.kill('SIGKILL');
      throw new Error(`the canned coordinator did not start:\n${output}`);
    }
    await sleep(50);
  }
  return { proc, url };
}

/** The same agents and loop against canned answers: the harness's own ceiling on this machine. */
export async function scaleFloor(opts: ScaleOptions): Promise<Row> {
  const { proc, url } = await startCannedCoordinator([String(opts.tasks)]);
  try {
    const agents = await registerAll(url, 'drv_j_canned', opts.agents);
    for (const a of agents) a.batchEndpoint = true;
    const timeline = new Timeline();
    const work = workLoops(agents, opts, true, timeline);
    await sleep(1000);
    const sampler = sampleProcess(proc.pid!, 100);
    const client0 = process.cpuUsage();
    const t0 = performance.now();
    await request(url, null, 'POST', '/start', {});
    while (work.done() < opts.tasks) await sleep(5);
    const seconds = (performance.now() - t0) / 1000;
    const stats = sampler.stop();
    const client = process.cpuUsage(client0);
    await work.stop();
    return row(opts, `${protocolOf(opts, true)}; floor: canned answers, no store (node:http)`, '–', seconds, stats, client, timeline.summary(t0, opts.taskMs));
  } finally {
    proc.kill('SIGKILL');
  }
}

/**
 * Runs one configuration `runs` times and keeps the run of median efficiency, its cell listing all:
 * on a shared machine one sample of a four-second job swings by several points.
 */
export async function medianOf(runs: number, once: () => Promise<Row>): Promise<Row> {
  const rows: Row[] = [];
  for (let i = 0; i < runs; i++) rows.push(await once());
  const sorted = rows.sort((a, b) => parseFloat(a.efficiency!) - parseFloat(b.efficiency!));
  const median = sorted[Math.floor((sorted.length - 1) / 2)]!;
  if (runs === 1) return median;
  return { ...median, efficiency: `${median.efficiency} (median of ${runs}: ${sorted.map((r) => parseFloat(r.efficiency!).toFixed(1)).join(', ')} %)` };
}
