// Scale: many simulated agents (one process multiplexes them) working tasks that each "run" for a
// fixed time; parallel efficiency = ideal time / measured time, with the coordinator's CPU and memory.
// Beside it, the floor: the same agents against a stand-in coordinator with canned answers
// (canned-coordinator.ts), which is what this harness can reach on this machine at all.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SimAgent, fmt, hasBatchEndpoint, request, sampleProcess, scriptJobSpec, sleep, startCoordinator, timeJob, upload, type Leased, type Row } from './lib.js';

export interface ScaleOptions {
  agents: number;
  tasks: number;
  taskMs: number;
}

/** Runs every agent's loop (lease, "run", report and lease the next) until `tasks` are reported. */
function workLoops(agents: readonly SimAgent[], opts: ScaleOptions, batch: boolean) {
  let done = 0;
  let stopping = false;
  const loops = agents.map(async (a) => {
    let tasks: Leased[] = [];
    while (!stopping) {
      if (tasks.length === 0) tasks = await a.lease(1, 1, 5);
      if (tasks.length === 0) continue;
      await sleep(opts.taskMs); // the task runs
      const n = tasks.length;
      tasks = await a.complete(tasks, batch ? { freeCores: 1, maxTasks: 1 } : undefined);
      done += n;
      if (done >= opts.tasks) stopping = true;
    }
  });
  return {
    done: () => done,
    stop: async () => {
      stopping = true;
      await Promise.race([Promise.all(loops), sleep(6000)]);
    },
  };
}

async function registerAll(url: string, joinToken: string, count: number): Promise<SimAgent[]> {
  const agents = Array.from({ length: count }, (_, i) => new SimAgent(url, `sim-${String(i + 1).padStart(4, '0')}`, 1));
  for (let i = 0; i < agents.length; i += 50) await Promise.all(agents.slice(i, i + 50).map((a) => a.register(joinToken)));
  return agents;
}

function row(opts: ScaleOptions, protocol: string, submitSeconds: string, measured: number, stats: { cpuSeconds: number; cpuPercent: number; peakRssMiB: number; meanRssMiB: number }, clientCpuUs: NodeJS.CpuUsage): Row {
  const ideal = (Math.ceil(opts.tasks / opts.agents) * opts.taskMs) / 1000;
  return {
    agents: fmt(opts.agents),
    tasks: `${fmt(opts.tasks)} × ${opts.taskMs} ms`,
    protocol,
    'submit s': submitSeconds,
    'ideal s': fmt(ideal, 2),
    'measured s': fmt(measured, 2),
    efficiency: `${fmt((100 * ideal) / measured, 1)} %`,
    'coordinator CPU': `${fmt(stats.cpuSeconds, 1)} s (${fmt(stats.cpuPercent)} % of 1 core)`,
    'coordinator RSS': `peak ${fmt(stats.peakRssMiB)} MiB, mean ${fmt(stats.meanRssMiB)} MiB`,
    'agents process CPU': `${fmt((clientCpuUs.user + clientCpuUs.system) / 1e6, 1)} s`,
  };
}

export async function scale(opts: ScaleOptions): Promise<Row> {
  const c = await startCoordinator();
  try {
    const batch = await hasBatchEndpoint(c);
    const agents = await registerAll(c.url, c.joinToken, opts.agents);
    for (const a of agents) a.batchEndpoint = batch;
    await upload(c, agents[0]!.token, Buffer.alloc(0));
    const spec = await scriptJobSpec(c, c.admin, opts.tasks, `bench scale ${opts.agents}x${opts.tasks}`);
    const work = workLoops(agents, opts, batch);
    await sleep(1000); // every agent is in its long-poll
    const client0 = process.cpuUsage();
    const { submitSeconds, seconds, stats } = await timeJob(c, spec, opts.tasks, work.done, 100).finally(() => work.stop());
    return row(opts, batch ? 'complete+lease in 1 req' : '1 req/completion, then lease', fmt(submitSeconds, 2), seconds, stats, process.cpuUsage(client0));
  } finally {
    await c.stop();
  }
}

/** The same agents and loop against canned answers: the harness's own ceiling on this machine. */
export async function scaleFloor(opts: ScaleOptions): Promise<Row> {
  const script = fileURLToPath(new URL('./canned-coordinator.ts', import.meta.url));
  const proc = spawn(process.execPath, ['--import', 'tsx', script, String(opts.tasks)], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    let output = '';
    proc.stdout!.on('data', (d: Buffer) => (output += d));
    let url: string | undefined;
    for (let waited = 0; !(url = /listening on (\S+)/.exec(output)?.[1]); waited += 50) {
      if (proc.exitCode !== null || waited > 30_000) throw new Error(`the canned coordinator did not start:\n${output}`);
      await sleep(50);
    }
    const agents = await registerAll(url, 'drv_j_canned', opts.agents);
    for (const a of agents) a.batchEndpoint = true;
    const work = workLoops(agents, opts, true);
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
    return row(opts, 'floor: canned answers, no store (node:http)', '–', seconds, stats, client);
  } finally {
    proc.kill('SIGKILL');
  }
}
