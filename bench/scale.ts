// Scale: many simulated agents (one process multiplexes them) working tasks that each "run" for a
// fixed time; parallel efficiency = ideal time / measured time, with the coordinator's CPU and memory.
import { SimAgent, fmt, hasBatchEndpoint, scriptJobSpec, sleep, startCoordinator, timeJob, upload, type Leased, type Row } from './lib.js';

export async function scale(opts: { agents: number; tasks: number; taskMs: number }): Promise<Row> {
  const c = await startCoordinator();
  try {
    const batch = await hasBatchEndpoint(c);
    const agents = Array.from({ length: opts.agents }, (_, i) => new SimAgent(c.url, `sim-${String(i + 1).padStart(4, '0')}`, 1));
    for (let i = 0; i < agents.length; i += 50) {
      await Promise.all(agents.slice(i, i + 50).map((a) => a.register(c.joinToken).then(() => (a.batchEndpoint = batch))));
    }
    await upload(c, agents[0]!.token, Buffer.alloc(0));
    const spec = await scriptJobSpec(c, c.admin, opts.tasks, `bench scale ${opts.agents}x${opts.tasks}`);
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
    await sleep(1000); // every agent is in its long-poll
    const client0 = process.cpuUsage();
    const { submitSeconds, seconds: measured, stats } = await timeJob(c, spec, opts.tasks, () => done, 100).finally(() => (stopping = true));
    const client = process.cpuUsage(client0);
    await Promise.race([Promise.all(loops), sleep(6000)]);
    const ideal = (Math.ceil(opts.tasks / opts.agents) * opts.taskMs) / 1000;
    return {
      agents: fmt(opts.agents),
      tasks: `${fmt(opts.tasks)} × ${opts.taskMs} ms`,
      protocol: batch ? 'complete+lease in 1 req' : '1 req/completion, then lease',
      'submit s': fmt(submitSeconds, 2),
      'ideal s': fmt(ideal, 2),
      'measured s': fmt(measured, 2),
      efficiency: `${fmt((100 * ideal) / measured, 1)} %`,
      'coordinator CPU': `${fmt(stats.cpuSeconds, 1)} s (${fmt(stats.cpuPercent)} % of 1 core)`,
      'coordinator RSS': `peak ${fmt(stats.peakRssMiB)} MiB, mean ${fmt(stats.meanRssMiB)} MiB`,
      'agents process CPU': `${fmt((client.user + client.system) / 1e6, 1)} s`,
    };
  } finally {
    await c.stop();
  }
}
