// A queue as a shared studio farm has it: jobs of mixed priorities and requirements waiting for
// machines this farm does not have (a GPU pool, another label, more memory). None of them can run
// on the bench's simulated agents (no labels, no GPUs, 8 GiB), so they stay queued for the whole
// measurement and every lease has to order and pass over them: the bench's job competes with them
// for the scheduler's attention, not for agents. Its own priority (50) sits in their middle.
import { request, scriptJobSpec } from './lib.js';

/** The requirements of backlog job `i`: each one something no simulated agent offers. */
function requirementsOf(i: number) {
  switch (i % 4) {
    case 0:
      return { labels: { pool: `gpu-${i % 7}` } };
    case 1:
      return { gpus: 1 + (i % 2) };
    case 2:
      return { memoryMiB: 64 * 1024 * (1 + (i % 3)) };
    default:
      return { gpus: 1, labels: { tier: 'render' }, memoryMiB: 32 * 1024 };
  }
}

/** Queues `jobs` jobs of 1–5 tasks each, priorities spread over 0–100, none runnable here. Returns their tasks. */
export async function queueBacklog(c: { url: string; admin: string }, jobs: number): Promise<number> {
  let tasks = 0;
  const base = await scriptJobSpec(c, c.admin, 5, 'backlog');
  for (let i = 0; i < jobs; i += 20) {
    await Promise.all(
      Array.from({ length: Math.min(20, jobs - i) }, (_, k) => {
        const n = i + k;
        const size = 1 + (n % 5);
        tasks += size;
        return request(c.url, c.admin, 'POST', '/jobs', { ...base, name: `backlog ${n}`, inputs: base.inputs.slice(0, size), priority: (n * 37) % 101, requirements: requirementsOf(n) });
      }),
    );
  }
  return tasks;
}

export const BACKLOG_NOTE =
  'Backlog rows: before the job, the coordinator is given a queue of jobs of mixed priorities (0–100, spread; the measured job has 50) and requirements (a label, 1–2 GPUs, 64–192 GiB of memory, or all three) that none of the simulated agents meets, 1–5 tasks each: they stay queued throughout, and every lease orders and passes over them (bench/backlog.ts).';
